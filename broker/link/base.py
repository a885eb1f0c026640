"""What every antre process needs of an MQTT connection, without paho.

Components (the central's runner, the gerai agent, the lobby, the central's lease
probe) do not build their connection: they describe it in a :class:`LinkSpec` and ask a
:data:`LinkFactory` for a :class:`Link`.  In production the factory is
:func:`antre.broker.link.client.mqtt_link` (paho, a real broker); logic tests pass
:meth:`antre.broker.link.memory.MemoryBus.factory`, an in-process broker, so an agent's
or a lobby's rules can be tested without a broker or a central process (broker-backed
tests stay for what only a broker proves).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class TlsSettings:
    cafile: str
    certfile: str | None = None
    keyfile: str | None = None


@dataclass(frozen=True)
class BrokerAddress:
    """Where and as whom to connect."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never logged
    tls: TlsSettings | None = None
    keepalive: int = 15


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True)
class Received:
    """A message as the link hands it to its owner."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    dup: bool


MessageHandler = Callable[[Received], None]


@dataclass(frozen=True)
class LinkSpec:
    """A connection as a component wants it: who it is, what it reads, its will, its handlers.

    The client id is always the username (see :mod:`antre.broker.admin.acl`).
    ``on_message`` runs on the link's thread (or, with :meth:`Link.run_inline`, the
    caller's): keep it short.  With ``manual_ack`` QoS 1 messages are acknowledged only
    by :meth:`Link.ack`; with ``clean_session=False`` the broker keeps what was not.
    """

    address: BrokerAddress
    subscriptions: Sequence[tuple[str, int]] = ()
    on_message: MessageHandler | None = None
    on_connect: Callable[[], None] | None = None
    on_disconnect: Callable[[str], None] | None = None
    on_subscribed: Callable[[int], None] | None = None
    will: Will | None = None
    clean_session: bool = True
    manual_ack: bool = False


class Link(Protocol):
    """A self-healing connection to the site's broker (see :class:`LinkSpec`)."""

    address: BrokerAddress
    #: set while connected; cleared as soon as the connection is known to be lost
    connected: threading.Event
    #: the broker's reason the last time it refused the connection (None once accepted)
    refused: str | None
    #: this end's IP address on the connection to the broker (None before the first connect, or
    #: off the network): the address a technician reaches the device at, reported in its health
    local_ip: str | None

    def start(self) -> None:
        """Connect in the background; reconnect by itself until :meth:`stop`."""

    def stop(self, final: Sequence[tuple[str, bytes, bool]] = (), timeout: float = 5.0) -> None:
        """Publish ``final`` (topic, payload, retain) at QoS 1, then disconnect cleanly (no will)."""

    def run_inline(self, stop: threading.Event, on_idle: Callable[[], None], poll: float = 0.25) -> None:
        """Run the connection in the calling thread until ``stop``: handlers run here, then ``on_idle``."""

    def close_inline(self, final: Sequence[tuple[str, bytes, bool]] = (), timeout: float = 5.0) -> None:
        """The end of :meth:`run_inline`: publish ``final``, then disconnect."""

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> object:
        """Queue a message; sent now or after the next reconnect."""

    def ack(self, message: Received) -> None:
        """Acknowledge a QoS 1 message received with ``manual_ack``."""

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe now and after every reconnect."""

    def subscribe_now(self, topic: str, qos: int = 1) -> int:
        """One subscription on the current connection; returns the id ``on_subscribed`` gets."""


LinkFactory = Callable[[LinkSpec], Link]
