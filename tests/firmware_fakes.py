"""Fakes of MicroPython's machine and network objects for running the firmware's main loop under
CPython, with the real umqtt.simple (tests/mpy_shim.py) doing real socket I/O to a real broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class FakePin:
    """machine.Pin: a level, an interrupt handler (run on the thread that drives the pin, as a
    hard interrupt preempts the loop), and the modes and levels a driver set, with times."""

    IN, OUT, OPEN_DRAIN, PULL_UP = 0, 1, 2, 1
    IRQ_FALLING, IRQ_RISING = 2, 1

    def __init__(self, level: int = 1, name: str = "pin") -> None:
        self.level = level
        self.name = name
        self.mode = self.IN
        self.handler: Callable[[FakePin], None] | None = None
        self.trigger = 0
        self.hard = False
        self.log: list[tuple[str, int]] = []  # ("mode"/"level", value), in order

    def init(self, mode: int = -1, pull: int = -1, value: int | None = None) -> None:
        if mode != -1:
            self.mode = mode
            self.log.append(("mode", mode))
        if value is not None:
            self.value(value)

    def irq(self, handler: Callable[[FakePin], None] | None = None, trigger: int = 3, hard: bool = False) -> None:
        self.handler, self.trigger, self.hard = handler, trigger, hard

    def value(self, v: int | None = None) -> int:
        if v is None:
            return self.level
        self.level = v
        self.log.append(("level", v))
        return v

    def __call__(self, v: int | None = None) -> int:
        return self.value(v)

    def drive(self, level: int) -> None:
        """The outside world changes the level; the interrupt handler runs at once."""
        self.level = level
        if self.handler is not None:
            self.handler(self)


class FakeWLAN:
    """network.WLAN(STA_IF): joins after ``join_after`` status polls, or fails with ``fail_status``."""

    STAT_CONNECTING, STAT_GOT_IP = 1001, 1010

    def __init__(self, join_after: int = 0, fail_status: int | None = None, rssi: int = -55) -> None:
        self.join_after = join_after
        self.fail_status = fail_status
        self.rssi = rssi
        self.connect_calls = 0
        self.polls = 0
        self.joined = False

    def active(self, on: bool | None = None) -> bool:
        return True

    def connect(self, ssid: str, password: str) -> None:
        self.connect_calls += 1
        self.polls = 0

    def disconnect(self) -> None:
        self.joined = False

    def isconnected(self) -> bool:
        if self.connect_calls and self.fail_status is None and self.polls >= self.join_after:
            self.joined = True
        return self.joined

    def ifconfig(self) -> tuple[str, str, str, str]:
        """(ip, netmask, gateway, dns): 0.0.0.0 until joined, as MicroPython's."""
        if not self.joined:
            return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        return ("192.168.10.57", "255.255.255.0", "192.168.10.1", "192.168.10.1")

    def status(self, param: str | None = None) -> int:
        if param == "rssi":
            return self.rssi
        self.polls += 1
        if self.fail_status is not None and self.connect_calls:
            return self.fail_status
        return self.STAT_GOT_IP if self.joined else self.STAT_CONNECTING


class FakeDisplay:
    digits = 8

    def __init__(self) -> None:
        self.shown: list[str] = []
        self._lock = threading.Lock()

    def show(self, text: str) -> None:
        with self._lock:
            self.shown.append(text)

    @property
    def last(self) -> str:
        with self._lock:
            return self.shown[-1] if self.shown else ""


def press(pin: FakePin, hold_s: float = 0.08) -> None:
    """A finger: down now, up ``hold_s`` later whatever the loop is busy with (the interrupt
    records the time), as the pin interrupts on a board do."""
    pin.drive(0)
    threading.Timer(hold_s, pin.drive, args=(1,)).start()


class Timed:
    """Runs a node's passes and records how long each took (wall time)."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.longest = 0.0
        self.passes = 0

    def step(self) -> None:
        t = time.monotonic()
        self.node.step()
        self.longest = max(self.longest, time.monotonic() - t)
        self.passes += 1
        time.sleep(0.01)  # main.py's sleep_ms(10)

    def until(self, condition: Callable[[], Any], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"display {getattr(self.node.display, 'shown', [])[-5:]}")
            self.step()

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.step()
