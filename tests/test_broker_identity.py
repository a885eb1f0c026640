"""Identities and sessions on both brokers: one rule for Mosquitto and the embedded one.

* A client can never disturb another identity's connection or session: not
  with its own valid credentials and another identity's client id, not with
  a wrong password, whatever its clean-session flag.
* A persistent session (the central's: clean_session=False, manual PUBACK)
  loses no QoS 1 message: what was delivered but not acknowledged is sent
  again, with DUP, when it reconnects, however the connection ended, and
  what was published while it was away is queued for it.
* A reconnect of the same identity takes the session over and keeps
  receiving; a silent client is dropped after 1.5 times its keep-alive.

Each test starts its own broker on a free loopback port: Mosquitto with the
configuration ``antre broker mosquitto-config`` generates, or the embedded
broker (``antre broker``).  Under ANTRE_REQUIRE_ALL a missing Mosquitto fails.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from antre.broker.admin.acl import Identity
from antre.broker.wire.topics import Role
from tests.harness import BrokerProc, Probe, Site, free_port

BROKERS = ["mosquitto", "embedded"]

CENTRAL = Identity(Role.CENTRAL)
G1 = Identity(Role.GERAI, "g1")
G2 = Identity(Role.GERAI, "g2")
K1 = Identity(Role.KIOSK, "k1")
LOBBY = Identity(Role.LOBBY, "lobby-1")

ALL_CMD = "antre/v1/test/+/+/cmd"
G1_CMD = "antre/v1/test/gerai/g1/cmd"
G2_REPLY = "antre/v1/test/gerai/g2/reply"
CENTRAL_PRESENCE = "antre/v1/test/central/presence"


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerProc]:
    site = Site(tmp_path, free_port())
    proc = BrokerProc(request.param, site)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
        print(f"--- {proc.kind} log\n{proc.output()}")


def probe(b: BrokerProc, who: Identity, **kwargs: object) -> Probe:
    return Probe(b.site.port, b.site.secrets.username(who), b.site.secrets.password(who), **kwargs)  # type: ignore[arg-type]


# (username, client id, right password?) of the attacks: every way to name another identity.
# "{central}" is the central's real, secret client id: the worst case, an attacker who learnt it.
ATTACKS = [
    pytest.param(K1, "{central}", True, id="own-creds-central-id"),
    pytest.param(K1, "gerai.g2", True, id="own-creds-device-id"),
    pytest.param(LOBBY, "{central}", True, id="lobby-creds-central-id"),
    pytest.param(CENTRAL, "{central}", False, id="wrong-password-central"),
    pytest.param(G2, "gerai.g2", False, id="wrong-password-device"),
    pytest.param(K1, "{central}", False, id="wrong-password-other-id"),
    pytest.param(K1, "central", True, id="own-creds-well-known-central-id"),
]


def attack(b: BrokerProc, who: Identity, client_id: str, right_password: bool, clean: bool) -> int:
    client_id = client_id.format(central=b.site.secrets.username(CENTRAL))
    password = b.site.secrets.password(who) if right_password else "not-the-password-0000"
    code = Probe(b.site.port, b.site.secrets.username(who), password, client_id=client_id,
                 clean_session=clean).attempt()
    if not right_password:
        assert code != 0, f"{who.username} was accepted with a wrong password"
    elif b.kind == "embedded":
        assert code != 0, f"{who.username} was accepted with client id {client_id!r}"
    # Mosquitto accepts valid credentials and makes the client id the username (use_username_as_clientid)
    return code


@pytest.mark.parametrize(("who", "client_id", "right_password"), ATTACKS)
def test_no_client_disturbs_a_connected_identity(
    broker: BrokerProc, who: Identity, client_id: str, right_password: bool
) -> None:
    central = probe(broker, CENTRAL, clean_session=False, manual_ack=False, subscribe=[ALL_CMD]).start()
    g2 = probe(broker, G2, clean_session=False, subscribe=[G2_REPLY]).start()
    g1 = probe(broker, G1, clean_session=True).start()
    try:
        for clean in (True, False):
            attack(broker, who, client_id, right_password, clean)
        # nobody was kicked off, and both still receive on their subscriptions
        g1.publish(G1_CMD, b"after the attack")
        central.publish(G2_REPLY, b"reply after the attack")
        central.wait(lambda: central.messages(G1_CMD), 10, "a command after the attack")
        g2.wait(lambda: g2.messages(G2_REPLY), 10, "a reply after the attack")
        assert (central.disconnects, g2.disconnects, g1.disconnects) == (0, 0, 0)
        assert (central.connacks, g2.connacks) == ([0], [0])
    finally:
        for c in (central, g2, g1):
            c.stop()


@pytest.mark.parametrize(("who", "client_id", "right_password"), ATTACKS)
def test_no_client_touches_an_offline_persistent_session(
    broker: BrokerProc, who: Identity, client_id: str, right_password: bool
) -> None:
    central = probe(broker, CENTRAL, clean_session=False, subscribe=[ALL_CMD]).start()
    g2 = probe(broker, G2, clean_session=False, subscribe=[G2_REPLY]).start()
    g1 = probe(broker, G1, clean_session=True).start()
    try:
        g2.stop()
        central.publish(G2_REPLY, b"queued for g2")
        central.stop()
        g1.publish(G1_CMD, b"queued for the central")
        for clean in (True, False):
            attack(broker, who, client_id, right_password, clean)
        central = probe(broker, CENTRAL, clean_session=False, subscribe=[ALL_CMD]).start()
        g2 = probe(broker, G2, clean_session=False, subscribe=[G2_REPLY]).start()
        assert central.session_present == [True] and g2.session_present == [True]
        got = central.wait(lambda: central.messages(G1_CMD), 10, "the queued command")
        assert [d.payload for d in got] == [b"queued for the central"]
        got = g2.wait(lambda: g2.messages(G2_REPLY), 10, "the queued reply")
        assert [d.payload for d in got] == [b"queued for g2"]
    finally:
        for c in (central, g2, g1):
            c.stop()


@pytest.mark.parametrize("ending", ["disconnect", "drop", "held-past-5s"])
def test_unacknowledged_and_missed_commands_reach_the_central(broker: BrokerProc, ending: str) -> None:
    """The central's own pattern: clean_session=False, manual PUBACK after commit."""
    g1 = probe(broker, G1, clean_session=True).start()
    central = probe(broker, CENTRAL, clean_session=False, manual_ack=True, subscribe=[ALL_CMD]).start()
    try:
        for i in range(3):
            g1.publish(G1_CMD, f"cmd-{i}".encode())
        got = central.wait(lambda: len(central.messages()) >= 3 and central.messages(), 10, "3 deliveries")
        assert [(d.payload, d.dup) for d in got] == [(f"cmd-{i}".encode(), False) for i in range(3)]
        if ending == "held-past-5s":
            # amqtt 0.12.1 gave up on a PUBACK after 5 s and forgot the message
            threading.Event().wait(6.0)
            central.stop()
        elif ending == "disconnect":
            central.stop()
        else:
            central.drop()
        for i in range(3, 5):
            g1.publish(G1_CMD, f"cmd-{i}".encode())  # while the central is away

        central = probe(broker, CENTRAL, clean_session=False, manual_ack=True, subscribe=[ALL_CMD]).start()
        assert central.session_present == [True]
        got = central.wait(lambda: len(central.messages()) >= 5 and central.messages(), 10, "5 deliveries")
        assert [d.payload for d in got] == [f"cmd-{i}".encode() for i in range(5)], got
        # sent before: DUP.  (The last two are DUP too if the broker tried them on the dying connection.)
        assert [d.dup for d in got[:3]] == [True, True, True]
        for d in got:
            central.ack(d)
        central.publish(CENTRAL_PRESENCE, b"online")  # a round trip: the broker has read the acks
        central.stop()

        # acknowledged now: never again
        central = probe(broker, CENTRAL, clean_session=False, manual_ack=True, subscribe=[ALL_CMD]).start()
        g1.publish(G1_CMD, b"marker")
        got = central.wait(lambda: central.messages() if central.messages(G1_CMD)[-1:] else None, 10, "marker")
        assert [d.payload for d in got] == [b"marker"]
    finally:
        central.stop()
        g1.stop()


def test_a_reconnect_of_the_same_identity_takes_over_and_keeps_receiving(broker: BrokerProc) -> None:
    """A half-open old connection (the central's host lost its link) must not leave the new one deaf."""
    g1 = probe(broker, G1, clean_session=True).start()
    old = probe(broker, CENTRAL, clean_session=False, subscribe=[ALL_CMD], reconnect=False).start()
    new = probe(broker, CENTRAL, clean_session=False, subscribe=[ALL_CMD], reconnect=False)
    try:
        new.start()
        old.wait(lambda: old.disconnects == 1, 10, "the old connection to be closed")
        for i in range(5):
            g1.publish(G1_CMD, f"after-{i}".encode())
        got = new.wait(lambda: len(new.messages()) >= 5 and new.messages(), 10, "5 commands on the new connection")
        assert [d.payload for d in got] == [f"after-{i}".encode() for i in range(5)]
        assert new.disconnects == 0
    finally:
        new.stop()
        old.stop()
        g1.stop()


def test_a_silent_client_is_dropped_after_one_and_a_half_keepalives(broker: BrokerProc) -> None:
    """[MQTT-3.1.2-24]: a hung client (no PINGREQ) is disconnected and its will published."""
    watcher = probe(broker, Identity(Role.MONITOR, "t1"), clean_session=True,
                    subscribe=["antre/v1/test/gerai/g1/presence"]).start()
    sock = socket.create_connection(("127.0.0.1", broker.site.port), timeout=10)
    try:
        sock.sendall(_connect_packet("gerai.g1", broker.site.secrets.password(G1), keepalive=2,
                                     will=("antre/v1/test/gerai/g1/presence", b"gone")))
        assert sock.recv(4) == b"\x20\x02\x00\x00"
        start = time.monotonic()
        sock.settimeout(10)
        assert sock.recv(1) == b"", "the broker sent something to a silent client"
        elapsed = time.monotonic() - start
        # the spec says 3 s; Mosquitto checks keep-alives every few seconds
        assert elapsed < 10.0, f"a silent client with keep-alive 2 s was dropped only after {elapsed:.1f} s"
        watcher.wait(lambda: watcher.messages(), 5, "the will")
    finally:
        sock.close()
        watcher.stop()


def _connect_packet(username: str, password: str, keepalive: int, will: tuple[str, bytes]) -> bytes:
    def s(b: bytes) -> bytes:
        return len(b).to_bytes(2, "big") + b

    flags = 0x80 | 0x40 | 0x04 | 0x02 | 0x08  # username, password, will, clean session, will QoS 1
    body = s(b"MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big")
    body += s(username.encode()) + s(will[0].encode()) + s(will[1]) + s(username.encode()) + s(password.encode())
    length, encoded = len(body), b""
    while True:
        byte, length = length % 128, length // 128
        encoded += bytes([byte | (0x80 if length else 0)])
        if not length:
            break
    return b"\x10" + encoded + body


def test_the_centrals_client_id_is_secret(tmp_path: Path) -> None:
    """Mosquitto 2.0 lets even an unauthenticated CONNECT with a known client id and clean session
    damage that id's persistent session (eclipse-mosquitto/mosquitto#3551); only the central keeps
    one, and its id is its secret username, not the well-known "central"."""
    site = Site(tmp_path, free_port())
    username = site.secrets.username(CENTRAL)
    assert username.startswith("central-") and len(username) == len("central-") + 16
    assert Identity.parse(username).role is Role.CENTRAL and "central" not in site.secrets.secrets


@pytest.mark.parametrize("kind", BROKERS)
def test_an_anonymous_connect_with_the_well_known_id_leaves_the_central_alone(kind: str, tmp_path: Path) -> None:
    """The field attack (`mosquitto_pub -i central -t x -m y`, no username) on a running site."""
    site = Site(tmp_path, free_port())
    b = BrokerProc(kind, site)
    b.start()
    g1 = central = None
    try:
        central = probe(b, CENTRAL, clean_session=False, subscribe=[ALL_CMD]).start()
        g1 = probe(b, G1, clean_session=True).start()
        central.stop()
        g1.publish(G1_CMD, b"queued for the central")
        for clean in (True, False):
            code = Probe(b.site.port, "", "", client_id="central", clean_session=clean).attempt()
            assert code != 0
        central = probe(b, CENTRAL, clean_session=False, subscribe=[ALL_CMD]).start()
        assert central.session_present == [True]
        got = central.wait(lambda: central.messages(G1_CMD), 10, "the queued command")
        assert [d.payload for d in got] == [b"queued for the central"]
        g1.publish(G1_CMD, b"and the next one")
        central.wait(lambda: len(central.messages(G1_CMD)) == 2, 10, "routing to the central after the attack")
    finally:
        for c in (central, g1):
            if c is not None:
                c.stop()
        b.stop()
