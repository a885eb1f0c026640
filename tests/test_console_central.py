"""The central's side of the operations console: console_cmd from the console's identity only,
roles checked, the acting user in every event and in `antre audit`, day control (stop issuing,
today's quota, lobby message) replayed from the log like everything else."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from antre.broker.wire import messages as m
from antre.central.audit import print_audit
from antre.central.config import SiteConfig
from antre.central.service import QueueService
from antre.central.store import EventStore
from antre.central import views
from tests.conftest import at

DAY = dt.date(2023, 11, 17)


@pytest.fixture
def service(small_site: SiteConfig, tmp_path: Path) -> QueueService:
    return QueueService.open(small_site, EventStore(tmp_path / "log.db", "test"), at(DAY, 8))


def _by(n: int, user: str, role: str, command: m.ConsoleAction, gerai: str | None = None) -> m.ConsoleCommand:
    return m.ConsoleCommand(id=f"c-{user}-{n:08d}", user=user, user_role=role, gerai=gerai,  # type: ignore[arg-type]
                            command=command)


def test_a_counter_action_from_the_console_is_the_gerais_own_and_names_the_user(service: QueueService,
                                                                                    tmp_path: Path) -> None:
    t = at(DAY, 9)
    service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000001", service="ktp"), t)
    h = service.handle("console", "main", _by(1, "siti", "staff", m.CallNext(id="x-00000000"), "g1"), t + 1)
    assert h.reply.ok and h.reply.code == "called" and h.reply.ticket == "A001"
    assert "g1" in h.touched_gerai and h.announcements  # the display and the lobby follow at once
    assert service.engine.current_of("g1") is not None
    called = [e for e in h.events if type(e).__name__ == "TicketCalled"]
    assert called and called[0].by == "siti" and called[0].actor == "g1" and called[0].cmd == "c-siti-00000001"
    transfer = service.handle("console", "main", _by(2, "siti", "staff", m.Transfer(id="x-00000000", service="kk",
                                                                                     note="perlu KK"), "g1"), t + 2)
    assert transfer.reply.code == "transferred"
    out = io.StringIO()
    print_audit(service.config, service.store, DAY, out)
    trail = out.getvalue()
    assert "g1: called 20231117-A001 (next) by siti (console)" in trail
    assert "transferred 20231117-A001 to kk note: perlu KK by siti (console)" in trail
    # the same console command again (a browser's double submit): answered once, applied once
    again = service.handle("console", "main", _by(2, "siti", "staff", m.Transfer(id="x-00000000", service="kk"),
                                                  "g1"), t + 3)
    assert again.duplicate and again.reply == transfer.reply


@pytest.mark.parametrize(("role", "command", "gerai"), [
    ("technician", m.CallNext(id="x-00000000"), "g1"),
    ("staff", m.StopIssuing(id="x-00000000", service="ktp", reason="penuh"), None),
    ("staff", m.SetQuota(id="x-00000000", service="ktp", quota=3), None),
    ("technician", m.LobbyMessage(id="x-00000000", text="halo"), None),
])
def test_the_central_refuses_what_a_role_may_not_do(service: QueueService, role: str,
                                                    command: m.ConsoleAction, gerai: str | None) -> None:
    h = service.handle("console", "main", _by(1, "budi", role, command, gerai), at(DAY, 9))
    assert not h.reply.ok and h.reply.code == "not_permitted"
    refused = h.events[-1]
    assert refused.by == "budi" and refused.actor == "console.main"  # type: ignore[union-attr]


def test_only_the_sites_console_and_only_console_commands(service: QueueService) -> None:
    t = at(DAY, 9)
    other = service.handle("console", "rogue", _by(1, "x1", "admin", m.CallNext(id="x-00000000"), "g1"), t)
    assert other.reply.code == "unknown_device"
    bare = service.handle("console", "main", m.CallNext(id="c-00000001"), t)
    assert bare.reply.code == "not_allowed"
    # a device can neither send day control nor speak for the console
    for device_role, device in (("gerai", "g1"), ("kiosk", "k1")):
        for n, cmd in enumerate([m.StopIssuing(id=f"{device}-0000001", service="ktp", reason="penuh"),
                                 _by(9, "siti", "admin", m.CallNext(id="x-00000000"), "g1")]):
            h = service.handle(device_role, device, msgspec_replace_id(cmd, f"{device}-000001{n}"), t)
            assert not h.reply.ok and h.reply.code == "not_allowed", (device_role, cmd)
    unknown = service.handle("console", "main", _by(3, "siti", "staff", m.Done(id="x-00000000"), "g99"), t)
    assert unknown.reply.code == "unknown_device"
    assert service.engine.stats["ktp"].issued == 0


def msgspec_replace_id(cmd: m.AnyCommand, new_id: str) -> m.AnyCommand:
    import msgspec

    return msgspec.structs.replace(cmd, id=new_id)


def test_day_control_stop_quota_message_and_replay(service: QueueService, small_site: SiteConfig,
                                                    tmp_path: Path) -> None:
    t = at(DAY, 9)
    assert service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000001", service="ktp"), t).reply.ok
    stop = service.handle("console", "main", _by(1, "rina", "supervisor",
                                                 m.StopIssuing(id="x-00000000", service="ktp",
                                                               reason="kapasitas penuh")), t + 1)
    assert stop.reply.ok and stop.reply.code == "stopped"
    refused = service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000002", service="ktp"), t + 2)
    assert not refused.reply.ok and refused.reply.code == "issuing_stopped" and "KTP-el" in refused.reply.text_id
    board = views.board(service.engine, t + 2, 1)
    assert [s.issuing for s in board.services if s.service == "ktp"] == [False]
    assert not views.service_state(service.engine, "ktp", t + 2, 1).issuing  # contract 2 readers see it too
    assert "ktp" in stop.touched_services  # and the central republishes it at once
    again = service.handle("console", "main", _by(2, "rina", "supervisor",
                                                  m.StopIssuing(id="x-00000000", service="ktp", reason="lagi")), t + 3)
    assert again.reply.code == "issuing_stopped"
    assert service.handle("console", "main", _by(3, "rina", "supervisor",
                                                 m.ResumeIssuing(id="x-00000000", service="ktp")), t + 4).reply.ok
    quota = service.handle("console", "main", _by(4, "rina", "admin",
                                                  m.SetQuota(id="x-00000000", service="ktp", quota=2)), t + 5)
    assert quota.reply.code == "quota_set" and "2" in quota.reply.text_id
    assert service.engine.remaining_quota("ktp") == 1
    assert service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000003", service="ktp"), t + 6).reply.ok
    full = service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000004", service="ktp"), t + 7)
    assert full.reply.code == "quota_exhausted" and "(2)" in full.reply.text_id
    message = service.handle("console", "main", _by(5, "rina", "supervisor",
                                                    m.LobbyMessage(id="x-00000000", text="  KTP sampai 14.00 ")), t + 8)
    assert message.reply.code == "message_set"
    assert views.board(service.engine, t + 8, 2).message == "KTP sampai 14.00"
    assert message.calls_changed and views.calls(service.engine, t + 8, 2).message == "KTP sampai 14.00"
    # a lobby assembles it from the retained calls (contract 2) and shows it as its running text
    from antre.broker.wire import codec
    from antre.broker.wire.feed import SiteFeed

    feed = SiteFeed("test")
    assert feed.offer("antre/v1/test/calls", codec.encode(views.calls(service.engine, t + 8, 2)))
    assert feed.board().message == "KTP sampai 14.00"
    # the whole day comes back from the log
    rebuilt = QueueService.open(small_site, service.store, t + 9)
    assert rebuilt.engine.snapshot() == service.engine.snapshot()
    assert rebuilt.engine.quota_of("ktp") == 2 and rebuilt.engine.lobby_message == "KTP sampai 14.00"
    out = io.StringIO()
    print_audit(small_site, service.store, DAY, out)
    trail = out.getvalue()
    assert "console.main: stopped issuing for ktp, reason: kapasitas penuh by rina (console)" in trail
    assert "console.main: today's quota of ktp set to 2 by rina (console)" in trail
    # a new day starts from the site file again
    next_day = service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000005", service="ktp"), t + 86400)
    assert next_day.reply.ok and service.engine.quota_of("ktp") == 60 and service.engine.lobby_message == ""


def test_suggested_capacity(service: QueueService) -> None:
    t = at(DAY, 23)  # the small site is open until 24:00: 60 minutes left, two gerai serve ktp (6 min each)
    for i in range(5):
        service.handle("kiosk", "k1", m.TakeTicket(id=f"k1-0000000{i}", service="ktp"), t)
    assert service.engine.capacity_left("ktp", t) == 60 * 2 // 6 - 5


def test_staff_reprint_at_the_counter_prints_there_and_a_failure_there_strands_nobody(service: QueueService) -> None:
    """The counter terminal's reprint is the gerai's own ``reprint``: its print job goes to that gerai's
    printer, the audit names the person, and a failed print there leaves the ticket as it was (only the
    issuer's print decides whether a citizen holds it).  A gerai reprints only the ticket it serves or
    one whose print failed: a second paper of a waiting number would put two people in one place."""
    t = at(DAY, 9)
    for n in (1, 2, 3):
        assert service.handle("kiosk", "k1", m.TakeTicket(id=f"k1-0000000{n}", service="ktp"), t).reply.ok
    for n in (1, 2):
        assert service.handle("kiosk", "k1", m.PrintAck(id=f"k1-0000001{n}", job=f"p-20231117-A00{n}", ok=True),
                              t).reply.ok
    waiting = service.handle("console", "main", _by(1, "siti", "staff", m.Reprint(id="x-00000000", ticket="A002"),
                                                    "g1"), t + 1)
    assert waiting.reply.code == "not_reprintable" and not waiting.print_jobs
    assert service.handle("console", "main", _by(2, "siti", "staff", m.CallNext(id="x-00000000"), "g1"),
                          t + 2).reply.ticket == "A001"
    h = service.handle("console", "main", _by(3, "siti", "staff", m.Reprint(id="x-00000000", ticket="A001"), "g1"),
                       t + 3)
    assert h.reply.ok and h.reply.code == "reprinted" and h.reply.ticket == "A001"
    assert [job.ticket for job in h.print_jobs] == ["A001"] and h.print_to == ("gerai", "g1")
    assert h.events[-1].actor == "g1" and h.events[-1].by == "siti"  # type: ignore[union-attr]
    # the counter's printer is out of paper: nothing changes for the ticket
    failed = service.handle("gerai", "g1", m.PrintAck(id="g1-00000001", job="p-20231117-A001", ok=False,
                                                       status="paper_out"), t + 4)
    assert failed.reply.ok
    ticket = service.engine.find("A001")
    assert ticket is not None and ticket.status.value == "called" and ticket.print_status == "printed"
    # A003's kiosk print failed: nobody holds it, it stops waiting; the citizen comes to the counter
    # and staff print it there: printed at last, it waits in its own place again
    service.handle("kiosk", "k1", m.PrintAck(id="k1-00000013", job="p-20231117-A003", ok=False, status="paper_out"),
                   t + 5)
    third = service.engine.find("A003")
    assert third is not None and third.status.value == "unprinted"
    assert service.handle("console", "main", _by(4, "siti", "staff", m.Reprint(id="x-00000000", ticket="A003"),
                                                 "g1"), t + 6).reply.ok
    service.handle("gerai", "g1", m.PrintAck(id="g1-00000002", job="p-20231117-A003", ok=False, status="paper_out"),
                   t + 7)
    assert third.status.value == "unprinted"  # a failed counter print changes nothing either way
    service.handle("gerai", "g1", m.PrintAck(id="g1-00000003", job="p-20231117-A003", ok=True), t + 8)
    assert third.status.value == "waiting"
    # a technician acts on no queue
    refused = service.handle("console", "main", _by(5, "teguh", "technician",
                                                    m.Reprint(id="x-00000000", ticket="A001"), "g1"), t + 9)
    assert refused.reply.code == "not_permitted"
    out = io.StringIO()
    print_audit(service.config, service.store, DAY, out)
    assert "by siti (console)" in out.getvalue() and "reprint" in out.getvalue()


def test_a_console_action_names_the_ticket_it_saw_and_is_refused_on_another(service: QueueService) -> None:
    """Two browsers and the button at one gerai: an action sent for the ticket on the sender's screen
    is refused (not_current) when the gerai serves another by then, and changes nothing."""
    t = at(DAY, 9)
    for n in range(1, 5):
        assert service.handle("kiosk", "k1", m.TakeTicket(id=f"k1-0000000{n}", service="ktp", print=False), t).reply.ok
    siti = service.handle("console", "main", _by(1, "siti", "staff", m.CallNext(id="x-00000000", expect="-"), "g1"),
                          t + 1)
    assert siti.reply.ticket == "A001"
    # dewi's page still showed no ticket: her call does not call a second citizen and close A001 at once
    dewi = service.handle("console", "main", _by(1, "dewi", "staff", m.CallNext(id="x-00000000", expect="-"), "g1"),
                          t + 1.2)
    assert dewi.reply.code == "not_current" and "A001" in dewi.reply.text_id
    # the button calls A002 (it says nothing of what it saw); siti's no-show for A001 then refused
    assert service.handle("gerai", "g1", m.CallNext(id="g1-00000001"), t + 3).reply.ticket == "A002"
    late = service.handle("console", "main", _by(2, "siti", "staff", m.NoShow(id="x-00000000", expect="A001"), "g1"),
                          t + 3.5)
    assert late.reply.code == "not_current" and not [e for e in late.events if type(e).__name__ != "CommandRefused"]
    a2 = service.engine.find("A002")
    assert a2 is not None and a2.status.value == "called"  # not marked no-show by an action meant for A001
    ok = service.handle("console", "main", _by(3, "siti", "staff", m.Done(id="x-00000000", expect="A002"), "g1"),
                        t + 4)
    assert ok.reply.ok and a2.status.value == "served"
    for n, cmd in enumerate([m.Transfer(id="x-00000000", service="kk", expect="A002"),
                             m.Recall(id="x-00000000", expect="A002"),
                             m.CallTicket(id="x-00000000", ticket="A004", reason="berkas susulan", expect="A002")]):
        refused = service.handle("console", "main", _by(10 + n, "siti", "staff", cmd, "g1"), t + 5)
        assert refused.reply.code == "not_current", cmd


def test_a_devices_health_counts_in_the_order_it_arrives_not_by_its_clock(small_site: SiteConfig) -> None:
    """A kiosk whose clock was an hour ahead, then corrected by NTP: its next report (paper out) is the
    one shown and alarmed, and its last-seen time is never in the future."""
    from antre.broker.wire import codec
    from antre.broker.wire.topics import Channel, Role, Topics
    from antre.console.live import LiveSite

    live = LiveSite(small_site)
    live.connected = True
    topic = Topics("test").device(Role.KIOSK, "k1", Channel.HEALTH)
    now = 1700198100.0
    ahead = m.Health(role="kiosk", device="k1", version="1", uptime_s=5, ts=now + 3600, printer="ok")
    fixed = m.Health(role="kiosk", device="k1", version="1", uptime_s=35, ts=now + 30, printer="paper_out")
    assert live.ingest(topic, codec.encode(ahead), now)
    assert live.ingest(topic, codec.encode(fixed), now + 30)
    started, _ = live.evaluate(now + 30)
    assert "device:kiosk/k1:printer" in {a.key for a in started}
    row = [d for d in live.devices(now + 30) if d.id == "k1"][0]
    assert row.printer == "paper_out" and row.last_seen is not None and row.last_seen <= now + 30


def test_a_button_press_right_after_a_console_call_at_that_gerai_is_a_double_press(service: QueueService) -> None:
    t = at(DAY, 9)
    for n in (1, 2):
        assert service.handle("kiosk", "k1", m.TakeTicket(id=f"k1-0000000{n}", service="ktp", print=False), t).reply.ok
    call = m.ConsoleCommand(id="c-siti-00000001", ts=t + 1, user="siti", user_role="staff", gerai="g1",
                            command=m.CallNext(id="x-00000000", expect="-"))
    assert service.handle("console", "main", call, t + 1).reply.ticket == "A001"
    pressed = service.handle("gerai", "g1", m.CallNext(id="g1-00000001", ts=t + 1.8), t + 1.8)
    assert pressed.reply.code == "double_press" and "A001" in pressed.reply.text_id
    later = service.handle("gerai", "g1", m.CallNext(id="g1-00000002", ts=t + 4), t + 4)
    assert later.reply.code == "called" and later.reply.ticket == "A002"
