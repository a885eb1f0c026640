"""The citizen's feedback at the central: the SKM answer (``survey_answer``) and the quick rating
(``quick_rating``), accepted once, refused with a clear code otherwise, in the audit trail; then the
same over a real Mosquitto with the real central, garbage included, and the gerai's four-key pad
through the real edge agent on gpiozero's mock pins."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Channel, Role
from antre.central import events as ev
from antre.central.audit import describe
from antre.central.config import SiteConfig, parse_site
from antre.central.service import QueueService
from antre.central.store import EventStore
from antre.central.ticketkey import TicketKey
from tests.conftest import SMALL_SITE, at
from tests.harness import Device, Stack, running_site, wait_for

DAY = dt.date(2023, 11, 17)  # a Friday
KEY = TicketKey("the-test-site-ticket-page-key-0123456789", "test")
SITE = SMALL_SITE + '\n[console]\npublic_url = "http://192.168.10.2:8480"\n'


@pytest.fixture
def config() -> SiteConfig:
    return parse_site(SITE, "small.toml")


@pytest.fixture
def service(config: SiteConfig, tmp_path: Path) -> QueueService:
    return QueueService.open(config, EventStore(tmp_path / "log.db", "test"), at(DAY, 8), ticket_key=KEY)


def _answer(ticket_id: str, cid: str, *, token: str | None = None, scores: list[int] | None = None,
            suggestion: str = "") -> m.SurveyAnswer:
    return m.SurveyAnswer(id=cid, ticket_id=ticket_id, token=token if token is not None else KEY.token(ticket_id),
                          scores=scores or [4, 3, 3, 4, 3, 4, 4, 3, 3], suggestion=suggestion,
                          profile=m.SurveyProfile(age="30-39", sex="p"))


def _serve(service: QueueService, n: int, t: float, gerai: str = "g1") -> list[str]:
    """Issue ``n`` ktp tickets and serve them all at ``gerai``; their ids."""
    ids = []
    for i in range(n):
        h = service.handle("kiosk", "k1", m.TakeTicket(id=f"k1-t{t:.0f}-{i:04d}", service="ktp"), t)
        ids.append(h.print_jobs[0].ticket_id)
    for i in range(n):
        service.handle("gerai", gerai, m.CallNext(id=f"{gerai}-c{t:.0f}-{i:04d}"), t + 1 + i)
    service.handle("gerai", gerai, m.Done(id=f"{gerai}-d{t:.0f}"), t + 1 + n)
    return ids


def test_the_print_job_links_the_tickets_page(service: QueueService) -> None:
    h = service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000001", service="ktp"), at(DAY, 9))
    job = h.print_jobs[0]
    assert job.url == f"http://192.168.10.2:8480/t/{job.ticket_id}?k={KEY.token(job.ticket_id)}"
    reprint = service.handle("kiosk", "k1", m.Reprint(id="k1-00000002"), at(DAY, 9, 1))
    assert reprint.print_jobs[0].url == job.url


def test_no_public_url_or_no_key_keeps_the_old_ticket(small_site: SiteConfig, config: SiteConfig,
                                                      tmp_path: Path) -> None:
    for cfg, key in ((small_site, KEY), (config, None)):
        service = QueueService.open(cfg, EventStore(tmp_path / f"{id(cfg)}-{key is None}.db", "test"), at(DAY, 8),
                                    ticket_key=key)
        h = service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000001", service="ktp"), at(DAY, 9))
        assert h.print_jobs[0].url == ""


def test_an_answer_is_accepted_once_and_a_resend_gets_the_first_reply(service: QueueService) -> None:
    (tid,) = _serve(service, 1, at(DAY, 9))
    first = service.handle("console", "main", _answer(tid, "s-0000000000000001", suggestion=" Ruang tunggu sejuk. "),
                           at(DAY, 9, 30))
    assert (first.reply.ok, first.reply.code) == (True, "survey_recorded")
    (event,) = [e for e in first.events if isinstance(e, ev.SurveyAnswered)]
    assert (event.ticket_id, event.service, event.gerai, event.scores) == (tid, "ktp", "g1", [4, 3, 3, 4, 3, 4, 4, 3, 3])
    assert (event.age, event.sex, event.education, event.suggestion, event.actor) == (
        "30-39", "p", None, "Ruang tunggu sejuk.", "console.main")
    assert "SKM answer for" in describe(event) and "with a suggestion" in describe(event)
    resend = service.handle("console", "main", _answer(tid, "s-0000000000000001"), at(DAY, 9, 31))
    assert resend.duplicate and resend.reply == first.reply
    second = service.handle("console", "main", _answer(tid, "s-0000000000000002", scores=[1] * 9), at(DAY, 9, 32))
    assert (second.reply.ok, second.reply.code) == (False, "already_answered")
    assert "sudah diisi" in second.reply.text_id
    answered = [e for _, e in service.store.events() if isinstance(e, ev.SurveyAnswered)]
    assert len(answered) == 1


def test_refusals_say_why(service: QueueService) -> None:
    t = at(DAY, 9)
    served = _serve(service, 1, t)[0]
    waiting = service.handle("kiosk", "k1", m.TakeTicket(id="k1-w0000001", service="ktp"), t).print_jobs[0].ticket_id
    called = service.handle("kiosk", "k1", m.TakeTicket(id="k1-w0000002", service="kk"), t).print_jobs[0].ticket_id
    service.handle("gerai", "g3", m.CallNext(id="g3-00000001"), t + 60)  # g3 serves kk only: calls B001
    no_show = service.handle("kiosk", "k1", m.TakeTicket(id="k1-w0000003", service="npwp"), t).print_jobs[0].ticket_id
    service.handle("gerai", "g4", m.CallNext(id="g4-00000001"), t + 60)
    service.handle("gerai", "g4", m.NoShow(id="g4-00000002"), t + 70)
    cases = [
        (_answer(waiting, "s-00000000000000a1"), "not_served"),
        (_answer(called, "s-00000000000000a2"), "not_served"),
        (_answer(no_show, "s-00000000000000a3"), "not_served"),
        (_answer("20231117-A999", "s-00000000000000a4"), "unknown_ticket"),
        (_answer(served, "s-00000000000000a5", token=KEY.token(waiting)), "bad_token"),
        (_answer(served, "s-00000000000000a6", token="A" * 20), "bad_token"),
        (_answer("20231117-A999", "s-00000000000000a7", token="A" * 20), "bad_token"),  # the token first
        (_answer(served, "s-00000000000000a8", suggestion="ok\x1b[31m"), "survey_invalid"),
        (_answer("20231101-A001", "s-00000000000000a9"), "survey_window_passed"),  # weeks ago
    ]
    for cmd, code in cases:
        reply = service.handle("console", "main", cmd, t + 120).reply
        assert (reply.ok, reply.code) == (False, code), (cmd.ticket_id, reply)
    # only the site's console may send it: not a gerai, not a kiosk, not another console id
    for role, device, code in (("gerai", "g1", "not_allowed"), ("kiosk", "k1", "not_allowed"),
                               ("console", "other", "unknown_device")):
        reply = service.handle(role, device, _answer(served, f"s-b{role}-{device}"), t + 130).reply
        assert reply.code == code, (role, device, reply)
    refused = [e for _, e in service.store.events() if isinstance(e, ev.CommandRefused)
               and e.action == "survey_answer"]
    assert len(refused) == len(cases) + 3  # every refusal is in the audit trail
    ok = service.handle("console", "main", _answer(served, "s-00000000000000b9"), t + 140).reply
    assert ok.code == "survey_recorded"


def test_the_window_reaches_into_the_next_day_and_survives_a_restart(config: SiteConfig, tmp_path: Path) -> None:
    store = EventStore(tmp_path / "log.db", "test")
    service = QueueService.open(config, store, at(DAY, 8), ticket_key=KEY)
    first, second = _serve(service, 2, at(DAY, 14))  # served at 14:00:02 and 14:00:03
    service.tick(at(DAY + dt.timedelta(days=1), 0, 0, 5))  # a new day opens
    store.close()
    store = EventStore(tmp_path / "log.db", "test")
    service = QueueService.open(config, store, at(DAY + dt.timedelta(days=1), 8), ticket_key=KEY)  # a restart
    assert service.engine.tickets == {}  # today's engine knows nothing of yesterday
    reply = service.handle("console", "main", _answer(first, "s-00000000000000c1"), at(DAY + dt.timedelta(days=1), 9))
    assert reply.reply.code == "survey_recorded"
    # more than 24 h after its service (answered at 14:00:10 the next day): too late
    reply = service.handle("console", "main", _answer(second, "s-00000000000000c2"),
                           at(DAY + dt.timedelta(days=1), 14, 0, 10))
    assert reply.reply.code == "survey_window_passed"
    again = QueueService.open(config, store, at(DAY + dt.timedelta(days=1), 10), ticket_key=KEY)
    reply = again.handle("console", "main", _answer(first, "s-00000000000000c3"), at(DAY + dt.timedelta(days=1), 10))
    assert reply.reply.code == "already_answered"


def test_no_key_refuses_every_answer(config: SiteConfig, tmp_path: Path) -> None:
    service = QueueService.open(config, EventStore(tmp_path / "log.db", "test"), at(DAY, 8), ticket_key=None)
    (tid,) = _serve(service, 1, at(DAY, 9))
    assert service.handle("console", "main", _answer(tid, "s-00000000000000d1"), at(DAY, 10)).reply.code == "bad_token"


def test_quick_rating_once_per_ticket_at_its_gerai(service: QueueService) -> None:
    t = at(DAY, 9)
    for i in range(3):
        service.handle("kiosk", "k1", m.TakeTicket(id=f"k1-q000000{i}", service="ktp"), t)
    service.handle("gerai", "g1", m.CallNext(id="g1-q0000001"), t + 10)  # A001 at g1
    rate = service.handle("gerai", "g1", m.QuickRating(id="g1-q0000002", score=4, ticket="A001"), t + 20)
    assert (rate.reply.ok, rate.reply.code, rate.reply.ticket) == (True, "rating_recorded", "A001")
    (event,) = [e for e in rate.events if isinstance(e, ev.QuickRated)]
    assert (event.gerai, event.service, event.score) == ("g1", "ktp", 4)
    assert service.handle("gerai", "g1", m.QuickRating(id="g1-q0000003", score=1, ticket="A001"),
                          t + 21).reply.code == "already_rated"
    assert service.handle("gerai", "g2", m.QuickRating(id="g2-q0000001", score=1, ticket="A001"),
                          t + 22).reply.code == "not_served_here"
    assert service.handle("gerai", "g1", m.QuickRating(id="g1-q0000004", score=1, ticket="A003"),
                          t + 22).reply.code == "not_served_here"  # still waiting: never called here
    assert service.handle("kiosk", "k1", m.QuickRating(id="k1-r0000001", score=1), t + 23).reply.code == "not_allowed"
    # without a ticket: the current one, else the last one this gerai finished
    service.handle("gerai", "g1", m.CallNext(id="g1-q0000005"), t + 30)  # A001 served, A002 called
    service.handle("gerai", "g1", m.Done(id="g1-q0000006"), t + 40)  # A002 served
    last = service.handle("gerai", "g1", m.QuickRating(id="g1-q0000007", score=2), t + 50)
    assert (last.reply.code, last.reply.ticket) == ("rating_recorded", "A002")
    service.handle("gerai", "g1", m.CallNext(id="g1-q0000008"), t + 60)  # A003 called
    service.handle("gerai", "g1", m.NoShow(id="g1-q0000009"), t + 70)
    assert service.handle("gerai", "g1", m.QuickRating(id="g1-q000000a", score=3, ticket="A003"),
                          t + 80).reply.code == "not_served"
    assert service.handle("gerai", "g3", m.QuickRating(id="g3-q0000001", score=3), t + 80).reply.code == "no_current"
    # 10 minutes after a ticket was finished it may no longer be rated from the pad
    service.handle("kiosk", "k1", m.TakeTicket(id="k1-q0000009", service="ktp"), t + 700)
    service.handle("gerai", "g1", m.CallNext(id="g1-q000000c"), t + 710)
    service.handle("gerai", "g1", m.Done(id="g1-q000000d"), t + 720)
    stale = service.handle("gerai", "g1", m.QuickRating(id="g1-q000000e", score=3, ticket="A004"), t + 720 + 601)
    assert stale.reply.code == "survey_window_passed"


# ---------------------------------------------------------------------------- over a real broker

@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with running_site("mosquitto", tmp_path, central={"call_guard_s": 0}) as s:
        yield s


GARBAGE = [
    b'{"v":1,"kind":"survey_answer","id":"s-garbage-0001","ticket_id":"20231117-A001","token":"AAAAAAAAAAAAAAAAAAAA",'
    b'"scores":[5,4,4,4,4,4,4,4,4]}',
    b'{"v":1,"kind":"survey_answer","id":"s-garbage-0002","ticket_id":"20231117-A001","token":"AAAAAAAAAAAAAAAAAAAA",'
    b'"scores":[4,4,4,4,4,4,4,4]}',
    b'{"v":1,"kind":"survey_answer","id":"s-garbage-0003","ticket_id":"20231117-A001","token":"AAAAAAAAAAAAAAAAAAAA",'
    b'"scores":[4,4,4,4,4,4,4,4,4],"profile":{"age":"17"}}',
    b'{"v":1,"kind":"survey_answer","id":"s-garbage-0004","ticket_id":"20231117-A001","token":"<script>",'
    b'"scores":[4,4,4,4,4,4,4,4,4]}',
    b'{"v":1,"kind":"survey_answer","id":"s-garbage-0005","ticket_id":"../../etc","token":"AAAAAAAAAAAAAAAAAAAA",'
    b'"scores":[4,4,4,4,4,4,4,4,4]}',
    b'{"v":1,"kind":"survey_answer","id":"s-garbage-0006","ticket_id":"20231117-A001","token":"AAAAAAAAAAAAAAAAAAAA",'
    b'"scores":[4,4,4,4,4,4,4,4,4],"suggestion":"' + b"x" * 401 + b'"}',
    b'{"v":1,"kind":"survey_answer","id":"s-garbage-0007","ticket_id":"20231117-A001","token":"AAAAAAAAAAAAAAAAAAAA",'
    b'"scores":[4,4,4,4,4,4,4,4,4],"suggestion":"\xff\xfe"}',
    b'{"v":1,"kind":"survey_answer","id":"s-garbage-0008","scores":' + b"[" * 500 + b"]" * 500 + b"}",
    b'{"v":1,"kind":"survey_answer","id":"s-garbage-0009","ticket_id":"20231117-A001","token":"AAAAAAAAAAAAAAAAAAAA",'
    b'"scores":[4,4,4,4,4,4,4,4,4],"suggestion":"' + "é".encode() * 1200 + b'"}',
    b'{"v":1,"kind":"survey_answer","id":"s-garbage-0010","ticket_id":"20231117-A001","token":"AAAAAAAAAAAAAAAAAAAA",'
    b'"scores":[4,4,4,4,4,4,4,4,4],"user":"admin"}',
]


def test_over_a_real_broker_answers_once_and_garbage_is_answered_cleanly(stack: Stack) -> None:
    site = stack.site
    key = TicketKey(site.secrets.keys["ticket-page"], site.config.site_id)
    kiosk = Device(site, Role.KIOSK, "k1")
    gerai = Device(site, Role.GERAI, "g1")
    topics = kiosk.topics
    console = Device(site, Role.CONSOLE, site.config.console.id,
                     subscribe=[topics.device(Role.CONSOLE, site.config.console.id, Channel.REPLY)])
    try:
        issued = kiosk.request(m.TakeTicket(id="k1-00000001", service="ktp", print=False))
        day = dt.datetime.fromtimestamp(time.time(), site.config.zone).strftime("%Y%m%d")
        tid = f"{day}-{issued.ticket}"
        early = console.request(_answer(tid, "s-real-00000001", token=key.token(tid)))
        assert early.code == "not_served"
        assert gerai.request(m.CallNext(id="g1-00000001")).code == "called"
        assert gerai.request(m.QuickRating(id="g1-00000002", score=4, ticket=issued.ticket)).code == "rating_recorded"
        assert gerai.request(m.Done(id="g1-00000003")).code == "served"
        for payload in GARBAGE:
            console.publish_raw(payload)
        expected = {codec.answer_id(p) for p in GARBAGE}
        wait_for(lambda: expected <= set(console.replies), 20, "an answer to every garbage payload")
        codes = {console.replies[codec.answer_id(p)].code for p in GARBAGE}
        assert all(not console.replies[c].ok for c in expected)
        assert codes <= {"invalid_message", "malformed_json", "too_deep", "oversized"}, codes
        assert {"invalid_message", "malformed_json", "too_deep", "oversized"} == codes
        answer = _answer(tid, "s-real-00000002", token=key.token(tid))
        ok = console.request(answer)
        assert (ok.ok, ok.code) == (True, "survey_recorded")
        console.replies.pop(answer.id)
        assert console.request(answer) == ok  # a resend: the first reply again
        assert console.request(_answer(tid, "s-real-00000003", token=key.token(tid))).code == "already_answered"
        # a gerai cannot send it, even with the right token
        assert gerai.request(_answer(tid, "g1-00000004", token=key.token(tid))).code == "not_allowed"
        assert stack.central.alive() and "Traceback" not in stack.central.output()
        audit = subprocess.run([sys.executable, "-m", "antre", "audit", "--config", str(site.config_path)],
                               capture_output=True, text=True, check=True).stdout
        assert f"SKM answer for {tid} (ktp at g1, phone): 4 3 3 4 3 4 4 3 3" in audit
        assert f"g1: quick rating 4 for {tid}" in audit
        assert "refused survey_answer: already_answered" in audit
    finally:
        for d in (kiosk, gerai, console):
            d.close()


def test_the_four_key_pad_rates_through_the_real_edge_agent(stack: Stack) -> None:
    from antre.edge.config import parse_device
    from antre.edge.setup import assemble

    site = stack.site
    text = site.agent_config("gerai", "g1", extra={
        "gestures": {"debounce_ms": 20}, "button": [{"name": "utama", "pin": 17, "press": "call_next"}],
        "rating": {"pins": [5, 6, 13, 19], "hold_ms": 800, "lockout_ms": 300}, "display": {"type": "ssd1306"}})
    assembly = assemble(parse_device(text, "g1.toml"), mock=True)
    agent = assembly.agent
    replies: list[m.Reply] = []
    got = threading.Condition()

    def listen(channel: Channel, msg: m.Message) -> None:
        if isinstance(msg, m.Reply):
            with got:
                replies.append(msg)
                got.notify_all()

    agent.listeners.append(listen)
    agent.start()
    kiosk = Device(site, Role.KIOSK, "k1")
    try:
        assert agent.ready.wait(15)
        assert kiosk.request(m.TakeTicket(id="k1-00000001", service="ktp", print=False)).ok
        factory = assembly.pin_factory
        assert assembly.rating is not None

        def tap(pin: int) -> None:
            factory.pin(pin).drive_low()
            threading.Event().wait(0.12)  # a person's tap, longer than the 20 ms debounce
            factory.pin(pin).drive_high()

        tap(13)  # key 3 before anything was served here: refused at the gerai itself, nothing sent
        assert assembly.rating.wait_idle(3)
        wait_for(lambda: agent.notice is not None and "BELUM ADA NOMOR" in agent.notice[0], 5, "the pad's refusal")
        threading.Event().wait(0.4)  # past the pad's lockout (a press counts, even one refused at the gerai)
        tap(17)  # the call button: A001 called
        wait_for(lambda: agent.state is not None and agent.state.ticket == "A001", 10, "A001 on g1's display")
        tap(19)  # key 4
        with got:
            assert got.wait_for(lambda: any(r.code == "rating_recorded" for r in replies), 10)
        wait_for(lambda: agent.notice is not None and agent.notice[0] == "TERIMA KASIH", 5, "thanks on the display")
        threading.Event().wait(0.4)  # past the pad's lockout
        tap(5)  # key 1: the same ticket again
        with got:
            assert got.wait_for(lambda: any(r.code == "already_rated" for r in replies), 10)
        rated = subprocess.run([sys.executable, "-m", "antre", "audit", "--config", str(site.config_path)],
                               capture_output=True, text=True, check=True).stdout
        assert rated.count("quick rating 4 for") == 1 and "quick rating 1" not in rated
    finally:
        kiosk.close()
        assembly.close()


def test_what_the_ticket_page_shows_at_each_stage(service: QueueService) -> None:
    from antre.console.ticket import ticket_view

    def view(tid: str, now: float) -> tuple[str, int | None, str]:
        v = ticket_view(service.engine, service.feedback, tid, now, 3)
        assert v is not None
        return v.stage, v.ahead, v.gerai_name

    t = at(DAY, 9)
    ids = [service.handle("kiosk", "k1", m.TakeTicket(id=f"k1-v{i:07d}", service="ktp"), t).print_jobs[0].ticket_id
           for i in range(6)]
    assert view(ids[5], t) == ("waiting", 5, "")
    assert ticket_view(service.engine, service.feedback, ids[5], t, 3).est_wait_min == 15  # 5 x 6 min / 2 gerai
    service.handle("gerai", "g1", m.CallNext(id="g1-v0000001"), t + 1)
    service.handle("gerai", "g2", m.CallNext(id="g2-v0000001"), t + 2)
    assert view(ids[5], t + 3) == ("almost", 3, "")  # at most 3 ahead: "Hampir giliran Anda"
    assert view(ids[0], t + 3) == ("called", None, "Gerai 1")
    service.handle("gerai", "g1", m.Transfer(id="g1-v0000002", service="kk"), t + 4)  # A001 to kk
    transferred = ticket_view(service.engine, service.feedback, ids[0], t + 5, 3)
    assert transferred is not None and transferred.transferred and transferred.service_name == "Kartu Keluarga"
    service.handle("gerai", "g2", m.NoShow(id="g2-v0000002"), t + 6)
    assert view(ids[1], t + 7)[0] == "no_show"
    service.handle("gerai", "g3", m.CallNext(id="g3-v0000001"), t + 8)  # g3 calls A001 at kk
    service.handle("gerai", "g3", m.Done(id="g3-v0000002"), t + 9)
    assert view(ids[0], t + 10) == ("survey", None, "Gerai 3")
    service.handle("console", "main", _answer(ids[0], "s-v000000000001"), t + 11)
    assert view(ids[0], t + 12)[0] == "answered"
    service.handle("kiosk", "k1", m.PrintAck(id="k1-v0000010", job=f"p-{ids[4]}", ok=False, status="paper_out"), t + 13)
    assert view(ids[4], t + 14)[0] == "unprinted"
    service.handle("kiosk", "k1", m.VoidTicket(id="k1-v0000011", ticket=ids[4][-4:], reason="warga pulang"), t + 15)
    assert view(ids[4], t + 16)[0] == "gone"
    assert ticket_view(service.engine, service.feedback, "20231117-A999", t, 3) is None
    # served, unanswered, past the window: thanks without the form
    service.handle("gerai", "g1", m.CallNext(id="g1-v0000003"), t + 20)
    service.handle("gerai", "g1", m.Done(id="g1-v0000004"), t + 21)
    served = service.engine.find("A003")
    assert served is not None and view(served.id, t + 22)[0] == "survey"
    assert view(served.id, t + 21 + 24 * 3600 + 1)[0] == "done"
