"""The throughput bench's load: gerai that keep commands in flight, in processes of their own.

    python -m bench.loadgen PORT WINDOW < plan.json   (stdout: "ready", then one JSON result line)

:class:`Load` runs these processes for a site and checks what they saw (:class:`LoadResult`);
:func:`bench.run.throughput` and tests/test_throughput.py use it.  The parent writes a plan on stdin: for each gerai its username,
password and service.  This process connects every gerai with its own identity over raw MQTT
3.1.1 (CONNECT, SUBSCRIBE to its reply topic at QoS 1, QoS 1 PUBLISH of commands, PUBACK of
every reply), prints ``ready``, then waits for one line with the monotonic times to start, to
start counting, and to stop (``time.monotonic`` is the same clock in every process of a
machine).  Each gerai keeps ``WINDOW`` commands in flight, alternating take_ticket and
call_next; a reply sends the next command until the stop time, then the process waits for the
last replies and prints what it saw: every command id sent, every reply (command id, code,
ticket), and how many first replies arrived between the counting and the stop times.

The client is written for the bench alone (one ``select`` over a few hundred sockets, commands
pre-encoded, replies read with a minimal msgspec struct) so that the load generator costs
little beside the central it measures; the product's own link is
:mod:`antre.broker.link.client`.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from antre.broker.admin.acl import Identity
from antre.broker.link.client import remaining_length
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Role
from antre.sim.sitefiles import SiteFiles
from bench.clients import _str, _varint, connect_packet


class _Reply(msgspec.Struct):
    """The fields of a reply the bench checks (the central's contract is tested elsewhere)."""

    cmd: str
    code: str
    ticket: str | None = None


def _publish_qos1(topic: bytes, packet_id: int, payload: bytes) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + packet_id.to_bytes(2, "big") + payload
    return bytes([0x32]) + _varint(len(body)) + body


class _Gerai:
    """One gerai's connection: its socket, what it has read and not parsed, what it will write."""

    def __init__(self, port: int, name: str, site: str, username: str, password: str, service: str) -> None:
        self.name, self.service = name, service
        self.cmd_topic = f"antre/v1/{site}/gerai/{name}/cmd".encode()
        self.reply_topic = f"antre/v1/{site}/gerai/{name}/reply"
        self.username, self.password = username, password
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.inbuf = b""
        self.inpos = 0
        self.out = bytearray()
        self.seq = 0
        self.packet_id = 0

    def handshake(self) -> None:
        """CONNECT and SUBSCRIBE, blocking: done for every gerai before the load starts."""
        self.sock.sendall(connect_packet(self.username, self.username, self.password,
                                         self.reply_topic.replace("/reply", "/presence"),
                                         b'{"kind":"presence","v":1,"role":"gerai","device":"%s","online":false}'
                                         % self.name.encode(), 60))
        kind, body = self._read_blocking()
        if kind != 0x20 or body[1] != 0:
            raise RuntimeError(f"{self.name}: CONNACK {body!r}")
        sub = (1).to_bytes(2, "big") + _str(self.reply_topic) + b"\x01"
        self.sock.sendall(bytes([0x82]) + _varint(len(sub)) + sub)
        kind, body = self._read_blocking()
        if kind != 0x90 or body[2] != 1:
            raise RuntimeError(f"{self.name}: SUBACK {body!r}")
        self.sock.setblocking(False)

    def _read_blocking(self) -> tuple[int, bytes]:
        while True:
            packet = self._next_packet()
            if packet is not None:
                return packet
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError(f"{self.name}: the broker closed the connection")
            self.take(data)

    def _next_packet(self) -> tuple[int, bytes] | None:
        """The next whole packet from :attr:`inbuf` (from :attr:`inpos`; the rest stays for the next read)."""
        buf, pos = self.inbuf, self.inpos
        if len(buf) - pos < 2:
            return None
        decoded = remaining_length(buf, pos + 1)
        if decoded is None:
            return None
        length, i = decoded
        if len(buf) < i + length:
            return None
        self.inpos = i + length
        return buf[pos], buf[i:i + length]

    def take(self, data: bytes) -> None:
        """What a ``recv`` brought, after what is left of the last one."""
        self.inbuf = self.inbuf[self.inpos:] + data if self.inpos < len(self.inbuf) else data
        self.inpos = 0

    def command(self) -> tuple[str, bytes]:
        """The next command: its id, and its PUBLISH packet queued for the next write."""
        self.seq += 1
        cid = f"{self.name}-t-{self.seq:07d}"
        cmd: m.AnyCommand
        if self.seq % 2:
            cmd = m.TakeTicket(id=cid, service=self.service, print=False)
        else:
            cmd = m.CallNext(id=cid)
        payload = codec.encode(cmd)
        self.packet_id = self.packet_id % 65535 + 1
        self.out += _publish_qos1(self.cmd_topic, self.packet_id, payload)
        return cid, payload

    def received(self) -> list[bytes]:
        """The payloads of the replies read so far (each acknowledged in the next write)."""
        replies: list[bytes] = []
        while True:
            packet = self._next_packet()
            if packet is None:
                return replies
            kind, body = packet
            if kind & 0xF0 != 0x30:
                continue  # PUBACK of a command, PINGRESP
            topic_len = int.from_bytes(body[:2], "big")
            at = 2 + topic_len
            if kind & 0x06:
                self.out += b"\x40\x02" + body[at:at + 2]
                at += 2
            replies.append(body[at:])


ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LoadResult:
    """What the load's gerai sent and were answered, and the checks of exactly once."""

    sent: list[str] = field(default_factory=list)  # command ids, each sent once
    replies: Counter[str] = field(default_factory=Counter)  # command id -> replies received
    issued: list[str] = field(default_factory=list)  # ticket numbers of first "issued" replies
    called: list[str] = field(default_factory=list)  # ticket numbers of first "called" replies
    counted: int = 0  # first replies between the counting and the stop times

    def add(self, out: dict[str, Any]) -> None:
        self.sent += out["sent"]
        self.counted += out["counted"]
        for cid, code, ticket in out["replies"]:
            self.replies[cid] += 1
            if self.replies[cid] > 1:
                continue
            if code == "issued" and ticket:
                self.issued.append(ticket)
            elif code == "called" and ticket:
                self.called.append(ticket)

    @property
    def lost(self) -> int:
        """Commands never answered."""
        return sum(1 for c in self.sent if not self.replies[c])

    @property
    def doubled(self) -> int:
        """A number issued twice, a ticket called twice, or a call of a ticket never issued."""
        numbers = Counter(self.issued)
        out = sum(n - 1 for n in numbers.values() if n > 1)
        out += sum(n - 1 for n in Counter(self.called).values() if n > 1)
        return out + sum(1 for t in self.called if t not in numbers)

    @property
    def duplicate_replies(self) -> int:
        """Replies received again (a redelivered command answered from the central's reply cache)."""
        return sum(n - 1 for n in self.replies.values() if n > 1)


class Load:
    """The processes of :func:`main` for ``gerai`` of ``site``: started (every gerai connected and
    subscribed) on entering, killed on leaving if still running.  :meth:`go` sets the times,
    :meth:`result` waits for the processes' reports."""

    def __init__(self, site: SiteFiles, gerai: list[str], window: int, processes: int = 2) -> None:
        self.site, self.gerai, self.window, self.processes = site, gerai, window, processes
        self.procs: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Load:
        for share in (self.gerai[i::self.processes] for i in range(self.processes)):
            plan = {"site": self.site.config.site_id, "gerai": [
                {"name": g, "username": self.site.secrets.username(Identity(Role.GERAI, g)),
                 "password": self.site.secrets.password(Identity(Role.GERAI, g)),
                 "service": self.site.config.gerai[g].services[0]} for g in share]}
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.loadgen", str(self.site.port), str(self.window)], cwd=ROOT,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            self.procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(plan) + "\n")
            proc.stdin.flush()
        for proc in self.procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a load generator did not connect its gerai")
        return self

    def go(self, warmup: float, seconds: float) -> tuple[float, float]:
        """Start in half a second; count first replies after ``warmup`` for ``seconds``; then stop
        sending and wait for the last replies.  Returns the counting window (monotonic times)."""
        start_at = time.monotonic() + 0.5
        count_from, stop_at = start_at + warmup, start_at + warmup + seconds
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps([start_at, count_from, stop_at]) + "\n")
            proc.stdin.flush()
        return count_from, stop_at

    def result(self, timeout: float = 120) -> LoadResult:
        result = LoadResult()
        for proc in self.procs:
            out, _ = proc.communicate(timeout=timeout)
            if proc.returncode != 0:
                raise RuntimeError(f"a load generator failed (exit {proc.returncode})")
            result.add(json.loads(out))
        return result

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main() -> int:
    port, window = int(sys.argv[1]), int(sys.argv[2])
    plan: dict[str, Any] = json.loads(sys.stdin.readline())
    gerai = [_Gerai(port, g["name"], plan["site"], g["username"], g["password"], g["service"]) for g in plan["gerai"]]
    for g in gerai:
        g.handshake()
    print("ready", flush=True)
    start_at, count_from, stop_at = json.loads(sys.stdin.readline())
    decoder = msgspec.json.Decoder(_Reply)
    sent: list[str] = []
    replies: list[tuple[str, str, str | None]] = []
    seen: set[str] = set()
    counted = 0
    selector = selectors.DefaultSelector()
    for g in gerai:
        selector.register(g.sock, selectors.EVENT_READ, g)
    while time.monotonic() < start_at:
        selector.select(start_at - time.monotonic())
    for g in gerai:
        for _ in range(window):
            sent.append(g.command()[0])
    outstanding = len(sent)
    drain_until = stop_at + 60.0
    quiet_until: float | None = None
    while True:
        for g in gerai:
            if g.out:
                try:
                    n = g.sock.send(g.out)
                except BlockingIOError:
                    n = 0
                del g.out[:n]
        now = time.monotonic()
        if outstanding == 0 and quiet_until is None:
            quiet_until = now + 1.0  # any redelivered reply would arrive meanwhile
        if (quiet_until is not None and now > quiet_until) or now > drain_until:
            break
        for key, _ in selector.select(0.05):
            g = key.data
            try:
                data = g.sock.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                raise RuntimeError(f"{g.name}: the broker closed the connection")
            g.take(data)
            now = time.monotonic()
            for payload in g.received():
                reply = decoder.decode(payload)
                replies.append((reply.cmd, reply.code, reply.ticket))
                if reply.cmd in seen:
                    continue
                seen.add(reply.cmd)
                outstanding -= 1
                if count_from <= now < stop_at:
                    counted += 1
                if now < stop_at:
                    sent.append(g.command()[0])
                    outstanding += 1
    for g in gerai:
        g.sock.sendall(b"\xe0\x00")  # DISCONNECT
        g.sock.close()
    json.dump({"sent": sent, "replies": replies, "counted": counted}, sys.stdout)
    print(flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
