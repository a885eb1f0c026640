"""The site as a contract 2 reader assembles it from retained per-item topics.

Under contract 2 nothing carries the whole site: each gerai's display state
(``gerai/<g>/state``), each service's waiting count (``service/<s>/state``) and
the recent calls (``calls``) are retained topics of their own, each republished
only when it changes, so a ticket costs the central one message whatever the
number of gerai.  A reader that needs the whole picture (a lobby screen, the
console, a test watching convergence) offers every message it receives to a
:class:`SiteFeed` and asks it for the current view; a gerai sums the waiting
counts of its own services with :meth:`SiteFeed.waiting_for`.

The epoch rule applies per item, as to every state: a message of an older
epoch than the newest seen is ignored; within one epoch a lower ``rev`` is
ignored.  This module is pure: it decodes bytes and imports no MQTT client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.codec import ProtocolError
from antre.broker.wire.topics import SERVICE_STATE, Channel, Role, TopicError, Topics, parse

log = logging.getLogger(__name__)


def is_newer(old: m.GeraiState | m.ServiceState | m.Calls | m.Board | None,
             new: m.GeraiState | m.ServiceState | m.Calls | m.Board) -> bool:
    """Does ``new`` replace ``old`` under the epoch rule?"""
    if old is None or new.epoch > old.epoch:
        return True
    return new.epoch == old.epoch and new.rev >= old.rev


@dataclass
class SiteFeed:
    """The newest retained state of every gerai and service of one site, and its recent calls.

    >>> feed = SiteFeed("kupang")
    >>> feed.offer("antre/v1/kupang/calls", b'{"v":1,"kind":"calls","site":"kupang","site_name":"MPP","rev":3,"ts":1}')
    True
    >>> feed.board().site_name
    'MPP'
    """

    site: str
    site_name: str = ""
    gerai: dict[str, m.GeraiState] = field(default_factory=dict)
    services: dict[str, m.ServiceState] = field(default_factory=dict)
    calls: m.Calls | None = None
    #: the newest epoch seen on any item
    epoch: int = 0

    def __post_init__(self) -> None:
        self.topics = Topics(self.site)

    def subscriptions(self) -> list[str]:
        """The filters a whole-site reader subscribes to (QoS 1)."""
        t = self.topics
        return [t.all_gerai_states(), t.all_service_states(), t.calls()]

    def offer(self, topic: str, payload: bytes) -> bool:
        """Take one received message; True when the view changed.

        Messages on other topics are ignored (False); a malformed payload on one
        of the feed's topics is logged and ignored: it never replaces a good state.
        """
        try:
            where = parse(topic)
        except TopicError:
            return False
        if where.site != self.site:
            return False
        try:
            if where.role is Role.GERAI and where.channel is Channel.STATE and where.device:
                gerai = codec.decode(payload, Channel.STATE, m.GeraiState)
                if gerai.gerai != where.device:
                    log.warning("ignored a gerai state for %r on the topic of %r", gerai.gerai, where.device)
                    return False
                return self._take_gerai(gerai)
            if where.role is None and where.channel == SERVICE_STATE and where.device:
                state = codec.decode(payload, SERVICE_STATE, m.ServiceState)
                if state.service != where.device:
                    log.warning("ignored a service state for %r on the topic of %r", state.service, where.device)
                    return False
                return self._take_service(state)
            if where.role is None and where.channel == "calls":
                return self._take_calls(codec.decode(payload, "calls", m.Calls))
        except ProtocolError as exc:
            log.warning("ignored a malformed message on %s: %s", topic, exc)
        return False

    def take(self, message: m.GeraiState | m.ServiceState | m.Calls) -> bool:
        """Take an already decoded message (True when the view changed)."""
        if isinstance(message, m.GeraiState):
            return self._take_gerai(message)
        if isinstance(message, m.ServiceState):
            return self._take_service(message)
        return self._take_calls(message)

    # ------------------------------------------------------------------ views

    def waiting_for(self, services: Iterable[str]) -> int | None:
        """The sum of the waiting counts of ``services``; None while one of them is unknown."""
        total = 0
        for sid in services:
            state = self.services.get(sid)
            if state is None:
                return None
            total += state.waiting
        return total

    def shown(self, state: m.GeraiState) -> m.GeraiState:
        """``state`` as its gerai's display shows it: the waiting count summed from its services'
        states (the count in a contract 2 gerai state may be old); unchanged while one is unknown."""
        summed = self.waiting_for(state.services) if state.services else None
        return state if summed is None else msgspec.structs.replace(state, waiting=summed)

    def board(self) -> m.Board:
        """The whole site in the shape of the contract 1 board (what lobby screens draw)."""
        tiles = [
            m.BoardGerai(gerai=g.gerai, number=g.number, name=g.name, agency=g.agency, status=g.status,
                         ticket=g.ticket, service=g.service)
            for g in sorted(self.gerai.values(), key=lambda g: (g.number, g.gerai))
        ]
        services = [
            m.BoardService(service=s.service, name=s.name, agency=s.agency, prefix=s.prefix, waiting=s.waiting,
                           remaining_quota=s.remaining_quota, est_wait_min=s.est_wait_min, open=s.open,
                           issuing=s.issuing)
            for s in sorted(self.services.values(), key=lambda s: (s.order, s.service))
        ]
        revs = [g.rev for g in self.gerai.values()] + [s.rev for s in self.services.values()]
        stamps = [g.ts for g in self.gerai.values()] + [s.ts for s in self.services.values()]
        if self.calls is not None:
            revs.append(self.calls.rev)
            stamps.append(self.calls.ts)
        return m.Board(
            epoch=self.epoch,
            site=self.site,
            site_name=self.calls.site_name if self.calls is not None else self.site_name,
            rev=max(revs, default=0),
            ts=max(stamps, default=0.0),
            gerai=tiles,
            services=services,
            calls=list(self.calls.calls) if self.calls is not None else [],
            message=self.calls.message if self.calls is not None else "",
        )

    # ---------------------------------------------------------------- private

    def _current(self, epoch: int) -> bool:
        if epoch < self.epoch:
            return False
        if epoch > self.epoch:
            # a new event log: what is left of the old one is obsolete
            self.epoch = epoch
            self.gerai = {k: v for k, v in self.gerai.items() if v.epoch >= epoch}
            self.services = {k: v for k, v in self.services.items() if v.epoch >= epoch}
            if self.calls is not None and self.calls.epoch < epoch:
                self.calls = None
        return True

    def _take_gerai(self, state: m.GeraiState) -> bool:
        if not self._current(state.epoch) or not is_newer(self.gerai.get(state.gerai), state):
            return False
        self.gerai[state.gerai] = state
        return True

    def _take_service(self, state: m.ServiceState) -> bool:
        if not self._current(state.epoch) or not is_newer(self.services.get(state.service), state):
            return False
        self.services[state.service] = state
        return True

    def _take_calls(self, calls: m.Calls) -> bool:
        if not self._current(calls.epoch) or not is_newer(self.calls, calls):
            return False
        self.calls = calls
        return True
