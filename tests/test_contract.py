"""Contract generations (PROTOCOL.md, "Contract generations"), over a real Mosquitto and central.

A ticket costs the central one ``service_state`` for contract 2 readers, whatever the number of
gerai; contract 1 gerai and lobbies (devices of the previous release) keep working against the
new central: their waiting counts and the whole-site board are still served while they are there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from antre.broker.admin.acl import Identity
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.feed import SiteFeed
from antre.broker.wire.topics import Channel, Role, Topics
from tests.harness import Device, Stack, Watcher, running_site, wait_for

T = Topics("test")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with running_site("mosquitto", tmp_path) as s:
        yield s


def _count(watcher: Watcher, suffix: str) -> int:
    with watcher._lock:
        return sum(1 for t, _, _ in watcher.messages if t.endswith(suffix))


def _issue(kiosk: Device, n: int, service: str, start: int = 1) -> None:
    for i in range(start, start + n):
        assert kiosk.request(m.TakeTicket(id=f"k1-{i:08d}", service=service, print=False)).ok


def test_a_ticket_changes_one_service_state_not_every_gerai_state(stack: Stack) -> None:
    site = stack.site
    spy = Watcher(site, Identity(Role.MONITOR, "t1"), [T.all_gerai_states(), T.all_service_states(), T.board()])
    kiosk = Device(site, Role.KIOSK, "k1")
    g1, g2 = Device(site, Role.GERAI, "g1"), Device(site, Role.GERAI, "g2")  # both serve ktp (contract 2)
    try:
        # the configured lobby has not said it reads contract 2: the board is served (a contract 1 lobby
        # publishes no presence); once it says so, the board stops
        ok = m.Presence(role="lobby", device="lobby-1", online=True, contract=2)
        lobby_link = Watcher(site, Identity(Role.LOBBY, "lobby-1"), [T.announce()])
        lobby_link.link.publish(T.device(Role.LOBBY, "lobby-1", Channel.PRESENCE), codec.encode(ok), qos=1,
                                retain=True).wait_for_publish(5)
        _issue(kiosk, 1, "ktp")
        g1.wait_state(lambda s: s.waiting == 1)
        states, services, boards = (_count(spy, "/gerai/g1/state") + _count(spy, "/gerai/g2/state"),
                                    _count(spy, "/service/ktp/state"), _count(spy, "/board"))
        _issue(kiosk, 20, "ktp", start=2)
        g2.wait_state(lambda s: s.waiting == 21)
        assert g1.wait_state(lambda s: s.waiting == 21).status == "idle"
        wait_for(lambda: _count(spy, "/service/ktp/state") >= services + 20, 10, "20 service states")
        assert _count(spy, "/gerai/g1/state") + _count(spy, "/gerai/g2/state") == states  # no gerai republished
        assert _count(spy, "/board") == boards  # no contract 1 lobby: no board
        with spy._lock:  # ... and its retained copy was cleared, not left stale on the broker
            last_board = [payload for t, payload, _ in spy.messages if t.endswith("/board")][-1:]
        assert last_board == [b""]
        late = Watcher(site, Identity(Role.MONITOR, "t2"), [T.board(), T.service_state("ktp")])
        try:  # a newcomer gets the retained service state and no board (retained ones come together)
            wait_for(lambda: _count(late, "/service/ktp/state") >= 1, 10, "the retained service state")
            assert _count(late, "/board") == 0
        finally:
            late.close()
        feed = spy.feed("test")
        assert feed.services["ktp"].waiting == 21 and feed.waiting_for(["ktp"]) == 21
        lobby_link.close()
    finally:
        for c in (kiosk, g1, g2, spy):
            c.close()


def test_contract_1_gerai_and_lobby_still_work(stack: Stack) -> None:
    site = stack.site
    spy = Watcher(site, Identity(Role.MONITOR, "t1"), [T.board()])
    kiosk = Device(site, Role.KIOSK, "k1", contract=1)
    old = Device(site, Role.GERAI, "g1", contract=1)  # reads waiting from its own state only
    try:
        _issue(kiosk, 3, "ktp")
        # the old gerai's own state carries the count, republished at every ticket
        assert old.wait_state(lambda s: s.waiting == 3).waiting == 3
        assert not old.feed.services  # it never subscribed to a service state
        # the lobby-1 of the site file published no presence (a contract 1 lobby): the board is served
        board = wait_for(lambda: [b for b in spy.decoded("/board", "board", m.Board)
                                  if any(s.service == "ktp" and s.waiting == 3 for s in b.services)],
                         10, "a board with 3 waiting")[-1]
        assert board.site == "test"
        # a call reaches the old gerai's display, the count goes down
        assert old.request(m.CallNext(id="g1-00000001")).ticket == "A001"
        assert old.wait_state(lambda s: s.ticket == "A001").waiting == 2
    finally:
        for c in (kiosk, old, spy):
            c.close()


def test_a_contract_1_gerai_coming_online_gets_the_current_count(stack: Stack) -> None:
    site = stack.site
    kiosk = Device(site, Role.KIOSK, "k1")
    try:
        _issue(kiosk, 4, "kk")  # no gerai online: nobody's state is republished
        late = Device(site, Role.GERAI, "g3", contract=1)  # g3 serves kk
        try:
            assert late.wait_state(lambda s: s.waiting == 4).status == "idle"
        finally:
            late.close()
    finally:
        kiosk.close()


def test_feed_applies_the_epoch_rule_per_item() -> None:
    feed = SiteFeed("test")

    def svc(epoch: int, rev: int, waiting: int) -> bytes:
        return codec.encode(m.ServiceState(epoch=epoch, service="ktp", name="KTP", agency="D", prefix="A", open=True,
                                           waiting=waiting, rev=rev, ts=1.0))

    topic = T.service_state("ktp")
    assert feed.offer(topic, svc(5, 10, 3))
    assert not feed.offer(topic, svc(5, 9, 7))  # older within the log
    assert not feed.offer(topic, svc(4, 99, 7))  # an older log
    assert feed.offer(topic, svc(6, 1, 0))  # a fresh log wins whatever its rev
    assert feed.services["ktp"].waiting == 0
    assert not feed.offer(T.service_state("kk"), svc(6, 2, 1))  # a state on another service's topic
    g2 = codec.encode(m.GeraiState(epoch=6, gerai="g2", number=2, name="Gerai 2", status="idle", waiting=0, rev=3,
                                   ts=1.0))
    assert not feed.offer(T.gerai("g1", Channel.STATE), g2) and not feed.gerai  # and a gerai's on another's
    assert feed.offer(T.gerai("g2", Channel.STATE), g2)
    assert not feed.offer(topic, b"\xff" * 10)  # garbage: logged, ignored
    assert not feed.offer(topic, b"[" * 5000)
    assert feed.waiting_for(["ktp"]) == 0 and feed.waiting_for(["ktp", "kk"]) is None
    # an absurd epoch or rev (a forged or broken message) is refused, and blinds nobody to the real central
    absurd = svc(6, 2, 9).replace(b'"epoch":6', b'"epoch":100000000000000000000')
    assert b"100000000000000000000" in absurd and not feed.offer(topic, absurd)
    assert not feed.offer(topic, svc(6, 2, 9).replace(b'"rev":2', b'"rev":9007199254740992'))
    assert feed.offer(topic, svc(6, 2, 5)) and feed.services["ktp"].waiting == 5


def test_a_lobby_rolled_back_to_contract_1_gets_the_board_again(stack: Stack) -> None:
    """Its contract 2 presence went offline; the previous release's lobby publishes none."""
    site = stack.site
    spy = Watcher(site, Identity(Role.MONITOR, "t1"), [T.board()])
    kiosk = Device(site, Role.KIOSK, "k1")
    lobby = Watcher(site, Identity(Role.LOBBY, "lobby-1"), [T.announce()])
    try:
        topic = T.device(Role.LOBBY, "lobby-1", Channel.PRESENCE)
        for online in (True, False):
            lobby.link.publish(topic, codec.encode(m.Presence(role="lobby", device="lobby-1", online=online,
                                                              contract=2)), qos=1, retain=True).wait_for_publish(5)
        _issue(kiosk, 3, "ktp")
        wait_for(lambda: [b for b in spy.decoded("/board", "board", m.Board)
                          if any(s.service == "ktp" and s.waiting == 3 for s in b.services)], 10,
                 "a current board for the rolled-back lobby")
    finally:
        for c in (kiosk, lobby, spy):
            c.close()


def test_a_presence_this_central_cannot_read_whole_still_counts() -> None:
    """A newer device's presence (an unknown field, a later contract), a cleared retained one and
    garbage: what it says of being online is taken; anything unreadable is offline."""
    from hypothesis import given, settings, strategies as st

    from antre.central.runner import loose_presence

    newer = b'{"kind":"presence","v":1,"role":"lobby","device":"lobby-1","online":true,"contract":3,"screen":"4k"}'
    assert loose_presence(newer) == (True, 3)
    assert loose_presence(b"") == (False, 1)  # a cleared retained presence
    assert loose_presence(b'{"online":"yes","contract":true}') == (False, 1)
    assert loose_presence(b'{"online":true,"contract":1000}') == (True, 1)
    assert loose_presence(b"[" * 5000) == (False, 1) and loose_presence(b"\xff\xfe") == (False, 1)
    assert loose_presence(b'{"online":true,' + b" " * 3000 + b"}") == (False, 1)  # over the size limit

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=3000) | st.text(max_size=500).map(str.encode))
    def never_raises(payload: bytes) -> None:
        online, contract = loose_presence(payload)
        assert isinstance(online, bool) and 1 <= contract <= 99

    never_raises()


def test_a_newer_lobbys_presence_stops_the_board(stack: Stack) -> None:
    """A lobby of a later release (a field this central does not know, contract 3) is served as the
    newest contract this central speaks: no whole-site board for it."""
    site = stack.site
    spy = Watcher(site, Identity(Role.MONITOR, "t1"), [T.board()])
    kiosk = Device(site, Role.KIOSK, "k1")
    lobby = Watcher(site, Identity(Role.LOBBY, "lobby-1"), [T.announce()])
    try:
        _issue(kiosk, 1, "ktp")
        wait_for(lambda: spy.decoded("/board", "board", m.Board), 10, "the board (no lobby presence yet)")
        newer = (b'{"kind":"presence","v":1,"role":"lobby","device":"lobby-1","online":true,"contract":3,'
                 b'"screen":"4k"}')
        lobby.link.publish(T.device(Role.LOBBY, "lobby-1", Channel.PRESENCE), newer, qos=1,
                           retain=True).wait_for_publish(5)
        wait_for(lambda: _count(spy, "/board") and spy.messages[-1][1] == b"", 10, "the board cleared")
        boards = _count(spy, "/board")
        _issue(kiosk, 3, "ktp", start=2)
        g1 = Device(site, Role.GERAI, "g1")
        try:
            g1.wait_state(lambda s: s.waiting == 4)
        finally:
            g1.close()
        assert _count(spy, "/board") == boards
    finally:
        for c in (kiosk, lobby, spy):
            c.close()
