"""One writer per site: the central's lease on the broker.

Two locks keep a second central from issuing numbers for a site:

* the event log's exclusive lock (:class:`central.store.LogLock`) stops a second
  central on the **same log**;
* the **lease**, a retained :class:`~antre.broker.wire.messages.CentralLease` on
  ``antre/v1/<site>/central/presence``, stops one on **another log or host**.

Before it connects with its persistent session, a starting central reads the
lease as the read-only identity ``monitor.central`` (:func:`probe`), so it
never takes over the live central's connection to look.  It refuses to start
(:class:`FencedError`) when the lease shows a live central (one that renews
its lease while we watch), a newer log (a higher epoch), or another copy of
this log that went further (same epoch, higher ``seq``).  Otherwise it claims
the site with the next ``term``.

While it runs, the central republishes its lease every ``renew_s`` seconds
and watches the topic: a lease of a higher term, or of the same term and a
greater instance id (two centrals started at the same moment), means another
central owns the site now, and this one stops at once (:func:`outranks`).
The broker publishes the central's will (the same lease, ``online: false``)
when its connection dies, so a crashed central's lease is released.

No queue logic here; this module is part of the central's MQTT service.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from antre import __version__
from antre.broker.errors import AntreError
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.link.base import BrokerAddress, LinkFactory, LinkSpec, Received
from antre.broker.link.client import mqtt_link
from antre.broker.wire.codec import ProtocolError
from antre.broker.wire.topics import Channel, Topics
from antre.central.store import EventStore

log = logging.getLogger(__name__)

#: Exit status of a central that refused to start, or stopped, because another one owns the site.
EXIT_FENCED = 4


class FencedError(AntreError, RuntimeError, exit_status=EXIT_FENCED, what="lease"):
    """Another central owns the site (or a newer log does): this one must not serve it."""


@dataclass(frozen=True)
class Claim:
    """What this central claims: its instance id and term, and where it runs."""

    site: str
    instance: str
    term: int
    host: str
    pid: int
    log: str
    since: float
    renew_s: float

    @classmethod
    def new(cls, site: str, term: int, log_path: str, renew_s: float) -> Claim:
        return cls(site, secrets.token_hex(8), term, socket.gethostname(), os.getpid(),
                   str(Path(log_path).resolve()) if log_path != ":memory:" else log_path, time.time(), renew_s)

    def lease(self, *, online: bool, epoch: int, seq: int, ts: float | None, day: str | None = None,
              issued: int = 0) -> m.CentralLease:
        return m.CentralLease(
            epoch=epoch, site=self.site, instance=self.instance, term=self.term, online=online,
            host=self.host[:100], pid=self.pid, log=self.log[-300:], seq=seq, day=day, issued=issued,
            since=self.since, renew_s=self.renew_s, version=__version__, ts=ts,
        )


def outranks(other: m.CentralLease, mine: Claim) -> bool:
    """Does the holder of ``other`` own the site rather than ``mine``?"""
    return (other.term, other.instance) > (mine.term, mine.instance)


def describe(lease: m.CentralLease) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(lease.since)) if lease.since else "?"
    today = f", {lease.issued} numbers issued on {lease.day}" if lease.day else ""
    return (f"host {lease.host or '?'}, pid {lease.pid or '?'}, log {lease.log or '?'} (epoch {lease.epoch}, "
            f"event {lease.seq}{today}), serving since {since}")


def _own_dead_predecessor(lease: m.CentralLease, log_path: str) -> bool:
    """A lease left by a central on this host that is not running any more.

    We hold the log's lock, so no live central on this host writes our log; a lease of
    this host whose process is gone is a crashed predecessor whose will has not fired yet.
    """
    if lease.host != socket.gethostname():
        return False
    if lease.log == str(Path(log_path).resolve()):
        return True
    if lease.pid <= 0:
        return False
    try:
        os.kill(lease.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a process of another user has that pid: alive
        return False
    return lease.pid == os.getpid()


def probe(address: BrokerAddress, topics: Topics, *, stop: threading.Event, connect_timeout: float | None = None,
          wait_renewal: float = 7.0, link_factory: LinkFactory = mqtt_link) -> tuple[m.CentralLease | None, bool]:
    """Read the site's retained lease as ``monitor.central``.

    Returns ``(lease or None, renewed)``: ``renewed`` tells that the lease was renewed
    while we watched (its central is alive).  A live-looking lease is watched for up to
    ``wait_renewal`` seconds.  Waits for the broker as long as it takes (or
    ``connect_timeout``); raises :class:`FencedError` when the broker refuses the
    monitor's credentials.
    """
    inbox: queue.Queue[Received | None] = queue.Queue()
    barrier_done = threading.Event()
    barrier = f"{topics.prefix}/central/probe-barrier"
    subscribed: dict[str, int] = {}

    def connected() -> None:
        # Two SUBSCRIBE packets: the broker sends the lease's retained message after the first
        # SUBACK and before the second, so the second SUBACK means "nothing more is retained".
        subscribed["lease"] = link.subscribe_now(topics.central_presence(), 1)
        subscribed["barrier"] = link.subscribe_now(barrier, 0)

    def on_sub(mid: int) -> None:
        if mid == subscribed.get("barrier"):
            barrier_done.set()

    link = link_factory(LinkSpec(address, on_message=inbox.put, on_connect=connected, on_subscribed=on_sub))
    link.start()
    try:
        started = time.monotonic()
        next_note = started + 10
        while not barrier_done.wait(0.1):
            if stop.is_set():
                raise FencedError("stopped while waiting for the broker")
            refused = (link.refused or "").lower()
            if any(word in refused for word in ("not authori", "bad user name", "identifier")):
                raise FencedError(
                    f"the broker refused {address.username} ({link.refused}): the broker's password file "
                    "predates this antre; regenerate it (`antre broker mosquitto-config`, then restart "
                    "Mosquitto) so the central can check that no other central serves the site"
                )
            now = time.monotonic()
            if connect_timeout is not None and now - started > connect_timeout:
                raise FencedError(f"no broker at {address.host}:{address.port} within {connect_timeout:.0f} s")
            if now > next_note:
                log.warning("waiting for the broker at %s:%d to check the site's lease", address.host, address.port)
                next_note = now + 30
        seen: m.CentralLease | None = None
        while True:
            try:
                item = inbox.get_nowait()
            except queue.Empty:
                break
            seen = _decode(item) or seen
        if seen is None or not seen.online:
            return seen, False
        deadline = time.monotonic() + wait_renewal
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return seen, False
            try:
                item = inbox.get(timeout=left)
            except queue.Empty:
                return seen, False
            lease = _decode(item)
            if lease is None:
                continue
            if lease.instance != seen.instance or not lease.online or (lease.ts or 0) != (seen.ts or 0):
                return lease, lease.online
    finally:
        link.stop()


def _decode(item: Received | None) -> m.CentralLease | None:
    if item is None or item.payload == b"":
        return None
    try:
        msg = codec.decode(item.payload, Channel.PRESENCE)
    except ProtocolError as exc:
        log.warning("ignored an invalid central lease: %s", exc)
        return None
    return msg if isinstance(msg, m.CentralLease) else None


def claim_site(
    store: EventStore,
    seen: m.CentralLease | None,
    renewed: bool,
    *,
    site: str,
    renew_s: float,
    new_epoch: bool = False,
    today: str | None = None,
) -> Claim:
    """Decide, from the lease seen at start, whether this central may serve the site.

    Raises :class:`FencedError` with what to do; otherwise gives the log an epoch if it
    has none yet (newer than any the site has seen) and returns this central's claim.
    """
    if seen is not None and seen.online and (renewed or not _own_dead_predecessor(seen, store.path)):
        if renewed:
            raise FencedError(
                f"another antre central is serving site {site}: {describe(seen)}. Stop it first "
                "(`systemctl stop antre-central` on that machine); two centrals must never serve one site"
            )
        log.warning("the lease of %s was not renewed while we watched: its central is gone; taking over",
                    describe(seen))
    if seen is not None:
        if store.epoch is not None and seen.epoch > store.epoch and not new_epoch:
            raise FencedError(
                f"a newer event log has served site {site} since this one ({describe(seen)}; this log "
                f"{store.path} has epoch {store.epoch}). Serve from that log, or, to continue from this one "
                "knowingly, start once with --new-epoch (every device follows the new epoch)"
            )
        if (store.epoch is not None and seen.epoch == store.epoch and seen.seq > store.last_seq
                and not new_epoch):
            raise FencedError(
                f"another copy of this event log went further ({describe(seen)}; this copy {store.path} "
                f"stops at event {store.last_seq}). Serve from that copy, or start with --new-epoch to continue "
                "from this one knowingly"
            )
        if (store.epoch != seen.epoch and today is not None and seen.day == today and seen.issued > 0
                and not new_epoch):
            raise FencedError(
                f"another event log has issued {seen.issued} numbers at site {site} today, {today} "
                f"({describe(seen)}); this log ({store.path}) would issue today's numbers again (A001...) to "
                "other citizens. Serve from that log (copy it here), or, knowingly (the old log is lost and "
                "the citizens holding today's numbers will be told), start once with --new-epoch"
            )
    if new_epoch:
        store.new_epoch(seen.epoch if seen is not None else 0)
    else:
        store.begin_epoch(seen.epoch if seen is not None else 0)
    return Claim.new(site, (seen.term + 1) if seen is not None else 1, store.path, renew_s)
