"""The embedded broker: amqtt with antre's credentials and ACL, for laptops.

A zero-install default for the demo and quick tests; production uses
Mosquitto (see :mod:`antre.broker.admin.mosquitto`).  Known limits of amqtt, handled here:

* it speaks MQTT 3.1.1 only (so does all of antre);
* it binds ``0.0.0.0:1883`` unless told otherwise: antre always passes an
  explicit bind address, loopback by default;
* it keeps no state across a restart (retained messages and sessions are in
  memory): the central republishes every retained state when it reconnects;
* on a resumed session it may offer retained messages of topics the client
  never subscribed to: the topic plugin below checks every delivery
  (``receive``) against the same ACL as every publish and subscribe;
* amqtt 0.12.1 sends the retained messages matching a subscription even
  when it *refused* that subscription (found by tests/test_integration.py:
  a gerai could read another gerai's retained state), and on every connect
  it offers the retained messages of *every* client's subscriptions.
  :class:`AntreBroker` sends a retained message only for a subscription the
  session really holds, and only if the ACL lets it read the topic;
* amqtt iterates its subscription table while a disconnecting client
  changes it ("dictionary changed size during iteration"), which kills that
  broadcast for every remaining subscriber: :class:`_SnapshotTable` makes
  every iteration work on a snapshot.

Identity and sessions (amqtt 0.12.1, ``amqtt/broker.py``; found by
tests/test_broker_identity.py, which holds Mosquitto to the same rules):

* ``_initialize_client_session`` (l. 508-530) acts on the CONNECT before
  anyone checked its password: with clean_session=1 it deletes the existing
  session of that client id (its subscriptions and queued messages; a live
  connection stays open but deaf), with clean_session=0 it copies the
  newcomer's username, password and will into the existing session.  Then
  ``_handle_client_session`` closes the existing connection ("take-over",
  l. 566-574) and only afterwards refuses the newcomer (l. 584).  So a wrong
  password, or another identity's credentials, under the client id
  ``central`` knocked the central off or wiped its queued commands.
  :meth:`AntreBroker._initialize_client_session` authenticates first (the
  password and client id == username): a refused client gets CONNACK
  "not authorised" and is closed, and no session is touched.
* the take-over of amqtt (l. 566-574) lets the old connection's disconnect
  handling run after the new connection is attached, which marks the shared
  session disconnected: the new connection got nothing more (every message
  was queued for a client that was connected).  AntreBroker closes the old
  connection itself and waits until its disconnect is fully handled.
* an outgoing QoS 1 message waits 5 s for its PUBACK and is then dropped from
  the session, and a closed connection drops every unacknowledged one
  (``amqtt/mqtt/protocol/handler.py`` l. 316-328: ``finally`` pops it from
  ``inflight_out``).  The central acknowledges a command only after it is
  committed, so a central that stopped (e.g. on a full disk) lost its
  pending command.  :class:`_AntreHandler` keeps a message in flight until
  its PUBACK, on this connection or a later one, and resends it with DUP
  when the session reconnects [MQTT-4.4.0-1].  The resends, and messages
  queued while the client was away, are sent without blocking the
  connection on their acknowledgements (amqtt awaited them all, handler.py
  l. 134 and broker.py l. 1132, before handling the client's packets), and
  queued messages go out with retain=0 (amqtt set 1, l. 1128)
  [MQTT-3.3.1-9].
* a client that goes silent is never dropped (``BrokerProtocolHandler.
  handle_read_timeout``, broker_handler.py l. 86, does nothing), so its will
  is never published: :class:`_AntreHandler` closes it after 1.5 times its
  keep-alive [MQTT-3.1.2-24].

Not fixed: amqtt delivers at the subscription's QoS, not min(published,
granted) QoS (broker.py l. 1025), so QoS 0 health reports are queued, in
memory, for an offline persistent session (Mosquitto does not queue them).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Iterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from amqtt.broker import Broker
from amqtt.errors import BrokerError
from amqtt.contexts import Action
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.events import MQTTEvents
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import OUTGOING
from amqtt.utils import format_client_message, gen_client_id

from antre.broker.errors import ConfigurationError
from antre.broker.admin.acl import Access, Identity, allowed
from antre.broker.admin.credentials import Credentials, hash_password, verify_password

log = logging.getLogger(__name__)


class AntreAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """Accept a client only with a known username and its password."""

    @dataclass
    class Config:
        password_hashes: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Any) -> bool | None:
        username = getattr(session, "username", None)
        password = getattr(session, "password", None)
        if isinstance(password, bytes):
            password = password.decode("utf-8", "replace")
        hashed = self.context.config.password_hashes.get(username or "")
        ok = bool(hashed and isinstance(password, str) and verify_password(password, hashed))
        if not ok:
            log.warning("refused connection of %r: unknown user or wrong password", username)
            return False
        client_id = getattr(session, "client_id", None)
        if client_id != username:
            log.warning("refused connection of %r with client id %r: a client id must be its username",
                        username, client_id)
            return False
        return True


class AntreTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """Allow each publish, subscribe and delivery only as :mod:`antre.broker.admin.acl` says."""

    @dataclass
    class Config:
        site: str = ""

    async def topic_filtering(
        self, *, session: Any = None, topic: str | None = None, action: Any = None
    ) -> bool | None:
        if session is None or topic is None:
            return False
        try:
            who = Identity.parse(session.username or "")
        except ValueError:
            return False
        access = Access.WRITE if action == Action.PUBLISH else Access.READ
        ok = allowed(self.context.config.site, who, access, topic)
        if not ok and action != Action.RECEIVE:
            log.warning("denied %s on %s to %s", action, topic, who.username)
        return ok


class _SnapshotTable(dict):  # type: ignore[type-arg]
    """amqtt's topic filter -> subscribers table; iterations see a stable snapshot."""

    def items(self):  # type: ignore[no-untyped-def]
        return [(k, list(v)) for k, v in super().items()]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(super().keys()))


class _AntreHandler(BrokerProtocolHandler):  # type: ignore[misc]
    """amqtt's broker-side protocol handler that never forgets an unacknowledged QoS 1 message.

    One handler serves one connection; the session (and its ``inflight_out``)
    outlives it when the client asked for a persistent session.  QoS 2, which
    antre never uses, keeps amqtt's own flow.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._flows: set[asyncio.Future[Any]] = set()
        self._closed = False

    def spawn(self, flow: Coroutine[Any, Any, Any]) -> None:
        """Run a message flow in the background, keeping a reference and logging its failure."""
        task = asyncio.ensure_future(flow)
        self._flows.add(task)
        task.add_done_callback(self._flow_done)

    def _flow_done(self, task: asyncio.Future[Any]) -> None:
        self._flows.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("message flow of %s failed: %r", self._client_id(), task.exception())

    def _client_id(self) -> str | None:
        return self.session.client_id if self.session is not None else None

    def _abort(self) -> None:
        """Close the socket at once: the reader sees the end of the stream and ends by itself.

        amqtt stops a connection by cancelling its reader, which waits in ``asyncio.wait_for``;
        on Python 3.11 that cancellation is lost when data arrives at the same moment
        (cpython gh-86296), so the reader went on serving a connection the broker had given
        up on (found by tests/test_faults.py: after a 3 s freeze of the broker, gerai stayed
        "connected" to it and got no more replies).  Aborting the transport ends the reader
        whatever the race."""
        writer = getattr(self, "writer", None)
        stream = getattr(writer, "_writer", None)
        transport = getattr(stream, "transport", None)
        if transport is not None and not transport.is_closing():
            transport.abort()

    async def stop(self) -> None:
        self._closed = True
        self._abort()
        await super().stop()

    def handle_read_timeout(self) -> None:
        # [MQTT-3.1.2-24]: nothing for 1.5 times the keep-alive (the session's
        # keep_alive is already 1.5 times the client's): close as a network failure
        log.warning("%s sent nothing within 1.5 times its keep-alive: closing its connection", self._client_id())
        self._abort()

    async def _retry_deliveries(self) -> None:
        """[MQTT-4.4.0-1] resend every unacknowledged message (DUP), in order, without waiting for the acks."""
        assert self.session is not None
        pending = list(itertools.chain(self.session.inflight_in.values(), self.session.inflight_out.values()))
        if pending:
            log.info("%s: resending %d unacknowledged message(s)", self.session.client_id, len(pending))
        for message in pending:
            self.spawn(self._handle_message_flow(message))

    async def _handle_qos1_message_flow(self, app_message: Any) -> None:
        if app_message.direction != OUTGOING:
            await super()._handle_qos1_message_flow(app_message)
            return
        session = self.session
        packet_id = app_message.packet_id
        if session is None or packet_id is None:
            raise AMQTTError("QoS 1 message without a session or a packet id")
        if app_message.puback_packet:
            raise AMQTTError(f"Message '{packet_id}' has already been acknowledged")
        session.inflight_out.setdefault(packet_id, app_message)
        # DUP when this message was sent before, on this connection or an earlier one
        packet = app_message.build_publish_packet(dup=app_message.publish_packet is not None)
        app_message.publish_packet = packet
        previous = self._puback_waiters.get(packet_id)
        if previous is not None:
            previous.cancel()
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._puback_waiters[packet_id] = waiter  # before sending: a fast PUBACK must find it
        try:
            await self._send_packet(packet)
            if self._closed:
                return  # the connection is gone: the message stays in flight for the next one
            try:
                app_message.puback_packet = await waiter
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if waiter.cancelled() and (task is None or task.cancelling() == 0):
                    return  # the connection closed (or a newer flow took over): still in flight
                raise
        finally:
            if self._puback_waiters.get(packet_id) is waiter:
                del self._puback_waiters[packet_id]
        if session.inflight_out.get(packet_id) is app_message:
            del session.inflight_out[packet_id]


class AntreBroker(Broker):  # type: ignore[misc]
    """amqtt's broker, with antre's fixes for identities, sessions and retained messages.

    See the module docstring for each amqtt flaw and its fix.
    """

    TAKEOVER_TIMEOUT = 5.0  # seconds to wait for an old connection's disconnect handling

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._subscriptions = _SnapshotTable(self._subscriptions)  # type: ignore[has-type]
        self._live: dict[str, asyncio.Event] = {}  # client id -> set when its connection is fully handled

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[Any, Any]:
        """amqtt 0.12.1's ``Broker._initialize_client_session``, with antre's steps marked "antre:"."""
        try:
            handler, client_session = await _AntreHandler.init_from_connect(reader, writer, self.plugins_manager)
        except AMQTTError as exc:
            log.warning("[MQTT-3.1.0-1] %s: Can't read first packet as CONNECT: %s",
                        format_client_message(address=remote_address, port=remote_port), exc)
            raise AMQTTError(exc) from exc
        except MQTTError as exc:
            log.warning("Invalid connection from %s", format_client_message(address=remote_address, port=remote_port))
            await writer.close()
            raise MQTTError(exc) from exc
        except NoDataError as exc:  # amqtt logs this as an error; a port probe is not one
            log.info("No data from %s : %s", format_client_message(address=remote_address, port=remote_port), exc)
            raise AMQTTError(exc) from exc

        # antre: authenticate (password, client id == username) before anything touches a session
        if not await self._authenticate(client_session, None):
            connack = ConnackPacket.build(0, NOT_AUTHORIZED)
            await self.plugins_manager.fire_event(MQTTEvents.PACKET_SENT, packet=connack)
            await connack.to_stream(writer)
            await writer.close()
            raise MQTTError(f"refused {client_session.username!r} as client id {client_session.client_id!r}")
        # antre: a take-over by the same identity completes before the session is reused
        await self._close_previous_connection(client_session.client_id)

        if client_session.clean_session:
            # Delete existing session and create a new one
            if client_session.client_id is not None and client_session.client_id != "":
                await self._delete_session(client_session.client_id)
            else:
                client_session.client_id = gen_client_id()
            client_session.parent = 0
        elif client_session.client_id in self._sessions:
            # the new connection can bring updated configuration and credentials (of the same identity)
            existing, _ = self._sessions[client_session.client_id]
            existing.will_flag = client_session.will_flag
            existing.will_message = client_session.will_message
            existing.will_topic = client_session.will_topic
            existing.will_qos = client_session.will_qos
            existing.will_retain = client_session.will_retain  # antre: amqtt kept the old one
            existing.keep_alive = client_session.keep_alive
            existing.username = client_session.username
            existing.password = client_session.password
            existing.remote_address = client_session.remote_address  # antre: for the logs
            existing.remote_port = client_session.remote_port
            client_session = existing
            client_session.parent = 1
        else:
            client_session.parent = 0

        # antre: [MQTT-3.1.2-24] the broker waits 1.5 times the keep-alive (amqtt: once, then forever)
        if client_session.keep_alive > 0:
            client_session.keep_alive += (client_session.keep_alive + 1) // 2
        return handler, client_session

    async def _close_previous_connection(self, client_id: str | None) -> None:
        """Close the connection ``client_id`` still has (its own reconnect) and wait until it is handled."""
        entry = self._sessions.get(client_id or "")
        if entry is None or not entry[0].transitions.is_connected():
            return
        session, handler = entry
        log.info("%s connected again: closing its previous connection", client_id)
        finished = self._live.get(session.client_id)
        await handler.handle_connection_closed()
        if finished is not None:
            try:
                await asyncio.wait_for(finished.wait(), self.TAKEOVER_TIMEOUT)
            except (TimeoutError, asyncio.TimeoutError):
                log.warning("previous connection of %s not closed within %.0f s; taking it over",
                            client_id, self.TAKEOVER_TIMEOUT)

    async def _handle_client_session(
        self, reader: Any, writer: Any, client_session: Any, handler: Any, server: Any, listener_name: str
    ) -> None:
        finished = asyncio.Event()
        client_id = client_session.client_id
        self._live[client_id] = finished
        try:
            await super()._handle_client_session(reader, writer, client_session, handler, server, listener_name)
        finally:
            finished.set()
            if self._live.get(client_id) is finished:
                del self._live[client_id]

    async def _publish_session_retained_messages(self, session: Any) -> None:
        """Send what was queued while the client was away: in order, retain=0, without awaiting the acks."""
        handler = self._get_handler(session)
        if handler is None:
            return
        count = 0
        while not session.retained_messages.empty():
            queued = session.retained_messages.get_nowait()
            self._send(handler, handler.mqtt_publish(queued.topic, queued.data, queued.qos, retain=False))
            count += 1
        if count:
            log.info("%s: sending %d message(s) queued while it was away", session.client_id, count)

    def _send(self, handler: Any, flow: Coroutine[Any, Any, Any]) -> None:
        if isinstance(handler, _AntreHandler):
            handler.spawn(flow)
        else:  # pragma: no cover - every connection gets an _AntreHandler
            self._tasks_queue.append(asyncio.ensure_future(flow))

    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int], session: Any) -> None:
        topic_filter, qos = subscription
        subscribers = self._subscriptions.get(topic_filter, [])
        if not any(sub.client_id == session.client_id for sub, _ in subscribers):
            # a refused subscription, or (on connect) another client's filter: nothing to send
            return
        for topic, retained in list(self._retained_messages.items()):
            if not self._matches(topic, topic_filter):
                continue
            if not await self._topic_filtering(session, topic=topic, action=Action.RECEIVE):
                continue
            handler = self._get_handler(session)
            if handler:
                self._send(handler, handler.mqtt_publish(
                    retained.topic, retained.data, min(qos, retained.qos or qos), retain=True))


@contextlib.contextmanager
def _quiet_startup_failure() -> Iterator[None]:
    class _Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not record.getMessage().startswith("Broker startup failed")

    amqtt_log = logging.getLogger("amqtt.broker")
    drop = _Drop()
    amqtt_log.addFilter(drop)
    try:
        yield
    finally:
        amqtt_log.removeFilter(drop)


class BrokerUnavailableError(ConfigurationError, what="broker"):
    """The embedded broker cannot listen where the site file says (the port is taken, say)."""


def broker_config(host: str, port: int, site: str, credentials: Credentials) -> dict[str, Any]:
    """The amqtt configuration of an antre broker."""
    hashes = {user: hash_password(pw) for user, pw in credentials.secrets.items()}
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 0}},
        "timeout_disconnect_delay": 0,
        "plugins": {
            f"{__name__}.AntreAuthPlugin": {"password_hashes": hashes},
            f"{__name__}.AntreTopicPlugin": {"site": site},
        },
    }


async def serve(host: str, port: int, site: str, credentials: Credentials, stop: asyncio.Event,
                on_ready: Callable[[], object] | None = None) -> None:
    """Run the broker until ``stop`` is set; ``on_ready`` once it listens."""
    broker = AntreBroker(broker_config(host, port, site, credentials))
    try:
        with _quiet_startup_failure():  # reported below in one sentence, not amqtt's traceback
            await broker.start()
    except BrokerError as exc:
        raise BrokerUnavailableError(
            f"the embedded broker cannot listen on {host}:{port}: {exc.__cause__ or exc}. Another MQTT broker "
            "(the machine's Mosquitto?) may use that port: stop it, or choose another with [broker] port in "
            "the site file or --broker-port"
        ) from None
    log.info("embedded broker for site %s listening on %s:%d (MQTT 3.1.1)", site, host, port)
    if on_ready is not None:
        on_ready()
    try:
        await stop.wait()
    finally:
        try:
            # amqtt waits up to 15 s for connected clients when shutting down,
            # and keeps accepting connections meanwhile: do not wait for it.
            await asyncio.wait_for(broker.shutdown(), timeout=2.0)
        except (TimeoutError, asyncio.TimeoutError):
            log.warning("embedded broker did not shut down within 2 s; closing its connections")
        log.info("embedded broker stopped")
