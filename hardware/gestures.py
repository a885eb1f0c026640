"""Debouncing and gesture detection for call buttons: pure logic, no GPIO.

A :class:`GestureDetector` is fed raw edges of one button (pressed or released,
with a monotonic timestamp, :meth:`GestureDetector.edge`) and the passing of
time (:meth:`GestureDetector.poll`, which may also carry a fresh reading of the
pin), and emits gestures:

* ``press``: one short press;
* ``double``: two short presses, the second starting within ``double_window``
  of the first one's release;
* ``hold``: the button stayed down for ``hold_time`` (emitted while still held,
  once per press).

Debouncing follows the pin, never a belief about it: every edge is recorded,
and a change of the button's state is accepted only once the level has stayed
at its new value for the whole ``debounce`` window since the last edge, and the
pin still reads so (a reading given to :meth:`poll` that disagrees with the
last edge counts as an edge that was missed).  So

* a pulse shorter than the window (a 1 ms glitch, a 20 ms brush, contact
  chatter) is no press and no release: it is counted in ``bounces``;
* a press starts at the first edge of the burst that the window confirmed, and
  ``hold`` fires only when the pin has stayed pressed (as debounced) for the
  whole ``hold_time`` with no release pending;
* a release is always seen (a missed release edge is caught by the next reading)
  and re-arms the detector for the next press.

When a gesture is emitted (the design, shared with firmware/antre_fw/gestures.py):

* a button with no ``double`` action (``double_enabled=False``) emits ``press``
  as soon as its release is confirmed (one debounce window after it), and one
  with neither ``double`` nor ``hold`` as soon as the press is confirmed;
* a button with a ``double`` action must wait, after a short press, to see
  whether a second press starts within ``double_window``: that wait is inherent
  to telling one press from two, so only the buttons configured for a double
  press pay it, and its length is configurable.  Emitting the press at once and
  the double later would apply the press's action (e.g. ``call_next``) to every
  double press: a citizen called who was never meant to be.

gpiozero's ``bounce_time`` is not used: its mock pins ignore it, and doing it
here makes the behaviour identical on a real Pi, a mock, MicroPython and in
tests (tests/vectors/gestures.json runs against both detectors).
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
    """The timing of one button's gestures, and which gestures it uses."""

    debounce: float = 0.03
    double_window: float = 0.35
    hold_time: float = 1.2
    double_enabled: bool = True
    hold_enabled: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.debounce < 0.5:
            raise ValueError("debounce must be between 0 and 0.5 s")
        if not 0.05 <= self.double_window <= 2:
            raise ValueError("double_window must be between 0.05 and 2 s")
        if not 0.3 <= self.hold_time <= 10:
            raise ValueError("hold_time must be between 0.3 and 10 s")


class GestureDetector:
    """Turns the raw edges of one button into gestures (see the module docstring)."""

    def __init__(self, timing: GestureTiming = GestureTiming()) -> None:
        self.timing = timing
        self._raw = False  # the level the pin was last seen at (edge or reading)
        self._raw_at: float | None = None  # when it changed to that level
        self._stable = False  # the debounced state
        self._change_at: float | None = None  # first edge of a change not yet confirmed
        self._down_at: float | None = None  # start of the current (confirmed) press
        self._held = False  # the current press already produced a hold
        self._second = False  # the current press is the second of a double
        self._pending_since: float | None = None  # release of a short press awaiting a possible second
        self._last_t: float | None = None
        self.bounces = 0  # changes that did not last the debounce window

    @property
    def pressed(self) -> bool:
        """The debounced state."""
        return self._stable

    @property
    def idle(self) -> bool:
        """Released, settled, and nothing pending: no gesture can come without a new edge."""
        return not self._stable and self._raw == self._stable and self._pending_since is None

    def edge(self, pressed: bool, t: float) -> list[Gesture]:
        """A raw edge from the pin at ``t``; returns the gestures completed up to ``t``."""
        t = self._monotonic(t)
        out = self._settle(t)
        self._level(pressed, t)
        return out + self._settle(t)

    def poll(self, t: float, level: bool | None = None) -> list[Gesture]:
        """Let time pass up to ``t``; ``level``: the pin read now (pressed), if it can be read.
        Returns the gestures whose time has come."""
        t = self._monotonic(t)
        out = self._settle(t)
        if level is not None and level != self._raw:
            self._level(level, t)  # an edge that was missed: the pin says otherwise
            out += self._settle(t)
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`poll` may next produce something or change state (for a timer)."""
        deadlines = [d for d in self._deadlines() if d is not None]
        return min(deadlines) if deadlines else None

    # -------------------------------------------------------------- internals

    def _monotonic(self, t: float) -> float:
        if self._last_t is not None and t < self._last_t:
            t = self._last_t  # an edge stamped before one already handled: take it as now
        self._last_t = t
        return t

    def _level(self, pressed: bool, t: float) -> None:
        if pressed == self._raw:
            return
        self._raw, self._raw_at = pressed, t
        if pressed != self._stable:
            if self._change_at is None:
                self._change_at = t
        elif self._change_at is not None:
            self._change_at = None  # back before the window closed: a glitch or chatter
            self.bounces += 1

    def _deadlines(self) -> tuple[float | None, float | None, float | None]:
        timing = self.timing
        confirm = hold = window = None
        settled = self._raw == self._stable
        if not settled and self._raw_at is not None:
            confirm = self._raw_at + timing.debounce
        if (timing.hold_enabled and self._stable and settled and not self._held
                and self._down_at is not None):
            hold = self._down_at + timing.hold_time
        if self._pending_since is not None and settled and not self._stable:
            window = self._pending_since + timing.double_window
        return confirm, hold, window

    def _settle(self, t: float) -> list[Gesture]:
        """Handle every deadline up to ``t``, earliest first."""
        out: list[Gesture] = []
        while True:
            confirm, hold, window = self._deadlines()
            due = [(d, i) for i, d in enumerate((confirm, hold, window)) if d is not None and d <= t]
            if not due:
                return out
            _, which = min(due)
            if which == 0:
                self._confirm(out)
            elif which == 1:
                self._held = True
                out.append(Gesture.HOLD)
            else:
                self._pending_since = None
                out.append(Gesture.PRESS)

    def _confirm(self, out: list[Gesture]) -> None:
        """The level held for the whole window: the button's state changes."""
        at = self._change_at if self._change_at is not None else self._raw_at
        assert at is not None
        self._change_at = None
        self._stable = self._raw
        timing = self.timing
        if self._stable:  # pressed
            self._down_at, self._held = at, False
            self._second = False
            if self._pending_since is not None:
                self._second = at - self._pending_since < timing.double_window
                self._pending_since = None
            if not timing.double_enabled and not timing.hold_enabled:
                self._held = True  # nothing to wait for: the press is the gesture
                out.append(Gesture.PRESS)
            return
        # released: always re-arms
        down_at, self._down_at = self._down_at, None
        held, second = self._held, self._second
        self._held = self._second = False
        if held or down_at is None:
            return
        if not timing.double_enabled:
            out.append(Gesture.PRESS)
        elif second:
            out.append(Gesture.DOUBLE)
        else:
            self._pending_since = at
