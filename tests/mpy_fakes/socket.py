"""A scripted socket module for running the real umqtt.simple on MicroPython (WebAssembly) with
no network: behind every socket sits :class:`Broker`, a small MQTT 3.1.1 broker and central
in one, speaking bytes.

* CONNECT -> CONNACK (``Broker.connack``: 0, or a refusal code), SUBSCRIBE -> SUBACK
  (then the retained state), PINGREQ -> PINGRESP, PUBLISH QoS 1 -> PUBACK.
* A ``ping`` command -> a ``pong`` reply with ``Broker.clock_ms``; any other command ->
  ``Broker.answer(cmd)`` (set by the test: a list of (topic, payload) to deliver).
* ``Broker.frozen``: nothing arrives any more, writes still go into the "buffer".
* Reads follow MicroPython's socket: non-blocking with nothing there -> None; blocking
  without the bytes -> OSError(ETIMEDOUT) (the timeout passed, in no time).

``Broker.own_alloc`` counts the heap the fake itself allocates (gc.mem_alloc), so a test
can take it out of what it measures of the node.
"""

import gc
import json

AF_INET = 2
SOCK_STREAM = 1


def _alloc():
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0


class Broker:
    connack = 0
    frozen = False
    pong = True  # answer pings
    clock_ms = 1700198100000
    epoch = 1700190000000
    state = None  # retained state payload (bytes) or None
    answer = None  # callable(cmd dict) -> list of (topic, payload)
    published = []  # (topic, payload bytes, qos, retain) the client sent
    connects = []  # client ids
    pings = 0
    own_alloc = 0
    sockets = []

    @classmethod
    def reset(cls):
        cls.connack, cls.frozen, cls.state, cls.answer, cls.pong = 0, False, None, None, True
        cls.published, cls.connects, cls.pings, cls.sockets = [], [], 0, []


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish(topic, payload, qos, pid, retain=False):
    t = topic.encode() if isinstance(topic, str) else topic
    body = bytearray(len(t).to_bytes(2, "big") + t)
    if qos:
        body += pid.to_bytes(2, "big")
    body += payload
    return bytes([0x30 | qos << 1 | (1 if retain else 0)]) + _varint(len(body)) + bytes(body)


class socket:
    def __init__(self, af=AF_INET, kind=SOCK_STREAM, proto=0):
        self.timeout = None
        self.to_client = bytearray()
        self.rpos = 0
        self.from_client = bytearray()
        self.closed = False
        self.pid = 0
        self.subscribed = []
        Broker.sockets.append(self)

    def settimeout(self, t):
        self.timeout = t

    def setblocking(self, flag):
        self.timeout = None if flag else 0

    def setsockopt(self, level, opt, value):
        pass

    def connect(self, addr):
        if self.closed:
            raise OSError(9)

    def close(self):
        self.closed = True

    def read(self, n):
        if self.closed:
            raise OSError(9)
        have = len(self.to_client) - self.rpos
        if have <= 0 or Broker.frozen:
            if self.timeout == 0:
                return None
            raise OSError(110)  # ETIMEDOUT
        if have < n and self.timeout != 0:
            raise OSError(110)
        before = _alloc()
        chunk = self.to_client[self.rpos:self.rpos + n]
        self.rpos += len(chunk)
        if self.rpos == len(self.to_client):
            self.to_client = bytearray()
            self.rpos = 0
        Broker.own_alloc += _alloc() - before
        return bytes(chunk)  # what a board's socket allocates for a read: the bytes themselves

    def write(self, buf, n=None):
        if self.closed:
            raise OSError(9)
        before = _alloc()
        data = buf.encode() if isinstance(buf, str) else bytes(buf)
        if n is not None:
            data = data[:n]
        self.from_client += data
        if not Broker.frozen:
            self._serve()
        Broker.own_alloc += _alloc() - before
        return len(data)

    def _serve(self):
        buf = self.from_client
        while len(buf) >= 2:
            n, mult, i = 0, 1, 1
            while True:
                if i >= len(buf):
                    return
                b = buf[i]
                n += (b & 0x7F) * mult
                mult *= 128
                i += 1
                if not b & 0x80:
                    break
            if len(buf) < i + n:
                return
            kind, body = buf[0] >> 4, bytes(buf[i:i + n])
            flags = buf[0] & 15
            buf = buf[i + n:]
            self.from_client = buf
            self._packet(kind, flags, body)
            buf = self.from_client

    def _packet(self, kind, flags, body):
        if kind == 1:  # CONNECT
            cid_len = int.from_bytes(body[10:12], "big")
            Broker.connects.append(body[12:12 + cid_len].decode())
            self.to_client += bytes((0x20, 2, 0, Broker.connack))
        elif kind == 8:  # SUBSCRIBE
            pid = body[0:2]
            tlen = int.from_bytes(body[2:4], "big")
            topic = body[4:4 + tlen].decode()
            self.subscribed.append(topic)
            self.to_client += bytes((0x90, 3)) + pid + bytes((1,))
            if topic.endswith("/state") and Broker.state is not None:
                self._deliver(topic, Broker.state, True)
        elif kind == 12:  # PINGREQ
            self.to_client += bytes((0xD0, 0))
        elif kind == 3:  # PUBLISH
            qos = (flags >> 1) & 3
            tlen = int.from_bytes(body[0:2], "big")
            topic = body[2:2 + tlen].decode()
            rest = body[2 + tlen:]
            if qos:
                self.to_client += bytes((0x40, 2)) + rest[:2]
                rest = rest[2:]
            Broker.published.append((topic, bytes(rest), qos, bool(flags & 1)))
            if topic.endswith("/cmd"):
                self._command(topic, json.loads(rest))

    def _command(self, topic, cmd):
        base = topic[:-4]
        if cmd["kind"] == "ping":
            Broker.pings += 1
            if not Broker.pong:
                return
            ms = Broker.clock_ms
            reply = ('{"kind":"reply","v":1,"epoch":%d,"cmd":"%s","ok":true,"code":"pong","text_id":"Terhubung",'
                     '"text_en":"pong","ticket":null,"ts":%d.%03d}' % (Broker.epoch, cmd["id"], ms // 1000, ms % 1000))
            self._deliver(base + "/reply", reply.encode())
        elif Broker.answer is not None:
            for t, payload in Broker.answer(cmd):
                self._deliver(base + "/" + t, payload, t == "state")

    def _deliver(self, topic, payload, retain=False):
        if not any(topic == s for s in self.subscribed):
            return
        self.pid = self.pid % 65535 + 1
        self.to_client += _publish(topic, payload, 1, self.pid, retain)


def getaddrinfo(host, port, af=0, kind=0, proto=0, flags=0):
    return [(AF_INET, SOCK_STREAM, 6, "", (host, port))]
