"""The operations console's row of ``make bench``: press -> dashboard latency, and its cost.

A generated site of 200 gerai (20 services) on the broker with the real central and
``antre console run`` as processes.  20 gerai press (inline paho clients, their own
credentials), 180 more sit idle reporting presence and health (the asyncio client of
:mod:`bench.clients`): 200 devices.  Ten server-sent-event clients, signed in as a supervisor,
hold the "Situasi kini" page's stream open: they stand in for ten browsers (ten headless
Chromiums would cost this 2-core machine more than the console itself; the browser's own
share is measured by the Playwright tests, not here).

Measured: from a gerai's ``call_next`` on the wire until the first SSE client receives the
dashboard fragment showing the called number in that gerai's row (p50/p99 over 200 presses,
one every 200 ms), and the console process's CPU (% of one core) and resident memory, idle
with 200 devices and 10 streams open, and during the presses.  Run alone with
``python -m bench.console``.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import re
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from antre.broker.admin.acl import Identity
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Role
from antre.console.accounts import Accounts
from antre.sim.procs import ConsoleProc, free_port
from bench.clients import idle_gerai

CONSOLE_GERAI = 200
CONSOLE_SERVICES = 20
CONSOLE_PRESSERS = 20
CONSOLE_BROWSERS = 10
CONSOLE_CALLS = 200
CONSOLE_GAP = 0.2
CONSOLE_IDLE_WINDOW = 20.0
PASSWORD = "bench-supervisor"


def sign_in(port: int, name: str, password: str) -> str:
    """The session cookie of ``name`` (the sign-in form, its CSRF token and all)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", "/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = (response.getheader("set-cookie") or "").split(";", 1)[0]
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    conn.request("POST", "/login", body=f"csrf={token}&name={name}&password={password}&next=",
                 headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    if response.status != 303:
        raise RuntimeError(f"sign-in refused: {response.status}")
    cookie = (response.getheader("set-cookie") or "").split(";", 1)[0]
    conn.close()
    return cookie


class SseClient(threading.Thread):
    """One browser's event stream, read as it arrives: the bytes kept with the time each recv
    returned them (no parsing on the way: the ten streams must not slow each other down in this
    process; the test searches the bytes afterwards)."""

    def __init__(self, port: int, cookie: str, path: str = "/sse/site") -> None:
        super().__init__(daemon=True)
        self.port, self.cookie, self.path = port, cookie, path
        self.buffer = bytearray()
        self.marks: list[tuple[int, float]] = []  # (end offset of a recv, its arrival)
        self.cond = threading.Condition()
        self.sock: socket.socket | None = None

    def run(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                     f"Cookie: {self.cookie}\r\n\r\n".encode())
        try:
            while True:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    return
                now = time.perf_counter()
                with self.cond:
                    self.buffer += chunk
                    self.marks.append((len(self.buffer), now))
                    self.cond.notify_all()
        except OSError:
            return

    def size(self) -> int:
        with self.cond:
            return len(self.buffer)

    def found(self, since: int, row: bytes, expected: bytes) -> float | None:
        """When the bytes after ``since`` showed ``expected`` within ``row``'s table row."""
        at_row = self.buffer.find(row, since)
        while at_row >= 0:
            hit = self.buffer.find(expected, at_row, at_row + 800)
            if hit >= 0:
                end = hit + len(expected)
                return next(t for offset, t in self.marks if offset >= end)
            at_row = self.buffer.find(row, at_row + 1)
        return None

    def wait(self, predicate: Any, timeout: float) -> Any:
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise RuntimeError("timed out waiting for a dashboard update")
            return predicate()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


class StateWatch:
    """When each gerai's retained state reaches a client of the broker (paho's own network thread):
    the part of the latency that is the central's, for comparison."""

    def __init__(self, site: Any) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        who = Identity(Role.MONITOR, "t1")
        self.cond = threading.Condition()
        self.seen: dict[str, float] = {}
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=site.secrets.username(who), protocol=mqtt.MQTTv311)
        c.username_pw_set(site.secrets.username(who), site.secrets.password(who))
        c.on_socket_open = lambda cl, u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.on_message = self._on
        c.connect("127.0.0.1", site.port)
        c.subscribe(f"antre/v1/{site.config.site_id}/gerai/+/state", 1)
        c.loop_start()
        self.c = c

    def _on(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.cond:
            self.seen[msg.topic.split("/")[-2]] = time.perf_counter()
            self.cond.notify_all()

    def clear(self) -> None:
        with self.cond:
            self.seen.clear()

    def arrival(self, gerai: str, timeout: float) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: gerai in self.seen, timeout):
                raise RuntimeError(f"no state of {gerai}")
            return self.seen[gerai]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def console_part(kind: str, work: Path) -> dict[str, Any]:
    from bench.run import SITE, Stack, bench_site, client, issue_tickets, ms, prefix

    site = bench_site(work / f"console-{kind}", CONSOLE_GERAI, CONSOLE_SERVICES)
    with Stack(kind, site):
        accounts = Accounts(site.config.console.database)
        accounts.add("bench", "supervisor", PASSWORD)
        accounts.close()
        console = ConsoleProc(site, free_port())
        console.start()
        idle_stop = threading.Event()
        loop_thread = None
        streams: list[SseClient] = []
        pressers: dict[str, Any] = {}
        try:
            console.wait_ready(60)
            proc = psutil.Process(console.proc.pid)  # type: ignore[union-attr]
            gerai = list(site.config.gerai)
            press_ids, idle_ids = gerai[:CONSOLE_PRESSERS], gerai[CONSOLE_PRESSERS:]
            pressers = {g: client(site, Identity(Role.GERAI, g), [f"antre/v1/{SITE}/gerai/{g}/reply"])
                        for g in press_ids}
            per_gerai = CONSOLE_CALLS // CONSOLE_PRESSERS + 2
            issue_tickets(site, pressers, per_gerai)
            up = {"n": 0}

            def idle() -> None:
                async def run() -> None:
                    stop = asyncio.Event()
                    tasks = [asyncio.ensure_future(idle_gerai(
                        "127.0.0.1", site.port, SITE, g, site.secrets.password(Identity(Role.GERAI, g)), 30.0, stop,
                        lambda: up.__setitem__("n", up["n"] + 1))) for g in idle_ids]
                    while not idle_stop.is_set():
                        await asyncio.sleep(0.1)
                    stop.set()
                    await asyncio.gather(*tasks, return_exceptions=True)

                asyncio.run(run())

            loop_thread = threading.Thread(target=idle, daemon=True)
            loop_thread.start()
            deadline = time.monotonic() + 60
            while up["n"] < len(idle_ids) and time.monotonic() < deadline:
                time.sleep(0.1)
            # ten browsers, each signed in (a session opens a few live pages at most)
            streams = [SseClient(console.http_port, sign_in(console.http_port, "bench", PASSWORD))
                       for _ in range(CONSOLE_BROWSERS)]
            for s in streams:
                s.start()
            for s in streams:
                s.wait(lambda s=s: b"event: site" in s.buffer, 20)
            time.sleep(3)  # the connection storm of the idle fleet settles
            cpu0, t0 = _cpu(proc), time.monotonic()
            time.sleep(CONSOLE_IDLE_WINDOW)
            idle_cpu = (_cpu(proc) - cpu0) / (time.monotonic() - t0) * 100
            idle_rss = proc.memory_info().rss / 2**20
            lat: list[float] = []
            state_lat: list[float] = []
            monitor = StateWatch(site)
            calls: Counter[str] = Counter()
            first = streams[0]
            pace = threading.Event()
            cpu0, t0 = _cpu(proc), time.monotonic()
            for i in range(CONSOLE_CALLS):
                g = press_ids[i % len(press_ids)]
                calls[g] += 1
                expected = f'class="ticket">{prefix(press_ids.index(g) % CONSOLE_SERVICES)}{calls[g]:04d}'.encode()
                row = f'id="gerai-{g}"'.encode()
                mark = first.size()
                monitor.clear()
                start = time.perf_counter()
                pressers[g].publish(f"antre/v1/{SITE}/gerai/{g}/cmd",
                                    codec.encode(m.CallNext(id=f"{g}-console-{i:06d}")))

                shown = first.wait(lambda: first.found(mark, row, expected), 10)
                lat.append(shown - start)
                state_lat.append(monitor.arrival(g, 10) - start)
                pressers[g].pump(0)
                pace.wait(CONSOLE_GAP + random.uniform(0, 0.05))
            busy_cpu = (_cpu(proc) - cpu0) / (time.monotonic() - t0) * 100
            busy_rss = proc.memory_info().rss / 2**20
            fanned = sum(1 for s in streams if expected in s.buffer[-400000:])
            return {"devices": len(press_ids) + up["n"], "browsers": CONSOLE_BROWSERS, **{
                f"press_to_dashboard_{k}": v for k, v in ms(lat).items()},
                **{f"press_to_state_{k}": v for k, v in ms(state_lat).items() if k in ("p50", "p99")},
                "idle_cpu_pct": round(idle_cpu, 2), "idle_rss_mb": round(idle_rss, 1),
                "busy_cpu_pct": round(busy_cpu, 2), "busy_rss_mb": round(busy_rss, 1),
                "streams_with_last_update": fanned, "note": "SSE clients stand in for browsers"}
        finally:
            for s in streams:
                s.close()
            idle_stop.set()
            if loop_thread is not None:
                loop_thread.join(30)
            for c in pressers.values():
                c.close()
            console.stop()
            print(console.output()[-3000:], file=sys.stderr)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="antre-bench-console-"))
    result = console_part(sys.argv[1] if len(sys.argv) > 1 else "mosquitto", work)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
