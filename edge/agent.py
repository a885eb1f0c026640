"""The gerai edge agent: buttons in, number display and ticket printer out, MQTT between.

* Identity and credentials come from the device config; the agent connects
  with a retained last will (``online: false``) and announces itself online.
* A button gesture becomes a command with a unique id, sent once at QoS 1.
  When the broker is unreachable the press is refused on the display at once
  (``!TIDAK TERKIRIM``); it is never queued to surprise anyone later.
* The display shows the retained state the central publishes; ``OFFLINE``
  as soon as the connection drops, the truth again after reconnecting.
* Print jobs are printed on a worker thread and acknowledged by id: printed,
  or failed with the printer's own reason, so a failed print never loses the
  ticket (the central keeps it in the queue either way).
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
from pathlib import Path

from antre import __version__
from broker import codec
from broker import messages as m
from broker.client import BrokerAddress, MqttLink, Received, TlsSettings, Will
from broker.codec import ProtocolError
from broker.topics import Channel, Role, Topics
from edge.config import DeviceConfig
from hardware.display import DisplayContent, NumberDisplay
from hardware.gestures import Gesture
from hardware.printer import PrintResult, Ticket, TicketPrinter

log = logging.getLogger(__name__)

STATUS_TEXT = {"serving": "MELAYANI", "idle": "SIAP", "paused": "ISTIRAHAT", "closed": "TUTUP"}
NOTICE_SECONDS = 3.0


@dataclass
class Hardware:
    display: NumberDisplay | None = None
    printer: TicketPrinter | None = None
    faults: list[str] = field(default_factory=list)


class EdgeAgent:
    def __init__(self, config: DeviceConfig, hardware: Hardware, *, clock: Callable[[], float] = time.time) -> None:
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
        self.state: m.GeraiState | None = None
        self.replies: dict[str, m.Reply] = {}
        self.notice: tuple[str, float] | None = None  # (text, until monotonic)
        self.printer_status = "unknown" if hardware.printer else None
        self.printed: list[tuple[str, PrintResult]] = []
        self._jobs: queue.Queue[m.PrintJob | None] = queue.Queue()
        self._stop = threading.Event()
        self.ready = threading.Event()
        b = config.broker
        address = BrokerAddress(
            b.host, b.port, f"{self.role.value}.{self.device}", b.password,
            TlsSettings(b.cafile) if b.cafile else None, keepalive=b.keepalive,
        )
        offline = codec.encode(m.Presence(role=self.role.value, device=self.device, online=False,
                                          version=__version__))
        channels = [Channel.REPLY, Channel.PRINT] + ([Channel.STATE] if self.role is Role.GERAI else [])
        self.link = MqttLink(
            address, f"antre-{self.role.value}-{self.device}",
            subscriptions=[(self.topics.device(self.role, self.device, ch), 1) for ch in channels],
            on_message=self._on_message, on_connect=self._on_connect, on_disconnect=self._on_disconnect,
            will=Will(self.topics.device(self.role, self.device, Channel.PRESENCE), offline),
        )
        self._threads = [
            threading.Thread(target=self._print_worker, name="printer", daemon=True),
            threading.Thread(target=self._health_loop, name="health", daemon=True),
        ]

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.render()
        for t in self._threads:
            t.start()
        self.link.start()

    def stop(self) -> None:
        self._stop.set()
        self._jobs.put(None)
        offline = codec.encode(m.Presence(role=self.role.value, device=self.device, online=False,
                                          version=__version__, ts=self.clock()))
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
            waiting = s.waiting if s else 0
            if self.notice and self.notice[1] > time.monotonic():
                status = self.notice[0]  # a refusal or a failure, for a few seconds
            elif not self.link.connected.is_set():
                status = "OFFLINE"
            elif s is None:
                status = "MENUNGGU DATA"
            else:
                status = STATUS_TEXT.get(s.status, s.status.upper())
            return DisplayContent(name=name, number=number, waiting=waiting, status=status)

    def render(self) -> None:
        if self.hw.display is None:
            return
        try:
            self.hw.display.show(self.content())
        except Exception as exc:  # a broken display must not stop the agent
            self._fault(f"display: {exc}")

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
        cid = self.next_id()
        cmd: m.AnyCommand
        tickets = self.config.tickets
        if action == "call_next":
            cmd = m.CallNext(id=cid, ts=self.clock())
        elif action == "recall":
            cmd = m.Recall(id=cid, ts=self.clock())
        elif action == "no_show":
            cmd = m.NoShow(id=cid, ts=self.clock())
        elif action == "done":
            cmd = m.Done(id=cid, ts=self.clock())
        elif action == "pause_toggle":
            paused = self.state is not None and self.state.status == "paused"
            cmd = m.Resume(id=cid, ts=self.clock()) if paused else m.Pause(id=cid, ts=self.clock())
        elif action in ("take_ticket", "take_priority_ticket") and tickets is not None:
            priority = tickets.priority_reason if action == "take_priority_ticket" else "regular"
            cmd = m.TakeTicket(id=cid, ts=self.clock(), service=tickets.service, priority=priority,
                               print=self.hw.printer is not None)
        else:
            return None
        self.link.publish(self.topics.device(self.role, self.device, Channel.CMD), codec.encode(cmd), qos=1)
        log.info("sent %s %s", action, cid)
        return cid

    # ------------------------------------------------------------- messages

    def _on_connect(self) -> None:
        online = codec.encode(m.Presence(role=self.role.value, device=self.device, online=True,
                                         version=__version__, ts=self.clock()))
        self.link.publish(self.topics.device(self.role, self.device, Channel.PRESENCE), online, qos=1, retain=True)
        self.ready.set()
        self.render()

    def _on_disconnect(self, reason: str) -> None:
        self.render()

    def _on_message(self, msg: Received) -> None:
        channel = msg.topic.rsplit("/", 1)[-1]
        try:
            if channel == "state":
                state = codec.decode(msg.payload, Channel.STATE, m.GeraiState)
                with self._lock:
                    if self.state is None or state.rev >= self.state.rev:
                        self.state = state
                self.render()
            elif channel == "reply":
                reply = codec.decode(msg.payload, Channel.REPLY, m.Reply)
                with self._lock:
                    self.replies[reply.cmd] = reply
                if not reply.ok and reply.code != "queue_empty":
                    self._notify("!" + reply.text_id)
                elif reply.code == "queue_empty":
                    self._notify("ANTREAN KOSONG")
            elif channel == "print":
                self._jobs.put(codec.decode(msg.payload, Channel.PRINT, m.PrintJob))
        except ProtocolError as exc:
            log.warning("ignored invalid %s message: %s", channel, exc)

    # -------------------------------------------------------------- printing

    def _print_worker(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            result = self.print_job(job)
            ack = m.PrintAck(id=self.next_id(), ts=self.clock(), job=job.job, ok=result.ok,
                             status=result.status.value, detail=result.detail[:200])
            self.link.publish(self.topics.device(self.role, self.device, Channel.CMD), codec.encode(ack), qos=1)
            if not result.ok:
                self._notify(f"!CETAK GAGAL {job.ticket}")

    def print_job(self, job: m.PrintJob) -> PrintResult:
        from hardware.escpos import PrinterStatus

        if self.hw.printer is None:
            return PrintResult(False, PrinterStatus.ERROR, "no printer attached")
        ticket = Ticket(
            site_name=job.site_name, agency_name=job.agency_name, service_name=job.service_name,
            number=job.ticket, ticket_id=job.ticket_id, issued_text=job.issued_text, ahead=job.ahead,
            est_wait_min=job.est_wait_min, priority=job.priority, footer=job.footer,
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
            try:
                self.printer_status = self.hw.printer.status().value
            except Exception as exc:
                self._fault(f"printer: {exc}")
                self.printer_status = "error"
        faults = list(self.hw.faults)[:16]
        return m.Health(
            role=self.role.value, device=self.device, version=__version__,
            uptime_s=round(time.monotonic() - self.started, 1), ts=self.clock(), cpu_temp_c=cpu_temperature(),
            printer=self.printer_status,  # type: ignore[arg-type]
            display="absent" if self.hw.display is None else ("fault" if any(f.startswith("display") for f in faults)
                                                              else "ok"),
            buttons="absent" if not self.config.button else ("fault" if any(f.startswith("button") for f in faults)
                                                             else "ok"),
            faults=[f[:200] for f in faults],
        )

    def _health_loop(self) -> None:
        while not self._stop.wait(self.config.health_interval_s):
            if self.link.connected.is_set():
                payload = codec.encode(self.health())
                self.link.publish(self.topics.device(self.role, self.device, Channel.HEALTH), payload, qos=0)


def cpu_temperature(path: str = "/sys/class/thermal/thermal_zone0/temp") -> float | None:
    """The SoC temperature in °C where the kernel exposes it (a Raspberry Pi does)."""
    try:
        return round(int(Path(path).read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None
