"""Days older than the retention leave the live log for one compressed file per day.

The event log would otherwise grow by some megabytes a day for ever.  A day
more than ``[store] retention_days`` old (by the site's local date) is moved to
``<archive>/<site>-<YYYY-MM-DD>.events.jsonl.gz``: gzip-compressed JSON lines,
first a header::

    {"format": "antre-events", "version": 1, "site": "kupang", "day": "2026-01-05",
     "epoch": 1767571200000, "first_seq": 1201, "last_seq": 1377, "count": 177}

then one line per event with its sequence number and its stored bytes as they were::

    {"seq": 1201, "event": {"kind": "day_opened", "ts": ..., ...}}

Moving a day is a chain of steps, each safe to interrupt (a crash or SIGKILL
between any two loses nothing and doubles nothing):

1. **export** (any thread; its own read-only connection): the whole file is
   checked (``PRAGMA quick_check``, once per round), the day's rows are read
   and decoded, written to ``.<name>.partial`` in the archive directory,
   fsynced, renamed to ``<name>`` and the directory fsynced; then the file is
   read back and compared line by line with the rows, and its SHA-256 taken.
   A crash here leaves the rows in the log and at most a file the log does
   not name (overwritten by the next export);
2. **commit** (the central's writer thread, the only writer of its log): the
   file's checksum is taken again, and in one transaction the ``archived``
   table records the file's facts (name, SHA-256, size, count, seq span) and
   the day's rows are deleted.  Before the COMMIT the rows are live and the
   file unreferenced; after it, the rows are gone and the file is named.

Readers (:class:`~antre.central.history.History`) serve a day from the file
only when the log names it, and verify its checksum and header; a missing or
different file is a :class:`~antre.central.store.StorageError`
(``archive_missing`` / ``archive_corrupt``), never a silently shorter day.

In the running central, :class:`LogArchiver` does this a day at a time: the
export in a background thread, the commit from a hook of the writer loop
(``CentralRunner.on_pass``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import gzip
import hashlib
import logging
import os
import re
import sqlite3
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from antre.central import events as ev
from antre.central.store import (
    ArchiveRecord,
    DaySpan,
    EventStore,
    StorageCause,
    StorageError,
    classify_os_error,
    classify_sqlite_error,
)

log = logging.getLogger(__name__)

FORMAT = "antre-events"
VERSION = 1
SUFFIX = ".events.jsonl.gz"
_NAME = re.compile(r"^(?P<site>[a-z0-9][a-z0-9-]*)-(?P<day>\d{4}-\d{2}-\d{2})\.events\.jsonl\.gz$")
#: A checkpoint names the step just done (tests stop the process there); see :func:`export_day`.
Checkpoint = Callable[[str], None]


class Header(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The first line of an archive file."""

    format: str
    version: int
    site: str
    day: str
    epoch: int | None
    first_seq: int
    last_seq: int
    count: int


class Line(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Every other line: one event of the day with its sequence number in the log."""

    seq: int
    event: msgspec.Raw


_HEADER = msgspec.json.Decoder(Header)
_LINE = msgspec.json.Decoder(Line)
_ENCODE = msgspec.json.Encoder()


def archive_dir(log_path: str | Path, configured: str = "") -> Path:
    """Where a log's archive files are: ``configured`` (``[store] archive``), else ``archive/`` beside the log."""
    return Path(configured) if configured else Path(log_path).absolute().parent / "archive"


def file_name(site: str, day: str) -> str:
    return f"{site}-{day}{SUFFIX}"


def _noop(step: str) -> None:
    pass


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ArchivedDay:
    """A verified archive file: its header and its events' stored bytes, in order."""

    header: Header
    lines: list[tuple[int, bytes]]

    def events(self, path: str = "") -> Iterator[tuple[int, ev.AnyEvent]]:
        for seq, body in self.lines:
            try:
                yield seq, ev.decode_event(body)
            except msgspec.DecodeError as exc:
                raise StorageError(f"archive file {path}: event {seq} is unreadable ({exc})",
                                   StorageCause.ARCHIVE_CORRUPT) from None


def sha256_of(path: Path) -> tuple[str, int]:
    """The SHA-256 (hex) and size of a file; StorageError (archive_missing) when it is not there."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        raise StorageError(f"archive file {path} is missing", StorageCause.ARCHIVE_MISSING) from None
    except OSError as exc:
        raise classify_os_error(str(path), "read the archive file", exc) from None
    return digest.hexdigest(), size


def parse_archive(data: bytes, path: str) -> ArchivedDay:
    """Decompress and parse an archive file's bytes, checking its header against its lines."""

    def bad(why: str) -> StorageError:
        return StorageError(f"archive file {path} is damaged: {why}", StorageCause.ARCHIVE_CORRUPT)

    try:
        text = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise bad(f"not a complete gzip file ({exc})") from None
    raw = text.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    if not raw:
        raise bad("it is empty")
    try:
        header = _HEADER.decode(raw[0])
    except msgspec.DecodeError as exc:
        raise bad(f"its first line is not an archive header ({exc})") from None
    if header.format != FORMAT or header.version != VERSION:
        raise bad(f"format {header.format!r} version {header.version}; this antre reads {FORMAT!r} {VERSION}")
    lines: list[tuple[int, bytes]] = []
    previous = header.first_seq - 1
    for number, item in enumerate(raw[1:], start=2):
        try:
            line = _LINE.decode(item)
        except msgspec.DecodeError as exc:
            raise bad(f"line {number} is not an event line ({exc})") from None
        if not previous < line.seq <= header.last_seq:
            raise bad(f"line {number}: seq {line.seq} out of order or outside {header.first_seq}-{header.last_seq}")
        previous = line.seq
        lines.append((line.seq, bytes(line.event)))
    if len(lines) != header.count:
        raise bad(f"{len(lines)} events, its header says {header.count}")
    if lines and lines[0][0] != header.first_seq:
        raise bad(f"its first event is {lines[0][0]}, its header says {header.first_seq}")
    return ArchivedDay(header, lines)


def read_archive(directory: Path, record: ArchiveRecord, site: str) -> ArchivedDay:
    """Read a day's archive file as the log recorded it: same checksum, same header, every line sound."""
    path = directory / record.file
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StorageError(
            f"archive file {path} of day {record.day} is missing (the log moved that day's "
            f"{record.count} events there). Put it back from a backup (`antre backup` copies the archive to "
            "<backups>/archive/) or from wherever the archive directory was moved", StorageCause.ARCHIVE_MISSING,
        ) from None
    except OSError as exc:
        raise classify_os_error(str(path), "read the archive file", exc) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != record.sha256:
        raise StorageError(
            f"archive file {path} of day {record.day} is not the file the log recorded (sha256 {digest[:16]}..., "
            f"recorded {record.sha256[:16]}..., {len(data)} bytes, recorded {record.bytes}): it was damaged or "
            "replaced. Restore it from a backup (`antre backup` copies the archive to <backups>/archive/)",
            StorageCause.ARCHIVE_CORRUPT,
        )
    archived = parse_archive(data, str(path))
    h = archived.header
    if (h.site, h.day, h.first_seq, h.last_seq, h.count) != (site, record.day, record.first_seq, record.last_seq,
                                                             record.count):
        raise StorageError(
            f"archive file {path} holds site {h.site!r} day {h.day} events {h.first_seq}-{h.last_seq} ({h.count}); "
            f"the log recorded site {site!r} day {record.day} events {record.first_seq}-{record.last_seq} "
            f"({record.count})", StorageCause.ARCHIVE_CORRUPT,
        )
    return archived


# ----------------------------------------------------------------------------- writing


def encode_archive(header: Header, rows: list[tuple[int, bytes]]) -> bytes:
    """The compressed file for ``rows`` (deterministic: no time or name in the gzip header)."""
    parts = [_ENCODE.encode(header), b"\n"]
    for seq, body in rows:
        parts += [b'{"seq":', str(seq).encode(), b',"event":', body, b"}\n"]
    return gzip.compress(b"".join(parts), compresslevel=6, mtime=0)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_connection(log_path: str) -> sqlite3.Connection:
    uri = f"file:{urllib.parse.quote(str(Path(log_path).resolve()))}?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def check_whole_log(log_path: str) -> None:
    """``PRAGMA quick_check`` of every page (the integrity check the start no longer does); StorageError if not ok."""
    db = _read_connection(log_path)
    try:
        rows = [str(r[0]) for r in db.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.Error as exc:
        raise classify_sqlite_error(log_path, "check", exc) from None
    finally:
        db.close()
    if rows != ["ok"]:
        more = f" (and {len(rows) - 1} more problems)" if len(rows) > 1 else ""
        raise StorageError(
            f"event log {log_path} failed its integrity check before archiving ({rows[0][:200]}{more}): nothing "
            "was archived. Stop antre central, run `antre central check-log`, and restore the latest backup "
            "if it fails (README: Backups)", StorageCause.CORRUPT,
        )


def export_day(log_path: str, site: str, epoch: int | None, span: DaySpan, directory: Path,
               checkpoint: Checkpoint = _noop) -> ArchiveRecord:
    """Write, sync, rename and verify the archive file of one day of the live log (step 1).

    Reads with its own read-only connection, so it may run in any thread beside the writer.
    Returns the facts :meth:`EventStore.commit_archive` records (step 2).  Checkpoints:
    ``read``, ``writing`` (half the file written), ``written`` (synced), ``renamed``, ``verified``.
    """
    db = _read_connection(log_path)
    try:
        rows = [(int(seq), bytes(body)) for seq, body in db.execute(
            "SELECT seq, body FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq", (span.first_seq, span.last_seq))]
    except sqlite3.Error as exc:
        raise classify_sqlite_error(log_path, "read a day to archive from", exc) from None
    finally:
        db.close()
    if not rows:
        raise StorageError(f"day {span.day} has no events in {log_path}; nothing to archive", StorageCause.IO)
    for seq, body in rows:
        try:
            event = ev.decode_event(body)
        except msgspec.DecodeError as exc:
            raise StorageError(f"event {seq} in {log_path} is unreadable ({exc}); day {span.day} is not archived",
                               StorageCause.CORRUPT) from None
        if seq == rows[0][0] and not (seq == span.first_seq and isinstance(event, ev.DayOpened)
                                      and event.day == span.day):
            raise StorageError(f"day {span.day} of {log_path} does not begin with its day_opened event (seq {seq})",
                               StorageCause.CORRUPT)
    checkpoint("read")
    header = Header(FORMAT, VERSION, site, span.day, epoch, span.first_seq, span.last_seq, len(rows))
    data = encode_archive(header, rows)
    name = file_name(site, span.day)
    final = directory / name
    partial = directory / f".{name}.partial"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error = classify_os_error(str(directory), "create the archive directory", exc)
        if isinstance(exc, FileExistsError):
            error = StorageError(f"cannot create the archive directory {directory}: a file of that name is in the "
                                 "way (move it, or set [store] archive to another directory)", StorageCause.IO)
        raise error from None
    try:
        with open(partial, "wb") as f:
            half = len(data) // 2
            f.write(data[:half])
            f.flush()
            checkpoint("writing")
            f.write(data[half:])
            f.flush()
            os.fsync(f.fileno())
        checkpoint("written")
        os.replace(partial, final)
        _fsync_dir(directory)
        checkpoint("renamed")
        digest, size = sha256_of(final)
        back = parse_archive(final.read_bytes(), str(final))
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise classify_os_error(str(final), "write the archive file", exc) from None
    if back.header != header or back.lines != rows:
        raise StorageError(f"archive file {final} did not read back as written; day {span.day} is not archived "
                           "(check the disk: `dmesg`)", StorageCause.ARCHIVE_CORRUPT)
    checkpoint("verified")
    return ArchiveRecord(span.day, name, digest, size, len(rows), span.first_seq, span.last_seq, time.time())


def commit_day(store: EventStore, record: ArchiveRecord, directory: Path, checkpoint: Checkpoint = _noop) -> None:
    """Step 2, on the writer's thread: the file is still the one exported; record it and delete the rows."""
    digest, size = sha256_of(directory / record.file)
    if (digest, size) != (record.sha256, record.bytes):
        raise StorageError(f"archive file {directory / record.file} changed after it was verified; day "
                           f"{record.day} stays in the live log", StorageCause.ARCHIVE_CORRUPT)
    store.commit_archive(record, before_commit=lambda: checkpoint("deleted"))
    checkpoint("committed")


def days_due(store: EventStore, retention_days: int, today: dt.date) -> list[DaySpan]:
    """The live days more than ``retention_days`` before ``today``, oldest first; never the log's latest
    day, and ``today`` is taken no later than that day (a clock set far ahead archives nothing early)."""
    spans = store.day_spans()
    if not spans:
        return []
    today = min(today, dt.date.fromisoformat(spans[-1].day))
    cutoff = (today - dt.timedelta(days=retention_days)).isoformat()
    return [s for s in spans[:-1] if s.day < cutoff]


def clean_partials(directory: Path, site: str) -> None:
    """Remove what an interrupted export left (``.<name>.partial``): the rows are still in the log."""
    if not directory.is_dir():
        return
    for path in directory.glob(f".{site}-*{SUFFIX}.partial"):
        log.info("removing %s, left by an interrupted archive export", path)
        path.unlink(missing_ok=True)


def archive_due(store: EventStore, directory: Path, retention_days: int, today: dt.date,
                checkpoint: Checkpoint = _noop) -> list[ArchiveRecord]:
    """Archive every day due, one after the other, in this thread (tools, tests, the bench);
    the store must be the writer.  The running central uses :class:`LogArchiver` instead."""
    due = days_due(store, retention_days, today)
    if not due:
        return []
    clean_partials(directory, store.site)
    check_whole_log(store.path)
    checkpoint("checked")
    done = []
    for span in due:
        record = export_day(store.path, store.site, store.epoch, span, directory, checkpoint)
        commit_day(store, record, directory, checkpoint)
        done.append(record)
    return done


# ----------------------------------------------------------------------------- the central's archiver


class LogArchiver:
    """Moves the days past the retention out of a running central's log, a day at a time.

    :meth:`on_pass` is a hook of the writer loop (``CentralRunner.on_pass``): it looks for
    days due at start and every ``check_every_s``, exports one in a background thread and,
    when that is done, commits it on the writer's own thread.  A failure is logged as an error
    with its cause and retried after ``retry_s``; the rows stay in the live log meanwhile.
    """

    def __init__(self, store: EventStore, directory: Path, retention_days: int, zone: dt.tzinfo,
                 clock: Callable[[], float] = time.time, *, check_every_s: float = 600.0, retry_s: float = 3600.0,
                 checkpoint: Checkpoint = _noop) -> None:
        self.store = store
        self.directory = directory
        self.retention_days = retention_days
        self.zone = zone
        self.clock = clock
        self.check_every_s = check_every_s
        self.retry_s = retry_s
        self.checkpoint = checkpoint
        self.archived: list[ArchiveRecord] = []
        self.failures = 0
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="antre-archive")
        self._job: concurrent.futures.Future[ArchiveRecord] | None = None
        self._due: list[DaySpan] = []
        self._checked = False  # this round's quick_check passed
        self._next_look = 0.0  # monotonic: look for days due at the first pass

    def on_pass(self) -> None:
        """Advance by at most one step; never raises (a hook of the writer loop)."""
        try:
            self._step()
        except Exception as exc:
            self._failed(exc)

    def _step(self) -> None:
        if self._job is not None:
            if not self._job.done():
                return
            job, self._job = self._job, None
            record = job.result()  # raises what the export raised
            commit_day(self.store, record, self.directory, self.checkpoint)
            self.archived.append(record)
            self._due.pop(0)
            log.info("archived day %s: %d events (seq %d-%d) moved to %s, sha256 %s", record.day, record.count,
                     record.first_seq, record.last_seq, self.directory / record.file, record.sha256[:16])
        if not self._due:
            if time.monotonic() < self._next_look:
                return
            self._next_look = time.monotonic() + self.check_every_s
            today = dt.datetime.fromtimestamp(self.clock(), self.zone).date()
            self._due = days_due(self.store, self.retention_days, today)
            self._checked = False
            if not self._due:
                return
            log.info("%d days of %s are older than the retention (%d days): archiving them to %s",
                     len(self._due), self.store.path, self.retention_days, self.directory)
        self._job = self._executor.submit(self._export, self._due[0], not self._checked)

    def _export(self, span: DaySpan, check: bool) -> ArchiveRecord:
        if check:
            clean_partials(self.directory, self.store.site)
            check_whole_log(self.store.path)
            self._checked = True
            self.checkpoint("checked")
        return export_day(self.store.path, self.store.site, self.store.epoch, span, self.directory, self.checkpoint)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self._due = []
        self._next_look = time.monotonic() + self.retry_s
        if isinstance(exc, StorageError):
            log.error("archiving the log failed, the days stay in the live log (retry in %.0f s): %s",
                      self.retry_s, exc.report())
        else:
            log.exception("archiving the log failed (retry in %.0f s)", self.retry_s, exc_info=exc)

    def wait_export(self, timeout: float) -> bool:
        """Wait until the export under way (if any) is done; True if none is running any more."""
        job = self._job
        if job is None:
            return True
        done, _ = concurrent.futures.wait([job], timeout)
        return bool(done)

    def close(self) -> None:
        """Wait for an export under way (its file is unreferenced until a commit; a later round redoes it)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
