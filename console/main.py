"""``antre console run``: the operations console of a site, until SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

from antre.broker.admin.acl import Identity
from antre.broker.errors import ConfigurationError
from antre.broker.wire.topics import Role
from antre.central.config import SiteConfig
from antre.central.store import StorageError
from antre.console.accounts import Accounts
from antre.console.history import LogFigures
from antre.console.link import ConsoleLink
from antre.console.web import Console, build_app

log = logging.getLogger(__name__)


class ConsoleConfigError(ConfigurationError, what="console"):
    """A console setting that cannot work (TLS files, the database)."""


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server without its signal handling: ours stops it gracefully and the process
        exits 0 after SIGTERM (uvicorn would raise the signal again once stopped)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


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
    console = Console(config, accounts, None, figures, tls=bool(c.certfile))
    console.link = ConsoleLink(address, config.site_id, c.id, console.live.subscriptions(),
                               console.on_message, console.on_connection)
    return console


def run_console(config: SiteConfig, *, host: str | None = None, port: int | None = None,
                credentials_path: str | None = None, bind: str | None = None, http_port: int | None = None,
                database: str | None = None, db: str | None = None) -> int:
    """Serve the console until SIGTERM (uvicorn); READY=1 and watchdog pings under systemd."""
    import uvicorn

    from antre.daemon import Notifier, Watchdog

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
    server = _server_class()(uvicorn.Config(
        build_app(console), host=address, port=listen, log_config=None, access_log=False, server_header=False,
        ssl_certfile=c.certfile, ssl_keyfile=c.keyfile, timeout_graceful_shutdown=3, lifespan="on",
        proxy_headers=False,
    ))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: setattr(server, "should_exit", True))
    try:
        server.run()
    finally:
        watchdog.stop()
        notifier.stopping()
        console.accounts.close()
        if console.log_figures is not None:
            console.log_figures.close()
    return 0 if server.started else 1
