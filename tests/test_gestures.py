"""Debouncing and gesture detection, with synthetic time."""

from __future__ import annotations

import pytest

from antre.hardware.gestures import Gesture, GestureDetector, GestureTiming

T = GestureTiming(debounce=0.03, double_window=0.35, hold_time=1.2)


def run(events: list[tuple[float, bool | None]], timing: GestureTiming = T) -> list[tuple[float, Gesture]]:
    """Feed (time, pressed) edges, or (time, None) to let time pass; collect gestures with their time."""
    d = GestureDetector(timing)
    out = []
    for t, pressed in events:
        gestures = d.poll(t) if pressed is None else d.edge(pressed, t)
        out += [(t, g) for g in gestures]
    return out


def test_single_press_is_reported_when_the_double_window_closes() -> None:
    out = run([(0.0, True), (0.1, False), (0.3, None), (0.46, None)])
    assert out == [(0.46, Gesture.PRESS)]


def test_double_press() -> None:
    assert run([(0.0, True), (0.1, False), (0.2, True), (0.3, False), (2.0, None)]) == [(0.3, Gesture.DOUBLE)]


def test_two_presses_too_far_apart_are_two_presses() -> None:
    out = run([(0.0, True), (0.1, False), (0.6, True), (0.7, False), (2.0, None)])
    assert [g for _, g in out] == [Gesture.PRESS, Gesture.PRESS]


def test_hold_fires_while_held_once_and_not_as_a_press() -> None:
    out = run([(0.0, True), (1.0, None), (1.2, None), (2.5, None), (3.0, False), (4.0, None)])
    assert out == [(1.2, Gesture.HOLD)]


def test_contact_bounce_is_ignored() -> None:
    d = GestureDetector(T)
    events = [(0.0, True), (0.005, False), (0.01, True), (0.02, False), (0.025, True), (0.2, False)]
    out = []
    for t, p in events:
        out += d.edge(p, t)
    out += d.poll(1.0)
    assert out == [Gesture.PRESS]
    assert d.bounces == 2  # the two releases inside the debounce time (the presses changed nothing)


def test_repeated_edges_do_not_count() -> None:
    out = run([(0.0, True), (0.1, True), (0.2, False), (0.25, False), (1.0, None)])
    assert [g for _, g in out] == [Gesture.PRESS]


def test_without_double_a_press_is_immediate() -> None:
    timing = GestureTiming(double_enabled=False)
    assert run([(0.0, True), (0.1, False)], timing) == [(0.1, Gesture.PRESS)]


def test_next_deadline_drives_a_timer() -> None:
    d = GestureDetector(T)
    assert d.next_deadline() is None
    d.edge(True, 10.0)
    assert d.next_deadline() == pytest.approx(11.2)
    d.edge(False, 10.1)
    assert d.next_deadline() == pytest.approx(10.45)


@pytest.mark.parametrize("kw", [{"debounce": 0.6}, {"double_window": 0.01}, {"hold_time": 0.1}])
def test_timing_is_validated(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        GestureTiming(**kw)
