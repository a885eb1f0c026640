"""The queue engine: pure logic, no I/O, no clock of its own.

Every action takes ``now`` (Unix seconds) and returns an :class:`Outcome`: the
result for the caller and the events it produced.  The engine has already
applied those events to its state; :meth:`Engine.apply` applies an event from
the log, and replaying the log into a fresh engine rebuilds exactly the same
state (``snapshot()`` compares equal).  The engine imports no MQTT, no pygame
and no hardware; persistence is :mod:`central.store`'s job.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from antre.broker.wire.messages import Priority, ResultCode
from antre.central import events as ev
from antre.central.config import SiteConfig
from antre.central.policy import choose_class, choose_listed, choose_service
from antre.central.texts import render

_DURATION_SAMPLES = 20
_RECENT_CALLS = 20


class Status(str, enum.Enum):
    WAITING = "waiting"
    CALLED = "called"
    SERVED = "served"
    NO_SHOW = "no_show"
    EXPIRED = "expired"
    #: its print failed: nobody holds it, so it does not wait (nor count ahead of anyone) until it
    #: is printed (reprint) or voided
    UNPRINTED = "unprinted"
    VOIDED = "voided"


@dataclass
class Ticket:
    id: str
    number: str
    service: str  # the service it waits for now (changes on transfer)
    origin_service: str
    seq: int
    priority: str
    order: int  # issue order of the day: the tie-breaker that keeps queues fair
    issued_at: float
    status: Status = Status.WAITING
    gerai: str | None = None
    called_at: float | None = None
    recalls: int = 0
    announced: int = 0  # calls and recalls so far: numbers its announcements
    no_show_at: float | None = None
    finished_at: float | None = None
    transfers: int = 0
    print_status: str = "pending"  # pending | printed | failed | none
    issuer: str = ""  # the device (or "system") that issued it

    @property
    def is_priority(self) -> bool:
        return self.priority != Priority.REGULAR


@dataclass
class GeraiState:
    id: str
    paused: bool = False
    pause_reason: str = ""
    current: str | None = None  # ticket id held by this gerai
    ratio_pos: int = 0
    calls: int = 0


@dataclass
class ServiceStats:
    issued: int = 0
    served: int = 0
    no_show: int = 0
    transferred_out: int = 0
    voided: int = 0  # issued, then voided (nobody held it): their quota places are given back
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=_DURATION_SAMPLES))


@dataclass(frozen=True)
class Call:
    """A call or recall, as the lobby lists it."""

    ticket_id: str
    gerai: str
    ts: float
    recall: bool


@dataclass(frozen=True)
class Result:
    """What an action did, for the reply to the device."""

    ok: bool
    code: ResultCode
    ticket: Ticket | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def texts(self) -> tuple[str, str]:
        return render(self.code, self.params)


@dataclass(frozen=True)
class Outcome:
    result: Result
    events: list[ev.AnyEvent]


class Engine:
    """The queue of one site for the current local day."""

    def __init__(self, config: SiteConfig) -> None:
        self.config = config
        self.day: dt.date | None = None
        self.tickets: dict[str, Ticket] = {}
        self.by_number: dict[str, str] = {}
        # service -> (priority queue, regular queue), each sorted by (order, ticket id)
        self.queues: dict[str, tuple[list[tuple[int, str]], list[tuple[int, str]]]] = {}
        self.gerai: dict[str, GeraiState] = {}
        self.stats: dict[str, ServiceStats] = {}
        self.next_order = 0
        self.recent_calls: deque[Call] = deque(maxlen=_RECENT_CALLS)
        self.last_issued: dict[str, str] = {}  # device -> the ticket id it issued last today
        self.yesterday: dict[str, int] = {}
        self._reset_day(None)

    # ------------------------------------------------------------------ time

    def local(self, now: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(now, self.config.zone)

    def _closing_counts(self) -> dict[str, int]:
        """The current day's tickets by final status; open ones count as expired."""
        if self.day is None:
            return {}
        counts: dict[str, int] = {s.value: 0 for s in Status}
        for t in self.tickets.values():
            status = Status.EXPIRED if t.status in (Status.WAITING, Status.CALLED) else t.status
            counts[status.value] += 1
        return counts

    def _reset_day(self, day: dt.date | None) -> None:
        self.day = day
        self.tickets = {}
        self.by_number = {}
        self.queues = {sid: ([], []) for sid in self.config.services}
        self.gerai = {gid: GeraiState(gid) for gid in self.config.gerai}
        self.stats = {sid: ServiceStats() for sid in self.config.services}
        self.next_order = 0
        self.recent_calls = deque(maxlen=_RECENT_CALLS)
        self.last_issued = {}
        # day control (operations console): for today only
        self.issuing_stopped: dict[str, str] = {}  # service -> reason
        self.quota_today: dict[str, int | None] = {}  # service -> today's quota (None: the site file's)
        self.lobby_message = ""

    def _roll(self, now: float, actor: str) -> list[ev.AnyEvent]:
        """Open a new local day when ``now`` is past the current one."""
        today = self.local(now).date()
        if self.day is not None and today <= self.day:
            return []
        event = ev.DayOpened(ts=now, actor="system", day=today.isoformat(), closed=self._closing_counts())
        self.apply(event)
        return [event]

    def tick(self, now: float) -> list[ev.AnyEvent]:
        """Let time pass: opens the new day at local midnight (call it periodically)."""
        return self._roll(now, "system")

    # -------------------------------------------------------------- queries

    def waiting_in(self, service: str) -> int:
        prio, reg = self.queues[service]
        return len(prio) + len(reg)

    def waiting_for_gerai(self, gerai: str) -> int:
        return sum(self.waiting_in(s) for s in self.config.gerai[gerai].services)

    def quota_of(self, service: str) -> int | None:
        """Today's quota of ``service``: a supervisor's setting, else the site file's."""
        if service in self.quota_today:
            return self.quota_today[service]
        return self.config.services[service].daily_quota

    def remaining_quota(self, service: str) -> int | None:
        quota = self.quota_of(service)
        return None if quota is None else max(0, quota - self.quota_used(service))

    def quota_used(self, service: str) -> int:
        """Tickets of ``service`` that count against its quota: issued, less the voided ones."""
        stats = self.stats[service]
        return stats.issued - stats.voided

    def oldest_waiting(self, service: str) -> Ticket | None:
        """The waiting ticket of ``service`` issued first (whose citizen has waited longest)."""
        heads = [q[0] for q in self.queues[service] if q]
        if not heads:
            return None
        return min((self.tickets[tid] for _, tid in heads), key=lambda t: t.issued_at)

    def open_gerai(self, service: str) -> int:
        return sum(1 for g in self.config.gerai_for_service(service) if not self.gerai[g.id].paused)

    def avg_service_minutes(self, service: str) -> float:
        samples = self.stats[service].durations
        if samples:
            return sum(samples) / len(samples) / 60.0
        return self.config.services[service].avg_service_minutes

    def estimate_wait_minutes(self, service: str, ahead: int) -> int | None:
        """Minutes until a ticket with ``ahead`` tickets before it is called.

        The recent mean service time of the service (its configured average
        until citizens have been served today), times the tickets ahead,
        shared by the gerai serving it that are not paused.  ``None`` when
        no gerai serves it now.
        """
        open_count = self.open_gerai(service)
        if open_count == 0:
            return None
        return math.ceil(ahead * self.avg_service_minutes(service) / open_count)

    def ahead_of(self, ticket: Ticket) -> int:
        """Tickets of the same service that a gerai would call before this one."""
        prio, reg = self.queues[ticket.service]
        key = (ticket.order, ticket.id)
        if ticket.is_priority:
            return bisect.bisect_left(prio, key)
        return len(prio) + bisect.bisect_left(reg, key)

    def current_of(self, gerai: str) -> Ticket | None:
        tid = self.gerai[gerai].current
        return self.tickets[tid] if tid else None

    def find(self, number: str) -> Ticket | None:
        tid = self.by_number.get(number)
        return self.tickets.get(tid) if tid else None

    def snapshot(self) -> dict[str, Any]:
        """All state as plain data; equal snapshots mean equal engines."""
        return {
            "day": self.day.isoformat() if self.day else None,
            "next_order": self.next_order,
            "tickets": {tid: _ticket_data(t) for tid, t in sorted(self.tickets.items())},
            "queues": {s: (list(p), list(r)) for s, (p, r) in sorted(self.queues.items())},
            "gerai": {g: vars(s).copy() for g, s in sorted(self.gerai.items())},
            "stats": {
                s: (st.issued, st.served, st.no_show, st.transferred_out, st.voided, list(st.durations))
                for s, st in sorted(self.stats.items())
            },
            "yesterday": dict(self.yesterday),
            "last_issued": dict(sorted(self.last_issued.items())),
            "recent_calls": list(self.recent_calls),
            "issuing_stopped": dict(sorted(self.issuing_stopped.items())),
            "quota_today": dict(sorted(self.quota_today.items())),
            "lobby_message": self.lobby_message,
        }

    # ---------------------------------------------------------------- actions

    def take_ticket(
        self,
        actor: str,
        service: str,
        now: float,
        priority: str = Priority.REGULAR,
        print_ticket: bool = True,
        cmd: str | None = None,
    ) -> Outcome:
        """Issue a ticket for ``service`` (refused outside hours, after
        cut-off, over quota).  Every refusal's detail names the service (``service=<id>``): reports
        count refused tickets per service (antre.central.reports)."""
        out = self._roll(now, actor)
        svc = self.config.services.get(service)
        if svc is None:
            return self._refuse(out, now, actor, cmd, "take_ticket", ResultCode.UNKNOWN_SERVICE, service=service)
        kiosk = self.config.kiosks.get(actor)
        if kiosk is not None and kiosk.services and service not in kiosk.services:
            return self._refuse(out, now, actor, cmd, "take_ticket", ResultCode.SERVICE_NOT_OFFERED, service=service)
        if kiosk is None and actor not in self.config.gerai and actor != "system":
            return self._refuse(out, now, actor, cmd, "take_ticket", ResultCode.UNKNOWN_DEVICE, device=actor)
        verdict = self.config.schedules[service].issue_verdict(self.local(now))
        if not verdict.ok:
            return self._refuse(
                out, now, actor, cmd, "take_ticket", verdict.code,
                opens_at=verdict.opens_at or "", closes_at=verdict.closes_at or "", service=service,
            )
        if service in self.issuing_stopped:
            return self._refuse(out, now, actor, cmd, "take_ticket", ResultCode.ISSUING_STOPPED,
                                service_name=svc.name, service=service)
        quota = self.quota_of(service)
        if quota is not None and self.quota_used(service) >= quota:
            return self._refuse(
                out, now, actor, cmd, "take_ticket", ResultCode.QUOTA_EXHAUSTED,
                service_name=svc.name, quota=str(quota), service=service,
            )
        if priority not in Priority.__members__.values():
            priority = Priority.REGULAR
        seq = self.stats[service].issued + 1
        number = f"{svc.prefix}{seq:0{svc.padding}d}"
        assert self.day is not None
        ticket_id = f"{self.day:%Y%m%d}-{number}"
        event = ev.TicketIssued(
            ts=now, actor=actor, cmd=cmd, ticket_id=ticket_id, number=number,
            service=service, seq=seq, priority=priority,  # type: ignore[arg-type]
            print=print_ticket,
        )
        self.apply(event)
        out.append(event)
        ticket = self.tickets[ticket_id]
        return Outcome(Result(True, ResultCode.ISSUED, ticket, {"ticket": number, "service_name": svc.name}), out)

    def call_next(self, gerai: str, now: float, complete_current: bool = True, cmd: str | None = None) -> Outcome:
        """Call the next ticket by the call policy (priority ratio, then oldest
        across the gerai's services, weighted)."""
        out = self._roll(now, gerai)
        refusal = self._check_can_call(out, now, gerai, cmd, "call_next", complete_current)
        if refusal is not None:
            return refusal
        g = self.gerai[gerai]
        conf = self.config.gerai[gerai]
        prio_waiting = any(self.queues[s][0] for s in conf.services)
        reg_waiting = any(self.queues[s][1] for s in conf.services)
        self._finish_current(out, now, gerai, cmd)
        if not prio_waiting and not reg_waiting:
            return Outcome(Result(True, ResultCode.QUEUE_EMPTY), out)
        ratio = self.config.site.priority_ratio
        use_priority, new_pos = choose_class(
            prio_waiting, reg_waiting, g.ratio_pos, ratio.priority, ratio.regular
        )
        heads: dict[str, tuple[int, str]] = {}
        for s in conf.services:
            queue = self.queues[s][0 if use_priority else 1]
            if queue:
                heads[s] = queue[0]
        if conf.order == "listed":
            service = choose_listed(set(heads), conf.services)
        else:
            service = choose_service(
                {s: self.tickets[tid].issued_at for s, (_, tid) in heads.items()},
                {s: order for s, (order, _) in heads.items()},
                conf.weights,
                now,
            )
        ticket_id = heads[service][1]
        event = ev.TicketCalled(
            ts=now, actor=gerai, cmd=cmd, gerai=gerai, ticket_id=ticket_id, mode="next",
            both_classes=prio_waiting and reg_waiting, ratio_pos=new_pos,
        )
        self.apply(event)
        out.append(event)
        ticket = self.tickets[ticket_id]
        return Outcome(Result(True, ResultCode.CALLED, ticket, {"ticket": ticket.number}), out)

    def call_ticket(
        self, gerai: str, number: str, reason: str, now: float,
        complete_current: bool = True, cmd: str | None = None,
    ) -> Outcome:
        """Call a specific waiting ticket out of order; ``reason`` is required."""
        out = self._roll(now, gerai)
        if len(reason.strip()) < 3:
            return self._refuse(out, now, gerai, cmd, "call_ticket", ResultCode.REASON_REQUIRED)
        refusal = self._check_can_call(out, now, gerai, cmd, "call_ticket", complete_current)
        if refusal is not None:
            return refusal
        ticket = self.find(number)
        if ticket is None:
            return self._refuse(out, now, gerai, cmd, "call_ticket", ResultCode.UNKNOWN_TICKET, ticket=number)
        if ticket.status is not Status.WAITING:
            return self._refuse(out, now, gerai, cmd, "call_ticket", ResultCode.TICKET_NOT_WAITING, ticket=number)
        if ticket.service not in self.config.gerai[gerai].services:
            return self._refuse(out, now, gerai, cmd, "call_ticket", ResultCode.NOT_SERVED_HERE, ticket=number)
        self._finish_current(out, now, gerai, cmd)
        event = ev.TicketCalled(
            ts=now, actor=gerai, cmd=cmd, gerai=gerai, ticket_id=ticket.id, mode="out_of_order",
            reason=reason.strip(), ratio_pos=self.gerai[gerai].ratio_pos,
        )
        self.apply(event)
        out.append(event)
        return Outcome(Result(True, ResultCode.CALLED, ticket, {"ticket": ticket.number}), out)

    def recall(
        self, gerai: str, now: float, number: str | None = None,
        complete_current: bool = True, cmd: str | None = None,
    ) -> Outcome:
        """Call the held ticket again, or (with ``number``) a recent no-show."""
        out = self._roll(now, gerai)
        if gerai not in self.config.gerai:
            return self._refuse(out, now, gerai, cmd, "recall", ResultCode.UNKNOWN_DEVICE, device=gerai)
        current = self.current_of(gerai)
        if number is None or (current is not None and current.number == number):
            if current is None:
                return self._refuse(out, now, gerai, cmd, "recall", ResultCode.NO_CURRENT)
            event: ev.AnyEvent = ev.TicketRecalled(ts=now, actor=gerai, cmd=cmd, gerai=gerai, ticket_id=current.id)
            self.apply(event)
            out.append(event)
            return Outcome(Result(True, ResultCode.RECALLED, current, {"ticket": current.number}), out)
        refusal = self._check_can_call(out, now, gerai, cmd, "recall", complete_current)
        if refusal is not None:
            return refusal
        ticket = self.find(number)
        if ticket is None:
            return self._refuse(out, now, gerai, cmd, "recall", ResultCode.UNKNOWN_TICKET, ticket=number)
        if ticket.status is not Status.NO_SHOW:
            return self._refuse(out, now, gerai, cmd, "recall", ResultCode.NOT_NO_SHOW, ticket=number)
        if ticket.service not in self.config.gerai[gerai].services:
            return self._refuse(out, now, gerai, cmd, "recall", ResultCode.NOT_SERVED_HERE, ticket=number)
        window = self.config.site.no_show_recall_minutes
        assert ticket.no_show_at is not None
        if now - ticket.no_show_at > window * 60:
            return self._refuse(
                out, now, gerai, cmd, "recall", ResultCode.RECALL_WINDOW_PASSED, ticket=number, minutes=str(window)
            )
        self._finish_current(out, now, gerai, cmd)
        event = ev.TicketCalled(
            ts=now, actor=gerai, cmd=cmd, gerai=gerai, ticket_id=ticket.id, mode="recall_no_show",
            reason="recall after no-show", ratio_pos=self.gerai[gerai].ratio_pos,
        )
        self.apply(event)
        out.append(event)
        return Outcome(Result(True, ResultCode.RECALLED, ticket, {"ticket": ticket.number}), out)

    def done(self, gerai: str, now: float, cmd: str | None = None) -> Outcome:
        return self._close_current(gerai, now, cmd, "done")

    def no_show(self, gerai: str, now: float, cmd: str | None = None) -> Outcome:
        return self._close_current(gerai, now, cmd, "no_show")

    def transfer(self, gerai: str, service: str, now: float, note: str = "", cmd: str | None = None) -> Outcome:
        """Send the held ticket to ``service``; it keeps its number, issue
        order and priority, so it waits no longer than it would have."""
        out = self._roll(now, gerai)
        if gerai not in self.config.gerai:
            return self._refuse(out, now, gerai, cmd, "transfer", ResultCode.UNKNOWN_DEVICE, device=gerai)
        current = self.current_of(gerai)
        if current is None:
            return self._refuse(out, now, gerai, cmd, "transfer", ResultCode.NO_CURRENT)
        svc = self.config.services.get(service)
        if svc is None:
            return self._refuse(out, now, gerai, cmd, "transfer", ResultCode.UNKNOWN_SERVICE, service=service)
        if service == current.service:
            return self._refuse(out, now, gerai, cmd, "transfer", ResultCode.SAME_SERVICE, ticket=current.number)
        event = ev.TicketTransferred(
            ts=now, actor=gerai, cmd=cmd, gerai=gerai, ticket_id=current.id, to_service=service, note=note
        )
        self.apply(event)
        out.append(event)
        return Outcome(
            Result(True, ResultCode.TRANSFERRED, current, {"ticket": current.number, "service_name": svc.name}), out
        )

    def pause(self, gerai: str, reason: str, now: float, cmd: str | None = None) -> Outcome:
        out = self._roll(now, gerai)
        if gerai not in self.config.gerai:
            return self._refuse(out, now, gerai, cmd, "pause", ResultCode.UNKNOWN_DEVICE, device=gerai)
        if len(reason.strip()) < 3:
            return self._refuse(out, now, gerai, cmd, "pause", ResultCode.REASON_REQUIRED)
        g = self.gerai[gerai]
        if g.paused:
            return self._refuse(out, now, gerai, cmd, "pause", ResultCode.GERAI_PAUSED)
        if g.current is not None:
            return self._refuse(out, now, gerai, cmd, "pause", ResultCode.GERAI_BUSY, ticket=self.tickets[g.current].number)
        event = ev.GeraiPaused(ts=now, actor=gerai, cmd=cmd, gerai=gerai, reason=reason.strip())
        self.apply(event)
        out.append(event)
        return Outcome(Result(True, ResultCode.PAUSED, None, {"reason": reason.strip()}), out)

    def resume(self, gerai: str, now: float, cmd: str | None = None) -> Outcome:
        out = self._roll(now, gerai)
        if gerai not in self.config.gerai:
            return self._refuse(out, now, gerai, cmd, "resume", ResultCode.UNKNOWN_DEVICE, device=gerai)
        if not self.gerai[gerai].paused:
            return self._refuse(out, now, gerai, cmd, "resume", ResultCode.NOT_PAUSED)
        event = ev.GeraiResumed(ts=now, actor=gerai, cmd=cmd, gerai=gerai)
        self.apply(event)
        out.append(event)
        return Outcome(Result(True, ResultCode.RESUMED), out)

    def print_ack(
        self, actor: str, ticket_id: str, ok: bool, status: str, now: float,
        detail: str = "", cmd: str | None = None,
    ) -> Outcome:
        """Record a print result.  A failed print never loses the ticket: it stops waiting (nobody
        holds it, so it is neither called nor counted ahead of anyone) until a reprint is
        acknowledged, or it is voided."""
        out = self._roll(now, actor)
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return self._refuse(out, now, actor, cmd, "print_ack", ResultCode.UNKNOWN_JOB, job=ticket_id)
        event = ev.PrintAcked(ts=now, actor=actor, cmd=cmd, ticket_id=ticket_id, ok=ok, status=status, detail=detail)
        self.apply(event)
        out.append(event)
        return Outcome(Result(True, ResultCode.PRINT_RECORDED, ticket, {"ticket": ticket.number}), out)

    def void_ticket(self, actor: str, number: str, reason: str, now: float, cmd: str | None = None) -> Outcome:
        """Void a ticket nobody holds (its print failed): out of the queue, its quota place back,
        its number never issued again; ``reason`` goes into the audit trail."""
        out = self._roll(now, actor)
        if len(reason.strip()) < 3:
            return self._refuse(out, now, actor, cmd, "void_ticket", ResultCode.REASON_REQUIRED)
        ticket, refusal = self._own_ticket(out, now, actor, cmd, "void_ticket", number)
        if ticket is None:
            assert refusal is not None
            return refusal
        if (ticket.status not in (Status.WAITING, Status.UNPRINTED) or ticket.print_status == "printed"
                or ticket.announced):
            return self._refuse(out, now, actor, cmd, "void_ticket", ResultCode.NOT_VOIDABLE, ticket=number,
                                status=ticket.status.value, print=ticket.print_status)
        event = ev.TicketVoided(ts=now, actor=actor, cmd=cmd, ticket_id=ticket.id, reason=reason.strip())
        self.apply(event)
        out.append(event)
        return Outcome(Result(True, ResultCode.VOIDED, ticket, {"ticket": ticket.number, "reason": reason.strip()}),
                       out)

    def reprint(self, actor: str, number: str | None, now: float, cmd: str | None = None) -> Outcome:
        """Print a ticket again on ``actor``'s printer: ``number``, or the last one ``actor`` issued
        today.  Nobody moves; a ticket whose print had failed waits again once this print is
        acknowledged."""
        out = self._roll(now, actor)
        if number is None:
            tid = self.last_issued.get(actor)
            if tid is None:
                return self._refuse(out, now, actor, cmd, "reprint", ResultCode.UNKNOWN_TICKET, ticket="-")
            number = self.tickets[tid].number
        ticket, refusal = self._own_ticket(out, now, actor, cmd, "reprint", number)
        if ticket is None:
            assert refusal is not None
            return refusal
        if ticket.status not in (Status.WAITING, Status.UNPRINTED, Status.CALLED):
            return self._refuse(out, now, actor, cmd, "reprint", ResultCode.TICKET_NOT_WAITING, ticket=number)
        if (actor in self.config.gerai and actor != ticket.issuer and ticket.status is not Status.UNPRINTED
                and self.gerai[actor].current != ticket.id):
            # a second paper of a waiting citizen's number would put two in one place of the queue
            return self._refuse(out, now, actor, cmd, "reprint", ResultCode.NOT_REPRINTABLE, ticket=number)
        event = ev.TicketReprinted(ts=now, actor=actor, cmd=cmd, ticket_id=ticket.id)
        self.apply(event)
        out.append(event)
        return Outcome(Result(True, ResultCode.REPRINTED, ticket, {"ticket": ticket.number}), out)

    def _own_ticket(
        self, out: list[ev.AnyEvent], now: float, actor: str, cmd: str | None, action: str, number: str
    ) -> tuple[Ticket | None, Outcome | None]:
        """The ticket ``number`` if ``actor`` may act on it: the device that issued it, a gerai
        serving its service, or the system."""
        ticket = self.find(number)
        if ticket is None:
            return None, self._refuse(out, now, actor, cmd, action, ResultCode.UNKNOWN_TICKET, ticket=number)
        gerai = self.config.gerai.get(actor)
        if actor in (ticket.issuer, "system") or (gerai is not None and ticket.service in gerai.services):
            return ticket, None
        if gerai is not None:
            return None, self._refuse(out, now, actor, cmd, action, ResultCode.NOT_SERVED_HERE, ticket=number)
        return None, self._refuse(out, now, actor, cmd, action, ResultCode.NOT_ALLOWED, command=action)

    # ------------------------------------------------ day control (operations console)

    def stop_issuing(self, actor: str, service: str, reason: str, now: float, cmd: str | None = None) -> Outcome:
        """No more tickets today for ``service``; who already waits is still served."""
        out = self._roll(now, actor)
        svc = self.config.services.get(service)
        if svc is None:
            return self._refuse(out, now, actor, cmd, "stop_issuing", ResultCode.UNKNOWN_SERVICE, service=service)
        if len(reason.strip()) < 3:
            return self._refuse(out, now, actor, cmd, "stop_issuing", ResultCode.REASON_REQUIRED)
        if service in self.issuing_stopped:
            return self._refuse(out, now, actor, cmd, "stop_issuing", ResultCode.ISSUING_STOPPED,
                                service_name=svc.name)
        event = ev.IssuingStopped(ts=now, actor=actor, cmd=cmd, service=service, reason=reason.strip())
        self.apply(event)
        out.append(event)
        return Outcome(Result(True, ResultCode.STOPPED, None, {"service_name": svc.name}), out)

    def resume_issuing(self, actor: str, service: str, now: float, cmd: str | None = None) -> Outcome:
        out = self._roll(now, actor)
        svc = self.config.services.get(service)
        if svc is None:
            return self._refuse(out, now, actor, cmd, "resume_issuing", ResultCode.UNKNOWN_SERVICE, service=service)
        if service not in self.issuing_stopped:
            return self._refuse(out, now, actor, cmd, "resume_issuing", ResultCode.NOT_STOPPED,
                                service_name=svc.name)
        event = ev.IssuingResumed(ts=now, actor=actor, cmd=cmd, service=service)
        self.apply(event)
        out.append(event)
        return Outcome(Result(True, ResultCode.ISSUING_RESUMED, None, {"service_name": svc.name}), out)

    def set_quota(self, actor: str, service: str, quota: int | None, now: float, cmd: str | None = None) -> Outcome:
        """Today's quota of ``service`` (None: back to the site file's)."""
        out = self._roll(now, actor)
        svc = self.config.services.get(service)
        if svc is None:
            return self._refuse(out, now, actor, cmd, "set_quota", ResultCode.UNKNOWN_SERVICE, service=service)
        event = ev.QuotaSet(ts=now, actor=actor, cmd=cmd, service=service, quota=quota)
        self.apply(event)
        out.append(event)
        shown = self.quota_of(service)
        return Outcome(Result(True, ResultCode.QUOTA_SET, None, {
            "service_name": svc.name, "quota": "tanpa batas" if shown is None else str(shown)}), out)

    def set_lobby_message(self, actor: str, text: str, now: float, cmd: str | None = None) -> Outcome:
        out = self._roll(now, actor)
        event = ev.LobbyMessageSet(ts=now, actor=actor, cmd=cmd, text=text.strip())
        self.apply(event)
        out.append(event)
        return Outcome(Result(True, ResultCode.MESSAGE_SET), out)

    def capacity_left(self, service: str, now: float) -> int | None:
        """How many more tickets of ``service`` its open gerai can still serve today after those
        waiting (from the recent service time, the open gerai and the end of today's last window);
        None when no gerai serves it now.  Negative: some who wait now will not be served."""
        open_count = self.open_gerai(service)
        if open_count == 0:
            return None
        local = self.local(now)
        windows = self.config.schedules[service].windows(local.date())
        minute = local.hour * 60 + local.minute + local.second / 60
        left = max(0.0, windows[-1].end - minute) if windows else 0.0
        # at least a minute a citizen: a few instant services (a test, a mistaken press) must not promise thousands
        servable = int(left * open_count / max(1.0, self.avg_service_minutes(service)))
        return servable - self.waiting_in(service)

    def refuse(
        self, actor: str, action: str, code: ResultCode, now: float, cmd: str | None = None, **params: str
    ) -> Outcome:
        """Record a request refused before it reached an action (e.g. not allowed for the role)."""
        return self._refuse(self._roll(now, actor), now, actor, cmd, action, code, **params)

    # ------------------------------------------------------------- helpers

    def _refuse(
        self, out: list[ev.AnyEvent], now: float, actor: str, cmd: str | None, action: str, code: ResultCode,
        **params: str,
    ) -> Outcome:
        detail = ";".join(f"{k}={v}" for k, v in sorted(params.items()) if v)
        event = ev.CommandRefused(ts=now, actor=actor, cmd=cmd, action=action, code=code, detail=detail)
        self.apply(event)
        out.append(event)
        return Outcome(Result(False, code, None, dict(params)), out)

    def _check_can_call(
        self, out: list[ev.AnyEvent], now: float, gerai: str, cmd: str | None, action: str, complete_current: bool
    ) -> Outcome | None:
        if gerai not in self.config.gerai:
            return self._refuse(out, now, gerai, cmd, action, ResultCode.UNKNOWN_DEVICE, device=gerai)
        g = self.gerai[gerai]
        if g.paused:
            return self._refuse(out, now, gerai, cmd, action, ResultCode.GERAI_PAUSED)
        if not self.config.site.calls_during_breaks:
            brk = self.config.site_schedule.break_at(self.local(now))
            if brk is not None:
                return self._refuse(out, now, gerai, cmd, action, ResultCode.ON_BREAK, opens_at=f"{brk.end // 60:02d}:{brk.end % 60:02d}")
        if g.current is not None and not complete_current:
            return self._refuse(out, now, gerai, cmd, action, ResultCode.GERAI_BUSY, ticket=self.tickets[g.current].number)
        return None

    def _finish_current(self, out: list[ev.AnyEvent], now: float, gerai: str, cmd: str | None) -> None:
        current = self.gerai[gerai].current
        if current is not None:
            event = ev.TicketServed(ts=now, actor=gerai, cmd=cmd, gerai=gerai, ticket_id=current)
            self.apply(event)
            out.append(event)

    def _close_current(self, gerai: str, now: float, cmd: str | None, how: str) -> Outcome:
        out = self._roll(now, gerai)
        if gerai not in self.config.gerai:
            return self._refuse(out, now, gerai, cmd, how, ResultCode.UNKNOWN_DEVICE, device=gerai)
        current = self.current_of(gerai)
        if current is None:
            return self._refuse(out, now, gerai, cmd, how, ResultCode.NO_CURRENT)
        event: ev.AnyEvent
        if how == "done":
            event = ev.TicketServed(ts=now, actor=gerai, cmd=cmd, gerai=gerai, ticket_id=current.id)
            code = ResultCode.SERVED
        else:
            event = ev.TicketNoShow(ts=now, actor=gerai, cmd=cmd, gerai=gerai, ticket_id=current.id)
            code = ResultCode.NO_SHOW_MARKED
        self.apply(event)
        out.append(event)
        return Outcome(Result(True, code, current, {"ticket": current.number}), out)

    # ----------------------------------------------------------------- apply

    def _enqueue(self, ticket: Ticket) -> None:
        queue = self.queues[ticket.service][0 if ticket.is_priority else 1]
        bisect.insort(queue, (ticket.order, ticket.id))

    def _dequeue(self, ticket: Ticket) -> None:
        queue = self.queues[ticket.service][0 if ticket.is_priority else 1]
        i = bisect.bisect_left(queue, (ticket.order, ticket.id))
        if i < len(queue) and queue[i][1] == ticket.id:
            del queue[i]

    def apply(self, event: ev.AnyEvent) -> None:
        """Apply one event of the log to the state.  Deterministic."""
        match event:
            case ev.DayOpened(day=day):
                self.yesterday = dict(event.closed)
                self._reset_day(dt.date.fromisoformat(day))
            case ev.TicketIssued():
                ticket = Ticket(
                    id=event.ticket_id, number=event.number, service=event.service,
                    origin_service=event.service, seq=event.seq, priority=event.priority,
                    order=self.next_order, issued_at=event.ts,
                    print_status="pending" if event.print else "none", issuer=event.actor,
                )
                self.next_order += 1
                self.tickets[ticket.id] = ticket
                self.last_issued[event.actor] = ticket.id
                self.by_number[ticket.number] = ticket.id
                self.stats[ticket.service].issued += 1
                self._enqueue(ticket)
            case ev.TicketCalled():
                ticket = self.tickets[event.ticket_id]
                if ticket.status is Status.WAITING:
                    self._dequeue(ticket)
                elif ticket.status is Status.NO_SHOW:
                    self.stats[ticket.service].no_show -= 1
                ticket.status = Status.CALLED
                ticket.gerai = event.gerai
                ticket.called_at = event.ts
                ticket.no_show_at = None
                ticket.announced += 1
                g = self.gerai[event.gerai]
                g.current = ticket.id
                g.ratio_pos = event.ratio_pos
                g.calls += 1
                self.recent_calls.append(Call(ticket.id, event.gerai, event.ts, event.mode == "recall_no_show"))
            case ev.TicketRecalled():
                self.tickets[event.ticket_id].recalls += 1
                self.tickets[event.ticket_id].announced += 1
                self.recent_calls.append(Call(event.ticket_id, event.gerai, event.ts, True))
            case ev.TicketServed():
                ticket = self.tickets[event.ticket_id]
                ticket.status = Status.SERVED
                ticket.finished_at = event.ts
                self.gerai[event.gerai].current = None
                stats = self.stats[ticket.service]
                stats.served += 1
                if ticket.called_at is not None:
                    stats.durations.append(max(0.0, event.ts - ticket.called_at))
            case ev.TicketNoShow():
                ticket = self.tickets[event.ticket_id]
                ticket.status = Status.NO_SHOW
                ticket.no_show_at = event.ts
                ticket.finished_at = event.ts
                self.gerai[event.gerai].current = None
                self.stats[ticket.service].no_show += 1
            case ev.TicketTransferred():
                ticket = self.tickets[event.ticket_id]
                self.gerai[event.gerai].current = None
                self.stats[ticket.service].transferred_out += 1
                ticket.service = event.to_service
                ticket.status = Status.WAITING
                ticket.gerai = None
                ticket.called_at = None
                ticket.transfers += 1
                self._enqueue(ticket)
            case ev.GeraiPaused():
                g = self.gerai[event.gerai]
                g.paused, g.pause_reason = True, event.reason
            case ev.GeraiResumed():
                g = self.gerai[event.gerai]
                g.paused, g.pause_reason = False, ""
                g.ratio_pos = 0
            case ev.PrintAcked():
                ticket = self.tickets[event.ticket_id]
                if event.ok:
                    ticket.print_status = "printed"
                    if ticket.status is Status.UNPRINTED:  # printed at last: it waits in its place
                        ticket.status = Status.WAITING
                        self._enqueue(ticket)
                elif ticket.print_status != "printed" and event.actor == ticket.issuer:
                    # Only the issuer's failed print strands a ticket: a failed reprint elsewhere (a
                    # counter's printer at staff's request) leaves it as it was, and one after a
                    # good print changes nothing (the citizen holds the first).
                    ticket.print_status = "failed"
                    if ticket.status is Status.WAITING and not ticket.announced:  # nobody holds it
                        self._dequeue(ticket)
                        ticket.status = Status.UNPRINTED
            case ev.TicketVoided():
                ticket = self.tickets[event.ticket_id]
                if ticket.status is Status.WAITING:
                    self._dequeue(ticket)
                ticket.status = Status.VOIDED
                ticket.finished_at = event.ts
                self.stats[ticket.origin_service].voided += 1
            case ev.TicketReprinted():
                pass
            case ev.CommandRefused():
                pass
            case ev.IssuingStopped():
                self.issuing_stopped[event.service] = event.reason
            case ev.IssuingResumed():
                self.issuing_stopped.pop(event.service, None)
            case ev.QuotaSet():
                if event.quota is None:
                    self.quota_today.pop(event.service, None)
                else:
                    self.quota_today[event.service] = event.quota
            case ev.LobbyMessageSet():
                self.lobby_message = event.text


def _ticket_data(t: Ticket) -> dict[str, Any]:
    data = vars(t).copy()
    data["status"] = t.status.value
    return data
