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
    issuer's print decides whether a citizen holds it)."""
    t = at(DAY, 9)
    assert service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000001", service="ktp"), t).reply.ok
    assert service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000002", service="ktp"), t).reply.ok
    printed = service.handle("kiosk", "k1", m.PrintAck(id="k1-00000003", job="p-20231117-A002", ok=True), t)
    assert printed.reply.ok
    h = service.handle("console", "main", _by(1, "siti", "staff", m.Reprint(id="x-00000000", ticket="A002"), "g1"),
                       t + 1)
    assert h.reply.ok and h.reply.code == "reprinted" and h.reply.ticket == "A002"
    assert [job.ticket for job in h.print_jobs] == ["A002"] and h.print_to == ("gerai", "g1")
    assert h.events[-1].actor == "g1" and h.events[-1].by == "siti"  # type: ignore[union-attr]
    # the counter's printer is out of paper: the citizen still holds the kiosk's ticket, which waits on
    failed = service.handle("gerai", "g1", m.PrintAck(id="g1-00000001", job="p-20231117-A002", ok=False,
                                                       status="paper_out"), t + 2)
    assert failed.reply.ok
    ticket = service.engine.find("A002")
    assert ticket is not None and ticket.status.value == "waiting" and ticket.print_status == "printed"
    # a ticket whose kiosk print is still unacknowledged is not stranded by a counter's failure either
    assert service.handle("console", "main", _by(2, "siti", "staff", m.Reprint(id="x-00000000", ticket="A001"),
                                                 "g1"), t + 3).reply.ok
    service.handle("gerai", "g1", m.PrintAck(id="g1-00000002", job="p-20231117-A001", ok=False, status="paper_out"),
                   t + 4)
    first = service.engine.find("A001")
    assert first is not None and first.status.value == "waiting"
    # ... while the kiosk's own failed print does (nobody holds it: it stops waiting)
    service.handle("kiosk", "k1", m.PrintAck(id="k1-00000004", job="p-20231117-A001", ok=False, status="paper_out"),
                   t + 5)
    assert first.status.value == "unprinted"
    # a technician acts on no queue; staff of another service's gerai are refused by the engine
    refused = service.handle("console", "main", _by(3, "teguh", "technician",
                                                    m.Reprint(id="x-00000000", ticket="A002"), "g1"), t + 6)
    assert refused.reply.code == "not_permitted"
    out = io.StringIO()
    print_audit(service.config, service.store, DAY, out)
    assert "by siti (console)" in out.getvalue() and "reprint" in out.getvalue()
