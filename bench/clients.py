"""Benchmark clients: a thread-free paho client and a minimal asyncio MQTT 3.1.1 client.

:class:`InlineClient` drives paho's loop in the calling thread, so a publish
is written to the socket at once and a reply is read without a thread hop:
the lowest latency a Python client can reach, used for the floor and for the
simulated gerai alike, so both sides of the comparison pay the same client
cost.  :func:`idle_gerai` is a bare-bones asyncio client (CONNECT, SUBSCRIBE,
QoS 0 PUBLISH, PINGREQ) for holding thousands of idle connections in one
process, which paho's thread per client cannot.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from antre.broker.link.client import encode_remaining_length


class InlineClient:
    """A paho client whose network loop runs in the caller's thread."""

    def __init__(self, host: str, port: int, username: str, password: str,
                 subscriptions: list[str] = ()) -> None:  # type: ignore[assignment]
        self.messages: list[tuple[str, bytes, float]] = []
        self.on_message: Callable[[str, bytes], None] | None = None
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username, protocol=mqtt.MQTTv311)  # id = username
        c.username_pw_set(username, password)
        c.on_socket_open = lambda client, userdata, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.on_message = self._message
        c.max_inflight_messages_set(10000)
        self._subscribed = False
        c.on_subscribe = lambda *a: setattr(self, "_subscribed", True)
        self.c = c
        c.connect(host, port, keepalive=60)
        self.wait(lambda: c.is_connected(), 10)
        if subscriptions:
            c.subscribe([(t, 1) for t in subscriptions])
            self.wait(lambda: self._subscribed, 10)

    def _message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.messages.append((msg.topic, bytes(msg.payload), time.perf_counter()))
        if self.on_message is not None:
            self.on_message(msg.topic, bytes(msg.payload))

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.c.publish(topic, payload, qos=qos, retain=retain)

    def pump(self, timeout: float = 0.0) -> None:
        rc = self.c.loop(timeout=timeout)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"benchmark client lost the broker: {rc}")

    def wait(self, condition: Callable[[], object], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("benchmark condition not met in time")
            rc = self.c.loop(timeout=0.05)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                raise RuntimeError(f"benchmark client lost the broker: {rc}")

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop(timeout=0.05)


# ---------------------------------------------------------------- raw MQTT


_varint = encode_remaining_length  # (the link's own encoder)


def _str(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def connect_packet(client_id: str, username: str, password: str, will_topic: str, will: bytes,
                   keepalive: int) -> bytes:
    flags = 0x80 | 0x40 | 0x20 | 0x04 | 0x02  # user, password, will retain, will, clean session (QoS 0 will)
    body = _str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive)
    body += _str(client_id) + _str(will_topic) + _str(will) + _str(username) + _str(password)
    return bytes([0x10]) + _varint(len(body)) + body


def publish_packet(topic: str, payload: bytes, retain: bool = False) -> bytes:
    body = _str(topic) + payload
    return bytes([0x30 | (1 if retain else 0)]) + _varint(len(body)) + body


def subscribe_packet(packet_id: int, topics: list[str]) -> bytes:
    body = struct.pack("!H", packet_id) + b"".join(_str(t) + b"\x00" for t in topics)  # QoS 0: nothing to ack
    return bytes([0x82]) + _varint(len(body)) + body


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    mult, length = 1, 0
    while True:
        b = (await reader.readexactly(1))[0]
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return first, await reader.readexactly(length)


async def idle_gerai(host: str, port: int, site: str, gerai: str, password: str, health_every: float,
                     stop: asyncio.Event, connected: Callable[[], None]) -> int:
    """One idle gerai: connect, subscribe to its topics, report health periodically."""
    reader, writer = await asyncio.open_connection(host, port)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    base = f"antre/v1/{site}/gerai/{gerai}"
    offline = (b'{"kind":"presence","v":1,"role":"gerai","device":"%s","online":false}' % gerai.encode())
    writer.write(connect_packet(f"gerai.{gerai}", f"gerai.{gerai}", password, f"{base}/presence", offline, 60))
    kind, body = await _read_packet(reader)
    if kind != 0x20 or body[1] != 0:
        raise RuntimeError(f"{gerai}: CONNACK {body!r}")
    writer.write(subscribe_packet(1, [f"{base}/state", f"{base}/print", f"{base}/reply"]))
    online = (b'{"kind":"presence","v":1,"role":"gerai","device":"%s","online":true}' % gerai.encode())
    writer.write(publish_packet(f"{base}/presence", online, retain=True))
    connected()

    async def drain() -> None:
        while True:  # states, replies, PINGRESPs: read and drop
            await _read_packet(reader)

    reading = asyncio.ensure_future(drain())
    sent = 0
    started = time.time()
    try:
        await asyncio.sleep(random.uniform(0, health_every))  # spread the fleet's reports evenly
        while not stop.is_set():
            health = (
                b'{"kind":"health","v":1,"role":"gerai","device":"%s","version":"bench","uptime_s":%.1f,'
                b'"ts":%.3f,"printer":"ok","display":"ok","buttons":"ok"}' % (gerai.encode(), time.time() - started,
                                                                            time.time())
            )
            writer.write(publish_packet(f"{base}/health", health))
            writer.write(b"\xc0\x00")  # PINGREQ keeps the session alive
            sent += 1
            try:
                await asyncio.wait_for(stop.wait(), timeout=health_every)
            except asyncio.TimeoutError:
                pass
    finally:
        reading.cancel()
        writer.write(b"\xe0\x00")  # DISCONNECT
        writer.close()
    return sent
