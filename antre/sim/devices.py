"""Simulated devices: MQTT clients with a site's identities, for tests, benchmarks and tools.

:class:`SimDevice` speaks for one identity (at-least-once requests, replies and states
kept); :class:`Watcher` reads topics with a read-only identity.  Both use the same link
as every antre process (:class:`antre.broker.link.client.MqttLink`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import TypeVar


from antre.broker.admin.acl import Identity
from antre.broker.link.base import Will
from antre.broker.link.client import MqttLink, Received
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.feed import SiteFeed
from antre.broker.wire.topics import Channel, Role, Topics
from antre.sim.sitefiles import SiteFiles

T = TypeVar("T", bound=m.Message)


class SimDevice:
    """A simulated device: an MQTT client speaking for one identity of ``site`` (a gerai, a kiosk,
    or, with ``subscribe``, any identity reading what it may), with at-least-once requests and
    what it received kept for inspection.  The real device code is :class:`antre.edge.agent.EdgeAgent`;
    this one lets a test or a benchmark send any command, valid or not."""

    def __init__(self, site: SiteFiles, role: Role, device: str, subscribe: list[str] | None = None, *,
                 contract: int = m.CONTRACT) -> None:
        self.site, self.role, self.device = site, role, device
        self.contract = contract
        self.topics = Topics(site.config.site_id)
        who = Identity(role, device)
        self.inbox: queue.Queue[Received] = queue.Queue()
        self.replies: dict[str, m.Reply] = {}
        #: the gerai states received (as sent: under contract 2 their waiting count may be old)
        self.states: list[m.GeraiState] = []
        #: the service states received (contract 2): a gerai shows the sum of its services' counts
        self.feed = SiteFeed(site.config.site_id)
        self.others: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        device_role = subscribe is None
        if subscribe is None:
            channels = [Channel.REPLY, Channel.PRINT] + ([Channel.STATE] if role is Role.GERAI else [])
            subscribe = [self.topics.device(role, device, ch) for ch in channels]
            if contract >= 2:
                subscribe.append(self.topics.all_service_states())
        device_role = device_role and role in (Role.GERAI, Role.KIOSK)
        presence = self.topics.device(role, device, Channel.PRESENCE) if device_role else ""
        self.link = MqttLink(
            site.address(who),
            subscriptions=[(t, 1) for t in subscribe], on_message=self._on_message,
            will=Will(presence, codec.encode(self._presence(online=False))) if device_role else None,
        )
        self.link.start()
        assert self.link.wait_connected(10), f"{who.username} could not connect"
        if device_role:  # a device says it is there, and which contract it reads, as the real agent does
            online = codec.encode(self._presence(online=True))
            self.link.publish(presence, online, qos=1, retain=True).wait_for_publish(5)

    def _presence(self, *, online: bool) -> m.Presence:
        role: m.RoleName = "gerai" if self.role is Role.GERAI else "kiosk"
        return m.Presence(role=role, device=self.device, online=online, contract=self.contract)

    def _on_message(self, msg: Received) -> None:
        with self._lock:
            if msg.topic.endswith("/reply"):
                reply = codec.decode(msg.payload, Channel.REPLY, m.Reply)
                self.replies[reply.cmd] = reply
            elif "/service/" in msg.topic:
                self.feed.offer(msg.topic, msg.payload)  # a service state
            elif msg.topic.endswith("/state"):
                self.states.append(codec.decode(msg.payload, Channel.STATE, m.GeraiState))
            else:
                self.others.append((msg.topic, msg.payload))
            self._cond.notify_all()

    def _shown(self, state: m.GeraiState) -> m.GeraiState:
        """What the display shows: under contract 2 the waiting count is its services' sum."""
        return state if self.contract < 2 else self.feed.shown(state)

    def publish_raw(self, payload: bytes, topic: str | None = None) -> None:
        info = self.link.publish(topic or self.topics.device(self.role, self.device, Channel.CMD), payload, qos=1)
        info.wait_for_publish(5)

    def request(self, cmd: m.AnyCommand, timeout: float = 30, retry_every: float = 1.5) -> m.Reply:
        """Publish ``cmd`` until its reply arrives (a device's at-least-once)."""
        payload = codec.encode(cmd)
        deadline = time.monotonic() + timeout
        while True:
            if self.link.connected.is_set():
                self.link.publish(self.topics.device(self.role, self.device, Channel.CMD), payload, qos=1)
            wait = min(retry_every, deadline - time.monotonic())
            with self._cond:
                if self._cond.wait_for(lambda: cmd.id in self.replies, max(0.0, wait)):
                    return self.replies[cmd.id]
            if time.monotonic() >= deadline:
                raise AssertionError(f"no reply to {cmd.id} within {timeout}s")

    def latest_state(self) -> m.GeraiState | None:
        with self._lock:
            return self._shown(max(self.states, key=lambda s: s.rev)) if self.states else None

    def wait_state(self, predicate: Callable[[m.GeraiState], bool], timeout: float = 10) -> m.GeraiState:
        """Wait (on the message condition, not by polling) for a state matching ``predicate``."""

        def matching() -> m.GeraiState | None:
            state = self._shown(max(self.states, key=lambda s: s.rev)) if self.states else None
            return state if state is not None and predicate(state) else None

        with self._cond:
            if not self._cond.wait_for(lambda: matching() is not None, timeout):
                raise AssertionError(f"timed out after {timeout}s waiting for a matching state of {self.device}")
            state = matching()
        assert state is not None
        return state

    def messages_on(self, suffix: str) -> list[bytes]:
        with self._lock:
            return [p for t, p in self.others if t.endswith(suffix)]

    def close(self) -> None:
        self.link.stop()


class Watcher:
    """A read-only client (the central's or a lobby's identity) collecting messages."""

    def __init__(self, site: SiteFiles, who: Identity, topics: list[str]) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.link = MqttLink(site.address(who),
                             subscriptions=[(t, 1) for t in topics], on_message=self._on)
        self.link.start()
        assert self.link.wait_connected(10)

    def _on(self, msg: Received) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload, msg.retain))

    def decoded(self, suffix: str, channel: str, cls: type[T]) -> list[T]:
        """Every message on a topic ending in ``suffix``, decoded (a cleared retained one, empty, left out)."""
        with self._lock:
            items = [p for t, p, _ in self.messages if t.endswith(suffix) and p]
        return [codec.decode(p, channel, cls) for p in items]

    def feed(self, site: str) -> SiteFeed:
        """The site as a contract 2 reader assembles it from what arrived so far."""
        feed = SiteFeed(site)
        with self._lock:
            items = list(self.messages)
        for topic, payload, _ in items:
            feed.offer(topic, payload)
        return feed

    def close(self) -> None:
        self.link.stop()
