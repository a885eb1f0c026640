"""An in-process broker for logic tests: :class:`MemoryBus` and its :class:`MemoryLink`.

It keeps the rules of a real MQTT 3.1.1 broker that antre's logic depends on, so
a component's behaviour can be tested without a broker process or a central:

* topic filters (``+``, ``#``), retained messages (an empty payload clears one),
  delivered on subscribe;
* the ACL of :mod:`antre.broker.admin.acl` when the bus has a site: a denied
  publish is dropped silently (as Mosquitto does), a denied filter gets nothing;
* one connection per client id (= username): a second one closes the first;
* a will published when a connection is cut (not on a clean stop);
* persistent sessions (``clean_session=False``): QoS 1 messages published while
  the client is away are queued, and with ``manual_ack`` unacknowledged ones are
  redelivered with ``dup`` on reconnect;
* a link that is cut reconnects (``on_connect`` again) once the bus restores it;
  QoS 1 publishes made while it was away are sent then, QoS 0 ones are lost.

Delivery is in order per client, on the link's own thread (:meth:`MemoryLink.start`,
like paho's loop thread) or in the caller's (:meth:`MemoryLink.run_inline`).
Everything accepted is kept in :attr:`MemoryBus.log` for assertions.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from antre.broker.admin.acl import Access, Identity, allowed, filter_within, topic_matches
from antre.broker.link.base import BrokerAddress, LinkSpec, Received

log = logging.getLogger(__name__)

Item = Received | Callable[[], None]


@dataclass
class _Session:
    client_id: str
    subscriptions: dict[str, int] = field(default_factory=dict)
    queued: list[Received] = field(default_factory=list)  # while away (persistent sessions)
    inflight: dict[int, Received] = field(default_factory=dict)  # delivered, not acknowledged (manual ack)
    persistent: bool = False


@dataclass(frozen=True)
class Published:
    """One accepted publish, as the bus saw it."""

    client_id: str
    topic: str
    payload: bytes
    qos: int
    retain: bool


class MemoryBus:
    """An in-process MQTT broker for tests (see the module docstring).

    ``site``: enforce antre's ACL for that site (usernames ``central``, ``gerai.g1``...).
    """

    def __init__(self, site: str | None = None) -> None:
        self.site = site
        self._lock = threading.RLock()
        self._links: dict[str, MemoryLink] = {}
        self._sessions: dict[str, _Session] = {}
        self._retained: dict[str, tuple[bytes, int]] = {}
        self._cut: set[str] = set()
        self._waiting: dict[str, MemoryLink] = {}  # started links held off while cut
        self._mids = itertools.count(1)
        self.log: list[Published] = []
        self.denied: list[tuple[str, str, str]] = []  # (client id, action, topic)

    # ------------------------------------------------------------ factory

    def factory(self, spec: LinkSpec) -> MemoryLink:
        """A :data:`~antre.broker.link.base.LinkFactory` connecting components to this bus."""
        return MemoryLink(self, spec)

    # ------------------------------------------------------------ faults

    def cut(self, client_id: str) -> None:
        """The client's link dies (no DISCONNECT): its will goes out; it stays away until :meth:`restore`."""
        with self._lock:
            self._cut.add(client_id)
            link = self._links.get(client_id)
        if link is not None:
            link._lost("connection cut", will=True)

    def restore(self, client_id: str) -> None:
        """The client may connect again; a started link reconnects at once."""
        with self._lock:
            self._cut.discard(client_id)
            link = self._links.get(client_id) or self._waiting.get(client_id)
        if link is not None:
            link._reconnect()

    # ------------------------------------------------------------ queries

    def retained(self, topic: str) -> bytes | None:
        with self._lock:
            item = self._retained.get(topic)
            return item[0] if item else None

    def published_on(self, topic_filter: str) -> list[Published]:
        with self._lock:
            return [p for p in self.log if topic_matches(p.topic, topic_filter)]

    def is_connected(self, client_id: str) -> bool:
        with self._lock:
            return client_id in self._links

    # ------------------------------------------------------------ internals

    def _allowed(self, username: str | None, access: Access, topic: str) -> bool:
        if self.site is None:
            return True
        try:
            who = Identity.parse(username or "")
        except ValueError:
            return False
        return allowed(self.site, who, access, topic)

    def _connect(self, link: MemoryLink) -> bool:
        cid = link.client_id
        with self._lock:
            if cid in self._cut:
                self._waiting[cid] = link
                return False
            self._waiting.pop(cid, None)
            old = self._links.get(cid)
        if old is not None and old is not link:
            # the older connection is closed; like paho it tries again (here: once the newer one is gone)
            old._lost("another connection took over the client id", will=True, reconnect=False)
            with self._lock:
                self._waiting[cid] = old
        with self._lock:
            session = self._sessions.get(cid)
            if link.spec.clean_session or session is None:
                session = _Session(cid, persistent=not link.spec.clean_session)
                self._sessions[cid] = session
            self._links[cid] = link
            resend = [Received(r.topic, r.payload, r.qos, r.retain, r.mid, True) for r in session.inflight.values()]
            queued, session.queued = session.queued, []
        for item in resend + queued:
            link._deliver(item)
        return True

    def _disconnect(self, link: MemoryLink) -> None:
        waiting = None
        with self._lock:
            if self._links.get(link.client_id) is link:
                del self._links[link.client_id]
                if link.client_id not in self._cut:
                    waiting = self._waiting.pop(link.client_id, None)
            session = self._sessions.get(link.client_id)
            if session is not None and not session.persistent:
                del self._sessions[link.client_id]
        if waiting is not None and waiting is not link:
            waiting._reconnect()

    def _subscribe(self, link: MemoryLink, topic_filter: str, qos: int) -> list[Received]:
        """Register a filter for the link's session; returns the retained messages it gets."""
        with self._lock:
            if not self._allowed(link.address.username, Access.READ, topic_filter):
                self.denied.append((link.client_id, "subscribe", topic_filter))
                return []
            session = self._sessions[link.client_id]
            session.subscriptions[topic_filter] = qos
            return [Received(t, p, min(q, qos), True, next(self._mids) if min(q, qos) else 0, False)
                    for t, (p, q) in sorted(self._retained.items()) if topic_matches(t, topic_filter)]

    def _publish(self, client_id: str, username: str | None, topic: str, payload: bytes, qos: int,
                 retain: bool) -> None:
        if not self._allowed(username, Access.WRITE, topic):
            with self._lock:
                self.denied.append((client_id, "publish", topic))
            log.debug("denied publish of %s on %s", client_id, topic)
            return
        deliveries: list[tuple[MemoryLink | None, _Session, Received]] = []
        with self._lock:
            self.log.append(Published(client_id, topic, payload, qos, retain))
            if retain:
                if payload:
                    self._retained[topic] = (payload, qos)
                else:
                    self._retained.pop(topic, None)
            for session in self._sessions.values():
                granted = max((q for f, q in session.subscriptions.items() if topic_matches(topic, f)), default=-1)
                if granted < 0:
                    continue
                eff = min(qos, granted)
                msg = Received(topic, payload, eff, False, next(self._mids) if eff else 0, False)
                deliveries.append((self._links.get(session.client_id), session, msg))
        for link, session, msg in deliveries:
            if link is not None:
                link._deliver(msg)
            elif session.persistent and msg.qos > 0:
                with self._lock:
                    session.queued.append(msg)

    def _requeue(self, link: MemoryLink, msg: Received) -> None:
        """A message that reached a link after it went away: a persistent session keeps it."""
        with self._lock:
            session = self._sessions.get(link.client_id)
            if session is not None and session.persistent and msg.qos > 0 and msg.mid not in session.inflight:
                session.queued.append(msg)

    def _track(self, link: MemoryLink, msg: Received) -> None:
        with self._lock:
            session = self._sessions.get(link.client_id)
            if session is not None and msg.qos > 0:
                session.inflight[msg.mid] = msg

    def _ack(self, link: MemoryLink, mid: int) -> None:
        with self._lock:
            session = self._sessions.get(link.client_id)
            if session is not None:
                session.inflight.pop(mid, None)


class MemoryLink:
    """A component's connection to a :class:`MemoryBus` (the :class:`~antre.broker.link.base.Link` protocol)."""

    def __init__(self, bus: MemoryBus, spec: LinkSpec) -> None:
        self.bus = bus
        self.spec = spec
        self.address: BrokerAddress = spec.address
        self.client_id = spec.address.username or ""
        self.connected = threading.Event()
        self.refused: str | None = None
        self.local_ip: str | None = None  # no network in between
        self.subscriptions = list(spec.subscriptions)
        self._queue: queue.Queue[Item | None] = queue.Queue()
        self._outbox: list[tuple[str, bytes, int, bool]] = []  # QoS 1 publishes made while away
        self._thread: threading.Thread | None = None
        self._running = False
        self._inline = False
        self._mids = itertools.count(1)

    # ------------------------------------------------------------ control

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._loop, name=f"memlink-{self.client_id}", daemon=True)
        self._thread.start()
        self._queue.put(self._connect_now)

    def stop(self, final: Sequence[tuple[str, bytes, bool]] = (), timeout: float = 5.0) -> None:
        for topic, payload, retain in final:
            if self.connected.is_set():
                self.publish(topic, payload, qos=1, retain=retain)
        self._running = False
        self._goodbye()
        self._queue.put(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run_inline(self, stop: threading.Event, on_idle: Callable[[], None], poll: float = 0.25) -> None:
        self._running = True
        self._inline = True
        self._connect_now()
        while not stop.is_set():
            try:
                item = self._queue.get(timeout=poll)
            except queue.Empty:
                item = None
            while item is not None:
                self._handle(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            on_idle()

    def close_inline(self, final: Sequence[tuple[str, bytes, bool]] = (), timeout: float = 5.0) -> None:
        for topic, payload, retain in final:
            if self.connected.is_set():
                self.publish(topic, payload, qos=1, retain=retain)
        self._running = False
        self._goodbye()

    # ------------------------------------------------------------ messages

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        if not self.connected.is_set():
            if qos > 0:
                self._outbox.append((topic, payload, qos, retain))
            return 0
        self.bus._publish(self.client_id, self.address.username, topic, payload, qos, retain)
        return next(self._mids)

    def ack(self, message: Received) -> None:
        if message.qos > 0:
            self.bus._ack(self, message.mid)

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self.subscriptions.append((topic, qos))
        if self.connected.is_set():
            for msg in self.bus._subscribe(self, topic, qos):
                self._deliver(msg)

    def subscribe_now(self, topic: str, qos: int = 1) -> int:
        mid = next(self._mids)
        for msg in self.bus._subscribe(self, topic, qos):
            self._deliver(msg)
        callback = self.spec.on_subscribed
        if callback is not None:
            self._queue.put(lambda: callback(mid))
        return mid

    # ------------------------------------------------------------ internals

    def _connect_now(self) -> None:
        if not self._running or self.connected.is_set():
            return
        if not self.bus._connect(self):
            return  # cut: waits for the bus to restore it
        self.connected.set()
        for topic, qos in self.subscriptions:
            for msg in self.bus._subscribe(self, topic, qos):
                self._deliver(msg)
        pending, self._outbox = self._outbox, []
        for topic, payload, qos, retain in pending:
            self.bus._publish(self.client_id, self.address.username, topic, payload, qos, retain)
        if self.spec.on_connect is not None:
            self.spec.on_connect()

    def _reconnect(self) -> None:
        if self._running:
            self._queue.put(self._connect_now)

    def _lost(self, reason: str, *, will: bool, reconnect: bool = True) -> None:
        if not self.connected.is_set():
            return
        self.connected.clear()
        self.bus._disconnect(self)
        spec_will = self.spec.will
        if will and spec_will is not None:
            self.bus._publish(self.client_id, self.address.username, spec_will.topic, spec_will.payload,
                              spec_will.qos, spec_will.retain)
        if self.spec.on_disconnect is not None:
            callback = self.spec.on_disconnect
            self._queue.put(lambda: callback(reason))
        if reconnect:
            self._reconnect()  # held off while the bus keeps it cut

    def _goodbye(self) -> None:
        if self.connected.is_set():
            self.connected.clear()
            self.bus._disconnect(self)

    def _deliver(self, msg: Received) -> None:
        self._queue.put(msg)

    def _handle(self, item: Item) -> None:
        if not isinstance(item, Received):
            item()
            return
        if not self.connected.is_set():
            self.bus._requeue(self, item)  # reached a connection that is gone
            return
        if self.spec.manual_ack:
            self.bus._track(self, item)
        if self.spec.on_message is not None:
            try:
                self.spec.on_message(item)
            except Exception:  # a handler bug must not kill the delivery thread (as MqttLink)
                log.exception("message handler failed on %s", item.topic)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._handle(item)


__all__ = ["MemoryBus", "MemoryLink", "Published", "filter_within"]
