"""Durable queue state: an append-only event log in SQLite (WAL mode).

Each batch of events, together with the replies to the commands that caused
them, is written in one transaction and committed before anything is
announced or acknowledged.  With ``durability="full"`` (the default) SQLite
syncs the log to disk at every commit, so a power cut loses nothing that was
acknowledged; ``"normal"`` survives a crash of the process but may lose the
last commits on a power cut; ``"off"`` exists to measure what durability
costs and is never for production.

Any storage failure (disk full, corrupt file, unreadable event) raises
:class:`StorageError`, whose message says what happened and what to do; the
service must stop rather than carry on with state it cannot keep.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from central import events as ev

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
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
"""


class StorageError(RuntimeError):
    """The event log cannot be written or read; the service must stop."""


@dataclass(frozen=True, slots=True)
class StoredReply:
    key: str
    ts: float
    reply: bytes


class EventStore:
    """The append-only event log of one site."""

    def __init__(self, path: str | Path, site: str, durability: Durability = "full") -> None:
        self.path = str(path)
        self.site = site
        self.durability = durability
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={durability.upper()}")
            self._db.execute("PRAGMA foreign_keys=ON")
            check = self._db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise StorageError(
                    f"event log {self.path} failed its integrity check ({check[0] if check else 'no answer'}); "
                    "restore it from a backup or move it aside to start an empty log"
                )
            self._db.executescript(_SCHEMA)
            self._check_meta()
            #: sequence number of the newest committed event: only grows, so it
            #: versions everything published from the state (``rev``).
            self.last_seq = int(self._db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"cannot open event log {self.path}: {exc}; if the file is corrupt, restore it from "
                "a backup or move it aside to start an empty log"
            ) from None

    def _check_meta(self) -> None:
        rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not rows:
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
                "point store.path at this site's own log"
            )
        if rows.get("schema") != str(SCHEMA_VERSION):
            raise StorageError(
                f"event log {self.path} has schema {rows.get('schema')!r}; this antre reads schema {SCHEMA_VERSION}"
            )

    # ----------------------------------------------------------------- write

    def append(self, events: Sequence[ev.AnyEvent], replies: Sequence[StoredReply] = ()) -> None:
        """Write events and replies in one transaction and commit it."""
        if not events and not replies:
            return
        last = self.last_seq
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for event in events:
                    cur = self._db.execute(
                        "INSERT INTO events(ts, kind, actor, cmd, body) VALUES (?, ?, ?, ?, ?)",
                        (event.ts, _kind(event), event.actor, event.cmd, ev.encode_event(event)),
                    )
                    last = int(cur.lastrowid or last)
                    if isinstance(event, ev.DayOpened):
                        self._db.execute(
                            "INSERT OR REPLACE INTO days(day, seq) VALUES (?, ?)", (event.day, cur.lastrowid)
                        )
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
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"cannot commit to event log {self.path}: {exc}; nothing of this batch was acknowledged. "
                "Free disk space or repair the disk, then restart antre central"
            ) from None

    def prune_replies(self, older_than: float) -> int:
        """Forget command replies older than ``older_than`` (Unix seconds)."""
        try:
            cur = self._db.execute("DELETE FROM commands WHERE ts < ?", (older_than,))
            return cur.rowcount
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot prune command replies in {self.path}: {exc}") from None

    # ------------------------------------------------------------------ read

    def events(self, since_seq: int = 0) -> Iterator[tuple[int, ev.AnyEvent]]:
        """Every event with a sequence number >= ``since_seq``, in order."""
        try:
            cursor = self._db.execute("SELECT seq, body FROM events WHERE seq >= ? ORDER BY seq", (since_seq,))
            rows = cursor.fetchall()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot read event log {self.path}: {exc}") from None
        for seq, body in rows:
            try:
                yield seq, ev.decode_event(bytes(body))
            except msgspec.DecodeError as exc:
                raise StorageError(
                    f"event {seq} in {self.path} is unreadable ({exc}); the log is corrupt: restore it from a backup"
                ) from None

    def current_day_start(self) -> int:
        """Sequence number of the latest day_opened event (0 when none)."""
        row = self._db.execute("SELECT seq FROM days ORDER BY day DESC LIMIT 1").fetchone()
        return int(row[0]) if row else 0

    def replies(self, since_ts: float) -> list[StoredReply]:
        try:
            rows = self._db.execute("SELECT key, ts, reply FROM commands WHERE ts >= ?", (since_ts,)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot read command replies in {self.path}: {exc}") from None
        return [StoredReply(k, t, bytes(r)) for k, t, r in rows]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.DatabaseError:  # pragma: no cover
            log.exception("closing event log %s", self.path)


def _kind(event: ev.AnyEvent) -> str:
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str)
    return tag
