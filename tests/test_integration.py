"""The central service over real brokers: Mosquitto (ACLs on) and the embedded one.

Every scenario runs against both brokers.  Mosquitto is started by the test on
a free loopback port with the configuration ``antre broker mosquitto-config``
generates; CI installs Mosquitto and sets ANTRE_REQUIRE_ALL, so these tests
fail rather than skip there when it is missing.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.admin.acl import Identity
from antre.broker.wire.topics import Role, Topics
from antre.broker.wire.feed import SiteFeed
from tests.harness import Device, Stack, Watcher, kill, running_site, wait_for

BROKERS = ["mosquitto", "embedded"]


@pytest.fixture(params=BROKERS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with running_site(request.param, tmp_path) as s:
        yield s


def test_ticket_call_and_display(stack: Stack) -> None:
    site = stack.site
    kiosk = Device(site, Role.KIOSK, "k1")
    g1 = Device(site, Role.GERAI, "g1")
    lobby = Watcher(site, Identity(Role.LOBBY, "lobby-1"), [*SiteFeed("test").subscriptions(), Topics("test").announce()])
    try:
        reply = kiosk.request(m.TakeTicket(id="k1-00000001", service="ktp", priority="elderly"))
        assert (reply.ok, reply.code, reply.ticket) == (True, "issued", "A001"), reply
        job = codec.decode(wait_for(lambda: kiosk.messages_on("/print"), 10, "print job")[0], "print", m.PrintJob)
        assert (job.ticket, job.priority, job.service_name) == ("A001", "elderly", "KTP-el")
        g1.wait_state(lambda s: s.waiting == 1 and s.status == "idle")

        call = g1.request(m.CallNext(id="g1-00000001"))
        assert (call.code, call.ticket, call.text_id) == ("called", "A001", "Memanggil A001")
        state = g1.wait_state(lambda s: s.ticket == "A001")
        assert (state.status, state.number, state.waiting, state.priority) == ("serving", 1, 0, "elderly")

        # a display that connects later gets the retained truth at once
        late = Device(site, Role.MONITOR, "t1", subscribe=[Topics("test").gerai("g1", "state")])
        try:
            assert late.wait_state(lambda s: s.ticket == "A001").rev == state.rev
        finally:
            late.close()

        board = wait_for(lambda: [b for b in [lobby.feed("test").board()]
                                  if any(g.ticket == "A001" for g in b.gerai) and b.calls], 10, "site with A001")[-1]
        assert [c.ticket for c in board.calls] == ["A001"]
        assert {s.service: s.waiting for s in board.services} == {"ktp": 0, "kk": 0, "npwp": 0}
        announce = wait_for(lambda: lobby.decoded("/announce", "announce", m.Announce), 10, "announcement")
        assert (announce[0].ticket, announce[0].gerai_number, announce[0].recall) == ("A001", 1, False)
    finally:
        for c in (kiosk, g1, lobby):
            c.close()


def test_duplicate_delivery_has_one_effect(stack: Stack) -> None:
    site = stack.site
    kiosk = Device(site, Role.KIOSK, "k1")
    g2 = Device(site, Role.GERAI, "g2")
    try:
        take = m.TakeTicket(id="k1-dup-00001", service="kk")
        payload = codec.encode(take)
        kiosk.publish_raw(payload)
        kiosk.publish_raw(payload)  # the broker or the device redelivers
        first = kiosk.request(take)
        assert first.ticket == "B001"
        second = kiosk.request(m.TakeTicket(id="k1-dup-00002", service="kk"))
        assert second.ticket == "B002"  # the duplicate did not issue a number
        assert len(wait_for(lambda: kiosk.messages_on("/print"), 10, "print jobs")) >= 1
        jobs = {codec.decode(p, "print", m.PrintJob).ticket for p in kiosk.messages_on("/print")}
        assert jobs <= {"B001", "B002"}
        g2.request(m.CallNext(id="g2-dup-00001"))
        g2.request(m.CallNext(id="g2-dup-00001"))
        state = g2.wait_state(lambda s: s.ticket is not None)
        assert state.ticket == "B001"  # called once, not twice
    finally:
        kiosk.close()
        g2.close()


def test_malformed_payload_gets_a_typed_error_and_the_service_lives(stack: Stack) -> None:
    g1 = Device(stack.site, Role.GERAI, "g1")
    try:
        g1.publish_raw(b'{"v": 1, "kind": "call_next", "id": "g1-bad-0001", "complete_current": "yes"}')
        g1.publish_raw(b"\xff not json at all")
        g1.publish_raw(b'{"v": 7, "kind": "call_next", "id": "g1-bad-0002"}')
        bad = wait_for(lambda: g1.replies.get("g1-bad-0001"), 10, "error reply")
        assert (bad.ok, bad.code) == (False, "invalid_message")
        assert "complete_current" in bad.text_en
        version = wait_for(lambda: g1.replies.get("g1-bad-0002"), 10, "version error reply")
        assert version.code == "unsupported_version"
        ok = g1.request(m.CallNext(id="g1-good-001"))
        assert ok.ok and stack.central.alive()
    finally:
        g1.close()


def test_a_device_cannot_speak_for_another_gerai(stack: Stack) -> None:
    site = stack.site
    kiosk = Device(site, Role.KIOSK, "k1")
    g1 = Device(site, Role.GERAI, "g1")
    g2 = Device(site, Role.GERAI, "g2")
    try:
        kiosk.request(m.TakeTicket(id="k1-acl-00001", service="ktp"))
        kiosk.request(m.TakeTicket(id="k1-acl-00002", service="ktp"))
        # g2, with its own valid credentials, publishes a call on g1's topic
        g2.publish_raw(codec.encode(m.CallNext(id="spoofed-0001")), topic=Topics("test").gerai("g1", "cmd"))
        # ... and tries to read g1's state (one connection per identity: g2 itself goes first)
        g2.close()
        spy = Device(site, Role.GERAI, "g2", subscribe=[Topics("test").gerai("g1", "state")])
        # g1's own call is the first call g1 ever makes: it gets A001, so the spoof had no effect
        mine = g1.request(m.CallNext(id="g1-acl-00001"))
        assert mine.ticket == "A001"
        assert "spoofed-0001" not in g1.replies and "spoofed-0001" not in g2.replies
        g1.wait_state(lambda s: s.ticket == "A001")
        assert spy.states == []  # g2 may not read g1's display state
        spy.close()
        if stack.broker.kind == "mosquitto":
            _mosquitto_pub_spoof(stack, g1)
    finally:
        for c in (kiosk, g1, g2):
            c.close()


def _mosquitto_pub_spoof(stack: Stack, g1: Device) -> None:
    """The command-line client with gerai g2's credentials on g1's topic: no effect."""
    binary = shutil.which("mosquitto_pub")
    assert binary, "mosquitto_pub is required for this check (apt-get install mosquitto-clients)"
    site = stack.site
    who = Identity(Role.GERAI, "g2")
    subprocess.run(
        [binary, "-h", "127.0.0.1", "-p", str(site.port), "-V", "mqttv311", "-q", "1",
         "-u", who.username, "-P", site.secrets.password(who),
         "-t", Topics("test").gerai("g1", "cmd"), "-m", codec.encode(m.Done(id="cli-spoof-0001")).decode()],
        check=True, timeout=10,
    )
    # g1 still holds A001: had the spoofed "done" been applied, recall would say no_current
    recall = g1.request(m.Recall(id="g1-acl-00002"))
    assert (recall.code, recall.ticket) == ("recalled", "A001")
    assert "cli-spoof-0001" not in g1.replies


def test_broker_restart_mid_stream_loses_nothing(stack: Stack) -> None:
    site = stack.site
    kiosk = Device(site, Role.KIOSK, "k1")
    g4 = Device(site, Role.GERAI, "g4")
    try:
        numbers = []
        for i in range(40):
            if i == 15:
                stack.broker.signal(signal.SIGTERM)
                stack.broker.wait(15)
                stack.broker.start()
            reply = kiosk.request(m.TakeTicket(id=f"k1-rst-{i:05d}", service="npwp"), timeout=60)
            numbers.append(reply.ticket)
            if i % 4 == 3:
                g4.request(m.CallNext(id=f"g4-rst-{i:05d}"), timeout=60)
        assert numbers == [f"NP{i:02d}" for i in range(1, 41)]  # each issued exactly once, in order
        final = g4.request(m.CallNext(id="g4-rst-final"), timeout=60)
        assert final.ticket == "NP11"  # 10 calls before: no call lost, none doubled
        g4.wait_state(lambda s: s.ticket == "NP11" and s.waiting == 29, timeout=20)
    finally:
        kiosk.close()
        g4.close()


def test_central_killed_and_restarted_loses_nothing(stack: Stack) -> None:
    site = stack.site
    kiosk = Device(site, Role.KIOSK, "k1")
    g3 = Device(site, Role.GERAI, "g3")
    try:
        numbers = []
        for i in range(30):
            if i == 12:
                kill(stack.central)  # SIGKILL, in the middle of the stream
                stack.central.start()
            numbers.append(kiosk.request(m.TakeTicket(id=f"k1-kil-{i:05d}", service="kk"), timeout=60).ticket)
            if i % 3 == 2:
                g3.request(m.CallNext(id=f"g3-kil-{i:05d}"), timeout=60)
        assert numbers == [f"B{i:03d}" for i in range(1, 31)]
        stack.central.wait_ready()
        # 10 calls were made: the display converges to the 10th ticket, 20 waiting
        g3.wait_state(lambda s: s.ticket == "B010" and s.waiting == 20, timeout=20)
        fresh = Device(site, Role.MONITOR, "t1", subscribe=[Topics("test").gerai("g3", "state")])
        try:
            fresh.wait_state(lambda s: s.ticket == "B010" and s.waiting == 20, timeout=20)
        finally:
            fresh.close()
    finally:
        kiosk.close()
        g3.close()


def test_clean_shutdown_on_sigterm_publishes_offline_presence(stack: Stack) -> None:
    site = stack.site
    watcher = Watcher(site, Identity(Role.LOBBY, "lobby-1"), [Topics("test").central_presence()])
    try:
        wait_for(lambda: any(p.online for p in watcher.decoded("/presence", "presence", m.CentralLease)), 10, "online")
        stack.central.signal(signal.SIGTERM)
        assert stack.central.wait(20) == 0
        wait_for(lambda: not watcher.decoded("/presence", "presence", m.CentralLease)[-1].online, 10, "offline presence")
        assert "antre central stopped" in stack.central.output()
    finally:
        watcher.close()
