"""Invariants of reports over random days (hypothesis): whatever the gerai and kiosks do, through
the real engine and log, across midnights, every ticket is accounted for once.

- per service, agency and day: issued + transferred in == served + no-show + transferred out +
  voided + expired + open; for the site, issued == served + no-show + voided + expired + open;
- the rows of every view add up to the summary (the hour view for what has an hour, the gerai
  view for what a gerai did), and so do the days of a period read one by one;
- the engine agrees: each day's closing counts (written when the next day opened) and the last
  day's tickets by status are the report's served, no-show, voided and expired or open;
- every set of durations has min <= median <= p90 <= max.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antre.central import events as ev
from antre.central.archive import archive_dir
from antre.central.engine import Engine, Status
from antre.central.history import History
from antre.central.reports import VIEWS, Durations, Report, Row, build_report
from antre.central.store import EventStore
from tests.conftest import at
from tests.test_reports import site_config

CONFIG = site_config()
SERVICES = ["ktp", "kk", "npwp", "ktp", "kk", "xyz"]
GERAI = list(CONFIG.gerai)
START = at(dt.date(2026, 3, 2), 7, 30)

Op = tuple[str, int, int]
ops = st.lists(st.tuples(
    st.sampled_from(["take", "take", "take", "next", "next", "next", "ticket", "recall", "recall_ns", "noshow",
                     "done", "transfer", "pause", "resume", "printfail", "printok", "void", "quota", "stop",
                     "unstop", "wait", "night"]),
    st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=120)

COUNTS = ("issued", "priority", "served", "no_show", "transferred_out", "transferred_in", "voided", "expired",
          "open", "refused_quota", "refused_cutoff", "refused_stopped", "refused_hours", "refused_other", "calls",
          "out_of_order", "recalls", "no_show_recalls", "target_met", "target_missed", "pauses")
GERAI_COUNTS = ("served", "no_show", "transferred_out", "calls", "out_of_order", "recalls", "no_show_recalls",
                "pauses")


def _play(engine: Engine, store: EventStore, plan: list[Op]) -> float:
    """Apply ``plan`` through the engine, every event into ``store``; returns the last time."""
    t = START
    for kind, a, b in plan:
        t += 5 + (a * 37 + b * 11) % 900
        g = GERAI[a % len(GERAI)]
        service = SERVICES[b % len(SERVICES)]
        tickets = list(engine.tickets.values())
        pick = tickets[b % len(tickets)] if tickets else None
        if kind == "take":
            out = engine.take_ticket("k1", service, t, "elderly" if a % 5 == 0 else "regular")
        elif kind == "next":
            out = engine.call_next(g, t)
        elif kind == "ticket":
            waiting = [x for x in tickets if x.status is Status.WAITING]
            if not waiting:
                continue
            out = engine.call_ticket(g, waiting[b % len(waiting)].number, "alasan uji", t)
        elif kind == "recall":
            out = engine.recall(g, t)
        elif kind == "recall_ns":
            gone = [x for x in tickets if x.status is Status.NO_SHOW]
            if not gone:
                continue
            out = engine.recall(g, t, number=gone[b % len(gone)].number)
        elif kind == "noshow":
            out = engine.no_show(g, t)
        elif kind == "done":
            out = engine.done(g, t)
        elif kind == "transfer":
            out = engine.transfer(g, service if service != "xyz" else "kk", t, note="uji")
        elif kind == "pause":
            out = engine.pause(g, "istirahat", t)
        elif kind == "resume":
            out = engine.resume(g, t)
        elif kind in ("printfail", "printok"):
            if pick is None:
                continue
            out = engine.print_ack("k1", pick.id, kind == "printok", "ok" if kind == "printok" else "paper_out", t)
        elif kind == "void":
            if pick is None:
                continue
            out = engine.void_ticket("k1", pick.number, "kertas habis", t)
        elif kind == "quota":
            out = engine.set_quota("console.main", service if service != "xyz" else "ktp", b % 7 or None, t)
        elif kind == "stop":
            out = engine.stop_issuing("console.main", service if service != "xyz" else "npwp", "penuh", t)
        elif kind == "unstop":
            out = engine.resume_issuing("console.main", service if service != "xyz" else "npwp", t)
        elif kind == "wait":
            t += a * 120
            continue
        else:  # the night: the next day opens at the next action
            t += 12 * 3600 + a * 600
            continue
        store.append(out.events)
    return t


def _sum(rows: list[Row], name: str) -> float:
    return sum(getattr(r, name) for r in rows)


def _check_durations(d: Durations) -> None:
    if d.count == 0:
        assert (d.mean, d.median, d.p90, d.max) == (None, None, None, None)
        return
    assert d.median is not None and d.p90 is not None and d.max is not None and d.mean is not None
    assert 0 <= d.median <= d.p90 <= d.max and d.mean <= d.max + 1e-9


def _check(report: Report) -> None:
    s = report.summary
    assert s.issued == s.served + s.no_show + s.voided + s.expired + s.open
    assert s.transferred_in == s.transferred_out
    for view in ("service", "agency", "day"):
        for r in report.views[view]:
            assert r.issued + r.transferred_in == (r.served + r.no_show + r.transferred_out + r.voided + r.expired
                                                   + r.open), (view, r)
    for view in VIEWS:
        rows = report.views[view]
        # a pause belongs to a gerai and a day, not to a service or an hour
        names = GERAI_COUNTS if view == "gerai" else COUNTS if view == "day" else tuple(
            c for c in COUNTS if c != "pauses")
        for name in names:
            assert _sum(rows, name) == getattr(s, name), (view, name)
        assert sum(r.wait.count for r in rows) == s.wait.count, view
        assert sum(r.service_time.count for r in rows) == s.service_time.count, view
        if view in ("gerai", "day"):
            assert math.isclose(_sum(rows, "pause_s"), s.pause_s, abs_tol=1e-6), view
        for r in rows:
            _check_durations(r.wait)
            _check_durations(r.service_time)
    _check_durations(s.wait)
    _check_durations(s.service_time)
    assert len(report.out_of_order) == s.out_of_order and len(report.pauses) == s.pauses
    assert math.isclose(sum(p.seconds for p in report.pauses), s.pause_s, abs_tol=1e-6)
    assert all(p.seconds >= 0 for p in report.pauses)
    assert s.target_met + s.target_missed <= s.issued + s.transferred_in - s.voided
    assert s.wait.count <= s.calls
    # visitors per agency per day add up to the days and to the period
    assert sum(a.issued for a in report.agency_days) == s.issued
    assert sum(a.served for a in report.agency_days) == s.served
    for day in report.views["day"]:
        assert sum(a.issued for a in report.agency_days if a.day.isoformat() == day.key) == day.issued


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=ops)
def test_every_ticket_is_accounted_for_once(plan: list[Op]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.db"
        engine = Engine(CONFIG)
        store = EventStore(path, CONFIG.site_id, "off")
        end = _play(engine, store, plan)
        store.close()
        reader = EventStore(path, CONFIG.site_id, readonly=True)
        with History(reader, archive_dir(path)) as history:
            days = [d.day for d in history.days()]
            if not days:
                return
            first, last = days[0], days[-1]
            running = build_report(CONFIG, history, first, last, end)
            ended = build_report(CONFIG, history, first, last, end + 3 * 86400)
            daily = [build_report(CONFIG, history, d, d, end) for d in days]
            opened = [e for _, _, e in history.all_events() if isinstance(e, ev.DayOpened)]
        for report in (running, ended):
            _check(report)
        # the last day still runs unless the plan ended with a night (no action since midnight)
        still = last == dt.datetime.fromtimestamp(end, CONFIG.zone).date()
        assert running.running_day == (last if still else None) and ended.running_day is None
        # the days read one by one add up to the period
        for name in COUNTS:
            assert sum(getattr(r.summary, name) for r in daily) == getattr(running.summary, name), name
        assert math.isclose(sum(r.summary.pause_s for r in daily), running.summary.pause_s, abs_tol=1e-6)
        # the engine: each day's closing counts, and the last day's tickets by status
        closed = [o.closed for o in opened[1:]]
        statuses = [t.status for t in engine.tickets.values()]
        served = sum(c.get("served", 0) for c in closed) + statuses.count(Status.SERVED)
        no_show = sum(c.get("no_show", 0) for c in closed) + statuses.count(Status.NO_SHOW)
        voided = sum(c.get("voided", 0) for c in closed) + statuses.count(Status.VOIDED)
        left_before = sum(c.get("expired", 0) + c.get("unprinted", 0) for c in closed)
        left_now = sum(statuses.count(x) for x in (Status.WAITING, Status.CALLED, Status.UNPRINTED))
        r = running.summary
        expired, still_open = (left_before, left_now) if still else (left_before + left_now, 0)
        assert (r.served, r.no_show, r.voided, r.expired, r.open) == (served, no_show, voided, expired, still_open)
        assert ended.summary.expired == left_before + left_now and ended.summary.open == 0


@pytest.mark.parametrize("seed", range(3))
def test_a_long_random_day_holds_the_invariants(seed: int) -> None:
    """A denser day than hypothesis draws (hundreds of actions), seeded."""
    import random

    rng = random.Random(seed)
    kinds = ["take"] * 6 + ["next"] * 5 + ["done", "noshow", "recall", "recall_ns", "ticket", "transfer", "pause",
                                            "resume", "printfail", "void", "wait"]
    plan = [(rng.choice(kinds), rng.randrange(50), rng.randrange(50)) for _ in range(800)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.db"
        engine = Engine(CONFIG)
        store = EventStore(path, CONFIG.site_id, "off")
        end = _play(engine, store, plan)
        store.close()
        reader = EventStore(path, CONFIG.site_id, readonly=True)
        with History(reader, archive_dir(path)) as history:
            days = [d.day for d in history.days()]
            report = build_report(CONFIG, history, days[0], days[-1], end)
    _check(report)
    assert report.summary.issued > 100 and report.summary.served > 20
