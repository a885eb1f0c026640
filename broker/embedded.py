"""The embedded broker: amqtt with antre's credentials and ACL, for laptops.

A zero-install default for the demo and quick tests; production uses
Mosquitto (see :mod:`broker.mosquitto`).  Known limits of amqtt, handled here:

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
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

from broker.acl import Access, Identity, allowed
from broker.credentials import Credentials, hash_password, verify_password

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
        return ok


class AntreTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """Allow each publish, subscribe and delivery only as :mod:`broker.acl` says."""

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


class AntreBroker(Broker):  # type: ignore[misc]
    """amqtt's broker, sending retained messages only to clients allowed to read them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._subscriptions = _SnapshotTable(self._subscriptions)  # type: ignore[has-type]

    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int], session: Any) -> None:
        topic_filter, qos = subscription
        subscribers = self._subscriptions.get(topic_filter, [])
        if not any(sub.client_id == session.client_id for sub, _ in subscribers):
            # a refused subscription, or (on connect) another client's filter: nothing to send
            return
        tasks = []
        for topic, retained in list(self._retained_messages.items()):
            if not self._matches(topic, topic_filter):
                continue
            if not await self._topic_filtering(session, topic=topic, action=Action.RECEIVE):
                continue
            handler = self._get_handler(session)
            if handler:
                tasks.append(asyncio.ensure_future(
                    handler.mqtt_publish(retained.topic, retained.data, min(qos, retained.qos or qos), retain=True)
                ))
        if tasks:
            await asyncio.wait(tasks)


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


async def serve(host: str, port: int, site: str, credentials: Credentials, stop: asyncio.Event) -> None:
    """Run the broker until ``stop`` is set."""
    broker = AntreBroker(broker_config(host, port, site, credentials))
    await broker.start()
    log.info("embedded broker for site %s listening on %s:%d (MQTT 3.1.1)", site, host, port)
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
