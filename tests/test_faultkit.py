"""The fault suite's instruments measure what they claim (antre/sim/faults.py).

The proxy is checked with plain sockets against a scripted upstream and with
paho through a real broker; the log audit and the ledger with logs written by
the real service and then corrupted on purpose (each kind of violation must be
reported), and with a short real scenario over a broker and ``antre central``.
"""

from __future__ import annotations

import datetime as dt
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.admin.acl import Identity
from antre.broker.link.client import MqttLink, Received
from antre.broker.wire.feed import SiteFeed
from antre.broker.wire.topics import Channel, Role, Topics
from antre.central import events as ev
from antre.central.config import SiteConfig
from antre.central.service import QueueService
from antre.central.store import EventStore
from tests.conftest import at
from antre.sim.faults import CommandLedger, LogAudit, TcpProxy, audit_log, via_port
from tests.harness import BrokerProc, Device, Site, Stack, Watcher, free_port, mosquitto_binary, running_site, wait_for

DAY = dt.date(2024, 3, 5)  # a Tuesday
T = Topics("test")


# =====================================================================
# TcpProxy with plain sockets
# =====================================================================


class Upstream:
    """A scripted TCP server: records what each accepted connection receives and when it ends."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.conns: list[socket.socket] = []
        self.received: list[bytearray] = []
        self.ended: list[str] = []  # "" while open, then "eof" or "reset"
        self.cond = threading.Condition()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.cond:
                index = len(self.conns)
                self.conns.append(sock)
                self.received.append(bytearray())
                self.ended.append("")
                self.cond.notify_all()
            threading.Thread(target=self._read, args=(index, sock), daemon=True).start()

    def _read(self, index: int, sock: socket.socket) -> None:
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                end = "reset"
                break
            except OSError:
                end = "closed"
                break
            if not data:
                end = "eof"
                break
            with self.cond:
                self.received[index] += data
                self.cond.notify_all()
        with self.cond:
            self.ended[index] = end
            self.cond.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float = 5, what: str = "") -> None:
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), f"upstream: timed out waiting for {what}"

    def got(self, index: int) -> bytes:
        with self.cond:
            return bytes(self.received[index]) if index < len(self.received) else b""

    def reset(self, index: int) -> None:
        """Close connection ``index`` with RST (its reader thread is woken first, or close would wait for it)."""
        sock = self.conns[index]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
        self.wait(lambda: self.ended[index] != "", what="reader to stop")
        sock.close()

    def close(self) -> None:
        self.listener.close()
        for sock in self.conns:
            sock.close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[TcpProxy]:
    with TcpProxy("127.0.0.1", upstream.port, name="test-proxy") as p:
        yield p


def connect(proxy: TcpProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def nothing_waiting(sock: socket.socket) -> bool:
    """True when no byte (and no EOF) is ready on ``sock`` right now."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)
        return False
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
        sock.settimeout(5)


def test_proxy_forwards_both_ways_and_counts(proxy: TcpProxy, upstream: Upstream) -> None:
    client = connect(proxy)
    client.sendall(b"hello")
    upstream.wait(lambda: upstream.got(0) == b"hello", what="hello upstream")
    upstream.conns[0].sendall(b"welcome!")
    assert recv_exactly(client, 8) == b"welcome!"
    stats = proxy.wait_for(lambda s: s.bytes_down == 8, 5, "8 bytes down")
    assert (stats.accepted, stats.active, stats.bytes_up, stats.held_up, stats.held_down) == (1, 1, 5, 0, 0)
    # a FIN from the client reaches the broker, the broker's FIN reaches the client
    client.shutdown(socket.SHUT_WR)
    upstream.wait(lambda: upstream.ended[0] == "eof", what="EOF upstream")
    upstream.conns[0].shutdown(socket.SHUT_WR)
    assert client.recv(1) == b""
    stats = proxy.wait_for(lambda s: s.active == 0, 5, "connection retired")
    assert (stats.closed, stats.dropped) == (1, 0)
    client.close()


def test_hang_holds_every_byte_and_resume_delivers_them_late_in_order(proxy: TcpProxy, upstream: Upstream) -> None:
    client = connect(proxy)
    client.sendall(b"ping")
    upstream.wait(lambda: upstream.got(0) == b"ping", what="ping")

    proxy.hang()
    assert proxy.hung and proxy.stats().hung
    client.sendall(b"press-1")
    upstream.conns[0].sendall(b"state-1")
    proxy.wait_for(lambda s: s.held_up == 7 and s.held_down == 7, 5, "the press and the state held")
    assert upstream.got(0) == b"ping"  # nothing went up ...
    assert nothing_waiting(client)  # ... nor down
    # a new connection during the hang is accepted, but its SYN never reaches the broker
    late = connect(proxy)
    late.sendall(b"hello-2")
    proxy.wait_for(lambda s: s.accepted == 2 and s.held_up == 14, 5, "second connection held")
    with upstream.cond:
        assert len(upstream.conns) == 1
    # the client gives up (FIN): the broker must not see it before the link recovers
    client.shutdown(socket.SHUT_WR)
    proxy.wait_for(lambda s: s.held_ends == 1, 5, "the FIN held")
    assert upstream.ended[0] == ""

    proxy.resume()
    upstream.wait(lambda: upstream.got(0) == b"pingpress-1" and upstream.ended[0] == "eof", what="late press, then EOF")
    assert recv_exactly(client, 7) == b"state-1"
    upstream.wait(lambda: len(upstream.conns) == 2 and upstream.got(1) == b"hello-2", what="second connection")
    stats = proxy.wait_for(lambda s: s.held_up == 0 and s.held_down == 0, 5, "nothing held")
    assert (stats.bytes_up, stats.bytes_down, stats.hung) == (4 + 7 + 7, 7, False)
    client.close()
    late.close()


def test_a_hang_holds_at_most_buffer_limit_then_tcp_holds_the_sender(upstream: Upstream) -> None:
    with TcpProxy("127.0.0.1", upstream.port, buffer_limit=4096) as proxy:
        client = connect(proxy)
        client.sendall(b"<")
        upstream.wait(lambda: upstream.got(0) == b"<", what="first byte")
        proxy.hang()
        client.setblocking(False)
        pattern = bytes(range(256)) * 64
        sent = 0
        try:
            while True:  # until the kernel buffers are full: the sender is held, nothing is lost
                sent += client.send(pattern[sent % 256:] + pattern[: sent % 256])
        except BlockingIOError:
            pass
        assert proxy.wait_for(lambda s: s.held_up == 4096, 5, "buffer full").held_up == 4096
        assert upstream.got(0) == b"<"
        proxy.resume()
        expected = b"<" + (pattern * (sent // len(pattern) + 1))[:sent]
        upstream.wait(lambda: len(upstream.got(0)) == len(expected), 10, f"{sent} bytes after resume")
        assert upstream.got(0) == expected
        client.close()


def test_a_reset_during_a_hang_is_passed_on_only_after_resume(proxy: TcpProxy, upstream: Upstream) -> None:
    client = connect(proxy)
    client.sendall(b"x")
    upstream.wait(lambda: upstream.got(0) == b"x", what="x")
    proxy.hang()
    upstream.reset(0)  # the broker resets its side
    proxy.wait_for(lambda s: s.held_ends == 1, 5, "the reset seen by the proxy")
    assert nothing_waiting(client) and proxy.stats().active == 1  # a frozen link passes on no RST
    proxy.resume()
    with pytest.raises(ConnectionResetError):
        client.recv(1)
    proxy.wait_for(lambda s: s.active == 0, 5, "connection retired")
    client.close()


def test_drop_resets_both_sides_discards_held_bytes_and_new_connections_work(
    proxy: TcpProxy, upstream: Upstream
) -> None:
    client = connect(proxy)
    client.sendall(b"a")
    upstream.wait(lambda: upstream.got(0) == b"a", what="a")
    proxy.hang()
    client.sendall(b"lost")
    proxy.wait_for(lambda s: s.held_up == 4, 5)
    assert proxy.drop() == 1
    with pytest.raises(ConnectionResetError):
        client.recv(1)
    upstream.wait(lambda: upstream.ended[0] == "reset", what="upstream reset")
    stats = proxy.stats()
    assert (stats.dropped, stats.active, stats.held_up, stats.hung) == (1, 0, 0, True)
    proxy.resume()
    again = connect(proxy)
    again.sendall(b"b")
    upstream.wait(lambda: len(upstream.conns) == 2 and upstream.got(1) == b"b", what="new connection")
    assert upstream.got(0) == b"a"  # the held bytes never arrived
    client.close()
    again.close()


def test_refuse_closes_the_port_and_accept_reopens_it(proxy: TcpProxy, upstream: Upstream) -> None:
    first = connect(proxy)
    proxy.refuse()
    assert proxy.refusing
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    first.sendall(b"still")  # current connections are untouched
    upstream.wait(lambda: upstream.got(0) == b"still", what="existing connection")
    port = proxy.port
    proxy.accept()
    assert proxy.port == port
    second = connect(proxy)
    second.sendall(b"new")
    upstream.wait(lambda: len(upstream.got(1)) == 3, what="new connection")
    assert proxy.stats().accepted == 2
    first.close()
    second.close()


def test_an_unreachable_upstream_resets_the_client() -> None:
    with TcpProxy("127.0.0.1", free_port()) as proxy:
        with pytest.raises(ConnectionResetError):  # at connect() already, or at the first read
            with connect(proxy) as client:
                client.recv(1)
        assert proxy.wait_for(lambda s: s.upstream_failures == 1 and s.active == 0, 5).accepted == 1


def test_stop_closes_connections_and_the_port(upstream: Upstream) -> None:
    proxy = TcpProxy("127.0.0.1", upstream.port).start()
    client = connect(proxy)
    proxy.wait_for(lambda s: s.active == 1, 5)
    proxy.stop()
    assert client.recv(1) == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    with pytest.raises(RuntimeError):
        proxy.hang()
    client.close()


# =====================================================================
# TcpProxy with paho through a real broker
# =====================================================================


def test_mqtt_through_the_proxy_hang_delivers_late_and_drop_reconnects(tmp_path: Path) -> None:
    site = Site(tmp_path, free_port())
    broker = BrokerProc("mosquitto" if mosquitto_binary() else "embedded", site)
    broker.start()
    topic = T.gerai("g1", Channel.CMD)
    seen: list[tuple[bytes, float]] = []
    cond = threading.Condition()

    def on_message(msg: Received) -> None:
        with cond:
            seen.append((msg.payload, time.monotonic()))
            cond.notify_all()

    def wait_seen(payload: bytes) -> float:
        with cond:
            assert cond.wait_for(lambda: any(p == payload for p, _ in seen), 10), f"{payload!r} never arrived"
            return next(t for p, t in seen if p == payload)

    subscribed = threading.Event()
    watcher = MqttLink(site.address(Identity(Role.MONITOR, "t1")), subscriptions=[(topic, 1)],
                       on_message=on_message, on_subscribed=lambda mid: subscribed.set())
    watcher.start()
    try:
        with TcpProxy("127.0.0.1", site.port, name="g1-link") as proxy:
            gerai = MqttLink(via_port(site, proxy.port).address(Identity(Role.GERAI, "g1")))
            gerai.start()
            try:
                # connected is not subscribed: a publish before the SUBACK is not delivered to the watcher
                assert watcher.wait_connected(10) and subscribed.wait(10) and gerai.wait_connected(10)
                gerai.publish(topic, b"one").wait_for_publish(5)
                wait_seen(b"one")

                proxy.hang()
                before = proxy.stats().held_up
                pressed = time.monotonic()
                info = gerai.publish(topic, b"two")
                proxy.wait_for(lambda s: s.held_up > before, 5, "the publish held in the frozen link")
                with cond:
                    assert all(p != b"two" for p, _ in seen)
                assert not info.is_published()  # no PUBACK through a frozen link
                proxy.resume()
                arrived = wait_seen(b"two")
                info.wait_for_publish(5)
                assert arrived > pressed and gerai.connected.is_set()  # late, on the same connection

                proxy.drop()
                proxy.wait_for(lambda s: s.accepted == 2 and s.active == 1, 20, "paho reconnected")
                assert gerai.wait_connected(10)
                gerai.publish(topic, b"three").wait_for_publish(10)
                wait_seen(b"three")
                assert proxy.stats().dropped == 1
            finally:
                gerai.stop()
    finally:
        watcher.stop()
        broker.stop()


# =====================================================================
# audit_log and CommandLedger on logs written by the real service
# =====================================================================


def _script() -> list[tuple[str, str, m.AnyCommand]]:
    """A morning: tickets, calls, a transfer, a no-show called back, a pause, refusals."""
    k, g = "kiosk", "gerai"
    return [
        (k, "k1", m.TakeTicket(id="k1-0000001", service="ktp")),
        (k, "k1", m.TakeTicket(id="k1-0000002", service="ktp", priority="elderly")),
        (k, "k1", m.TakeTicket(id="k1-0000003", service="kk")),
        (k, "k1", m.TakeTicket(id="k1-0000004", service="npwp")),
        (k, "k1", m.TakeTicket(id="k1-0000005", service="ktp")),
        (k, "k1", m.TakeTicket(id="k1-0000006", service="nosuch")),  # refused
        (g, "g1", m.CallNext(id="g1-0000001")),
        (g, "g2", m.CallNext(id="g2-0000001")),
        (g, "g3", m.CallNext(id="g3-0000001")),
        (g, "g4", m.CallNext(id="g4-0000001")),
        (g, "g1", m.Recall(id="g1-0000002")),
        (g, "g2", m.NoShow(id="g2-0000002")),
        (g, "g1", m.CallNext(id="g1-0000003")),  # served + called in one application
        (g, "g3", m.Transfer(id="g3-0000002", service="ktp")),
        (g, "g4", m.Done(id="g4-0000002")),
        (g, "g4", m.Pause(id="g4-0000003", reason="istirahat")),
        (g, "g4", m.CallNext(id="g4-0000004")),  # refused: paused
        (g, "g4", m.Resume(id="g4-0000005")),
        (g, "g3", m.CallNext(id="g3-0000003")),  # queue_empty: nothing for kk
        (g, "g2", m.CallNext(id="g2-0000003")),
    ]


#: the writer of each log a test keeps open (a log has one writer at a time: the log's lock)
_WRITERS: dict[Path, EventStore] = {}


def write_morning(path: Path, config: SiteConfig) -> tuple[QueueService, list[tuple[str, str, m.AnyCommand, m.Reply]]]:
    """The script through the real QueueService into a real log; returns the service and the replies."""
    store = EventStore(path, config.site_id)
    _WRITERS[path] = store
    service = QueueService.open(config, store, at(DAY, 8))
    done = []
    for i, (role, device, command) in enumerate(_script()):
        h = service.handle(role, device, command, at(DAY, 9, i))
        done.append((role, device, command, h.reply))
    return service, done


def append(path: Path, config: SiteConfig, *events: ev.AnyEvent) -> None:
    """Write crafted events with the real writer (as a faulty central would): the test's open
    writer of that log, or a new one."""
    open_writer = _WRITERS.get(path)
    if open_writer is not None and open_writer._lock is not None:
        open_writer.append(list(events))
        return
    store = EventStore(path, config.site_id)
    store.append(list(events))
    store.close()


def ledger_of(done: list[tuple[str, str, m.AnyCommand, m.Reply]]) -> CommandLedger:
    ledger = CommandLedger()
    for _, device, command, reply in done:
        ledger.sent(device, command)
        ledger.replied(device, reply)
    return ledger


@pytest.fixture
def morning(small_site: SiteConfig, tmp_path: Path) -> tuple[Path, QueueService, CommandLedger]:
    path = tmp_path / "central.db"
    service, done = write_morning(path, small_site)
    return path, service, ledger_of(done)


def test_a_sound_log_is_clean_and_its_displays_are_the_services_own(
    morning: tuple[Path, QueueService, CommandLedger], small_site: SiteConfig
) -> None:
    path, service, ledger = morning
    audit = audit_log(path, small_site)  # beside the open writer, read-only
    assert audit.violations() == [], audit.summary()
    assert audit.events == service.store.count() and audit.last_seq == service.store.last_seq
    assert [d.day for d in audit.days] == [DAY.isoformat()]
    assert {s: sorted(v) for s, v in audit.days[0].issued.items()} == {"ktp": [1, 2, 3], "kk": [1], "npwp": [1]}
    assert audit.replies == len(_script())
    call = audit.effect("g1", "g1-0000003")
    assert call is not None and (call.times, call.changes, call.kinds) == (1, 1, ["ticket_served", "ticket_called"])
    refused = audit.effect("g4", "g4-0000004")
    assert refused is not None and (refused.times, refused.changes, refused.refusals) == (1, 0, 1)
    assert audit.effect("g3", "g3-0000003") is None  # queue_empty: no event at all

    # (d) what the displays must show equals what the service itself publishes, and a fresh rebuild
    rebuilt = QueueService.open(small_site, EventStore(path, "test", readonly=True), at(DAY, 10))
    now = at(DAY, 9, 19)
    for gid in small_site.gerai:
        for truth in (service.gerai_state(gid, now, service.store.last_seq), rebuilt.gerai_state(gid, now, 0)):
            assert audit.gerai_mismatch(gid, truth) == []
    assert audit.board_mismatch(service.board(now, service.store.last_seq)) == []
    assert audit.gerai["g4"].status == "idle" and audit.gerai["g1"].ticket == "A003"

    report = ledger.check(audit)
    assert report.ok, report
    assert (report.sent, report.answered, report.refused, report.unanswered, report.lost, report.doubled) == (
        20, 20, 2, 0, 0, 0)
    assert report.applied == 17  # 20 commands, 2 refused, 1 found the queue empty
    assert "violations: 0" in audit.summary()


def test_stale_displays_are_reported(morning: tuple[Path, QueueService, CommandLedger], small_site: SiteConfig) -> None:
    path, service, _ = morning
    audit = audit_log(path, small_site)
    shown = audit.gerai["g1"]
    stale = m.GeraiState(gerai="g1", number=shown.number, name=shown.name, agency=shown.agency, status="idle",
                         waiting=shown.waiting, rev=shown.rev, ts=shown.ts)
    problems = audit.display_mismatches({"g1": stale, "g2": audit.gerai["g2"], "g3": None})
    assert any(p.startswith("g1.status: shows 'idle'") for p in problems), problems
    assert any(p.startswith("g1.ticket: shows None") for p in problems)
    assert "g3: the display received no state" in problems
    assert not any(p.startswith("g2") for p in problems)
    old_board = service.board(at(DAY, 9), 1)
    assert audit.board_mismatch(old_board) == []  # nothing changed since: same board
    service.handle("kiosk", "k1", m.TakeTicket(id="k1-0000099", service="kk"), at(DAY, 9, 30))
    newer = audit_log(path, small_site)
    assert any("board.services[1].waiting" in p for p in newer.board_mismatch(old_board))


def test_a_command_applied_twice_far_apart_is_reported(
    morning: tuple[Path, QueueService, CommandLedger], small_site: SiteConfig
) -> None:
    path, _, ledger = morning
    # the redelivered take_ticket issued a second number, after other commands
    append(path, small_site, ev.TicketIssued(
        ts=at(DAY, 9, 40), actor="k1", cmd="k1-0000001", ticket_id="20240305-A004", number="A004",
        service="ktp", seq=4, priority="regular", print=True))
    audit = audit_log(path, small_site)
    assert len(audit.violations()) == 1, audit.summary()
    assert "command k1/k1-0000001 applied 2 times" in audit.violations()[0]
    report = ledger.check(audit)
    assert (report.doubled, report.lost) == (1, 0) and not report.ok
    assert "DOUBLED" in report.problems[0]


def test_a_command_applied_twice_back_to_back_is_reported(
    morning: tuple[Path, QueueService, CommandLedger], small_site: SiteConfig
) -> None:
    path, service, ledger = morning
    for i in range(2):
        service.handle("kiosk", "k1", m.TakeTicket(id=f"k1-000005{i}", service="kk"), at(DAY, 9, 40 + i))
    call = m.CallNext(id="g2-0000004")
    ledger.sent("g2", call)
    ledger.replied("g2", service.handle("gerai", "g2", call, at(DAY, 9, 42)).reply)
    # the same call_next applied again right after itself: served what it called, called the next one
    engine = service.engine
    held = engine.gerai["g2"].current
    waiting = engine.queues["kk"][1][0][1]
    assert held is not None
    last = service.store.last_seq
    append(path, small_site,
           ev.TicketServed(ts=at(DAY, 9, 43), actor="g2", cmd=call.id, gerai="g2", ticket_id=held),
           ev.TicketCalled(ts=at(DAY, 9, 43), actor="g2", cmd=call.id, gerai="g2", ticket_id=waiting, mode="next"))
    audit = audit_log(path, small_site)
    effect = audit.effect("g2", call.id)
    assert effect is not None and (effect.times, effect.changes) == (2, 2)
    assert [v for v in audit.violations() if "applied" in v] == [
        f"command g2/{call.id} applied 2 times (2 changing state, 0 refused): "
        f"seq {last - 1} ticket_served+ticket_called B001,B002; "
        f"seq {last + 1} ticket_served+ticket_called B002,B003"]
    assert ledger.check(audit).doubled == 1


def test_two_ticket_issued_for_one_command_in_one_run_is_a_double(small_site: SiteConfig, tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    base = dict(actor="k1", cmd="k1-0000001", service="ktp", priority="regular", print=True)
    append(path, small_site, ev.DayOpened(ts=at(DAY, 8), actor="system", day=DAY.isoformat()),
           ev.TicketIssued(ts=at(DAY, 9), ticket_id="20240305-A001", number="A001", seq=1, **base),  # type: ignore[arg-type]
           ev.TicketIssued(ts=at(DAY, 9), ticket_id="20240305-A002", number="A002", seq=2, **base))  # type: ignore[arg-type]
    audit = audit_log(path, small_site)
    assert [v.split(":")[0] for v in audit.violations()] == ["command k1/k1-0000001 applied 2 times (2 changing state, 0 refused)"]


def test_a_gap_and_a_duplicate_number_are_reported(small_site: SiteConfig, tmp_path: Path) -> None:
    path = tmp_path / "c.db"

    def issued(i: int, cmd: str, seq: int, service: str = "ktp", prefix: str = "A") -> ev.TicketIssued:
        number = f"{prefix}{seq:03d}"
        return ev.TicketIssued(ts=at(DAY, 9, i), actor="k1", cmd=cmd, ticket_id=f"20240305-{number}",
                               number=number, service=service, seq=seq, priority="regular", print=True)

    append(path, small_site, ev.DayOpened(ts=at(DAY, 8), actor="system", day=DAY.isoformat()),
           issued(1, "k1-0000001", 1), issued(2, "k1-0000002", 3),  # A002 never issued
           issued(3, "k1-0000003", 1, "kk", "B"), issued(4, "k1-0000004", 1, "kk", "B"))  # B001 twice
    violations = audit_log(path, small_site).violations()
    assert "2024-03-05 ktp: numbers missing (gap): [2]" in violations
    assert "2024-03-05 kk: numbers issued more than once: [1]" in violations
    assert "2024-03-05 seq 5: ticket B001 (kk) issued twice" in violations
    assert len(violations) == 3, violations


def test_a_ticket_called_by_two_gerai_is_reported(
    morning: tuple[Path, QueueService, CommandLedger], small_site: SiteConfig
) -> None:
    path, service, _ = morning
    held = service.engine.gerai["g1"].current
    assert held is not None
    last = service.store.last_seq
    append(path, small_site, ev.TicketCalled(ts=at(DAY, 9, 45), actor="g3", cmd="g3-0000077", gerai="g3",
                                             ticket_id=held, mode="next"))
    violations = audit_log(path, small_site).violations()
    assert violations == [f"2024-03-05 seq {last + 1}: g3 called {held[-4:]} while g1 held it "
                          "(called by two gerai)"]


def test_impossible_transitions_and_a_repeated_day_are_reported(
    morning: tuple[Path, QueueService, CommandLedger], small_site: SiteConfig
) -> None:
    path, service, _ = morning
    served = next(t for t in service.engine.tickets.values() if t.status.value == "served")
    append(path, small_site,
           ev.TicketCalled(ts=at(DAY, 9, 50), actor="g2", cmd="g2-0000090", gerai="g2", ticket_id=served.id,
                           mode="next"),
           ev.TicketServed(ts=at(DAY, 9, 51), actor="g4", cmd="g4-0000090", gerai="g4", ticket_id=served.id),
           ev.DayOpened(ts=at(DAY, 9, 52), actor="system", day=DAY.isoformat()))
    text = "\n".join(audit_log(path, small_site).violations())
    assert f"g2 called {served.number}, which is served" in text
    assert "g2 called" in text and "while still holding" in text
    assert f"g4: ticket_served for {served.number}, which it does not hold" in text
    assert "day 2024-03-05 opened twice" in text


def test_an_unreadable_event_is_reported_not_raised(
    morning: tuple[Path, QueueService, CommandLedger], small_site: SiteConfig
) -> None:
    import sqlite3

    path, service, _ = morning
    service.store.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE events SET body = ? WHERE seq = 3", (b'{"kind": "ticket_issued", "ts": "x"}',))
    db.commit()
    db.close()
    audit = audit_log(path, small_site)
    assert any(v.startswith("seq 3: unreadable event") for v in audit.violations())


def test_the_ledger_reports_lost_refused_but_applied_and_conflicting_replies(
    morning: tuple[Path, QueueService, CommandLedger], small_site: SiteConfig
) -> None:
    path, _, ledger = morning
    audit = audit_log(path, small_site)
    ts = at(DAY, 10)
    # acknowledged but never committed: lost
    ghost = m.CallNext(id="g1-ghost-001")
    ledger.sent("g1", ghost)
    ledger.replied("g1", m.Reply(cmd=ghost.id, ok=True, code="called", ticket="A009", ts=ts))
    # refused on the wire, but the log shows it applied
    ledger.sent("k1", m.TakeTicket(id="k1-0000002", service="ktp"))  # a resend of an applied command ...
    # ... a command never answered (allowed), and one answered twice differently
    ledger.sent("g4", m.Done(id="g4-never-01"))
    ledger.replied("g1", m.Reply(cmd="g1-0000001", ok=False, code="stale", ts=ts))
    ledger.replied("g9", m.Reply(cmd="nobody-sent", ok=True, code="called", ts=ts))
    report = ledger.check(audit)
    assert (report.lost, report.doubled, report.unanswered, report.unanswered_applied) == (1, 0, 1, 0)
    assert report.transmissions == report.sent + 1
    text = "\n".join(report.problems)
    assert "g1/g1-ghost-001 (call_next): LOST" in text
    assert "g1/g1-0000001: answered called A002 and later stale None" in text
    assert "g9/nobody-sent: reply called to a command never sent" in text
    assert not report.ok

    wrong = CommandLedger()
    wrong.sent("k1", m.TakeTicket(id="k1-0000001", service="ktp"))
    wrong.replied("k1", m.Reply(cmd="k1-0000001", ok=False, code="quota_exhausted", ts=ts))
    wrong.sent("k1", m.TakeTicket(id="k1-0000003", service="kk"))
    wrong.replied("k1", m.Reply(cmd="k1-0000003", ok=True, code="issued", ticket="B007", ts=ts))
    problems = wrong.check(audit).problems
    assert problems == [
        "k1/k1-0000001 (take_ticket): answered quota_exhausted (refused) but applied: ['ticket_issued']",
        "k1/k1-0000003 (take_ticket): answered ticket B007 but the log names ['B001']",
    ]


def test_the_ledger_is_thread_safe() -> None:
    ledger = CommandLedger()

    def load(n: int) -> None:
        for i in range(500):
            cmd = m.CallNext(id=f"g{n}-{i:07d}")
            ledger.sent(f"g{n}", cmd)
            ledger.sent(f"g{n}", cmd)
            ledger.replied(f"g{n}", m.Reply(cmd=cmd.id, ok=True, code="queue_empty", ts=0.0))

    threads = [threading.Thread(target=load, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = ledger.entries()
    assert len(entries) == len(ledger) == 4000 and all(len(e.sent) == 2 and e.reply for e in entries)


# =====================================================================
# A real scenario: broker + antre central, audited
# =====================================================================


class Tracked:
    """A device whose requests are recorded in a ledger."""

    def __init__(self, device: Device, ledger: CommandLedger) -> None:
        self.device, self.ledger = device, ledger

    def __call__(self, command: m.AnyCommand) -> m.Reply:
        self.ledger.sent(self.device.device, command)
        reply = self.device.request(command)
        self.ledger.replied(self.device.device, reply)
        return reply


def displays(watcher: Watcher) -> tuple[dict[str, m.GeraiState], m.Board | None]:
    """What each gerai display shows (contract 2: its state, with the waiting count summed from its
    services' states) and the site a lobby assembles from the same retained topics."""
    feed = watcher.feed(T.site)
    states = {gid: feed.shown(state) for gid, state in feed.gerai.items()}
    return states, (feed.board() if feed.gerai else None)


def converged(stack: Stack, watcher: Watcher) -> LogAudit:
    """Audit the live log and wait until every display shows what it says."""
    audit = audit_log(stack.site.dir / "central.db", stack.site.config)
    problems: list[str] = []

    def check() -> bool:
        states, board = displays(watcher)
        problems[:] = audit.display_mismatches({g: states.get(g) for g in stack.site.config.gerai}, board,
                                               with_board=True)
        return not problems

    try:
        wait_for(check, 15, "displays to converge")
    except AssertionError:
        raise AssertionError("displays differ from the log:\n" + "\n".join(problems)) from None
    return audit


@pytest.fixture(params=["mosquitto", "embedded"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with running_site(request.param, tmp_path) as s:
        yield s


def test_real_scenario_audits_clean_and_displays_match_the_log(stack: Stack) -> None:
    site = stack.site
    ledger = CommandLedger()
    watcher = Watcher(site, Identity(Role.MONITOR, "t1"), SiteFeed(T.site).subscriptions())
    devices = {d: Device(site, Role.GERAI, d) for d in site.config.gerai}
    kiosk = Device(site, Role.KIOSK, "k1")
    try:
        take, g = Tracked(kiosk, ledger), {d: Tracked(dev, ledger) for d, dev in devices.items()}
        for i, service in enumerate(["ktp", "ktp", "kk", "npwp", "kk", "ktp", "npwp", "kk"]):
            assert take(m.TakeTicket(id=f"k1-real-{i:03d}", service=service)).ok
        assert take(m.TakeTicket(id="k1-real-bad", service="nosuch")).code == "unknown_service"
        for d in ("g1", "g2", "g3", "g4", "g1"):
            assert g[d](m.CallNext(id=f"{d}-real-{time.monotonic_ns()}")).code == "called"
        assert g["g1"](m.Recall(id="g1-real-recall")).code == "recalled"
        no_show = g["g2"](m.NoShow(id="g2-real-noshow"))
        assert g["g2"](m.Recall(id="g2-real-back", ticket=no_show.ticket)).code == "recalled"
        assert g["g3"](m.Transfer(id="g3-real-xfer", service="ktp")).code == "transferred"
        assert g["g4"](m.Done(id="g4-real-done")).code == "served"
        assert g["g4"](m.Pause(id="g4-real-pause", reason="sholat")).code == "paused"
        assert g["g4"](m.CallNext(id="g4-real-paused")).code == "gerai_paused"
        # a duplicate delivery: the device resends an applied command
        again = m.CallNext(id="g1-real-twice")
        g["g1"](again)
        g["g1"](again)

        audit = converged(stack, watcher)
        assert audit.violations() == [], audit.summary()
        report = ledger.check(audit)
        assert report.ok, report
        assert (report.sent, report.answered, report.refused, report.lost, report.doubled) == (22, 22, 2, 0, 0)
        assert report.transmissions == 23
        assert audit.gerai["g4"].status == "paused"
    finally:
        for dev in (*devices.values(), kiosk):
            dev.close()
        watcher.close()


def test_a_press_held_by_a_hung_link_is_measured_late_and_audited(stack: Stack) -> None:
    """The late-press fault of the field test, reproduced and measured with the instruments."""
    site = stack.site
    ledger = CommandLedger()
    watcher = Watcher(site, Identity(Role.MONITOR, "t1"), SiteFeed(T.site).subscriptions())
    kiosk = Device(site, Role.KIOSK, "k1")
    with TcpProxy("127.0.0.1", site.port, name="g1-wifi") as proxy:
        g1 = Device(via_port(site, proxy.port), Role.GERAI, "g1")
        try:
            take = Tracked(kiosk, ledger)
            for i in range(3):
                take(m.TakeTicket(id=f"k1-hang-{i:03d}", service="ktp"))
            Tracked(g1, ledger)(m.CallNext(id="g1-hang-first"))

            proxy.hang()
            held = proxy.stats().held_up
            press = m.CallNext(id="g1-hang-press")
            sent_at = time.time()
            ledger.sent("g1", press, at=sent_at)
            g1.link.publish(T.gerai("g1", Channel.CMD), codec.encode(press), qos=1)
            proxy.wait_for(lambda s: s.held_up > held, 5, "the press held in the frozen link")
            during = audit_log(site.dir / "central.db", site.config)
            assert during.effect("g1", press.id) is None  # not applied while the link is frozen
            assert ledger.check(during).unanswered == 1

            resumed_at = time.time()
            proxy.resume()
            reply = wait_for(lambda: g1.replies.get(press.id), 15, "the late reply")
            ledger.replied("g1", reply)
            audit = converged(stack, watcher)
            assert audit.violations() == [], audit.summary()
            report = ledger.check(audit)
            assert report.ok and (report.lost, report.doubled) == (0, 0), report
            effect = audit.effect("g1", press.id)
            if reply.ok:  # applied after the link recovered, not when pressed
                assert effect is not None and effect.changes == 1
                assert effect.applications[0].ts >= resumed_at
                delay = ledger.delays(audit)[("g1", press.id)]
                assert delay >= resumed_at - sent_at > 0  # measured late by at least the hang
            else:  # a central that refuses stale presses: never applied
                assert effect is None or effect.changes == 0
        finally:
            g1.close()
            kiosk.close()
            watcher.close()
