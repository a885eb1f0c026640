"""``antre backup``: a consistent copy of the event log, verified and rotated.

SQLite's online backup API copies the database page by page under a read
transaction, so the copy is the log as of one commit, even while the central
writes to it (WAL mode: the central never waits for the backup).  The copy
is written to a temporary file in the backup directory, checked (``PRAGMA
integrity_check``, the site, the events readable), synced to disk and only
then renamed to ``<site>-<UTC time>.db``; afterwards the oldest backups
beyond ``--keep`` are removed.  Nothing here takes the central's lock.

The days the log has archived (:mod:`antre.central.archive`) are copied too,
into ``archive/`` of the backup directory: every file the copy's ``archived``
table names, checked against its recorded SHA-256, written to a temporary
file, synced and renamed (a file already there with that checksum is kept:
archive files never change).  A missing or damaged archive file fails the
backup with a storage error naming it, after the log's copy is written.

Default directory: ``backups/`` beside the log (``/var/lib/antre/backups/``
for the default ``/var/lib/antre/<site>.db``), the one the storage errors name.
To restore: stop the central, move the damaged log aside, copy the newest
backup to the log's path (with no ``-wal``/``-shm`` files beside it), copy back any
archive file missing from the archive directory from ``backups/archive/``, and
start the central (README: Backups).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from antre.central.archive import archive_dir, sha256_of
from antre.central.store import (
    ArchiveRecord,
    EventStore,
    StorageCause,
    StorageError,
    backup_dir,
    classify_os_error,
    classify_sqlite_error,
)

log = logging.getLogger(__name__)

PAGES_PER_STEP = 256  # the central's writes interleave with the copy every 256 pages (1 MiB)
_NAME = re.compile(r"^(?P<site>[a-z0-9][a-z0-9-]*)-(?P<stamp>\d{8}T\d{6}(?:\.\d{1,6})?Z)\.db$")


@dataclass(frozen=True)
class Backup:
    path: Path
    events: int
    bytes: int
    seconds: float
    removed: tuple[Path, ...]
    archive_files: int = 0  #: archived days the backup holds (in ``archive/`` of its directory)
    archive_copied: int = 0  #: of which copied by this backup (the others were there already)


def backups(directory: Path, site: str) -> list[Path]:
    """The backups of ``site`` in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if (m := _NAME.match(p.name)) and m.group("site") == site]
    return sorted(found, key=lambda p: p.name)


def latest(directory: Path, site: str) -> Path | None:
    found = backups(directory, site)
    return found[-1] if found else None


def make_backup(log_path: str | Path, site: str, out: Path | None = None, keep: int = 14,
                now: dt.datetime | None = None, archive: Path | None = None) -> Backup:
    """Copy the log at ``log_path`` into ``out`` (default: ``backups/`` beside it), and its archive files
    (from ``archive``, default ``archive/`` beside the log) into ``out/archive``; raise StorageError."""
    if keep < 1:
        raise ValueError("keep at least one backup")
    src_path = Path(log_path)
    out = out if out is not None else backup_dir(src_path)
    started = time.monotonic()
    # the same checks as every reader: the file exists and is this site's log
    EventStore(src_path, site, readonly=True).close()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the backup directory {out}: {exc.strerror or exc}",
                           StorageCause.PERMISSION if isinstance(exc, PermissionError) else StorageCause.IO) from None
    moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    final = out / f"{site}-{moment:%Y%m%dT%H%M%S}Z.db"
    if final.exists():
        final = out / f"{site}-{moment:%Y%m%dT%H%M%S.%f}Z.db"
    partial = out / f".{final.name}.partial"
    uri = f"file:{urllib.parse.quote(str(src_path.resolve()))}?mode=ro"
    try:
        src = sqlite3.connect(uri, uri=True)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=PAGES_PER_STEP, sleep=0.005)
                dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            finally:
                dst.close()
        finally:
            src.close()
        events = _verify(partial, site)
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, final)
        _fsync_dir(out)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise classify_sqlite_error(str(src_path), "back up", exc) from None
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"cannot write the backup {final}: {exc.strerror or exc}",
                           StorageCause.DISK_FULL if exc.errno == 28 else StorageCause.IO) from None
    except StorageError:
        partial.unlink(missing_ok=True)
        raise
    removed = tuple(rotate(out, site, keep))
    size = final.stat().st_size
    log.info("backup %s: %d events, %d bytes", final, events, size)
    records = _archived(final, site)
    copied = copy_archive(records, archive if archive is not None else archive_dir(src_path), out / "archive")
    return Backup(final, events, size, time.monotonic() - started, removed, len(records), copied)


def _archived(path: Path, site: str) -> list[ArchiveRecord]:
    store = EventStore(path, site, readonly=True)
    try:
        return store.archived()
    finally:
        store.close()


def copy_archive(records: list[ArchiveRecord], source: Path, target: Path) -> int:
    """Copy the archive files ``records`` name from ``source`` to ``target``, each verified against its
    recorded SHA-256; returns how many were copied (a file already in ``target`` with its checksum stays)."""
    copied = 0
    problems: list[StorageError] = []
    for record in records:
        dst = target / record.file
        if dst.exists() and sha256_of(dst) == (record.sha256, record.bytes):
            continue
        src = source / record.file
        try:
            data = src.read_bytes()
        except FileNotFoundError:
            problems.append(StorageError(f"archive file {src} of day {record.day} is missing: the backup of the log "
                                         "was written but not this day's archive", StorageCause.ARCHIVE_MISSING))
            continue
        except OSError as exc:
            problems.append(classify_os_error(str(src), "read the archive file", exc))
            continue
        if hashlib.sha256(data).hexdigest() != record.sha256:
            problems.append(StorageError(f"archive file {src} of day {record.day} does not have the checksum the "
                                         "log recorded: not copied (restore it from an older backup's archive/)",
                                         StorageCause.ARCHIVE_CORRUPT))
            continue
        partial = target / f".{record.file}.partial"
        try:
            target.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, dst)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise classify_os_error(str(dst), "write the archive copy", exc) from None
        copied += 1
    if copied:
        _fsync_dir(target)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more archive files: {'; '.join(str(p) for p in problems[1:4])})" \
            if len(problems) > 1 else ""
        raise StorageError(f"{first}{more}", first.cause)
    return copied


def _verify(path: Path, site: str) -> int:
    """The copy's integrity check, its site and its events; returns the number of events."""
    db = sqlite3.connect(f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro", uri=True)
    try:
        check = db.execute("PRAGMA integrity_check").fetchall()
        if [tuple(row) for row in check] != [("ok",)]:
            raise StorageError(f"the backup copy {path} failed its integrity check: "
                               f"{'; '.join(str(r[0]) for r in check[:5])}", StorageCause.CORRUPT)
        owner = db.execute("SELECT value FROM meta WHERE key = 'site'").fetchone()
        if owner is None or owner[0] != site:
            raise StorageError(f"the backup copy {path} is not a log of site {site!r}", StorageCause.WRONG_SITE)
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        db.close()


def rotate(directory: Path, site: str, keep: int) -> list[Path]:
    """Remove the oldest backups of ``site`` beyond ``keep``; returns what was removed."""
    found = backups(directory, site)
    removed = found[:-keep] if len(found) > keep else []
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
