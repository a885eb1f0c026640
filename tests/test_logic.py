"""The rules of the agent, the lobby and the central runner, on the in-memory bus.

No broker process and no central process: each component gets its link from a
:class:`~antre.broker.link.memory.MemoryBus` (the same ACL, retained messages, wills,
persistent sessions), and the test plays the other side.  What only a real broker
proves (sockets, keepalive, a hung link) stays in the broker-backed tests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from antre.broker.admin.acl import Identity
from antre.broker.link.base import BrokerAddress, LinkSpec, Received
from antre.broker.link.memory import MemoryBus, MemoryLink
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Channel, Role, Topics
from antre.central.config import SiteConfig
from antre.central.lease import FencedError
from antre.central.runner import CentralRunner
from antre.central.service import QueueService
from antre.central.store import EventStore
from antre.edge.agent import EdgeAgent, Hardware
from antre.edge.config import parse_device
from antre.lobby.app import LobbyApp
from tests.harness import wait_for

T = Topics("test")
AGENT = """
[device]
site = "test"
role = "gerai"
id = "g1"
[broker]
host = "memory"
password = "not-used-on-the-bus-000"
"""


def address(who: Identity) -> BrokerAddress:
    return BrokerAddress("memory", 0, who.username, "x")


class FakeCentral:
    """The test's side of the wire: reads what g1 sends, answers as the test says."""

    def __init__(self, bus: MemoryBus) -> None:
        self.commands: list[m.AnyCommand] = []
        self.cond = threading.Condition()
        self.answer = True
        self.answer_pings = True
        self.link = bus.factory(LinkSpec(address(Identity(Role.CENTRAL)), subscriptions=[(T.all_commands(), 1)],
                                         on_message=self._on))
        self.link.start()
        assert self.link.connected.wait(5)

    def _on(self, msg: Received) -> None:
        cmd = codec.decode_command(msg.payload)
        with self.cond:
            self.commands.append(cmd)
            self.cond.notify_all()
        if isinstance(cmd, m.Ping):
            if self.answer_pings:
                self.reply(cmd.id, "pong", ts=1_000_000.0)
        elif self.answer:
            self.reply(cmd.id, "called", ticket="A001")

    def reply(self, cmd: str, code: str, *, ok: bool = True, ticket: str | None = None, epoch: int = 5,
              ts: float = 1_000_000.0) -> None:
        self.link.publish(T.gerai("g1", Channel.REPLY), codec.encode(m.Reply(
            epoch=epoch, cmd=cmd, ok=ok, code=code, ticket=ticket, text_id=f"teks {code}", ts=ts)))

    def state(self, *, epoch: int, rev: int, ticket: str | None) -> None:
        self.link.publish(T.gerai("g1", Channel.STATE), codec.encode(m.GeraiState(
            epoch=epoch, gerai="g1", number=1, name="Gerai 1", status="serving" if ticket else "idle", ticket=ticket,
            waiting=0, rev=rev, ts=1.0)), retain=True)

    def sent(self, kind: type[m.Command]) -> list[m.Command]:
        with self.cond:
            return [c for c in self.commands if isinstance(c, kind)]


@pytest.fixture
def bus() -> MemoryBus:
    return MemoryBus("test")


@pytest.fixture
def agent(bus: MemoryBus) -> Iterator[EdgeAgent]:
    a = EdgeAgent(parse_device(AGENT, "g1.toml"), Hardware(), link_factory=bus.factory)
    a.start()
    try:
        yield a
    finally:
        a.stop()


def test_the_agent_syncs_its_clock_and_stamps_presses_with_the_central_time(bus: MemoryBus) -> None:
    central = FakeCentral(bus)
    a = EdgeAgent(parse_device(AGENT, "g1.toml"), Hardware(), link_factory=bus.factory, clock=lambda: 5.0)
    a.start()
    try:
        wait_for(lambda: a.link_clock.synced, 5, "a pong")
        cid = a.act("call_next")
        assert cid is not None
        wait_for(lambda: cid in a.replies, 5, "the reply")
        call = central.sent(m.CallNext)[0]
        assert call.ts is not None and 1_000_000.0 <= call.ts < 1_000_010.0  # the central's clock, not the wall's 5.0
    finally:
        a.stop()


def test_an_unanswered_press_is_resent_with_the_same_id_then_dropped_at_its_deadline(
    bus: MemoryBus, agent: EdgeAgent
) -> None:
    central = FakeCentral(bus)
    central.answer = False
    wait_for(lambda: agent.ready.is_set(), 5, "online")
    cid = agent.act("call_next")
    wait_for(lambda: len(central.sent(m.CallNext)) >= 3, 10, "resends")
    assert {c.id for c in central.sent(m.CallNext)} == {cid}  # one id, sent again and again
    assert len({c.ts for c in central.sent(m.CallNext)}) == 1  # the press time does not change
    wait_for(lambda: agent.content().status == "!TIDAK ADA JAWABAN", 10, "the deadline")
    assert len(agent.outbox) == 0


def test_a_press_while_cut_off_is_refused_and_a_pending_one_is_resent_after_reconnect(
    bus: MemoryBus, agent: EdgeAgent
) -> None:
    central = FakeCentral(bus)
    central.answer = False
    wait_for(lambda: agent.ready.is_set(), 5, "online")
    pending = agent.act("call_next")
    bus.cut("gerai.g1")
    wait_for(lambda: agent.content().status == "OFFLINE", 5, "OFFLINE on the display")
    assert agent.act("call_next") is None  # refused at once, never queued
    assert agent.content().status == "!TIDAK TERKIRIM"
    assert bus.retained(T.gerai("g1", Channel.PRESENCE)) is not None  # its will went out
    before = len(central.sent(m.CallNext))
    central.answer = True
    bus.restore("gerai.g1")
    wait_for(lambda: pending in agent.replies, 5, "the pending press answered after reconnecting")
    assert len(central.sent(m.CallNext)) > before


def test_the_epoch_rule(bus: MemoryBus, agent: EdgeAgent) -> None:
    central = FakeCentral(bus)
    wait_for(lambda: agent.ready.is_set(), 5, "online")
    central.state(epoch=5, rev=90, ticket="A009")
    wait_for(lambda: agent.state is not None and agent.state.ticket == "A009", 5, "the first state")
    central.state(epoch=5, rev=80, ticket="A008")  # late, same log: ignored
    central.state(epoch=4, rev=99, ticket="Z999")  # an obsolete central: ignored
    central.state(epoch=7, rev=2, ticket=None)  # a fresh log: taken despite its low rev
    wait_for(lambda: agent.state is not None and agent.state.epoch == 7, 5, "the fresh log's state")
    assert agent.state is not None and agent.state.ticket is None and agent.epoch == 7
    central.reply("not-waited-for-01", "called", epoch=5)  # a reply of an older epoch is not acted on
    assert "not-waited-for-01" not in agent.replies


def test_the_agent_shows_the_sum_of_its_services_waiting_counts(bus: MemoryBus, agent: EdgeAgent) -> None:
    """Contract 2: the gerai state names the services; their own states carry the counts."""
    central = FakeCentral(bus)
    wait_for(lambda: agent.ready.is_set(), 5, "online")
    presence = codec.decode(bus.retained(T.gerai("g1", Channel.PRESENCE)) or b"", "presence", m.Presence)
    assert presence.online and presence.contract == m.CONTRACT

    def service(sid: str, waiting: int, rev: int) -> None:
        central.link.publish(T.service_state(sid), codec.encode(m.ServiceState(
            epoch=5, service=sid, name=sid, agency="D", prefix="A", open=True, waiting=waiting, rev=rev, ts=1.0)),
            retain=True)

    service("ktp", 4, 10)
    service("kk", 3, 11)
    service("npwp", 50, 12)  # not one of g1's
    central.link.publish(T.gerai("g1", Channel.STATE), codec.encode(m.GeraiState(
        epoch=5, gerai="g1", number=1, name="Gerai 1", status="idle", waiting=1, rev=12, ts=1.0,
        services=["ktp", "kk"])), retain=True)
    wait_for(lambda: agent.content().waiting == 7, 5, "4 + 3 waiting, from the service states")
    service("ktp", 5, 13)  # a ticket: one service state, no gerai state
    wait_for(lambda: agent.content().waiting == 8, 5, "the new count")
    shown = agent.shown_state()
    assert shown is not None and shown.waiting == 8


def test_a_device_cannot_publish_for_another_on_the_bus(bus: MemoryBus) -> None:
    spy = bus.factory(LinkSpec(address(Identity(Role.GERAI, "g2"))))
    spy.start()
    assert spy.connected.wait(5)
    spy.publish(T.gerai("g1", Channel.CMD), codec.encode(m.CallNext(id="spoofed-0001")))
    assert bus.published_on(T.gerai("g1", Channel.CMD)) == []
    assert ("gerai.g2", "publish", T.gerai("g1", Channel.CMD)) in bus.denied
    spy.stop()


def test_the_lobby_follows_epochs_and_notices_a_silent_central(bus: MemoryBus, small_site: SiteConfig) -> None:
    app = LobbyApp(small_site, "lobby-1", address(Identity(Role.LOBBY, "lobby-1")), pack=None, journal=None,
                   link_factory=bus.factory)
    app.start()
    central = bus.factory(LinkSpec(address(Identity(Role.CENTRAL))))
    central.start()
    try:
        assert central.connected.wait(5)

        def board(epoch: int, rev: int) -> None:  # (contract 2: the lobby assembles its board from these)
            central.publish(T.calls(), codec.encode(m.Calls(epoch=epoch, site="test", site_name="MPP Uji", rev=rev,
                                                            ts=1.0)), retain=True)

        def lease(online: bool, renew_s: float = 0.2) -> None:
            central.publish(T.central_presence(), codec.encode(m.CentralLease(
                site="test", instance="00112233aabbccdd", term=1, online=online, renew_s=renew_s, ts=1.0)),
                retain=True)

        board(3, 50)
        lease(True)
        wait_for(lambda: app.board is not None and app.board.rev == 50 and app.connected, 5, "board and lease")
        board(3, 40)
        board(9, 1)
        wait_for(lambda: app.board is not None and app.board.epoch == 9, 5, "the fresh log's board")
        wait_for(lambda: not app.connected, 5, "a central whose lease is no longer renewed is shown as lost")
        lease(True)
        wait_for(lambda: app.connected, 5, "renewed")
        lease(False)
        wait_for(lambda: not app.connected, 5, "an offline lease")
    finally:
        central.stop()
        app.stop()


@pytest.fixture
def central_on_bus(bus: MemoryBus, small_site: SiteConfig) -> Iterator[tuple[CentralRunner, threading.Thread]]:
    store = EventStore(":memory:", "test")
    runner = CentralRunner(QueueService.open(small_site, store, 0.0), address(Identity(Role.CENTRAL)),
                           link_factory=bus.factory)
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            runner.run(stop)
        except BaseException as exc:  # the test looks at it
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert runner.ready.wait(5)
    runner.errors = errors  # type: ignore[attr-defined]
    try:
        yield runner, thread
    finally:
        stop.set()
        thread.join(5)
        store.close()


def device(bus: MemoryBus, role: Role, name: str, inbox: list[m.Reply]) -> MemoryLink:
    def on(msg: Received) -> None:
        inbox.append(codec.decode(msg.payload, Channel.REPLY, m.Reply))

    link = bus.factory(LinkSpec(address(Identity(role, name)), subscriptions=[(T.device(role, name, Channel.REPLY), 1)],
                                on_message=on))
    link.start()
    assert link.connected.wait(5)
    return link


def test_the_central_runner_serves_on_the_bus(bus: MemoryBus, central_on_bus: tuple[CentralRunner, threading.Thread]
                                              ) -> None:
    replies: list[m.Reply] = []
    kiosk = device(bus, Role.KIOSK, "k1", replies)
    kiosk.publish(T.kiosk("k1", Channel.CMD), codec.encode(m.TakeTicket(id="k1-bus-000001", service="ktp")))
    kiosk.publish(T.kiosk("k1", Channel.CMD), b"\xff garbage")
    wait_for(lambda: len(replies) == 2, 5, "two answers")
    assert {(r.code, r.ticket) for r in replies} == {("issued", "A001"), ("malformed_json", None)}
    assert {r.epoch for r in replies} == {central_on_bus[0].service.epoch} and replies[0].epoch > 0
    lease = codec.decode(bus.retained(T.central_presence()) or b"", Channel.PRESENCE, m.CentralLease)
    assert lease.online and lease.term == 1


def test_a_central_that_sees_a_higher_term_stops_at_once(bus: MemoryBus,
                                                          central_on_bus: tuple[CentralRunner, threading.Thread]
                                                          ) -> None:
    runner, thread = central_on_bus
    other = bus.factory(LinkSpec(address(Identity(Role.MONITOR, "t1"))))
    other.start()
    assert other.connected.wait(5)
    # a monitor may not claim the site: the ACL drops it, the central goes on
    other.publish(T.central_presence(), codec.encode(m.CentralLease(
        site="test", instance="ffffffffffffffff", term=9, online=True)), retain=True)
    assert ("monitor.t1", "publish", T.central_presence()) in bus.denied
    assert thread.is_alive()
    other.stop()
    # another central (same identity, another process) that took over with a higher term
    rival = bus.factory(LinkSpec(address(Identity(Role.CENTRAL))))
    rival.start()
    assert rival.connected.wait(5)
    rival.publish(T.central_presence(), codec.encode(m.CentralLease(
        site="test", instance="ffffffffffffffff", term=9, online=True)), retain=True)
    rival.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert [type(e) for e in runner.errors] == [FencedError]  # type: ignore[attr-defined]
    assert runner.fenced is not None and "term 9 > 1" in runner.fenced


def test_a_central_that_stops_answering_is_shown_and_its_return_too(bus: MemoryBus) -> None:
    """Field finding: with the central frozen for 40 s the gerai showed SIAP throughout."""
    central = FakeCentral(bus)
    a = EdgeAgent(parse_device("ping_interval_s = 1\n" + AGENT, "g1.toml"), Hardware(), link_factory=bus.factory)
    a.start()
    try:
        wait_for(lambda: a.link_clock.synced, 5, "a pong")
        central.answer_pings = central.answer = False
        wait_for(lambda: a.content().status == "PUSAT OFFLINE", 15, "PUSAT OFFLINE on the display")
        assert a.link.connected.is_set()  # the broker is there: it is the central that is not
        central.answer_pings = True
        wait_for(lambda: a.content().status != "PUSAT OFFLINE", 10, "the central back")
    finally:
        a.stop()


def test_a_press_before_the_first_pong_carries_no_wrong_time(bus: MemoryBus) -> None:
    """Field finding: a device whose wall clock was 3 h off had its first press refused as stale."""
    central = FakeCentral(bus)
    central.answer_pings = False
    a = EdgeAgent(parse_device(AGENT, "g1.toml"), Hardware(), link_factory=bus.factory, clock=lambda: 5.0)
    a.start()
    try:
        wait_for(lambda: a.ready.is_set(), 5, "online")
        cid = a.act("call_next")
        wait_for(lambda: cid in a.replies, 5, "the reply")
        assert central.sent(m.CallNext)[0].ts is None  # no claim, rather than 1970
    finally:
        a.stop()


def test_a_lobbys_health_names_what_a_technician_must_fix(bus: MemoryBus, small_site: SiteConfig) -> None:
    """No voice pack, no audio device, a frozen screen: each is a fault in the lobby's health report."""
    from tests.lobby_scenes import tone_pack

    now = [100.0]
    app = LobbyApp(small_site, "lobby-1", address(Identity(Role.LOBBY, "lobby-1")), pack=None, journal=None,
                   link_factory=bus.factory, mono=lambda: now[0])
    health = app.health()
    assert health.display == "absent" and health.faults == ["voice: no voice pack (calls are shown, not announced)"]
    assert health.ip is None  # (no network in between on the in-memory bus)
    app._screen_seen = (app.frames, now[0])  # a screen loop runs (run_screen sets this)
    app.frames = 5
    assert app.health().display == "ok"  # frames moved
    now[0] += 30
    frozen = app.health()
    assert frozen.display == "fault" and any("no frame drawn for 30 s" in f for f in frozen.faults)
    voiced = LobbyApp(small_site, "lobby-1", address(Identity(Role.LOBBY, "lobby-1")), pack=tone_pack(small_site),
                      journal=None, link_factory=bus.factory)
    assert voiced.announcer is not None
    assert voiced.health().faults == []
    voiced.announcer.audio_fault = "audio: no output device (dsp: No available audio device)"
    assert voiced.health().faults == ["audio: no output device (dsp: No available audio device)"]
