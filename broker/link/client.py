"""One MQTT 3.1.1 connection, tuned for latency and for unattended use.

:class:`MqttLink` wraps a paho-mqtt client with what every antre process
needs: MQTT 3.1.1 (umqtt and amqtt speak nothing newer), ``TCP_NODELAY`` on
the socket (Nagle's algorithm costs tens of milliseconds on small packets),
a last will, automatic reconnection with exponential backoff, subscriptions
renewed on every connect, optional TLS, and optional manual acknowledgement
of received QoS 1 messages so a receiver can acknowledge only what it has
durably committed.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from antre.broker.link.base import (
    BrokerAddress,
    Link,
    LinkSpec,
    MessageHandler,
    Received,
    TlsSettings,
    Will,
)

log = logging.getLogger(__name__)


class _QuietAfterDisconnect(logging.Filter):
    """paho 2.2 logs an ERROR from its network loop after every clean disconnect."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Client is not connected.")


_paho_log = logging.getLogger(f"{__name__}.paho")
_paho_log.addFilter(_QuietAfterDisconnect())


__all__ = ["BrokerAddress", "Link", "LinkSpec", "MqttLink", "Received", "TlsSettings", "Will", "mqtt_link"]


#: the most bytes one read takes from the socket (what paho asks for beyond a packet stays buffered)
READ_CHUNK = 65536


def remaining_length(buf: bytes | bytearray, start: int) -> tuple[int, int] | None:
    """The MQTT remaining length encoded from ``buf[start]`` (one to four bytes of seven bits, the
    lowest first): ``(length, the index after it)``; None when ``buf`` ends first or the encoding runs
    past four bytes (malformed)."""
    length, mult, i, end = 0, 1, start, len(buf)
    while i < end and i < start + 4:
        byte = buf[i]
        length += (byte & 0x7F) * mult
        mult *= 128
        i += 1
        if not byte & 0x80:
            return length, i
    return None


def encode_remaining_length(n: int) -> bytes:
    """``n`` (0 to 268,435,455) as an MQTT remaining length."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


class _CoalescingClient(mqtt.Client):
    """paho's client, writing every packet queued since the last write in one ``send``.

    paho writes each packet with its own ``send`` (and, to wake its network thread,
    one more byte into a socket pair), so a batch of N replies costs 2N system calls
    and N TCP segments.  While :attr:`inline` is set (the single-threaded server loop
    of :meth:`MqttLink.run_inline` is publishing a batch) packets are only queued;
    :meth:`_packet_write` then sends everything queued as one buffer and completes
    each packet that was written whole exactly as paho does.  Outside inline mode
    queued packets are written at once, as by paho (the device mode).
    """

    inline = False
    #: where a received MQTT 3.1.1 PUBLISH (QoS 0 or 1) goes without paho's per-message objects:
    #: ``(topic, payload, qos, retain, mid, dup)``; None: paho's own ``on_message`` path
    lean_message: Callable[[str, bytes, int, bool, int, bool], None] | None = None
    #: the socket :attr:`_rbuf` was read from (another one after a reconnect: the buffer starts empty)
    _rsock: Any = None
    _rbuf: bytes = b""
    _rpos = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lean_condition = threading.Condition()

    # --- reading: one recv per burst, not three per packet

    def _sock_recv(self, bufsize: int) -> bytes:
        """paho reads a packet as three exact reads (its type, its length, the rest): here each is a
        slice of what one ``recv`` of up to :data:`READ_CHUNK` bytes brought, so a burst of commands costs
        one system call, not three per command.  :meth:`loop_read` drains what is buffered (a select on
        the socket would not see it)."""
        sock = self._sock
        if sock is None:
            raise ConnectionError("self._sock is None")
        if sock is not self._rsock:  # a new connection: nothing of the old one is kept
            self._rsock, self._rbuf, self._rpos = sock, b"", 0
        if self._rpos >= len(self._rbuf):
            try:
                data = sock.recv(max(bufsize, READ_CHUNK))
            except ssl.SSLWantReadError as err:
                raise BlockingIOError() from err
            except ssl.SSLWantWriteError as err:
                self._call_socket_register_write()
                raise BlockingIOError() from err
            if len(data) <= bufsize:  # (b"" included: the broker closed the connection)
                return data
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = end = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start:end]

    def _fill(self) -> MQTTErrorCode | None:
        """One ``recv`` into the read buffer (when it is empty); an error code if none could be made."""
        sock = self._sock
        if sock is None:
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        try:
            data = sock.recv(READ_CHUNK)
        except (BlockingIOError, ssl.SSLWantReadError):
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except ssl.SSLWantWriteError:
            self._call_socket_register_write()
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as err:
            self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not data:
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        self._rsock, self._rbuf, self._rpos = sock, data, 0
        return None

    def _packet_read(self) -> MQTTErrorCode:
        """A whole MQTT 3.1.1 PUBLISH (QoS 0 or 1) or PUBACK already in the read buffer is handled here,
        straight from the buffer: no packet dictionary, no ``MQTTMessage``, no ``Condition``, no
        callback lookup (the central's hot path, thousands of packets a second).  Anything else, a
        packet split across reads included, goes through paho's own reader, which takes its bytes
        from the same buffer."""
        if (self.lean_message is None or self._protocol != mqtt.MQTTv311 or self._in_packet["command"] != 0
                or self._sock is None):
            return super()._packet_read()
        if not self._buffered():
            failed = self._fill()
            if failed is not None:
                return failed
        buf, pos = self._rbuf, self._rpos
        end_of_data = len(buf)
        header = buf[pos]
        kind = header & 0xF0
        if kind != mqtt.PUBLISH and kind != mqtt.PUBACK:
            return super()._packet_read()
        decoded = remaining_length(buf, pos + 1)
        if decoded is None:  # split across reads, or malformed: paho decides
            return super()._packet_read()
        length, i = decoded
        end = i + length
        if end > end_of_data:
            return super()._packet_read()
        if kind == mqtt.PUBACK:
            if length != 2 or header != mqtt.PUBACK or self._on_publish is not None:
                return super()._packet_read()
            self._rpos = end
            self._last_bytes_received = mqtt.time_func()
            return self._puback((buf[i] << 8) | buf[i + 1])
        qos = (header & 0x06) >> 1
        if qos > 1 or length < 2:
            return super()._packet_read()
        topic_end = i + 2 + ((buf[i] << 8) | buf[i + 1])
        body = topic_end + 2 * qos
        if topic_end == i + 2 or body > end:  # an empty topic, or one longer than the packet: paho refuses it
            return super()._packet_read()
        self._rpos = end
        self._last_bytes_received = mqtt.time_func()
        mid = (buf[topic_end] << 8) | buf[topic_end + 1] if qos else 0
        try:
            topic = buf[i + 2:topic_end].decode()
        except UnicodeDecodeError:
            self._easy_log(mqtt.MQTT_LOG_ERR, "dropped a PUBLISH on a topic with invalid UTF-8: %r",
                           buf[i + 2:topic_end])
            topic = None
        if topic is not None:
            self.lean_message(topic, buf[body:end], qos, bool(header & 0x01), mid, bool(header & 0x08))
        if qos and (topic is None or not self._manual_ack):  # nobody can ever take a dropped one: acknowledged
            return self._send_puback(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _buffered(self) -> bool:
        return self._sock is not None and self._sock is self._rsock and self._rpos < len(self._rbuf)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """paho's, then every packet already buffered (no select would wake us for those)."""
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._buffered():
            more = self._packet_read()
            if more > 0:
                return self._loop_rc_handle(more)
            if more == MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return rc

    def _easy_log(self, level: int, fmt: str, *args: Any) -> None:
        """paho's per-packet debug lines cost a call each even when nobody reads them: skipped unless
        its logger is enabled for DEBUG (errors and warnings always go through)."""
        if level == mqtt.MQTT_LOG_DEBUG and not _paho_log.isEnabledFor(logging.DEBUG):
            return
        super()._easy_log(level, fmt, *args)  # type: ignore[arg-type]

    def publish_lean(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """:meth:`publish` for MQTT 3.1.1 at QoS 0 or 1, without a ``Condition`` and paho's per-message
        logging: the packet is built here, and a QoS 1 message is kept exactly as paho keeps it (resent
        by paho after a reconnect, released by its PUBACK).  The returned info shares one condition per
        client.  Anything else (MQTT 5, QoS 2, limits on in-flight or queued messages, a bad topic) goes
        through :meth:`publish`."""
        if (self._protocol != mqtt.MQTTv311 or qos not in (0, 1) or self._max_inflight_messages
                or self._on_publish is not None
                or self._max_queued_messages or not topic or "+" in topic or "#" in topic
                or not isinstance(payload, bytes)):
            return self.publish(topic, payload, qos=qos, retain=retain)
        topic_bytes = topic.encode()
        remaining = 2 + len(topic_bytes) + len(payload) + 2 * qos
        if len(topic_bytes) > 65535 or remaining > 268_435_455:
            return self.publish(topic, payload, qos=qos, retain=retain)
        mid = self._mid_generate()
        info = _LeanInfo.__new__(_LeanInfo)
        info.mid, info.rc, info._published, info._iterpos = mid, MQTTErrorCode.MQTT_ERR_SUCCESS, False, 0
        info._condition = self._lean_condition
        header = bytearray((mqtt.PUBLISH | (qos << 1) | retain,))
        header += encode_remaining_length(remaining)
        header += len(topic_bytes).to_bytes(2, "big")
        header += topic_bytes
        if qos == 0:
            if self._sock is None:
                info.rc = MQTTErrorCode.MQTT_ERR_NO_CONN
                return info
            header += payload
            info.rc = self._packet_queue(mqtt.PUBLISH, header, mid, 0, info)
            return info
        message = mqtt.MQTTMessage.__new__(mqtt.MQTTMessage)
        message.timestamp, message.dup, message.mid, message._topic = mqtt.time_func(), False, mid, topic_bytes
        message.payload, message.qos, message.retain, message.info, message.properties = payload, 1, retain, info, None
        with self._out_message_mutex:
            if mid in self._out_messages:  # 65,535 unacknowledged: as paho
                info.rc = MQTTErrorCode.MQTT_ERR_QUEUE_SIZE
                return info
            self._out_messages[mid] = message
            if self._sock is None:  # sent by paho after the next connect
                message.state = mqtt.mqtt_ms_publish
                info.rc = MQTTErrorCode.MQTT_ERR_NO_CONN
                return info
            self._inflight_messages += 1
            message.state = mqtt.mqtt_ms_wait_for_puback
            header += mid.to_bytes(2, "big")
            header += payload
            info.rc = self._packet_queue(mqtt.PUBLISH, header, mid, 1, info)
        return info

    def _packet_queue(self, command: int, packet: bytes | bytearray, mid: int, qos: int,
                      info: Any = None) -> MQTTErrorCode:
        if not self.inline:
            return super()._packet_queue(command, packet, mid, qos, info)
        self._out_packet.append({"command": command, "mid": mid, "qos": qos, "pos": 0,
                                 "to_process": len(packet), "packet": packet, "info": info})
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _packet_write(self) -> MQTTErrorCode:
        queue = self._out_packet
        if len(queue) < 2 or any(_needs_completion(p) for p in queue):
            return super()._packet_write()
        packets = list(queue)
        data = b"".join(p["packet"][p["pos"]:] for p in packets)
        try:
            written = self._sock_send(data)
        except (AttributeError, ValueError):  # no socket (yet): as paho
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as err:
            self._easy_log(mqtt.MQTT_LOG_ERR, "failed to send on socket: %s", err)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        for p in packets:  # the written bytes, packet by packet; a packet written whole leaves the queue
            step = min(written, p["to_process"])
            p["pos"] += step
            p["to_process"] -= step
            written -= step
            if p["to_process"] == 0:
                queue.popleft()
                if p["qos"] == 0 and isinstance(p["info"], _LeanInfo):  # a lean QoS 0 PUBLISH: complete once written
                    p["info"]._set_as_published()
        with self._msgtime_mutex:
            self._last_msg_out = time.monotonic()
        return MQTTErrorCode.MQTT_ERR_AGAIN if queue else MQTTErrorCode.MQTT_ERR_SUCCESS


    def _handle_pubackcomp(self, cmd: Any) -> MQTTErrorCode:
        """A PUBACK of MQTT 3.1.1, without paho's per-packet ReasonCode and Properties objects (a third of
        the central's network work at thousands of messages a second); anything else goes to paho."""
        packet = self._in_packet.get("packet") if isinstance(self._in_packet, dict) else None
        if (cmd != "PUBACK" or self._protocol != mqtt.MQTTv311 or self._on_publish is not None
                or not isinstance(packet, (bytes, bytearray)) or len(packet) != 2):
            return super()._handle_pubackcomp(cmd)
        return self._puback((packet[0] << 8) | packet[1])

    def _puback(self, mid: int) -> MQTTErrorCode:
        with self._out_message_mutex:
            msg = self._out_messages.pop(mid, None)
            if msg is None:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            msg.info._set_as_published()
            if msg.qos > 0:
                self._inflight_messages -= 1
                if self._max_inflight_messages > 0:
                    return self._update_inflight()
        return MQTTErrorCode.MQTT_ERR_SUCCESS


def _needs_completion(packet: Any) -> bool:
    """A QoS 0 PUBLISH (on_publish, its info) or a DISCONNECT: paho's own write completes those.
    A lean QoS 0 PUBLISH is complete once written (see :meth:`_CoalescingClient._packet_write`)."""
    kind = packet["command"] & 0xF0
    return bool(kind == mqtt.DISCONNECT
                or (kind == mqtt.PUBLISH and packet["qos"] == 0 and not isinstance(packet["info"], _LeanInfo)))


class _LeanInfo(mqtt.MQTTMessageInfo):
    """The info of a lean publish: one condition shared by every message of a client (paho makes a
    ``Condition`` per message); :meth:`_set_as_published` wakes every waiter on it, each checks its own."""

    __slots__ = ()

    def _set_as_published(self) -> None:
        with self._condition:
            self._published = True
            self._condition.notify_all()


class MqttLink:
    """A self-healing MQTT connection.

    ``on_message`` runs on the network thread: keep it short (hand the
    message to a queue).  With ``manual_ack`` QoS 1 messages are
    acknowledged only by :meth:`ack`.
    """

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str | None = None,
        *,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_message: MessageHandler | None = None,
        on_connect: Callable[[], None] | None = None,
        on_disconnect: Callable[[str], None] | None = None,
        on_subscribed: Callable[[int], None] | None = None,
        will: Will | None = None,
        clean_session: bool = True,
        manual_ack: bool = False,
        min_backoff: float = 0.25,
        max_backoff: float = 10.0,
        max_inflight: int = 0,  # 0: unlimited (paho rescans every in-flight message per PUBACK when limited)
    ) -> None:
        self.address = address
        # An identity's client id is its username: the brokers refuse (embedded) or
        # rewrite (Mosquitto, use_username_as_clientid) anything else.
        client_id = client_id if client_id is not None else (address.username or "")
        self.client_id = client_id
        self.subscriptions = list(subscriptions)
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._on_subscribed = on_subscribed
        self.connected = threading.Event()
        #: the broker's reason the last time it refused the connection (None once accepted)
        self.refused: str | None = None
        #: this end's address on the socket to the broker (the interface that reaches it)
        self.local_ip: str | None = None
        self._stopping = False
        self._connecting = False
        self._received = 0
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        client = _CoalescingClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
            manual_ack=manual_ack,
        )
        client.enable_logger(_paho_log)
        if address.username is not None:
            client.username_pw_set(address.username, address.password)
        if address.tls is not None:
            client.tls_set(
                ca_certs=address.tls.cafile,
                certfile=address.tls.certfile,
                keyfile=address.tls.keyfile,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        if will is not None:
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        client.reconnect_delay_set(min_delay=min_backoff, max_delay=max_backoff)  # type: ignore[arg-type]
        client.max_inflight_messages_set(max_inflight)
        client.max_queued_messages_set(0)
        client.on_socket_open = self._socket_open
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_message = self._message
        client.lean_message = self._lean_message
        client.on_subscribe = self._subscribed
        self._client = client

    # ------------------------------------------------------------- control

    def start(self) -> None:
        """Connect in the background; reconnects by itself until :meth:`stop`."""
        self._client.connect_async(self.address.host, self.address.port, keepalive=self.address.keepalive)
        self._client.loop_start()

    def run_inline(self, stop: threading.Event, on_idle: Callable[[], None], poll: float = 0.25) -> None:
        """Run the network loop in the calling thread until ``stop`` is set.

        Reads everything the socket has (``on_message`` runs here, in this
        thread), then calls ``on_idle``: whatever it publishes or acknowledges
        is written to the socket at once, with no hop through paho's network
        thread.  This is the low-latency mode of a single-threaded server (the
        central); :meth:`start` is the convenient mode of a device.  Reconnects
        with exponential backoff like :meth:`start`.
        """
        client = self._client
        delay = self.min_backoff
        first = True
        while not stop.is_set():
            if not client.is_connected() and not self._connecting:
                try:
                    if first:
                        client.connect(self.address.host, self.address.port, keepalive=self.address.keepalive)
                        first = False
                    else:
                        client.reconnect()
                    self._connecting = True
                except (OSError, ValueError) as exc:
                    log.warning("%s cannot reach %s:%d (%s); retrying in %.1fs", self.client_id,
                                self.address.host, self.address.port, exc, delay)
                    stop.wait(delay)  # backoff between attempts
                    delay = min(delay * 2, self.max_backoff)
                    continue
            rc = client.loop(timeout=poll)
            for _ in range(256):  # drain what has already arrived, for one batch
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                before = self._received
                rc = client.loop(timeout=0)
                if self._received == before:
                    break
            if self.connected.is_set():
                self._connecting = False
                delay = self.min_backoff
            client.inline = True  # what on_idle publishes and acknowledges is written below, in one send
            try:
                on_idle()
            finally:
                client.inline = False
            if rc == mqtt.MQTT_ERR_SUCCESS and client.want_write():
                rc = client.loop_write()
                if rc == mqtt.MQTT_ERR_AGAIN:
                    rc = mqtt.MQTT_ERR_SUCCESS  # the socket is full: the next loop's select writes the rest
            if rc != mqtt.MQTT_ERR_SUCCESS:
                self._connecting = False
                if self.connected.is_set():
                    self.connected.clear()
                    log.warning("%s lost the broker (%s); reconnecting with backoff", self.client_id, rc)
                    if self._on_disconnect is not None:
                        self._on_disconnect(str(rc))
                stop.wait(delay)  # backoff before reconnecting
                delay = min(delay * 2, self.max_backoff)

    def close_inline(self, final: Sequence[tuple[str, bytes, bool]] = (), timeout: float = 5.0) -> None:
        """The end of :meth:`run_inline`: publish ``final`` (QoS 1), then disconnect."""
        self._stopping = True
        client = self._client
        if client.is_connected():
            infos = [client.publish(t, p, qos=1, retain=r) for t, p, r in final]
            deadline = time.monotonic() + timeout
            while any(not i.is_published() for i in infos) and time.monotonic() < deadline:
                if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                    break
            client.disconnect()
            client.loop(timeout=0.05)
        self.connected.clear()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def stop(self, final: Sequence[tuple[str, bytes, bool]] = (), timeout: float = 5.0) -> None:
        """Publish ``final`` messages (topic, payload, retain) at QoS 1, then disconnect cleanly."""
        self._stopping = True
        infos = []
        if self.connected.is_set():
            for topic, payload, retain in final:
                infos.append(self._client.publish(topic, payload, qos=1, retain=retain))
            for info in infos:
                try:
                    info.wait_for_publish(timeout)
                except (RuntimeError, ValueError):
                    log.warning("could not publish %s before disconnecting", topic)
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()

    # ------------------------------------------------------------ messages

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Queue a message; paho sends it now or after the next reconnect."""
        return self._client.publish_lean(topic, payload, qos=qos, retain=retain)

    def ack(self, message: Received) -> None:
        """Acknowledge a QoS 1 message received with ``manual_ack``."""
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe now and after every reconnect."""
        self.subscriptions.append((topic, qos))
        if self.connected.is_set():
            self._client.subscribe(topic, qos)

    def subscribe_now(self, topic: str, qos: int = 1) -> int:
        """One SUBSCRIBE packet on the current connection (not renewed); returns its message id,
        which ``on_subscribed`` receives with the SUBACK."""
        _, mid = self._client.subscribe(topic, qos)
        return int(mid or 0)

    # ------------------------------------------------------------ callbacks

    def _socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):  # pragma: no cover - e.g. a unix socket
            log.debug("TCP_NODELAY not available on %r", sock)
        try:
            name = sock.getsockname()
            self.local_ip = name[0] if isinstance(name, tuple) and isinstance(name[0], str) else None
        except (OSError, AttributeError):  # pragma: no cover - a socket already closed
            pass

    def _connected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self.refused = str(reason)
            log.warning("broker %s:%d refused %s: %s", self.address.host, self.address.port, self.client_id, reason)
            return
        self.refused = None
        log.info("%s connected to %s:%d", self.client_id, self.address.host, self.address.port)
        if self.subscriptions:
            client.subscribe(self.subscriptions)
        self.connected.set()
        if self._on_connect is not None:
            self._on_connect()

    def _subscribed(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        if self._on_subscribed is not None:
            self._on_subscribed(mid)

    def _disconnected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if not self._stopping:
            if was:
                log.warning("%s lost the broker (%s); reconnecting with backoff", self.client_id, reason)
            if self._on_disconnect is not None:
                self._on_disconnect(str(reason))

    def _lean_message(self, topic: str, payload: bytes, qos: int, retain: bool, mid: int, dup: bool) -> None:
        self._received += 1
        if self._on_message is None:
            return
        try:
            self._on_message(Received(topic, payload, qos, retain, mid, dup))
        except Exception:  # a handler bug must not kill the network thread
            log.exception("message handler failed on %s", topic)

    def _message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._received += 1
        if self._on_message is None:
            return
        try:
            self._on_message(
                Received(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), msg.mid, bool(msg.dup))
            )
        except Exception:  # a handler bug must not kill the network thread
            log.exception("message handler failed on %s", msg.topic)


def mqtt_link(spec: LinkSpec) -> MqttLink:
    """The production :data:`~antre.broker.link.base.LinkFactory`: a paho connection to a real broker."""
    return MqttLink(
        spec.address, subscriptions=spec.subscriptions, on_message=spec.on_message, on_connect=spec.on_connect,
        on_disconnect=spec.on_disconnect, on_subscribed=spec.on_subscribed, will=spec.will,
        clean_session=spec.clean_session, manual_ack=spec.manual_ack,
    )
