"""Debouncing and gesture detection (hardware/gestures.py), with synthetic time.

The cases live in tests/vectors/gestures.json, which the firmware's detector runs too
(on CPython and real MicroPython, tests/test_firmware.py): both must match them exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antre.hardware.gestures import Gesture, GestureDetector, GestureTiming

VECTORS = json.loads((Path(__file__).parent / "vectors" / "gestures.json").read_text())
CASES = VECTORS["cases"]


def timing_of(case: dict[str, Any]) -> GestureTiming:
    t = VECTORS["timing"]
    return GestureTiming(t["debounce_ms"] / 1000, t["double_ms"] / 1000, t["hold_ms"] / 1000,
                         double_enabled=case.get("double", True), hold_enabled=case.get("hold", True))


def run_case(case: dict[str, Any]) -> tuple[list[list[Any]], int]:
    """Run one vector: the gestures with the time (ms) they came out, and the bounce count."""
    d = GestureDetector(timing_of(case))
    got: list[list[Any]] = []
    now: float | None = None
    for t_ms, kind, level in case["steps"]:
        t = t_ms / 1000
        if case.get("deadlines", True) and now is not None:
            for _ in range(100):
                deadline = d.next_deadline()
                if deadline is None or max(deadline, now) > t:
                    break
                now = max(deadline, now)
                got += [[round(now * 1000), g.value] for g in d.poll(now)]
        if kind == "edge":
            found = d.edge(level == 1, t)
        else:
            found = d.poll(t, None if level is None else level == 1)
        got += [[t_ms, g.value] for g in found]
        now = t
    return got, d.bounces


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_vectors(case: dict[str, Any]) -> None:
    assert run_case(case) == (case["expect"], case["bounces"])


def test_the_vectors_cover_the_field_failures() -> None:
    names = " / ".join(c["name"] for c in CASES)
    for what in ("glitch of 1 ms", "20 ms tap", "chatter", "slow double", "hold fires", "hold released early",
                 "release edge that was lost"):
        assert what in names


def test_next_deadline_drives_a_timer() -> None:
    d = GestureDetector(GestureTiming(debounce=0.03, double_window=0.35, hold_time=1.2))
    assert d.next_deadline() is None and d.idle
    d.edge(True, 10.0)
    assert d.next_deadline() == pytest.approx(10.03)  # the press is confirmed after the window
    d.poll(10.03)
    assert d.pressed and d.next_deadline() == pytest.approx(11.2)  # then the hold
    d.edge(False, 10.1)
    assert d.next_deadline() == pytest.approx(10.13)
    d.poll(10.13)
    assert not d.pressed and d.next_deadline() == pytest.approx(10.45)  # then the double window
    assert d.poll(10.45) == [Gesture.PRESS] and d.idle


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 400), st.booleans()), max_size=40), st.booleans(), st.booleans())
def test_random_edges_never_fire_without_the_pin(steps: list[tuple[int, bool]], double: bool, hold: bool) -> None:
    """Whatever the edges: a press or double only after a pulse at least the debounce window long;
    a hold only while the pin is pressed and no release of a window or longer happened during the
    hold time; after the line settles released, the detector is idle again (re-armed)."""
    timing = GestureTiming(0.03, 0.35, 1.2, double_enabled=double, hold_enabled=hold)
    d = GestureDetector(timing)
    t, level = 0.0, False
    released: list[list[float]] = [[-100.0, 0.0]]  # released stretches [start, end]
    pulses: list[float] = []  # lengths of the pressed stretches that ended

    def take(gestures: list[Gesture], at: float) -> None:
        for g in gestures:
            if g is Gesture.HOLD:
                assert level
                assert all(e - s < 0.03 for s, e in released if e > at - 1.2 + 1e-9), (at, released)
            else:
                assert max(pulses + [at - released[-1][1] if level else 0.0]) >= 0.03 - 1e-9

    for gap_ms, new in steps:
        t += gap_ms / 1000
        take(d.poll(t), t)
        if new != level:
            if level:
                pulses.append(t - released[-1][1])
                released.append([t, t])
            else:
                released[-1][1] = t
            level = new
            take(d.edge(new, t), t)
        if not level:
            released[-1][1] = t
    if level:
        t += 0.001
        d.edge(False, t)
    take(d.poll(t + 5), t + 5)
    assert d.idle


@pytest.mark.parametrize("kw", [{"debounce": 0.6}, {"double_window": 0.01}, {"hold_time": 0.1}])
def test_timing_is_validated(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        GestureTiming(**kw)
