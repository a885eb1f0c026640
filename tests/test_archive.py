"""The log's retention: days past ``[store] retention_days`` move to one verified file per day,
are still audited as before, survive a SIGKILL at any step, and a missing or damaged file is
reported, never skipped.  Start-up reads no old page; the reply cache holds ids only."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from antre.broker.wire import messages as m
from antre.central import events as ev
from antre.central.archive import (
    FORMAT,
    LogArchiver,
    archive_dir,
    archive_due,
    days_due,
    export_day,
    file_name,
)
from antre.central.audit import print_audit
from antre.central.backup import make_backup
from antre.central.checklog import check_log
from antre.central.config import ConfigError, SiteConfig, load_site, parse_site
from antre.central.history import History
from antre.central.replies import ReplyCache
from antre.central.service import REPLY_RETENTION_S, QueueService
from antre.central.store import EventStore, StorageCause, StorageError
from antre.cli import main
from antre.sim.history import play_day, play_days
from tests.conftest import ROOT, SMALL_SITE, at

FIRST = dt.date(2024, 1, 1)
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _site(tmp_path: Path, store: str = "") -> Path:
    path = tmp_path / "site.toml"
    path.write_text(SMALL_SITE + f'\n[store]\npath = "log.db"\n{store}', encoding="utf-8")
    return path


def _history(tmp_path: Path, days: int = 8, tickets: int = 30) -> tuple[SiteConfig, Path]:
    """A site file and its log with ``days`` played days from FIRST (closed afterwards)."""
    config = load_site(_site(tmp_path))
    db = Path(config.store.path)
    store = EventStore(db, "test", "off")
    play_days(QueueService.open(config, store, at(FIRST, 7)), FIRST, days, tickets)
    store.close()
    return config, db


def _content(config: SiteConfig, db: Path) -> list[tuple[str, int, bytes]]:
    """Every event of the history, live or archived, as (day, seq, encoded event)."""
    with History.open(config, str(db)) as history:
        return [(day.isoformat(), seq, ev.encode_event(event)) for day, seq, event in history.all_events()]


def _audit(capsys: pytest.CaptureFixture[str], site: Path, day: dt.date | None = None) -> str:
    argv = ["audit", "--config", str(site)] + (["--date", day.isoformat()] if day else [])
    assert main(argv) == 0, capsys.readouterr().err
    return capsys.readouterr().out


# ---------------------------------------------------------------------------------------- archived days


def test_archived_days_are_audited_identically(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, db = _history(tmp_path, days=8)
    site = Path(config.source)
    days = [FIRST + dt.timedelta(days=i) for i in range(8)]
    before = {day: _audit(capsys, site, day) for day in days}
    everything = _audit(capsys, site)
    content = _content(config, db)
    assert all(before[day].count("\n") > 50 for day in days)

    store = EventStore(db, "test")
    done = archive_due(store, archive_dir(db), 3, FIRST + dt.timedelta(days=7))
    store.close()
    assert [r.day for r in done] == [d.isoformat() for d in days[:4]]  # older than 3 days before the 8th
    assert sorted(p.name for p in archive_dir(db).iterdir()) == [file_name("test", d.isoformat()) for d in days[:4]]
    with History.open(config) as history:
        assert [(d.day, d.where) for d in history.days()] == [(d, "archive") for d in days[:4]] + [
            (d, "live") for d in days[4:]]
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT count(*) FROM events WHERE seq < ?", (done[-1].last_seq + 1,)).fetchone()[0] == 0
    assert raw.execute("SELECT count(*) FROM archived").fetchone()[0] == 4
    raw.close()

    assert {day: _audit(capsys, site, day) for day in days} == before
    assert _audit(capsys, site) == everything
    assert _content(config, db) == content


def test_the_archive_file_format(tmp_path: Path) -> None:
    config, db = _history(tmp_path, days=3)
    store = EventStore(db, "test")
    epoch = store.begin_epoch()
    span = store.day_spans()[0]
    record = export_day(str(db), "test", epoch, span, archive_dir(db))
    path = archive_dir(db) / record.file
    assert record.file == "test-2024-01-01.events.jsonl.gz" and path.parent == tmp_path / "archive"
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size) == (record.sha256, record.bytes)
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    header = json.loads(lines[0])
    assert header == {"format": FORMAT, "version": 1, "site": "test", "day": "2024-01-01", "epoch": epoch,
                      "first_seq": span.first_seq, "last_seq": span.last_seq, "count": len(lines) - 1}
    rows = store.raw_events(span.first_seq, span.last_seq)
    assert [json.loads(line)["seq"] for line in lines[1:]] == [seq for seq, _ in rows]
    assert [json.loads(line)["event"] for line in lines[1:]] == [json.loads(body) for _, body in rows]
    assert json.loads(lines[1])["event"]["kind"] == "day_opened"
    # the export alone changes nothing in the log: the day is live until committed
    assert History(store, archive_dir(db)).days()[0].where == "live"
    again = export_day(str(db), "test", epoch, span, archive_dir(db))
    assert again.sha256 == record.sha256  # deterministic: a redone export writes the same bytes
    store.close()


def test_a_reader_beside_the_central_sees_a_day_whole_on_one_side(tmp_path: Path) -> None:
    config, db = _history(tmp_path, days=4, tickets=10)
    first = dt.date(2024, 1, 1)
    reader = History.open(config)
    live = list(reader.events(first))
    writer = EventStore(db, "test")
    with reader.store.snapshot():  # a reader in the middle of its work ...
        assert reader.days()[0].where == "live"
        archive_due(writer, archive_dir(db), 1, FIRST + dt.timedelta(days=3))  # ... when the day is archived
        assert list(reader.events(first)) == live  # still the live rows of its snapshot, whole
    assert reader.days()[0].where == "archive"  # the next read: the archive file, the same events
    assert list(reader.events(first)) == live
    assert [d.day for d in reader.days()] == [first + dt.timedelta(days=i) for i in range(4)]
    reader.close()
    writer.close()


def test_the_retention_never_archives_the_current_day(tmp_path: Path) -> None:
    config, db = _history(tmp_path, days=3)
    store = EventStore(db, "test")
    assert [s.day for s in days_due(store, 1, FIRST + dt.timedelta(days=2))] == ["2024-01-01"]
    assert days_due(store, 62, FIRST + dt.timedelta(days=2)) == []
    # a clock set far ahead counts from the log's latest day, and never takes that day
    assert [s.day for s in days_due(store, 1, FIRST + dt.timedelta(days=3000))] == ["2024-01-01"]
    assert [s.day for s in days_due(store, 0, FIRST + dt.timedelta(days=3000))] == ["2024-01-01", "2024-01-02"]
    store.close()


# ------------------------------------------------------------------------------------ crashes at each step

STEPS = [("checked", 1), ("read", 1), ("writing", 1), ("written", 1), ("renamed", 1), ("verified", 1),
         ("deleted", 1), ("committed", 1), ("read", 2), ("writing", 2), ("renamed", 2), ("deleted", 2),
         ("verified", 3)]


@pytest.mark.parametrize(("step", "nth"), STEPS, ids=[f"{s}-{n}" for s, n in STEPS])
def test_sigkill_at_any_step_loses_nothing_and_doubles_nothing(tmp_path: Path, step: str, nth: int) -> None:
    config, db = _history(tmp_path, days=7, tickets=20)
    reference = _content(config, db)
    today = FIRST + dt.timedelta(days=6)
    argv = [sys.executable, "-m", "tests.archivecrash", "--config", config.source, "--db", str(db),
            "--today", today.isoformat(), "--retention", "2"]
    crashed = subprocess.run(argv + ["--kill-at", step, "--nth", str(nth)], cwd=ROOT, env=ENV, capture_output=True,
                             text=True, timeout=60)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    assert crashed.stdout.splitlines()[-1] == f"STEP {step} {nth}"

    # after the crash: every event exactly once, live or archived, and the log checks sound
    assert _content(config, db) == reference
    with History.open(config) as history:
        days = history.days()
        archived_before = [d.day for d in days if d.where == "archive"]
        assert len({d.day for d in days}) == len(days) == 7
        result = check_log(history.store, archive_dir(db))
    assert result.ok, result.problems
    assert len(archived_before) == nth - 1 + (step == "committed")  # days committed before the kill

    # the next round (the central's next start, or its next look) finishes the job
    resumed = subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[-1] == f"DONE {4 - len(archived_before)}"
    assert _content(config, db) == reference
    with History.open(config) as history:
        assert [d.where for d in history.days()] == ["archive"] * 4 + ["live"] * 3
        result = check_log(history.store, archive_dir(db))
    assert result.ok and not result.notes, (result.problems, result.notes)
    assert sorted(p.name for p in archive_dir(db).iterdir()) == [
        file_name("test", (FIRST + dt.timedelta(days=i)).isoformat()) for i in range(4)]  # no partial left


# ---------------------------------------------------------------------------- missing or damaged archives


@pytest.fixture()
def archived(tmp_path: Path) -> tuple[SiteConfig, Path, Path]:
    """A site whose first three days are archived; returns (config, log, archive file of day 2)."""
    config, db = _history(tmp_path, days=6, tickets=20)
    store = EventStore(db, "test")
    archive_due(store, archive_dir(db), 2, FIRST + dt.timedelta(days=5))
    store.close()
    return config, db, archive_dir(db) / file_name("test", "2024-01-02")


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
    elif how == "flipped":
        path.write_bytes(data[:40] + bytes([data[40] ^ 0x20]) + data[41:])
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "another day":
        shutil.copy(path.with_name(file_name("test", "2024-01-01")), path)
    elif how == "garbage":
        path.write_bytes(b"not gzip at all\n" * 10)
    elif how == "edited":  # a valid gzip archive whose content was changed, checksum not updated
        lines = gzip.decompress(data).split(b"\n")
        lines.pop(3)
        path.write_bytes(gzip.compress(b"\n".join(lines), mtime=0))


@pytest.mark.parametrize("how", ["missing", "flipped", "truncated", "another day", "garbage", "edited"])
def test_a_missing_or_damaged_archive_is_reported_never_skipped(
        archived: tuple[SiteConfig, Path, Path], how: str, capsys: pytest.CaptureFixture[str]) -> None:
    config, db, path = archived
    _damage(path, how)
    cause = StorageCause.ARCHIVE_MISSING if how == "missing" else StorageCause.ARCHIVE_CORRUPT
    with History.open(config) as history:
        assert [e for e in history.events(dt.date(2024, 1, 1))]  # the other days are fine
        with pytest.raises(StorageError) as info:
            list(history.events(dt.date(2024, 1, 2)))
        assert info.value.cause is cause and str(path) in str(info.value)
        with pytest.raises(StorageError):  # every day: stops at the bad one, does not skip it
            list(history.all_events())

    site = config.source
    assert main(["audit", "--config", site, "--date", "2024-01-02"]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"antre: storage error ({cause.value}): archive file {path}"), err
    assert "from a backup" in err
    assert main(["audit", "--config", site]) == 3
    capsys.readouterr()

    assert main(["central", "check-log", "--config", site]) == 1
    out = capsys.readouterr().out
    assert f"PROBLEM: storage error ({cause.value}): archive file {path}" in out and "FAILED: 1 problems" in out

    with pytest.raises(StorageError) as info:
        make_backup(db, "test")
    assert info.value.cause is cause and "2024-01-02" in str(info.value)


def test_check_log_passes_a_sound_log_and_finds_a_damaged_page(
        archived: tuple[SiteConfig, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    config, db, _ = archived
    site = config.source
    assert main(["central", "check-log", "--config", site]) == 0
    out = capsys.readouterr().out
    assert "integrity_check ok" in out and "3 days recorded, 3 verified" in out and "OK: " in out
    assert main(["central", "check-log", "--config", site, "--quick"]) == 0
    assert "quick_check ok" in capsys.readouterr().out

    # damage a page in the middle of the events table: the start does not read it (that is the
    # point), the check does
    raw = sqlite3.connect(db)
    page_size = raw.execute("PRAGMA page_size").fetchone()[0]
    pages = raw.execute("PRAGMA page_count").fetchone()[0]
    raw.close()
    with open(db, "r+b") as f:
        f.seek(page_size * (pages // 3) + 8)
        f.write(os.urandom(page_size - 16))
    store = EventStore(db, "test")
    QueueService.open(config, store, at(FIRST + dt.timedelta(days=5), 20))
    store.close()
    assert main(["central", "check-log", "--config", site]) == 1
    out = capsys.readouterr().out
    assert "integrity_check FAILED" in out and "PROBLEM: " in out


def test_a_file_that_is_not_a_log_is_refused_at_open(tmp_path: Path) -> None:
    foreign = tmp_path / "other.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, jpeg BLOB)")
    db.commit()
    db.close()
    for readonly in (False, True):
        with pytest.raises(StorageError, match="not a valid event log .*without antre's tables.*restore") as info:
            EventStore(foreign, "test", readonly=readonly)
        assert info.value.cause is StorageCause.CORRUPT
    (tmp_path / "short.db").write_bytes(b"SQLite")
    with pytest.raises(StorageError, match="not an SQLite database") as info:
        EventStore(tmp_path / "short.db", "test")


# ------------------------------------------------------------------------------------ the central's archiver


def test_the_central_exports_in_the_background_and_deletes_on_its_writer_thread(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config, db = _history(tmp_path, days=6, tickets=20)
    reference = _content(config, db)
    store = EventStore(db, "test")
    service = QueueService.open(config, store, at(FIRST + dt.timedelta(days=5), 20))
    threads: dict[str, set[int]] = {}

    def checkpoint(step: str) -> None:
        threads.setdefault(step, set()).add(threading.get_ident())

    now = at(FIRST + dt.timedelta(days=5), 20)
    archiver = LogArchiver(store, archive_dir(db), 2, config.zone, lambda: now, checkpoint=checkpoint)
    caplog.set_level(logging.INFO, "antre.central.archive")
    deadline = time.monotonic() + 30
    while len(archiver.archived) < 3 and time.monotonic() < deadline:
        archiver.on_pass()  # the writer loop's hook
        archiver.wait_export(1.0)
        # the central goes on serving between the steps
        service.handle("kiosk", "k1", m.TakeTicket(id=f"live-{time.monotonic_ns()}", service="kk"), now)
    archiver.close()
    assert [r.day for r in archiver.archived] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    me = threading.get_ident()
    assert threads["deleted"] == threads["committed"] == {me}
    assert me not in threads["written"] | threads["verified"] | threads["checked"]
    assert "archived day 2024-01-01: " in caplog.text
    assert _content(config, db)[: len(reference)] == reference  # and what was served after
    store.close()


def test_an_archive_that_cannot_be_written_is_logged_and_retried_later(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config, db = _history(tmp_path, days=4, tickets=10)
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the archive directory should be")
    store = EventStore(db, "test")
    now = at(FIRST + dt.timedelta(days=3), 20)
    archiver = LogArchiver(store, blocked, 1, config.zone, lambda: now, retry_s=3600)
    for _ in range(3):
        archiver.on_pass()
        archiver.wait_export(10)
    archiver.close()
    assert archiver.failures == 1 and archiver.archived == []  # one failure, then it waits an hour
    assert "archiving the log failed, the days stay in the live log (retry in 3600 s): antre: storage error" in \
        caplog.text
    assert [s.day for s in store.day_spans()] == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    store.close()


def test_a_running_central_archives_and_audits_beside_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.harness import CentralProc, Site, free_port, wait_for

    site = Site(tmp_path, free_port(), store={"retention_days": 3})
    today = dt.datetime.now(site.config.zone).date()
    first = today - dt.timedelta(days=8)
    store = EventStore(site.config.store.path, site.config.site_id, "off")
    play_days(QueueService.open(site.config, store, 0), first, 9, 15)  # up to today (08:00-15:00)
    store.close()
    db = Path(site.config.store.path)
    days = [first + dt.timedelta(days=i) for i in range(9)]
    before = {d: _audit(capsys, site.config_path, d) for d in days}

    from antre.sim.procs import BrokerProc

    broker = BrokerProc("embedded", site)
    broker.start()
    central = CentralProc(site)
    try:
        central.start()
        central.wait_ready(60)

        def archived() -> int:
            with History.open(site.config) as history:
                return sum(d.where == "archive" for d in history.days())

        wait_for(lambda: archived() == 5 or not central.alive(), 60, "the central to archive 5 days")
        assert archived() == 5, central.output()
        # read-only tools beside the running central
        assert {d: _audit(capsys, site.config_path, d) for d in days} == before
        assert main(["central", "check-log", "--config", str(site.config_path)]) == 0, capsys.readouterr().out
        capsys.readouterr()
        assert "archived day " in central.output()
    finally:
        central.stop()
        broker.stop()
    assert sorted(p.name for p in archive_dir(db).iterdir()) == [
        file_name(site.config.site_id, d.isoformat()) for d in days[:5]]  # older than today - 3


# ------------------------------------------------------------------------------------------ backups


def test_backup_copies_the_archive_and_restores_with_it(
        archived: tuple[SiteConfig, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, db, _ = archived
    site = config.source
    before = _audit(capsys, Path(site), dt.date(2024, 1, 2))
    assert main(["backup", "--config", site]) == 0
    out = capsys.readouterr().out
    assert "archive: 3 archived days" in out and "(3 copied now" in out
    copies = tmp_path / "backups" / "archive"
    assert sorted(p.name for p in copies.iterdir()) == sorted(p.name for p in archive_dir(db).iterdir())
    assert main(["backup", "--config", site]) == 0
    assert "(0 copied now" in capsys.readouterr().out  # archive files never change: copied once

    # the disk lost the log and its archive: restore both from the backups
    shutil.rmtree(archive_dir(db))
    newest = sorted((tmp_path / "backups").glob("test-*.db"))[-1]
    db.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(newest, db)
    shutil.copytree(copies, archive_dir(db))
    assert _audit(capsys, Path(site), dt.date(2024, 1, 2)) == before
    assert main(["central", "check-log", "--config", site]) == 0


# ------------------------------------------------------------------------------------------ start-up

_PROBE = """
import sys, time
from antre.central.config import load_site
from antre.central.service import QueueService
from antre.central.store import EventStore
config = load_site(sys.argv[1])
now = float(sys.argv[2])

def read() -> int:
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])

before = read()
store = EventStore(config.store.path, config.site_id)
service = QueueService.open(config, store, now)
print(read() - before, len(service._replies), service.engine.day)
"""


def _start_reads(config: SiteConfig, now: float) -> tuple[int, int, str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, config.source, str(now)], cwd=ROOT, env=ENV,
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
    return int(out[0]), int(out[1]), out[2]


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="counts bytes read with Linux's /proc/self/io")
def test_start_up_reads_no_old_page(tmp_path: Path) -> None:
    """Opening the log and rebuilding today read a few pages, not the file: no integrity check of
    every page and no replies decoded at start (bytes read by the process, /proc/self/io rchar)."""
    config, db = _history(tmp_path, days=40, tickets=60)
    size = db.stat().st_size
    assert size > 4_000_000
    now = at(FIRST + dt.timedelta(days=39), 16)
    read, keys, day = _start_reads(config, now)
    print(f"log {size} bytes: the start read {read} bytes")
    assert day == "2024-02-09" and keys > 100  # two days of command ids, from the index
    assert read < size / 20, (read, size)
    store = EventStore(db, "test")
    archive_due(store, archive_dir(db), 3, FIRST + dt.timedelta(days=39))
    store.close()
    read_archived, keys_archived, _ = _start_reads(config, now)
    print(f"after archiving 36 days: the start read {read_archived} bytes")
    assert keys_archived == keys
    assert read_archived < size / 20, (read_archived, size)


# ------------------------------------------------------------------------------------------ reply cache


def test_an_old_duplicate_gets_its_reply_after_a_restart(small_site: SiteConfig, tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    store = EventStore(db, "test")
    service = QueueService.open(small_site, store, at(FIRST, 8))
    first = service.handle("kiosk", "k1", m.TakeTicket(id="old-0001", service="ktp"), at(FIRST, 9))
    service.handle("kiosk", "k1", m.TakeTicket(id="old-0002", service="kk"), at(FIRST, 9, 1))
    play_day(service, FIRST + dt.timedelta(days=1), 20)
    store.close()

    later = at(FIRST + dt.timedelta(days=1), 20)  # 35 hours on, past a midnight, after a restart
    store = EventStore(db, "test")
    service = QueueService.open(small_site, store, later)
    count = store.count()
    again = service.handle("kiosk", "k1", m.TakeTicket(id="old-0001", service="ktp"), later)
    assert again.duplicate and again.reply == first.reply and not again.print_jobs
    assert store.count() == count  # nothing applied twice
    store.close()

    # replies are not read at start: a damaged one is found when its duplicate comes, not before
    raw = sqlite3.connect(db)
    raw.execute("UPDATE commands SET reply = X'7B22' WHERE key = 'kiosk/k1/old-0002'")
    raw.commit()
    raw.close()
    store = EventStore(db, "test")
    service = QueueService.open(small_site, store, later)
    with pytest.raises(StorageError, match="stored reply 'kiosk/k1/old-0002' is unreadable") as info:
        service.handle("kiosk", "k1", m.TakeTicket(id="old-0002", service="kk"), later)
    assert info.value.cause is StorageCause.CORRUPT
    store.close()

    # past the retention, the id is forgotten (as it always was: two days)
    store = EventStore(db, "test")
    service = QueueService.open(small_site, store, at(FIRST, 9) + REPLY_RETENTION_S + 60)
    assert "kiosk/k1/old-0001" not in service._replies
    store.close()


def test_the_reply_cache_is_bounded_and_still_exactly_once(small_site: SiteConfig, tmp_path: Path) -> None:
    store = EventStore(tmp_path / "log.db", "test")
    service = QueueService.open(small_site, store, at(FIRST, 8))
    service._replies = ReplyCache(store, REPLY_RETENTION_S, max_keys=10)
    t = at(FIRST, 9)
    sent = [m.TakeTicket(id=f"bound-{i:03d}", service="kk") for i in range(40)]
    replies = [service.handle("kiosk", "k1", cmd, t + i).reply for i, cmd in enumerate(sent)]
    assert len(service._replies) == 10
    count = store.count()
    service._replies.lookups = 0
    for i, cmd in enumerate(sent):  # every one a duplicate, the forgotten ones found in the log
        h = service.handle("kiosk", "k1", cmd, t + 100 + i)
        assert h.duplicate and h.reply == replies[i]
    assert store.count() == count and service._replies.lookups == 30
    fresh = service.handle("kiosk", "k1", m.TakeTicket(id="bound-new", service="kk"), t + 200)
    assert not fresh.duplicate and fresh.reply.ok
    # a duplicate inside one batch is answered from the batch
    batch = service.handle_batch([("kiosk", "k1", m.TakeTicket(id="bound-twice", service="kk"))] * 2, t + 300)
    assert not batch[0].duplicate and batch[1].duplicate and batch[1].reply == batch[0].reply
    # by age: a tick past midnight forgets what is older than the retention
    service.tick(at(FIRST, 9) + REPLY_RETENTION_S + 3600)
    assert len(service._replies) == 0
    store.close()


# ------------------------------------------------------------------------------------------ config


@pytest.mark.parametrize(("value", "problem"), [
    ("0", "0 is not a number of days between 1 and 3660"),
    ("-5", "-5 is not a number of days between 1 and 3660"),
    ("100000", "100000 is not a number of days between 1 and 3660"),
    ('"62"', "expected `int`, got `str`"),
    ("62.5", "expected `int`, got `float`"),
    ("true", "expected `int`, got `bool`"),
])
def test_retention_days_is_validated_at_the_config_boundary(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_site(SMALL_SITE + f"\n[store]\nretention_days = {value}\n", "site.toml")
    assert str(info.value).startswith(f"site.toml: store.retention_days: {problem}"), str(info.value)


def test_retention_and_archive_defaults_and_paths(tmp_path: Path) -> None:
    config = parse_site(SMALL_SITE, "site.toml")
    assert config.store.retention_days == 62 and config.store.archive == ""
    assert archive_dir("/var/lib/antre/kupang.db", config.store.archive) == Path("/var/lib/antre/archive")
    path = _site(tmp_path, 'retention_days = 30\narchive = "old-days"\n')
    config = load_site(path)
    assert config.store.retention_days == 30 and config.store.archive == str(tmp_path / "old-days")
    assert archive_dir(config.store.path, config.store.archive) == tmp_path / "old-days"
    with pytest.raises(ConfigError, match="store.archive: ' x' is not a directory name"):
        parse_site(SMALL_SITE + '\n[store]\narchive = " x"\n', "site.toml")


def test_print_audit_reads_an_open_store_with_its_archive(tmp_path: Path) -> None:
    config, db = _history(tmp_path, days=4, tickets=10)
    store = EventStore(db, "test")
    archive_due(store, archive_dir(db, config.store.archive), 1, FIRST + dt.timedelta(days=3))
    out = io.StringIO()
    lines = print_audit(config, store, dt.date(2024, 1, 1), out)
    assert lines > 10 and out.getvalue().startswith("2024-01-01 ") and "day 2024-01-01 opened" in out.getvalue()
    store.close()
