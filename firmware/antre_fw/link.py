"""The node's MQTT connection over micropython-lib's ``umqtt.simple`` (1.5.0 or newer),
used so that nothing ever blocks past a timeout.

What umqtt.simple does by itself, and what this module does about it:

* ``connect(timeout=...)`` bounds the TCP connect and the CONNACK; this module
  passes it.  A refused CONNACK raises ``MQTTException`` (not ``OSError``): the
  caller tells them apart (:func:`classify`).
* After connecting, umqtt.simple calls ``sock.setblocking(True)`` after the first
  byte of every packet it reads: on MicroPython that removes any timeout, so a
  link that freezes in the middle of a packet would block the loop for ever.
  :class:`TimeoutSocket` wraps the socket so that "blocking" means "with the I/O
  timeout", for every read and write.
* ``publish(qos=1)`` waits for the PUBACK, reading packets without a bound.
  :meth:`Link.publish` writes the same PUBLISH packet (QoS 1, its own packet id)
  and returns at once; the PUBACK is read later by :meth:`Link.poll`.  The node
  keeps each command until the central's reply anyway (the outbox), so a lost
  PUBACK costs nothing.
* It never sends PINGREQ by itself: the node calls :meth:`Link.ping`, and any
  byte received (a PINGRESP is swallowed inside ``check_msg``) is counted in
  :attr:`TimeoutSocket.rx`, which is how the node knows the link is alive.
* ``check_msg`` returns the type of packets it does not handle (PUBACK,
  SUBACK...) without reading their bodies: :meth:`Link.poll` reads them, so the
  stream stays in step.
"""

import struct

#: CONNACK return codes of MQTT 3.1.1 that mean "wrong credentials"
AUTH_CODES = (4, 5)


class TimeoutSocket:
    """umqtt.simple's socket with every blocking read and write bounded by ``timeout_s``."""

    def __init__(self, sock, timeout_s):
        self.sock = sock
        self.timeout_s = timeout_s
        self.rx = 0  # bytes received: any byte is a sign of life
        sock.settimeout(timeout_s)

    def setblocking(self, flag):
        self.sock.settimeout(self.timeout_s if flag else 0)

    def settimeout(self, t):
        self.sock.settimeout(self.timeout_s if t is None else t)

    def read(self, n):
        data = self.sock.read(n)
        if data:
            self.rx += len(data)
        return data

    def write(self, buf, n=None):
        if n is None:
            return self.sock.write(buf)
        return self.sock.write(buf, n)

    def close(self):
        self.sock.close()


def classify(exc):
    """('auth' | 'refused' | 'network', detail) for an exception out of umqtt.simple."""
    if type(exc).__name__ == "MQTTException":
        code = exc.args[0] if exc.args else -1
        return ("auth" if code in AUTH_CODES else "refused"), code
    # OSError: refused, unreachable, timed out; IndexError / AssertionError / TypeError: the
    # peer closed the connection or spoke something else than MQTT in the middle of a packet
    return "network", exc.args[0] if exc.args else -1


class Link:
    """One MQTT connection (a fresh umqtt.simple client per connection)."""

    def __init__(self, client, io_timeout_s):
        self.client = client
        self.io_timeout_s = io_timeout_s
        self.sock = None
        self.pid = 0
        self.hdr = bytearray(5)
        self.pubacks = 0  # PUBACKs received (diagnostics)
        self.sent = 0  # PUBLISH packets written

    @property
    def rx(self):
        return self.sock.rx if self.sock is not None else 0

    def open(self, connect_timeout_s, subscriptions, progress):
        """Connect and subscribe (QoS 1); ``progress()`` after each step that completed.
        Raises what umqtt.simple raises (see :func:`classify`)."""
        c = self.client
        c.connect(timeout=connect_timeout_s)
        progress()
        raw = c.sock
        try:
            raw.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY: umqtt writes a packet in pieces
        except (OSError, AttributeError, TypeError, ValueError):
            pass  # not every port has it
        self.sock = c.sock = TimeoutSocket(raw, self.io_timeout_s)
        for t in subscriptions:
            c.subscribe(t, 1)  # reads its SUBACK with the I/O timeout
            progress()

    def publish(self, topic, msg, retain=False, qos=0):
        """Write one PUBLISH (the bytes umqtt.simple's ``publish`` writes) without waiting for
        the PUBACK.  ``topic`` and ``msg``: bytes."""
        c, pkt, sock = self.client, self.hdr, self.sock
        if sock is None:
            raise OSError("not connected")
        pkt[0] = 0x30 | qos << 1 | (1 if retain else 0)
        sz = 2 + len(topic) + len(msg) + (2 if qos else 0)
        i = 1
        while sz > 0x7F:
            pkt[i] = (sz & 0x7F) | 0x80
            sz >>= 7
            i += 1
        pkt[i] = sz
        sock.write(pkt, i + 1)
        c._send_str(topic)
        if qos:
            self.pid = self.pid % 65535 + 1  # 1..65535 (umqtt.simple's own counter never wraps)
            struct.pack_into("!H", pkt, 0, self.pid)
            sock.write(pkt, 2)
        sock.write(msg)
        self.sent += 1

    def ping(self):
        self.client.ping()  # PINGREQ; the PINGRESP shows up as received bytes

    def poll(self, limit=8):
        """Handle what has arrived, at most ``limit`` packets; never waits for more."""
        c, sock = self.client, self.sock
        if sock is None:
            raise OSError("not connected")
        for _ in range(limit):
            before = sock.rx
            op = c.check_msg()  # PUBLISH: handled (callback, PUBACK); None: nothing, or a PINGRESP
            if op is None:
                if sock.rx == before:
                    return
                continue
            if op & 0xF0 == 0x30:
                continue
            n = c._recv_len()  # a packet umqtt.simple left unread: PUBACK, SUBACK, ...
            if n:
                sock.read(n)
            if op == 0x40:
                self.pubacks += 1

    def close(self):
        s, self.sock = self.client.sock, None
        self.client.sock = None
        if s is not None:
            try:
                s.close()
            except Exception:
                pass
