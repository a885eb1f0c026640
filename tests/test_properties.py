"""Property-based (stateful) tests of the queue invariants.

Hypothesis drives random sequences of every action over four gerai and three
services (with priorities, transfers, out-of-order calls, pauses, no-shows and
their recalls, print results, redelivered commands, midnight, crashes before
and after commits) through the durable queue service, and checks after every
step that:

* no ticket is ever lost: each is waiting, called, served, no-show, unprinted
  (its print failed: kept, not waiting), voided or (after midnight) expired,
  and the closed day's counts add up to what was issued;
* no ticket is held by two gerai, and every called ticket is held by its gerai;
* within a priority class and service, ``call_next`` takes tickets in issue order;
* the priority ratio holds: while both classes wait, no more than ``priority``
  priority calls and no more than ``regular`` regular calls in a row, and
  priority first after the cycle restarts;
* numbers are unique per service per day and run 1..n;
* a redelivered command changes nothing and returns the original reply;
* replaying the log after a crash at any point gives the same state, and a
  batch whose commit failed leaves no trace.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from antre.broker.wire import messages as m
from antre.central.config import parse_site
from antre.central.engine import Status
from antre.central.service import REPLY_RETENTION_S, Handled, QueueService
from antre.central.store import EventStore, StorageError
from tests.conftest import SMALL_SITE, at

CONFIG = parse_site(SMALL_SITE, "small.toml")
GERAI = sorted(CONFIG.gerai)
SERVICES = sorted(CONFIG.services)
PRIORITIES = ["regular", "regular", "regular", "elderly", "disabled", "pregnant", "child"]
RATIO_P = CONFIG.site.priority_ratio.priority
RATIO_R = CONFIG.site.priority_ratio.regular


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="antre-prop-"))
        self.db = self.dir / "log.db"
        self.now = at(dt.date(2023, 11, 16), 7, 30)
        self.service = self._open()
        self.seq = 0
        self.sent: list[tuple[str, str, m.AnyCommand, m.Reply, float]] = []
        self.issued_today: dict[str, str] = {}  # ticket id -> number
        self.day: dt.date | None = None
        # ratio bookkeeping per gerai: (priority run, regular run, cycle fresh)
        self.runs: dict[str, tuple[int, int, bool]] = {g: (0, 0, True) for g in GERAI}

    def _open(self) -> QueueService:
        return QueueService.open(CONFIG, EventStore(self.db, "test", "off"), self.now)

    def teardown(self) -> None:
        self.check_replay()
        self.service.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---------------------------------------------------------------- helpers

    def send(self, role: str, device: str, make: Any) -> Handled:
        self.seq += 1
        cmd = make(f"h-{self.seq:08d}")
        before_day = self.service.engine.day
        handled = self.service.handle(role, device, cmd, self.now)
        self.sent.append((role, device, cmd, handled.reply, self.now))
        self._after(handled, before_day)
        return handled

    def _after(self, handled: Handled, before_day: dt.date | None) -> None:
        engine = self.service.engine
        if engine.day != before_day:
            if before_day is not None:
                closed = engine.yesterday
                assert sum(closed.values()) == len(self.issued_today), (closed, len(self.issued_today))
            self.issued_today = {}
            self.runs = {g: (0, 0, True) for g in GERAI}
        for event in handled.events:
            if type(event).__name__ == "TicketIssued":
                self.issued_today[event.ticket_id] = event.number  # type: ignore[union-attr]

    def waiting(self) -> list[Any]:
        return [t for t in self.service.engine.tickets.values() if t.status is Status.WAITING]

    # ------------------------------------------------------------------ rules

    @rule(seconds=st.integers(1, 900))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds

    @rule(hours=st.integers(3, 20))
    def night_falls(self, hours: int) -> None:
        self.now += hours * 3600
        before = self.service.engine.day
        h = self.service.tick(self.now)
        if h is not None:
            self._after(h, before)

    @rule(service=st.sampled_from(SERVICES), priority=st.sampled_from(PRIORITIES), printed=st.booleans())
    def take_ticket(self, service: str, priority: str, printed: bool) -> None:
        h = self.send("kiosk", "k1", lambda cid: m.TakeTicket(id=cid, service=service, priority=priority,  # type: ignore[arg-type]
                                                                print=printed))
        assert h.reply.ok or h.reply.code == "quota_exhausted", h.reply
        assert len(h.print_jobs) == (1 if h.reply.ok and printed else 0)

    @rule(gerai=st.sampled_from(GERAI), complete=st.booleans())
    def call_next(self, gerai: str, complete: bool) -> None:
        before = self.service.engine.day
        opened = self.service.tick(self.now)  # a pending midnight first, so "waiting" below is today's
        if opened is not None:
            self._after(opened, before)
        engine = self.service.engine
        services = CONFIG.gerai[gerai].services
        waiting = [t for t in self.waiting() if t.service in services]
        prio_waiting = any(t.is_priority for t in waiting)
        reg_waiting = any(not t.is_priority for t in waiting)
        g = engine.gerai[gerai]
        held = g.current
        paused = g.paused
        h = self.send("gerai", gerai, lambda cid: m.CallNext(id=cid, complete_current=complete))
        if paused:
            assert h.reply.code == "gerai_paused"
            return
        if held is not None and not complete:
            assert h.reply.code == "gerai_busy"
            assert engine.gerai[gerai].current == held
            return
        if not waiting:
            assert h.reply.code == "queue_empty"
            return
        assert h.reply.code == "called", h.reply
        ticket = engine.find(h.reply.ticket or "")
        assert ticket is not None and ticket.gerai == gerai
        # issue order within the class and service
        same = [t for t in waiting if t.service == ticket.service and t.is_priority == ticket.is_priority]
        assert ticket.order == min(t.order for t in same)
        # the ratio rule
        prun, rrun, fresh = self.runs[gerai]
        if prio_waiting and reg_waiting:
            if fresh:
                assert ticket.is_priority, "priority first when the cycle restarts"
            if ticket.is_priority:
                prun, rrun = prun + 1, 0
                assert prun <= RATIO_P
            else:
                prun, rrun = 0, rrun + 1
                assert rrun <= RATIO_R
            self.runs[gerai] = (prun, rrun, False)
        else:
            assert ticket.is_priority == prio_waiting
            self.runs[gerai] = (0, 0, True)

    @rule(gerai=st.sampled_from(GERAI))
    def recall(self, gerai: str) -> None:
        held = self.service.engine.gerai[gerai].current
        queues = self.service.engine.snapshot()["queues"]
        h = self.send("gerai", gerai, lambda cid: m.Recall(id=cid))
        if held is not None and self.service.engine.gerai[gerai].current == held:
            assert h.reply.code == "recalled" and len(h.announcements) == 1
            assert self.service.engine.snapshot()["queues"] == queues  # nobody moves

    @rule(gerai=st.sampled_from(GERAI), pick=st.integers(0, 50))
    def recall_no_show(self, gerai: str, pick: int) -> None:
        no_shows = [t for t in self.service.engine.tickets.values() if t.status is Status.NO_SHOW]
        number = no_shows[pick % len(no_shows)].number if no_shows else "A999"
        self.send("gerai", gerai, lambda cid: m.Recall(id=cid, ticket=number))

    @rule(gerai=st.sampled_from(GERAI))
    def done(self, gerai: str) -> None:
        self.send("gerai", gerai, lambda cid: m.Done(id=cid))

    @rule(gerai=st.sampled_from(GERAI))
    def no_show(self, gerai: str) -> None:
        self.send("gerai", gerai, lambda cid: m.NoShow(id=cid))

    @rule(gerai=st.sampled_from(GERAI), service=st.sampled_from(SERVICES))
    def transfer(self, gerai: str, service: str) -> None:
        held = self.service.engine.current_of(gerai)
        before = (held.order, held.priority, held.number) if held else None
        h = self.send("gerai", gerai, lambda cid: m.Transfer(id=cid, service=service))
        if h.reply.code == "transferred":
            ticket = self.service.engine.find(h.reply.ticket or "")
            assert ticket is not None and ticket.status is Status.WAITING and ticket.service == service
            assert (ticket.order, ticket.priority, ticket.number) == before

    @rule(gerai=st.sampled_from(GERAI), pick=st.integers(0, 50), with_reason=st.booleans())
    def call_out_of_order(self, gerai: str, pick: int, with_reason: bool) -> None:
        waiting = self.waiting()
        number = waiting[pick % len(waiting)].number if waiting else "A999"
        reason = "berkas susulan" if with_reason else "   "
        h = self.send("gerai", gerai, lambda cid: m.CallTicket(id=cid, ticket=number, reason=reason))
        if not with_reason:
            assert h.reply.code in ("reason_required", "gerai_paused")

    @rule(gerai=st.sampled_from(GERAI))
    def pause(self, gerai: str) -> None:
        self.send("gerai", gerai, lambda cid: m.Pause(id=cid, reason="sholat"))

    @rule(gerai=st.sampled_from(GERAI))
    def resume(self, gerai: str) -> None:
        h = self.send("gerai", gerai, lambda cid: m.Resume(id=cid))
        if h.reply.ok:
            self.runs[gerai] = (0, 0, True)

    @rule(pick=st.integers(0, 50), ok=st.booleans())
    def print_result(self, pick: int, ok: bool) -> None:
        tickets = sorted(self.service.engine.tickets)
        if not tickets:
            return
        tid = tickets[pick % len(tickets)]
        t = self.service.engine.tickets[tid]
        status_before, printed_before = t.status, t.print_status
        self.send("kiosk", "k1", lambda cid: m.PrintAck(id=cid, job=f"p-{tid}", ok=ok,
                                                         status="ok" if ok else "paper_out"))
        if tid not in self.service.engine.tickets:
            return
        t = self.service.engine.tickets[tid]
        if ok and status_before is Status.UNPRINTED:
            assert t.status is Status.WAITING  # printed at last: it waits in its own place
        elif (not ok and status_before is Status.WAITING and printed_before != "printed"
              and not t.announced):
            assert t.status is Status.UNPRINTED  # nobody holds it: it does not wait
        else:
            assert t.status is status_before  # otherwise printing never moves a ticket

    @rule(pick=st.integers(0, 50), device=st.sampled_from(["k1", "g1", "g4"]))
    def void(self, pick: int, device: str) -> None:
        tickets = sorted(self.service.engine.tickets)
        if not tickets:
            return
        t = self.service.engine.tickets[tickets[pick % len(tickets)]]
        voidable = (t.status in (Status.WAITING, Status.UNPRINTED) and t.print_status != "printed"
                    and not t.announced)
        used = self.service.engine.quota_used(t.origin_service)
        role = "kiosk" if device == "k1" else "gerai"
        h = self.send(role, device, lambda cid: m.VoidTicket(id=cid, ticket=t.number, reason="warga pulang"))
        if h.reply.code == "voided":
            assert voidable and t.status is Status.VOIDED
            assert self.service.engine.quota_used(t.origin_service) == used - 1
        elif device == "k1":  # k1 issued every ticket
            assert not voidable and h.reply.code == "not_voidable", h.reply

    @rule(pick=st.integers(0, 50))
    def reprint(self, pick: int) -> None:
        tickets = sorted(self.service.engine.tickets)
        number = self.service.engine.tickets[tickets[pick % len(tickets)]].number if tickets else None
        queues = self.service.engine.snapshot()["queues"]
        h = self.send("kiosk", "k1", lambda cid: m.Reprint(id=cid, ticket=number))
        assert len(h.print_jobs) == (1 if h.reply.code == "reprinted" else 0)
        if h.reply.code == "reprinted":
            assert self.service.engine.snapshot()["queues"] == queues  # nobody moves

    @precondition(lambda self: any(sent[4] >= self.now - REPLY_RETENTION_S for sent in self.sent))
    @rule(pick=st.integers(0, 10_000))
    def redeliver(self, pick: int) -> None:
        """A command redelivered within the retention window (two days) has no second effect."""
        recent = [sent for sent in self.sent if sent[4] >= self.now - REPLY_RETENTION_S]
        role, device, cmd, reply, _ = recent[pick % len(recent)]
        before = self.service.engine.snapshot()
        h = self.service.handle(role, device, cmd, self.now)
        assert h.duplicate and h.reply == reply and not h.events
        assert self.service.engine.snapshot() == before

    @rule()
    def crash_and_restart(self) -> None:
        self.check_replay()

    @rule(gerai=st.sampled_from(GERAI), service=st.sampled_from(SERVICES))
    def power_cut_during_commit(self, gerai: str, service: str) -> None:
        """A batch whose commit fails is not acknowledged and leaves no trace."""
        committed = self.service.engine.snapshot()
        self.service.store.close()
        self.service = self._open()
        assert self.service.engine.snapshot() == committed
        batch = [
            ("kiosk", "k1", m.TakeTicket(id=f"cut-{self.seq:08d}-a", service=service)),
            ("gerai", gerai, m.CallNext(id=f"cut-{self.seq:08d}-b")),
        ]

        def fail(*_: Any) -> None:
            raise StorageError("simulated power cut")

        self.service.store.append = fail  # type: ignore[method-assign]
        with pytest.raises(StorageError):
            self.service.handle_batch(batch, self.now)
        # the process dies; a new one rebuilds from the log
        self.service.store.close()
        self.service = self._open()
        assert self.service.engine.snapshot() == committed
        assert not any(key.startswith(("kiosk/k1/cut-", f"gerai/{gerai}/cut-")) for key in self.service._replies
                       if key.endswith(f"{self.seq:08d}-a") or key.endswith(f"{self.seq:08d}-b"))

    def check_replay(self) -> None:
        live = self.service.engine.snapshot()
        self.service.store.close()
        self.service = self._open()
        assert self.service.engine.snapshot() == live

    # ------------------------------------------------------------- invariants

    @invariant()
    def no_ticket_is_lost(self) -> None:
        engine = self.service.engine
        for tid, number in self.issued_today.items():
            ticket = engine.tickets.get(tid)
            assert ticket is not None, f"{number} vanished"
            assert ticket.status in (Status.WAITING, Status.CALLED, Status.SERVED, Status.NO_SHOW,
                                     Status.UNPRINTED, Status.VOIDED)
        assert set(engine.tickets) == set(self.issued_today)
        counts = Counter(t.status for t in engine.tickets.values())
        queued = sum(len(p) + len(r) for p, r in engine.queues.values())
        assert counts[Status.WAITING] == queued

    @invariant()
    def no_ticket_is_held_twice(self) -> None:
        engine = self.service.engine
        held = [g.current for g in engine.gerai.values() if g.current is not None]
        assert len(held) == len(set(held))
        for t in engine.tickets.values():
            if t.status is Status.CALLED:
                assert t.gerai is not None and engine.gerai[t.gerai].current == t.id
            else:
                assert t.id not in held

    @invariant()
    def queues_are_sorted_and_consistent(self) -> None:
        engine = self.service.engine
        for service, (prio, reg) in engine.queues.items():
            for queue, is_prio in ((prio, True), (reg, False)):
                assert queue == sorted(queue)
                for _, tid in queue:
                    t = engine.tickets[tid]
                    assert (t.status, t.service, t.is_priority) == (Status.WAITING, service, is_prio)

    @invariant()
    def numbers_are_unique_per_service_and_day(self) -> None:
        engine = self.service.engine
        numbers = [t.number for t in engine.tickets.values()]
        assert len(numbers) == len(set(numbers))
        for sid, svc in CONFIG.services.items():
            seqs = sorted(t.seq for t in engine.tickets.values() if t.origin_service == sid)
            assert seqs == list(range(1, len(seqs) + 1))
            assert all(t.number.startswith(svc.prefix) for t in engine.tickets.values() if t.origin_service == sid)


QueueMachine.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestQueueInvariants = QueueMachine.TestCase
