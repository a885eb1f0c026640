"""``antre central``: run the queue service for a site until SIGTERM."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from antre.broker.admin import credentials as creds
from antre.broker.admin.acl import Identity
from antre.broker.link.client import BrokerAddress, TlsSettings
from antre.broker.wire.topics import Role, Topics
from antre.central import lease
from antre.central.archive import LogArchiver, archive_dir
from antre.central.config import SiteConfig
from antre.central.runner import CentralRunner
from antre.central.service import QueueService
from antre.central.store import EventStore
from antre.central.ticketkey import KEY_NAME, TicketKey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatedClock:
    """Demo and soak only: a day played ``speed`` times faster than real time, from ``start``
    at the wall-clock moment ``anchor`` (shared by every process of a soak, so they agree)."""

    start: float
    speed: float
    anchor: float

    def __call__(self) -> float:
        return self.start + (time.time() - self.anchor) * self.speed


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
        username=secrets.username(identity),
        password=secrets.password(identity),
        tls=tls,
    )


def ticket_key(config: SiteConfig, credentials_path: str | None = None) -> TicketKey | None:
    """The site's ticket-page key from its credentials file (``[keys] ticket-page``), or None (logged)
    when the file has none: an older file, before ``antre broker mosquitto-config`` (or ``antre broker run``)
    added it."""
    path = credentials_path or config.broker.credentials
    try:
        secret = creds.load(path).keys.get(KEY_NAME)
    except creds.CredentialsError as exc:
        log.warning("no ticket pages: %s", exc)
        return None
    if secret is None:
        level = logging.WARNING if config.console.public_url else logging.INFO
        log.log(level, "%s has no [keys] %s: tickets print their id's QR code, not their page's, and survey "
                "answers are refused; `antre broker mosquitto-config` (or `antre broker run`) adds the key",
                path, KEY_NAME)
        return None
    return TicketKey(secret, config.site_id)


def run_central(
    config: SiteConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    db: str | None = None,
    credentials_path: str | None = None,
    clock: Callable[[], float] = time.time,
    stop: threading.Event | None = None,
    new_epoch: bool = False,
    clock_gate: Callable[[], bool] | None = None,
) -> int:
    """Serve the site until SIGTERM.  Raises StorageError (exit 3) or FencedError (exit 4).

    Tickets are refused while the system clock is not synchronised (``clock_gate``; by
    default the kernel's NTP state when ``[central] require_clock_sync`` and the clock is the
    real one).  Under systemd it reports readiness, pings the watchdog and serves
    ``/metrics`` and ``/healthz`` (:mod:`antre.central.ops`).
    """
    from antre.central.clocksync import ClockGate
    from antre.central.ops import attach
    from antre.daemon import Notifier

    if clock_gate is None and config.central.require_clock_sync and clock is time.time:
        # remembers a synchronisation for the rest of the boot beside the log (an NTP outage later is fine)
        log_path = Path(db or config.store.path)
        clock_gate = ClockGate(latch=log_path.with_name(log_path.name + ".clock-synced"))
    notifier = Notifier()
    address = broker_address(config, Identity(Role.CENTRAL), host, port, credentials_path)
    monitor = broker_address(config, Identity(Role.MONITOR, "central"), host, port, credentials_path)
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    store = EventStore(db or config.store.path, config.site_id, config.store.durability)  # takes the log's lock
    attached = None
    archiver: LogArchiver | None = None
    try:
        log.info("antre central starting: site %s, log %s; checking the site's lease on %s:%d", config.site_id,
                 store.path, address.host, address.port)
        notifier.status(f"checking the lease of site {config.site_id} on {address.host}:{address.port}")
        renew = config.central.lease_renew_s
        seen, renewed = lease.probe(monitor, Topics(config.site_id), stop=stop, wait_renewal=2 * renew + 1)
        today = dt.datetime.fromtimestamp(clock(), config.zone).date().isoformat()
        claim = lease.claim_site(store, seen, renewed, site=config.site_id, renew_s=renew, new_epoch=new_epoch,
                                 today=today)
        service = QueueService.open(config, store, clock(), clock_gate=clock_gate,
                                    ticket_key=ticket_key(config, credentials_path))
        if clock_gate is not None:
            clock_gate()  # says at once, in the log, whether tickets can be issued
        runner = CentralRunner(service, address, clock=clock, claim=claim)
        attached = attach(runner, notifier)
        archiver = start_archiver(config, store, runner, clock)
        log.info("antre central claims site %s (term %d, epoch %d); connecting as %s", config.site_id,
                 claim.term, service.epoch, address.username)
        runner.run(stop)
        notifier.stopping("stopped")
    finally:
        if archiver is not None:
            archiver.close()
        if attached is not None:
            attached.close()
        store.close()
    return 0


def start_archiver(config: SiteConfig, store: EventStore, runner: CentralRunner,
                   clock: Callable[[], float]) -> LogArchiver:
    """Days older than ``[store] retention_days`` leave the live log for the archive, a day at a
    time: exported in a background thread, deleted by the writer loop (:mod:`antre.central.archive`)."""
    archiver = LogArchiver(store, archive_dir(store.path, config.store.archive), config.store.retention_days,
                           config.zone, clock)
    runner.on_pass.append(archiver.on_pass)
    return archiver


def parse_clock(start: str | None, speed: float, zone: dt.tzinfo, anchor: float | None = None) -> Callable[[], float]:
    if start is None:
        return time.time
    moment = dt.datetime.fromisoformat(start)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return SimulatedClock(moment.timestamp(), speed, time.time() if anchor is None else anchor)
