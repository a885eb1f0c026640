"""The console's alarms: a crowd alarm is one alarm whose count is updated in place (one history row,
"sejak" when it was first raised); while the console has no broker, what it last heard of devices
raises no OFFLINE alarms but one "konsol tidak terhubung ke broker"; device faults read in Indonesian."""

from __future__ import annotations

from pathlib import Path

import pytest

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Channel, Role, Topics
from antre.central.config import SiteConfig
from antre.console.accounts import Accounts
from antre.console.live import BROKER_ALARM, LiveSite, fault_text
from antre.console.web import Console

NOW = 1700198100.0


def _service(config: SiteConfig, service: str, waiting: int, rev: int) -> tuple[str, bytes]:
    svc = config.services[service]
    state = m.ServiceState(service=service, name=svc.name, agency="x", prefix=svc.prefix, open=True, waiting=waiting,
                           rev=rev, ts=NOW + rev)
    return Topics(config.site_id).service_state(service), codec.encode(state)


def _presence(config: SiteConfig, role: Role, device: str, online: bool) -> tuple[str, bytes]:
    p = m.Presence(role=role.value, device=device, online=online, version="1", ts=NOW)  # type: ignore[arg-type]
    return Topics(config.site_id).device(role, device, Channel.PRESENCE), codec.encode(p)


@pytest.fixture
def console(small_site: SiteConfig, tmp_path: Path) -> Console:
    c = Console(small_site, Accounts(tmp_path / "console.db"), None, None)
    c.live.set_connected(True, NOW - 10)
    return c


def test_a_crowd_alarm_is_one_alarm_whose_count_changes_in_place(console: Console) -> None:
    live = console.live
    limit = console.config.console.crowd_waiting
    since = None
    for rev, waiting in enumerate(range(limit + 1, limit + 9), start=1):
        live.ingest(*_service(console.config, "ktp", waiting, rev), NOW + rev)
        console._evaluate()
        alarm = live.alarms["crowd:ktp"]
        since = since or alarm.since
        assert alarm.since == since  # "sejak" is when it was first raised
        assert f"{waiting} menunggu" in alarm.text
    history = console.accounts.alarm_history()
    crowd = [a for a in history if a.key == "crowd:ktp"]
    assert len(crowd) == 1, crowd  # one row, not one per count
    assert f"{limit + 8} menunggu" in crowd[0].text and crowd[0].ended is None
    live.ingest(*_service(console.config, "ktp", 0, 99), NOW + 99)
    console._evaluate()
    assert "crowd:ktp" not in live.alarms
    assert [a.ended is not None for a in console.accounts.alarm_history() if a.key == "crowd:ktp"] == [True]


def test_a_printer_warning_that_becomes_a_fault_is_a_new_alarm(console: Console) -> None:
    topic = Topics(console.config.site_id).device(Role.KIOSK, "k1", Channel.HEALTH)
    for n, printer in enumerate(("paper_near_end", "paper_out")):
        health = m.Health(role="kiosk", device="k1", version="1", uptime_s=5 + n, ts=NOW + n, printer=printer)
        console.live.ingest(topic, codec.encode(health), NOW + n)
        console._evaluate()
    rows = [a for a in console.accounts.alarm_history() if a.key == "device:kiosk/k1:printer"]
    assert [a.text for a in rows] == ["printer: kertas habis (paper_out)", "printer: kertas hampir habis (paper_near_end)"]
    assert rows[0].ended is None and rows[1].ended is not None


def test_without_a_broker_the_console_raises_its_own_alarm_not_the_devices(small_site: SiteConfig) -> None:
    live = LiveSite(small_site)
    live.set_connected(True, NOW - 10)
    for gid in small_site.gerai:
        live.ingest(*_presence(small_site, Role.GERAI, gid, True), NOW)
    started, _ = live.evaluate(NOW)
    assert not [a for a in live.alarms if a.endswith(":offline")]
    # the broker goes down: its wills arrive just before the console's own connection drops
    for gid in small_site.gerai:
        live.ingest(*_presence(small_site, Role.GERAI, gid, False), NOW + 1)
    live.set_connected(False, NOW + 1)
    live.evaluate(NOW + 2)
    assert [k for k in live.alarms if k.startswith(("device:", "central"))
            and (k.endswith((":offline", ":never")) or k == "central")] == []
    assert live.alarms[BROKER_ALARM].text.startswith("konsol tidak terhubung ke broker")
    # back: once the retained messages are in, a gerai really offline is an alarm again
    live.set_connected(True, NOW + 3)
    live.evaluate(NOW + 10)
    assert BROKER_ALARM not in live.alarms
    assert "device:gerai/g1:offline" in live.alarms


@pytest.mark.parametrize(("fault", "shown"), [
    ("printer: 1 ticket(s) not printed yet: A011", "printer: 1 tiket belum tercetak: A011"),
    ("printer: paper_out (KERTAS HABIS)", "printer: kertas habis (paper_out): KERTAS HABIS"),
    ("clock: this device's clock is 95 s behind the central's (presses are stamped from the link; fix NTP for the logs)",
     "jam perangkat terlambat 95 dtk"),
    ("wifi: weak signal -82 dBm", "sinyal Wi-Fi lemah (-82 dBm)"),
    ("heap: only 9000 bytes free", "memori hampir habis (9000 byte tersisa)"),
    ("reset: watchdog (the last boot ended in a hang)", "dinyalakan ulang oleh watchdog"),
    ("display: write failed", "layar gagal ditulis"),
    ("button utama on GPIO17: pin busy", "tombol utama (GPIO17) bermasalah: pin busy"),
    ("something new", "something new"),
])
def test_device_faults_read_in_indonesian(fault: str, shown: str) -> None:
    assert fault_text(fault).startswith(shown)
