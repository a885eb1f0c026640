"""The console's own database: accounts, the session key, the alarm history, the access journal.

One SQLite file (``[console] database``, mode 0600), shared by the running console and
``antre console user add/passwd/remove``: a change made on the command line counts at the
next request (a changed password or a removed account ends its sessions at once).

Sessions are kept here too (server-side): the signed cookie names a session, and the session is
checked at every request and before every push of an open live page, so signing out, a new
password, a removed account or the end of ``session_hours`` ends it everywhere at once (a copied
cookie is worth nothing afterwards).  The database keeps only a hash of each session's id.

The access journal and the alarm history are bounded: repeated refusals of one kind from one
address for one account are one row with a count (:meth:`Accounts.journal_burst`), and rows older
than :data:`KEEP_DAYS` days (or beyond :data:`KEEP_ROWS` rows) are dropped (:meth:`Accounts.prune`).

Passwords are hashed with scrypt (:func:`hashlib.scrypt`, N=2^15, r=8, p=1: about 32 MiB
and a tenth of a second per try), salted, compared in constant time; a sign-in for an
unknown account costs the same as one for a known account.  Nothing here is queue state:
the central's event log stays the one record of the queue.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from antre.broker.errors import ConfigurationError

log = logging.getLogger(__name__)

USER_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256  # characters; longer is refused before any hashing
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024
#: the journal and alarm history keep this many days, and at most this many rows each
KEEP_DAYS = 180
KEEP_ROWS = 200_000
#: a sign-in address is remembered for its account this long (the sign-in gate's "known address")
KNOWN_ADDRESS_DAYS = 30
#: refusals of one kind within this many seconds of the previous are counted on its row
BURST_S = 300.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    name    TEXT PRIMARY KEY,
    role    TEXT NOT NULL,
    gerai   TEXT NOT NULL,
    hash    TEXT NOT NULL,
    stamp   TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alarms (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    key     TEXT NOT NULL,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    text    TEXT NOT NULL,
    started REAL NOT NULL,
    ended   REAL
);
CREATE INDEX IF NOT EXISTS alarms_open ON alarms(key) WHERE ended IS NULL;
CREATE TABLE IF NOT EXISTS journal (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    ts     REAL NOT NULL,
    user   TEXT NOT NULL,
    addr   TEXT NOT NULL,
    what   TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id      TEXT PRIMARY KEY,  -- sha256 of the id in the cookie
    user    TEXT NOT NULL,
    stamp   TEXT NOT NULL,
    addr    TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    ended   REAL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user);
CREATE TABLE IF NOT EXISTS known_addresses (
    user TEXT NOT NULL,
    addr TEXT NOT NULL,
    last REAL NOT NULL,
    PRIMARY KEY (user, addr)
);
"""


class Role(str, enum.Enum):
    """What a console account may see and do."""

    ADMIN = "admin"  #: everything, and the accounts
    SUPERVISOR = "supervisor"  #: site now, day control, any counter
    TECHNICIAN = "technician"  #: site now (read), fleet
    STAFF = "staff"  #: the counter terminal of its own gerai


class AccountError(ConfigurationError, ValueError, what="account"):
    """A bad account name, role, gerai or password (the message says which)."""


@dataclass(frozen=True)
class User:
    """A console account (never its hash outside this module)."""

    name: str
    role: Role
    gerai: tuple[str, ...]
    stamp: str  #: changes with the password: a session signed with another stamp is over

    def may_serve(self, gerai: str) -> bool:
        """May this user act for ``gerai`` at the counter terminal?"""
        if self.role in (Role.ADMIN, Role.SUPERVISOR):
            return True
        return self.role is Role.STAFF and gerai in self.gerai


@dataclass(frozen=True)
class JournalEntry:
    """One row of the access journal (a burst of refusals is one row; its detail says how many)."""

    id: int
    ts: float
    user: str
    addr: str
    what: str
    detail: str


@dataclass(frozen=True)
class AlarmRecord:
    """One alarm in the history (``ended`` None: still raised)."""

    id: int
    key: str
    kind: str
    subject: str
    text: str
    started: float
    ended: float | None


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$<salt>$<key>`` (base64)."""
    salt = salt if salt is not None else os.urandom(16)
    key = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R,
                         p=_SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=32)
    return (f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${base64.b64encode(salt).decode()}$"
            f"{base64.b64encode(key).decode()}")


def verify_password(password: str, hashed: str) -> bool:
    try:
        kind, n, r, p, salt_b64, key_b64 = hashed.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(key_b64)
        actual = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=base64.b64decode(salt_b64),
                                n=int(n), r=int(r), p=int(p), maxmem=_SCRYPT_MAXMEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


#: a hash to verify against when the account does not exist (the same cost either way)
_DUMMY_HASH = hash_password("antre-console-dummy", salt=b"\0" * 16)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not USER_RE.match(name):
        raise AccountError(f"account name {name!r}: use 2-32 lower-case letters, digits, '.', '_' or '-', "
                           "starting with a letter or digit")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is too long: at most {MAX_PASSWORD} characters")
    if password.strip() != password or not password.isprintable():
        raise AccountError("the password must not start or end with spaces nor contain control characters")
    return password


class Accounts:
    """The console database at ``path`` (created, mode 0600, on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        #: (user, addr, what, detail) -> (row id, count, last time): the open burst of each kind of refusal
        self._bursts: dict[tuple[str, str, str, str], tuple[int, int, float]] = {}
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            if not Path(self.path).exists():
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise AccountError(f"{self.path}: cannot open the console database: {exc}") from None

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ session key

    def session_key(self) -> str:
        """The secret that signs session cookies (made once, kept in the database)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'session_key'").fetchone()
        if row:
            return str(row[0])
        key = secrets.token_urlsafe(48)
        self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('session_key', ?)", (key,))
        return str(self._db.execute("SELECT value FROM meta WHERE key = 'session_key'").fetchone()[0])

    # ------------------------------------------------------------------ accounts

    def add(self, name: str, role: Role | str, password: str, gerai: Sequence[str] = (),
            known_gerai: Iterable[str] | None = None) -> User:
        """A new account; a staff account is bound to one or more gerai of the site."""
        check_name(name)
        try:
            role = Role(role)
        except ValueError:
            raise AccountError(f"role {role!r}: one of {', '.join(r.value for r in Role)}") from None
        bound = self._gerai(role, gerai, known_gerai)
        check_password(password)
        stamp = secrets.token_hex(8)
        try:
            self._db.execute("INSERT INTO users(name, role, gerai, hash, stamp, created) VALUES (?, ?, ?, ?, ?, ?)",
                             (name, role.value, json.dumps(list(bound)), hash_password(password), stamp, time.time()))
        except sqlite3.IntegrityError:
            raise AccountError(f"account {name!r} exists already (`antre console user passwd` changes its "
                               "password)") from None
        return User(name, role, bound, stamp)

    @staticmethod
    def _gerai(role: Role, gerai: Sequence[str], known: Iterable[str] | None) -> tuple[str, ...]:
        bound = tuple(dict.fromkeys(g.strip() for g in gerai if g.strip()))
        if role is Role.STAFF and not bound:
            raise AccountError("a staff account is bound to one or more gerai (--gerai g01,g02)")
        if role is not Role.STAFF and bound:
            raise AccountError(f"only staff accounts are bound to gerai; {'an' if role.value[0] in 'aeiou' else 'a'} {role.value} may act at every gerai "
                               "its role allows")
        if known is not None:
            known_set = set(known)
            unknown = [g for g in bound if g not in known_set]
            if unknown:
                raise AccountError(f"unknown gerai {', '.join(unknown)} (not in the site file)")
        return bound

    def passwd(self, name: str, password: str) -> None:
        check_password(password)
        cur = self._db.execute("UPDATE users SET hash = ?, stamp = ? WHERE name = ?",
                               (hash_password(password), secrets.token_hex(8), name))
        if cur.rowcount == 0:
            raise AccountError(f"no account {name!r}")
        self.end_sessions(name)

    def remove(self, name: str) -> None:
        cur = self._db.execute("DELETE FROM users WHERE name = ?", (name,))
        if cur.rowcount == 0:
            raise AccountError(f"no account {name!r}")
        self.end_sessions(name)
        self._db.execute("DELETE FROM known_addresses WHERE user = ?", (name,))

    # ------------------------------------------------------------------ sessions

    @staticmethod
    def _sid_key(sid: str) -> str:
        return hashlib.sha256(sid.encode("utf-8", "replace")).hexdigest()

    def open_session(self, user: User, addr: str, seconds: float) -> str:
        """A new session of ``user`` for ``seconds``; returns its id (for the cookie only)."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        self._db.execute("INSERT INTO sessions(id, user, stamp, addr, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
                         (self._sid_key(sid), user.name, user.stamp, addr[:64], now, now + seconds))
        self._db.execute("INSERT INTO known_addresses(user, addr, last) VALUES (?, ?, ?) "
                         "ON CONFLICT(user, addr) DO UPDATE SET last = excluded.last", (user.name, addr[:64], now))
        return sid

    def session_user(self, sid: str) -> User | None:
        """The account of a live session (not ended, not expired, password unchanged), else None."""
        if not isinstance(sid, str) or not 20 <= len(sid) <= 100:
            return None
        row = self._db.execute(
            "SELECT u.name, u.role, u.gerai, u.stamp FROM sessions s JOIN users u ON u.name = s.user "
            "WHERE s.id = ? AND s.ended IS NULL AND s.expires > ? AND u.stamp = s.stamp",
            (self._sid_key(sid), time.time())).fetchone()
        return None if row is None else _user(row)

    def end_session(self, sid: str) -> bool:
        """Sign out: the session ends now, wherever its cookie is (True when it was live)."""
        cur = self._db.execute("UPDATE sessions SET ended = ? WHERE id = ? AND ended IS NULL",
                               (time.time(), self._sid_key(sid)))
        return cur.rowcount > 0

    def end_sessions(self, name: str) -> int:
        """Every session of ``name`` ends (a new password, a removed account)."""
        cur = self._db.execute("UPDATE sessions SET ended = ? WHERE user = ? AND ended IS NULL", (time.time(), name))
        return cur.rowcount

    def known_address(self, name: str, addr: str) -> bool:
        """Did ``name`` sign in from ``addr`` within :data:`KNOWN_ADDRESS_DAYS` days?"""
        row = self._db.execute("SELECT last FROM known_addresses WHERE user = ? AND addr = ?", (name, addr)).fetchone()
        return row is not None and float(row[0]) > time.time() - KNOWN_ADDRESS_DAYS * 86400

    def get(self, name: str) -> User | None:
        row = self._db.execute("SELECT name, role, gerai, stamp FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else _user(row)

    def users(self) -> list[User]:
        return [_user(r) for r in self._db.execute("SELECT name, role, gerai, stamp FROM users ORDER BY name")]

    def authenticate(self, name: str, password: str) -> User | None:
        """The account when ``password`` is right; None otherwise (the same cost whether or not it exists)."""
        if len(password) > MAX_PASSWORD or not USER_RE.match(name):
            verify_password("x", _DUMMY_HASH)
            return None
        row = self._db.execute("SELECT name, role, gerai, stamp, hash FROM users WHERE name = ?",
                               (name,)).fetchone()
        if row is None:
            verify_password(password, _DUMMY_HASH)
            return None
        return _user(row[:4]) if verify_password(password, str(row[4])) else None

    # ------------------------------------------------------------------ alarms and journal

    def alarm_started(self, key: str, kind: str, subject: str, text: str, ts: float) -> None:
        self._db.execute("INSERT INTO alarms(key, kind, subject, text, started) VALUES (?, ?, ?, ?, ?)",
                         (key, kind, subject, text[:300], ts))

    def alarm_updated(self, key: str, text: str) -> None:
        """The open alarm's text changed (a count in it): the same record, its new text."""
        self._db.execute("UPDATE alarms SET text = ? WHERE key = ? AND ended IS NULL", (text[:300], key))

    def alarm_ended(self, key: str, ts: float) -> None:
        self._db.execute("UPDATE alarms SET ended = ? WHERE key = ? AND ended IS NULL", (ts, key))

    def end_open_alarms(self, ts: float) -> None:
        """At start-up: what was open when the console stopped is closed (it is re-raised if still true)."""
        self._db.execute("UPDATE alarms SET ended = ? WHERE ended IS NULL", (ts,))

    def alarm_history(self, limit: int = 100) -> list[AlarmRecord]:
        rows = self._db.execute("SELECT id, key, kind, subject, text, started, ended FROM alarms "
                                "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [AlarmRecord(int(i), str(k), str(kd), str(s), str(t), float(st), None if e is None else float(e))
                for i, k, kd, s, t, st, e in rows]

    def journal(self, user: str, addr: str, what: str, detail: str = "") -> int:
        """The console's access journal: sign-ins, refusals (what never reached the central)."""
        cur = self._db.execute("INSERT INTO journal(ts, user, addr, what, detail) VALUES (?, ?, ?, ?, ?)",
                               (time.time(), user[:64], addr[:64], what[:64], detail[:300]))
        return int(cur.lastrowid or 0)

    def journal_burst(self, user: str, addr: str, what: str, detail: str = "") -> bool:
        """A refusal that may come in floods (a blocked sign-in): the first of a burst is a row, the
        next ones (same account, address, kind and detail) within :data:`BURST_S` of the previous count on
        it ("… (37 kali, terakhir 10:32:15)").  True for the first of a burst (the caller logs that one)."""
        now = time.time()
        key = (user[:64], addr[:64], what[:64], detail[:300])
        burst = self._bursts.get(key)
        if burst is not None and now - burst[2] <= BURST_S:
            row, count, _ = burst
            count += 1
            last = time.strftime("%H:%M:%S", time.localtime(now))
            text = f"{detail} ({count} kali, terakhir {last})" if detail else f"{count} kali, terakhir {last}"
            cur = self._db.execute("UPDATE journal SET detail = ? WHERE id = ?", (text[:300], row))
            if cur.rowcount:
                self._bursts[key] = (row, count, now)
                return False
        if len(self._bursts) > 10000:
            self._bursts = {k: b for k, b in self._bursts.items() if now - b[2] <= BURST_S}
        self._bursts[key] = (self.journal(user, addr, what, detail), 1, now)
        return True

    def journal_entries(self, limit: int = 100, before: int | None = None) -> list[JournalEntry]:
        """The newest ``limit`` rows (older than row ``before`` when given: the next page)."""
        if before is None:
            rows = self._db.execute("SELECT id, ts, user, addr, what, detail FROM journal ORDER BY id DESC LIMIT ?",
                                    (limit,)).fetchall()
        else:
            rows = self._db.execute("SELECT id, ts, user, addr, what, detail FROM journal WHERE id < ? "
                                    "ORDER BY id DESC LIMIT ?", (before, limit)).fetchall()
        return [JournalEntry(int(i), float(t), str(u), str(a), str(w), str(d)) for i, t, u, a, w, d in rows]

    def prune(self, now: float | None = None) -> int:
        """Drop journal and alarm rows older than :data:`KEEP_DAYS` days or beyond :data:`KEEP_ROWS`,
        and sessions over for a day; returns how many rows went."""
        now = time.time() if now is None else now
        cutoff = now - KEEP_DAYS * 86400
        gone = 0
        for table, column in (("journal", "ts"), ("alarms", "started")):
            gone += self._db.execute(f"DELETE FROM {table} WHERE {column} < ?", (cutoff,)).rowcount
            gone += self._db.execute(f"DELETE FROM {table} WHERE id <= (SELECT id FROM {table} ORDER BY id DESC "
                                     "LIMIT 1 OFFSET ?)", (KEEP_ROWS,)).rowcount
        gone += self._db.execute("DELETE FROM sessions WHERE expires < ? OR ended < ?",
                                 (now - 86400, now - 86400)).rowcount
        self._db.execute("DELETE FROM known_addresses WHERE last < ?", (now - KNOWN_ADDRESS_DAYS * 86400,))
        return gone


def _user(row: Sequence[object]) -> User:
    name, role, gerai, stamp = row
    return User(str(name), Role(str(role)), tuple(json.loads(str(gerai))), str(stamp))
