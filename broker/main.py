"""``antre broker``: the embedded broker, and Mosquitto configuration for production."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from broker import credentials as creds
from broker.acl import Identity
from broker.embedded import serve
from broker.mosquitto import INSTALL_NOTES, ListenerSettings, write_config_dir

log = logging.getLogger(__name__)


def run_embedded(site: str, identities: list[Identity], credentials_path: str, bind: str, port: int) -> int:
    """Serve until SIGTERM or SIGINT."""
    secrets = creds.ensure(credentials_path, site, identities)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(bind, port, site, secrets, stop)

    asyncio.run(main())
    return 0


def mosquitto_config(
    site: str,
    identities: list[Identity],
    credentials_path: str,
    out: str,
    listener: ListenerSettings,
    run_as: str | None,
    persistence: str | None,
) -> list[Path]:
    secrets = creds.ensure(credentials_path, site, identities)
    return write_config_dir(out, site, identities, secrets, listener, run_as=run_as, persistence_dir=persistence)


def install_notes(out: str, credentials_path: str) -> str:
    return INSTALL_NOTES.format(out=out, credentials=credentials_path)
