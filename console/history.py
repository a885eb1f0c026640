"""The day's figures from the central's event log, read-only.

The console opens the log as a reader (``EventStore(readonly=True)``, the way ``antre audit``
does, beside a live central) and applies today's events to an engine of its own: the same pure
:class:`~antre.central.engine.Engine` the central runs, so the figures are the central's to the
event.  It never writes: the central stays the one writer of the queue.  It reads only what is
new (events after the last one it applied), when the site's retained states say the log moved.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from antre.central import events as ev
from antre.central.config import SiteConfig
from antre.central.engine import Engine, Status
from antre.central.store import EventStore, StorageError

log = logging.getLogger(__name__)

#: the waiting numbers of a service offered for an out-of-order call (the first ones)
WAITING_LISTED = 60


@dataclass(frozen=True)
class ServiceFigures:
    """One service today, from the log."""

    issued: int
    served: int
    no_show: int
    waiting: int
    oldest_issued_at: float | None
    avg_service_min: float
    quota: int | None
    remaining_quota: int | None
    stopped: str | None  #: the reason issuing was stopped today, or None
    capacity_left: int | None
    waiting_numbers: tuple[str, ...]


@dataclass(frozen=True)
class DayFigures:
    seq: int
    day: str | None
    services: dict[str, ServiceFigures]
    out_of_order: dict[str, int]  #: per gerai: calls out of order today
    lobby_message: str
    pause_since: dict[str, float] = field(default_factory=dict)


class LogFigures:
    """Today's figures from the event log at ``path`` (read-only)."""

    def __init__(self, config: SiteConfig, path: str) -> None:
        self.config = config
        self.store = EventStore(path, config.site_id, readonly=True)
        self.engine = Engine(config)
        self.seq = 0
        self.out_of_order: dict[str, int] = {}
        self.pause_since: dict[str, float] = {}
        #: held while events are applied (a refresh runs in a worker thread): whoever reads
        #: :attr:`engine` from another thread holds it too
        self.lock = threading.RLock()
        #: called with every event applied after they were added, in the applying thread, under :attr:`lock`
        self.listeners: list[Callable[[ev.AnyEvent], None]] = []
        start = self.store.current_day_start()
        self._apply_from(start if start else 0)

    def _apply_from(self, since: int) -> int:
        rows = list(self.store.events(since))  # read (and decoded) before the lock: readers wait for the apply only
        with self.lock:
            return self._apply_locked(rows)

    def _apply_locked(self, rows: list[tuple[int, ev.AnyEvent]]) -> int:
        count = 0
        for seq, event in rows:
            self.engine.apply(event)
            for listener in self.listeners:
                listener(event)
            match event:
                case ev.DayOpened():
                    self.out_of_order, self.pause_since = {}, {}
                case ev.TicketCalled(mode="out_of_order"):
                    self.out_of_order[event.gerai] = self.out_of_order.get(event.gerai, 0) + 1
                case ev.GeraiPaused():
                    self.pause_since[event.gerai] = event.ts
                case ev.GeraiResumed():
                    self.pause_since.pop(event.gerai, None)
                case _:
                    pass
            self.seq = seq
            count += 1
        return count

    def refresh(self) -> int:
        """Apply what the central committed since the last call; returns how many events."""
        try:
            return self._apply_from(self.seq + 1)
        except StorageError as exc:
            log.warning("reading the event log failed: %s", exc)
            return 0

    def figures(self, now: float) -> DayFigures:
        e = self.engine
        services = {}
        for sid in self.config.services:
            stats = e.stats[sid]
            oldest = e.oldest_waiting(sid)
            prio, reg = e.queues[sid]
            numbers = [e.tickets[tid].number for _, tid in prio[:WAITING_LISTED]]
            numbers += [e.tickets[tid].number for _, tid in reg[:max(0, WAITING_LISTED - len(numbers))]]
            services[sid] = ServiceFigures(
                issued=stats.issued, served=stats.served, no_show=stats.no_show, waiting=e.waiting_in(sid),
                oldest_issued_at=oldest.issued_at if oldest else None,
                avg_service_min=round(e.avg_service_minutes(sid), 1), quota=e.quota_of(sid),
                remaining_quota=e.remaining_quota(sid), stopped=e.issuing_stopped.get(sid),
                capacity_left=e.capacity_left(sid, now) if e.day is not None else None,
                waiting_numbers=tuple(numbers),
            )
        return DayFigures(self.seq, e.day.isoformat() if e.day else None, services, dict(self.out_of_order),
                          e.lobby_message, dict(self.pause_since))

    def ticket_status(self, number: str) -> Status | None:
        ticket = self.engine.find(number)
        return ticket.status if ticket else None

    def close(self) -> None:
        self.store.close()
