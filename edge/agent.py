"""The gerai edge agent: buttons in, number display and ticket printer out, MQTT between.

* Identity and credentials come from the device config; the agent connects
  with a retained last will (``online: false``) and announces itself online.
* A button gesture becomes a command with a unique id, stamped with the
  moment of the press on the central's clock (:class:`~antre.broker.link.clock.LinkClock`,
  synced by ping/pong), and kept in an :class:`~antre.broker.link.outbox.Outbox`: resent
  with the same id until its reply arrives or its deadline passes (then
  ``!TIDAK ADA JAWABAN``).  When the broker is unreachable the press is refused
  on the display at once (``!TIDAK TERKIRIM``); it is never queued to surprise
  anyone later, and the central refuses one that arrives late (``stale``).
* The display shows the retained state the central publishes; ``OFFLINE``
  as soon as the connection drops (a hung link within a few seconds, by the
  MQTT keepalive), the truth again after reconnecting.  States and replies of
  an older epoch (an older event log) than the newest seen are ignored; a
  state of a newer epoch is taken whatever its ``rev``.
* Printing never strands a citizen.  The printer's real status (DLE EOT) is
  watched every couple of seconds and asked afresh before a ticket is taken: a
  printer known faulty (paper out, cover open, no answer, unplugged) issues
  nothing, the display shows why (``KERTAS HABIS``...), and no ``take_ticket``
  is sent.  Print jobs are printed on a worker thread and acknowledged by id;
  a job that failed is kept (the central holds its ticket as unprinted: not
  waiting) and, when the printer recovers, the agent asks the central for a
  ``reprint``; one not recovered within ``printer.reprint_within_s`` is voided
  (``void_ticket``, with the reason in the audit trail).  An unplugged printer's
  port is reopened by its name when it comes back.  ``reprint_last`` buttons
  reprint the last ticket the device issued.
* Health goes out periodically: version, uptime, CPU temperature, printer
  status, display and button faults.

The agent imports no part of :mod:`central`; it shares only :mod:`broker`.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


from antre import __version__
from antre.daemon import cpu_temperature
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.messages import ResultCode
from antre.broker.link.base import BrokerAddress, LinkFactory, LinkSpec, Received, TlsSettings, Will
from antre.broker.link.client import mqtt_link
from antre.broker.wire.codec import ProtocolError
from antre.broker.link.clock import LinkClock
from antre.broker.link.outbox import Outbox
from antre.broker.wire.feed import SiteFeed
from antre.broker.wire.topics import SERVICE_STATE, Channel, Role, TopicError, Topics, parse
from antre.edge.config import DeviceConfig
from antre.edge.kiosk import KioskView, ServiceInfo, kiosk_view
from antre.hardware.display import DisplayContent, Mode, NumberDisplay
from antre.hardware.gestures import Gesture
from antre.hardware.kiosk_screen import KioskScreen
from antre.hardware.escpos import PrinterStatus
from antre.hardware.printer import PRINTABLE, PrintResult, Ticket, TicketPrinter, fault_text

log = logging.getLogger(__name__)

STATUS_TEXT = {"serving": "MELAYANI", "idle": "SIAP", "paused": "ISTIRAHAT", "closed": "TUTUP"}
#: what each state of the central's looks like on the displays
GERAI_MODES = {"serving": Mode.CALLING, "idle": Mode.IDLE, "paused": Mode.PAUSED, "closed": Mode.CLOSED}
NOTICE_SECONDS = 3.0
#: a print acknowledgement is not a press: it is resent until answered, for up to this long
PRINT_ACK_DEADLINE_S = 300.0
#: how often the agent looks at its outbox (resends, deadlines, pings)
TICK_S = 0.25
#: how often the health loop looks at the printer, display and faults (a change is reported at once)
CHANGE_POLL_S = 3.0
#: a device clock this far from the central's is reported as a fault in health
CLOCK_FAULT_S = 5.0
#: a ping unanswered this long, with nothing else heard from the central, means the central is down
CENTRAL_SILENT_S = 6.0
#: how often the printer's status is asked (DLE EOT), to show a fault, reopen a replugged port
#: and reprint what failed once it recovers
PRINTER_POLL_S = 2.0


@dataclass
class Hardware:
    display: NumberDisplay | None = None
    printer: TicketPrinter | None = None
    faults: list[str] = field(default_factory=list)


class EdgeAgent:
    """The agent of one gerai or kiosk: its hardware in, its MQTT link out (see the module docstring).

    ``link_factory`` builds its connection (a real broker by default; an in-memory bus in logic tests).
    """

    def __init__(self, config: DeviceConfig, hardware: Hardware, *, clock: Callable[[], float] = time.time,
                 link_factory: LinkFactory = mqtt_link) -> None:
        self.config = config
        self.hw = hardware
        self.clock = clock
        self.role = Role(config.device.role)
        self.device = config.device.id
        self.topics = Topics(config.device.site)
        self.started = time.monotonic()
        self._boot = secrets.token_hex(4)
        self._counter = 0
        self._lock = threading.RLock()
        self.link_clock = LinkClock(wall=clock)
        self.outbox = Outbox()
        self.epoch = 0  # the newest epoch (event log) seen from the central
        self._wake = threading.Event()  # a reconnect: ping and resend at once
        self._next_ping = 0.0
        self._ping_out: float | None = None  # monotonic time of the oldest unanswered ping
        self.central_lost = False  # connected to the broker, but the central does not answer
        self.state: m.GeraiState | None = None
        #: the last ticket the display showed as being served, and since when it left (None: still shown):
        #: what the quick-rating pad rates
        self.last_ticket: tuple[str, float | None] | None = None
        #: the services' own states (contract 2): the waiting count is their sum; a kiosk's
        #: service (remaining quota, waiting, estimated wait) for its display
        self.feed = SiteFeed(config.device.site)
        self._service_topics: set[str] = set()
        self._kiosk_screen: KioskScreen | None = None
        self.replies: dict[str, m.Reply] = {}
        self.notice: tuple[str, float] | None = None  # (text, until monotonic)
        self.printer_status = "unknown" if hardware.printer else None
        self.printer_problem = ""
        self.printer_fault: str | None = None  # what the display says of a printer that cannot print
        self.printed: list[tuple[str, PrintResult]] = []
        #: print jobs that failed, kept until a reprint is asked (job id -> job, monotonic time it failed)
        self.kept: dict[str, tuple[m.PrintJob, float]] = {}
        self._reprints: dict[str, str] = {}  # reprint command id -> job id it asks for
        self.voided: list[str] = []  # tickets this device voided (their print never recovered)
        self._jobs: queue.Queue[m.PrintJob | None] = queue.Queue()
        self._stop = threading.Event()
        self.ready = threading.Event()
        #: called with every valid message the agent receives (after it handled it): tools and the demo
        self.listeners: list[Callable[[Channel, m.Message], None]] = []
        b = config.broker
        address = BrokerAddress(
            b.host, b.port, f"{self.role.value}.{self.device}", b.password,
            TlsSettings(b.cafile) if b.cafile else None, keepalive=b.keepalive,
        )
        offline = codec.encode(m.Presence(role=self.config.device.role, device=self.device, online=False,
                                          version=__version__, contract=m.CONTRACT))
        channels = [Channel.REPLY, Channel.PRINT] + ([Channel.STATE] if self.role is Role.GERAI else [])
        if self.role is Role.KIOSK and config.tickets is not None:  # its display: the service it issues
            self._service_topics.add(self.topics.service_state(config.tickets.service))
        self.link = link_factory(LinkSpec(
            address,
            subscriptions=[(self.topics.device(self.role, self.device, ch), 1) for ch in channels] + [
                (topic, 1) for topic in sorted(self._service_topics)],
            on_message=self._on_message, on_connect=self._on_connect, on_disconnect=self._on_disconnect,
            will=Will(self.topics.device(self.role, self.device, Channel.PRESENCE), offline),
        ))
        self._threads = [
            threading.Thread(target=self._print_worker, name="printer", daemon=True),
            threading.Thread(target=self._health_loop, name="health", daemon=True),
            threading.Thread(target=self._outbox_loop, name="outbox", daemon=True),
        ] + ([threading.Thread(target=self._printer_loop, name="printer-watch", daemon=True)]
             if hardware.printer is not None else [])

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.render()
        for t in self._threads:
            t.start()
        self.link.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._jobs.put(None)
        offline = codec.encode(m.Presence(role=self.config.device.role, device=self.device, online=False,
                                          version=__version__, ts=self.clock(), contract=m.CONTRACT))
        self.link.stop(final=[(self.topics.device(self.role, self.device, Channel.PRESENCE), offline, True)])
        for t in self._threads:
            if t.is_alive():
                t.join(2)

    # -------------------------------------------------------------- display

    def content(self) -> DisplayContent:
        with self._lock:
            s = self.state
            name = (s.name if s else "") or self.config.device.name or self.device
            number = s.ticket if s else None
            waiting = self.feed.shown(s).waiting if s else 0  # (a contract 1 central: the state's own count)
            if not self.link.connected.is_set():
                status, mode = "OFFLINE", Mode.OFFLINE
            elif self.central_lost:
                status, mode = "PUSAT OFFLINE", Mode.OFFLINE  # the broker is there, the central service is not
            elif s is None:
                status, mode = "MENUNGGU DATA", Mode.WAITING
            else:
                status, mode = STATUS_TEXT.get(s.status, s.status.upper()), GERAI_MODES.get(s.status, Mode.IDLE)
                if mode is Mode.CALLING and number is None:
                    mode = Mode.IDLE
            if self.printer_fault is not None and mode is not Mode.OFFLINE:
                status = "!" + self.printer_fault  # nothing is issued here until it is fixed (the mode stays)
            if self.notice and self.notice[1] > time.monotonic():
                status = self.notice[0]  # a refusal or a failure, for a few seconds (the mode stays)
            return DisplayContent(name=name, number=number, waiting=waiting, status=status, mode=mode,
                                  label=str(s.number) if s else "", agency=s.agency if s else "")

    def kiosk_view(self) -> KioskView:
        """What a kiosk's screen shows (antre.edge.kiosk), from its service's retained state."""
        with self._lock:
            notice = self.notice[0] if self.notice and self.notice[1] > time.monotonic() else None
            service = self.config.tickets.service if self.config.tickets else self.device
            return kiosk_view(service, self.feed.services.get(service), connected=self.link.connected.is_set(),
                              central_lost=self.central_lost, printer_fault=self.printer_fault, notice=notice,
                              name=self.config.device.name or service)

    def shown_state(self) -> m.GeraiState | None:
        """The gerai's state as its display shows it: under contract 2 with the waiting count
        summed from its services' states (the one in the state itself may be old)."""
        with self._lock:
            return self.feed.shown(self.state) if self.state is not None else None

    def render(self) -> None:
        if self.hw.display is None:
            return
        try:
            screen = self._kiosk_screen_of(self.hw.display) if self.role is Role.KIOSK else None
            if screen is not None:
                screen.show(self.kiosk_view())
                setattr(self.hw.display, "frame", screen.frame)  # what snapshots of the display save
                return
            self.hw.display.show(self.content())
        except Exception as exc:  # a broken display must not stop the agent
            self._fault(f"display: {exc}")

    def _kiosk_screen_of(self, display: object) -> KioskScreen | None:
        """A kiosk screen on the display's luma device when it is a pixel display (an OLED)."""
        if self._kiosk_screen is None:
            device = getattr(display, "device", None)
            if device is not None and getattr(device, "width", 0) >= 96 and getattr(device, "height", 0) >= 32:
                self._kiosk_screen = KioskScreen(device)
        return self._kiosk_screen

    def _notify(self, text: str) -> None:
        with self._lock:
            self.notice = (text[:40], time.monotonic() + NOTICE_SECONDS)
        self.render()
        timer = threading.Timer(NOTICE_SECONDS + 0.05, self.render)
        timer.daemon = True
        timer.start()

    # ------------------------------------------------------------- commands

    def next_id(self) -> str:
        with self._lock:
            self._counter += 1
            return f"{self.device}-{self._boot}-{self._counter:06d}"

    def on_gesture(self, button: str, gesture: Gesture) -> None:
        spec = next((b for b in self.config.button if b.name == button), None)
        if spec is None:
            return
        action = {Gesture.PRESS: spec.press, Gesture.DOUBLE: spec.double, Gesture.HOLD: spec.hold}[gesture]
        if action != "none":
            self.act(action)

    def act(self, action: str) -> str | None:
        """Send the command for a button action; returns its id, or None when refused locally."""
        if not self.link.connected.is_set():
            log.warning("%s pressed while offline: refused, not queued", action)
            self._notify("!TIDAK TERKIRIM")
            return None
        if action in ("take_ticket", "take_priority_ticket", "reprint_last") and self.hw.printer is not None:
            self.check_printer()  # asked afresh: the last ticket may have used the last paper
            if self.printer_fault is not None:
                log.warning("%s refused here: the printer cannot print (%s %s); nothing sent", action,
                            self.printer_status, self.printer_problem)
                self._notify("!" + self.printer_fault)
                return None
        cid = self.next_id()
        # the moment of the press on the central's clock; before the first pong the device cannot know
        # it (its wall clock may be hours off until NTP syncs): no stamp, rather than a wrong one
        pressed = self.link_clock.now() if self.link_clock.synced else None
        cmd: m.AnyCommand
        tickets = self.config.tickets
        if action == "call_next":
            cmd = m.CallNext(id=cid, ts=pressed)
        elif action == "recall":
            cmd = m.Recall(id=cid, ts=pressed)
        elif action == "no_show":
            cmd = m.NoShow(id=cid, ts=pressed)
        elif action == "done":
            cmd = m.Done(id=cid, ts=pressed)
        elif action == "pause_toggle":
            paused = self.state is not None and self.state.status == "paused"
            cmd = m.Resume(id=cid, ts=pressed) if paused else m.Pause(id=cid, ts=pressed)
        elif action in ("take_ticket", "take_priority_ticket") and tickets is not None:
            priority = tickets.priority_reason if action == "take_priority_ticket" else m.Priority.REGULAR
            cmd = m.TakeTicket(id=cid, ts=pressed, service=tickets.service, priority=priority,
                               print=self.hw.printer is not None)
        elif action == "reprint_last" and self.hw.printer is not None:
            cmd = m.Reprint(id=cid, ts=pressed)
        else:
            return None
        self.send(cmd)
        log.info("sent %s %s", action, cid)
        return cid

    def rate(self, score: int) -> str | None:
        """A key of the quick-rating pad: rate the ticket the display shows (or showed last) with ``score``
        (1-4).  The central decides whether it may still be rated; returns the command id, or None
        when refused here (offline, no ticket served here yet)."""
        if not self.link.connected.is_set():
            log.warning("rating %d pressed while offline: refused, not queued", score)
            self._notify("!TIDAK TERKIRIM")
            return None
        with self._lock:
            last = self.last_ticket
        if last is None:
            log.info("rating %d pressed with no ticket served here yet: ignored", score)
            self._notify("!BELUM ADA NOMOR")
            return None
        cid = self.next_id()
        pressed = self.link_clock.now() if self.link_clock.synced else None
        self.send(m.QuickRating(id=cid, ts=pressed, score=score, ticket=last[0]))
        log.info("sent quick_rating %d for %s %s", score, last[0], cid)
        return cid

    def send(self, cmd: m.AnyCommand, deadline_s: float | None = None) -> str:
        """Send a command on this device's own connection and keep it until its reply arrives:
        it is resent with the same id while unanswered, until ``deadline_s`` (the configured
        press deadline by default) has passed."""
        payload = codec.encode(cmd)
        topic = self.topics.device(self.role, self.device, Channel.CMD)
        action = m.kind_of(type(cmd))
        sent = self.link.connected.is_set()
        self.outbox.add(cmd.id, topic, payload, action, deadline_s or self.config.command_deadline_s, sent)
        if sent:
            self.link.publish(topic, payload, qos=1)
        return cmd.id

    def ping(self) -> None:
        """Ask the central for its time (clock sync and end-to-end liveness)."""
        cid = self.next_id()
        self.link_clock.ping_sent(cid)
        if self._ping_out is None:
            self._ping_out = time.monotonic()
        self.link.publish(self.topics.device(self.role, self.device, Channel.CMD),
                          codec.encode(m.Ping(id=cid, ts=self.link_clock.now())), qos=0)

    def _outbox_loop(self) -> None:
        """Resend unanswered commands, drop those past their deadline, keep the clock synced."""
        while not self._stop.is_set():
            reconnected = self._wake.wait(TICK_S)
            self._wake.clear()
            if self._stop.is_set():
                return
            connected = self.link.connected.is_set()
            if connected and (reconnected or time.monotonic() >= self._next_ping):
                self._next_ping = time.monotonic() + (2.0 if self.central_lost else self.config.ping_interval_s)
                self.ping()
            if connected:
                for p in self.outbox.due(reconnected=reconnected):
                    log.info("no reply to %s %s yet: sending it again (same id)", p.action, p.id)
                    self.link.publish(p.topic, p.payload, qos=1)
            expired = self.outbox.expired()
            for p in expired:
                log.warning("%s %s got no reply within its deadline: dropped", p.action, p.id)
                if p.id in self._reprints:  # asked again at the printer's next check
                    with self._lock:
                        self._reprints.pop(p.id, None)
                elif p.action not in ("print_ack", "void_ticket"):
                    self._notify("!TIDAK ADA JAWABAN")
            if expired and connected and self._ping_out is None:
                self.ping()  # is the central there at all?
            silent = self._ping_out is not None and time.monotonic() - self._ping_out > CENTRAL_SILENT_S
            if connected and silent and not self.central_lost:
                log.warning("the central has not answered a ping for %.0f s: showing it as offline",
                            CENTRAL_SILENT_S)
                self.central_lost = True
                self.render()
                self._next_ping = time.monotonic()  # and keep asking

    # ------------------------------------------------------------- messages

    def _heard_central(self) -> None:
        """Anything from the central (a pong, a reply, a state) proves it is alive."""
        self._ping_out = None
        if self.central_lost:
            log.info("the central answers again")
            self.central_lost = False
            self.render()

    def _on_connect(self) -> None:
        online = codec.encode(m.Presence(role=self.config.device.role, device=self.device, online=True,
                                         version=__version__, ts=self.clock(), contract=m.CONTRACT))
        self.link.publish(self.topics.device(self.role, self.device, Channel.PRESENCE), online, qos=1, retain=True)
        self._ping_out = None  # a new connection: the central is given its time again
        self._wake.set()  # sync the clock and resend what is unanswered, now
        self.ready.set()
        self.render()

    def _on_disconnect(self, reason: str) -> None:
        self.render()

    def _on_message(self, msg: Received) -> None:
        try:
            where = parse(msg.topic)
        except TopicError as exc:
            log.warning("ignored a message on a foreign topic: %s", exc)
            return
        channel = where.channel
        decoded: m.Message
        if channel == SERVICE_STATE:
            with self._lock:
                changed = self.feed.offer(msg.topic, msg.payload)  # (logs and ignores a bad one)
            if changed:
                self.render()
            return
        try:
            if channel is Channel.STATE:
                decoded = state = codec.decode(msg.payload, Channel.STATE, m.GeraiState)
                if not msg.retain:
                    self._heard_central()  # (a retained state may be a dead central's last word)
                if not self._current_epoch(state.epoch, "state"):
                    return
                with self._lock:
                    old = self.state
                    if old is None or state.epoch > old.epoch or state.rev >= old.rev:
                        self.state = state
                        if state.ticket is not None and state.status == "serving":
                            self.last_ticket = (state.ticket, None)
                        elif self.last_ticket is not None and self.last_ticket[1] is None:
                            self.last_ticket = (self.last_ticket[0], time.monotonic())
                self._follow_services(state.services)
                self.render()
            elif channel is Channel.REPLY:
                decoded = reply = codec.decode(msg.payload, Channel.REPLY, m.Reply)
                if reply.code == ResultCode.PONG:
                    self._current_epoch(reply.epoch, "pong")
                    self.link_clock.pong(reply.cmd, reply.ts)
                    self._heard_central()
                    return
                self._heard_central()
                if not self._current_epoch(reply.epoch, "reply"):
                    return
                waiting = self.outbox.settle(reply.cmd)
                with self._lock:
                    self.replies[reply.cmd] = reply
                    asked = self._reprints.pop(reply.cmd, None)
                    if asked is not None:  # reprinted (a new job comes), or refused (voided meanwhile)
                        self.kept.pop(asked, None)
                if waiting is not None and waiting.action in ("print_ack", "void_ticket"):
                    pass  # the outcome of a print is the printer's news, already shown
                elif asked is not None and reply.ok:
                    pass
                elif reply.code == ResultCode.RATING_RECORDED:
                    self._notify("TERIMA KASIH")
                elif not reply.ok and reply.code != ResultCode.QUEUE_EMPTY:
                    self._notify("!" + reply.text_id)
                elif reply.code == ResultCode.QUEUE_EMPTY:
                    self._notify("ANTREAN KOSONG")
            elif channel is Channel.PRINT:
                decoded = job = codec.decode(msg.payload, Channel.PRINT, m.PrintJob)
                self._jobs.put(job)
            else:
                return
        except ProtocolError as exc:
            log.warning("ignored invalid %s message: %s", channel, exc)
            return
        assert isinstance(channel, Channel)
        for listener in list(self.listeners):
            listener(channel, decoded)

    def _follow_services(self, services: list[str]) -> None:
        """Subscribe to the state of each service the gerai calls from (its waiting counts)."""
        for sid in services:
            topic = self.topics.service_state(sid)
            if topic not in self._service_topics:
                self._service_topics.add(topic)
                self.link.subscribe(topic, 1)

    def _current_epoch(self, epoch: int, what: str) -> bool:
        """The epoch rule: remember the newest epoch; refuse to act on an older one."""
        with self._lock:
            if epoch >= self.epoch:
                if epoch > self.epoch and self.epoch:
                    log.warning("the central serves from a new event log (epoch %d, was %d)", epoch, self.epoch)
                self.epoch = epoch
                return True
        log.warning("ignored a %s of an older epoch %d (current %d): an obsolete central?", what, epoch, self.epoch)
        return False

    # -------------------------------------------------------------- printing

    def _print_worker(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            result = self.print_job(job)
            # not a press: no time stamp (lateness does no harm) and resent until answered
            ack = m.PrintAck(id=self.next_id(), job=job.job, ok=result.ok,
                             status=result.status.value, detail=result.detail[:200])
            self.send(ack, deadline_s=PRINT_ACK_DEADLINE_S)
            if self.hw.printer is None:  # nothing to keep for a printer that will never come back
                log.warning("print job %s for %s: this device has no printer", job.job, job.ticket)
                self._notify(f"!TIDAK ADA PRINTER: {job.ticket}")
                continue
            with self._lock:
                if result.ok:
                    self.kept.pop(job.job, None)
                else:  # kept: reprinted when the printer recovers, or voided
                    self.kept.setdefault(job.job, (job, time.monotonic()))
            self._printer_state(result.status, getattr(self.hw.printer, "problem", ""))
            if not result.ok:
                why = fault_text(result.status, getattr(self.hw.printer, "problem", "")) or "PRINTER"
                self._notify(f"!CETAK GAGAL {job.ticket}: {why}")

    # ------------------------------------------------------- printer watch

    def _printer_loop(self) -> None:
        while not self._stop.wait(PRINTER_POLL_S):
            try:
                self.check_printer()
            except Exception:  # the watch must go on
                log.exception("printer check failed")

    def check_printer(self) -> PrinterStatus | None:
        """Ask the printer its status now (a replugged port is reopened by this); show a fault;
        when it can print again, ask the central to reprint what failed; void what waited too long."""
        printer = self.hw.printer
        if printer is None:
            return None
        try:
            status = printer.status()
            problem = getattr(printer, "problem", "")
        except Exception as exc:  # a driver failure is a printer fault, not an agent crash
            status, problem = PrinterStatus.ERROR, f"printer failure: {exc}"
        self._printer_state(status, problem)
        if status in PRINTABLE:
            self._reprint_kept()
        self._void_stale_kept()
        return status

    def _printer_state(self, status: PrinterStatus, problem: str) -> None:
        fault = fault_text(status, problem)
        with self._lock:
            changed = (fault, status.value) != (self.printer_fault, self.printer_status)
            self.printer_status, self.printer_problem, self.printer_fault = status.value, problem, fault
        if changed:
            if fault is None:
                log.info("printer: %s", status.value)
            else:
                log.warning("printer: %s (%s): shown as %s; no ticket is issued here until it is fixed",
                            status.value, problem, fault)
            self.render()

    def _reprint_kept(self) -> None:
        if not self.link.connected.is_set():
            return
        with self._lock:  # asked once, whichever thread (printer watch, health) sees the recovery first
            asked = set(self._reprints.values())
            due = [(self.next_id(), job) for job, _ in self.kept.values() if job.job not in asked]
            for cid, job in due:
                self._reprints[cid] = job.job
        for cid, job in due:
            log.info("printer ready again: asking the central to reprint %s", job.ticket)
            self.send(m.Reprint(id=cid, ticket=job.ticket), deadline_s=PRINT_ACK_DEADLINE_S)

    def _void_stale_kept(self) -> None:
        limit = self.config.printer.reprint_within_s if self.config.printer else 600.0
        if not self.link.connected.is_set():
            return  # kept until the central can be told
        now = time.monotonic()
        with self._lock:
            asked = set(self._reprints.values())
            stale = [job for job, failed in self.kept.values() if now - failed > limit and job.job not in asked]
            for job in stale:
                del self.kept[job.job]
        for job in stale:
            within = f"{limit / 60:.0f} menit" if limit >= 60 else f"{limit:.0f} detik"
            reason = f"cetak gagal; printer tidak pulih dalam {within} ({self.printer_status})"
            log.warning("ticket %s: its print failed %.0f s ago and the printer did not recover: voiding it",
                        job.ticket, limit)
            self.voided.append(job.ticket)
            self.send(m.VoidTicket(id=self.next_id(), ticket=job.ticket, reason=reason[:200]),
                      deadline_s=PRINT_ACK_DEADLINE_S)

    def print_job(self, job: m.PrintJob) -> PrintResult:
        from antre.hardware.escpos import PrinterStatus

        if self.hw.printer is None:
            missing = PrintResult(False, PrinterStatus.ERROR, "no printer attached")
            with self._lock:
                self.printed.append((job.ticket, missing))
            return missing
        ticket = Ticket(
            site_name=job.site_name, agency_name=job.agency_name, service_name=job.service_name,
            number=job.ticket, ticket_id=job.ticket_id, issued_text=job.issued_text, ahead=job.ahead,
            est_wait_min=job.est_wait_min, priority=job.priority, footer=job.footer, url=job.url,
        )
        try:
            result = self.hw.printer.print_ticket(ticket)
        except Exception as exc:
            result = PrintResult(False, PrinterStatus.ERROR, f"printer failure: {exc}")
        self.printer_status = result.status.value
        with self._lock:
            self.printed.append((job.ticket, result))
        log.log(logging.INFO if result.ok else logging.WARNING, "ticket %s: %s %s", job.ticket,
                result.status.value, result.detail)
        return result

    # ---------------------------------------------------------------- health

    def _fault(self, text: str) -> None:
        with self._lock:
            if text not in self.hw.faults:
                self.hw.faults.append(text)
        log.error("%s", text)

    def health(self) -> m.Health:
        if self.hw.printer is not None:
            self.check_printer()
        faults = list(self.hw.faults)
        if self.printer_fault is not None:
            faults.append(f"printer: {self.printer_fault} ({self.printer_problem or self.printer_status})")
        if self.kept:
            faults.append(f"printer: {len(self.kept)} ticket(s) not printed yet: "
                          + " ".join(sorted(job.ticket for job, _ in list(self.kept.values()))))
        offset = self.link_clock.offset()
        if offset is not None and abs(offset) > CLOCK_FAULT_S:
            faults.append(f"clock: this device's clock is {abs(offset):.0f} s {'behind' if offset > 0 else 'ahead of'}"
                          " the central's (presses are stamped from the link; "
                          "fix NTP for the logs)")
        faults = faults[:16]
        return m.Health(
            role=self.config.device.role, device=self.device, version=__version__,
            uptime_s=round(time.monotonic() - self.started, 1), ts=self.clock(), cpu_temp_c=cpu_temperature(),
            printer=self.printer_status,  # type: ignore[arg-type]
            display="absent" if self.hw.display is None else ("fault" if any(f.startswith("display") for f in faults)
                                                              else "ok"),
            buttons="absent" if not self.config.button else ("fault" if any(f.startswith("button") for f in faults)
                                                             else "ok"),
            faults=[f[:200] for f in faults],
            clock_offset_s=None if offset is None else round(offset, 3),
            ip=self.link.local_ip,
        )

    def _health_loop(self) -> None:
        """A report every ``health_interval_s``, and at once (within :data:`CHANGE_POLL_S`) when the printer,
        the display, the buttons or the faults change: technicians are told of a dead printer within
        seconds (the operations console's alarm), not at the next periodic report."""
        interval = self.config.health_interval_s
        last_sent = -float(interval)
        last_key: tuple[object, ...] | None = None
        while not self._stop.wait(min(CHANGE_POLL_S, interval)):
            if not self.link.connected.is_set():
                last_key = None  # report again as soon as the link is back
                continue
            health = self.health()
            key = (health.printer, health.display, health.buttons, tuple(health.faults))
            if key == last_key and time.monotonic() - last_sent < interval:
                continue
            if last_key is not None and key != last_key:
                log.info("health changed: printer %s, display %s, buttons %s, faults %s", *key)
            last_key, last_sent = key, time.monotonic()
            # retained: `antre status` shows each device's last report, even of one now offline
            self.link.publish(self.topics.device(self.role, self.device, Channel.HEALTH), codec.encode(health),
                              qos=0, retain=True)

