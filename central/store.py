"""Durable queue state: an append-only event log in SQLite (WAL mode).

Each batch of events, together with the replies to the commands that caused
them, is written in one transaction and committed before anything is
announced or acknowledged.  With ``durability="full"`` (the default) SQLite
syncs the log to disk at every commit, so a power cut loses nothing that was
acknowledged; ``"normal"`` survives a crash of the process but may lose the
last commits on a power cut; ``"off"`` exists to measure what durability
costs and is never for production.

Opening a log costs the same whatever its history: the file must be an SQLite
database holding this site's log; the replay reads today's events and the
command ids of the reply window (an index), nothing older.  Every page is checked (``PRAGMA quick_check``)
before each day is archived and by ``antre central check-log``.  Days older than
the retention leave the log for their archive files (:mod:`antre.central.archive`;
the ``archived`` table names them); :class:`~antre.central.history.History`
reads both.

Any storage failure (disk full, corrupt file, unreadable event) raises
:class:`StorageError`, whose message says what happened and what to do; the
service must stop rather than carry on with state it cannot keep.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import json
import logging
import os
import socket
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from antre.broker.errors import EX_STORAGE, AntreError
from antre.central import events as ev

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: the first 16 bytes of every SQLite database file
SQLITE_MAGIC = b"SQLite format 3\x00"
Durability = Literal["full", "normal", "off"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    ts    REAL NOT NULL,
    kind  TEXT NOT NULL,
    actor TEXT NOT NULL,
    cmd   TEXT,
    body  BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS days (day TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS commands (
    key   TEXT PRIMARY KEY,
    ts    REAL NOT NULL,
    reply BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_ts ON commands(ts, key);
CREATE TABLE IF NOT EXISTS archived (
    day         TEXT PRIMARY KEY,
    file        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    archived_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts      REAL NOT NULL,
    topic   TEXT NOT NULL,
    payload BLOB NOT NULL,
    error   TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A received message whose handling failed for an unforeseen reason, kept for inspection."""

    id: int
    ts: float
    topic: str
    payload: bytes
    error: str


class StorageCause(str, enum.Enum):
    """What is wrong with the event log's storage; each cause has its own remedy."""

    PERMISSION = "permission"
    DISK_FULL = "disk_full"
    READ_ONLY_FS = "read_only_filesystem"
    CORRUPT = "corrupt"
    LOCKED = "locked"
    WRONG_SITE = "wrong_site"
    SCHEMA = "schema"
    IO = "io"
    #: a day's archive file (see :mod:`antre.central.archive`) is not where the log says
    ARCHIVE_MISSING = "archive_missing"
    #: a day's archive file is there but is not what the log recorded (checksum, header, lines)
    ARCHIVE_CORRUPT = "archive_corrupt"


class StorageError(AntreError, RuntimeError, exit_status=EX_STORAGE, what="storage", detail="{cause.value}"):
    """The event log cannot be written or read; the service must stop.

    ``cause`` says why (:class:`StorageCause`); the message says what to do.
    """

    def __init__(self, message: str, cause: StorageCause = StorageCause.IO) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True, slots=True)
class StoredReply:
    key: str
    ts: float
    reply: bytes


@dataclass(frozen=True, slots=True)
class DaySpan:
    """A local day of the live log: its events are ``first_seq`` to ``last_seq``, its day_opened first."""

    day: str
    first_seq: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class ArchiveRecord:
    """What the log records of a day moved to its archive file (the ``archived`` table).

    ``file`` is the file's name in the archive directory (the directory is the site's
    configuration, so a log and its archive can move together).
    """

    day: str
    file: str
    sha256: str
    bytes: int
    count: int
    first_seq: int
    last_seq: int
    archived_at: float


def backup_dir(log_path: str | Path) -> Path:
    """Where ``antre backup`` keeps a log's backups unless told otherwise: ``backups/`` beside it."""
    return Path(log_path).absolute().parent / "backups"


def restore_advice(path: str | Path) -> str:
    """How to restore, for the messages of a damaged log."""
    return (f"restore the latest backup in its place (the newest file in {backup_dir(path)}, written by "
            "`antre backup`; README: Backups)")


def _username() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # pragma: no cover
        return str(os.geteuid())


def _whoami() -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(os.geteuid()).pw_name} (uid {os.geteuid()})"
    except (ImportError, KeyError):  # pragma: no cover - not on Linux
        return f"uid {os.geteuid()}"


def classify_os_error(path: str, action: str, exc: OSError) -> StorageError:
    """An OSError met on the log's files, as a StorageError naming its real cause and remedy."""
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return StorageError(
            f"cannot {action} {path}: the disk is full. Free space on {_mount_of(path)} (e.g. old logs in "
            "/var/log, journalctl --vacuum-size=100M), then restart antre central",
            StorageCause.DISK_FULL,
        )
    if exc.errno == errno.EROFS:
        return StorageError(
            f"cannot {action} {path}: the file system is mounted read-only (an SD card that failed, or a "
            "read-only root). Check `dmesg` and `mount`, remount it read-write or move store.path to a writable "
            "disk", StorageCause.READ_ONLY_FS,
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return StorageError(
            f"cannot {action} {path}: permission denied for {_whoami()}. The directory and the log must "
            f"belong to the user antre central runs as: `chown -R {_username()}: "
            f"{Path(path).parent}` (or point store.path at a directory it owns)",
            StorageCause.PERMISSION,
        )
    return StorageError(f"cannot {action} {path}: {exc.strerror or exc}; check the disk (`dmesg`)",
                        StorageCause.IO)


def classify_sqlite_error(path: str, action: str, exc: sqlite3.Error) -> StorageError:
    """A SQLite error as a StorageError naming its real cause and remedy."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_FULL"):
        return classify_os_error(path, action, OSError(errno.ENOSPC, "disk full"))
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH", "SQLITE_CANTOPEN")):
        probe = _writable_problem(path)
        if probe is not None:
            return classify_os_error(path, action, probe)
        if name.startswith("SQLITE_CANTOPEN"):
            return StorageError(f"cannot {action} {path}: SQLite cannot open it ({exc}); check the path and "
                                "the disk (`dmesg`)", StorageCause.IO)
        return classify_os_error(path, action, OSError(errno.EACCES, str(exc)))
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return StorageError(
            f"cannot {action} {path}: the file is not a valid event log ({exc}). Stop antre central, move "
            f"the file aside (`mv {path} {path}.corrupt`) and {restore_advice(path)}", StorageCause.CORRUPT,
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StorageError(
            f"cannot {action} {path}: another process holds the database ({exc}); is a second antre central "
            "or a tool writing to it?", StorageCause.LOCKED,
        )
    return StorageError(f"cannot {action} {path}: {exc}; check the disk (`dmesg`)", StorageCause.IO)


def _writable_problem(path: str) -> OSError | None:
    """Why ``path`` (or its directory, for files SQLite creates beside it) cannot be written, if it cannot."""
    target = Path(path)
    for candidate in (target.parent, target):
        if not candidate.exists():
            continue
        try:
            if os.statvfs(candidate).f_flag & os.ST_RDONLY:
                return OSError(errno.EROFS, "read-only file system")
        except OSError:  # pragma: no cover
            pass
        if not os.access(candidate, os.W_OK):
            return OSError(errno.EACCES, "permission denied")
    return None


def _mount_of(path: str) -> str:
    p = Path(path).resolve().parent
    while not p.is_mount() and p != p.parent:
        p = p.parent
    return str(p)


class LogLock:
    """An exclusive lock on one event log (``<log>.lock``), held while a central writes it.

    The lock file names its holder (host, pid, start time) for the message a second
    central prints.  The kernel drops the lock when the holder dies, even by SIGKILL.
    """

    def __init__(self, path: str) -> None:
        self.path = path + ".lock"
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise classify_os_error(self.path, "create the lock file", exc) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.holder()
            os.close(self._fd)
            raise StorageError(
                f"event log {path} is in use by another antre central ({holder}): stop that one first "
                "(`systemctl stop antre-central` on that machine). Two centrals must never write one site.",
                StorageCause.LOCKED,
            ) from None
        except OSError as exc:
            os.close(self._fd)
            raise classify_os_error(self.path, "lock", exc) from None
        me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps(me).encode() + b"\n", 0)
            os.fsync(self._fd)
        except OSError as exc:
            self.release()
            raise classify_os_error(self.path, "write the lock file", exc) from None

    def holder(self) -> str:
        try:
            info = json.loads(os.pread(self._fd, 4096, 0) or b"{}")
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
            return f"pid {int(info['pid'])} on host {info['host']}, since {since}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown"

    def release(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)  # closing drops the lock
            finally:
                self._fd = -1


class EventStore:
    """The append-only event log of one site.

    A writer (the central) holds :class:`LogLock` for as long as the store is open, so a
    second central on the same log refuses to start.  ``readonly=True`` opens it for tools
    (audit, quarantine, reports) that may run beside a live central.
    """

    def __init__(self, path: str | Path, site: str, durability: Durability = "full", *,
                 readonly: bool = False) -> None:
        self.path = str(path)
        self.site = site
        self.durability = durability
        self.readonly = readonly
        self._lock: LogLock | None = None
        self._identity: tuple[int, int] | None = None
        self.epoch: int | None = None
        #: called after every commit with its duration (s) and its events (metrics)
        self.on_commit: Callable[[float, Sequence[ev.AnyEvent]], None] | None = None
        memory = self.path == ":memory:"
        if readonly and not memory and not Path(self.path).exists():
            raise StorageError(f"event log {self.path} does not exist (check store.path or --db)", StorageCause.IO)
        if not memory and not readonly:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise classify_os_error(str(Path(self.path).parent), "create the directory", exc) from None
            problem = _writable_problem(self.path)
            if problem is not None:
                raise classify_os_error(self.path, "write the event log", problem)
            self._lock = LogLock(self.path)
        try:
            self._check_header()
            if readonly and not memory:
                uri = f"file:{urllib.parse.quote(str(Path(self.path).resolve()))}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            else:
                self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(f"PRAGMA synchronous={durability.upper()}")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._sanity_check()
            if not readonly:
                self._db.executescript(_SCHEMA)
            self._check_meta()
            self._identity = self._file_identity()
            #: sequence number of the newest committed event: only grows, so it
            #: versions everything published from the state (``rev``).
            #: (AUTOINCREMENT's own counter too: a seq once used, even of a row since deleted, is never reused)
            self.last_seq = int(self._db.execute(
                "SELECT max(coalesce((SELECT max(seq) FROM events), 0), "
                "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))").fetchone()[0])
        except sqlite3.Error as exc:
            self.close()
            raise classify_sqlite_error(self.path, "open the event log", exc) from None
        except StorageError:
            self.close()
            raise

    def _sanity_check(self) -> None:
        """What can be checked at every start without reading the whole file: it is an SQLite
        database (its header and schema are readable) and, unless new, an antre event log.

        Every page is checked by ``antre central check-log`` (PRAGMA integrity_check) and, at
        each day archived, by the central itself (:mod:`antre.central.archive`); a damaged page
        of the current day is met by the replay at start, which reads it.
        """
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise self.not_a_log(f"an SQLite database without antre's tables ({', '.join(sorted(tables)[:5])})")

    def _check_header(self) -> None:
        if self.path == ":memory:":
            return
        try:
            with open(self.path, "rb") as f:
                head = f.read(len(SQLITE_MAGIC))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise classify_os_error(self.path, "read the event log", exc) from None
        if head and head != SQLITE_MAGIC:
            raise self.not_a_log("it is not an SQLite database")

    def not_a_log(self, why: str) -> StorageError:
        return StorageError(
            f"event log {self.path} is not a valid event log ({why}): the file is damaged or another file. "
            f"Stop antre central, move the file aside (`mv {self.path} {self.path}.corrupt`) "
            f"and {restore_advice(self.path)}", StorageCause.CORRUPT,
        )

    def _check_meta(self) -> None:
        rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not rows and not self.readonly:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [("schema", str(SCHEMA_VERSION)), ("site", self.site)],
            )
            self._db.execute("COMMIT")
            return
        if rows.get("site") != self.site:
            raise StorageError(
                f"event log {self.path} belongs to site {rows.get('site')!r}, not {self.site!r}; "
                "point store.path at this site's own log", StorageCause.WRONG_SITE,
            )
        if rows.get("schema") != str(SCHEMA_VERSION):
            raise StorageError(
                f"event log {self.path} has schema {rows.get('schema')!r}; this antre reads schema {SCHEMA_VERSION}",
                StorageCause.SCHEMA,
            )
        if rows.get("epoch"):
            self.epoch = int(rows["epoch"])

    def new_epoch(self, newer_than: int = 0) -> int:
        """Give the log a new epoch (an operator continuing knowingly from an older log)."""
        self.epoch = None
        return self.begin_epoch(max(newer_than, self._stored_epoch()))

    def _stored_epoch(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        return int(row[0]) if row else 0

    def begin_epoch(self, newer_than: int = 0) -> int:
        """Give a log without an epoch its epoch: milliseconds since 1970 at this moment, and
        greater than ``newer_than`` (the newest epoch the site has seen, from the broker's lease).

        Everything the central publishes carries the epoch of its log; devices accept any state
        of a newer epoch (a fresh log) and never act on one of an older epoch.
        """
        if self.epoch is not None:
            return self.epoch
        epoch = max(int(time.time() * 1000), newer_than + 1)
        try:
            self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('epoch', ?)", (str(epoch),))
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "write to the event log", exc) from None
        self.epoch = epoch
        return epoch

    # ----------------------------------------------------------------- write

    def _file_identity(self) -> tuple[int, int] | None:
        if self.path == ":memory:":
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def _check_file(self) -> None:
        """The log file is still the one we opened: a deleted or replaced file would swallow every
        later commit (SQLite writes on into the unlinked inode) and lose it at the next start."""
        if self.path == ":memory:" or self._identity is None:
            return
        if self._file_identity() != self._identity:
            raise StorageError(
                f"the event log {self.path} was deleted or replaced while antre central was running: nothing "
                "more is written (it would be lost). Put the log back (or restore the latest backup) and "
                "restart antre central; the broker keeps what was not acknowledged", StorageCause.IO,
            )

    def append(self, events: Sequence[ev.AnyEvent], replies: Sequence[StoredReply] = ()) -> None:
        """Write events and replies in one transaction and commit it."""
        if not events and not replies:
            return
        self._check_file()
        last = self.last_seq
        started = time.perf_counter()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows, days = [], []
                for event in events:  # numbered here: one statement for the whole batch
                    last += 1
                    rows.append((last, event.ts, _kind(event), event.actor, event.cmd, ev.encode_event(event)))
                    if isinstance(event, ev.DayOpened):
                        days.append((event.day, last))
                if rows:
                    self._db.executemany(
                        "INSERT INTO events(seq, ts, kind, actor, cmd, body) VALUES (?, ?, ?, ?, ?, ?)", rows)
                if days:
                    self._db.executemany("INSERT OR REPLACE INTO days(day, seq) VALUES (?, ?)", days)
                if replies:
                    self._db.executemany(
                        "INSERT OR IGNORE INTO commands(key, ts, reply) VALUES (?, ?, ?)",
                        [(r.key, r.ts, r.reply) for r in replies],
                    )
                self._db.execute("COMMIT")
                self.last_seq = last
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            error = classify_sqlite_error(self.path, "commit to the event log", exc)
            raise StorageError(f"{error}. Nothing of this batch was acknowledged: the broker keeps it for the "
                               "next start", error.cause) from None
        if self.on_commit is not None:
            try:
                self.on_commit(time.perf_counter() - started, events)
            except Exception:  # an observer never fails a committed batch
                log.exception("commit observer failed")

    def quarantine(self, ts: float, topic: str, payload: bytes, error: str) -> int:
        """Keep a message whose handling failed (committed at once); returns its quarantine id."""
        try:
            cur = self._db.execute(
                "INSERT INTO quarantine(ts, topic, payload, error) VALUES (?, ?, ?, ?)",
                (ts, topic[:1000], bytes(payload), error[:4000]),
            )
            return int(cur.lastrowid or 0)
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "write to the quarantine of", exc) from None

    def quarantined(self, limit: int = 1000) -> list[Quarantined]:
        """The most recent quarantined messages, newest last."""
        try:
            rows = self._db.execute(
                "SELECT id, ts, topic, payload, error FROM quarantine ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "read the quarantine of", exc) from None
        return [Quarantined(int(i), float(t), str(tp), bytes(p), str(e)) for i, t, tp, p, e in reversed(rows)]

    def prune_replies(self, older_than: float) -> int:
        """Forget command replies older than ``older_than`` (Unix seconds)."""
        try:
            cur = self._db.execute("DELETE FROM commands WHERE ts < ?", (older_than,))
            return cur.rowcount
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "prune command replies in", exc) from None

    def commit_archive(self, record: ArchiveRecord, before_commit: Callable[[], None] | None = None) -> None:
        """Record a day's archive file and delete its rows from the live log, in one transaction.

        The caller has written, synced and verified the file (:mod:`antre.central.archive`);
        the rows must still be exactly those the file holds, or nothing is changed.
        ``before_commit`` (tests: a crash there) runs inside the transaction before COMMIT.
        """
        self._check_file()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                count = int(self._db.execute("SELECT count(*) FROM events WHERE seq BETWEEN ? AND ?",
                                             (record.first_seq, record.last_seq)).fetchone()[0])
                span = {s.day: s for s in self.day_spans()}.get(record.day)
                if count != record.count or span is None or (span.first_seq, span.last_seq) != (
                        record.first_seq, record.last_seq) or span.last_seq >= self.last_seq:
                    raise StorageError(
                        f"the live log {self.path} no longer holds day {record.day} as its archive file "
                        f"{record.file} does ({count} events in {span}; the file: {record.count} events "
                        f"{record.first_seq}-{record.last_seq}); nothing was deleted", StorageCause.IO)
                self._db.execute(
                    "INSERT INTO archived(day, file, sha256, bytes, count, first_seq, last_seq, archived_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (record.day, record.file, record.sha256, record.bytes, record.count, record.first_seq,
                     record.last_seq, record.archived_at))
                self._db.execute("DELETE FROM events WHERE seq BETWEEN ? AND ?", (record.first_seq, record.last_seq))
                self._db.execute("DELETE FROM days WHERE day = ?", (record.day,))
                if before_commit is not None:
                    before_commit()
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "archive a day of", exc) from None

    # ------------------------------------------------------------------ read

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read in one transaction: everything read inside sees the state of one commit
        (a reader beside the central never sees a day half archived)."""
        if self._db.in_transaction:
            yield
            return
        try:
            self._db.execute("BEGIN")
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "read", exc) from None
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def day_spans(self) -> list[DaySpan]:
        """The days of the live log, oldest first (the latest one ends at :attr:`last_seq`)."""
        try:
            rows = self._db.execute("SELECT day, seq FROM days ORDER BY seq").fetchall()
            last = int(self._db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "read the days of", exc) from None
        spans = []
        for i, (day, seq) in enumerate(rows):
            end = int(rows[i + 1][1]) - 1 if i + 1 < len(rows) else last
            spans.append(DaySpan(str(day), int(seq), end))
        return spans

    def archived(self) -> list[ArchiveRecord]:
        """The days moved to the archive, oldest first (none for a log older than the archive)."""
        try:
            rows = self._db.execute(
                "SELECT day, file, sha256, bytes, count, first_seq, last_seq, archived_at FROM archived ORDER BY day"
            ).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a log no central of this version has written (read-only)
                return []
            raise classify_sqlite_error(self.path, "read the archived days of", exc) from None
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "read the archived days of", exc) from None
        return [ArchiveRecord(str(d), str(f), str(h), int(b), int(c), int(s1), int(s2), float(t))
                for d, f, h, b, c, s1, s2, t in rows]

    def raw_events(self, first_seq: int, last_seq: int) -> list[tuple[int, bytes]]:
        """The stored bytes of the events ``first_seq`` to ``last_seq`` (archiving copies them as they are)."""
        try:
            rows = self._db.execute("SELECT seq, body FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq",
                                    (first_seq, last_seq)).fetchall()
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "read the event log", exc) from None
        return [(int(seq), bytes(body)) for seq, body in rows]

    def integrity(self, full: bool = True) -> list[str]:
        """SQLite's own check of every page (``integrity_check``, or the faster ``quick_check``
        when not ``full``); returns the problems found, none when the file is sound."""
        pragma = "integrity_check" if full else "quick_check"
        try:
            rows = self._db.execute(f"PRAGMA {pragma}").fetchall()
        except sqlite3.Error as exc:
            return [f"{pragma} could not run: {exc}"]
        found = [str(row[0]) for row in rows]
        return [] if found == ["ok"] else found

    def events(self, since_seq: int = 0) -> Iterator[tuple[int, ev.AnyEvent]]:
        """Every event with a sequence number >= ``since_seq``, in order."""
        try:
            cursor = self._db.execute("SELECT seq, body FROM events WHERE seq >= ? ORDER BY seq", (since_seq,))
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "read the event log", exc) from None
        for seq, body in rows:
            try:
                yield seq, ev.decode_event(bytes(body))
            except msgspec.DecodeError as exc:
                raise StorageError(
                    f"event {seq} in {self.path} is unreadable ({exc}); the log is corrupt: move it aside and "
                    f"{restore_advice(self.path)}", StorageCause.CORRUPT,
                ) from None

    def current_day_start(self) -> int:
        """Sequence number of the latest day_opened event (0 when none)."""
        row = self._db.execute("SELECT seq FROM days ORDER BY day DESC LIMIT 1").fetchone()
        return int(row[0]) if row else 0

    def replies(self, since_ts: float) -> list[StoredReply]:
        try:
            rows = self._db.execute("SELECT key, ts, reply FROM commands WHERE ts >= ?", (since_ts,)).fetchall()
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "read command replies in", exc) from None
        return [StoredReply(k, t, bytes(r)) for k, t, r in rows]

    def reply_keys(self, since_ts: float) -> list[tuple[str, float]]:
        """The command ids answered since ``since_ts`` with their times, oldest first, without the
        replies themselves (read from the ``commands_ts`` index only)."""
        try:
            rows = self._db.execute("SELECT key, ts FROM commands WHERE ts >= ? ORDER BY ts", (since_ts,)).fetchall()
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "read command ids in", exc) from None
        return [(str(k), float(t)) for k, t in rows]

    def reply(self, key: str) -> StoredReply | None:
        """The stored reply to one command id, if the log has it."""
        try:
            row = self._db.execute("SELECT key, ts, reply FROM commands WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise classify_sqlite_error(self.path, "read a command reply in", exc) from None
        return None if row is None else StoredReply(str(row[0]), float(row[1]), bytes(row[2]))

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def close(self) -> None:
        db = getattr(self, "_db", None)
        try:
            if db is not None:
                db.close()
        except sqlite3.Error:  # pragma: no cover
            log.exception("closing event log %s", self.path)
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None


def _kind(event: ev.AnyEvent) -> str:
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str)
    return tag
