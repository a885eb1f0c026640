"""The console on MQTT: one connection as ``console.<id>`` that reads the site and sends actions.

What arrives (on paho's thread) is handed to the asyncio loop of the web server, which owns
the :class:`~antre.console.live.LiveSite`.  An action is a ``console_cmd`` on the console's own
``cmd`` channel, resent unchanged until its reply arrives (as a device does: the central applies
an id once), stamped with the central's clock as the console estimates it from ``ping``
round trips (:class:`~antre.broker.link.clock.LinkClock`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

from antre import __version__
from antre.broker.link.base import BrokerAddress, LinkFactory, LinkSpec, Received, Will
from antre.broker.link.client import mqtt_link
from antre.broker.link.clock import LinkClock
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.codec import ProtocolError
from antre.broker.wire.topics import Channel, Role, Topics

log = logging.getLogger(__name__)

#: how long the console waits for the central's answer to an action (seconds)
REPLY_TIMEOUT = 5.0
RESEND_EVERY = 1.0
PING_EVERY = 30.0


class NoReply(Exception):
    """The central did not answer in time (it or the broker is down)."""


class ConsoleLink:
    """The console's connection (see the module docstring).  ``on_message(topic, payload)`` and
    ``on_connection(connected)`` run on the asyncio loop."""

    def __init__(self, address: BrokerAddress, site: str, console_id: str,
                 subscriptions: list[tuple[str, int]],
                 on_message: Callable[[str, bytes], None], on_connection: Callable[[bool], None],
                 *, link_factory: LinkFactory = mqtt_link) -> None:
        self.topics = Topics(site)
        self.console_id = console_id
        self.cmd_topic = self.topics.device(Role.CONSOLE, console_id, Channel.CMD)
        self.reply_topic = self.topics.device(Role.CONSOLE, console_id, Channel.REPLY)
        self.presence_topic = self.topics.device(Role.CONSOLE, console_id, Channel.PRESENCE)
        self.clock = LinkClock()
        self._on_message = on_message
        self._on_connection = on_connection
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[str, asyncio.Future[m.Reply]] = {}
        self._boot = secrets.token_hex(4)
        self._pings = 0
        offline = codec.encode(m.Presence(role="console", device=console_id, online=False, version=__version__))
        self.link = link_factory(LinkSpec(
            address, subscriptions=[*subscriptions, (self.reply_topic, 1)], on_message=self._received,
            on_connect=self._connected, on_disconnect=lambda _reason: self._call(self._on_connection, False),
            will=Will(self.presence_topic, offline),
        ))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.link.start()

    def stop(self) -> None:
        offline = codec.encode(m.Presence(role="console", device=self.console_id, online=False,
                                          version=__version__, ts=self.clock.now()))
        self.link.stop(final=[(self.presence_topic, offline, True)])

    @property
    def connected(self) -> bool:
        return self.link.connected.is_set()

    # ------------------------------------------------------------------ paho's thread

    def _call(self, fn: Callable[..., None], *args: object) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:  # the loop closed meanwhile (shutting down)
                pass

    def _connected(self) -> None:
        self.renew_presence()
        self.ping()
        self._call(self._on_connection, True)

    def renew_presence(self) -> None:
        """Publish the console's retained presence (online, stamped now): renewed every few seconds, so
        a second console started with this id sees a live one (:func:`probe_console`) and stays off."""
        presence = m.Presence(role="console", device=self.console_id, online=True, version=__version__,
                              ts=self.clock.now())
        self.link.publish(self.presence_topic, codec.encode(presence), qos=1, retain=True)

    def _received(self, msg: Received) -> None:
        if msg.topic == self.reply_topic:
            try:
                reply = codec.decode(msg.payload, Channel.REPLY, m.Reply)
            except ProtocolError as exc:
                log.warning("ignored an invalid reply: %s", exc)
                return
            if reply.code == m.ResultCode.PONG and self.clock.is_ping(reply.cmd):
                self.clock.pong(reply.cmd, reply.ts)
                return
            self._call(self._answer, reply)
            return
        self._call(self._on_message, msg.topic, msg.payload)

    # ------------------------------------------------------------------ the loop's side

    def ping(self) -> None:
        self._pings += 1
        cid = f"cping-{self._boot}-{self._pings:06d}"
        self.clock.ping_sent(cid)
        self.link.publish(self.cmd_topic, codec.encode(m.Ping(id=cid, ts=self.clock.now())), qos=0)

    def _answer(self, reply: m.Reply) -> None:
        future = self._waiting.get(reply.cmd)
        if future is not None and not future.done():
            future.set_result(reply)

    async def send(self, user: str, user_role: str, gerai: str | None, action: m.ConsoleAction,
                   cmd_id: str) -> m.Reply:
        """Send one person's action and wait for the central's reply (resent until answered)."""
        ts = self.clock.now()
        command = m.ConsoleCommand(id=cmd_id, ts=ts, user=user, user_role=user_role,  # type: ignore[arg-type]
                                   gerai=gerai, command=action)
        return await self.request(command)

    async def request(self, command: m.AnyCommand) -> m.Reply:
        """Send a command of the console's own (a ``console_cmd``, a citizen's ``survey_answer``) and
        wait for the central's reply, resending it unchanged until answered; :class:`NoReply` after
        :data:`REPLY_TIMEOUT`."""
        cmd_id = command.id
        payload = codec.encode(command)
        loop = asyncio.get_running_loop()
        future = self._waiting.get(cmd_id)
        if future is None or future.done():
            future = loop.create_future()
            self._waiting[cmd_id] = future
        deadline = time.monotonic() + REPLY_TIMEOUT
        try:
            while True:
                if self.connected:
                    self.link.publish(self.cmd_topic, payload, qos=1)
                wait = min(RESEND_EVERY, deadline - time.monotonic())
                if wait <= 0:
                    raise NoReply(f"no answer from the central to {cmd_id} within {REPLY_TIMEOUT:.0f} s")
                try:
                    return await asyncio.wait_for(asyncio.shield(future), wait)
                except TimeoutError:
                    continue
        finally:
            self._waiting.pop(cmd_id, None)


def probe_console(address: BrokerAddress, site: str, console_id: str, *, wait_renewal: float,
                  connect_timeout: float = 10.0, link_factory: LinkFactory = mqtt_link) -> m.Presence | None:
    """Is another console serving as ``console.<console_id>``?  Reads its retained presence as
    ``address`` (a read-only identity: connecting as the console itself would take the other's
    connection) and, when it says online, watches up to ``wait_renewal`` seconds for it to be renewed.
    Returns the live console's presence, or None (none, offline, or not renewed: a console that died
    without its will).  Raises :class:`NoReply` when the broker cannot be reached in time."""
    import queue
    import threading

    topics = Topics(site)
    topic = topics.device(Role.CONSOLE, console_id, Channel.PRESENCE)
    barrier = f"{topics.prefix}/console/{console_id}/probe-barrier"
    inbox: queue.Queue[Received] = queue.Queue()
    done = threading.Event()
    subscribed: dict[str, int] = {}

    def connected() -> None:
        # two SUBSCRIBEs: the retained presence comes before the second SUBACK ("nothing more retained")
        subscribed["presence"] = link.subscribe_now(topic, 1)
        subscribed["barrier"] = link.subscribe_now(barrier, 0)

    def on_sub(mid: int) -> None:
        if mid == subscribed.get("barrier"):
            done.set()

    link = link_factory(LinkSpec(address, on_message=inbox.put, on_connect=connected, on_subscribed=on_sub))
    link.start()
    try:
        if not done.wait(connect_timeout):
            raise NoReply(f"no broker at {address.host}:{address.port} within {connect_timeout:.0f} s "
                          f"({link.refused or 'no answer'})")
        seen: m.Presence | None = None
        while not inbox.empty():
            seen = _presence(inbox.get_nowait()) or seen
        if seen is None or not seen.online:
            return None
        deadline = time.monotonic() + wait_renewal
        while (left := deadline - time.monotonic()) > 0:
            try:
                fresh = _presence(inbox.get(timeout=left))
            except queue.Empty:
                break
            if fresh is None:
                continue
            if not fresh.online:
                return None
            if fresh.ts != seen.ts:
                return fresh
        log.warning("console.%s was left online by a console that is gone (not renewed in %.0f s): starting",
                    console_id, wait_renewal)
        return None
    finally:
        link.stop()


def _presence(msg: Received) -> m.Presence | None:
    if not msg.payload:
        return None
    try:
        return codec.decode(msg.payload, Channel.PRESENCE, m.Presence)
    except ProtocolError:
        return None
