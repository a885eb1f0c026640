"""``antre backup``: consistent while the central writes, verified, rotated, and restorable."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from antre.broker.wire import messages as m
from antre.central.backup import backups, latest, make_backup
from antre.central.config import SiteConfig
from antre.central.service import QueueService
from antre.central.store import EventStore, StorageError, backup_dir, restore_advice
from antre.cli import main
from tests.conftest import SMALL_SITE, at

DAY = dt.date(2023, 11, 17)


def _issue(service: QueueService, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        service.handle("kiosk", "k1", m.TakeTicket(id=f"k1-{i:08d}", service="ktp" if i % 2 else "kk"),
                       at(DAY, 9) + i)


def test_backup_copies_verifies_and_rotates(small_site: SiteConfig, tmp_path: Path) -> None:
    log = tmp_path / "state" / "test.db"
    service = QueueService.open(small_site, EventStore(log, "test"), at(DAY, 8))
    _issue(service, 30)
    made = []
    for hour in range(3):
        made.append(make_backup(log, "test", keep=2, now=dt.datetime(2023, 11, 17, 10 + hour, tzinfo=dt.timezone.utc)))
    assert made[0].path.parent == backup_dir(log) == tmp_path / "state" / "backups"
    assert made[0].path.name == "test-20231117T100000Z.db"
    assert made[2].removed == (made[0].path,)
    assert backups(backup_dir(log), "test") == [made[1].path, made[2].path]
    assert latest(backup_dir(log), "test") == made[2].path
    assert made[2].events == service.store.count() and made[2].bytes > 0
    assert not list(backup_dir(log).glob(".*partial"))
    copy = EventStore(made[2].path, "test", readonly=True)  # what the central and the tools read
    try:
        assert copy.count() == service.store.count()
        assert sqlite3.connect(made[2].path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        copy.close()
    service.store.close()
    # the storage errors say where the latest backup is
    assert str(backup_dir(log)) in restore_advice(log) and "antre backup" in restore_advice(log)


def test_backup_is_consistent_while_the_central_writes(small_site: SiteConfig, tmp_path: Path) -> None:
    log = tmp_path / "test.db"
    service = QueueService.open(small_site, EventStore(log, "test"), at(DAY, 8))  # holds the log's lock
    _issue(service, 50)
    stop = threading.Event()
    written = [50]

    def writer() -> None:
        while not stop.is_set() and written[0] < 2000:
            _issue(service, 5, written[0])
            written[0] += 5

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        results = [make_backup(log, "test", tmp_path / "b", keep=5,
                               now=dt.datetime(2023, 11, 17, 10, 0, i, tzinfo=dt.timezone.utc)) for i in range(5)]
    finally:
        stop.set()
        thread.join()
    for result in results:
        db = sqlite3.connect(result.path)
        seqs = [row[0] for row in db.execute("SELECT seq FROM events ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))  # a prefix of the log: one commit's state
        keys = db.execute("SELECT count(*) FROM commands").fetchone()[0]
        commands = db.execute("SELECT count(DISTINCT cmd) FROM events WHERE cmd IS NOT NULL").fetchone()[0]
        assert keys == commands  # every command's events arrived with its reply, or neither
        db.close()
    assert results[-1].events >= results[0].events
    service.store.close()


def test_restore_a_backup_and_the_queue_is_back(small_site: SiteConfig, tmp_path: Path) -> None:
    log = tmp_path / "test.db"
    service = QueueService.open(small_site, EventStore(log, "test"), at(DAY, 8))
    _issue(service, 12)
    backup = make_backup(log, "test")
    service.store.close()
    # the README's steps: the central stopped, the damaged log moved aside, the backup copied in its place
    log.rename(log.with_suffix(".db.corrupt"))
    for extra in (Path(str(log) + "-wal"), Path(str(log) + "-shm")):
        extra.unlink(missing_ok=True)
    shutil.copy2(backup.path, log)
    restored = QueueService.open(small_site, EventStore(log, "test"), at(DAY, 10))
    assert restored.engine.stats["ktp"].issued + restored.engine.stats["kk"].issued == 12
    nxt = restored.handle("kiosk", "k1", m.TakeTicket(id="k1-99999999", service="ktp"), at(DAY, 10))
    assert nxt.reply.ticket == "A007"
    restored.store.close()


def test_backup_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SMALL_SITE + '\n[store]\npath = "log/test.db"\n', encoding="utf-8")
    from antre.central.config import load_site

    config = load_site(site)
    service = QueueService.open(config, EventStore(config.store.path, "test"), at(DAY, 8))
    _issue(service, 3)
    service.store.close()
    assert main(["backup", "--config", str(site), "--keep", "1"]) == 0
    assert main(["backup", "--config", str(site), "--keep", "1", "--out", str(tmp_path / "usb")]) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'log' / 'backups'}/test-" in out and "integrity ok" in out
    assert len(list((tmp_path / "usb").glob("test-*.db"))) == 1
    # a damaged log: a storage error (exit 3) naming it, and no backup written
    (tmp_path / "bad").mkdir()
    bad = tmp_path / "bad" / "test.db"
    bad.write_bytes(b"not a database" * 100)
    assert main(["backup", "--config", str(site), "--db", str(bad)]) == 3
    assert "storage error" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "backups").exists() or not list((tmp_path / "bad" / "backups").iterdir())
    with pytest.raises(ValueError):
        make_backup(config.store.path, "test", keep=0)


def test_a_log_of_another_site_is_not_backed_up_under_this_name(small_site: SiteConfig, tmp_path: Path) -> None:
    log = tmp_path / "x.db"
    EventStore(log, "other").close()
    with pytest.raises(StorageError, match="belongs to site 'other'"):
        make_backup(log, "test")
