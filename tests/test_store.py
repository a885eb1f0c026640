"""The durable event log: restart, kill -9, full disk, corruption."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from antre.broker.wire import messages as m
from antre.central.config import SiteConfig
from antre.central.service import QueueService
from antre.central.store import EventStore, StorageError
from tests.conftest import ROOT, SMALL_SITE, at
from tests.crashsim import START, stream


def _run(service: QueueService, count: int, skip: int = 0) -> list[str]:
    codes = []
    for i, (role, device, cmd, now) in enumerate(stream(count)):
        if i < skip:
            continue
        codes.append(service.handle(role, device, cmd, now).reply.code)
    return codes


def test_restart_rebuilds_the_same_state(small_site: SiteConfig, tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    store = EventStore(db, "test")
    live = QueueService.open(small_site, store, at(START, 22))
    _run(live, 400)
    store.close()
    store2 = EventStore(db, "test")
    rebuilt = QueueService.open(small_site, store2, at(START, 22))
    assert rebuilt.engine.snapshot() == live.engine.snapshot()
    assert rebuilt.engine.day == live.engine.day == START + dt.timedelta(days=1)  # crossed midnight
    store2.close()


def test_batches_are_numbered_contiguously_and_a_used_seq_is_never_reused(small_site: SiteConfig,
                                                                         tmp_path: Path) -> None:
    """The store numbers a batch's events itself (one statement per batch): the numbers follow on
    without a gap across batches and restarts, each day's row names its day_opened, and a number
    once used is not given again even when its row is gone (AUTOINCREMENT's counter is read at open)."""
    db = tmp_path / "log.db"
    store = EventStore(db, "test")
    _run(QueueService.open(small_site, store, at(START, 22)), 400)  # crosses midnight: two days
    seqs = [seq for seq, _ in store.events(0)]
    assert seqs == list(range(1, len(seqs) + 1)) and store.last_seq == len(seqs)
    raw = sqlite3.connect(db)
    for day, seq in raw.execute("SELECT day, seq FROM days").fetchall():
        assert raw.execute("SELECT kind FROM events WHERE seq = ?", (seq,)).fetchone()[0] == "day_opened", day
    store.close()
    last = len(seqs)
    raw.execute("DELETE FROM events WHERE seq > ?", (last - 2,))  # the tail gone (by hand)
    raw.commit()
    raw.close()
    store = EventStore(db, "test")
    assert store.last_seq == last
    service = QueueService.open(small_site, store, at(START + dt.timedelta(days=1), 9))
    service.handle("kiosk", "k1", m.TakeTicket(id="k1-after", service="ktp", print=False), at(START + dt.timedelta(days=1), 9))
    assert [seq for seq, _ in store.events(last - 1)][0] == last + 1  # not last - 1: that one is gone
    store.close()


def test_rebuild_starts_at_the_latest_day(small_site: SiteConfig, tmp_path: Path) -> None:
    store = EventStore(tmp_path / "log.db", "test")
    _run(QueueService.open(small_site, store, at(START, 22)), 400)
    assert store.current_day_start() > 1
    first_today = next(store.events(store.current_day_start()))[1]
    assert type(first_today).__name__ == "DayOpened"


def test_kill_9_loses_nothing_acknowledged_and_applies_nothing_twice(tmp_path: Path) -> None:
    config_path = tmp_path / "site.toml"
    config_path.write_text(SMALL_SITE, encoding="utf-8")
    db = tmp_path / "log.db"
    total = 3000
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.crashsim", "--config", str(config_path), "--db", str(db), "--count", str(total)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    acked: list[str] = []
    for line in proc.stdout:
        acked.append(line.split()[1])
        if len(acked) == 250:
            proc.send_signal(signal.SIGKILL)  # in the middle of the stream
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    from antre.central.config import load_site

    config = load_site(config_path)
    store = EventStore(db, "test")
    recovered = QueueService.open(config, store, at(START, 22))
    committed = sum(1 for key in recovered._replies if key.split("/")[-1].startswith("sim-"))
    assert committed >= len(acked)  # everything acknowledged survived
    assert all(any(k.endswith("/" + cid) for k in recovered._replies) for cid in acked)

    # The recovered state is exactly the state after the committed prefix ...
    reference = QueueService.open(config, EventStore(tmp_path / "ref.db", "test"), at(START, 22))
    _run(reference, committed)
    assert recovered.engine.snapshot() == reference.engine.snapshot()

    # ... and redelivering the whole stream (devices resend what was not
    # acknowledged, and may resend what was) applies each command once.
    replies = [
        recovered.handle(role, device, cmd, now) for role, device, cmd, now in stream(total)
    ]
    assert all(h.duplicate for h in replies[:committed])
    assert not any(h.duplicate for h in replies[committed:])
    _run(reference, total, skip=committed)
    assert recovered.engine.snapshot() == reference.engine.snapshot()
    store.close()


def test_full_disk_stops_with_a_clear_error_and_keeps_nothing_half_done(
    small_site: SiteConfig, tmp_path: Path
) -> None:
    db = tmp_path / "log.db"
    store = EventStore(db, "test")
    service = QueueService.open(small_site, store, at(START, 9))
    t = at(START, 9)
    service.handle("kiosk", "k1", m.TakeTicket(id="kiosk-0000001", service="ktp"), t)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
    with pytest.raises(StorageError, match="cannot commit .*the disk is full.*Nothing of this batch was acknowledged"):
        for i in range(2, 500):
            service.handle("kiosk", "k1", m.TakeTicket(id=f"kiosk-{i:07d}", service="kk"), t + i)
    store.close()
    reopened = QueueService.open(small_site, EventStore(db, "test"), t)
    issued = reopened.engine.stats["kk"].issued
    keys = [k for k in reopened._replies if "/kiosk-" in k]
    assert len(keys) == 1 + issued  # every stored ticket has its stored reply, and vice versa


def test_corrupt_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    db.write_bytes(b"this is not a database, it is a shopping list" * 100)
    with pytest.raises(StorageError, match="restore the latest backup"):
        EventStore(db, "test")


def test_corrupt_event_is_refused(small_site: SiteConfig, tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    store = EventStore(db, "test")
    _run(QueueService.open(small_site, store, at(START, 22)), 30)
    store.close()
    raw = sqlite3.connect(db)
    raw.execute("UPDATE events SET body = X'7B22' WHERE seq = (SELECT max(seq) FROM events)")
    raw.commit()
    raw.close()
    with pytest.raises(StorageError, match=r"event \d+ .* unreadable"):
        QueueService.open(small_site, EventStore(db, "test"), at(START, 22))


def test_log_of_another_site_is_refused(tmp_path: Path) -> None:
    EventStore(tmp_path / "log.db", "kupang").close()
    with pytest.raises(StorageError, match="belongs to site 'kupang'"):
        EventStore(tmp_path / "log.db", "test")


def test_durability_pragmas(tmp_path: Path) -> None:
    for mode, level in (("full", 2), ("normal", 1), ("off", 0)):
        store = EventStore(tmp_path / f"{mode}.db", "test", mode)  # type: ignore[arg-type]
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == level
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.close()
