"""What one ticket costs the central, and what a lobby receives, as a site grows.

The central runs in this process on the in-memory bus (:class:`antre.broker.link.memory.MemoryBus`,
the same ACL, retained messages and wills as a broker): what is counted is what
:class:`antre.central.runner.CentralRunner` publishes, message by message and byte by byte,
for a run of ``take_ticket`` commands, with every gerai of the service online as a
contract 1 reader (a device of the previous release) or as a contract 2 reader.

Lobby sizes are computed from the views: the contract 1 board (one message with every
gerai, resent at each change), and under contract 2 the retained snapshot a lobby
receives once when it subscribes and the bytes of one change.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import tomli_w

from antre.broker.admin.acl import Identity
from antre.broker.link.base import BrokerAddress, LinkSpec, Received
from antre.broker.link.memory import MemoryBus
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Channel, Role, Topics
from antre.central import views
from antre.central.config import SiteConfig, parse_site
from antre.central.runner import CentralRunner
from antre.central.service import QueueService
from antre.central.store import EventStore
from antre.sim.sitefiles import generated_site

SITE = "bench"
TICKETS = 50


def _config(gerai: int, services: int) -> SiteConfig:
    data = generated_site(gerai, services, site_id=SITE)
    data["broker"] = {"host": "127.0.0.1", "port": 1883}
    data["lobby"] = [{"id": "lobby-1", "name": "Lobby"}]
    data["kiosk"] = [{"id": "k1", "name": "Anjungan 1"}]
    return parse_site(tomli_w.dumps(data), "<bench>")


def _address(who: Identity) -> BrokerAddress:
    return BrokerAddress("memory", 0, who.username, "x")


def per_ticket(gerai_per_service: int, contract: int, tickets: int = TICKETS) -> dict[str, Any]:
    """Messages and bytes the central publishes per ticket with ``gerai_per_service`` gerai
    of one service online, each reading ``contract`` (a contract 2 lobby online too)."""
    config = _config(gerai_per_service, 1)
    topics = Topics(SITE)
    bus = MemoryBus(SITE)
    with tempfile.TemporaryDirectory(prefix="antre-fanout-") as tmp:
        store = EventStore(Path(tmp) / "central.db", SITE, "off")
        service = QueueService.open(config, store, time.time())
        runner = CentralRunner(service, _address(Identity(Role.CENTRAL)), link_factory=bus.factory)
        stop = threading.Event()
        worker = threading.Thread(target=runner.run, args=(stop,), name="central", daemon=True)
        worker.start()
        replies: dict[str, m.Reply] = {}
        cond = threading.Condition()

        def on_reply(msg: Received) -> None:
            reply = codec.decode(msg.payload, Channel.REPLY, m.Reply)
            with cond:
                replies[reply.cmd] = reply
                cond.notify_all()

        kiosk = bus.factory(LinkSpec(_address(Identity(Role.KIOSK, "k1")),
                                     subscriptions=[(topics.kiosk("k1", Channel.REPLY), 1)], on_message=on_reply))
        kiosk.start()
        devices = [kiosk]
        try:
            assert runner.ready.wait(30), "the central did not start"
            lobby = bus.factory(LinkSpec(_address(Identity(Role.LOBBY, "lobby-1"))))
            lobby.start()
            devices.append(lobby)
            lobby.publish(topics.device(Role.LOBBY, "lobby-1", Channel.PRESENCE), codec.encode(
                m.Presence(role="lobby", device="lobby-1", online=True, contract=2)), retain=True)
            for gid in config.gerai:
                link = bus.factory(LinkSpec(_address(Identity(Role.GERAI, gid))))
                link.start()
                devices.append(link)
                link.publish(topics.gerai(gid, Channel.PRESENCE), codec.encode(
                    m.Presence(role="gerai", device=gid, online=True, contract=contract)), retain=True)

            def take(i: int) -> None:
                cmd = m.TakeTicket(id=f"k1-{i:08d}", service="s00", print=False)
                kiosk.publish(topics.kiosk("k1", Channel.CMD), codec.encode(cmd))
                with cond:
                    assert cond.wait_for(lambda: cmd.id in replies, 30), f"no reply to {cmd.id}"

            take(0)  # the presences are in: the central served their first states
            deadline = time.monotonic() + 30
            while sum(1 for d in runner.devices.values() if d.online) < len(config.gerai) + 1:
                assert time.monotonic() < deadline, "the presences did not reach the central"
                take(len(replies) + 1000)
            count0, bytes0 = sum(runner.published.values()), runner.published_bytes
            kinds0 = dict(runner.published)
            started = time.perf_counter()
            for i in range(1, tickets + 1):
                take(i)
            elapsed = time.perf_counter() - started
            count = sum(runner.published.values()) - count0
            size = runner.published_bytes - bytes0
            kinds = {k: round((v - kinds0.get(k, 0)) / tickets, 2) for k, v in runner.published.items()
                     if v != kinds0.get(k, 0)}
        finally:
            stop.set()
            worker.join(10)
            for d in devices:
                d.stop()
            store.close()
    return {
        "gerai_per_service": gerai_per_service,
        "contract": contract,
        "msgs_per_ticket": round(count / tickets, 2),
        "bytes_per_ticket": round(size / tickets),
        "by_kind": kinds,
        "ms_per_ticket": round(elapsed / tickets * 1000, 3),  # round trip on the bus, central included
    }


def lobby_bytes(gerai: int) -> dict[str, Any]:
    """Bytes a lobby receives at ``gerai`` gerai (20 services): contract 1's board per change,
    contract 2's snapshot at subscribe and its bytes per change."""
    config = _config(gerai, 20)
    with tempfile.TemporaryDirectory(prefix="antre-board-") as tmp:
        store = EventStore(Path(tmp) / "central.db", SITE, "off")
        service = QueueService.open(config, store, time.time())
        now = time.time()
        for i, gid in enumerate(config.gerai):  # a busy moment: every gerai serving someone
            service.handle("kiosk", "k1", m.TakeTicket(id=f"k1-{i:08d}", service=config.gerai[gid].services[0],
                                                         print=False), now)
            service.handle("gerai", gid, m.CallNext(id=f"{gid}-0000001"), now)
        rev = store.last_seq
        board = len(codec.encode(views.board(service.engine, now, rev)))
        states = [len(codec.encode(service.gerai_state(g, now, rev))) for g in config.gerai]
        svcs = [len(codec.encode(service.service_state(s, now, rev))) for s in config.services]
        calls = len(codec.encode(service.calls(now, rev)))
        store.close()
    return {
        "gerai": gerai,
        "board_bytes": board,
        "board_over_contract1_limit": gerai > 500,
        "snapshot_bytes": sum(states) + sum(svcs) + calls,
        # a call: the gerai's state, its service's state and the calls; a ticket: one service state
        "call_bytes": max(states) + max(svcs) + calls,
        "ticket_bytes": max(svcs),
    }


def run() -> dict[str, Any]:
    return {
        # (contract 1 at 1,000 gerai costs seconds per ticket on the bus: 5 tickets are enough to count)
        "per_ticket": [per_ticket(n, c, 5 if n * (2 - c) >= 1000 else TICKETS) for n in (10, 100, 1000)
                       for c in (1, 2)],
        "lobby": [lobby_bytes(n) for n in (1000, 5000)],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
