"""Unit tests of the queue engine's rules."""

from __future__ import annotations

import datetime as dt

import pytest

from antre.central import events as ev
from antre.central.config import SiteConfig
from antre.central.engine import Engine, Status
from tests.conftest import at

DAY = dt.date(2023, 11, 16)  # a Thursday


@pytest.fixture
def engine(small_site: SiteConfig) -> Engine:
    return Engine(small_site)


def issue(e: Engine, service: str, when: float, priority: str = "regular") -> str:
    out = e.take_ticket("k1", service, when, priority)
    assert out.result.ok, out.result
    assert out.result.ticket is not None
    return out.result.ticket.number


def called(e: Engine, gerai: str, when: float, **kw: bool) -> str | None:
    out = e.call_next(gerai, when, **kw)
    assert out.result.ok, out.result
    return out.result.ticket.number if out.result.ticket else None


def test_numbers_per_service_with_padding(engine: Engine) -> None:
    t = at(DAY, 9)
    assert [issue(engine, "ktp", t), issue(engine, "ktp", t), issue(engine, "kk", t)] == ["A001", "A002", "B001"]
    assert issue(engine, "npwp", t) == "NP01"
    ticket = engine.find("A002")
    assert ticket is not None and ticket.id == "20231116-A002"


def test_sequence_outgrows_its_padding(engine: Engine) -> None:
    for _ in range(99):
        issue(engine, "npwp", at(DAY, 9))
    assert issue(engine, "npwp", at(DAY, 9)) == "NP100"


def test_day_boundary_is_local_midnight_in_makassar(engine: Engine) -> None:
    # 23:59 and 00:01 WITA are 15:59 and 16:01 UTC of the *same* UTC date.
    before = at(DAY, 23, 59)
    after = at(DAY + dt.timedelta(days=1), 0, 1)
    assert dt.datetime.fromtimestamp(before, dt.timezone.utc).date() == dt.datetime.fromtimestamp(
        after, dt.timezone.utc
    ).date()
    issue(engine, "ktp", before)
    issue(engine, "ktp", before)
    called(engine, "g1", before)
    assert issue(engine, "ktp", after) == "A001"  # the sequence restarts
    assert engine.day == DAY + dt.timedelta(days=1)
    assert engine.yesterday == {"waiting": 0, "called": 0, "served": 0, "no_show": 0, "expired": 2, "unprinted": 0,
                                "voided": 0}
    assert engine.current_of("g1") is None  # yesterday's held ticket does not follow the gerai
    assert engine.find("A001") is not None and engine.find("A001").id == "20231117-A001"  # type: ignore[union-attr]


def test_tick_opens_the_day_without_a_command(engine: Engine) -> None:
    issue(engine, "ktp", at(DAY, 10))
    assert engine.tick(at(DAY, 23)) == []
    events = engine.tick(at(DAY + dt.timedelta(days=1), 0, 0, 1))
    assert [type(e) for e in events] == [ev.DayOpened]
    assert engine.waiting_in("ktp") == 0


def test_quota(engine: Engine) -> None:
    for _ in range(60):
        issue(engine, "ktp", at(DAY, 9))
    out = engine.take_ticket("k1", "ktp", at(DAY, 9, 5))
    assert (out.result.ok, out.result.code) == (False, "quota_exhausted")
    assert "sudah habis" in out.result.texts[0] and "60" in out.result.texts[0]
    assert engine.remaining_quota("ktp") == 0
    assert isinstance(out.events[-1], ev.CommandRefused)
    # other services are not affected, and a transfer into the service is not an issue
    assert issue(engine, "kk", at(DAY, 9, 6)) == "B001"


def test_hours_and_cutoff_at_kupang(kupang: SiteConfig) -> None:
    e = Engine(kupang)
    thursday, friday = dt.date(2023, 11, 16), dt.date(2023, 11, 17)
    assert e.take_ticket("kiosk-1", "ktp-el", at(thursday, 7, 30)).result.code == "before_hours"
    assert e.take_ticket("kiosk-1", "ktp-el", at(thursday, 7, 50)).result.code == "issued"
    assert e.take_ticket("kiosk-1", "ktp-el", at(thursday, 14, 35)).result.code == "after_cutoff"
    assert e.take_ticket("kiosk-1", "ktp-el", at(thursday, 16, 0)).result.code == "after_hours"
    assert e.take_ticket("kiosk-1", "ktp-el", at(dt.date(2023, 11, 18), 9)).result.code == "closed_today"
    # Friday prayer: tickets may be taken, but nobody is called until 13:00.
    assert e.take_ticket("kiosk-1", "ktp-el", at(friday, 11, 40)).result.code == "issued"
    out = e.call_next("g01", at(friday, 11, 45))
    assert (out.result.code, out.result.params["opens_at"]) == ("on_break", "13:00")
    assert e.call_next("g01", at(friday, 13, 0)).result.code == "called"


def test_kiosk_offers_only_its_services(kupang: SiteConfig) -> None:
    e = Engine(kupang)
    out = e.take_ticket("kiosk-2", "npwp", at(dt.date(2023, 11, 16), 9))
    assert out.result.code == "service_not_offered"
    assert e.take_ticket("kiosk-9", "npwp", at(dt.date(2023, 11, 16), 9)).result.code == "unknown_device"


def test_oldest_first_within_and_across_services(engine: Engine) -> None:
    t = at(DAY, 9)
    issue(engine, "kk", t)  # B001 oldest
    issue(engine, "kk", t + 1)
    issue(engine, "ktp", t + 2)
    # g2 has equal weights: strictly oldest first across its services
    assert [called(engine, "g2", t + 600 + i) for i in range(3)] == ["B001", "B002", "A001"]


def test_weights_favour_a_service_without_starving_the_other(engine: Engine) -> None:
    t = at(DAY, 9)
    issue(engine, "kk", t)  # waits 600 s by the call
    issue(engine, "ktp", t + 200)  # waits 400 s, weight 2 at g1 -> 800
    assert called(engine, "g1", t + 600) == "A001"
    assert called(engine, "g1", t + 601) == "B001"


def test_priority_ratio_one_to_two(engine: Engine) -> None:
    t = at(DAY, 9)
    for i in range(4):
        issue(engine, "ktp", t + i)  # A001..A004 regular
    for i in range(3):
        issue(engine, "ktp", t + 10 + i, "elderly")  # A005..A007 priority
    order = [called(engine, "g2", t + 100 + i) for i in range(7)]
    # priority first, then 2 regular, then 1 priority, ... ; when only one class is left, it is called
    assert order == ["A005", "A001", "A002", "A006", "A003", "A004", "A007"]


def test_priority_first_after_a_quiet_moment(engine: Engine) -> None:
    t = at(DAY, 9)
    issue(engine, "ktp", t)
    assert called(engine, "g2", t + 1) == "A001"  # only regular waited: cycle restarts
    issue(engine, "ktp", t + 2)
    issue(engine, "ktp", t + 3, "pregnant")
    assert called(engine, "g2", t + 4) == "A003"


def test_call_is_atomic_and_completes_the_held_ticket(engine: Engine) -> None:
    t = at(DAY, 9)
    issue(engine, "ktp", t)
    issue(engine, "ktp", t)
    assert called(engine, "g1", t + 1) == "A001"
    assert called(engine, "g2", t + 1) == "A002"  # g2 does not get g1's ticket
    out = engine.call_next("g1", t + 2, complete_current=False)
    assert (out.result.ok, out.result.code) == (False, "gerai_busy")
    assert engine.current_of("g1").number == "A001"  # type: ignore[union-attr]
    out = engine.call_next("g1", t + 3)
    assert out.result.code == "queue_empty"
    assert engine.find("A001").status is Status.SERVED  # type: ignore[union-attr]
    assert engine.current_of("g1") is None


def test_recall_never_renumbers_or_reorders(engine: Engine) -> None:
    t = at(DAY, 9)
    for i in range(3):
        issue(engine, "ktp", t + i)
    called(engine, "g1", t + 10)
    before = engine.snapshot()["queues"]
    out = engine.recall("g1", t + 20)
    assert (out.result.code, out.result.ticket.number) == ("recalled", "A001")  # type: ignore[union-attr]
    assert engine.snapshot()["queues"] == before
    assert engine.find("A001").recalls == 1  # type: ignore[union-attr]
    assert engine.recall("g2", t + 21).result.code == "no_current"


def test_no_show_and_recall_window(engine: Engine) -> None:
    t = at(DAY, 9)
    issue(engine, "ktp", t)
    issue(engine, "ktp", t)
    issue(engine, "ktp", t)
    called(engine, "g1", t + 10)
    assert engine.no_show("g1", t + 100).result.code == "no_show_marked"
    assert engine.find("A001").status is Status.NO_SHOW  # type: ignore[union-attr]
    called(engine, "g1", t + 110)  # A002
    out = engine.recall("g1", t + 200, number="A001")  # within 15 minutes: A002 completed, A001 back
    assert out.result.code == "recalled"
    assert engine.find("A002").status is Status.SERVED  # type: ignore[union-attr]
    assert engine.current_of("g1").number == "A001"  # type: ignore[union-attr]
    engine.no_show("g1", t + 300)
    late = engine.recall("g1", t + 300 + 15 * 60 + 1, number="A001")
    assert late.result.code == "recall_window_passed"
    assert engine.recall("g4", t + 301, number="A001").result.code == "not_served_here"
    assert engine.recall("g1", t + 302, number="A003").result.code == "not_no_show"


def test_transfer_keeps_issue_order_and_priority(engine: Engine) -> None:
    t = at(DAY, 9)
    issue(engine, "ktp", t, "disabled")  # A001, priority
    issue(engine, "kk", t + 60, "disabled")  # B001, priority, later
    issue(engine, "kk", t + 120)  # B002 regular
    assert called(engine, "g1", t + 200) == "A001"
    out = engine.transfer("g1", "kk", t + 300, note="perlu KK")
    assert out.result.code == "transferred"
    ticket = engine.find("A001")
    assert ticket is not None
    assert (ticket.number, ticket.service, ticket.priority, ticket.status) == ("A001", "kk", "disabled", Status.WAITING)
    # g3 serves only kk: the transferred citizen keeps their place ahead of the later
    # priority ticket B001; then the 1:2 ratio gives the regular B002 its turn.
    assert [called(engine, "g3", t + 400 + i) for i in range(3)] == ["A001", "B002", "B001"]
    assert engine.transfer("g3", "kk", t + 500).result.code == "same_service"
    assert engine.transfer("g3", "sim", t + 500).result.code == "unknown_service"


def test_out_of_order_requires_a_reason_and_is_recorded(engine: Engine) -> None:
    t = at(DAY, 9)
    for i in range(3):
        issue(engine, "kk", t + i)
    assert engine.call_ticket("g3", "B003", "  ", t + 10).result.code == "reason_required"
    out = engine.call_ticket("g3", "B003", "ibu menggendong bayi", t + 11)
    assert out.result.code == "called"
    call = [e for e in out.events if isinstance(e, ev.TicketCalled)][0]
    assert (call.mode, call.reason, call.gerai) == ("out_of_order", "ibu menggendong bayi", "g3")
    assert engine.call_ticket("g4", "B001", "alasan apapun", t + 12).result.code == "not_served_here"
    assert engine.call_ticket("g3", "B003", "alasan apapun", t + 12).result.code == "ticket_not_waiting"
    assert engine.call_ticket("g3", "B099", "alasan apapun", t + 12).result.code == "unknown_ticket"
    assert called(engine, "g3", t + 20) == "B001"  # the normal order continues


def test_pause_and_resume(engine: Engine) -> None:
    t = at(DAY, 9)
    issue(engine, "ktp", t)
    called(engine, "g1", t)
    assert engine.pause("g1", "istirahat", t + 1).result.code == "gerai_busy"
    engine.done("g1", t + 2)
    assert engine.pause("g1", "ab", t + 3).result.code == "reason_required"
    assert engine.pause("g1", "sholat", t + 3).result.code == "paused"
    assert engine.pause("g1", "sholat", t + 3).result.code == "gerai_paused"
    issue(engine, "ktp", t + 4)
    assert engine.call_next("g1", t + 5).result.code == "gerai_paused"
    assert engine.open_gerai("ktp") == 1  # only g2 counts for the estimate
    assert engine.resume("g1", t + 6).result.code == "resumed"
    assert engine.resume("g1", t + 6).result.code == "not_paused"
    assert called(engine, "g1", t + 7) == "A002"


def test_done_and_no_show_need_a_held_ticket(engine: Engine) -> None:
    assert engine.done("g1", at(DAY, 9)).result.code == "no_current"
    assert engine.no_show("g1", at(DAY, 9)).result.code == "no_current"
    assert engine.transfer("g1", "kk", at(DAY, 9)).result.code == "no_current"
    assert engine.call_next("g9", at(DAY, 9)).result.code == "unknown_device"


def test_estimated_wait_uses_recent_service_times_and_open_gerai(engine: Engine) -> None:
    t = at(DAY, 9)
    # configured average for ktp: 6 minutes, two gerai (g1, g2) serve it
    assert engine.estimate_wait_minutes("ktp", 4) == 12
    issue(engine, "ktp", t)
    called(engine, "g1", t)
    engine.done("g1", t + 20 * 60)  # a 20-minute service
    assert engine.avg_service_minutes("ktp") == pytest.approx(20)
    assert engine.estimate_wait_minutes("ktp", 4) == 40
    engine.pause("g2", "rapat", t + 20 * 60)
    assert engine.estimate_wait_minutes("ktp", 4) == 80
    engine.pause("g1", "rapat", t + 20 * 60)
    assert engine.estimate_wait_minutes("ktp", 4) is None


def test_a_failed_print_is_not_a_waiting_ticket_until_reprinted(engine: Engine) -> None:
    """The field failure: a kiosk out of paper issued numbers nobody held; they were called, and
    later tickets counted them in "ahead of you".  Now the ticket stops waiting (kept, not lost)
    and takes its place again once a reprint of it is printed."""
    t = at(DAY, 9)
    issue(engine, "ktp", t)
    issue(engine, "ktp", t + 1)
    first = engine.find("A001")
    assert first is not None and first.print_status == "pending"
    out = engine.print_ack("k1", first.id, False, "paper_out", t + 2)
    assert out.result.ok and isinstance(out.events[-1], ev.PrintAcked)
    assert first.print_status == "failed" and first.status is Status.UNPRINTED
    assert engine.waiting_in("ktp") == 1
    assert engine.ahead_of(engine.find("A002")) == 0  # type: ignore[arg-type]
    assert issue(engine, "ktp", t + 3) == "A003"  # (its number is never issued again)
    assert engine.ahead_of(engine.find("A003")) == 1  # type: ignore[arg-type]
    # the printer recovered: the kiosk asks for a reprint (no number: its last failed one is named)
    reprint = engine.reprint("k1", "A001", t + 4)
    assert reprint.result.code == "reprinted" and isinstance(reprint.events[-1], ev.TicketReprinted)
    assert first.status is Status.UNPRINTED  # not before it is printed
    engine.print_ack("k1", first.id, True, "ok", t + 5)
    assert first.status is Status.WAITING and first.print_status == "printed"
    assert engine.ahead_of(engine.find("A003")) == 2  # type: ignore[arg-type]  # in its own place again
    assert called(engine, "g1", t + 6) == "A001"
    assert engine.print_ack("k1", "20231116-A999", True, "ok", t + 7).result.code == "unknown_job"


def test_a_failed_reprint_of_a_printed_ticket_keeps_it_waiting(engine: Engine) -> None:
    t = at(DAY, 9)
    issue(engine, "ktp", t)
    ticket = engine.find("A001")
    assert ticket is not None
    engine.print_ack("k1", ticket.id, True, "ok", t + 1)
    engine.reprint("k1", None, t + 2)  # staff's reprint button: the last ticket k1 issued
    engine.print_ack("k1", ticket.id, False, "paper_out", t + 3)
    assert ticket.status is Status.WAITING and ticket.print_status == "printed"  # the citizen holds one


def test_void_a_ticket_nobody_holds(engine: Engine) -> None:
    t = at(DAY, 9)
    for _ in range(60):
        issue(engine, "ktp", t)  # the whole quota
    a1 = engine.find("A001")
    assert a1 is not None and engine.remaining_quota("ktp") == 0
    engine.print_ack("k1", a1.id, False, "cover_open", t + 1)
    assert engine.void_ticket("k1", "A001", "no", t + 2).result.code == "reason_required"
    out = engine.void_ticket("k1", "A001", "cetak gagal, warga pulang", t + 3)
    assert (out.result.ok, out.result.code) == (True, "voided")
    assert isinstance(out.events[-1], ev.TicketVoided) and out.events[-1].reason == "cetak gagal, warga pulang"
    assert a1.status is Status.VOIDED and engine.remaining_quota("ktp") == 1  # its place given back
    assert issue(engine, "ktp", t + 4) == "A061"  # and its number never issued again
    # a printed ticket is held by a citizen, a called one was seen: neither can be voided
    a2 = engine.find("A002")
    assert a2 is not None
    engine.print_ack("k1", a2.id, True, "ok", t + 5)
    assert engine.void_ticket("k1", "A002", "salah tekan", t + 6).result.code == "not_voidable"
    assert called(engine, "g1", t + 7) == "A002"
    assert engine.void_ticket("g1", "A003", "salah tekan", t + 8).result.code == "voided"  # pending, its gerai
    assert engine.void_ticket("g4", "A004", "salah tekan", t + 9).result.code == "not_served_here"
    assert engine.void_ticket("k2", "A004", "salah tekan", t + 9).result.code == "not_allowed"
    assert engine.void_ticket("k1", "A001", "lagi", t + 10).result.code == "not_voidable"  # already voided
    assert engine.reprint("k1", "A001", t + 11).result.code == "ticket_not_waiting"
    assert engine.void_ticket("k1", "Z999", "tidak ada", t + 12).result.code == "unknown_ticket"


def test_reprint_the_last_ticket(engine: Engine) -> None:
    t = at(DAY, 9)
    assert engine.reprint("k1", None, t).result.code == "unknown_ticket"  # nothing issued yet today
    issue(engine, "ktp", t)
    issue(engine, "kk", t + 1)
    out = engine.reprint("k1", None, t + 2)
    assert (out.result.code, out.result.ticket.number if out.result.ticket else None) == ("reprinted", "B001")
    assert engine.waiting_in("kk") == 1 and engine.waiting_in("ktp") == 1  # nobody moved


def test_manual_number_without_printing(engine: Engine) -> None:
    out = engine.take_ticket("g1", "ktp", at(DAY, 9), print_ticket=False)
    assert out.result.ticket is not None and out.result.ticket.print_status == "none"


def test_ahead_counts_priority_first(engine: Engine) -> None:
    t = at(DAY, 9)
    issue(engine, "ktp", t)
    issue(engine, "ktp", t, "child")
    issue(engine, "ktp", t)
    assert engine.ahead_of(engine.find("A001")) == 1  # type: ignore[arg-type]
    assert engine.ahead_of(engine.find("A002")) == 0  # type: ignore[arg-type]
    assert engine.ahead_of(engine.find("A003")) == 2  # type: ignore[arg-type]


def test_replay_rebuilds_identical_state(engine: Engine, small_site: SiteConfig) -> None:
    t = at(DAY, 9)
    log: list[ev.AnyEvent] = []
    log += engine.take_ticket("k1", "ktp", t).events
    log += engine.take_ticket("k1", "kk", t + 1, "elderly").events
    log += engine.call_next("g1", t + 2).events
    log += engine.transfer("g1", "npwp", t + 3).events
    log += engine.call_next("g4", t + 4).events
    log += engine.no_show("g4", t + 5).events
    log += engine.pause("g2", "rapat", t + 6).events
    log += engine.take_ticket("k1", "ktp", t + 7).events
    log += engine.take_ticket("k1", "ktp", t + 7).events
    log += engine.print_ack("k1", "20231116-A002", False, "paper_out", t + 8).events
    log += engine.print_ack("k1", "20231116-A003", False, "paper_out", t + 8).events
    log += engine.void_ticket("k1", "A002", "warga pulang", t + 9).events
    log += engine.reprint("k1", "A003", t + 9).events
    log += engine.print_ack("k1", "20231116-A003", True, "ok", t + 10).events
    log += engine.take_ticket("k1", "ktp", at(DAY + dt.timedelta(days=1), 9)).events
    replayed = Engine(small_site)
    for event in log:
        replayed.apply(event)
    assert replayed.snapshot() == engine.snapshot()


def test_listed_order_prefers_the_first_service(small_site: SiteConfig) -> None:
    from antre.central.config import parse_site
    from tests.conftest import SMALL_SITE

    text = SMALL_SITE.replace('services = ["kk"]\n', 'services = ["npwp", "kk"]\norder = "listed"\n', 1)
    e = Engine(parse_site(text, "listed.toml"))
    t = at(DAY, 9)
    issue(e, "kk", t)  # older
    issue(e, "npwp", t + 60)
    issue(e, "npwp", t + 61)
    # g3 lists npwp first: it helps kk only when no npwp ticket waits
    assert [called(e, "g3", t + 100 + i) for i in range(3)] == ["NP01", "NP02", "B001"]
