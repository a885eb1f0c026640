"""Buttons on gpiozero's MockFactory pins, through antre's gesture detector."""

from __future__ import annotations

import threading

import pytest

from gpiozero.pins.mock import MockFactory

from antre.hardware.buttons import ButtonPad, ButtonSpec
from antre.hardware.gestures import Gesture, GestureTiming


def test_mock_pins_drive_gestures() -> None:
    factory = MockFactory()
    got: list[tuple[str, Gesture]] = []
    seen = threading.Condition()

    def on_gesture(name: str, gesture: Gesture) -> None:
        with seen:
            got.append((name, gesture))
            seen.notify_all()

    pad = ButtonPad([ButtonSpec("call", 17), ButtonSpec("ticket", 27)], on_gesture,
                    GestureTiming(debounce=0.0, double_enabled=False, hold_time=0.3), pin_factory=factory)
    try:
        pin = factory.pin(17)
        pin.drive_low()  # pull-up wiring: pressed pulls the pin to ground
        pin.drive_high()
        factory.pin(27).drive_low()
        factory.pin(27).drive_high()
        with seen:
            assert seen.wait_for(lambda: len(got) >= 2, 5)
        assert got[:2] == [("call", Gesture.PRESS), ("ticket", Gesture.PRESS)]
        pin.drive_low()  # hold it: the timer thread reports the hold while it is down
        with seen:
            assert seen.wait_for(lambda: len(got) >= 3, 5)
        assert got[2] == ("call", Gesture.HOLD)
        pin.drive_high()
    finally:
        pad.close()


def test_a_busy_pin_is_a_fault_not_a_crash() -> None:
    factory = MockFactory()
    pad = ButtonPad([ButtonSpec("a", 17), ButtonSpec("b", 17)], lambda n, g: None, pin_factory=factory)
    try:
        assert len(pad.buttons) == 1 and pad.faults and "GPIO17" in pad.faults[0]
    finally:
        pad.close()


# ------------------------------------------------------------------ real timing on mock pins
#
# gpiozero's mock pins ignore bounce_time: the debouncing is antre's own, and here it meets
# real time: the pin is driven low and high at the given moments (a signal generator, not a
# sleep that fixes a race), the pad's timer thread does the rest.  Each pattern is also fed,
# with the edge times the pad really saw, to the pure detector: when a loaded machine stretched
# a 20 ms pulse past the window the attempt is repeated rather than judged.

REAL = GestureTiming(debounce=0.04, double_window=0.35, hold_time=0.8)
PATTERNS: dict[str, tuple[list[tuple[int, bool]], list[Gesture]]] = {
    # (ms from start, pressed) and the gestures it must give
    "glitch of 1 ms on an idle line": ([(0, True), (1, False)], []),
    "20 ms tap": ([(0, True), (20, False)], []),
    "chatter on press and release": ([(0, True), (3, False), (6, True), (9, False), (12, True), (200, False),
                                      (203, True), (206, False)], [Gesture.PRESS]),
    "slow double press (400 ms gap)": ([(0, True), (100, False), (500, True), (600, False)],
                                       [Gesture.PRESS, Gesture.PRESS]),
    "quick double press": ([(0, True), (100, False), (220, True), (320, False)], [Gesture.DOUBLE]),
    "hold": ([(0, True), (1300, False)], [Gesture.HOLD]),
    "hold released early": ([(0, True), (550, False)], [Gesture.PRESS]),
    "glitch, then a press": ([(0, True), (1, False), (150, True), (300, False)], [Gesture.PRESS]),
}


def drive(pin: object, pattern: list[tuple[int, bool]]) -> None:
    """Drive a mock pin (pull-up wiring: pressed is low) at the pattern's moments."""
    import time

    clock = threading.Event()
    start = time.monotonic()
    for at_ms, pressed in pattern:
        while (left := start + at_ms / 1000 - time.monotonic()) > 0:
            clock.wait(left)
        pin.drive_low() if pressed else pin.drive_high()  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", list(PATTERNS))
def test_mock_pins_with_real_timing(name: str) -> None:
    from antre.hardware.gestures import GestureDetector

    pattern, expected = PATTERNS[name]
    for attempt in range(4):
        factory = MockFactory()
        got: list[Gesture] = []
        edges: list[tuple[float, bool]] = []
        pad = ButtonPad([ButtonSpec("call", 17)], lambda n, g: got.append(g), REAL, pin_factory=factory)
        seen = pad.edge

        def record(button: str, pressed: bool) -> None:
            edges.append((pad.clock(), pressed))
            seen(button, pressed)

        pad.edge = record  # type: ignore[method-assign]
        try:
            drive(factory.pin(17), pattern)
            assert pad.wait_idle(5), f"{name}: the pad never settled"
        finally:
            pad.close()
        reference = GestureDetector(REAL)
        judged: list[Gesture] = []
        for t, pressed in edges:
            judged += reference.edge(pressed, t)
        judged += reference.poll(edges[-1][0] + 5)
        assert got == judged, f"{name}: the pad and the detector disagree on the same edges"
        if judged == expected:
            return
        print(f"{name}: attempt {attempt}: the machine stretched the pattern ({edges}); again")
    pytest.fail(f"{name}: could not drive the pattern with its timing in 4 attempts (machine overloaded?)")


def test_a_release_edge_that_never_came_is_read_from_the_pin() -> None:
    """A button with only a press action is confirmed at once and has no deadline while down: its
    pin is still read now and then, so a lost release edge does not swallow the next press."""
    factory = MockFactory()
    got: list[Gesture] = []
    pad = ButtonPad([ButtonSpec("call", 17, double=False, hold=False)], lambda n, g: got.append(g), REAL,
                    pin_factory=factory)
    try:
        pin = factory.pin(17)
        pin.drive_low()
        threading.Event().wait(0.1)
        pad.edge = lambda name, pressed: None  # type: ignore[method-assign]  # the release edge is lost
        pin.drive_high()
        del pad.edge
        assert pad.wait_idle(3)  # seen released from a reading of the pin
        drive(pin, [(0, True), (100, False)])
        assert pad.wait_idle(3) and got == [Gesture.PRESS, Gesture.PRESS]
    finally:
        pad.close()
