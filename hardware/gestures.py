"""Debouncing and gesture detection for call buttons: pure logic, no GPIO.

A :class:`GestureDetector` is fed raw edges (pressed or released, with a
monotonic timestamp) and the passing of time (:meth:`GestureDetector.poll`),
and emits gestures:

* ``press``: one short press (emitted when the double-press window closes, or
  at once when double presses are not configured for that button);
* ``double``: two short presses within ``double_window``;
* ``hold``: held down for ``hold_time`` (emitted while still held, once).

Debouncing: an edge less than ``debounce`` after the last accepted edge is
contact bounce and ignored; so is an edge that does not change the state.
gpiozero's ``bounce_time`` is not used: its mock pins ignore it, and doing it
here makes the behaviour identical on a real Pi, a mock and in tests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Gesture(str, enum.Enum):
    PRESS = "press"
    DOUBLE = "double"
    HOLD = "hold"


@dataclass(frozen=True)
class GestureTiming:
    debounce: float = 0.03
    double_window: float = 0.35
    hold_time: float = 1.2
    double_enabled: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.debounce < 0.5:
            raise ValueError("debounce must be between 0 and 0.5 s")
        if not 0.05 <= self.double_window <= 2:
            raise ValueError("double_window must be between 0.05 and 2 s")
        if not 0.3 <= self.hold_time <= 10:
            raise ValueError("hold_time must be between 0.3 and 10 s")


class GestureDetector:
    """Turns debounced edges of one button into gestures."""

    def __init__(self, timing: GestureTiming = GestureTiming()) -> None:
        self.timing = timing
        self._pressed = False
        self._last_edge: float | None = None
        self._down_at: float | None = None
        self._held = False  # the current press already produced a hold
        self._pending_since: float | None = None  # a short press awaiting a possible second one
        self.bounces = 0

    @property
    def pressed(self) -> bool:
        return self._pressed

    def edge(self, pressed: bool, t: float) -> list[Gesture]:
        """A raw edge from the pin; returns gestures completed by it."""
        out = self.poll(t)
        if pressed == self._pressed:
            return out
        if self._last_edge is not None and t - self._last_edge < self.timing.debounce:
            self.bounces += 1
            return out
        self._last_edge = t
        self._pressed = pressed
        if pressed:
            self._down_at = t
            self._held = False
            return out
        # released
        down_at, self._down_at = self._down_at, None
        if self._held or down_at is None:
            return out
        if not self.timing.double_enabled:
            return out + [Gesture.PRESS]
        if self._pending_since is not None:
            self._pending_since = None
            return out + [Gesture.DOUBLE]
        self._pending_since = t
        return out

    def poll(self, t: float) -> list[Gesture]:
        """Let time pass; returns gestures whose time has come (hold, a lone press)."""
        out: list[Gesture] = []
        if self._pressed and not self._held and self._down_at is not None:
            if t - self._down_at >= self.timing.hold_time:
                self._held = True
                self._pending_since = None  # a hold cancels a pending single press
                out.append(Gesture.HOLD)
        if self._pending_since is not None and not self._pressed:
            if t - self._pending_since >= self.timing.double_window:
                self._pending_since = None
                out.append(Gesture.PRESS)
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`poll` may next produce something (for a timer)."""
        deadlines = []
        if self._pressed and not self._held and self._down_at is not None:
            deadlines.append(self._down_at + self.timing.hold_time)
        if self._pending_since is not None:
            deadlines.append(self._pending_since + self.timing.double_window)
        return min(deadlines) if deadlines else None
