"""The node's rules, fast and deterministic under CPython: the real umqtt.simple over the scripted
socket (tests/mpy_fakes/socket.py) with a hand-driven clock, and the display drivers against
models of the chips.  (The same loop runs on real MicroPython in tests/test_firmware.py and over
Mosquitto in tests/test_firmware_umqtt.py.)"""

from __future__ import annotations

import json
import os
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from tests.conftest import ROOT
from tests.firmware_fakes import FakeDisplay, FakePin, FakeWLAN
from tests.mpy_shim import TICKS_PERIOD, Board, load_umqtt, scripted_socket

EPOCH = 1700190000000


def _fw(name: str) -> Any:
    sys.path.insert(0, str(ROOT / "firmware"))
    try:
        return __import__(f"antre_fw.{name}", fromlist=[name])
    finally:
        sys.path.remove(str(ROOT / "firmware"))


node = _fw("node")
protocol = _fw("protocol")
drivers = _fw("drivers")
linkclock = _fw("linkclock")
outbox_mod = _fw("outbox")


class Clock:
    """ticks_ms by hand, with MicroPython's wrap."""

    def __init__(self, start: int = 1000) -> None:
        self.t = start % TICKS_PERIOD

    def __call__(self) -> int:
        return self.t

    def advance(self, ms: int) -> None:
        self.t = (self.t + ms) % TICKS_PERIOD


def state(ticket: str | None, waiting: int, rev: int, epoch: int = EPOCH, status: str | None = None) -> bytes:
    return json.dumps({"kind": "gerai_state", "v": 1, "epoch": epoch, "gerai": "g05", "number": 5, "name": "Gerai 5",
                       "status": status or ("idle" if ticket is None else "serving"), "ticket": ticket,
                       "waiting": waiting, "rev": rev, "ts": 1700198100.0}).encode()


def reply(cmd: str, ok: bool, code: str, epoch: int = EPOCH) -> bytes:
    return json.dumps({"kind": "reply", "v": 1, "epoch": epoch, "cmd": cmd, "ok": ok, "code": code,
                       "text_id": "", "text_en": "", "ticket": None, "ts": 1700198101.25}).encode()


@dataclass
class Rig:
    node: Any
    broker: Any  # the scripted socket module's Broker
    clock: Clock
    pin: FakePin
    display: FakeDisplay
    wlan: FakeWLAN

    def step(self, ms: int = 10, n: int = 1) -> None:
        for _ in range(n):
            self.node.step()
            self.clock.advance(ms)

    def press(self) -> None:
        """An 80 ms press; the loop then runs past the debounce window that confirms its release."""
        self.pin.drive(0)
        self.clock.advance(80)
        self.pin.drive(1)
        self.step(10, 3)

    def commands(self) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, q, r in self.broker.published if t.endswith("/cmd")
                and b'"ping"' not in p]


def rig(answer: Callable[[dict[str, Any]], list[tuple[str, bytes]]] | None = None, *, start: int = 1000,
        wlan: FakeWLAN | None = None, wifi_codes: dict[int, str] | None = None, **cfg_extra: Any) -> Rig:
    sock = scripted_socket()
    broker = sock.Broker
    broker.reset()
    broker.state = state(None, 3, 1)
    broker.answer = answer
    umqtt = load_umqtt(sock)
    clock = Clock(start)
    cfg = {"site": "kupang", "gerai": "g05", "wifi_ssid": "MPP", "broker_host": "10.0.0.2", "password": "x" * 20,
           "buttons": [{"pin": 14, "press": "call_next", "hold": "pause_toggle"}], "keepalive": 6, **cfg_extra}
    assert node.validate_config(cfg) == []
    board = Board()
    platform = node.Platform(clock, os.urandom, board.ticks_diff, board.ticks_add, b"\x01\x02\x03\x04", None,
                             "power_on", lambda: 100000, wifi_codes or {})
    pin, display = FakePin(), FakeDisplay()
    wlan = wlan or FakeWLAN()
    n = node.Node(cfg, wlan, lambda cid, h, p, u, pw, ka: umqtt.MQTTClient(cid, h, p, u, pw, keepalive=ka),
                  display, [(pin, cfg["buttons"][0])], platform)
    return Rig(n, broker, clock, pin, display, wlan)


def online(r: Rig) -> Rig:
    r.step(n=5)
    assert r.node.link is not None and r.node.clock.synced and r.display.last == "SIAP   3", r.display.shown
    return r


# ---------------------------------------------------------------- command ids

def test_command_ids_never_repeat_across_reboots() -> None:
    """2,000 boots of the same board with the very same ticks_ms at boot: every boot's ids differ.
    The old boot part ("%08x" % ticks_ms()) is the same at every boot: its ids repeat."""
    firsts = set()
    cfg = {"site": "kupang", "gerai": "g05", "wifi_ssid": "MPP", "broker_host": "10.0.0.2", "password": "x" * 20,
           "buttons": [{"pin": 14, "press": "call_next"}]}
    for _ in range(2000):  # a boot: the same board, the same ticks_ms, a new Node
        platform = node.Platform(Clock(), os.urandom, unique_id=b"\x01\x02\x03\x04")
        n = node.Node(cfg, FakeWLAN(), None, FakeDisplay(), [(FakePin(), cfg["buttons"][0])], platform)
        firsts.add(n.ids.next())
    assert len(firsts) == 2000
    first = next(iter(firsts))
    assert first.startswith("g05-01020304") and len(first) <= 64
    assert codec.decode(protocol.command("call_next", first, 1700198100000), "cmd").id == first
    old = {"g05-%08x-%06d" % (Clock()(), 1) for _ in range(2000)}
    assert len(old) == 1


# ---------------------------------------------------------------- presses

def test_press_is_one_qos1_command_stamped_with_the_central_clock() -> None:
    r = online(rig(lambda cmd: [("reply", reply(cmd["id"], True, "called")),
                                ("state", state("A001", 2, 2))]))
    r.broker.clock_ms += 0  # the pong carried 1700198100.000 at about now
    r.press()
    r.step(n=3)
    cmds = r.commands()
    assert len(cmds) == 1 and cmds[0]["kind"] == "call_next"
    assert [q for t, p, q, _ in r.broker.published if t.endswith("/cmd") and b'"ping"' not in p] == [1]
    cmd = codec.decode(json.dumps(cmds[0]).encode(), "cmd")
    assert cmd.ts is not None and 1700198100.0 <= cmd.ts < 1700198101.0
    assert r.display.last == "A001   2" and r.node.answered == 1 and len(r.node.outbox) == 0


def test_unanswered_press_is_resent_with_the_same_bytes_until_its_deadline_then_E9() -> None:
    r = online(rig(None))  # the central never answers
    r.press()
    r.step(100, 70)  # 7 s
    sent = [p for t, p, q, _ in r.broker.published if t.endswith("/cmd") and b'"ping"' not in p]
    assert 5 <= len(sent) <= 6, len(sent)  # the press and a resend about every second, for 5 s
    assert len(set(sent)) == 1  # unchanged: same id, same press time
    assert r.node.no_answer == 1 and node.ERR_NO_ANSWER in r.display.shown
    r.step(1000, 5)
    assert r.display.last == "SIAP   3"  # the notice passes


def test_unanswered_press_is_resent_at_once_after_a_reconnect() -> None:
    answers: list[str] = []

    def answer(cmd: dict[str, Any]) -> list[tuple[str, bytes]]:
        answers.append(cmd["id"])
        return [("reply", reply(cmd["id"], True, "called"))] if len(answers) > 1 else []

    r = online(rig(answer))
    r.press()
    r.step(10, 2)
    assert len(answers) == 1
    r.broker.sockets[-1].closed = True  # the connection dies
    r.step(10, 3)
    assert r.node.link is None and r.display.last == "OFF"
    r.step(100, 20)  # reconnect (backoff) and resend at once
    assert r.node.connects == 2 and answers[0] == answers[1] and r.node.answered == 1


def test_press_while_offline_is_refused_and_never_sent_later() -> None:
    r = rig(None, wlan=FakeWLAN(join_after=10**9))  # the Wi-Fi never comes
    r.step(n=3)
    r.press()
    r.step(n=2)
    assert r.display.last == node.NOT_SENT and r.node.refused == 1
    r.wlan.join_after = 0
    r.step(100, 40)
    assert r.node.link is not None and r.commands() == []


def test_press_before_the_central_answers_a_ping_is_E8_not_an_unstamped_command() -> None:
    r = rig(None)
    r.broker.pong = False  # the central is not there
    r.step(n=5)
    assert r.node.link is not None and not r.node.clock.synced
    r.press()
    r.step(n=2)
    assert r.display.last == node.ERR_NO_CLOCK and r.commands() == []
    pings = [json.loads(p) for t, p, q, _ in r.broker.published if b'"ping"' in p]
    assert pings and pings[0]["ts"] is None
    r.step(1000, 4)
    assert len([p for t, p, q, _ in r.broker.published if b'"ping"' in p]) >= 2  # asked again every 3 s


def test_refusals_show_codes_and_older_epochs_are_ignored() -> None:
    codes = iter(["stale", "gerai_paused", "queue_empty", "something_new"])
    r = online(rig(lambda cmd: [("reply", reply(cmd["id"], False, next(codes)))]))
    shown = []
    for _ in range(4):
        r.press()
        r.step(n=3)
        shown.append(r.display.last)
        r.step(1000, 4)
    assert shown == ["r2", "r4", "r1", "r9"]
    # a reply of an older epoch (an obsolete central) is not acted on: the press stays pending
    r.broker.answer = lambda cmd: [("reply", reply(cmd["id"], True, "called", EPOCH - 1))]
    r.press()
    r.step(n=3)
    assert r.node.old_epoch == 1 and len(r.node.outbox) == 1
    # a newer epoch's state is taken whatever its rev (a central restarted on a fresh log)
    r.node._message(r.node.t_state, state("B001", 9, 1, EPOCH + 5))
    r.step()
    assert r.display.last == "B001   9" and r.node.epoch == EPOCH + 5
    r.node._message(r.node.t_state, state("A007", 1, 500, EPOCH))
    r.step()
    assert r.display.last == "B001   9" and r.node.old_epoch == 2


def test_a_second_call_refused_by_the_call_guard_shows_r7() -> None:
    r = online(rig(lambda cmd: [("reply", reply(cmd["id"], False, "double_press"))]))
    r.press()
    r.step(n=3)
    assert r.display.last == "r7" and node.REFUSALS["double_press"] == "r7"


def test_a_glitch_or_a_tap_on_the_line_is_no_press_and_no_hold() -> None:
    """The field failure: a 1 ms glitch (or a 20 ms tap) fired the hold action 1.2 s later (here
    pause_toggle; in the field no_show on the citizen being served)."""
    r = online(rig(lambda cmd: [("reply", reply(cmd["id"], True, "paused"))]))
    for pulse_ms in (1, 20):
        r.pin.drive(0)
        r.clock.advance(pulse_ms)
        r.pin.drive(1)
        r.step(100, 30)  # 3 s
    assert r.commands() == []
    assert r.node.buttons[0][2].bounces == 2
    r.press()  # and the next real press is not swallowed
    r.step(n=3)
    assert [c["kind"] for c in r.commands()] == ["call_next"]


def test_a_lost_release_interrupt_is_caught_by_reading_the_pin() -> None:
    r = online(rig(lambda cmd: [("reply", reply(cmd["id"], True, "called"))]))
    r.pin.drive(0)
    r.clock.advance(80)
    r.pin.level = 1  # released, but its interrupt never came (ring full, noise)
    r.step(100, 30)
    assert [c["kind"] for c in r.commands()] == ["call_next"]  # a press, not a hold (pause)


def test_pause_toggle_follows_the_state() -> None:
    r = online(rig(lambda cmd: [("reply", reply(cmd["id"], True, "paused"))]))
    r.pin.drive(0)
    r.step(100, 13)  # held 1.3 s
    r.pin.drive(1)
    r.step(n=2)
    r.node._message(r.node.t_state, state(None, 3, 5, status="paused"))
    r.step(100, 3)
    r.pin.drive(0)
    r.step(100, 13)
    r.pin.drive(1)
    r.step(n=2)
    assert [c["kind"] for c in r.commands()] == ["pause", "resume"]


# ---------------------------------------------------------------- link

def test_frozen_link_is_found_within_a_keepalive_and_reconnects_are_bounded() -> None:
    r = online(rig(None))
    r.broker.frozen = True
    r.step(500, 13)  # 6.5 s: PINGREQs go out, nothing comes back
    assert r.node.link is None and r.node.lost == 1
    r.step(500, 10)
    assert r.display.last == node.ERR_BROKER  # no CONNACK: "broker not reachable"
    r.broker.frozen = False
    r.step(1000, 40)
    assert r.node.link is not None and r.node.connects >= 2


def test_pingreq_every_half_keepalive() -> None:
    r = online(rig(None))
    sock = r.broker.sockets[-1]
    seen = []
    write = sock.write

    def spy(buf: Any, n: Any = None) -> int:
        data = bytes(buf) if n is None else bytes(buf)[:n]
        if data == b"\xc0\x00":
            seen.append(r.clock())
        return write(buf, n)  # type: ignore[no-any-return]

    sock.write = spy
    r.step(100, 200)  # 20 s
    assert 6 <= len(seen) <= 7 and r.node.lost == 0  # every 3 s with keepalive 6


@pytest.mark.parametrize("connack, code", [(5, "E6"), (4, "E6"), (2, "E7"), (3, "E7")])
def test_broker_refusals_are_codes_and_close_the_socket(connack: int, code: str) -> None:
    r = rig(None)
    r.broker.connack = connack
    r.step(100, 30)
    assert r.display.last == code and r.node.link is None
    assert r.broker.sockets and all(s.closed for s in r.broker.sockets)
    assert 2 <= len(r.broker.connects) <= 5  # backoff, not a tight loop


def test_wifi_is_asked_once_while_joining_and_failures_are_codes() -> None:
    slow = FakeWLAN(join_after=50)
    r = rig(None, wlan=slow)
    r.step(100, 30)
    assert slow.connect_calls == 1 and r.node.link is None  # still associating: never asked again
    r.step(100, 30)
    assert r.node.link is not None
    for status, code in ((202, node.ERR_WIFI_AUTH), (201, node.ERR_WIFI)):
        bad = FakeWLAN(fail_status=status)
        r = rig(None, wlan=bad, wifi_codes={202: node.ERR_WIFI_AUTH, 201: node.ERR_WIFI, 2: node.ERR_NO_IP})
        r.step(100, 5)
        assert r.display.last == code
    noip = FakeWLAN(fail_status=2)
    r = rig(None, wlan=noip, wifi_codes={2: node.ERR_NO_IP})
    r.step(1000, 10)
    assert r.display.last == "OFF" and noip.connect_calls == 1  # waiting for DHCP is not yet an error
    r.step(1000, 11)
    assert r.display.last == node.ERR_NO_IP  # after 20 s it is


def test_the_loop_survives_the_ticks_wrap() -> None:
    r = online(rig(lambda cmd: [("reply", reply(cmd["id"], True, "called")), ("state", state("A001", 2, 2))],
                   start=TICKS_PERIOD - 3000))
    r.step(100, 40)  # across the wrap of ticks_ms
    assert r.clock() < 10000 and r.node.link is not None and r.node.lost == 0
    r.press()
    r.step(n=3)
    assert r.display.last == "A001   2"
    assert r.commands()[0]["ts"] < 1700198110


def test_health_reports_what_a_technician_needs() -> None:
    r = online(rig(None, health_interval_s=5))
    r.node.p.reset_cause = "watchdog"
    r.wlan.rssi = -80
    r.step(1000, 6)
    payloads = [p for t, p, q, _ in r.broker.published if t.endswith("/health")]
    assert payloads and all(q == 0 for t, p, q, _ in r.broker.published if t.endswith("/health"))
    health = codec.decode(payloads[-1], "health", m.Health)
    assert health.uptime_s >= 5 and health.ts >= 1700198100.0
    assert any("watchdog" in f for f in health.faults) and any("-80 dBm" in f for f in health.faults)
    assert (health.rssi_dbm, health.reset_cause) == (-80, "watchdog")  # as numbers too, for `antre status`
    assert health.ip == "192.168.10.57"  # where the technician finds the node (network.WLAN().ifconfig())


# ---------------------------------------------------------------- protocol

def test_times_never_go_through_a_float() -> None:
    """MicroPython on the ESP32 and RP2040 has 32-bit floats: 1700198100.123 is 1700198144.0
    there.  The node reads and writes the central's times as integer milliseconds."""
    assert struct.unpack("f", struct.pack("f", 1700198100.123))[0] == 1700198144.0
    assert protocol.number_ms(b'{"ts":1700198100.123456}', b'"ts"') == 1700198100123
    assert protocol.number_ms(b'{"text_id":"ts","ts" : 1700198100}', b'"ts"') == 1700198100000
    assert protocol.ms_text(1700198100123) == "1700198100.123"
    clock = linkclock.LinkClock(Board.ticks_diff)
    clock.ping_sent("p1", TICKS_PERIOD - 10)
    assert clock.pong("p1", 1700198100123, 10)  # the round trip across the wrap: 20 ms
    assert clock.now_ms(1010) == 1700198100123 + 10 + 1000


# ---------------------------------------------------------------- drivers

class TM1637Chip:
    """A TM1637 on a two-wire bus, by its datasheet: start (DIO falls while CLK is high), bits
    sampled on CLK rising, the ACK (it pulls DIO low from the 8th falling edge to the 9th), stop
    (DIO rises while CLK is high).  Records each frame's bytes and every violation: a level held
    less than the delay, the node driving DIO high while the chip pulls it low."""

    def __init__(self, delay_us: int) -> None:
        self.delay_us = delay_us
        self.clk = 1
        self.dio_mode = FakePin.IN
        self.dio_level = 1  # what the node writes
        self.pull = False  # the chip acknowledging
        self.in_frame = False
        self.nbits = 0
        self.byte = 0
        self.frame: list[int] = []
        self.frames: list[list[int]] = []
        self.acks = 0
        self.errors: list[str] = []
        self.held_us = 10**6

    def line(self) -> int:
        driven_low = self.dio_mode in (FakePin.OUT, FakePin.OPEN_DRAIN) and self.dio_level == 0
        return 0 if self.pull or driven_low else 1

    def sleep(self, us: int) -> None:
        self.held_us += us

    def _changed(self, what: str) -> None:
        if self.held_us < self.delay_us:
            self.errors.append(f"{what} after {self.held_us} us")
        self.held_us = 0

    def set_clk(self, v: int) -> None:
        if v == self.clk:
            return
        self._changed("CLK edge")
        self.clk = v
        if not self.in_frame:
            return
        if v == 1:  # rising: the chip samples a bit, or the node its ACK
            if self.nbits < 8:
                self.byte |= self.line() << self.nbits
                self.nbits += 1
            elif self.line() == 0:
                self.acks += 1
        elif self.nbits == 8 and not self.pull:
            self.pull = True  # the 8th falling edge: the chip acknowledges (its own edge, not the node's)
            if self.dio_mode == FakePin.OUT and self.dio_level == 1:
                self.errors.append("DIO driven high against the chip's ACK")
        elif self.nbits == 8:
            self.pull = False  # the 9th falling edge: the chip lets go
            self.frame.append(self.byte)
            self.byte = self.nbits = 0

    def set_dio(self, mode: int, level: int) -> None:
        before = self.line()
        self.dio_mode, self.dio_level = mode, level
        if self.pull and mode == FakePin.OUT and level == 1:
            self.errors.append("DIO driven high against the chip's ACK")
        after = self.line()
        if before == after:
            return
        self._changed("DIO edge")
        if self.clk == 1 and after == 0:
            self.in_frame, self.frame, self.nbits, self.byte = True, [], 0, 0
        elif self.clk == 1 and after == 1 and self.in_frame:
            self.frames.append(self.frame)
            self.in_frame = False


class BusPin(FakePin):
    def __init__(self, chip: TM1637Chip, role: str) -> None:
        super().__init__(1, role)
        self.chip, self.role = chip, role
        self.mode = FakePin.IN

    def init(self, mode: int = -1, pull: int = -1, value: int | None = None) -> None:
        if mode != -1:
            self.mode = mode
        if value is not None:
            self.value(value)
        elif self.role == "dio":
            self.chip.set_dio(self.mode, self.level)

    def value(self, v: int | None = None) -> int:
        if v is None:
            return self.chip.line() if self.role == "dio" else self.level
        self.level = v
        if self.role == "clk":
            self.chip.set_clk(v)
        else:
            self.chip.set_dio(self.mode, v)
        return v


def test_tm1637_speaks_its_datasheet() -> None:
    """Field failure (read in the code): the old driver ignored its delay, drove DIO through the
    ACK and never made the first start condition (the chip model decodes no data command)."""
    chip = TM1637Chip(delay_us=10)
    tm = drivers.TM1637(BusPin(chip, "clk"), BusPin(chip, "dio"), delay_us=10, sleep_us=chip.sleep)
    tm.show("AB12")
    assert chip.errors == []
    assert chip.frames[0] == [0x40]  # the first start condition is seen: data command
    enc = [drivers._tm1637_order(b) for b in _fw("segments").encode("AB12", 4)]
    assert chip.frames[1] == [0xC0, *enc] and chip.frames[2] == [0x8F]
    assert chip.acks == 7 and tm.nacks == 0


def test_tm1637_missing_module_is_counted() -> None:
    chip = TM1637Chip(delay_us=10)
    chip.set_clk = lambda v: None  # type: ignore[method-assign]  # nothing on the bus answers
    tm = drivers.TM1637(BusPin(chip, "clk"), BusPin(chip, "dio"), sleep_us=chip.sleep)
    tm.show("8888")
    assert tm.nacks == 7


class RecordingSPI:
    def __init__(self) -> None:
        self.writes: list[tuple[int, int]] = []

    def write(self, buf: bytes) -> None:
        self.writes.append((buf[0], buf[1]))


def test_max7219_setup_like_the_pi_and_digits_right_to_left() -> None:
    spi, cs = RecordingSPI(), FakePin()
    d = drivers.MAX7219(spi, cs, digits=8)
    regs = spi.writes
    assert regs[:5] == [(0x0F, 0), (0x0C, 0), (0x09, 0), (0x0B, 7), (0x0A, 7)]
    assert regs[5:13] == [(i, 0) for i in range(1, 9)] and regs[13] == (0x0C, 1)  # cleared, then on
    spi.writes.clear()
    d.show("AB012  7")
    seg = _fw("segments")
    assert spi.writes == [(i + 1, b) for i, b in enumerate(reversed(seg.encode("AB012  7", 8)))]


def test_every_display_code_is_documented_for_the_technician() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## MicroPython gerai nodes (technicians)"):readme.index("## Development")]
    codes = set(node.CODES) | set(node.REFUSALS.values()) | {node.REFUSED_OTHER, node.NOT_SENT}
    for code in sorted(codes):
        assert f"`{code}`" in section, f"{code} is not in the README's technician section"
    for refusal in node.REFUSALS:
        assert refusal in section or refusal in ("gerai_paused", "on_break", "before_hours", "after_hours",
                                                 "after_cutoff", "holiday", "closed_today", "quota_exhausted",
                                                 "not_allowed", "unknown_device", "unknown_service",
                                                 "service_not_offered", "queue_empty"), refusal


def test_a_wifi_driver_that_raises_is_watched_not_a_crash() -> None:
    class Grumpy(FakeWLAN):
        def connect(self, ssid: str, password: str) -> None:
            super().connect(ssid, password)
            raise OSError("Wifi Internal State Error")  # an ESP32 already reconnecting by itself

    wlan = Grumpy(join_after=3)
    r = rig(None, wlan=wlan)
    r.step(100, 20)  # no exception out of step()
    assert r.node.link is not None and wlan.connect_calls == 1
