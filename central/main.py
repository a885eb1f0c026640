"""``antre central``: run the queue service for a site until SIGTERM."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from broker import credentials as creds
from broker.acl import Identity
from broker.client import BrokerAddress, TlsSettings
from broker.topics import Role
from central.config import SiteConfig
from central.runner import CentralRunner
from central.service import QueueService
from central.store import EventStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatedClock:
    """Demo only: a day played faster than real time, from ``start``."""

    start: float
    speed: float
    origin: float

    def __call__(self) -> float:
        return self.start + (time.monotonic() - self.origin) * self.speed


def broker_address(config: SiteConfig, identity: Identity, host: str | None = None, port: int | None = None,
                   credentials_path: str | None = None) -> BrokerAddress:
    """How ``identity`` reaches this site's broker, with its own secret."""
    secrets = creds.load(credentials_path or config.broker.credentials)
    tls = None
    if config.broker.cafile:
        tls = TlsSettings(config.broker.cafile, config.broker.certfile, config.broker.keyfile)
    return BrokerAddress(
        host=host or config.broker.host,
        port=port or config.broker.port,
        username=identity.username,
        password=secrets.password(identity),
        tls=tls,
    )


def run_central(
    config: SiteConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    db: str | None = None,
    credentials_path: str | None = None,
    clock: Callable[[], float] = time.time,
    stop: threading.Event | None = None,
) -> int:
    address = broker_address(config, Identity(Role.CENTRAL), host, port, credentials_path)
    store = EventStore(db or config.store.path, config.site_id, config.store.durability)
    try:
        service = QueueService.open(config, store, clock())
        runner = CentralRunner(service, address, clock=clock)
        stop = stop or threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        log.info("antre central starting: site %s, broker %s:%d as %s", config.site_id, address.host,
                 address.port, address.username)
        runner.run(stop)
    finally:
        store.close()
    return 0


def parse_clock(start: str | None, speed: float, zone: dt.tzinfo) -> Callable[[], float]:
    if start is None:
        return time.time
    moment = dt.datetime.fromisoformat(start)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return SimulatedClock(moment.timestamp(), speed, time.monotonic())
