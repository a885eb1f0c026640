"""``antre broker``: the embedded broker, and Mosquitto configuration for production."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from antre.broker.admin import credentials as creds
from antre.broker.admin.acl import Identity
from antre.broker.admin.embedded import serve
from antre.broker.admin.mosquitto import (
    AUTOSAVE_SECONDS,
    INSTALL_NOTES,
    SERVICE_ACCOUNT,
    ListenerSettings,
    set_ownership,
    write_config_dir,
)

log = logging.getLogger(__name__)


def run_embedded(site: str, identities: list[Identity], credentials_path: str, bind: str, port: int) -> int:
    """Serve until SIGTERM or SIGINT.

    Under systemd (``Type=notify``): ``READY=1`` once it listens, and ``WATCHDOG=1`` while its
    event loop turns (a heartbeat task touches a timestamp every second).
    """
    from antre.daemon import Notifier, Progress, Watchdog

    secrets = creds.ensure(credentials_path, site, identities)
    notifier = Notifier()
    progress = Progress()
    limit = (notifier.watchdog_s or 30.0) / 2
    watchdog = Watchdog(notifier, lambda: progress.recent(limit))

    async def heartbeat() -> None:
        while True:
            progress.touch()
            await asyncio.sleep(1.0)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        beat = asyncio.create_task(heartbeat())
        try:
            await serve(bind, port, site, secrets, stop,
                        on_ready=lambda: notifier.ready(f"embedded broker of site {site} on {bind}:{port}"))
        finally:
            beat.cancel()
            notifier.stopping()

    watchdog.start()
    try:
        asyncio.run(main())
    finally:
        watchdog.stop()
    return 0


@dataclass(frozen=True)
class MosquittoSetup:
    """What ``antre broker mosquitto-config`` wrote, and what is left to an administrator."""

    paths: list[Path]
    persistence: str | None
    done: list[str]  # the ownership changes made here (as shell commands)
    pending: list[str]  # commands still to run as root for the packaged service (empty: all done)


def mosquitto_config(
    site: str,
    identities: list[Identity],
    credentials_path: str,
    out: str,
    listener: ListenerSettings,
    run_as: str | None,
    persistence: str | None,
) -> MosquittoSetup:
    """Write the configuration directory and give its files to the account Mosquitto drops to."""
    path = Path(credentials_path)
    before = path.stat() if path.exists() else None
    secrets = creds.ensure(path, site, identities)
    if before is not None and os.geteuid() == 0:
        after = path.stat()
        if (after.st_uid, after.st_gid) != (before.st_uid, before.st_gid):
            # run as root to write /etc/mosquitto: the central's account must still read its secret
            os.chown(path, before.st_uid, before.st_gid)
    paths = write_config_dir(out, site, identities, secrets, listener, run_as=run_as, persistence_dir=persistence)
    ownership = set_ownership(out, persistence, run_as or SERVICE_ACCOUNT)
    return MosquittoSetup(paths, persistence, ownership.done, ownership.pending)


def install_notes(out: str, credentials_path: str, persistence: str | None = None) -> str:
    """The step-by-step install on Debian / Raspberry Pi OS, for this output directory."""
    conf = Path(out).resolve() / "mosquitto.conf"
    return INSTALL_NOTES.format(out=Path(out).resolve(), conf=conf, credentials=Path(credentials_path).resolve(),
                                persistence=persistence or "(no persistence)", autosave=AUTOSAVE_SECONDS)
