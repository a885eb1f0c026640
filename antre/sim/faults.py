"""Measuring instruments for the fault suite and the soak (issue 10, points 7 and 8).

Three instruments, each usable on its own:

:class:`TcpProxy`
    A TCP proxy on a free loopback port in front of a broker, with the faults
    of a real site's network: a frozen link (:meth:`~TcpProxy.hang`, as on a
    dead Wi-Fi: no FIN, no RST, nothing moves), its recovery
    (:meth:`~TcpProxy.resume`: what was sent meanwhile arrives late, in
    order), a hard reset of every connection (:meth:`~TcpProxy.drop`) and a
    closed port (:meth:`~TcpProxy.refuse` / :meth:`~TcpProxy.accept`).

:func:`audit_log`
    Reads a central's SQLite event log read-only and checks what must hold
    whatever faults were injected: every command applied at most once, ticket
    numbers contiguous per service and day, no ticket held by two gerai, no
    impossible transition; and replays the log into a fresh engine to say what
    every gerai display and the lobby board must finally show.

:class:`CommandLedger`
    What a load generator sent and what it was answered, cross-checked
    against the log: every acknowledged command applied exactly once (else
    *lost*), no command applied twice (*doubled*), no refused command applied.

Nothing here sleeps to fix timing: waits are on conditions with timeouts.
"""

from __future__ import annotations

import copy
import dataclasses
import errno
import logging
import queue
import selectors
import socket
import sqlite3
import struct
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from antre.broker.wire import messages as m
from antre.central import events as ev
from antre.central import views
from antre.central.config import SiteConfig
from antre.central.engine import Engine
from antre.sim.sitefiles import SiteFiles

log = logging.getLogger(__name__)

# =====================================================================
# TcpProxy
# =====================================================================

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ProxyStats:
    """A consistent snapshot of a :class:`TcpProxy`'s counters."""

    accepted: int = 0  #: client connections accepted, ever
    active: int = 0  #: client connections open now
    closed: int = 0  #: connections that ended by themselves (FIN both ways, or a peer's reset)
    dropped: int = 0  #: connections reset by :meth:`TcpProxy.drop`
    upstream_failures: int = 0  #: upstream connects that failed (the client was reset)
    bytes_up: int = 0  #: bytes forwarded client -> upstream
    bytes_down: int = 0  #: bytes forwarded upstream -> client
    held_up: int = 0  #: bytes read from clients and not yet forwarded (during a hang)
    held_down: int = 0  #: bytes read from upstream and not yet forwarded
    held_ends: int = 0  #: FINs and RSTs received and not yet passed on (during a hang)
    hung: bool = False
    refusing: bool = False


class _Pipe:
    """One direction of a proxied connection: what was read and not yet written."""

    __slots__ = ("buf", "eof", "reset", "shut")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.eof = False  # the source sent FIN
        self.reset = False  # the source reset the connection
        self.shut = False  # FIN passed on to the destination

    @property
    def done(self) -> bool:
        return self.shut and not self.buf


class _Conn:
    """A client connection and its upstream twin."""

    __slots__ = ("id", "client", "upstream", "connecting", "up", "down")

    def __init__(self, ident: int, client: socket.socket) -> None:
        self.id = ident
        self.client = client
        self.upstream: socket.socket | None = None
        self.connecting = False
        self.up = _Pipe()  # client -> upstream
        self.down = _Pipe()  # upstream -> client


def _reset(sock: socket.socket | None) -> None:
    """Close with RST instead of FIN (SO_LINGER on, timeout 0)."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class TcpProxy:
    """A TCP proxy on a loopback port in front of ``(upstream_host, upstream_port)``.

    One background thread runs a :mod:`selectors` loop (it blocks in
    ``select``; control calls wake it through a socket pair, so there is no
    busy loop).  Every control call (:meth:`hang`, :meth:`resume`,
    :meth:`drop`, :meth:`refuse`, :meth:`accept`) runs on that thread and has
    taken effect, for current and new connections, when it returns.

    Fault semantics:

    * :meth:`hang` freezes the link like a dead Wi-Fi: every socket stays
      open, nothing is forwarded in either direction, no FIN or RST is passed
      on (a peer that closes or resets meanwhile is only seen by the other
      side after :meth:`resume`).  New connections are accepted, but their
      upstream connection is only opened on resume (the SYN "did not get
      through").  The proxy keeps *reading* during a hang, up to
      ``buffer_limit`` bytes per direction and connection (then TCP flow
      control holds the sender), so ``held_up``/``held_down`` tell a test
      that a press was sent into the frozen link.
    * :meth:`resume` delivers everything held, in order, then passes on any
      FIN or RST that arrived during the hang: the bytes of a press made
      during the hang reach the broker *late*, exactly as a recovering link
      delivers its sender's retransmissions.  (To model a link that never
      recovers, :meth:`drop` instead: held bytes are discarded.)
    * :meth:`drop` resets every current connection, both sides, with RST and
      discards what was held; new connections are accepted normally (hung or
      not, as before).
    * :meth:`refuse` closes the listening socket, so new connections get
      ECONNREFUSED (current ones are untouched); :meth:`accept` listens again
      on the same port.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        buffer_limit: int = 1 << 20,
        name: str = "proxy",
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.name = name
        self.buffer_limit = buffer_limit
        self._requested_port = port
        self._port = 0
        self._sel = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._ops: queue.SimpleQueue[tuple[Callable[[], None], threading.Event]] = queue.SimpleQueue()
        self._conns: dict[int, _Conn] = {}
        self._owner: dict[socket.socket, _Conn] = {}
        self._interest: dict[socket.socket, int] = {}
        self._next_id = 1
        self._hung = False
        self._refusing = False
        self._running = False
        self._thread: threading.Thread | None = None
        self._counts: Counter[str] = Counter()
        self._cond = threading.Condition()
        self._stats = ProxyStats()

    # -------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        """The loopback port clients connect to (known after :meth:`start`)."""
        return self._port

    def start(self) -> TcpProxy:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} already started")
        self._listen(self._requested_port)
        self._sel.register(self._wake_r, selectors.EVENT_READ)
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f"{self.name}:{self._port}", daemon=True)
        self._thread.start()
        log.info("%s listening on %s:%d -> %s:%d", self.name, self.host, self._port, *self.upstream)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection (FIN) and the listener; join the thread."""
        if self._thread is None or not self._thread.is_alive():
            return
        self._running = False
        self._wake()
        self._thread.join(timeout)
        if self._thread.is_alive():  # pragma: no cover
            raise RuntimeError(f"{self.name} did not stop within {timeout}s")
        log.info("%s stopped: %s", self.name, self.stats())

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- faults

    def hang(self) -> None:
        """Freeze every current and new connection (see the class docstring)."""
        self._call(self._do_hang)

    def resume(self) -> None:
        """Forward again, delivering what was held during the hang first."""
        self._call(self._do_resume)

    def drop(self) -> int:
        """Reset every current connection (RST both sides); returns how many."""
        result: list[int] = []
        self._call(lambda: result.append(self._do_drop()))
        return result[0]

    def refuse(self) -> None:
        """Refuse new connections (the port is closed: ECONNREFUSED)."""
        self._call(self._do_refuse)

    def accept(self) -> None:
        """Accept new connections again, on the same port."""
        self._call(self._do_accept)

    @property
    def hung(self) -> bool:
        return self._hung

    @property
    def refusing(self) -> bool:
        return self._refusing

    # ---------------------------------------------------------------- counters

    def stats(self) -> ProxyStats:
        with self._cond:
            return self._stats

    def wait_for(self, predicate: Callable[[ProxyStats], bool], timeout: float, what: str = "") -> ProxyStats:
        """Block until ``predicate(stats)`` holds; AssertionError after ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self._stats), timeout):
                raise AssertionError(
                    f"{self.name}: timed out after {timeout}s waiting for {what or 'a condition'}; {self._stats}"
                )
            return self._stats

    # ------------------------------------------------------------- internals

    def _call(self, op: Callable[[], None], timeout: float = 5.0) -> None:
        if not self._running or self._thread is None:
            raise RuntimeError(f"{self.name} is not running")
        done = threading.Event()
        self._ops.put((op, done))
        self._wake()
        if not done.wait(timeout):  # pragma: no cover
            raise RuntimeError(f"{self.name}: control call did not complete within {timeout}s")

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except (BlockingIOError, OSError):
            pass  # already awake (the pair's buffer is full) or closing

    def _listen(self, port: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        sock.setblocking(False)
        self._port = int(sock.getsockname()[1])
        self._listener = sock

    def _do_hang(self) -> None:
        self._hung = True
        log.info("%s: link HUNG (%d connections frozen)", self.name, len(self._conns))

    def _do_resume(self) -> None:
        self._hung = False
        held = sum(len(c.up.buf) + len(c.down.buf) for c in self._conns.values())
        log.info("%s: link resumed, delivering %d held bytes", self.name, held)
        for conn in list(self._conns.values()):
            if conn.upstream is None:
                self._connect_upstream(conn)

    def _do_drop(self) -> int:
        count = len(self._conns)
        for conn in list(self._conns.values()):
            self._close(conn, reset=True)
        self._counts["dropped"] += count
        log.info("%s: dropped %d connections with RST", self.name, count)
        return count

    def _do_refuse(self) -> None:
        self._refusing = True
        if self._listener is not None:
            self._forget(self._listener)
            self._listener.close()
            self._listener = None
        log.info("%s: refusing new connections", self.name)

    def _do_accept(self) -> None:
        self._refusing = False
        if self._listener is None:
            self._listen(self._port)
        log.info("%s: accepting new connections on port %d", self.name, self._port)

    def _run(self) -> None:
        try:
            while self._running:
                self._update_interest()
                for key, mask in self._sel.select():
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._wake_r:
                        self._drain_wake()
                    elif sock is self._listener:
                        self._accept_all()
                    else:
                        conn = self._owner.get(sock)
                        if conn is not None and conn.id in self._conns:
                            self._on_ready(conn, sock, mask)
                self._run_ops()
                self._progress()
                self._publish_stats()
        except Exception:  # pragma: no cover - a bug here must show, not hang the test
            log.exception("%s: proxy loop failed", self.name)
            raise
        finally:
            for conn in list(self._conns.values()):
                self._close(conn, reset=False)
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._sel.close()
            self._wake_r.close()
            self._wake_w.close()
            self._run_ops()  # release callers that raced with stop()
            self._publish_stats()

    def _run_ops(self) -> None:
        while True:
            try:
                op, done = self._ops.get_nowait()
            except queue.Empty:
                return
            try:
                op()
            finally:
                done.set()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _accept_all(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # pragma: no cover - e.g. out of file descriptors
                log.warning("%s: accept failed: %s", self.name, exc)
                return
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(self._next_id, client)
            self._next_id += 1
            self._conns[conn.id] = conn
            self._owner[client] = conn
            self._counts["accepted"] += 1
            log.debug("%s: connection %d accepted%s", self.name, conn.id, " (hung)" if self._hung else "")
            if not self._hung:
                self._connect_upstream(conn)

    def _connect_upstream(self, conn: _Conn) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.upstream = sock
        conn.connecting = True
        self._owner[sock] = conn
        err = sock.connect_ex(self.upstream)
        if err not in (0, errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY):
            self._upstream_failed(conn, err)

    def _upstream_failed(self, conn: _Conn, err: int) -> None:
        log.info("%s: upstream connect for connection %d failed (errno %d)", self.name, conn.id, err)
        self._counts["upstream_failures"] += 1
        self._close(conn, reset=True)

    def _on_ready(self, conn: _Conn, sock: socket.socket, mask: int) -> None:
        if sock is conn.upstream and conn.connecting:
            if mask & selectors.EVENT_WRITE:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self._upstream_failed(conn, err)
                    return
                conn.connecting = False
            return
        if mask & selectors.EVENT_READ:
            pipe = conn.up if sock is conn.client else conn.down
            self._read(sock, pipe)

    def _read(self, sock: socket.socket, pipe: _Pipe) -> None:
        room = self.buffer_limit - len(pipe.buf)
        if room <= 0 or pipe.eof or pipe.reset:
            return
        try:
            data = sock.recv(min(_CHUNK, room))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pipe.reset = True
            return
        if data:
            pipe.buf += data
        else:
            pipe.eof = True

    def _progress(self) -> None:
        """Forward what can be forwarded; pass on FIN and RST; retire finished connections."""
        if self._hung:
            return
        for conn in list(self._conns.values()):
            if conn.upstream is None or conn.connecting:
                continue
            for pipe, dst, counter in ((conn.up, conn.upstream, "bytes_up"), (conn.down, conn.client, "bytes_down")):
                if conn.id not in self._conns:
                    break
                if pipe.buf:
                    try:
                        sent = dst.send(pipe.buf)
                    except (BlockingIOError, InterruptedError):
                        sent = 0
                    except OSError:
                        self._close(conn, reset=True)
                        self._counts["closed"] += 1
                        break
                    del pipe.buf[:sent]
                    self._counts[counter] += sent
                if pipe.buf:
                    continue
                if pipe.reset:
                    self._close(conn, reset=True)  # a reset is passed on as a reset
                    self._counts["closed"] += 1
                    break
                if pipe.eof and not pipe.shut:
                    pipe.shut = True
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
            if conn.id in self._conns and conn.up.done and conn.down.done:
                self._close(conn, reset=False)
                self._counts["closed"] += 1

    def _update_interest(self) -> None:
        wanted: dict[socket.socket, int] = {}
        if self._listener is not None:
            wanted[self._listener] = selectors.EVENT_READ
        for conn in self._conns.values():
            mask = 0
            if not conn.up.eof and not conn.up.reset and len(conn.up.buf) < self.buffer_limit:
                mask |= selectors.EVENT_READ
            if not self._hung and conn.down.buf and conn.upstream is not None:
                mask |= selectors.EVENT_WRITE
            if mask:
                wanted[conn.client] = mask
            if conn.upstream is not None:
                if conn.connecting:
                    mask = selectors.EVENT_WRITE
                else:
                    mask = 0
                    if not conn.down.eof and not conn.down.reset and len(conn.down.buf) < self.buffer_limit:
                        mask |= selectors.EVENT_READ
                    if not self._hung and conn.up.buf:
                        mask |= selectors.EVENT_WRITE
                if mask:
                    wanted[conn.upstream] = mask
        for sock in list(self._interest):
            if sock not in wanted:
                self._forget(sock)
        for sock, mask in wanted.items():
            old = self._interest.get(sock)
            if old is None:
                self._sel.register(sock, mask)
            elif old != mask:
                self._sel.modify(sock, mask)
            self._interest[sock] = mask

    def _forget(self, sock: socket.socket) -> None:
        if self._interest.pop(sock, None) is not None:
            try:
                self._sel.unregister(sock)
            except (KeyError, ValueError):  # pragma: no cover
                pass

    def _close(self, conn: _Conn, reset: bool) -> None:
        self._conns.pop(conn.id, None)
        for sock in (conn.client, conn.upstream):
            if sock is None:
                continue
            self._forget(sock)
            self._owner.pop(sock, None)
            if reset:
                _reset(sock)
            else:
                sock.close()
        log.debug("%s: connection %d closed%s", self.name, conn.id, " with RST" if reset else "")

    def _publish_stats(self) -> None:
        c = self._counts
        stats = ProxyStats(
            accepted=c["accepted"], active=len(self._conns), closed=c["closed"], dropped=c["dropped"],
            upstream_failures=c["upstream_failures"], bytes_up=c["bytes_up"], bytes_down=c["bytes_down"],
            held_up=sum(len(x.up.buf) for x in self._conns.values()),
            held_down=sum(len(x.down.buf) for x in self._conns.values()),
            held_ends=sum((p.eof or p.reset) and not p.shut for x in self._conns.values() for p in (x.up, x.down)),
            hung=self._hung, refusing=self._refusing,
        )
        with self._cond:
            if stats != self._stats:
                self._stats = stats
                self._cond.notify_all()


def via_port(site: SiteFiles, port: int) -> SiteFiles:
    """A copy of a SiteFiles whose clients connect to ``port`` (e.g. a proxy's).

    Only the copy's address changes: the site's files (and the central's
    broker address) stay as they are.
    """
    clone = copy.copy(site)
    clone.port = port
    return clone


# =====================================================================
# audit_log
# =====================================================================

#: Event kinds that change queue state (command_refused only records a refusal).
STATE_CHANGES = frozenset({
    "ticket_issued", "ticket_called", "ticket_recalled", "ticket_served", "ticket_no_show",
    "ticket_transferred", "gerai_paused", "gerai_resumed", "print_acked",
})

#: Fields of displayed messages that legitimately differ from a replay (versions and clocks).
DISPLAY_IGNORED = frozenset({"rev", "ts", "epoch"})

CommandKey = tuple[str, str]  # (actor = the sending device, command id)


@dataclass
class Application:
    """One application of a command: its consecutive events (one, or ticket_served + ticket_called)."""

    seqs: list[int]
    kinds: list[str]
    day: str | None
    tickets: list[str]  # ticket numbers the events name
    ts: float  # when the central applied it (its clock, Unix seconds)

    @property
    def refused(self) -> bool:
        return self.kinds == ["command_refused"]

    def describe(self) -> str:
        what = "+".join(self.kinds)
        tickets = f" {','.join(self.tickets)}" if self.tickets else ""
        return f"seq {self.seqs[0]} {what}{tickets}"


@dataclass
class CommandEffect:
    """Everything one command id (of one device) did in the log."""

    actor: str
    cmd: str
    applications: list[Application] = field(default_factory=list)

    @property
    def times(self) -> int:
        """How many times the command was handled (1 is right; more is a doubled command)."""
        return len(self.applications)

    @property
    def changes(self) -> int:
        """Applications that changed state."""
        return sum(1 for a in self.applications if not a.refused)

    @property
    def refusals(self) -> int:
        return sum(1 for a in self.applications if a.refused)

    @property
    def kinds(self) -> list[str]:
        return [k for a in self.applications for k in a.kinds]

    @property
    def tickets(self) -> list[str]:
        return [t for a in self.applications for t in a.tickets]


@dataclass
class DayAudit:
    """One local day of the log."""

    day: str | None  # None: events before any day_opened (itself a violation)
    first_seq: int
    last_seq: int = 0
    issued: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # service -> seqs
    counts: Counter[str] = field(default_factory=Counter)  # event kind -> count
    violations: list[str] = field(default_factory=list)


@dataclass
class LogAudit:
    """The result of :func:`audit_log`: checks, per-command effects and the expected displays."""

    path: str
    events: int
    last_seq: int
    days: list[DayAudit]
    commands: dict[CommandKey, CommandEffect]
    #: what every gerai display must show, replayed from the log (``rev`` = last seq)
    gerai: dict[str, m.GeraiState]
    #: what the lobby board must show (None when the replay failed)
    board: m.Board | None
    engine: Engine
    replies: int  # rows in the commands table (remembered replies)
    log_violations: list[str]  # whole-log problems (unreadable rows, replay failures, ...)

    def effect(self, actor: str, cmd: str) -> CommandEffect | None:
        return self.commands.get((actor, cmd))

    def violations(self) -> list[str]:
        """Every broken invariant, one line each; empty for a sound log."""
        out = list(self.log_violations)
        for day in self.days:
            out.extend(day.violations)
        for effect in self.commands.values():
            if effect.times > 1:
                out.append(
                    f"command {effect.actor}/{effect.cmd} applied {effect.times} times "
                    f"({effect.changes} changing state, {effect.refusals} refused): "
                    + "; ".join(a.describe() for a in effect.applications)
                )
        return out

    def summary(self) -> str:
        lines = [f"{self.path}: {self.events} events (last seq {self.last_seq}), {len(self.days)} day(s), "
                 f"{len(self.commands)} command ids, {self.replies} stored replies"]
        for day in self.days:
            issued = " ".join(f"{s}:{len(v)}" for s, v in sorted(day.issued.items())) or "-"
            c = day.counts
            lines.append(
                f"  {day.day}: issued {issued}; called {c['ticket_called']} recalled {c['ticket_recalled']} "
                f"served {c['ticket_served']} no-show {c['ticket_no_show']} transferred {c['ticket_transferred']} "
                f"refused {c['command_refused']}"
            )
        times = Counter(min(e.times, 2) for e in self.commands.values())
        lines.append(f"  commands: {times[1]} handled once, {times[2]} more than once")
        violations = self.violations()
        lines.append(f"  violations: {len(violations)}")
        lines.extend(f"    {v}" for v in violations[:20])
        if len(violations) > 20:
            lines.append(f"    ... and {len(violations) - 20} more")
        return "\n".join(lines)

    # ------------------------------------------------------- display checks

    def gerai_mismatch(self, gerai: str, shown: m.GeraiState | None) -> list[str]:
        """How ``shown`` (what a display last received) differs from the log's truth."""
        expected = self.gerai.get(gerai)
        if expected is None:
            return [f"{gerai}: not a gerai of this site"]
        if shown is None:
            return [f"{gerai}: the display received no state"]
        return _diff(_plain(expected), _plain(shown), gerai)

    def board_mismatch(self, shown: m.Board | None) -> list[str]:
        if self.board is None:
            return ["board: the log could not be replayed"]
        if shown is None:
            return ["board: the lobby received no board"]
        return _diff(_plain(self.board), _plain(shown), "board")

    def display_mismatches(
        self, states: Mapping[str, m.GeraiState | None], board: m.Board | None = None, *, with_board: bool = False
    ) -> list[str]:
        """Differences between what displays last received and the log (ignoring rev and ts).

        ``states`` maps a gerai id to the state its display shows; gerai not in
        the mapping are not checked.  The board is checked when given or when
        ``with_board`` is true.
        """
        out: list[str] = []
        for gerai, shown in sorted(states.items()):
            out.extend(self.gerai_mismatch(gerai, shown))
        if board is not None or with_board:
            out.extend(self.board_mismatch(board))
        return out


def _plain(message: msgspec.Struct) -> Any:
    data = msgspec.to_builtins(message)
    if isinstance(data, dict):
        for key in DISPLAY_IGNORED:
            data.pop(key, None)
    return data


def _diff(expected: Any, shown: Any, path: str) -> list[str]:
    if isinstance(expected, dict) and isinstance(shown, dict):
        out: list[str] = []
        for key in sorted(set(expected) | set(shown)):
            out.extend(_diff(expected.get(key), shown.get(key), f"{path}.{key}"))
        return out
    if isinstance(expected, list) and isinstance(shown, list):
        if len(expected) != len(shown):
            return [f"{path}: shows {len(shown)} items, the log says {len(expected)}: shown {shown!r}, "
                    f"expected {expected!r}"]
        out = []
        for i, (a, b) in enumerate(zip(expected, shown)):
            out.extend(_diff(a, b, f"{path}[{i}]"))
        return out
    if expected != shown:
        return [f"{path}: shows {shown!r}, the log says {expected!r}"]
    return []


@dataclass
class _DayState:
    """Per-day bookkeeping while auditing: who holds what."""

    audit: DayAudit
    tickets: dict[str, str] = field(default_factory=dict)  # ticket id -> status
    holder: dict[str, str] = field(default_factory=dict)  # ticket id -> gerai
    holds: dict[str, str] = field(default_factory=dict)  # gerai -> ticket id
    paused: set[str] = field(default_factory=set)

    def bad(self, seq: int, text: str) -> None:
        self.audit.violations.append(f"{self.audit.day} seq {seq}: {text}")


def _number(ticket_id: str) -> str:
    return ticket_id.rpartition("-")[2]


def _tickets_of(event: ev.AnyEvent) -> list[str]:
    number = getattr(event, "number", None)
    if isinstance(number, str):
        return [number]
    ticket_id = getattr(event, "ticket_id", None)
    return [_number(ticket_id)] if isinstance(ticket_id, str) else []


def _check_event(st: _DayState, seq: int, event: ev.AnyEvent, config: SiteConfig) -> None:
    """Invariants of one event against the day so far."""
    match event:
        case ev.TicketIssued():
            svc = config.services.get(event.service)
            if svc is None:
                st.bad(seq, f"ticket {event.number} issued for unknown service {event.service!r}")
            else:
                want = f"{svc.prefix}{event.seq:0{svc.padding}d}"
                if event.number != want:
                    st.bad(seq, f"ticket number {event.number} does not match {event.service} seq {event.seq} ({want})")
            if st.audit.day is not None and event.ticket_id != f"{st.audit.day.replace('-', '')}-{event.number}":
                st.bad(seq, f"ticket id {event.ticket_id} is not of day {st.audit.day}")
            if event.ticket_id in st.tickets:
                st.bad(seq, f"ticket {event.number} ({event.service}) issued twice")
            st.tickets[event.ticket_id] = "waiting"
            st.audit.issued[event.service].append(event.seq)
        case ev.TicketCalled():
            status = st.tickets.get(event.ticket_id)
            holder = st.holder.get(event.ticket_id)
            number = _number(event.ticket_id)
            if status is None:
                st.bad(seq, f"{event.gerai} called {number}, which was not issued today")
            elif holder is not None:
                st.bad(seq, f"{event.gerai} called {number} while {holder} held it (called by two gerai)")
            elif status not in ("waiting", "no_show"):
                st.bad(seq, f"{event.gerai} called {number}, which is {status}")
            elif status == "no_show" and event.mode != "recall_no_show":
                st.bad(seq, f"{event.gerai} called no-show {number} with mode {event.mode}")
            elif status == "waiting" and event.mode == "recall_no_show":
                st.bad(seq, f"{event.gerai} recalled {number} as a no-show, but it was waiting")
            held = st.holds.get(event.gerai)
            if held is not None:
                st.bad(seq, f"{event.gerai} called {number} while still holding {_number(held)}")
                st.holder.pop(held, None)
            if event.gerai in st.paused:
                st.bad(seq, f"{event.gerai} called {number} while paused")
            if holder is not None and st.holds.get(holder) == event.ticket_id:
                del st.holds[holder]
            st.tickets[event.ticket_id] = "called"
            st.holder[event.ticket_id] = event.gerai
            st.holds[event.gerai] = event.ticket_id
        case ev.TicketRecalled():
            if st.holds.get(event.gerai) != event.ticket_id:
                st.bad(seq, f"{event.gerai} recalled {_number(event.ticket_id)}, which it does not hold")
        case ev.TicketServed() | ev.TicketNoShow() | ev.TicketTransferred():
            verb = {"ticket_served": "served", "ticket_no_show": "no_show", "ticket_transferred": "waiting"}
            kind = type(event).__struct_config__.tag
            assert isinstance(kind, str)
            if st.holds.get(event.gerai) != event.ticket_id:
                st.bad(seq, f"{event.gerai}: {kind} for {_number(event.ticket_id)}, which it does not hold")
            else:
                del st.holds[event.gerai]
            st.holder.pop(event.ticket_id, None)
            if event.ticket_id in st.tickets:
                st.tickets[event.ticket_id] = verb[kind]
            if isinstance(event, ev.TicketTransferred) and event.to_service not in config.services:
                st.bad(seq, f"{_number(event.ticket_id)} transferred to unknown service {event.to_service!r}")
        case ev.GeraiPaused():
            if event.gerai in st.paused:
                st.bad(seq, f"{event.gerai} paused twice")
            if event.gerai in st.holds:
                st.bad(seq, f"{event.gerai} paused while holding {_number(st.holds[event.gerai])}")
            st.paused.add(event.gerai)
        case ev.GeraiResumed():
            if event.gerai not in st.paused:
                st.bad(seq, f"{event.gerai} resumed but was not paused")
            st.paused.discard(event.gerai)
        case ev.PrintAcked():
            if event.ticket_id not in st.tickets:
                st.bad(seq, f"print result for {event.ticket_id}, which was not issued today")
        case _:
            pass


def _close_day(st: _DayState) -> None:
    for service, seqs in sorted(st.audit.issued.items()):
        counts = Counter(seqs)
        doubled = sorted(s for s, n in counts.items() if n > 1)
        top = max(seqs) if seqs else 0
        missing = sorted(set(range(1, top + 1)) - set(seqs))
        if doubled:
            st.audit.violations.append(f"{st.audit.day} {service}: numbers issued more than once: {doubled}")
        if missing:
            st.audit.violations.append(f"{st.audit.day} {service}: numbers missing (gap): {missing}")
        if seqs != sorted(seqs):
            st.audit.violations.append(f"{st.audit.day} {service}: numbers issued out of order")


def _applications(run: list[tuple[int, ev.AnyEvent]], day: str | None) -> list[Application]:
    """Split consecutive events of one command id into applications.

    One application is one event, or ticket_served followed by ticket_called
    at the same gerai (call with complete_current).  Anything else in the
    run (two ticket_issued, two ticket_called, a change and a refusal) is a
    second application of the same command.
    """
    apps: list[Application] = []
    i = 0
    while i < len(run):
        seq, event = run[i]
        kind = ev_kind(event)
        nseq, nxt = run[i + 1] if i + 1 < len(run) else (0, None)
        if isinstance(event, ev.TicketServed) and isinstance(nxt, ev.TicketCalled) and nxt.gerai == event.gerai:
            apps.append(Application([seq, nseq], [kind, ev_kind(nxt)], day, _tickets_of(event) + _tickets_of(nxt),
                                    event.ts))
            i += 2
        else:
            apps.append(Application([seq], [kind], day, _tickets_of(event), event.ts))
            i += 1
    return apps


def ev_kind(event: ev.AnyEvent) -> str:
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str)
    return tag


def audit_events(
    rows: Iterable[tuple[int, ev.AnyEvent]], config: SiteConfig, *, now: float | None = None,
    path: str = "<events>", replies: int = 0, log_violations: Sequence[str] = (),
) -> LogAudit:
    """Audit decoded events ``(seq, event)`` in log order (what :func:`audit_log` does after reading)."""
    problems = list(log_violations)
    days: list[DayAudit] = []
    seen_days: set[str] = set()
    st: _DayState | None = None
    commands: dict[CommandKey, CommandEffect] = {}
    run: list[tuple[int, ev.AnyEvent]] = []
    run_key: CommandKey | None = None
    run_day: str | None = None
    engine = Engine(config)
    count = 0
    last_seq = 0
    last_ts: float | None = None

    def flush() -> None:
        nonlocal run, run_key
        if run_key is not None and run:
            effect = commands.setdefault(run_key, CommandEffect(*run_key))
            effect.applications.extend(_applications(run, run_day))
        run, run_key = [], None

    for seq, event in rows:
        count += 1
        last_seq, last_ts = seq, event.ts
        if isinstance(event, ev.DayOpened):
            if st is not None:
                _close_day(st)
            if event.day in seen_days:
                problems.append(f"seq {seq}: day {event.day} opened twice (its state was wiped)")
            previous = days[-1].day if days else None
            if previous is not None and event.day < previous:
                problems.append(f"seq {seq}: day {event.day} opened after {previous}")
            seen_days.add(event.day)
            st = _DayState(DayAudit(event.day, seq))
            days.append(st.audit)
        elif st is None:
            st = _DayState(DayAudit(None, seq))
            days.append(st.audit)
            st.bad(seq, f"{ev_kind(event)} before any day_opened")
        st.audit.last_seq = seq
        st.audit.counts[ev_kind(event)] += 1
        _check_event(st, seq, event, config)
        try:
            engine.apply(event)
        except Exception as exc:  # a crafted or corrupt log: report, keep going
            problems.append(f"seq {seq}: replaying {ev_kind(event)} failed: {exc!r}")
        # command runs: consecutive events of one (actor, cmd); day_opened (cmd None) does not split them
        if event.cmd is None:
            if not isinstance(event, ev.DayOpened):
                flush()
            continue
        key = (event.actor, event.cmd)
        if key != run_key:
            flush()
            run_key, run_day = key, st.audit.day
        run.append((seq, event))
    flush()
    if st is not None:
        _close_day(st)

    when = now if now is not None else (last_ts if last_ts is not None else time.time())
    gerai: dict[str, m.GeraiState] = {}
    board: m.Board | None = None
    try:
        gerai = {gid: views.gerai_state(engine, gid, when, last_seq) for gid in config.gerai}
        board = views.board(engine, when, last_seq)
    except Exception as exc:
        problems.append(f"cannot build the displays from the replayed log: {exc!r}")
    return LogAudit(
        path=path, events=count, last_seq=last_seq, days=days, commands=commands, gerai=gerai,
        board=board, engine=engine, replies=replies, log_violations=problems,
    )


def audit_log(db_path: str | Path, config: SiteConfig, *, now: float | None = None) -> LogAudit:
    """Audit the event log at ``db_path`` (opened read-only, safe beside a running central).

    ``now`` is the time the expected displays are computed for (it only
    matters for the board's ``open`` flags, which follow the schedule);
    default: the time of the last event.
    """
    path = Path(db_path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"no event log at {path}")
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    problems: list[str] = []
    decoded: list[tuple[int, ev.AnyEvent]] = []
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("site") != config.site_id:
            problems.append(f"the log belongs to site {meta.get('site')!r}, not {config.site_id!r}")
        rows = db.execute("SELECT seq, ts, kind, actor, cmd, body FROM events ORDER BY seq").fetchall()
        replies = int(db.execute("SELECT count(*) FROM commands").fetchone()[0])
    finally:
        db.close()
    for seq, ts, kind, actor, cmd, body in rows:
        try:
            event = ev.decode_event(bytes(body))
        except msgspec.DecodeError as exc:
            problems.append(f"seq {seq}: unreadable event ({exc})")
            continue
        if (ev_kind(event), event.actor, event.cmd, event.ts) != (kind, actor, cmd, ts):
            problems.append(f"seq {seq}: row columns ({kind}, {actor}, {cmd}) disagree with its body")
        decoded.append((int(seq), event))
    audit = audit_events(decoded, config, now=now, path=str(path), replies=replies, log_violations=problems)
    log.info("audited %s: %d events, %d violations", path, audit.events, len(audit.violations()))
    return audit


# =====================================================================
# CommandLedger
# =====================================================================

#: What an ok reply's code says the log must hold for its command.
OK_CODE_EVENTS: dict[str, frozenset[str]] = {
    "issued": frozenset({"ticket_issued"}),
    "called": frozenset({"ticket_called"}),
    "recalled": frozenset({"ticket_recalled", "ticket_called"}),
    "served": frozenset({"ticket_served"}),
    "no_show_marked": frozenset({"ticket_no_show"}),
    "transferred": frozenset({"ticket_transferred"}),
    "paused": frozenset({"gerai_paused"}),
    "resumed": frozenset({"gerai_resumed"}),
    "print_recorded": frozenset({"print_acked"}),
}
#: Ok replies that may have changed nothing (call_next with nobody waiting and nobody held).
OK_WITHOUT_EFFECT = frozenset({"queue_empty"})


@dataclass
class LedgerEntry:
    """One command as its sender saw it."""

    device: str
    cmd: str
    kind: str
    sent: list[float] = field(default_factory=list)  # every transmission (Unix seconds)
    reply: m.Reply | None = None
    replied_at: float | None = None  # Unix seconds of the first reply

    @property
    def latency(self) -> float | None:
        """First send to first reply, seconds."""
        if self.replied_at is None or not self.sent:
            return None
        return self.replied_at - self.sent[0]


@dataclass(frozen=True)
class LedgerReport:
    """The ledger against the log: lost and doubled must be 0, problems empty."""

    sent: int  # distinct commands sent
    transmissions: int  # sends including resends
    answered: int
    applied: int  # commands that changed state in the log
    refused: int  # answered not ok
    unanswered: int
    unanswered_applied: int  # unanswered but applied once (allowed: the reply was lost)
    lost: int  # answered ok but not in the log
    doubled: int  # applied more than once
    problems: list[str]

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and not self.problems

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in dataclasses.asdict(self).items() if isinstance(v, int)}

    def __str__(self) -> str:
        text = " ".join(f"{k}={v}" for k, v in self.counts().items())
        return text + "".join(f"\n  {p}" for p in self.problems[:20])


class CommandLedger:
    """A thread-safe record of commands sent and replies received, for :meth:`check`.

    Keys are (device, command id), as the central keys its replies (and as
    the log names them: actor and cmd).  Times are wall-clock Unix seconds
    (``time.time()``) unless given, so they compare with the central's event
    times when both run on one clock (:meth:`delays`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[CommandKey, LedgerEntry] = {}
        self._stray: list[str] = []
        self._conflicts: list[str] = []

    def sent(self, device: str, command: m.AnyCommand, at: float | None = None) -> None:
        """Record one transmission of ``command`` by ``device`` (call again on every resend)."""
        kind = type(command).__struct_config__.tag
        assert isinstance(kind, str)
        when = time.time() if at is None else at
        with self._lock:
            entry = self._entries.get((device, command.id))
            if entry is None:
                entry = self._entries[(device, command.id)] = LedgerEntry(device, command.id, kind)
            elif entry.kind != kind:
                self._conflicts.append(f"{device}/{command.id}: one id used for {entry.kind} and {kind}")
            entry.sent.append(when)

    def replied(self, device: str, reply: m.Reply, at: float | None = None) -> None:
        """Record a reply; a repeated reply must agree with the first."""
        when = time.time() if at is None else at
        with self._lock:
            entry = self._entries.get((device, reply.cmd))
            if entry is None:
                self._stray.append(f"{device}/{reply.cmd}: reply {reply.code} to a command never sent")
                return
            if entry.reply is None:
                entry.reply, entry.replied_at = reply, when
            elif (entry.reply.ok, entry.reply.code, entry.reply.ticket) != (reply.ok, reply.code, reply.ticket):
                self._conflicts.append(
                    f"{device}/{reply.cmd}: answered {entry.reply.code} {entry.reply.ticket} "
                    f"and later {reply.code} {reply.ticket}"
                )

    def entries(self) -> list[LedgerEntry]:
        with self._lock:
            return [dataclasses.replace(e, sent=list(e.sent)) for e in self._entries.values()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def delays(self, audit: LogAudit) -> dict[CommandKey, float]:
        """Seconds from the first send to the central's first application, per applied command.

        A press applied long after it was made (a hung link delivering it
        late) shows here; meaningful only when the central's clock is the
        ledger's.
        """
        out: dict[CommandKey, float] = {}
        for e in self.entries():
            effect = audit.effect(e.device, e.cmd)
            if effect is not None and effect.applications and e.sent:
                out[(e.device, e.cmd)] = effect.applications[0].ts - e.sent[0]
        return out

    def check(self, audit: LogAudit) -> LedgerReport:
        """Cross-check every recorded command against the audited log."""
        with self._lock:
            problems = list(self._conflicts) + list(self._stray)
        entries = self.entries()
        answered = applied = refused = unanswered = unanswered_applied = lost = doubled = 0
        for e in entries:
            name = f"{e.device}/{e.cmd} ({e.kind})"
            effect = audit.effect(e.device, e.cmd)
            times = effect.times if effect else 0
            changes = effect.changes if effect else 0
            kinds = set(effect.kinds) if effect else set()
            if changes:
                applied += 1
            if effect is not None and times > 1:
                doubled += 1
                problems.append(f"{name}: DOUBLED, handled {times} times: "
                                + "; ".join(a.describe() for a in effect.applications))
            r = e.reply
            if r is None:
                unanswered += 1
                if changes:
                    unanswered_applied += 1
                continue
            answered += 1
            if not r.ok:
                refused += 1
                if changes:
                    problems.append(f"{name}: answered {r.code} (refused) but applied: {sorted(kinds)}")
                continue
            if effect is not None and effect.refusals and not effect.changes:
                problems.append(f"{name}: answered ok ({r.code}) but the log refused it")
            if r.code in OK_WITHOUT_EFFECT:
                if kinds - {"ticket_served"}:
                    problems.append(f"{name}: answered {r.code} but the log has {sorted(kinds)}")
                continue
            if changes == 0:
                lost += 1
                problems.append(f"{name}: LOST, answered ok ({r.code} {r.ticket or ''}) but not in the log")
                continue
            want = OK_CODE_EVENTS.get(r.code)
            if want is not None and not (kinds & want):
                problems.append(f"{name}: answered {r.code} but the log has {sorted(kinds)}")
            if r.ticket is not None and effect is not None and r.ticket not in effect.tickets:
                problems.append(f"{name}: answered ticket {r.ticket} but the log names {effect.tickets}")
        return LedgerReport(
            sent=len(entries), transmissions=sum(len(e.sent) for e in entries), answered=answered,
            applied=applied, refused=refused, unanswered=unanswered, unanswered_applied=unanswered_applied,
            lost=lost, doubled=doubled, problems=problems,
        )

