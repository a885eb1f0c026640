"""No ticket while the central's clock is not synchronised (``clock_unsynced``)."""

from __future__ import annotations

import datetime as dt
import io
import logging
import sys
from pathlib import Path

import pytest

from antre.broker.link.client import BrokerAddress
from antre.broker.wire import messages as m
from antre.central import events as ev
from antre.central.audit import print_audit
from antre.central.clocksync import MAXERROR_UNSYNCED_US, ClockGate, ClockState, kernel_clock
from antre.central.config import SiteConfig, parse_site
from antre.central.runner import CentralRunner
from antre.central.service import QueueService
from antre.central.store import EventStore
from antre.central.texts import TEXTS
from tests.conftest import SMALL_SITE, at

DAY = dt.date(2023, 11, 17)


@pytest.mark.skipif(sys.platform != "linux", reason="adjtimex is Linux's")
def test_the_kernel_is_asked_read_only() -> None:
    state = kernel_clock()
    assert state.error is None, state
    assert state.maxerror_us is not None and state.status is not None
    assert state.synced == (state.maxerror_us < MAXERROR_UNSYNCED_US)  # timedatectl's rule
    assert "kernel max error" in state.describe()


def test_gate_asks_the_kernel_at_most_every_recheck_and_logs_each_change(caplog: pytest.LogCaptureFixture) -> None:
    states = [ClockState(False, 16_000_000, 0x40), ClockState(True, 20_000, 0x2001)]
    asked: list[int] = []
    now = [100.0]

    def probe() -> ClockState:
        asked.append(1)
        return states[0]

    gate = ClockGate(probe, recheck_s=2.0, monotonic=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="antre.central.clocksync"):
        assert gate() is False
        assert gate() is False and len(asked) == 1  # cached
        now[0] += 2.5
        states.pop(0)
        assert gate() is True and len(asked) == 2
        now[0] += 2.5
        assert gate() is True
    messages = [r.getMessage() for r in caplog.records]
    assert any("NOT synchronised" in t and "clock_unsynced" in t for t in messages)
    assert sum("issuing tickets" in t for t in messages) == 1
    assert "unknown (adjtimex: Operation not permitted" in ClockState(
        False, error="adjtimex: Operation not permitted (a seccomp filter without @clock?)").describe()


@pytest.fixture
def synced() -> list[bool]:
    return [False]


@pytest.fixture
def service(small_site: SiteConfig, tmp_path: Path, synced: list[bool]) -> QueueService:
    return QueueService.open(small_site, EventStore(tmp_path / "log.db", "test"), at(DAY, 8),
                             clock_gate=lambda: synced[0])


def test_no_ticket_until_the_clock_is_synchronised(service: QueueService, synced: list[bool],
                                                   small_site: SiteConfig) -> None:
    t = at(DAY, 9)
    refused = service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000001", service="ktp"), t)
    assert not refused.reply.ok and refused.reply.code == "clock_unsynced"
    assert refused.reply.text_id == TEXTS["clock_unsynced"][0] and "jam server" in refused.reply.text_id
    assert "not synchronised" in refused.reply.text_en
    assert not refused.print_jobs and service.engine.stats["ktp"].issued == 0
    assert any(isinstance(e, ev.CommandRefused) and e.code == "clock_unsynced" for e in refused.events)
    # staff can still work (nobody waits: queue_empty), only issuing waits for the clock
    call = service.handle("gerai", "g1", m.CallNext(id="g1-00000001"), t + 1)
    assert call.reply.code == "queue_empty"
    synced[0] = True
    issued = service.handle("kiosk", "k1", m.TakeTicket(id="k1-00000002", service="ktp"), t + 2)
    assert issued.reply.ok and issued.reply.ticket == "A001"  # the refused one took no number
    out = io.StringIO()
    print_audit(small_site, service.store, None, out)
    assert "clock_unsynced" in out.getvalue()  # the refusal is in the audit trail


def test_the_gate_survives_a_rebuild_of_the_queue_state(service: QueueService) -> None:
    runner = CentralRunner(service, BrokerAddress("127.0.0.1", 1, "central", "x" * 20))
    gate = service.clock_gate
    runner._rebuild(at(DAY, 9))  # what a quarantine does
    assert runner.service is not service and runner.service.clock_gate is gate


def test_the_site_option_and_its_default() -> None:
    assert parse_site(SMALL_SITE, "s.toml").central.require_clock_sync is True
    relaxed = parse_site(SMALL_SITE + "\n[central]\nrequire_clock_sync = false\n", "s.toml")
    assert relaxed.central.require_clock_sync is False


def test_run_central_checks_only_a_real_clock(monkeypatch: pytest.MonkeyPatch, small_site: SiteConfig) -> None:
    """The demo and the soak play simulated days: no clock check blocks them."""
    import time

    from antre.central import main

    seen: list[object] = []

    def fake_open(config: SiteConfig, store: EventStore, now: float, *, clock_gate: object = None,
                  ticket_key: object = None) -> None:
        seen.append(clock_gate)
        raise RuntimeError("stop here")

    monkeypatch.setattr(main.signal, "signal", lambda *a: None)  # keep pytest's own handlers
    monkeypatch.setattr(main.QueueService, "open", fake_open)
    monkeypatch.setattr(main, "broker_address", lambda *a, **k: BrokerAddress("127.0.0.1", 1, "x", "y" * 20))
    monkeypatch.setattr(main.lease, "probe", lambda *a, **k: (None, False))
    monkeypatch.setattr(main, "EventStore", lambda *a, **k: EventStore(":memory:", "test"))
    for clock in (time.time, main.SimulatedClock(0.0, 10.0, 0.0)):
        with pytest.raises(RuntimeError):
            main.run_central(small_site, clock=clock)
    assert isinstance(seen[0], ClockGate) and seen[1] is None


def test_a_clock_synchronised_once_since_boot_stays_trusted(tmp_path: Path) -> None:
    """An internet (NTP) outage later in the day does not stop the tickets; a new boot does until NTP."""
    synced = ClockState(True, 20_000, 0x2001)
    lost = ClockState(False, 16_000_000, 0x41)  # what chrony sets when its sources are gone
    state = [synced]
    now = [0.0]
    latch = tmp_path / "log.db.clock-synced"
    gate = ClockGate(lambda: state[0], recheck_s=0, monotonic=lambda: now[0], latch=latch, boot=lambda: "boot-1")
    assert gate() is True and latch.read_text().strip() == "boot-1"
    state[0] = lost
    assert gate() is True and gate.synced_this_boot  # free-running since, still right
    # a restarted central (same boot) trusts the latch even though NTP is still away
    again = ClockGate(lambda: lost, recheck_s=0, latch=latch, boot=lambda: "boot-1")
    assert again() is True
    # after a reboot the latch is void: a Pi without a real-time clock may be hours off
    rebooted = ClockGate(lambda: lost, recheck_s=0, latch=latch, boot=lambda: "boot-2")
    assert rebooted() is False
    assert ClockGate(lambda: lost, recheck_s=0, latch=tmp_path / "none", boot=lambda: "boot-2")() is False
    # no boot id (an unusual /proc): remembered in memory only
    memory = ClockGate(lambda: state[0], recheck_s=0, latch=tmp_path / "m", boot=lambda: None)
    state[0] = synced
    assert memory() is True and not (tmp_path / "m").exists()
    state[0] = lost
    assert memory() is True
