"""The link's lean paths (broker/link/client.py): PUBLISH and PUBACK read straight from the read
buffer, and publishes built without paho's per-message objects.

Three levels: a byte stream split at every kind of boundary through a real socket pair (the
reader must deliver exactly what paho's own reader would, whatever the reads bring); garbage
from the peer (a protocol error, never an exception); and a real Mosquitto with a TCP proxy
that drops the link while lean QoS 1 messages are unacknowledged (paho resends them, each
arrives, and the link's bookkeeping ends empty).
"""

from __future__ import annotations

import dataclasses
import random
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from antre.broker.admin.acl import Identity
from antre.broker.link.client import (MqttLink, Received, _CoalescingClient, encode_remaining_length,
                                      remaining_length)
from antre.broker.wire.topics import Channel, Role, Topics
from antre.sim.faults import TcpProxy, via_port
from bench.clients import _varint
from tests.harness import BrokerProc, Site, free_port, require_mosquitto, wait_for

Message = tuple[str, bytes, int, bool, int, bool]  # topic, payload, qos, retain, mid, dup


def publish_packet(msg: Message) -> bytes:
    topic, payload, qos, retain, mid, dup = msg
    t = topic.encode()
    body = len(t).to_bytes(2, "big") + t + (mid.to_bytes(2, "big") if qos else b"") + payload
    return bytes([0x30 | (dup << 3) | (qos << 1) | retain]) + _varint(len(body)) + body


class Pair:
    """A :class:`_CoalescingClient` on one end of a socket pair; the test is the broker on the other."""

    def __init__(self, *, manual_ack: bool, lean: bool = True) -> None:
        self.client = _CoalescingClient(CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv311,
                                        manual_ack=manual_ack)
        self.delivered: list[Message] = []  # in the order of delivery, by either reader
        self.lean: list[Message] = []  # those the lean reader delivered
        self.client.on_message = lambda c, u, msg: self.delivered.append(
            (msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), msg.mid, bool(msg.dup)))
        if lean:
            self.client.lean_message = self._lean

        self.ours, self.broker = socket.socketpair()
        self.ours.setblocking(False)
        self.broker.setblocking(False)
        self.client._sock = self.ours  # type: ignore[assignment]

    def _lean(self, *msg: object) -> None:
        self.delivered.append(msg)  # type: ignore[arg-type]
        self.lean.append(msg)  # type: ignore[arg-type]

    def feed(self, data: bytes) -> MQTTErrorCode:
        """Send ``data`` as the broker and let the client read until it has taken everything."""
        rest = memoryview(data)
        rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self.client._sock is not None:
            if rest:  # what the socket takes now (a large packet fills its buffer: read in between)
                _, writable, _ = select.select([], [self.broker], [], 0)
                if writable:
                    rest = rest[self.broker.send(rest[:65536]):]
            ready, _, _ = select.select([self.ours], [], [], 0)
            if not ready and not self.client._buffered():
                if not rest:
                    break
                continue
            rc = self.client.loop_read()
        return rc

    def from_client(self) -> bytes:
        chunks = []
        while select.select([self.broker], [], [], 0)[0]:
            chunks.append(self.broker.recv(65536))  # (readable: never blocks)
        return b"".join(chunks)

    def close(self) -> None:
        self.ours.close()
        self.broker.close()


@pytest.fixture
def pair() -> Iterator[Pair]:
    p = Pair(manual_ack=True)
    yield p
    p.close()


TOPICS = st.sampled_from(["antre/v1/s/gerai/g1/cmd", "antre/v1/s/kiosk/k-1/cmd", "a", "ü/ñ/东"])
SIZES = st.one_of(st.integers(0, 300), st.sampled_from([127, 128, 16383, 16384, 65531, 65536, 70000, 200000]))
MESSAGES = st.lists(
    st.tuples(TOPICS, SIZES, st.integers(0, 1), st.booleans(), st.integers(1, 65535), st.booleans()),
    min_size=1, max_size=25)


def _messages(raw: list[tuple[str, int, int, bool, int, bool]], seed: int) -> list[Message]:
    rng = random.Random(seed)
    return [(t, rng.randbytes(n), q, r, mid if q else 0, d and bool(q)) for t, n, q, r, mid, d in raw]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=MESSAGES, cuts=st.lists(st.integers(1, 80000), max_size=12), seed=st.integers(0, 2**32))
def test_every_publish_arrives_whole_whatever_the_reads_bring(raw: list[tuple[str, int, int, bool, int, bool]],
                                                               cuts: list[int], seed: int) -> None:
    """A stream of PUBLISH packets cut at arbitrary points (inside a fixed header, a topic, a
    length, a payload, across 64 KiB reads) is delivered exactly, in order, once each: whole
    packets by the lean reader, split ones by paho's, both from the same buffer."""
    messages = _messages(raw, seed)
    stream = b"".join(publish_packet(msg) for msg in messages)
    p = Pair(manual_ack=True)
    try:
        at = 0
        for cut in sorted(set(cuts)):
            if at < cut < len(stream):
                assert p.feed(stream[at:cut]) == MQTTErrorCode.MQTT_ERR_SUCCESS
                at = cut
        assert p.feed(stream[at:]) == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert p.delivered == messages
        assert p.from_client() == b""  # manual_ack: nothing acknowledged by the reader
    finally:
        p.close()


def test_a_burst_is_read_by_the_lean_reader_and_equals_pahos_reading() -> None:
    messages = _messages([("antre/v1/s/gerai/g%d/cmd" % i, 90, i % 2, False, i + 1, False) for i in range(500)], 7)
    stream = b"".join(publish_packet(msg) for msg in messages)
    lean, plain = Pair(manual_ack=True), Pair(manual_ack=True, lean=False)
    try:
        for p in (lean, plain):
            for start in range(0, len(stream), 8192):
                p.feed(stream[start:start + 8192])
        assert lean.delivered == plain.delivered == messages
        assert len(lean.lean) > 450  # the few split at 8 KiB boundaries went through paho's reader
        assert plain.lean == []
    finally:
        lean.close()
        plain.close()


def test_without_manual_ack_each_qos1_publish_is_acknowledged_once() -> None:
    p = Pair(manual_ack=False)
    try:
        messages = _messages([("t/x", 10, 1, False, mid, False) for mid in (1, 2, 300, 65535)]
                             + [("t/y", 5, 0, False, 0, False)], 3)
        p.feed(b"".join(publish_packet(msg) for msg in messages))
        assert p.delivered == messages
        assert p.from_client() == b"".join(b"\x40\x02" + mid.to_bytes(2, "big") for mid in (1, 2, 300, 65535))
    finally:
        p.close()


def test_a_topic_of_invalid_utf8_is_dropped_and_acknowledged_not_raised(pair: Pair) -> None:
    bad = b"\x00\x03a\xffb" + (9).to_bytes(2, "big") + b"payload"
    good = publish_packet(("ok", b"x", 1, False, 10, False))
    assert pair.feed(bytes([0x32]) + _varint(len(bad)) + bad + good) == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert pair.delivered == [("ok", b"x", 1, False, 10, False)]
    assert pair.from_client() == b"\x40\x02\x00\x09"  # nobody can ever take it: acknowledged, not redelivered


def test_a_puback_releases_a_lean_publish_and_an_unknown_one_is_ignored(pair: Pair) -> None:
    client = pair.client
    first = client.publish_lean("t/a", b"one", qos=1)
    second = client.publish_lean("t/b", b"two", qos=1, retain=True)
    quick = client.publish_lean("t/c", b"three", qos=0)
    assert client._inflight_messages == 2 and set(client._out_messages) == {first.mid, second.mid}
    sent = pair.from_client()
    assert publish_packet(("t/a", b"one", 1, False, first.mid, False)) in sent
    assert publish_packet(("t/b", b"two", 1, True, second.mid, False)) in sent
    assert publish_packet(("t/c", b"three", 0, False, 0, False)) in sent
    assert quick.is_published() and not first.is_published()
    assert pair.feed(b"\x40\x02" + first.mid.to_bytes(2, "big") + b"\x40\x02\xbe\xef") == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert first.is_published() and not second.is_published()
    assert list(client._out_messages) == [second.mid] and client._inflight_messages == 1
    waiter = threading.Thread(target=second.wait_for_publish, args=(10,))
    waiter.start()
    pair.feed(b"\x40\x02" + second.mid.to_bytes(2, "big"))
    waiter.join(10)
    assert not waiter.is_alive() and second.is_published() and client._out_messages == {}


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(min_size=1, max_size=400), manual_ack=st.booleans())
def test_garbage_from_the_peer_is_a_protocol_error_never_an_exception(garbage: bytes, manual_ack: bool) -> None:
    p = Pair(manual_ack=manual_ack)
    try:
        rc = p.feed(garbage + publish_packet(("t", b"after", 0, False, 0, False)))
        assert isinstance(rc, MQTTErrorCode)
    finally:
        p.close()


@settings(max_examples=200, deadline=None)
@given(header=st.sampled_from([0x30, 0x32, 0x3B, 0x40, 0x34]), body=st.binary(max_size=6))
def test_short_and_malformed_publish_or_puback_never_raise(header: int, body: bytes) -> None:
    """Lengths shorter than a topic length, a topic longer than its packet, QoS 2, a PUBACK of the
    wrong size: each falls to paho's reader, which answers with an error code."""
    p = Pair(manual_ack=True)
    try:
        rc = p.feed(bytes([header]) + _varint(len(body)) + body)
        assert isinstance(rc, MQTTErrorCode)
    finally:
        p.close()


@given(st.integers(0, 268_435_455), st.binary(max_size=8))
def test_the_remaining_length_round_trips_and_a_cut_or_overlong_one_is_none(n: int, tail: bytes) -> None:
    encoded = encode_remaining_length(n)
    assert 1 <= len(encoded) <= 4
    assert remaining_length(b"\x30" + encoded + tail, 1) == (n, 1 + len(encoded))
    assert remaining_length(b"\x30" + encoded[:-1], 1) is None  # the rest has not arrived
    assert remaining_length(b"\x30\xff\xff\xff\xff" + encoded, 1) is None  # five bytes: malformed


# ------------------------------------------------------------ real broker


def test_lean_qos1_publishes_survive_a_dropped_link_and_arrive(tmp_path: Path) -> None:
    """2,000 lean QoS 1 publishes unacknowledged when the link drops, and 2,000 more published while
    it is down, are sent by paho after the reconnect: every one arrives, and nothing is left in flight."""
    require_mosquitto()
    site = Site(tmp_path, free_port())
    broker = BrokerProc("mosquitto", site)
    broker.start()
    topic = Topics("test").gerai("g1", Channel.HEALTH)
    seen: list[bytes] = []
    lock = threading.Lock()

    def on_message(msg: Received) -> None:
        with lock:
            seen.append(msg.payload)

    subscribed = threading.Event()
    watcher = MqttLink(site.address(Identity(Role.MONITOR, "t1")), subscriptions=[(topic, 1)],
                       on_message=on_message, on_subscribed=lambda mid: subscribed.set())
    watcher.start()
    try:
        with TcpProxy("127.0.0.1", site.port, name="lean") as proxy:
            gerai = MqttLink(via_port(site, proxy.port).address(Identity(Role.GERAI, "g1")))
            gerai.start()
            try:
                assert watcher.wait_connected(10) and subscribed.wait(10) and gerai.wait_connected(10)
                proxy.hang()
                held = [gerai.publish(topic, b"held-%d" % i) for i in range(2000)]  # (lean, QoS 1)
                proxy.wait_for(lambda s: s.held_up > 0, 5, "publishes held in the frozen link")
                proxy.drop()
                wait_for(lambda: not gerai.connected.is_set(), 10, "the link notices the drop")
                for i in range(2000):  # queued while down (paho's info says "not connected"): sent after the connect
                    gerai.publish(topic, b"down-%d" % i)
                proxy.resume()
                assert gerai.wait_connected(20)
                for info in held:
                    info.wait_for_publish(20)
                expected = {b"held-%d" % i for i in range(2000)} | {b"down-%d" % i for i in range(2000)}
                wait_for(lambda: expected <= set(seen), 20, "every publish arrives")
                # (the watcher may have the last ones before their PUBACKs reached the publisher)
                client = gerai._client
                wait_for(lambda: client._out_messages == {} and client._inflight_messages == 0, 10,
                         "every publish released by its PUBACK, nothing left in flight")
            finally:
                gerai.stop()
    finally:
        watcher.stop()
        broker.stop()


def _payload(thread: int, k: int) -> bytes:
    """What thread ``thread`` publishes as its ``k``-th message: small, a few straddling the 64 KiB
    read of the reader, one of 1.5 MB; the prefix names it, the rest is derived from the prefix."""
    prefix = b"%d-%d|" % (thread, k)
    if thread == 0 and k == 777:
        size = 1_500_000
    elif k % 500 == 250:
        size = 65_536 - 40 + (k // 500) % 80  # around the reader's 64 KiB recv
    else:
        size = k % 200
    return prefix + (prefix * (size // len(prefix) + 1))[:size]


def test_threads_publishing_past_the_message_ids_and_huge_payloads_arrive_exactly_once(tmp_path: Path) -> None:
    """The devices' mode: four threads publish lean QoS 1 messages on one link while its network thread
    reads and writes.  70,000 messages (past the 65,535 message ids, so ids are reused while others are
    in flight), some straddling the reader's 64 KiB recv and one of 1.5 MB, through real Mosquitto to a
    lean reader.  Mosquitto drops a connection on any malformed packet, so interleaved writes would
    show as a disconnect: none happens, every message arrives intact exactly once, every publish
    completes, nothing is left in flight."""
    require_mosquitto()
    site = Site(tmp_path, free_port())
    broker = BrokerProc("mosquitto", site)
    broker.start()
    topic = Topics("test").gerai("g1", Channel.HEALTH)
    threads, per_thread = 4, 17_500
    seen: dict[bytes, int] = {}
    bad: list[bytes] = []
    disconnects: list[str] = []
    cond = threading.Condition()

    def on_message(msg: Received) -> None:
        prefix = msg.payload[:msg.payload.index(b"|") + 1] if b"|" in msg.payload else b""
        key = prefix[:-1]
        with cond:
            try:
                t, k = (int(x) for x in key.split(b"-"))
                intact = msg.payload == _payload(t, k)
            except ValueError:
                intact = False
            if not intact:
                bad.append(msg.payload[:40])
            seen[key] = seen.get(key, 0) + 1
            cond.notify_all()

    subscribed = threading.Event()
    watcher = MqttLink(site.address(Identity(Role.MONITOR, "t1")), subscriptions=[(topic, 1)],
                       on_message=on_message, on_subscribed=lambda mid: subscribed.set(),
                       on_disconnect=disconnects.append)
    gerai = MqttLink(site.address(Identity(Role.GERAI, "g1")), on_disconnect=disconnects.append)
    watcher.start()
    gerai.start()
    infos: list[list[mqtt.MQTTMessageInfo]] = [[] for _ in range(threads)]
    failures: list[BaseException] = []

    def publisher(t: int) -> None:
        try:
            for k in range(per_thread):
                infos[t].append(gerai.publish(topic, _payload(t, k)))
                if k % 500 == 499:  # Mosquitto queues 10,000 messages per client: the reader keeps up
                    with cond:
                        assert cond.wait_for(lambda: len(seen) >= (k + 1) * threads - 6_000, 30), "the reader stalled"
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    try:
        assert watcher.wait_connected(10) and subscribed.wait(10) and gerai.wait_connected(10)
        workers = [threading.Thread(target=publisher, args=(t,), name=f"publisher-{t}") for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        assert not failures, failures
        total = threads * per_thread
        assert total > 65_535
        for t in range(threads):
            for info in infos[t]:
                info.wait_for_publish(30)
        with cond:
            assert cond.wait_for(lambda: len(seen) >= total, 60), f"{len(seen)} of {total} arrived"
        assert not bad, bad[:5]
        assert set(seen) == {b"%d-%d" % (t, k) for t in range(threads) for k in range(per_thread)}
        assert set(seen.values()) == {1}, "a message arrived twice without a reconnect"
        assert disconnects == [], disconnects
        client = gerai._client
        wait_for(lambda: client._out_messages == {} and client._inflight_messages == 0 and not client._out_packet,
                 10, "nothing left in flight or queued")
        assert client._last_mid == (total - 1) % 65_535 + 1, "the message ids wrapped around"
    finally:
        gerai.stop()
        watcher.stop()
        broker.stop()


def test_keepalive_holds_while_only_lean_packets_arrive_and_a_hung_broker_is_noticed(tmp_path: Path) -> None:
    """A reader with a 1 s keepalive that only receives (every packet a lean QoS 0 PUBLISH, nothing of
    its own to send) stays connected through several keepalive periods: what the lean reader reads counts
    as traffic, and paho's pings are answered.  When the link then hangs, the reader notices it (within
    ten keepalive periods here), not never."""
    require_mosquitto()
    site = Site(tmp_path, free_port())
    broker = BrokerProc("mosquitto", site)
    broker.start()
    topic = Topics("test").gerai("g1", Channel.HEALTH)
    seen: list[bytes] = []
    disconnects: list[str] = []
    subscribed = threading.Event()
    try:
        with TcpProxy("127.0.0.1", site.port, name="keepalive") as proxy:
            address = dataclasses.replace(via_port(site, proxy.port).address(Identity(Role.MONITOR, "t1")),
                                          keepalive=1)
            reader = MqttLink(address, subscriptions=[(topic, 0)], on_message=lambda msg: seen.append(msg.payload),
                              on_subscribed=lambda mid: subscribed.set(), on_disconnect=disconnects.append)
            gerai = MqttLink(site.address(Identity(Role.GERAI, "g1")))
            reader.start()
            gerai.start()
            try:
                assert reader.wait_connected(10) and subscribed.wait(10) and gerai.wait_connected(10)
                pace = threading.Event()  # never set: its wait() paces the stream
                started = time.monotonic()
                sent = 0
                while time.monotonic() - started < 3.5:  # three and a half keepalive periods
                    gerai.publish(topic, b"tick-%d" % sent, qos=0)
                    sent += 1
                    pace.wait(0.02)
                wait_for(lambda: len(seen) == sent, 10, "every tick read")
                assert disconnects == [] and reader.connected.is_set(), disconnects
                proxy.hang()
                wait_for(lambda: not reader.connected.is_set(), 10, "the reader notices the hung link")
                assert disconnects, "the disconnect was reported"
            finally:
                gerai.stop()
                reader.stop()
    finally:
        broker.stop()
