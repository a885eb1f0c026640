"""``antre console run``: the operations console of a site, until SIGTERM.

How the web server is run (:func:`console_server`, also the demo's): uvicorn with h11, hardened
against clients that hold connections without finishing a request (slowloris):

* every request must arrive whole (request line, headers and body) within
  :data:`REQUEST_TIMEOUT_S` of the connection's start or of the previous response: else the
  connection is closed (uvicorn itself has a keep-alive timeout only between requests);
* at most :data:`MAX_CONNECTIONS` connections at once (fewer when the process may open fewer files),
  and :data:`MAX_PER_ADDRESS` from one address: a connection beyond them is closed as soon as it is
  accepted, so the console never runs out of file descriptors (``LimitNOFILE`` in the unit);
* uvicorn's own limits: ``limit_concurrency``, ``timeout_keep_alive``, ``backlog``, and h11's
  largest request head (:data:`MAX_HEAD_BYTES`);
* should the process run out of file descriptors all the same, asyncio's "socket.accept() out of
  system resource" is logged once a minute with a count, never once per try;
* proxy headers (``X-Forwarded-For``) are never trusted: the console sees each browser's own
  address (its sign-in limits and journal count by it).  A reverse proxy in front must do its own
  limits.

At start the console checks that no other console serves with its ``[console] id``
(:func:`check_console_id`), and it stops (exit :data:`EXIT_TAKEN`) when the broker keeps giving its
connection to another process with that identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from antre.broker.admin.acl import Identity
from antre.broker.errors import AntreError, ConfigurationError
from antre.broker.wire.topics import Role
from antre.central.config import SiteConfig
from antre.central.store import StorageError
from antre.console.accounts import Accounts
from antre.console.history import LogFigures
from antre.console.link import ConsoleLink, NoReply, probe_console
from antre.console.web import PRESENCE_RENEW_S, Console, build_app

log = logging.getLogger(__name__)

#: exit status of a console that refused to start, or stopped, because another one uses its identity
EXIT_TAKEN = 4
#: a request (head and body) must arrive within this many seconds (see the module docstring)
REQUEST_TIMEOUT_S = 10.0
#: idle seconds between two requests on one connection
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 4096
MAX_PER_ADDRESS = 512
#: file descriptors kept for the rest of the process (database, broker, logs, templates)
FD_RESERVE = 128
MAX_HEAD_BYTES = 16 * 1024
BACKLOG = 1024


class ConsoleConfigError(ConfigurationError, what="console"):
    """A console setting that cannot work (TLS files, the database)."""


class ConsoleIdTaken(AntreError, exit_status=EXIT_TAKEN, what="console"):
    """Another console serves the site with this console's identity (``[console] id``)."""


# ---------------------------------------------------------------------- connection guard


class ConnectionGuard:
    """What the guarded protocol shares: the limits, the connections per address, and counts of
    what was refused (logged at most once a minute each)."""

    def __init__(self, max_connections: int, per_address: int = MAX_PER_ADDRESS,
                 request_timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.max_connections = max_connections
        self.per_address = per_address
        self.request_timeout_s = request_timeout_s
        self.open = 0
        self.by_address: dict[str, int] = {}
        self.refused: dict[str, int] = {}
        self._noted: dict[str, float] = {}

    def admit(self, addr: str) -> bool:
        if self.open >= self.max_connections:
            self.note("full", "connection refused: %d connections open (the console's limit)", self.open)
            return False
        if self.by_address.get(addr, 0) >= self.per_address:
            self.note("address", "connection from %s refused: %d connections from that address already", addr,
                      self.by_address[addr])
            return False
        self.open += 1
        self.by_address[addr] = self.by_address.get(addr, 0) + 1
        return True

    def release(self, addr: str) -> None:
        self.open = max(0, self.open - 1)
        left = self.by_address.get(addr, 0) - 1
        if left > 0:
            self.by_address[addr] = left
        else:
            self.by_address.pop(addr, None)

    def note(self, kind: str, message: str, *args: object) -> None:
        """Count one refusal of ``kind``; log it when none was logged in the last minute."""
        self.refused[kind] = self.refused.get(kind, 0) + 1
        now = time.monotonic()
        if now - self._noted.get(kind, -1e9) >= 60:
            self._noted[kind] = now
            log.warning(message + " (%d such in all)", *args, self.refused[kind])


def guarded_protocol(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with :class:`ConnectionGuard`'s limits and a deadline for every request."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        """A connection that must deliver each request whole within the guard's deadline."""

        _deadline: asyncio.TimerHandle | None = None
        _admitted = False
        _addr = ""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._addr = self.client[0] if self.client else "?"
            if not guard.admit(self._addr):
                transport.abort()
                return
            self._admitted = True
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._admitted:
                self._admitted = False
                guard.release(self._addr)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
                self._disarm()  # the request is in whole: the application takes its time to answer

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection: idle time counts too

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(guard.request_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.transport.is_closing() or self.conn.their_state in (h11.DONE, h11.MUST_CLOSE):
                return
            guard.note("slow", "closed a connection from %s: no whole request within %.0f s", self._addr,
                       guard.request_timeout_s)
            if self.conn.our_state is h11.IDLE:  # no answer begun: say why (h11 sends none before a request)
                self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.transport.close()

    return GuardedH11Protocol


def file_limit() -> int:
    """The number of files this process may open, raised to its hard limit where allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    wanted = min(wanted, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError):
            log.info("cannot raise the open-file limit above %d (LimitNOFILE= in the unit raises it)", soft)
    return int(soft if soft != resource.RLIM_INFINITY else 65536)


def _accept_errors(guard: ConnectionGuard) -> Any:
    """A loop exception handler that logs running out of file descriptors once a minute with a
    count (asyncio logs it with a traceback at every accept it retries), and anything else as usual."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if "out of system resource" in message:
            exc = context.get("exception")
            guard.note("fds", "cannot accept connections: %s (open connections %d); LimitNOFILE or the "
                       "console's connection limits are too tight for the load", exc, guard.open)
            return
        loop.default_exception_handler(context)

    return handler


def _server_class() -> type:
    import uvicorn
    from sse_starlette.sse import AppStatus

    class Server(uvicorn.Server):
        """uvicorn's server without its signal handling: ours stops it gracefully and the process
        exits 0 after SIGTERM (uvicorn would raise the signal again once stopped).  At start it installs
        the accept-error handler; at shutdown it ends every live page's stream first, so open
        browsers are let go cleanly instead of being cancelled at the graceful timeout."""

        console: Console | None = None
        guard: ConnectionGuard | None = None
        #: the process's own server (not the demo's thread): every SSE response of the process may end
        main_server = False

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        async def startup(self, sockets: Any = None) -> None:
            if self.guard is not None:
                asyncio.get_running_loop().set_exception_handler(_accept_errors(self.guard))
            await super().startup(sockets)
            # ready once it listens (not at the application's start, before the socket is bound)
            if self.started and self.console is not None and self.console.on_ready is not None:
                self.console.on_ready()

        async def shutdown(self, sockets: Any = None) -> None:
            if self.console is not None:
                self.console.stop_streams()
            if self.main_server:
                AppStatus.should_exit = True  # the citizens' ticket pages' streams too (sse-starlette)
            await super().shutdown(sockets)

    return Server


def console_server(console: Console, host: str, port: int, *, certfile: str | None = None,
                   keyfile: str | None = None, main: bool = False) -> Any:
    """The uvicorn server of ``console`` (hardened as the module docstring says)."""
    import uvicorn

    limit = max(64, min(MAX_CONNECTIONS, file_limit() - FD_RESERVE))
    guard = ConnectionGuard(limit)
    server = _server_class()(uvicorn.Config(
        build_app(console), host=host, port=port, log_config=None, access_log=False, server_header=False,
        ssl_certfile=certfile, ssl_keyfile=keyfile, timeout_graceful_shutdown=3, lifespan="on",
        proxy_headers=False, http=guarded_protocol(guard), ws="none",
        limit_concurrency=limit + 16, timeout_keep_alive=KEEP_ALIVE_S, backlog=BACKLOG,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    ))
    server.console = console
    server.guard = guard
    server.main_server = main
    log.info("the console takes at most %d connections (%d from one address); a request must arrive within %.0f s",
             limit, guard.per_address, guard.request_timeout_s)
    return server


# ---------------------------------------------------------------------- the console


def make_console(config: SiteConfig, *, host: str | None = None, port: int | None = None,
                 credentials_path: str | None = None, database: str | None = None, db: str | None = None,
                 no_log: bool = False) -> Console:
    """The console of ``config`` with its link, accounts and (when readable) the event log."""
    from antre.central.main import broker_address

    c = config.console
    if c.certfile and not Path(c.certfile).is_file():
        raise ConsoleConfigError(f"console.certfile {c.certfile}: no such file")
    if c.keyfile and not Path(c.keyfile).is_file():
        raise ConsoleConfigError(f"console.keyfile {c.keyfile}: no such file")
    accounts = Accounts(database or c.database)
    address = broker_address(config, Identity(Role.CONSOLE, c.id), host, port, credentials_path)
    figures = None
    if not no_log:
        path = db or config.store.path
        try:
            figures = LogFigures(config, path)
            log.info("reading the day's figures from the event log %s (read-only)", path)
        except StorageError as exc:
            log.warning("the event log cannot be read (%s): served, no-show and longest wait are not shown", exc)
    console = Console(config, accounts, None, figures, tls=bool(c.certfile), credentials_path=credentials_path)
    console.link = ConsoleLink(address, config.site_id, c.id, console.live.subscriptions(),
                               console.on_message, console.on_connection)
    return console


def check_console_id(config: SiteConfig, *, host: str | None = None, port: int | None = None,
                     credentials_path: str | None = None, wait_renewal: float = PRESENCE_RENEW_S * 1.5,
                     connect_timeout: float = 5.0) -> None:
    """Refuse (:class:`ConsoleIdTaken`) when another console serves as ``console.<id>``: it renews
    its retained presence every :data:`PRESENCE_RENEW_S` seconds.  Read as ``monitor.central``, the
    site's read-only identity, so the live console's connection is left alone.  When the broker
    cannot be reached (yet), the console starts: it connects when the broker is back, and stops
    should another console hold its identity then."""
    from antre.central.main import broker_address

    c = config.console
    try:
        address = broker_address(config, Identity(Role.MONITOR, "central"), host, port, credentials_path)
    except AntreError as exc:
        log.warning("cannot check that no other console serves as console.%s (%s)", c.id, exc)
        return
    try:
        live = probe_console(address, config.site_id, c.id, wait_renewal=wait_renewal,
                             connect_timeout=connect_timeout)
    except NoReply as exc:
        log.warning("cannot check that no other console serves as console.%s: %s", c.id, exc)
        return
    if live is not None:
        raise ConsoleIdTaken(
            f"another antre console is serving site {config.site_id} as console.{c.id} (its presence was renewed "
            f"while we watched; version {live.version or '?'}). Two consoles with one identity take the broker "
            "connection from each other: stop the other one, or give this one its own [console] id (and "
            "credentials: `antre broker mosquitto-config`)")


def run_console(config: SiteConfig, *, host: str | None = None, port: int | None = None,
                credentials_path: str | None = None, bind: str | None = None, http_port: int | None = None,
                database: str | None = None, db: str | None = None) -> int:
    """Serve the console until SIGTERM (uvicorn); READY=1 and watchdog pings under systemd.  Returns
    :data:`EXIT_TAKEN` when it stopped because another process took its broker identity."""
    from antre.daemon import Notifier, Watchdog

    check_console_id(config, host=host, port=port, credentials_path=credentials_path)
    console = make_console(config, host=host, port=port, credentials_path=credentials_path, database=database,
                           db=db)
    c = config.console
    address = bind or c.bind
    listen = http_port or c.port
    scheme = "https" if c.certfile else "http"
    notifier = Notifier()

    def ready() -> None:
        log.info("antre console ready: %s://%s:%d/ (site %s, as console.%s)", scheme, address, listen,
                 config.site_id, c.id)
        notifier.ready(f"serving {scheme}://{address}:{listen}/")

    console.on_ready = ready
    watchdog = Watchdog(notifier, lambda: console.progress.recent(10.0)).start()
    server = console_server(console, address, listen, certfile=c.certfile, keyfile=c.keyfile, main=True)

    def fatal(reason: str) -> None:
        notifier.stopping(reason[:200])
        server.handle_exit(signal.SIGTERM, None)

    console.on_fatal = fatal
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, server.handle_exit)
    try:
        server.run()
    finally:
        watchdog.stop()
        notifier.stopping()
        console.accounts.close()
        if console.log_figures is not None:
            console.log_figures.close()
    if console.fatal is not None:
        raise ConsoleIdTaken(console.fatal)
    return 0 if server.started else 1
