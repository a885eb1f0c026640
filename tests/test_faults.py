"""The standing fault suite: bursts under real faults, counted.

Each scenario runs a burst of commands from the real edge agent (the device
code under test: link clock, outbox with resend and deadline, epoch rule) for
three gerai and a kiosk, against a real ``antre central`` process and a real
broker (Mosquitto with the generated config, and the embedded broker), and
injects one fault in the middle of it: the central SIGKILLed and restarted,
the broker restarted, the broker frozen (SIGSTOP) and resumed, a TCP proxy
between a gerai and the broker that hangs or drops the link, a second central
started for the site, a stream of malformed payloads.

Afterwards it counts, with :mod:`antre.sim.faults`, on the central's own log:
every acknowledged command applied exactly once (0 lost, 0 doubled), ticket
numbers contiguous per service, no press applied later than the deadline,
every display converged to the committed state, and the central still serves.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Channel, Role
from antre.edge.config import parse_device
from antre.edge.setup import Assembly, assemble
from antre.sim.faults import CommandLedger, LogAudit, TcpProxy, audit_log
from tests.harness import CentralProc, Device, Site, Stack, agent_config, kill, running_site, wait_for

BROKERS = ["mosquitto", "embedded"]
DEADLINE_S = 5.0  # the test site's [central] command_deadline_s (the default)
GERAI = ["g1", "g2", "g3"]
SERVICES = {"g1": ["ktp", "kk"], "g2": ["ktp", "kk"], "g3": ["kk"]}

def _pause(seconds: float) -> None:
    """The length of a fault (a frozen broker, a hung link): what is injected, not a timing fix."""
    threading.Event().wait(seconds)


@dataclass
class Fleet:
    """Real edge agents for the gerai and the kiosk, each recording what it sends and gets."""

    site: Site
    proxies: dict[str, TcpProxy] = field(default_factory=dict)
    agents: dict[str, Assembly] = field(default_factory=dict)
    ledger: CommandLedger = field(default_factory=CommandLedger)
    presses: dict[tuple[str, str], float] = field(default_factory=dict)  # (device, id) -> press time (ts)
    _n: int = 0

    def start(self) -> Fleet:
        for device in [*GERAI, "k1"]:
            role = "kiosk" if device == "k1" else "gerai"
            port = self.proxies[device].port if device in self.proxies else None
            assembly = assemble(parse_device(agent_config(self.site, role, device, port=port), f"{device}.toml"))
            assembly.agent.listeners.append(self._listener(device))
            assembly.agent.start()
            self.agents[device] = assembly
        for device, a in self.agents.items():
            assert a.agent.ready.wait(15), f"{device} did not connect"
            wait_for(lambda a=a: a.agent.link_clock.synced, 10, f"{device}'s clock sync")  # type: ignore[misc]
        return self

    def _listener(self, device: str) -> Callable[[Channel, m.Message], None]:
        def on(channel: Channel, msg: m.Message) -> None:
            if isinstance(msg, m.Reply):
                self.ledger.replied(device, msg)
        return on

    def send(self, device: str, make: Callable[[str, float], m.AnyCommand]) -> m.AnyCommand:
        """A press: the command stamped by the agent's link clock, sent through its outbox."""
        agent = self.agents[device].agent
        cmd = make(agent.next_id(), agent.link_clock.now())
        assert cmd.ts is not None
        self.presses[(device, cmd.id)] = cmd.ts
        self.ledger.sent(device, cmd)
        if agent.link.connected.is_set():
            agent.send(cmd)
        return cmd

    def take(self, service: str) -> m.AnyCommand:
        return self.send("k1", lambda i, ts: m.TakeTicket(id=i, ts=ts, service=service, print=False))

    def call(self, gerai: str) -> m.AnyCommand:
        return self.send(gerai, lambda i, ts: m.CallNext(id=i, ts=ts))

    def settle(self, timeout: float = 30) -> None:
        """Until no agent waits for a reply (each command answered or past its deadline)."""
        wait_for(lambda: all(len(a.agent.outbox) == 0 for a in self.agents.values()), timeout,
                 "every command answered or expired")

    def close(self) -> None:
        for a in self.agents.values():
            a.close()
        for p in self.proxies.values():
            p.stop()


def burst(fleet: Fleet, fault: Callable[[], None], *, total: int = 90, at: int = 30,
          pace: float = 0.03) -> None:
    """``total`` presses (tickets at the kiosk, calls at the gerai), ``fault`` injected after ``at``."""
    rng = random.Random(total * 7919 + at)
    for i in range(total):
        if i == at:
            fault()
        if i % 3 == 2:
            fleet.call(GERAI[(i // 3) % len(GERAI)])
        else:
            fleet.take(rng.choice(["ktp", "kk", "ktp", "npwp"]))
        _pause(pace)


def check(stack: Stack, fleet: Fleet, what: str) -> LogAudit:
    """The counts that must hold after any fault."""
    fleet.settle()
    audit = audit_log(stack.site.dir / "central.db", stack.site.config)
    assert audit.violations() == [], f"{what}: {audit.summary()}"
    report = fleet.ledger.check(audit)
    assert (report.lost, report.doubled) == (0, 0) and report.ok, f"{what}: {report}"
    assert report.answered > 0 and report.applied > 0, f"{what}: nothing got through: {report}"
    # no press applied later than the deadline (a hung link must not deliver it as a surprise)
    late = []
    for (device, cid), pressed in fleet.presses.items():
        effect = audit.effect(device, cid)
        for app in effect.applications if effect else []:
            if not app.refused and app.ts - pressed > DEADLINE_S + 0.25:
                late.append(f"{device}/{cid} applied {app.ts - pressed:.1f} s after the press")
    assert late == [], f"{what}: {late}"
    # every display converges to what the log says
    for gid in GERAI:
        agent = fleet.agents[gid].agent
        wait_for(lambda gid=gid, agent=agent: audit.gerai_mismatch(gid, agent.shown_state()) == [], 20,  # type: ignore[misc]
                 f"{what}: {gid}'s display to converge: {audit.gerai_mismatch(gid, agent.shown_state())}")
    # and the central still serves
    cmd = fleet.take("ktp")
    wait_for(lambda: any(e.reply is not None and e.reply.ok for e in fleet.ledger.entries() if e.cmd == cmd.id),
             20, f"{what}: a ticket after the fault")
    print(f"{what}: {report}")
    return audit


@pytest.fixture(params=BROKERS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with running_site(request.param, tmp_path) as s:
        yield s


@pytest.fixture
def fleet(stack: Stack) -> Iterator[Fleet]:
    f = Fleet(stack.site).start()
    try:
        yield f
    finally:
        f.close()


def test_central_sigkilled_mid_burst(stack: Stack, fleet: Fleet) -> None:
    def fault() -> None:
        kill(stack.central)
        stack.central.start()

    burst(fleet, fault)
    stack.central.wait_ready()
    check(stack, fleet, "central SIGKILL")


def test_broker_restarted_mid_burst(stack: Stack, fleet: Fleet) -> None:
    def fault() -> None:
        stack.broker.signal(signal.SIGTERM)
        stack.broker.wait(15)
        stack.broker.start()

    burst(fleet, fault)
    check(stack, fleet, f"{stack.broker.kind} restart")


def test_broker_frozen_and_resumed_mid_burst(stack: Stack, fleet: Fleet) -> None:
    """The presses go on while the broker is frozen (a field finding: after a 3 s freeze of the
    embedded broker the gerai stayed "connected" to sockets the broker had given up on)."""
    def freeze() -> None:
        stack.broker.signal(signal.SIGSTOP)
        try:
            _pause(3.0)
        finally:
            stack.broker.signal(signal.SIGCONT)

    thread = threading.Thread(target=freeze)
    burst(fleet, thread.start, total=150)
    thread.join()
    check(stack, fleet, f"{stack.broker.kind} SIGSTOP 3 s")
    # and every gerai is really back: a press after the fault is answered on each
    for gid in GERAI:
        cmd = fleet.call(gid)
        wait_for(lambda cmd=cmd: any(e.reply is not None for e in fleet.ledger.entries() if e.cmd == cmd.id), 20,  # type: ignore[misc]
                 f"{gid} answered after the freeze")


@pytest.fixture
def proxied(stack: Stack) -> Iterator[Fleet]:
    proxy = TcpProxy("127.0.0.1", stack.site.port, name="g1-link").start()
    f = Fleet(stack.site, proxies={"g1": proxy}).start()
    try:
        yield f
    finally:
        f.close()


def test_hung_link_is_shown_offline_and_presses_are_never_applied_late(stack: Stack, proxied: Fleet) -> None:
    """The field report: a gerai showed MELAYANI for ~10 s on a hung link, and two presses made
    during the hang were applied 11-16 s late, in the same second."""
    fleet = proxied
    proxy = fleet.proxies["g1"]
    agent = fleet.agents["g1"].agent
    seen: dict[str, float] = {}

    def fault() -> None:
        proxy.hang()
        hung = time.monotonic()
        fleet.call("g1")  # two presses into the frozen link
        fleet.call("g1")
        wait_for(lambda: agent.content().status in ("OFFLINE", "!TIDAK ADA JAWABAN")
                 and not agent.link.connected.is_set(), 10, "g1 to show OFFLINE")
        seen["offline_after"] = time.monotonic() - hung
        _pause(max(0.0, 12.0 - (time.monotonic() - hung)))  # a long hang, as in the field
        proxy.resume()  # the link delivers what it held: those presses arrive ~12 s late

    burst(fleet, fault, total=60, at=15)
    audit = check(stack, fleet, f"{stack.broker.kind} hung link")
    print(f"hung link shown OFFLINE after {seen['offline_after']:.2f} s")
    assert seen["offline_after"] < 5.0  # keepalive 2 s: detected within two keepalives
    late_ones = [cid for (dev, cid), _ in fleet.presses.items() if dev == "g1"]
    assert late_ones and audit  # (the no-late-apply rule itself is in check())


def test_dropped_link_reconnects_and_loses_nothing(stack: Stack, proxied: Fleet) -> None:
    fleet = proxied

    def fault() -> None:
        fleet.proxies["g1"].drop()
        fleet.call("g1")

    burst(fleet, fault)
    check(stack, fleet, f"{stack.broker.kind} dropped link")


@pytest.mark.parametrize(("log", "exit_status", "says"), [
    ("same", 3, "is in use by another antre central (pid"),
    ("other", 4, "another antre central is serving site test"),
])
def test_a_second_central_started_mid_burst_does_not_serve(stack: Stack, fleet: Fleet, log: str, exit_status: int,
                                                           says: str) -> None:
    """On the same log the log's lock stops it; on another log (or host) the lease does."""
    other_db = stack.site.dir / "other.db"
    second = CentralProc(stack.site, [] if log == "same" else ["--db", str(other_db)])
    second.name = "central-2"
    second.log_path = stack.site.dir / "central-2.log"
    code: dict[str, int] = {}

    def fault() -> None:
        second.start()
        code["exit"] = second.wait(30)

    burst(fleet, fault)
    assert code["exit"] == exit_status, second.output()
    assert says in second.output()
    check(stack, fleet, f"{stack.broker.kind} second central, {log} log")
    if log == "other":
        assert audit_log(other_db, stack.site.config).events == 0  # it issued nothing


def test_a_frozen_central_that_lost_its_lease_stops_when_it_wakes(stack: Stack, fleet: Fleet) -> None:
    """SIGSTOP the central until its lease lapses, start another one on another log: the new one
    takes over (term + 1); when the old one is resumed it sees the higher term and stops without
    applying anything more (exit 4)."""
    other_db = stack.site.dir / "other.db"
    second = CentralProc(stack.site, ["--db", str(other_db), "--new-epoch"])
    second.name = "central-2"
    second.log_path = stack.site.dir / "central-2.log"
    try:
        stack.central.signal(signal.SIGSTOP)
        second.start()
        second.wait_ready(40)  # after the lease was not renewed while it watched
        fleet.take("kk")
        stack.central.signal(signal.SIGCONT)
        assert stack.central.wait(30) == 4, stack.central.output()
        assert "took over site test" in stack.central.output()
        fleet.settle()
        # the new central serves; a fresh log has a newer epoch: every display follows it
        cmd = fleet.take("ktp")
        wait_for(lambda: any(e.reply is not None and e.reply.ok for e in fleet.ledger.entries()
                             if e.cmd == cmd.id), 20, "a ticket from the new central")
        new_epoch = fleet.agents["k1"].agent.epoch
        for gid in GERAI:
            agent = fleet.agents[gid].agent
            wait_for(lambda agent=agent: agent.state is not None and agent.state.epoch == new_epoch, 20,  # type: ignore[misc]
                     f"{gid} to follow the new epoch")
    finally:
        stack.central.signal(signal.SIGCONT)
        second.stop()


# ------------------------------------------------------------- malformed input

CORPUS: list[bytes] = [
    b'{"v":1,"kind":"take_ticket","id":"g4-c-0000001","service":"ktp\xff\xfe"}',
    b'{"v":1,"kind":"call_next","id":"g4-c-0000002","x":' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"v":1,"kind":"call_next","id":"g4-c-0000003","x":' + b"[" * 500 + b"]" * 500 + b"}",
    b"{" * 1500,
    b'{"v":1,"kind":"call_next","id":"g4-c-0000004","complete_current":"yes"}',
    b'{"v":1,"kind":"call_next","id":"g4-c-0000005","ts":"now"}',
    b'{"v":1,"kind":"call_next","id":"g4-c-0000006","ts":1e999}',
    b'{"v":1,"kind":"recall","id":"g4-c-0000007","ticket":"a12"}',
    b'{"v":1,"kind":"transfer","id":"g4-c-0000008","service":"../../etc"}',
    b'{"v":1,"kind":"gerai_state","gerai":"g4","number":4,"name":"x","status":"idle","waiting":0,"rev":1,"ts":1}',
    b'{"v":2,"kind":"call_next","id":"g4-c-0000009"}',
    b'{"v":1,"kind":"\xf0\x9f\x92\xa3","id":"g4-c-0000010"}',
    b'{"v":1,"kind":"call_next","id":"g4-c-0000011","id":"g4-c-0000012"}',
    b"x" * 300_000,
    bytes(range(256)),
    "{\"v\":1,\"kind\":\"pause\",\"id\":\"g4-c-0000013\",\"reason\":\"\U0001f600\U0001f600\"}".encode(),
    b'{"v":1,"kind":"pause","id":"g4-c-0000014","reason":"\\ud800\\udc00 lone"}',
    b'{"v":1,"kind":"pause","id":"g4-c-0000015","reason":"' + b"\\" * 1000 + b'"}',
]

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(max_size=40), st.binary(max_size=20).map(lambda b: b.decode("latin-1")))
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                                            inner, max_size=4),
                     max_leaves=12)
_kinds = st.sampled_from([m.kind_of(c) for c in m.ALL_TYPES] + ["", "x", "call_next "])
_fields = st.dictionaries(st.sampled_from(["id", "ts", "service", "priority", "print", "ticket", "reason", "note",
                                           "complete_current", "job", "ok", "status", "detail", "v", "kind"]),
                          _json, max_size=6)


def _structured(kind: str, fields: dict[str, object], n: int) -> bytes:
    body = {"v": 1, "kind": kind, "id": f"g4-f-{n:07d}", **fields}
    try:
        return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        return repr(body).encode("utf-8", "surrogatepass")


_payloads = st.one_of(
    st.binary(max_size=3000),
    st.builds(_structured, _kinds, _fields, st.integers(0, 10**7)),
    st.tuples(st.builds(_structured, _kinds, _fields, st.integers(0, 10**7)), st.integers(0, 200),
              st.binary(min_size=1, max_size=3)).map(lambda t: t[0][:t[1]] + t[2] + t[0][t[1]:]),
)


class Sender:
    """gerai g4's identity (no agent runs for it here) publishing raw payloads, collecting answers."""

    def __init__(self, site: Site) -> None:
        self.device = Device(site, Role.GERAI, "g4")

    def send_all(self, payloads: list[bytes], timeout: float = 60) -> None:
        expected = {codec.answer_id(p) for p in payloads}
        for p in payloads:
            self.device.link.publish(self.device.topics.gerai("g4", Channel.CMD), p, qos=1)
        wait_for(lambda: expected <= set(self.device.replies), timeout,
                 f"an answer to each of {len(expected)} payloads "
                 f"({len(expected - set(self.device.replies))} missing)")

    def close(self) -> None:
        self.device.close()


def test_a_stream_of_malformed_payloads_mid_burst(stack: Stack, fleet: Fleet) -> None:
    sender = Sender(stack.site)
    try:
        def fault() -> None:
            threading.Thread(target=sender.send_all, args=(CORPUS * 3,), daemon=True).start()

        burst(fleet, fault)
        sender.send_all(CORPUS)
        check(stack, fleet, f"{stack.broker.kind} malformed stream")
        assert stack.central.alive() and "Traceback" not in stack.central.output()
    finally:
        sender.close()


def generated_payloads(rng: random.Random, n: int) -> list[bytes]:
    """``n`` distinct generated payloads, fast: valid commands mutated (bytes flipped, cut,
    invalid UTF-8 spliced in, fields retyped, nested, inflated), random JSON, random bytes."""
    valid = [codec.encode(c) for c in (
        m.TakeTicket(id="g4-valid-0001", service="ktp"), m.CallNext(id="g4-valid-0002"),
        m.Recall(id="g4-valid-0003", ticket="A001"), m.Transfer(id="g4-valid-0004", service="kk", note="catatan"),
        m.CallTicket(id="g4-valid-0005", ticket="B002", reason="alasan panjang"), m.Pause(id="g4-valid-0006"),
        m.PrintAck(id="g4-valid-0007", job="p-20240305-A001", ok=False, status="paper_out"),
    )]
    junk_values: list[object] = [None, True, -1, 2**70, 1e308, -0.0, "", "x" * 300, [], {}, [[[]]], {"a": {"b": 1}},
                                 "\u0000", "\ud800", "A" * 64, "g4-" + "9" * 61]
    keys = ["id", "ts", "service", "priority", "print", "ticket", "reason", "note", "complete_current", "job",
            "ok", "status", "detail", "v", "kind", "extra"]
    out: set[bytes] = set()
    while len(out) < n:
        i = len(out)
        choice = rng.random()
        base = bytearray(rng.choice(valid))
        base = base.replace(b"g4-valid-", f"g4-{i:05d}-".encode())
        if choice < 0.25:  # flip bytes
            for _ in range(rng.randint(1, 6)):
                base[rng.randrange(len(base))] = rng.randrange(256)
            p = bytes(base)
        elif choice < 0.35:  # cut
            p = bytes(base[:rng.randrange(len(base))])
        elif choice < 0.5:  # invalid UTF-8 inside a string
            at = base.find(b'"', rng.randrange(len(base)))
            at = at if at > 0 else 1
            p = bytes(base[:at + 1]) + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x00"]) + bytes(base[at + 1:])
        elif choice < 0.7:  # a field retyped or added
            body = json.loads(base)
            body[rng.choice(keys)] = rng.choice(junk_values)
            p = json.dumps(body).encode()
        elif choice < 0.78:  # nested deep
            depth = rng.choice([17, 64, 500, 1000, 3000])
            p = bytes(base[:-1]) + b',"x":' + b"[" * depth + b"]" * depth + b"}"
        elif choice < 0.84:  # inflated
            p = bytes(base[:-1]) + b',"pad":"' + b"x" * rng.choice([2100, 5000, 70_000, 300_000]) + b'"}'
        elif choice < 0.92:  # random JSON
            def value(d: int) -> object:
                r = rng.random()
                if d > 3 or r < 0.4:
                    return rng.choice(junk_values)
                if r < 0.7:
                    return [value(d + 1) for _ in range(rng.randint(0, 3))]
                return {rng.choice(keys): value(d + 1) for _ in range(rng.randint(0, 3))}
            p = json.dumps({"v": rng.choice([1, 1, 2, "1"]), "kind": rng.choice([m.kind_of(c) for c in m.ALL_TYPES]),
                            "id": f"g4-r-{i:07d}", "f": value(0)}).encode()
        else:  # random bytes
            p = rng.randbytes(rng.randint(0, 200)) + f"{i}".encode()
        out.add(p)
    return sorted(out, key=lambda b: rng.random())


@pytest.fixture(scope="module", params=BROKERS)
def fuzz_target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Stack, Sender]]:
    with running_site(request.param, tmp_path_factory.mktemp(f"fuzz-{request.param}")) as s:
        sender = Sender(s.site)
        try:
            yield s, sender
        finally:
            sender.close()


def test_ten_thousand_generated_payloads_leave_the_central_serving(fuzz_target: tuple[Stack, Sender]) -> None:
    """10,000 generated payloads: every one answered (a typed refusal, or a real effect for the
    few that happen to be valid), none crashes the central, and it serves at once after."""
    stack, sender = fuzz_target
    payloads = generated_payloads(random.Random(20231117), 10_000)
    started = time.monotonic()
    for i in range(0, len(payloads), 1000):
        sender.send_all(payloads[i:i + 1000])
    elapsed = time.monotonic() - started
    assert stack.central.alive() and "Traceback" not in stack.central.output(), stack.central.output()[-3000:]
    probe = sender.device.request(m.Ping(id="g4-alive-after-fuzz"), timeout=10)
    assert probe.code == "pong"
    codes = {r.code for r in sender.device.replies.values()}
    print(f"fuzz {stack.broker.kind}: {len(payloads)} payloads answered in {elapsed:.1f} s; codes {sorted(codes)}")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=_payloads)
def test_hypothesis_payloads_are_each_answered(fuzz_target: tuple[Stack, Sender], payload: bytes) -> None:
    stack, sender = fuzz_target
    sender.send_all([payload], timeout=10)
    assert stack.central.alive()


def test_every_display_follows_a_central_restarted_on_a_fresh_log(stack: Stack, fleet: Fleet) -> None:
    """The field report: after the central restarted on a new, empty log (as its own storage error
    advises), gerai displays stayed on the old number: they ignored states whose rev was lower."""
    for _ in range(6):
        fleet.take("kk")
    fleet.settle()  # (commands of different devices may arrive in any order)
    for gid in GERAI:
        fleet.call(gid)
    fleet.settle()
    for gid in GERAI:
        agent = fleet.agents[gid].agent
        wait_for(lambda agent=agent: agent.state is not None and agent.state.ticket is not None, 10,  # type: ignore[misc]
                 f"{gid} to show its call")
    busy = {gid: fleet.agents[gid].agent.state for gid in GERAI}
    old_epoch = fleet.agents["g1"].agent.epoch
    old_rev = max(s.rev for s in busy.values() if s is not None)
    stack.central.stop()
    db = stack.site.dir / "central.db"
    for suffix in ("", "-wal", "-shm"):
        moved = Path(f"{db}{suffix}")
        if moved.exists():
            moved.rename(f"{db}{suffix}.corrupt")
    # an empty log would issue today's numbers again: refused, unless the operator says so knowingly
    refused = CentralProc(stack.site, name="central-refused")
    refused.start()
    assert refused.wait(30) == 4, refused.output()
    assert "would issue today's numbers again" in refused.output() and "--new-epoch" in refused.output()
    stack.central.argv.append("--new-epoch")
    stack.central.start()
    stack.central.wait_ready()
    for gid in GERAI:
        agent = fleet.agents[gid].agent
        wait_for(lambda agent=agent: agent.state is not None and agent.state.ticket is None  # type: ignore[misc]
                 and agent.state.epoch > old_epoch, 20, f"{gid} to show the fresh log's state")
        state = agent.state
        assert state is not None and state.rev < old_rev  # a lower rev, taken for its newer epoch
    # and the fresh log serves: numbers start again at 1
    cmd = fleet.take("kk")
    wait_for(lambda: any(e.reply is not None and e.reply.ticket == "B001" for e in fleet.ledger.entries()
                         if e.cmd == cmd.id), 20, "B001 from the fresh log")
