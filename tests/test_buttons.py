"""Buttons on gpiozero's MockFactory pins, through antre's gesture detector."""

from __future__ import annotations

import threading

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
