"""The queue service: engine + durable log + exactly-once command handling.

:class:`QueueService` takes decoded wire commands from devices, applies them
to the :class:`~central.engine.Engine`, commits the resulting events and the
replies in one transaction, and only then returns what must be published:
the reply, print jobs, announcements and which gerai displays changed.

A command id seen before (a redelivery under MQTT's at-least-once QoS 1)
returns the reply it got the first time and changes nothing.  After a crash,
:meth:`QueueService.open` rebuilds the engine from the log, so state equals
exactly what was committed, and a command whose commit was lost was never
acknowledged: its redelivery is applied once.

No MQTT here: the transport lives in the service runner.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.messages import ResultCode
from antre.central import events as ev
from antre.central import feedback, views
from antre.central.config import SiteConfig
from antre.central.engine import Engine, Outcome, Result
from antre.central.feedback import FeedbackBook
from antre.central.ticketkey import TicketKey, ticket_url
from antre.central.replies import ReplyCache
from antre.central.store import EventStore, StoredReply

log = logging.getLogger(__name__)

#: How long a command id is remembered for deduplication (seconds).
REPLY_RETENTION_S = 2 * 86400

DeviceRole = Literal["gerai", "kiosk"]
_KIOSK_ACTIONS = frozenset({"take_ticket", "print_ack", "void_ticket", "reprint"})
#: what each role of a console user may ask (operations console); the console checks a staff
#: user's gerai, the central checks the role and that the command came from its console
_COUNTER_ACTIONS = frozenset({"call_next", "recall", "no_show", "done", "transfer", "call_ticket", "pause", "resume",
                              "reprint"})
_DAY_ACTIONS = frozenset({"stop_issuing", "resume_issuing", "set_quota", "lobby_message"})
CONSOLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": _COUNTER_ACTIONS | _DAY_ACTIONS,
    "supervisor": _COUNTER_ACTIONS | _DAY_ACTIONS,
    "staff": _COUNTER_ACTIONS,
    "technician": frozenset(),
}


def _service_of(cmd: m.AnyCommand) -> dict[str, str]:
    """A refused ticket request's service, for its logged detail (reports count refusals per service)."""
    return {"service": cmd.service} if isinstance(cmd, m.TakeTicket) else {}


@dataclass
class Handled:
    """The outcome of one command, ready to publish."""

    reply: m.Reply
    duplicate: bool = False
    events: list[ev.AnyEvent] = field(default_factory=list)
    print_jobs: list[m.PrintJob] = field(default_factory=list)
    #: the (role, device) whose printer gets ``print_jobs`` (None: the sender's; a counter action from the
    #: operations console prints on that gerai's printer)
    print_to: tuple[str, str] | None = None
    announcements: list[m.Announce] = field(default_factory=list)
    #: gerai whose own display state changed (number, status, pause reason)
    touched_gerai: set[str] = field(default_factory=set)
    #: services whose waiting count, quota, estimate or counters changed
    touched_services: set[str] = field(default_factory=set)
    #: whether the recent calls changed
    calls_changed: bool = False


class QueueService:
    """One site's queue: apply commands exactly once, durably."""

    def __init__(self, config: SiteConfig, store: EventStore, engine: Engine | None = None, *,
                 clock_gate: Callable[[], bool] | None = None, ticket_key: TicketKey | None = None) -> None:
        self.config = config
        self.store = store
        self.engine = engine or Engine(config)
        #: the tickets citizens may still rate (served within the survey window, across days)
        self.feedback = FeedbackBook(config.survey.answer_window_hours * 3600)
        #: signs the ticket pages' links (print jobs) and checks survey answers' tokens; None: the
        #: site's credentials have no ticket-page key (tickets print their id's QR code, answers are refused)
        self.ticket_key = ticket_key
        #: the command ids answered within REPLY_RETENTION_S (their replies stay in the log)
        self._replies = ReplyCache(store, REPLY_RETENTION_S)
        #: per gerai: the press time of its last call_next that called a citizen, and that ticket
        self._last_call: dict[str, tuple[float, str]] = {}
        #: None, or whether the system clock is synchronised: tickets are refused
        #: (``clock_unsynced``) while it is not (see :mod:`antre.central.clocksync`)
        self.clock_gate = clock_gate

    @classmethod
    def open(cls, config: SiteConfig, store: EventStore, now: float, *,
             clock_gate: Callable[[], bool] | None = None, ticket_key: TicketKey | None = None) -> QueueService:
        """Rebuild today's state from the log (the last day_opened onward), and the survey's
        served tickets from the days the answer window still reaches."""
        service = cls(config, store, clock_gate=clock_gate, ticket_key=ticket_key)
        start = store.current_day_start()
        book = service.feedback
        first = book.first_day(dt.datetime.fromtimestamp(now, config.zone).date()).isoformat()
        earlier = [span for span in store.day_spans() if span.first_seq < start and span.day >= first]
        if earlier:
            for _, event in store.events(earlier[0].first_seq):
                if _ >= start:
                    break
                book.apply(event)
        count = 0
        for _, event in store.events(start):
            service.engine.apply(event)
            book.apply(event)
            count += 1
        service._replies.load(now)
        log.info(
            "queue state rebuilt from %s: %d events of %s, %d remembered command ids",
            store.path, count, service.engine.day, len(service._replies),
        )
        return service

    # -------------------------------------------------------------- commands

    def handle(self, role: str, device: str, command: m.AnyCommand, now: float) -> Handled:
        """Apply one command and commit it."""
        return self.handle_batch([(role, device, command)], now)[0]

    def handle_batch(self, items: Sequence[tuple[str, str, m.AnyCommand]], now: float) -> list[Handled]:
        """Apply several commands and commit them in one transaction.

        Raises :class:`StorageError` when the commit fails: then nothing of
        the batch may be published, and the service must stop.
        """
        results: list[Handled] = []
        new_events: list[ev.AnyEvent] = []
        new_replies: list[StoredReply] = []
        answered: dict[str, m.Reply] = {}  # this batch's, until committed
        for role, device, command in items:
            if isinstance(command, m.Ping):  # clock sync: answered with the central's time, not logged
                results.append(Handled(reply=m.Reply(epoch=self.epoch, cmd=command.id, ok=True, code=ResultCode.PONG,
                                                     text_id="Terhubung", text_en="pong", ts=now)))
                continue
            key = f"{role}/{device}/{command.id}"
            seen = answered.get(key) or self._replies.seen(key, now)
            if seen is not None:
                log.info("duplicate command %s from %s/%s: answering with the original reply", command.id, role, device)
                results.append(Handled(reply=seen, duplicate=True))
                continue
            outcome = (self._late(role, device, command, now) or self._unsynced(device, command, now)
                       or self._double(role, device, command, now) or self._dispatch(role, device, command, now))
            if isinstance(command, m.ConsoleCommand):  # the audit trail names the person who acted
                outcome = Outcome(outcome.result, [
                    e if isinstance(e, ev.DayOpened) else msgspec.structs.replace(e, by=command.user)
                    for e in outcome.events])
            if outcome.result.code is ResultCode.CALLED:
                # the gerai's last call, for its button's double-press guard: a press right after a call
                # from the console at the same gerai is a double press too (two citizens in one second)
                called = outcome.result.ticket.number if outcome.result.ticket else ""
                if isinstance(command, m.CallNext) and command.ts is not None:
                    self._last_call[device] = (command.ts, called)
                elif (isinstance(command, m.ConsoleCommand) and isinstance(command.command, m.CallNext)
                      and command.gerai is not None):
                    self._last_call[command.gerai] = (command.ts if command.ts is not None else now, called)
            for event in outcome.events:  # (the engine applied them as it made them)
                self.feedback.apply(event)
            handled = self._effects(role, device, command, outcome, now)
            answered[key] = handled.reply
            new_events.extend(outcome.events)
            new_replies.append(StoredReply(key, now, codec.encode(handled.reply)))
            results.append(handled)
        self.store.append(new_events, new_replies)
        self._replies.add([(r.key, r.ts) for r in new_replies])
        return results

    def tick(self, now: float) -> Handled | None:
        """Open a new day at local midnight; returns the change to publish, if any."""
        events = self.engine.tick(now)
        if not events:
            return None
        for event in events:
            self.feedback.apply(event)
        self.store.append(events)
        self.store.prune_replies(now - REPLY_RETENTION_S)
        self._replies.prune(now)
        reply = m.Reply(cmd="system-tick", ok=True, code=ResultCode.OK, ts=now)
        return Handled(reply=reply, events=events, touched_gerai=set(self.config.gerai),
                       touched_services=set(self.config.services), calls_changed=True)

    # ---------------------------------------------------------------- views

    @property
    def epoch(self) -> int:
        """The epoch of the event log (0 until the central has given it one)."""
        return self.store.epoch or 0

    def gerai_state(self, gerai: str, now: float, rev: int) -> m.GeraiState:
        return views.gerai_state(self.engine, gerai, now, rev, self.epoch)

    def board(self, now: float, rev: int) -> m.Board:
        return views.board(self.engine, now, rev, self.epoch)

    def service_state(self, service: str, now: float, rev: int) -> m.ServiceState:
        return views.service_state(self.engine, service, now, rev, self.epoch)

    def calls(self, now: float, rev: int) -> m.Calls:
        return views.calls(self.engine, now, rev, self.epoch)

    def ticket_page(self, ticket_id: str) -> str:
        """The address of a ticket's own page (its QR code), or "" when the site has none."""
        base = self.config.console.public_url
        if not base or self.ticket_key is None:
            return ""
        return ticket_url(base, ticket_id, self.ticket_key.token(ticket_id))

    # -------------------------------------------------------------- private

    def _late(self, role: str, device: str, cmd: m.AnyCommand, now: float) -> Outcome | None:
        """Refuse a press older than the deadline (it waited in a hung link or a dead broker)
        or stamped too far in the future; the refusal is in the audit trail."""
        deadline = self.config.central.command_deadline_s
        if cmd.ts is None or deadline <= 0:
            return None
        action = type(cmd).__struct_config__.tag
        assert isinstance(action, str)
        age = now - cmd.ts
        if age > deadline:
            log.warning("stale %s %s from %s/%s: pressed %.1f s ago (deadline %.1f s)", action, cmd.id, role,
                        device, age, deadline)
            return self.engine.refuse(device, action, ResultCode.STALE, now, cmd.id, age=f"{age:.0f}",
                                      deadline=f"{deadline:g}", **_service_of(cmd))
        if -age > deadline:
            log.warning("%s %s from %s/%s is stamped %.1f s in the future: its clock is off", action, cmd.id,
                        role, device, -age)
            return self.engine.refuse(device, action, ResultCode.CLOCK_SKEW, now, cmd.id, ahead=f"{-age:.0f}",
                                      **_service_of(cmd))
        return None

    def _unsynced(self, device: str, cmd: m.AnyCommand, now: float) -> Outcome | None:
        """Refuse to issue a ticket while the system clock is not synchronised: the clock
        decides the ticket's day, its number and the opening hours."""
        if self.clock_gate is None or not isinstance(cmd, m.TakeTicket) or self.clock_gate():
            return None
        return self.engine.refuse(device, "take_ticket", ResultCode.CLOCK_UNSYNCED, now, cmd.id,
                                  service=cmd.service)

    def _double(self, role: str, device: str, cmd: m.AnyCommand, now: float) -> Outcome | None:
        """A button's call_next pressed within the guard of the gerai's previous successful one, by the
        press times the device stamped (a tool's command without ``ts`` is not a button press)."""
        guard = self.config.central.call_guard_s
        last = self._last_call.get(device)
        if guard <= 0 or last is None or not isinstance(cmd, m.CallNext) or cmd.ts is None:
            return None
        pressed = cmd.ts
        if 0 <= pressed - last[0] < guard:
            log.warning("double press of call_next %s from %s/%s: %.2f s after the press that called %s",
                        cmd.id, role, device, pressed - last[0], last[1])
            return self.engine.refuse(device, "call_next", ResultCode.DOUBLE_PRESS, now, cmd.id, ticket=last[1],
                                      guard=f"{guard:g}")
        return None

    def _dispatch(self, role: str, device: str, cmd: m.AnyCommand, now: float) -> Outcome:
        e = self.engine
        action = type(cmd).__struct_config__.tag
        assert isinstance(action, str)
        if role == "console":
            return self._dispatch_console(device, cmd, now)
        known = device in self.config.gerai if role == "gerai" else device in self.config.kiosks
        if role not in ("gerai", "kiosk") or not known:
            return e.refuse(device, action, ResultCode.UNKNOWN_DEVICE, now, cmd.id, device=f"{role}/{device}")
        if role == "kiosk" and action not in _KIOSK_ACTIONS:
            return e.refuse(device, action, ResultCode.NOT_ALLOWED, now, cmd.id, command=action)
        if action in _DAY_ACTIONS or isinstance(cmd, m.ConsoleCommand | m.SurveyAnswer):  # the console's alone
            return e.refuse(device, action, ResultCode.NOT_ALLOWED, now, cmd.id, command=action)
        if isinstance(cmd, m.CounterCommand) and cmd.expect is not None and role == "gerai":
            current = e.current_of(device)
            serving = current.number if current is not None else "-"
            if serving != cmd.expect:
                log.info("%s %s for gerai %s expected %s, the gerai serves %s: refused", action, cmd.id, device,
                         cmd.expect, serving)
                return e.refuse(device, action, ResultCode.NOT_CURRENT, now, cmd.id,
                                ticket="tidak ada nomor" if serving == "-" else serving,
                                expected="tidak ada nomor" if cmd.expect == "-" else cmd.expect)
        match cmd:
            case m.TakeTicket():
                return e.take_ticket(device, cmd.service, now, cmd.priority, cmd.print, cmd.id)
            case m.CallNext():
                return e.call_next(device, now, cmd.complete_current, cmd.id)
            case m.Recall():
                return e.recall(device, now, cmd.ticket, cmd.complete_current, cmd.id)
            case m.NoShow():
                return e.no_show(device, now, cmd.id)
            case m.Done():
                return e.done(device, now, cmd.id)
            case m.Transfer():
                return e.transfer(device, cmd.service, now, cmd.note, cmd.id)
            case m.CallTicket():
                return e.call_ticket(device, cmd.ticket, cmd.reason, now, cmd.complete_current, cmd.id)
            case m.Pause():
                return e.pause(device, cmd.reason, now, cmd.id)
            case m.Resume():
                return e.resume(device, now, cmd.id)
            case m.PrintAck():
                ticket_id = views.ticket_of_job(cmd.job) or cmd.job
                return e.print_ack(device, ticket_id, cmd.ok, cmd.status, now, cmd.detail, cmd.id)
            case m.VoidTicket():
                return e.void_ticket(device, cmd.ticket, cmd.reason, now, cmd.id)
            case m.Reprint():
                return e.reprint(device, cmd.ticket, now, cmd.id)
            case m.QuickRating():
                return feedback.quick_rating(e, self.feedback, device, cmd, now,
                                             self.config.survey.quick_rating_minutes * 60)
            case m.Ping():  # pragma: no cover - answered by handle_batch
                return Outcome(Result(True, ResultCode.PONG), [])
        raise AssertionError(f"unhandled command {cmd!r}")  # pragma: no cover

    def _dispatch_console(self, device: str, cmd: m.AnyCommand, now: float) -> Outcome:
        """A person's action from the operations console: only its own ``console_cmd``, only from
        the site's console, only what the user's role may do; a counter action is applied as the
        gerai's own command (the gerai's display changes at once), day control by the engine."""
        e = self.engine
        actor = f"console.{device}"
        action = type(cmd).__struct_config__.tag
        assert isinstance(action, str)
        if device != self.config.console.id:
            return e.refuse(actor, action, ResultCode.UNKNOWN_DEVICE, now, cmd.id, device=f"console/{device}")
        if isinstance(cmd, m.SurveyAnswer):  # a citizen's, from the ticket's page: the token decides
            return feedback.survey_answer(e, self.feedback, self.ticket_key, actor, cmd, now)
        if not isinstance(cmd, m.ConsoleCommand):
            return e.refuse(actor, action, ResultCode.NOT_ALLOWED, now, cmd.id, command=action)
        inner = msgspec.structs.replace(cmd.command, id=cmd.id, ts=cmd.ts)
        what = type(inner).__struct_config__.tag
        assert isinstance(what, str)
        if what not in CONSOLE_PERMISSIONS.get(cmd.user_role, frozenset()):
            return e.refuse(actor, what, ResultCode.NOT_PERMITTED, now, cmd.id, role=cmd.user_role, command=what)
        if what in _COUNTER_ACTIONS:
            if cmd.gerai is None or cmd.gerai not in self.config.gerai:
                return e.refuse(actor, what, ResultCode.UNKNOWN_DEVICE, now, cmd.id, device=f"gerai/{cmd.gerai}")
            return self._dispatch("gerai", cmd.gerai, inner, now)
        match inner:
            case m.StopIssuing():
                return e.stop_issuing(actor, inner.service, inner.reason, now, cmd.id)
            case m.ResumeIssuing():
                return e.resume_issuing(actor, inner.service, now, cmd.id)
            case m.SetQuota():
                return e.set_quota(actor, inner.service, inner.quota, now, cmd.id)
            case m.LobbyMessage():
                return e.set_lobby_message(actor, inner.text, now, cmd.id)
        raise AssertionError(f"unhandled console action {inner!r}")  # pragma: no cover

    def _effects(self, role: str, device: str, cmd: m.AnyCommand, outcome: Outcome, now: float) -> Handled:
        result = outcome.result
        text_id, text_en = result.texts
        reply = m.Reply(
            epoch=self.epoch,
            cmd=cmd.id,
            ok=result.ok,
            code=result.code,
            text_id=text_id[:200],
            text_en=text_en[:200],
            ticket=result.ticket.number if result.ticket else None,
            ts=now,
        )
        handled = Handled(reply=reply, events=list(outcome.events))
        if isinstance(cmd, m.ConsoleCommand) and cmd.gerai is not None:
            handled.print_to = ("gerai", cmd.gerai)
        engine = self.engine
        for event in outcome.events:
            # Only what changed: a ticket touches its service's state (one message), not the
            # display of every gerai of the service (contract 2; the runner still serves the
            # waiting counts of contract 1 gerai from touched_services).
            match event:
                case ev.DayOpened():
                    handled.touched_gerai.update(self.config.gerai)
                    handled.touched_services.update(self.config.services)
                    handled.calls_changed = True
                case ev.TicketIssued(print=True):
                    handled.print_jobs.append(views.print_job(engine, engine.tickets[event.ticket_id], self.epoch,
                                                              self.ticket_page(event.ticket_id)))
                    handled.touched_services.add(event.service)
                case ev.TicketIssued():
                    handled.touched_services.add(event.service)
                case ev.TicketCalled() | ev.TicketRecalled():
                    ticket = engine.tickets[event.ticket_id]
                    handled.announcements.append(
                        views.announcement(engine, ticket, event.gerai, isinstance(event, ev.TicketRecalled)
                                           or event.mode == "recall_no_show", now, self.epoch)
                    )
                    handled.touched_gerai.add(event.gerai)
                    handled.touched_services.add(ticket.service)
                    handled.calls_changed = True
                case ev.TicketReprinted():
                    handled.print_jobs.append(views.print_job(engine, engine.tickets[event.ticket_id], self.epoch,
                                                              self.ticket_page(event.ticket_id)))
                case ev.PrintAcked() | ev.TicketVoided():  # a ticket stops or starts waiting (and quota back)
                    handled.touched_services.add(engine.tickets[event.ticket_id].service)
                case ev.TicketServed() | ev.TicketNoShow():
                    handled.touched_gerai.add(event.gerai)
                    handled.touched_services.add(engine.tickets[event.ticket_id].service)
                case ev.GeraiPaused() | ev.GeraiResumed():  # the services' estimates count open gerai
                    handled.touched_gerai.add(event.gerai)
                    handled.touched_services.update(self.config.gerai[event.gerai].services)
                case ev.TicketTransferred():
                    handled.touched_gerai.add(event.gerai)
                    # the ticket left one of the gerai's services (its counters changed) for to_service
                    handled.touched_services.update(self.config.gerai[event.gerai].services)
                    handled.touched_services.add(event.to_service)
                case ev.IssuingStopped() | ev.IssuingResumed() | ev.QuotaSet():  # day control (console)
                    handled.touched_services.add(event.service)
                case ev.LobbyMessageSet():
                    handled.calls_changed = True
                case ev.CommandRefused():
                    log.info("refused %s from %s/%s: %s %s", event.action, role, device, event.code, event.detail)
        return handled

