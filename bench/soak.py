"""``make soak``: a whole MPP day, compressed, with faults injected at random; counted.

The example site (MPP Kota Kupang, 13 gerai, 15 services) runs a full Friday
(07:40-15:00 WITA, prayer break included) on a simulated clock ``--speed``
times faster than real time: a real ``antre central`` process and a real
broker (Mosquitto with the generated config by default, or the embedded one),
and the real edge agent (link clock, outbox with resend and deadline, epoch
rule) for every gerai and the ticket kiosk.  Citizens arrive all day (over
3,000 tickets), gerai call, serve, recall, mark no-shows, pause and transfer.

Every ``--fault-every`` seconds one fault from the fault suite is injected at
random: the central SIGKILLed and restarted, the broker restarted, the broker
frozen (SIGSTOP) and resumed, the link of gerai g01 hung (a TCP proxy that
stops forwarding) or dropped, a second central started on the same log or on
another one, a burst of malformed payloads.  After each, the load pauses and
the time until every gerai display shows what the log says is measured.

At the end, with :mod:`antre.sim.faults` on the central's own log: every
command that got an ok reply was applied exactly once (lost 0, doubled 0),
numbers are contiguous per service, and the table is printed.

The press deadline of the central is scaled with the speed (5 real seconds).
A device's link clock anchors the central's time to its own monotonic clock,
which runs at real-time rate; the soak's central runs ``speed`` times faster,
so here each agent's link clock is replaced by the soak's shared simulated
clock (devices whose clocks agree with the central's, as with NTP).  The link
clock itself, and the deadline in real time, are tested by the fault suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import logging
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.link.clock import LinkClock
from antre.broker.wire.topics import Channel, Role
from antre.edge.config import parse_device
from antre.edge.setup import Assembly, assemble
from antre.sim.faults import CommandLedger, TcpProxy, audit_log
from antre.sim.devices import SimDevice as Device
from antre.sim.procs import BrokerProc, CentralProc, free_port, kill, wait_for
from antre.sim.sitefiles import SiteFiles, example_site

log = logging.getLogger("soak")

#: relative demand per service of the example site (citizens, not tickets: quotas refuse some)
ARRIVAL_WEIGHTS = {"ktp-el": 8, "kk": 6, "ikd": 3, "jkn": 3, "jht": 1, "tanah": 1, "paspor": 1, "npwp": 3,
                   "pbb": 3, "bphtb": 1, "pln": 4, "air": 4, "bank": 5, "pos": 4, "ahu": 2}

FAULTS = ["central_sigkill", "broker_restart", "broker_sigstop", "link_hang", "link_drop",
          "second_central_same_log", "second_central_other_log", "malformed_burst"]


def soak_site(directory: Path, port: int, speed: float) -> SiteFiles:
    """The example site with the press deadline scaled to the speed (its own broker and log)."""
    return SiteFiles(directory, port, base=example_site(), central={"command_deadline_s": min(600.0, 5.0 * speed)})


@dataclass
class FaultRecord:
    name: str
    sim_at: str
    detail: str = ""
    converge_s: float | None = None


@dataclass(order=True)
class Job:
    at: float  # monotonic
    seq: int
    action: Callable[[], None] = field(compare=False)


class SharedSimClock(LinkClock):
    """A link clock that reads the soak's simulated clock (what the central reads)."""

    def __init__(self, now: Callable[[], float]) -> None:
        super().__init__()
        self._now = now

    def now(self) -> float:
        return self._now()

    def pong(self, ping_id: str, central_ts: float) -> bool:
        return False


class Day:
    """The load: arrivals at the kiosk and each gerai's working loop, driven by replies."""

    def __init__(self, site: SiteFiles, speed: float, start: float, seed: int, proxy: TcpProxy) -> None:
        self.site, self.speed, self.start = site, speed, start
        self.config = site.config
        self.rng = random.Random(seed)
        self.ledger = CommandLedger()
        self.agents: dict[str, Assembly] = {}
        self.proxy = proxy
        self.jobs: list[Job] = []
        self._seq = 0
        self._lock = threading.Lock()
        self.paused = threading.Event()
        self.stop = threading.Event()
        self.codes: Counter[str] = Counter()
        self.pending: dict[str, tuple[str, str]] = {}  # cmd id -> (device, kind)
        self.anchor = time.time()  # the wall-clock moment the simulated day starts (shared with the central)

    # ----------------------------------------------------------- clocks

    def sim_now(self) -> float:
        return self.start + (time.time() - self.anchor) * self.speed

    def after_sim(self, seconds: float, action: Callable[[], None]) -> None:
        self.schedule(time.monotonic() + seconds / self.speed, action)

    def schedule(self, at: float, action: Callable[[], None]) -> None:
        with self._lock:
            self._seq += 1
            heapq.heappush(self.jobs, Job(at, self._seq, action))

    # ----------------------------------------------------------- devices

    def start_devices(self) -> None:
        devices = [("gerai", g) for g in self.config.gerai] + [("kiosk", "kiosk-1")]
        for role, device in devices:
            port = self.proxy.port if device == "g01" else None
            text = self.site.agent_config(role, device, port=port, extra={"ping_interval_s": 1})
            a = assemble(parse_device(text, f"{device}.toml"))
            a.agent.link_clock = SharedSimClock(self.sim_now)
            a.agent.listeners.append(self._listener(device))
            a.agent.start()
            self.agents[device] = a
        for device, a in self.agents.items():
            if not a.agent.ready.wait(20):
                raise RuntimeError(f"{device} did not connect")

    def _listener(self, device: str) -> Callable[[Channel, m.Message], None]:
        def on(channel: Channel, msg: m.Message) -> None:
            if isinstance(msg, m.Reply):
                self.ledger.replied(device, msg)
                with self._lock:
                    sent = self.pending.pop(msg.cmd, None)
                if sent is not None:
                    self.codes[msg.code] += 1
                    self._react(device, sent[1], msg)
        return on

    def send(self, device: str, make: Callable[[str, float], m.AnyCommand]) -> None:
        agent = self.agents[device].agent
        cmd = make(agent.next_id(), agent.link_clock.now())
        if agent.link.connected.is_set():
            self.ledger.sent(device, cmd)
            with self._lock:
                self.pending[cmd.id] = (device, m.kind_of(type(cmd)))
            agent.send(cmd)
        else:  # the device refuses a press while offline (TIDAK TERKIRIM): nothing is sent
            self.codes["refused_offline"] += 1
            if device in self.config.gerai:
                self.after_sim(30, lambda: self.work(device))

    # ----------------------------------------------------------- behaviour

    def arrivals(self) -> None:
        """Citizens: about 5,500 over the day, busiest in the morning; the quota services run out
        (their later citizens are refused), the others issue well over 3,000 numbers."""
        local = dt.datetime.fromtimestamp(self.sim_now(), self.config.zone)
        hour = local.hour + local.minute / 60
        if hour >= 15:
            return
        rate_per_hour = 1000 if 8 <= hour < 11 else 720 if hour < 14.5 else 150
        services = list(self.config.services)
        weights = [ARRIVAL_WEIGHTS.get(s, 2) for s in services]
        service = self.rng.choices(services, weights)[0]
        priority = self.rng.choices(["regular", "elderly", "disabled", "pregnant", "child"], [88, 6, 2, 2, 2])[0]
        self.send("kiosk-1", lambda i, ts: m.TakeTicket(id=i, ts=ts, service=service, priority=priority,  # type: ignore[arg-type]
                                                       print=False))
        self.after_sim(self.rng.expovariate(rate_per_hour / 3600), self.arrivals)

    def work(self, gerai: str) -> None:
        """A gerai's next step: usually call the next citizen (completing the current one)."""
        state = self.agents[gerai].agent.state
        holding = state is not None and state.ticket is not None
        r = self.rng.random() if holding else 1.0
        if r < 0.04:
            self.send(gerai, lambda i, ts: m.NoShow(id=i, ts=ts))
        elif r < 0.08:
            self.send(gerai, lambda i, ts: m.Recall(id=i, ts=ts))
        elif r < 0.10:
            services = [s for s in self.config.services if s not in self.config.gerai[gerai].services]
            target = self.rng.choice(services)
            self.send(gerai, lambda i, ts: m.Transfer(id=i, ts=ts, service=target, note="soak"))
        elif r < 0.11:
            self.send(gerai, lambda i, ts: m.Pause(id=i, ts=ts, reason="rapat singkat"))
        else:
            self.send(gerai, lambda i, ts: m.CallNext(id=i, ts=ts))

    def _react(self, device: str, kind: str, reply: m.Reply) -> None:
        if device not in self.config.gerai:
            return
        if kind == "pause" and reply.ok:
            self.after_sim(self.rng.uniform(300, 900), lambda: self.send(device, lambda i, ts: m.Resume(id=i, ts=ts)))
            return
        if kind == "resume" or not reply.ok or reply.code == "queue_empty":
            wait = {"queue_empty": 30, "no_current": 5, "gerai_paused": 5, "on_break": 600}.get(reply.code, 60)
            if reply.code == "gerai_paused":
                self.send(device, lambda i, ts: m.Resume(id=i, ts=ts))
            self.after_sim(wait, lambda: self.work(device))
            return
        self.after_sim(self.rng.uniform(45, 200), lambda: self.work(device))

    def run(self) -> None:
        """Run scheduled jobs until stopped; while paused, hold them."""
        while not self.stop.is_set():
            if self.paused.is_set():
                self.stop.wait(0.05)
                continue
            with self._lock:
                job = self.jobs[0] if self.jobs else None
                if job is not None and job.at <= time.monotonic():
                    heapq.heappop(self.jobs)
                else:
                    job = None
            if job is None:
                self.stop.wait(0.005)
                continue
            try:
                job.action()
            except Exception:
                log.exception("soak job failed")

    def settle(self, timeout: float = 60) -> None:
        wait_for(lambda: all(len(a.agent.outbox) == 0 for a in self.agents.values()), timeout,
                 "every command answered or expired")

    def close(self) -> None:
        for a in self.agents.values():
            a.close()


class Soak:
    def __init__(self, work: Path, broker: str, speed: float, fault_every: float, seed: int,
                 day: dt.date) -> None:
        self.work, self.speed, self.fault_every = work, speed, fault_every
        self.rng = random.Random(seed)
        self.site = soak_site(work, free_port(), speed)
        self.broker = BrokerProc(broker, self.site)
        zone = self.site.config.zone
        self.start = dt.datetime.combine(day, dt.time(7, 40), zone).timestamp()
        self.proxy = TcpProxy("127.0.0.1", self.site.port, name="g01-link")
        self.day = Day(self.site, speed, self.start, seed, self.proxy)
        self.central = self._central([])
        self.faults: list[FaultRecord] = []
        self.extra_logs: list[Path] = []

    def _central(self, extra: list[str], name: str = "central") -> CentralProc:
        proc = CentralProc(self.site, extra)
        proc.name = name
        proc.log_path = self.site.dir / f"{name}.log"
        return proc

    def _launch_central(self, proc: CentralProc) -> None:
        """Start a central on the soak's simulated clock (every process shares its wall-clock anchor)."""
        stamp = dt.datetime.fromtimestamp(self.start, self.site.config.zone).isoformat()
        base = proc.argv[:proc.argv.index("central") + 1 + 2]  # python -m antre central --config X
        rest = proc.argv[len(base):]
        while "--simulate-from" in rest:
            i = rest.index("--simulate-from")
            del rest[i:i + 6]
        proc.argv = base + rest + ["--simulate-from", stamp, "--speed", str(self.speed),
                                   "--simulate-anchor", repr(self.day.anchor)]
        proc.start()

    # ----------------------------------------------------------- faults

    def inject(self, name: str) -> FaultRecord:
        rec = FaultRecord(name, dt.datetime.fromtimestamp(self.day.sim_now(), self.site.config.zone).strftime("%H:%M"))
        if name == "central_sigkill":
            kill(self.central)
            self._launch_central(self.central)
            self.central.wait_ready(60)
        elif name == "broker_restart":
            self.broker.signal(signal.SIGTERM)
            self.broker.wait(30)
            self.broker.start()
        elif name == "broker_sigstop":
            self.broker.signal(signal.SIGSTOP)
            threading.Event().wait(3.0)  # the fault's length
            self.broker.signal(signal.SIGCONT)
        elif name == "link_hang":
            self.proxy.hang()
            threading.Event().wait(8.0)
            self.proxy.resume()
        elif name == "link_drop":
            rec.detail = f"{self.proxy.drop()} connection(s) reset"
        elif name in ("second_central_same_log", "second_central_other_log"):
            extra = [] if name.endswith("same_log") else ["--db", str(self.work / f"other-{len(self.faults)}.db")]
            second = self._central(extra, f"central-{len(self.faults)}")
            self._launch_central(second)
            code = second.wait(60)
            self.extra_logs.append(second.log_path)
            rec.detail = f"exit {code}"
            if code not in (3, 4):
                raise RuntimeError(f"the second central exited {code}:\n{second.output()}")
        elif name == "malformed_burst":
            sender = Device(self.site, Role.KIOSK, "kiosk-2")
            try:
                rng = random.Random(len(self.faults))
                payloads = [b'{"v":1,"kind":"take_ticket","id":"k2-%06d","service":"kk\xff"}' % i for i in range(50)]
                payloads += [rng.randbytes(rng.randint(1, 300)) for _ in range(100)]
                payloads += [b"[" * 3000, b'{"v":1,"kind":"call_next","id":"k2-deep-0001","x":' + b"[" * 900 + b"]" * 900 + b"}"]
                expected = {codec.answer_id(p) for p in payloads}
                for p in payloads:
                    sender.link.publish(sender.topics.kiosk("kiosk-2", Channel.CMD), p, qos=1)
                wait_for(lambda: expected <= set(sender.replies), 30, "answers to the malformed burst")
                rec.detail = f"{len(payloads)} payloads, each answered"
            finally:
                sender.close()
        return rec

    def measure(self, rec: FaultRecord) -> None:
        """Pause the load; time until every gerai display shows what the log says."""
        cleared = time.monotonic()
        self.day.paused.set()
        try:
            self.day.settle()
            audit = audit_log(self.site.dir / "central.db", self.site.config)
            agents = {g: self.day.agents[g].agent for g in self.site.config.gerai}
            wait_for(lambda: all(audit.gerai_mismatch(g, a.shown_state()) == [] for g, a in agents.items()), 60,
                     f"every display to converge after {rec.name}")
            rec.converge_s = time.monotonic() - cleared
        finally:
            # the simulated clock kept running while paused: that is fine, citizens keep coming
            self.day.paused.clear()

    # ----------------------------------------------------------- the day

    def run(self, out: Callable[[str], None]) -> bool:
        self.broker.start()
        self._launch_central(self.central)
        self.central.wait_ready(60)
        self.proxy.start()
        self.day.start_devices()
        for g in self.site.config.gerai:
            self.day.schedule(time.monotonic() + self.rng.uniform(0, 2), lambda g=g: self.day.work(g))  # type: ignore[misc]
        self.day.schedule(time.monotonic(), self.day.arrivals)
        driver = threading.Thread(target=self.day.run, name="soak-driver", daemon=True)
        driver.start()
        end = self.start + (7 * 3600 + 20 * 60)  # 15:00
        next_fault = time.monotonic() + self.fault_every
        bag: list[str] = []
        try:
            while self.day.sim_now() < end:
                if time.monotonic() >= next_fault:
                    if not bag:
                        bag = FAULTS[:]
                        self.rng.shuffle(bag)
                    name = bag.pop()
                    out(f"  {dt.datetime.fromtimestamp(self.day.sim_now(), self.site.config.zone):%H:%M} "
                        f"injecting {name}")
                    rec = self.inject(name)
                    self.measure(rec)
                    self.faults.append(rec)
                    next_fault = time.monotonic() + self.fault_every
                threading.Event().wait(0.1)
        finally:
            self.day.stop.set()
            driver.join(10)
        self.day.settle()
        return self.report(out)

    def report(self, out: Callable[[str], None]) -> bool:
        audit = audit_log(self.site.dir / "central.db", self.site.config)
        report = self.day.ledger.check(audit)
        issued = sum(len(v) for d in audit.days for v in d.issued.values())
        out("")
        out(f"{'fault':<28}{'at':>7}  {'converged in':>12}  detail")
        for rec in self.faults:
            conv = f"{rec.converge_s:.2f} s" if rec.converge_s is not None else "-"
            out(f"{rec.name:<28}{rec.sim_at:>7}  {conv:>12}  {rec.detail}")
        conv = [r.converge_s for r in self.faults if r.converge_s is not None]
        out("")
        out(f"faults injected      {len(self.faults)} ({', '.join(f'{k} x{v}' for k, v in Counter(r.name for r in self.faults).items())})")
        if conv:
            out(f"display convergence  median {statistics.median(conv):.2f} s, max {max(conv):.2f} s after a fault")
        out(f"tickets issued       {issued} across {sum(1 for d in audit.days for v in d.issued.values() if v)} services")
        resent = sum(a.agent.outbox.resent for a in self.day.agents.values())
        expired = sum(a.agent.outbox.expired_count for a in self.day.agents.values())
        out(f"commands sent        {report.sent} (devices resent {resent} unanswered ones with the same id; "
            f"{expired} passed their deadline unanswered)")
        out(f"answered             {report.answered}")
        out(f"applied              {report.applied}")
        refused = {k: v for k, v in self.day.codes.items() if k not in (
            "issued", "called", "recalled", "served", "no_show_marked", "transferred", "paused", "resumed",
            "queue_empty", "pong")}
        out(f"refused              {report.refused} ({', '.join(f'{k} {v}' for k, v in sorted(refused.items()))})")
        out(f"unanswered           {report.unanswered} (applied anyway: {report.unanswered_applied})")
        out(f"lost                 {report.lost}")
        out(f"doubled              {report.doubled}")
        violations = audit.violations()
        out(f"log audit            {'clean: numbers contiguous per service, no ticket held twice' if not violations else violations[:5]}")
        ok = report.ok and not violations and issued >= 3000 and report.lost == 0 and report.doubled == 0
        if issued < 3000:
            out(f"NOT A FULL DAY: only {issued} tickets (want at least 3000)")
        for p in report.problems[:10]:
            out(f"  problem: {p}")
        return ok

    def close(self) -> None:
        self.day.close()
        self.proxy.stop()
        self.central.stop()
        self.broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=["mosquitto", "embedded"], default="mosquitto")
    parser.add_argument("--speed", type=float, default=100.0, help="simulated seconds per real second")
    parser.add_argument("--fault-every", type=float, default=20.0, help="real seconds between faults")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--date", default="2026-11-27", help="the (Friday) to play")
    parser.add_argument("--keep", help="keep the site's files (logs, event log) in this directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("amqtt", "transitions", "antre.broker.link.client", "edge.agent"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    logging.getLogger("antre.broker.link.client.paho").setLevel(logging.CRITICAL)  # resets are the faults we inject
    day = dt.date.fromisoformat(args.date)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="antre-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"antre soak: MPP Kota Kupang, {day:%A %d %B %Y} 07:40-15:00 at {args.speed:g}x, {args.broker}, "
          f"a fault every {args.fault_every:g} s; files in {work}")
    soak = Soak(work, args.broker, args.speed, args.fault_every, args.seed, day)
    started = time.monotonic()
    try:
        ok = soak.run(lambda line: print(line, flush=True))
    finally:
        soak.close()
    print(f"\nsoak {'PASSED' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
