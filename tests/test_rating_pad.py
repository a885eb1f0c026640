"""The gerai's four-key rating pad on gpiozero's MockFactory pins, driven with real timing.

The pins are driven low and high at given moments (a signal generator, as in test_buttons.py) and
the pad's own threads do the rest: debouncing, holds, two keys together, the lockout.  When a
loaded machine stretched a pattern (a 20 ms pulse that lasted past the debounce window, a gap
that grew past the lockout) the attempt is repeated rather than judged.
"""

from __future__ import annotations

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from antre.hardware.rating import RatingPad, RatingTiming

PINS = [5, 6, 13, 19]  # keys 1 to 4
TIMING = RatingTiming(debounce=0.03, hold_time=0.8, lockout=0.5)

# (ms from start, key 1-4, pressed) and the ratings it must give; "slack" (ms): how far any edge
# may land from its moment before the attempt is not a fair test of the pattern
PATTERNS: dict[str, tuple[list[tuple[int, int, bool]], list[int], int]] = {
    "one tap on key 3": ([(0, 3, True), (120, 3, False)], [3], 60),
    "a 1 ms glitch is no rating": ([(0, 2, True), (1, 2, False)], [], 20),
    "a 15 ms brush is no rating": ([(0, 4, True), (15, 4, False)], [], 10),
    "chatter is one rating": ([(0, 1, True), (3, 1, False), (6, 1, True), (9, 1, False), (12, 1, True),
                               (150, 1, False), (153, 1, True), (156, 1, False)], [1], 20),
    "a key held past 0.8 s rates nothing": ([(0, 4, True), (1200, 4, False)], [], 300),
    "two keys together rate nothing": ([(0, 1, True), (60, 2, True), (200, 1, False), (260, 2, False)], [], 40),
    "a key inside another's press rates nothing": ([(0, 3, True), (60, 4, True), (150, 4, False),
                                                   (300, 3, False)], [], 40),
    "a second tap within the lockout is ignored": ([(0, 4, True), (100, 4, False), (300, 1, True),
                                                   (400, 1, False)], [4], 60),
    "a second citizen after the lockout is heard": ([(0, 4, True), (100, 4, False), (900, 2, True),
                                                    (1000, 2, False)], [4, 2], 150),
}


def drive(factory: MockFactory, pattern: list[tuple[int, int, bool]]) -> list[float]:
    """Drive the keys' pins at the pattern's moments (pull-up wiring: pressed is low); the delay
    of each edge behind its moment (seconds)."""
    wait = threading.Event()
    start = time.monotonic()
    late = []
    for at_ms, key, pressed in pattern:
        while (left := start + at_ms / 1000 - time.monotonic()) > 0:
            wait.wait(left)
        late.append(time.monotonic() - (start + at_ms / 1000))
        pin = factory.pin(PINS[key - 1])
        pin.drive_low() if pressed else pin.drive_high()
    return late


@pytest.mark.parametrize("name", list(PATTERNS))
def test_rating_keys_with_real_timing(name: str) -> None:
    pattern, expected, slack = PATTERNS[name]
    for attempt in range(4):
        factory = MockFactory()
        got: list[int] = []
        pad = RatingPad(PINS, got.append, TIMING, pin_factory=factory)
        try:
            late = drive(factory, pattern)
            assert pad.wait_idle(5), f"{name}: the pad never settled"
        finally:
            pad.close()
        fair = max(late) * 1000 <= slack
        if got == expected:
            return
        if fair:
            pytest.fail(f"{name}: got {got}, expected {expected} (edges at most {max(late) * 1000:.1f} ms late)")
        print(f"{name}: attempt {attempt}: edges up to {max(late) * 1000:.0f} ms late (machine loaded); again")
    pytest.fail(f"{name}: could not drive the pattern with its timing in 4 attempts (machine overloaded?)")


def test_a_pad_needs_four_different_pins_and_reports_a_busy_one() -> None:
    with pytest.raises(ValueError):
        RatingPad([5, 6, 13], lambda s: None, pin_factory=MockFactory())
    with pytest.raises(ValueError):
        RatingPad([5, 6, 13, 13], lambda s: None, pin_factory=MockFactory())
    with pytest.raises(ValueError):
        RatingTiming(lockout=60)
    factory = MockFactory()
    held = factory.pin(19)
    from gpiozero import Button

    other = Button(19, pin_factory=factory)  # someone else holds GPIO19
    try:
        pad = RatingPad(PINS, lambda s: None, pin_factory=factory)
        try:
            assert pad.faults and "GPIO19" in pad.faults[0]
        finally:
            pad.close()
    finally:
        other.close()
        del held


def test_the_edge_config_refuses_a_pad_that_cannot_work() -> None:
    from antre.edge.config import EdgeConfigError, parse_device

    base = ('[device]\nsite = "test"\nrole = "{role}"\nid = "g1"\n[broker]\nhost = "h"\npassword = "' + "p" * 20
            + '"\n[[button]]\nname = "utama"\npin = 17\npress = "call_next"\n[rating]\npins = {pins}\n')
    ok = parse_device(base.format(role="gerai", pins="[5, 6, 13, 19]"))
    assert ok.rating is not None and ok.rating.pins == [5, 6, 13, 19] and ok.rating.lockout_ms == 1500
    for role, pins, words in (("gerai", "[5, 6, 13]", "rating.pins"), ("gerai", "[5, 6, 13, 13]", "four different"),
                              ("gerai", "[5, 6, 13, 17]", "already used"), ("kiosk", "[5, 6, 13, 19]", "gerai")):
        text = base.format(role=role, pins=pins)
        if role == "kiosk":  # a kiosk without call buttons
            text = text.replace('[[button]]\nname = "utama"\npin = 17\npress = "call_next"\n', "")
        with pytest.raises(EdgeConfigError) as err:
            parse_device(text)
        assert words in str(err.value), (pins, str(err.value))
