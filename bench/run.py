"""``make bench``: antre against the physical floor of its transport.

Runs every part against a real Mosquitto on a loopback port (configured by
``antre broker mosquitto-config``, with ``set_tcp_nodelay true``) and, in a
second column, against the embedded broker; prints one table and writes
``bench/out/results.json``.  Exits non-zero if any command was lost or
applied twice.  See bench/README.md for how to read it.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from antre.broker.admin.acl import Identity
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Role
from antre.sim.procs import BrokerProc, CentralProc, free_port, mosquitto_binary
from antre.sim.sitefiles import SiteFiles, generated_site
from bench import fanout
from bench import reports
from bench import startup
from bench.clients import InlineClient, idle_gerai
from bench.loadgen import Load

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SITE = "bench"
FLOOR_ROUNDS = 2000
PRESS_CALLS = 2000
PRESS_GERAI = 20
THROUGHPUT_GERAI = 200
THROUGHPUT_SECONDS = 10.0
THROUGHPUT_WINDOW = 4  # commands in flight per gerai
FLEET_GERAI = 2000
FLEET_HEALTH_EVERY = 30.0  # seconds: the edge agent's normal health interval
FLEET_WINDOW = 30.0


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def prefix(j: int) -> str:
    return chr(65 + j // 26) + chr(65 + j % 26)


def bench_site(directory: Path, gerai: int, services: int, durability: str = "full") -> SiteFiles:
    """A generated site of ``gerai`` gerai and ``services`` services on a free port (antre.sim.sitefiles)."""
    return SiteFiles(directory, free_port(), base=generated_site(gerai, services, site_id=SITE), durability=durability)


def client(site: SiteFiles, who: Identity, subscriptions: list[str]) -> InlineClient:
    """An inline client with ``who``'s own credentials (its client id is its username)."""
    return InlineClient("127.0.0.1", site.port, site.secrets.username(who), site.secrets.password(who), subscriptions)


class Stack:
    """A broker and (optionally) the central service as child processes."""

    def __init__(self, kind: str, site: SiteFiles, central: bool = True) -> None:
        self.site = site
        self.broker = BrokerProc(kind, site)
        self.central = CentralProc(site) if central else None

    def __enter__(self) -> Stack:
        self.broker.start()
        if self.central is not None:
            self.central.start()
            self.central.wait_ready(60)
        # the site's lobby is an upgraded one (contract 2): the central sends no whole-site board
        lobby = client(self.site, Identity(Role.LOBBY, "lobby-1"), [])
        lobby.publish(f"antre/v1/{SITE}/lobby/lobby-1/presence", codec.encode(
            m.Presence(role="lobby", device="lobby-1", online=True, contract=m.CONTRACT)), retain=True)
        lobby.pump(0.2)
        lobby.close()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.central is not None:
            self.central.stop()
        self.broker.stop()

    @property
    def central_pid(self) -> int:
        assert self.central is not None and self.central.proc is not None
        return self.central.proc.pid


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ms(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values) * 1000, 3),
        "p99": round(pct(values, 0.99) * 1000, 3),
        "max": round(max(values) * 1000, 3),
        "n": len(values),
    }


# ------------------------------------------------------------------- floor


def floor(kind: str, work: Path) -> dict[str, float]:
    """The broker's own round trip on the command path: a gerai's command echoed as its reply by
    another process with the central's identity (no central running)."""
    site = bench_site(work / f"floor-{kind}", 1, 1)
    central, gerai = Identity(Role.CENTRAL), Identity(Role.GERAI, "g0000")
    ping, pong = f"antre/v1/{SITE}/gerai/g0000/cmd", f"antre/v1/{SITE}/gerai/g0000/reply"
    with Stack(kind, site, central=False):
        echo = subprocess.Popen(
            [sys.executable, "-m", "bench.echo", str(site.port), site.secrets.username(central), site.secrets.password(central),
             ping, pong],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert echo.stdout is not None and echo.stdout.readline().strip() == "ready"
            pinger = client(site, gerai, [pong])
            lat = []
            for i in range(FLOOR_ROUNDS + 200):
                payload = str(i).encode()
                start = time.perf_counter()
                pinger.publish(ping, payload)
                pinger.wait(lambda: pinger.messages and pinger.messages[-1][1] == payload, 10)
                if i >= 200:  # warm-up
                    lat.append(pinger.messages[-1][2] - start)
                pinger.messages.clear()
            pinger.close()
        finally:
            echo.kill()
            echo.wait()
    return ms(lat)


# ------------------------------------------------------- press to display


def issue_tickets(site: SiteFiles, clients: dict[str, InlineClient], per_gerai: int) -> None:
    for g, client in clients.items():
        for k in range(per_gerai):
            cmd = m.TakeTicket(id=f"{g}-take-{k:06d}", service=site.config.gerai[g].services[0], print=False)
            client.publish(f"antre/v1/{SITE}/gerai/{g}/cmd", codec.encode(cmd))
        client.wait(lambda: sum(t.endswith("/reply") for t, _, _ in client.messages) >= per_gerai, 60)
        client.messages.clear()


def press_to_display(kind: str, work: Path, durability: str = "full") -> dict[str, float]:
    site = bench_site(work / f"press-{kind}-{durability}", PRESS_GERAI, PRESS_GERAI, durability)
    per_gerai = PRESS_CALLS // PRESS_GERAI + 10
    with Stack(kind, site):
        clients = {
            g: client(site, Identity(Role.GERAI, g),
                      [f"antre/v1/{SITE}/gerai/{g}/state", f"antre/v1/{SITE}/gerai/{g}/reply"])
            for g in site.config.gerai
        }
        issue_tickets(site, clients, per_gerai)
        for c in clients.values():  # settle: the retained states of the issuing phase
            c.pump(0.05)
            c.messages.clear()
        lat = []
        calls: Counter[str] = Counter()
        gerai = list(clients)
        for i in range(PRESS_CALLS + 100):
            g = gerai[i % len(gerai)]
            gc = clients[g]
            calls[g] += 1
            expected = f"{prefix(gerai.index(g) % PRESS_GERAI)}{calls[g]:04d}"
            gc.messages.clear()
            start = time.perf_counter()
            gc.publish(f"antre/v1/{SITE}/gerai/{g}/cmd", codec.encode(m.CallNext(id=f"{g}-call-{i:06d}")))

            def shown() -> float | None:
                for topic, payload, at in gc.messages:
                    if topic.endswith("/state") and codec.decode(payload, "state", m.GeraiState).ticket == expected:
                        return at
                return None

            gc.wait(lambda: shown() is not None, 10)
            if i >= 100:  # warm-up
                lat.append(shown() - start)  # type: ignore[operator]
        for c in clients.values():
            c.close()
    return ms(lat)


def central_work(work: Path) -> dict[str, float]:
    """The central's own work for one call, in process with no MQTT: the engine and the log's commit, for a
    durable log and for one without fsync.  A durable press to display can be no faster than the floor plus
    the durable figure: that sum, against the floor, is the best ratio any design keeping "acknowledged means
    committed" could reach on this disk."""
    from antre.central.service import QueueService
    from antre.central.store import EventStore

    out: dict[str, float] = {}
    for durability in ("full", "off"):
        site = bench_site(work / f"inproc-{durability}", PRESS_GERAI, PRESS_GERAI, durability)
        store = EventStore(work / f"inproc-{durability}" / "log.db", SITE, durability)
        try:
            now = time.time()
            service = QueueService.open(site.config, store, now)
            gerai = list(site.config.gerai)
            per_gerai = PRESS_CALLS // len(gerai) + 10
            for g in gerai:
                service.handle_batch([("gerai", g, m.TakeTicket(id=f"{g}-take-{k:06d}",
                                                                service=site.config.gerai[g].services[0], print=False))
                                      for k in range(per_gerai)], now)
            lat = []
            for i in range(PRESS_CALLS + 100):
                g = gerai[i % len(gerai)]
                start = time.perf_counter()
                handled = service.handle("gerai", g, m.CallNext(id=f"{g}-call-{i:06d}"), time.time())
                took = time.perf_counter() - start
                assert handled.reply.ok and handled.reply.ticket, handled.reply
                if i >= 100:  # warm-up
                    lat.append(took)
        finally:
            store.close()
        stats = ms(lat)
        out[f"{durability}_p50"], out[f"{durability}_p99"] = stats["p50"], stats["p99"]
    return out


# ---------------------------------------------------------- press to lobby

LOBBY_CALLS = 500
LOBBY_GAP = 0.025  # seconds between presses: far busier than any MPP, slower than the board's 20 ms coalescing


def press_to_lobby(kind: str, work: Path) -> dict[str, float]:
    """A gerai's call until a lobby (contract 2: it reads every gerai's state) shows it."""
    site = bench_site(work / f"lobby-{kind}", PRESS_GERAI, PRESS_GERAI)  # with lobby-1
    per_gerai = LOBBY_CALLS // PRESS_GERAI + 5
    with Stack(kind, site):
        clients = {
            g: client(site, Identity(Role.GERAI, g), [f"antre/v1/{SITE}/gerai/{g}/reply"])
            for g in site.config.gerai
        }
        issue_tickets(site, clients, per_gerai)
        lobby = client(site, Identity(Role.LOBBY, "lobby-1"), [f"antre/v1/{SITE}/gerai/+/state"])
        gerai = list(clients)
        calls: Counter[str] = Counter()
        lat = []
        pace = threading.Event()  # never set: its wait() paces the presses
        for i in range(LOBBY_CALLS):
            g = gerai[i % len(gerai)]
            calls[g] += 1
            expected = f"{prefix(gerai.index(g) % PRESS_GERAI)}{calls[g]:04d}"
            lobby.messages.clear()
            start = time.perf_counter()
            clients[g].publish(f"antre/v1/{SITE}/gerai/{g}/cmd", codec.encode(m.CallNext(id=f"{g}-lobby-{i:06d}")))

            def on_board() -> float | None:
                for _, payload, at in lobby.messages:
                    state = codec.decode(payload, "state", m.GeraiState)
                    if state.gerai == g and state.ticket == expected:
                        return at
                return None

            lobby.wait(lambda: on_board() is not None, 10)
            lat.append(on_board() - start)  # type: ignore[operator]
            clients[g].pump(0)
            pace.wait(LOBBY_GAP)  # pacing between presses, like people at a desk
        for c in [*clients.values(), lobby]:
            c.close()
    return ms(lat[20:])


# ------------------------------------------------------------- throughput


LOADGEN_PROCESSES = 2  # one per core of this machine: the gerai's side, apart from the central's process


def throughput(kind: str, work: Path) -> dict[str, Any]:
    """Durable commands a second one central applies while 200 gerai keep commands in flight.

    The gerai are simulated by :mod:`bench.loadgen` in processes of their own (each gerai its own
    identity and connection), so the central's process is what is measured, not the load's
    client.  Every command must have exactly one reply, every number be issued once, and every
    called ticket be one that was issued, called once."""
    site = bench_site(work / f"throughput-{kind}", THROUGHPUT_GERAI, 20)
    with Stack(kind, site) as stack, Load(site, list(site.config.gerai), THROUGHPUT_WINDOW, LOADGEN_PROCESSES) as load:
        count_from, stop_at = load.go(warmup=2.0, seconds=THROUGHPUT_SECONDS)
        pace = threading.Event()  # never set: its wait() paces this thread to the counting window
        assert stack.broker.proc is not None
        central, broker = psutil.Process(stack.central_pid), psutil.Process(stack.broker.proc.pid)
        loads = [psutil.Process(p.pid) for p in load.procs]

        def cpu_of(procs: list[psutil.Process]) -> float:
            return sum(sum(p.cpu_times()[:2]) for p in procs)

        pace.wait(max(0.0, count_from - time.monotonic()))
        cpu0, broker0, load0 = cpu_of([central]), cpu_of([broker]), cpu_of(loads)
        pace.wait(max(0.0, stop_at - time.monotonic()))
        cpu = (cpu_of([central]) - cpu0) / THROUGHPUT_SECONDS * 100
        broker_cpu = (cpu_of([broker]) - broker0) / THROUGHPUT_SECONDS * 100
        load_cpu = (cpu_of(loads) - load0) / THROUGHPUT_SECONDS * 100
        result = load.result()
    return {
        "cmds_per_s": round(result.counted / THROUGHPUT_SECONDS, 1),
        "central_cpu_pct": round(cpu, 1),
        "broker_cpu_pct": round(broker_cpu, 1),
        "load_cpu_pct": round(load_cpu, 1),
        "commands": len(result.sent),
        "lost": result.lost,
        "doubled": result.doubled,
        "duplicate_replies": result.duplicate_replies,
        "load_processes": LOADGEN_PROCESSES,
    }


# ------------------------------------------------------------------ fleet


def fleet(kind: str, work: Path) -> dict[str, Any]:
    site = bench_site(work / f"fleet-{kind}", FLEET_GERAI, 20)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, FLEET_GERAI * 3)), hard))
    with Stack(kind, site) as stack:
        proc = psutil.Process(stack.central_pid)

        async def run() -> dict[str, Any]:
            stop = asyncio.Event()
            up = {"n": 0}

            def connected() -> None:
                up["n"] += 1

            tasks = []
            for i, g in enumerate(site.config.gerai):
                tasks.append(asyncio.ensure_future(idle_gerai(
                    "127.0.0.1", site.port, SITE, g, site.secrets.password(Identity(Role.GERAI, g)),
                    FLEET_HEALTH_EVERY, stop, connected)))
                if i % 100 == 99:
                    await asyncio.sleep(0.2)  # ramp the connections up like a morning boot
            deadline = time.monotonic() + 120
            while up["n"] < FLEET_GERAI and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if up["n"] < FLEET_GERAI:
                raise RuntimeError(f"only {up['n']} of {FLEET_GERAI} gerai connected")
            await asyncio.sleep(5)  # let the connection storm settle
            cpu0, t0 = sum(proc.cpu_times()[:2]), time.monotonic()
            await asyncio.sleep(FLEET_WINDOW)
            elapsed = time.monotonic() - t0
            cpu = (sum(proc.cpu_times()[:2]) - cpu0) / elapsed * 100
            rss = proc.memory_info().rss / 2**20
            stop.set()
            sent = sum(await asyncio.gather(*tasks, return_exceptions=False))
            return {"gerai": up["n"], "cpu_pct": round(cpu, 2), "rss_mb": round(rss, 1), "health_reports": sent}

        return asyncio.run(run())


# ------------------------------------------------------------------- edge


def edge_footprint(kind: str, work: Path) -> dict[str, Any]:
    """Start `antre edge` on mock hardware; time until its presence is online, and its RSS then."""
    site = bench_site(work / f"edge-{kind}", 2, 1)
    device = site.dir / "device.toml"
    device.write_text(site.agent_config("gerai", "g0000", extra={
        "button": [{"name": "utama", "pin": 17, "press": "call_next"}],
        "display": {"type": "ssd1306"}, "printer": {"port": "mock"},
    }), encoding="utf-8")
    with Stack(kind, site):
        watcher = client(site, Identity(Role.MONITOR, "t1"), [f"antre/v1/{SITE}/gerai/g0000/presence"])
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "antre", "edge", "--config", str(device)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(ROOT), "ANTRE_MOCK": "1"})
        try:
            def online() -> bool:
                return any(b'"online":true' in p for _, p, _ in watcher.messages)

            watcher.wait(online, 30)
            ready = time.perf_counter() - started
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
        finally:
            proc.terminate()
            proc.wait(10)
            watcher.close()
    return {"ready_s": round(ready, 3), "rss_mb": round(rss, 1)}


# ------------------------------------------------------------------- main


def versions() -> dict[str, str]:
    out: dict[str, str] = {"python": platform.python_version()}
    for dist in ("paho-mqtt", "amqtt", "msgspec", "antre"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "?"
    binary = mosquitto_binary()
    if binary:
        first = subprocess.run([binary, "-h"], capture_output=True, text=True).stdout.splitlines()
        out["mosquitto"] = first[0] if first else "?"
    out["sqlite"] = __import__("sqlite3").sqlite_version
    return out


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)}


def attempt(name: str, fn: Any, *args: Any) -> Any:
    log(f"-- {name}")
    started = time.monotonic()
    try:
        result = fn(*args)
    except Exception as exc:  # a part that fails is reported as null with its reason
        log(f"   FAILED: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}
    log(f"   {result}  ({time.monotonic() - started:.1f}s)")
    return result


def main() -> int:
    if mosquitto_binary() is None:
        print("make bench needs Mosquitto: apt-get install mosquitto", file=sys.stderr)
        return 2
    started = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="antre-bench-"))
    results: dict[str, dict[str, Any]] = {}
    try:
        for kind in ("mosquitto", "embedded"):
            r: dict[str, Any] = {}
            r["floor"] = attempt(f"{kind}: floor", floor, kind, work)
            r["press"] = attempt(f"{kind}: press to display (durable)", press_to_display, kind, work, "full")
            r["lobby"] = attempt(f"{kind}: press to lobby board", press_to_lobby, kind, work)
            r["press_off"] = attempt(f"{kind}: press to display (non-durable)", press_to_display, kind, work, "off")
            r["central_work"] = attempt(f"{kind}: the central's work per call, in process", central_work,
                                        work / kind)
            r["throughput"] = attempt(f"{kind}: throughput", throughput, kind, work)
            r["fleet"] = attempt(f"{kind}: fleet", fleet, kind, work)
            r["edge"] = attempt(f"{kind}: edge agent footprint", edge_footprint, kind, work)
            if kind == "mosquitto":  # an MPP's console runs beside Mosquitto; once is enough on 2 cores
                from bench.console import console_part

                r["console"] = attempt(f"{kind}: operations console", console_part, kind, work)
                from bench.ticketpage import ticket_page_part

                r["ticket_page"] = attempt(f"{kind}: the ticket page (100 phones)", ticket_page_part, kind, work)
            results[kind] = r
        results["sizes"] = attempt("fan-out and lobby sizes (in-process bus)", fanout.run) or {}
        results["startup"] = attempt("start-up with 1 day and 1 year of history", startup.run, work / "startup")
        results["reports"] = attempt("reports of one day and a year of history", reports.run, work / "reports")
        from bench import skmyear

        results["skm_year"] = attempt("the SKM report of a year", skmyear.run, work / "skm")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def flat(r: dict[str, Any]) -> dict[str, Any]:
        def get(part: str, key: str) -> Any:
            return r.get(part, {}).get(key)

        return {
            "floor_p50_ms": get("floor", "p50"), "floor_p99_ms": get("floor", "p99"),
            "floor_max_ms": get("floor", "max"),
            "press_to_display_p50_ms": get("press", "p50"), "press_to_display_p99_ms": get("press", "p99"),
            "press_to_display_max_ms": get("press", "max"),
            "press_to_lobby_p50_ms": get("lobby", "p50"), "press_to_lobby_p99_ms": get("lobby", "p99"),
            "throughput_cmds_per_s": get("throughput", "cmds_per_s"),
            "throughput_central_cpu_pct": get("throughput", "central_cpu_pct"),
            "throughput_broker_cpu_pct": get("throughput", "broker_cpu_pct"),
            "throughput_load_cpu_pct": get("throughput", "load_cpu_pct"),
            "fleet_gerai": get("fleet", "gerai"), "fleet_cpu_pct": get("fleet", "cpu_pct"),
            "fleet_rss_mb": get("fleet", "rss_mb"),
            "edge_rss_mb": get("edge", "rss_mb"), "edge_ready_s": get("edge", "ready_s"),
            "nondurable_press_to_display_p50_ms": get("press_off", "p50"),
            "nondurable_press_to_display_p99_ms": get("press_off", "p99"),
            "central_work_durable_p50_ms": get("central_work", "full_p50"),
            "central_work_durable_p99_ms": get("central_work", "full_p99"),
            "central_work_nondurable_p50_ms": get("central_work", "off_p50"),
            "lost": get("throughput", "lost"), "doubled": get("throughput", "doubled"),
            "console_press_to_dashboard_p50_ms": get("console", "press_to_dashboard_p50"),
            "console_press_to_dashboard_p99_ms": get("console", "press_to_dashboard_p99"),
            "console_idle_cpu_pct": get("console", "idle_cpu_pct"),
            "console_busy_cpu_pct": get("console", "busy_cpu_pct"),
            "console_rss_mb": get("console", "busy_rss_mb"),
            "ticket_page_call_to_phone_p50_ms": get("ticket_page", "call_to_phone_p50"),
            "ticket_page_call_to_phone_p99_ms": get("ticket_page", "call_to_phone_p99"),
            "ticket_page_console_cpu_pct": get("ticket_page", "console_cpu_pct"),
        }

    mosq, emb = flat(results["mosquitto"]), flat(results["embedded"])
    doc = {**mosq, "embedded": emb, "sizes": results["sizes"], "raw": results, "versions": versions(),
           "machine": machine(), "duration_s": round(time.monotonic() - started, 1)}
    (OUT / "results.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(render_table(mosq, emb, doc))
    print(render_sizes(results["sizes"]))
    print("\n" + startup.render(results["startup"]))
    print("\n" + reports.render(results["reports"] or {"error": "did not run"}))
    from bench import skmyear

    print("\n" + skmyear.render(results.get("skm_year") or {}))
    bad = [k for k in ("lost", "doubled") for r in (mosq, emb) if r[k] is None or r[k] > 0]
    if bad:
        print(f"\nFAIL: commands lost or doubled, or the check did not run: {bad}", file=sys.stderr)
        return 1
    return 0


def render_table(mosq: dict[str, Any], emb: dict[str, Any], doc: dict[str, Any]) -> str:
    def f(v: Any, unit: str = "") -> str:
        return "null" if v is None else f"{v}{unit}"

    def ratio(a: Any, b: Any) -> str:
        return "null" if a is None or b is None or not b else f"{a / b:.2f}x"

    def best(r: dict[str, Any]) -> str:
        floor_p50, work_p50 = r["floor_p50_ms"], r["central_work_durable_p50_ms"]
        return "null" if floor_p50 is None or work_p50 is None else ratio(floor_p50 + work_p50, floor_p50)

    rows = [
        ("floor p50 / p99 (ms)", f"{f(mosq['floor_p50_ms'])} / {f(mosq['floor_p99_ms'])}",
         f"{f(emb['floor_p50_ms'])} / {f(emb['floor_p99_ms'])}", "the transport's best"),
        ("press to display p50 / p99 (ms)",
         f"{f(mosq['press_to_display_p50_ms'])} / {f(mosq['press_to_display_p99_ms'])}",
         f"{f(emb['press_to_display_p50_ms'])} / {f(emb['press_to_display_p99_ms'])}", "p50 <= 1.5x floor, p99 < 5"),
        ("  ratio to floor p50 / p99",
         f"{ratio(mosq['press_to_display_p50_ms'], mosq['floor_p50_ms'])} / "
         f"{ratio(mosq['press_to_display_p99_ms'], mosq['floor_p99_ms'])}",
         f"{ratio(emb['press_to_display_p50_ms'], emb['floor_p50_ms'])} / "
         f"{ratio(emb['press_to_display_p99_ms'], emb['floor_p99_ms'])}", ""),
        ("press to display, non-durable p50 (ms)", f(mosq["nondurable_press_to_display_p50_ms"]),
         f(emb["nondurable_press_to_display_p50_ms"]), "the price of fsync"),
        ("central's work per call in process, durable / non-durable p50 (ms)",
         f"{f(mosq['central_work_durable_p50_ms'])} / {f(mosq['central_work_nondurable_p50_ms'])}",
         f"{f(emb['central_work_durable_p50_ms'])} / {f(emb['central_work_nondurable_p50_ms'])}",
         "engine + commit, no MQTT"),
        ("  best durable press: (floor + durable work) / floor",
         best(mosq), best(emb), "1.5x is out of reach when this is over it"),
        ("press to lobby board p50 / p99 (ms)",
         f"{f(mosq['press_to_lobby_p50_ms'])} / {f(mosq['press_to_lobby_p99_ms'])}",
         f"{f(emb['press_to_lobby_p50_ms'])} / {f(emb['press_to_lobby_p99_ms'])}", "one more hop than the display"),
        ("throughput, durable (cmds/s)", f(mosq["throughput_cmds_per_s"]), f(emb["throughput_cmds_per_s"]),
         ">= 5000"),
        ("  CPU meanwhile: central / broker / load (% of a core)",
         f"{f(mosq['throughput_central_cpu_pct'])} / {f(mosq['throughput_broker_cpu_pct'])} / "
         f"{f(mosq['throughput_load_cpu_pct'])}",
         f"{f(emb['throughput_central_cpu_pct'])} / {f(emb['throughput_broker_cpu_pct'])} / "
         f"{f(emb['throughput_load_cpu_pct'])}", "2 cores in all; the load: 2 processes of 100 gerai"),
        ("  lost / doubled", f"{f(mosq['lost'])} / {f(mosq['doubled'])}", f"{f(emb['lost'])} / {f(emb['doubled'])}",
         "0 / 0"),
        (f"fleet: {f(mosq['fleet_gerai'])} idle gerai, central CPU (% of a core)", f(mosq["fleet_cpu_pct"]),
         f(emb["fleet_cpu_pct"]), "< 5"),
        ("fleet: central RSS (MB)", f(mosq["fleet_rss_mb"]), f(emb["fleet_rss_mb"]), "< 200"),
        ("edge agent RSS (MB) / ready (s)", f"{f(mosq['edge_rss_mb'])} / {f(mosq['edge_ready_s'])}",
         f"{f(emb['edge_rss_mb'])} / {f(emb['edge_ready_s'])}", "< 40 / < 2"),
        ("console: press to dashboard p50 / p99 (ms)",
         f"{f(mosq['console_press_to_dashboard_p50_ms'])} / {f(mosq['console_press_to_dashboard_p99_ms'])}",
         "not run", "200 devices, 10 SSE streams"),
        ("console: CPU idle / pressing (% of a core)",
         f"{f(mosq['console_idle_cpu_pct'])} / {f(mosq['console_busy_cpu_pct'])}", "not run", "< 10 / < 50"),
        ("console: RSS (MB)", f(mosq["console_rss_mb"]), "not run", "< 150"),
        ("ticket page: call to phone p50 / p99 (ms)",
         f"{f(mosq['ticket_page_call_to_phone_p50_ms'])} / {f(mosq['ticket_page_call_to_phone_p99_ms'])}",
         "not run", "p50 < 100 (100 phones, SSE)"),
        ("ticket page: console CPU, 100 phones following (% of a core)", f(mosq["ticket_page_console_cpu_pct"]),
         "not run", "< 50"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [
        f"antre benchmark on {doc['machine']['cpu']} x{doc['machine']['cores']}, {doc['machine']['platform']}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in doc["versions"].items()),
        "",
        f"{'':<{width}}  {'mosquitto':>22}  {'embedded':>22}  target",
    ]
    lines += [f"{name:<{width}}  {a:>22}  {b:>22}  {t}" for name, a, b, t in rows]
    lines.append(f"\n({doc['duration_s']} s; every figure in bench/out/results.json)")
    return "\n".join(lines)


def render_sizes(sizes: dict[str, Any]) -> str:
    """The fan-out and lobby rows: what grows with the site, and what must not."""
    lines = ["", "cost per ticket (messages / bytes the central publishes; every gerai of the service online)"]
    rows = sizes.get("per_ticket", [])
    for n in (10, 100, 1000):
        by = {r["contract"]: r for r in rows if r["gerai_per_service"] == n}
        old, new = by.get(1), by.get(2)
        def cell(r: dict[str, Any] | None) -> str:
            return "null" if r is None else f"{r['msgs_per_ticket']:g} msgs / {r['bytes_per_ticket']} B"

        lines.append(f"  {n:>5} gerai per service   contract 1 readers {cell(old):>24}   contract 2 readers "
                     f"{cell(new):>18}   target (contract 2): <= 3 msgs, flat")
    lines.append("what a lobby receives (20 services, every gerai serving)")
    for r in sizes.get("lobby", []):
        over = " (over contract 1's 500-gerai limit)" if r["board_over_contract1_limit"] else ""
        lines.append(
            f"  {r['gerai']:>5} gerai   contract 1 board per change {r['board_bytes']:>8} B{over}   contract 2: "
            f"snapshot at subscribe {r['snapshot_bytes']} B, a call {r['call_bytes']} B, a ticket "
            f"{r['ticket_bytes']} B   target: per change flat, no ceiling")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
