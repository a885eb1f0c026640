"""Reports (antre.central.reports) checked against figures computed by hand.

The scenario of :func:`_scenario` is a day written command by command through the queue engine
(what the central logs) with known times; every expected figure below is worked out by hand from
it in the comments, from the definitions in the module's docstring (segments, waits, service
times, the nearest-rank p90, the target share, pause time).  Then the edge cases: an empty day, a
day with only issued tickets, the day still running, a damaged log, refusals of older logs, a
pause open at the day's end; and the per-service target in the site file.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from antre.broker.wire.messages import Priority
from antre.central import events as ev
from antre.central.archive import archive_dir
from antre.central.config import DEFAULT_TARGET_WAIT_MIN, ConfigError, SiteConfig, parse_site
from antre.central.engine import Engine, Outcome
from antre.central.history import History
from antre.central.reports import (
    UNKNOWN,
    Durations,
    Report,
    ReportError,
    Row,
    build_report,
    parse_period,
    percentile,
)
from antre.central.store import EventStore
from antre.sim.sitefiles import small_site
from tests.conftest import at

D = dt.date(2026, 3, 2)  # a Monday
D1 = D + dt.timedelta(days=1)


def site_config(**site: Any) -> SiteConfig:
    """The small test site (open around the clock) with a target wait of 10 minutes for the site and
    5 for KTP (and ``site`` keys)."""
    data = small_site()
    data["site"] = {**data["site"], "target_wait_min": 10, **site}
    data["service"] = [{**s, "target_wait_min": 5} if s["id"] == "ktp" else s for s in data["service"]]
    return parse_site(tomli_w.dumps(data), "targets.toml")


@dataclass
class Log:
    """An engine whose every event goes into a real event log, as the central writes it."""

    config: SiteConfig
    path: Path
    engine: Engine = field(init=False)
    store: EventStore = field(init=False)

    def __post_init__(self) -> None:
        self.engine = Engine(self.config)
        self.store = EventStore(self.path, self.config.site_id, "off")

    def __call__(self, outcome: Outcome) -> Outcome:
        self.store.append(outcome.events)
        return outcome

    def append(self, *events: ev.AnyEvent) -> None:
        self.store.append(list(events))

    def report(self, first: dt.date, last: dt.date, now: float) -> Report:
        reader = EventStore(self.path, self.config.site_id, readonly=True)
        with History(reader, archive_dir(self.path)) as history:
            return build_report(self.config, history, first, last, now)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    made = Log(site_config(), tmp_path / "log.db")
    yield made
    made.store.close()


def _scenario(log: Log) -> None:
    """Day D, then the morning of D+1 (times WITA).  See the test below for what each step means."""
    e, t = log.engine, lambda h, m, s=0: at(D, h, m, s)

    def take(service: str, when: float, priority: str = Priority.REGULAR) -> str:
        out = log(e.take_ticket("k1", service, when, priority))
        assert out.result.ok, out.result.code
        assert out.result.ticket is not None
        return out.result.ticket.number

    def called(out: Outcome) -> str:
        assert out.result.ok and out.result.ticket is not None, out.result.code
        return out.result.ticket.number

    assert take("ktp", t(8, 0)) == "A001"
    assert take("ktp", t(8, 1)) == "A002"
    assert take("kk", t(8, 2)) == "B001"
    assert take("npwp", t(8, 3)) == "NP01"
    assert take("ktp", t(8, 4)) == "A003"
    assert take("ktp", t(8, 5)) == "A004"
    assert called(log(e.call_next("g2", t(8, 6)))) == "A001"
    assert called(log(e.call_next("g4", t(8, 10)))) == "NP01"
    assert called(log(e.call_next("g2", t(8, 12)))) == "A002"  # A001 served
    assert called(log(e.call_next("g3", t(8, 13)))) == "B001"
    assert log(e.recall("g2", t(8, 14))).result.ok
    assert log(e.no_show("g2", t(8, 15))).result.ok
    assert called(log(e.call_ticket("g2", "A004", "berkas lengkap", t(8, 16)))) == "A004"
    assert called(log(e.recall("g2", t(8, 18), number="A002"))) == "A002"  # A004 served; A002 came back
    assert log(e.done("g4", t(8, 20))).result.ok
    assert log(e.transfer("g2", "kk", t(8, 25), note="salah layanan")).result.ok
    assert called(log(e.call_next("g3", t(8, 26)))) == "A002"  # B001 served
    assert log(e.no_show("g3", t(8, 30))).result.ok
    assert log(e.pause("g4", "istirahat sholat", t(8, 31))).result.ok
    assert log(e.set_quota("console.main", "ktp", 4, t(8, 40))).result.ok
    assert log(e.resume("g4", t(8, 46))).result.ok
    assert log(e.pause("g1", "rapat", t(9, 0))).result.ok  # never resumed
    assert take("kk", t(9, 10)) == "B002"
    assert log(e.take_ticket("k1", "ktp", t(9, 20))).result.code == "quota_exhausted"
    assert log(e.stop_issuing("console.main", "npwp", "kapasitas penuh", t(9, 30))).result.ok
    assert log(e.take_ticket("k1", "npwp", t(9, 35))).result.code == "issuing_stopped"
    assert log(e.take_ticket("k1", "xyz", t(9, 40))).result.code == "unknown_service"
    b003 = take("kk", t(9, 50))
    log(e.print_ack("k1", f"{D:%Y%m%d}-{b003}", False, "paper_out", t(9, 50, 10)))
    assert log(e.void_ticket("k1", b003, "kertas habis", t(9, 55))).result.ok
    b004 = take("kk", t(10, 0))
    log(e.print_ack("k1", f"{D:%Y%m%d}-{b004}", False, "paper_out", t(10, 0, 5)))  # never reprinted
    assert take("kk", t(10, 10), Priority.ELDERLY) == "B005"
    assert called(log(e.call_next("g3", t(10, 20)))) == "B005"  # priority first; never closed
    # --- D+1: the day still running at 12:00
    u = lambda h, m, s=0: at(D1, h, m, s)  # noqa: E731
    assert take("ktp", u(8, 0)) == "A001"
    assert called(log(e.call_next("g2", u(8, 30)))) == "A001"
    assert log(e.done("g2", u(8, 40))).result.ok
    assert take("kk", u(9, 0)) == "B001"
    assert take("kk", u(11, 0)) == "B002"
    assert log(e.pause("g4", "istirahat", u(11, 30))).result.ok
    assert take("kk", u(11, 55)) == "B003"


NOON_D1 = at(D1, 12, 0)


def _row(rows: list[Row], key: str) -> Row:
    return next(r for r in rows if r.key == key)


def _durations(count: int, mean: float, median: float, p90: float, top: float) -> Durations:
    return Durations(count, mean, median, p90, top)


def test_a_day_computed_by_hand(log: Log) -> None:
    _scenario(log)
    report = log.report(D, D, NOON_D1)
    assert report.days == (D,) and report.running_day is None
    s = report.summary
    # 10 tickets: A001-A004 (ktp), B001-B005 (kk), NP01.  Served: A001, A004, B001, NP01.  A002 left
    # KTP by transfer and ended a no-show in KK (its no-show in KTP was called back, so it is not one).
    # Voided B003; expired when D ended: A003 and B002 (waiting), B004 (unprinted), B005 (called, not
    # closed).  Site: 10 == 4 + 1 + 1 + 4.
    assert (s.issued, s.priority, s.served, s.no_show, s.transferred_out, s.transferred_in, s.voided, s.expired,
            s.open) == (10, 1, 4, 1, 1, 1, 1, 4, 0)
    # refused: KTP over its quota of 4 (set at 08:40), NPWP stopped, an unknown service
    assert (s.refused_quota, s.refused_cutoff, s.refused_stopped, s.refused_hours, s.refused_other) == (1, 0, 1, 0, 1)
    assert report.refusals_by_code == [("issuing_stopped", 1), ("quota_exhausted", 1), ("unknown_service", 1)]
    # calls: A001, NP01, A002, B001, A004 (out of order), A002 (no-show called back), A002 (in KK), B005
    assert (s.calls, s.out_of_order, s.recalls, s.no_show_recalls) == (8, 1, 1, 1)
    # waits (s): A001 360, A002 660 (KTP), A004 660, NP01 420, B001 660, A002 60 (KK, from the transfer
    # at 08:25 to 08:26), B005 600.  Sorted 60 360 420 600 660 660 660: mean 3420/7, median 600,
    # p90 = the ceil(0.9 * 7) = 7th value = 660, max 660.
    assert s.wait == _durations(7, 3420 / 7, 600, 660, 660)
    # service times: A001 360, A004 120 (08:16-08:18), A002 420 (08:18 call back to the 08:25 transfer),
    # NP01 600, B001 780, A002 240 (KK no-show).  Sorted 120 240 360 420 600 780: mean 420,
    # median (360 + 420) / 2 = 390, p90 = 6th = 780.
    assert s.service_time == _durations(6, 420, 390, 780, 780)
    # target (KTP 5 min, others 10): met NP01 (420 <= 600), A002 in KK (60), B005 (600 <= 600: at the
    # target is within it); missed A001, A002 (KTP), A004, B001, and A003 and B002 never called.
    # B003 (voided) and B004 (unprinted) are left out: 3 of 9.
    assert (s.target_met, s.target_missed) == (3, 6)
    assert s.within_target == pytest.approx(1 / 3)
    # pauses: g4 08:31-08:46 (900 s); g1 from 09:00, open when D ended: closed at its closing time,
    # 24:00 on this site (15 h = 54,000 s)
    assert (s.pauses, s.pause_s) == (2, 54900)
    assert report.busiest_hour == (8, 6) and report.busiest_day == (D, 10)
    # visitors per agency: Dukcapil 9 issued (KTP 4, KK 5), 3 served (A001, A004, B001); Pajak 1 and 1
    assert [(a.agency, a.issued, a.served) for a in report.agency_days] == [("dukcapil", 9, 3), ("pajak", 1, 1)]


def test_the_day_by_service_agency_gerai_and_hour(log: Log) -> None:
    _scenario(log)
    report = log.report(D, D, NOON_D1)
    services = report.views["service"]
    ktp, kk, npwp = (_row(services, k) for k in ("ktp", "kk", "npwp"))
    # KTP: 4 issued; served A001, A004; A002 transferred out; A003 expired.  4 + 0 == 2 + 1 + 1.
    assert (ktp.issued, ktp.served, ktp.transferred_out, ktp.expired, ktp.no_show) == (4, 2, 1, 1, 0)
    assert ktp.wait == _durations(3, 560, 660, 660, 660)  # 360 660 660
    assert ktp.service_time == _durations(3, 300, 360, 420, 420)  # 120 360 420
    assert (ktp.target_met, ktp.target_missed, ktp.target_wait_min) == (0, 4, 5)
    assert (ktp.refused_quota, ktp.out_of_order, ktp.recalls, ktp.no_show_recalls) == (1, 1, 1, 1)
    # KK: 5 issued + A002 in; served B001, no-show A002, voided B003, expired B002 B004 B005.  6 == 6.
    assert (kk.issued, kk.transferred_in, kk.served, kk.no_show, kk.voided, kk.expired, kk.priority) == (
        5, 1, 1, 1, 1, 3, 1)
    assert kk.wait == _durations(3, 440, 600, 660, 660)  # 60 600 660
    assert kk.service_time == _durations(2, 510, 510, 780, 780)  # 240 780
    assert (kk.target_met, kk.target_missed, kk.target_wait_min) == (2, 2, 10)
    assert (npwp.issued, npwp.served, npwp.refused_stopped) == (1, 1, 1)
    assert npwp.wait == _durations(1, 420, 420, 420, 420) and npwp.within_target == 1.0
    unknown = _row(services, "xyz")
    assert unknown.refused_other == 1 and unknown.label == "xyz (tidak ada di berkas situs)"
    # agencies are the sums of their services
    dukcapil, pajak = _row(report.views["agency"], "dukcapil"), _row(report.views["agency"], "pajak")
    assert (dukcapil.issued, dukcapil.served, dukcapil.transferred_out, dukcapil.transferred_in) == (9, 3, 1, 1)
    assert dukcapil.wait.count == 6 and dukcapil.wait.median == pytest.approx((600 + 660) / 2)
    assert (pajak.issued, pajak.served, pajak.refused) == (1, 1, 1)
    assert _row(report.views["agency"], UNKNOWN).refused_other == 1
    # gerai: g2 called A001, A002, A004 (out of order), A002 (back); g3 B001, A002, B005; g4 NP01
    gerai = report.views["gerai"]
    g2, g3, g4, g1 = (_row(gerai, g) for g in ("g2", "g3", "g4", "g1"))
    assert (g2.calls, g2.served, g2.transferred_out, g2.out_of_order, g2.recalls, g2.no_show_recalls) == (
        4, 2, 1, 1, 1, 1)
    assert g2.wait == _durations(3, 560, 660, 660, 660) and g2.service_time.count == 3
    assert (g3.calls, g3.served, g3.no_show, g3.expired) == (3, 1, 1, 1)
    assert g3.wait == _durations(3, 440, 600, 660, 660)
    assert (g3.target_met, g3.target_missed) == (2, 1)
    assert (g4.pauses, g4.pause_s, g4.served) == (1, 900, 1)
    assert (g1.pauses, g1.pause_s, g1.calls) == (1, 54000, 0)
    # hours: 08 issued 6, served 4, calls 7, 6 waits (every segment that started at 08), A003 expired;
    # 09 issued B002 B003, refused 3, voided 1, B002 expired; 10 issued B004 B005, both expired
    hours = {r.key: r for r in report.views["hour"]}
    assert list(hours) == ["08", "09", "10"]
    assert (hours["08"].issued, hours["08"].served, hours["08"].calls, hours["08"].wait.count,
            hours["08"].expired, hours["08"].no_show) == (6, 4, 7, 6, 1, 1)
    assert (hours["09"].issued, hours["09"].refused, hours["09"].voided, hours["09"].expired) == (2, 3, 1, 1)
    assert (hours["10"].issued, hours["10"].expired, hours["10"].calls, hours["10"].wait.count) == (2, 2, 1, 1)
    assert hours["08"].label == "08.00-09.00"
    # the out-of-order call: A004 passed over A003, waiting since 08:04
    (call,) = report.out_of_order
    assert (call.gerai, call.ticket, call.service, call.reason, call.wait_s, call.passed_over) == (
        "g2", "A004", "ktp", "berkas lengkap", 660, 1)
    assert call.ts == at(D, 8, 16)
    assert [(r.gerai, r.reason, r.count) for r in report.reasons("out_of_order")] == [("g2", "berkas lengkap", 1)]
    pauses = sorted(report.pauses, key=lambda p: p.start)
    assert [(p.gerai, p.reason, p.seconds, p.closed_by_report) for p in pauses] == [
        ("g4", "istirahat sholat", 900, False), ("g1", "rapat", 54000, True)]
    assert pauses[1].end == at(D1, 0, 0)


def test_the_day_still_running_and_a_period(log: Log) -> None:
    _scenario(log)
    # D+1 at noon: A001 waited 1800 s (missed its 5 min) and was served in 600 s; B001 (since 09:00) and
    # B002 (since 11:00) wait past their 10 min: missed; B003 (since 11:55) is not decided yet.  The
    # pause of g4 since 11:30 is closed at now: 1800 s.
    running = log.report(D1, D1, NOON_D1)
    assert running.running_day == D1
    s = running.summary
    assert (s.issued, s.served, s.open, s.expired) == (4, 1, 3, 0)
    assert s.wait == _durations(1, 1800, 1800, 1800, 1800) and s.service_time.mean == 600
    assert (s.target_met, s.target_missed) == (0, 3)
    assert (s.pauses, s.pause_s) == (1, 1800)
    # the same day seen the next morning has ended: its open tickets expired, B003 missed too, and
    # the pause runs to the gerai's closing time
    ended = log.report(D1, D1, at(D1 + dt.timedelta(days=1), 8, 0))
    assert ended.running_day is None
    assert (ended.summary.open, ended.summary.expired, ended.summary.target_missed) == (0, 3, 4)
    assert ended.summary.pause_s == at(D1 + dt.timedelta(days=1), 0, 0) - at(D1, 11, 30)
    # the period: D and D+1 (and a day before with no data)
    period = log.report(D - dt.timedelta(days=1), D1, NOON_D1)
    assert period.days == (D, D1) and period.period_days == 3
    assert period.summary.issued == 14 and period.summary.served == 5
    assert [r.key for r in period.views["day"]] == [D.isoformat(), D1.isoformat()]
    # waits of both days: D's seven and D+1's 1800
    assert period.summary.wait.count == 8 and period.summary.wait.max == 1800
    assert period.summary.wait.p90 == 1800  # ceil(0.9 * 8) = 8th
    assert period.busiest_day == (D, 10)


def test_the_day_closing_counts_of_the_engine_agree(log: Log) -> None:
    """The engine's own count of D's tickets by final status (written when D+1 opened) is the report's."""
    _scenario(log)
    reader = EventStore(log.path, "test", readonly=True)
    opened = [e for _, e in reader.events() if isinstance(e, ev.DayOpened)]
    reader.close()
    closed = opened[1].closed
    s = log.report(D, D, NOON_D1).summary
    assert (closed["served"], closed["no_show"], closed["voided"]) == (s.served, s.no_show, s.voided)
    assert closed["expired"] + closed["unprinted"] == s.expired


def test_an_empty_day_and_a_day_with_only_issued_tickets(log: Log) -> None:
    e = log.engine
    for minute in (0, 10, 20):
        log(e.take_ticket("k1", "kk", at(D, 9, minute)))
    empty = log.report(D - dt.timedelta(days=3), D - dt.timedelta(days=3), at(D, 12))
    assert empty.days == () and empty.summary.issued == 0 and empty.summary.wait == Durations(0, None, None, None, None)
    assert empty.busiest_hour is None and empty.busiest_day is None and empty.views["hour"] == []
    assert [r.key for r in empty.views["service"]] == ["ktp", "kk", "npwp"]  # every service, with zeros
    assert all(r.is_empty for r in empty.views["service"]) and empty.summary.within_target is None
    # only issued, the day over: three expired, none called, every one missed its target
    issued = log.report(D, D, at(D1, 8))
    s = issued.summary
    assert (s.issued, s.expired, s.calls, s.wait.count, s.service_time.count) == (3, 3, 0, 0, 0)
    assert (s.target_met, s.target_missed, s.within_target) == (0, 3, 0.0)
    assert issued.busiest_hour == (9, 3)
    # the same while the day runs, at 09:25: open; B001 (25 min) and B002 (15 min) have missed the 10
    # minutes of KK, B003 (5 min) is not decided yet
    running = log.report(D, D, at(D, 9, 25)).summary
    assert (running.open, running.expired, running.target_missed, running.within_target) == (3, 0, 2, 0.0)


def test_a_damaged_log_is_reported_not_crashed(log: Log) -> None:
    e = log.engine
    log(e.take_ticket("k1", "kk", at(D, 9)))
    log.append(ev.TicketCalled(ts=at(D, 9, 5), actor="g3", gerai="g3", ticket_id="20260302-B999", mode="next"),
               ev.TicketServed(ts=at(D, 9, 9), actor="g3", gerai="g3", ticket_id="20260302-B999"))
    report = log.report(D, D, at(D1, 8))
    assert report.skipped_events == 2 and report.summary.issued == 1 and report.summary.calls == 0


def test_refusals_of_logs_that_did_not_name_the_service(log: Log) -> None:
    log(log.engine.take_ticket("k1", "kk", at(D, 8)))
    log.append(ev.CommandRefused(ts=at(D, 9), actor="k1", action="take_ticket", code="quota_exhausted",
                                 detail="quota=60;service_name=KTP-el"),
               ev.CommandRefused(ts=at(D, 9, 1), actor="k1", action="take_ticket", code="after_cutoff",
                                 detail="closes_at=14:30"),
               ev.CommandRefused(ts=at(D, 9, 2), actor="g1", action="call_next", code="gerai_paused"))
    report = log.report(D, D, at(D1, 8))
    assert _row(report.views["service"], "ktp").refused_quota == 1  # by its name
    assert _row(report.views["service"], UNKNOWN).refused_cutoff == 1
    assert _row(report.views["service"], UNKNOWN).label == "(layanan tidak diketahui)"
    assert report.summary.refused == 2  # a refused call is not a refused ticket


def test_refusals_before_the_engine_name_their_service_too(tmp_path: Path) -> None:
    """A ticket request refused by the central's service (stale press, clock not synchronised, clock
    skew) is counted for the service asked, under "other"."""
    from antre.broker.wire import messages as m
    from antre.central.service import QueueService

    config = site_config()
    path = tmp_path / "log.db"
    store = EventStore(path, config.site_id, "off")
    synced = [False]
    service = QueueService.open(config, store, at(D, 7), clock_gate=lambda: synced[0])
    now = at(D, 9)
    assert service.handle("kiosk", "k1", m.TakeTicket(id="t-000001", service="kk"), now).reply.code == "clock_unsynced"
    synced[0] = True
    assert service.handle("kiosk", "k1", m.TakeTicket(id="t-000002", service="ktp", ts=now - 60),
                          now).reply.code == "stale"
    assert service.handle("kiosk", "k1", m.TakeTicket(id="t-000003", service="ktp", ts=now + 60),
                          now).reply.code == "clock_skew"
    assert service.handle("kiosk", "k1", m.TakeTicket(id="t-000004", service="npwp"), now).reply.ok
    store.close()
    reader = EventStore(path, config.site_id, readonly=True)
    with History(reader, archive_dir(path)) as history:
        report = build_report(config, history, D, D, at(D1, 8))
    rows = {r.key: r for r in report.views["service"]}
    assert (rows["kk"].refused_other, rows["ktp"].refused_other, rows["npwp"].issued) == (1, 2, 1)
    assert dict(report.refusals_by_code) == {"clock_unsynced": 1, "stale": 1, "clock_skew": 1}
    assert UNKNOWN not in rows


def test_percentiles_and_medians_by_their_definitions() -> None:
    assert percentile(list(range(1, 11)), 90) == 9  # rank ceil(9.0) = 9
    assert percentile([1, 2, 3, 4, 5, 6, 7], 90) == 7  # rank ceil(6.3) = 7
    assert percentile([5.0], 90) == 5.0 and percentile([1, 2, 3, 4], 50) == 2
    assert percentile(list(range(1, 21)), 90) == 18  # rank 18 exactly, not 19
    with pytest.raises(ValueError):
        percentile([], 90)
    d = Durations.of([4, 1, 3, 2])
    assert (d.count, d.mean, d.median, d.p90, d.max) == (4, 2.5, 2.5, 4, 4)


@pytest.mark.parametrize(("args", "problem"), [
    (("2026-11-20", "2026-11-01", "2026-11-02"), "not both"),
    ((None, None, None), "needs a day"),
    ((None, "2026-11-01", None), "both --from and --to"),
    (("2026-02-30", None, None), "not a date"),
    (("20-11-2026", None, None), "not a date"),
    ((None, "2026-11-20", "2026-11-19"), "before it starts"),
    ((None, "2025-01-01", "2026-12-31"), "at most 400 days"),
])
def test_bad_periods_are_refused_clearly(args: tuple[str | None, str | None, str | None], problem: str) -> None:
    with pytest.raises(ReportError, match=problem):
        parse_period(*args)


def test_a_period_is_a_day_or_from_to() -> None:
    assert parse_period("2026-11-20") == (dt.date(2026, 11, 20),) * 2
    assert parse_period(None, "2026-01-01", "2027-01-01") == (dt.date(2026, 1, 1), dt.date(2027, 1, 1))


# ---------------------------------------------------------------------------- the site file's target


def _with(edit: Callable[[dict[str, Any]], None]) -> str:
    data = small_site()
    edit(data)
    return tomli_w.dumps(data)


def test_the_target_wait_is_the_services_else_the_sites_else_30_minutes() -> None:
    plain = parse_site(_with(lambda d: None))
    assert plain.site.target_wait_min == DEFAULT_TARGET_WAIT_MIN == 30 and plain.target_wait_min("ktp") == 30
    config = site_config()
    assert (config.target_wait_min("ktp"), config.target_wait_min("kk"), config.target_wait_min("nope")) == (5, 10, 10)


@pytest.mark.parametrize(("edit", "key"), [
    (lambda d: d["site"].update(target_wait_min=0), "site.target_wait_min"),
    (lambda d: d["site"].update(target_wait_min=481), "site.target_wait_min"),
    (lambda d: d["service"][1].update(target_wait_min="15"), "service[1].target_wait_min"),
    (lambda d: d["service"][0].update(target_wait_min=-5), "service[0].target_wait_min"),
])
def test_a_bad_target_wait_is_a_config_error_naming_its_key(edit: Callable[[dict[str, Any]], None], key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        parse_site(_with(edit), "site.toml")


def test_the_example_site_documents_its_targets() -> None:
    from tests.conftest import KUPANG

    text = KUPANG.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert "target_wait_min" in data["site"] and "target_wait_min" in text.split("[[service]]", 1)[0]
    assert any("target_wait_min" in s for s in data["service"])

