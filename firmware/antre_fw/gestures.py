"""Debounced press / double press / hold detection: the same rules as hardware/gestures.py
(read its docstring), written for MicroPython: no enum, no dataclasses; times are the
board's wrapping millisecond ticks, compared with ``diff`` (``time.ticks_diff``).

* A change of state is accepted once the level has stayed at its new value for the
  whole debounce window since the last edge; a pulse shorter than the window (glitch,
  brush, chatter) is no press: it is counted in ``bounces``.
* ``poll(t, level)`` takes the pin read now: a level that disagrees with the last edge
  is an edge that was missed, so a lost release edge never leaves a phantom hold.
* Hold fires only while the button has stayed pressed for the whole hold time with
  no release pending; a release always re-arms.
* A button without a double action reports a press as soon as its release is
  confirmed (without hold either: as soon as the press is confirmed); only a button
  with a double action waits ``double_ms`` after a short press for a second one.

tests/vectors/gestures.json runs against this detector (on MicroPython and CPython)
and the Pi's; nothing is allocated on a pass where nothing happens.
"""

PRESS = "press"
DOUBLE = "double"
HOLD = "hold"

_NONE = ()


def _sub(a, b):
    return a - b


class Detector:
    def __init__(self, debounce_ms=30, double_ms=350, hold_ms=1200, double_enabled=True, hold_enabled=True,
                 diff=None):
        self.debounce_ms = debounce_ms
        self.double_ms = double_ms
        self.hold_ms = hold_ms
        self.double_enabled = double_enabled
        self.hold_enabled = hold_enabled
        self.diff = diff or _sub
        self.raw = False  # the level last seen (edge or reading)
        self.raw_at = None
        self.stable = False  # the debounced state
        self.change_at = None  # first edge of a change not yet confirmed
        self.down_at = None
        self.held = False
        self.second = False
        self.pending_since = None  # release of a short press awaiting a possible second one
        self.last_t = None
        self.bounces = 0
        self._overdue = 0

    @property
    def pressed(self):
        return self.stable

    def edge(self, pressed, t):
        """A raw edge at ticks ``t``; returns the gestures completed up to ``t``."""
        t = self._mono(t)
        out = self._settle(t, None)
        self._level(pressed, t)
        out = self._settle(t, out)
        return _NONE if out is None else out

    def poll(self, t, level=None):
        """Time passes up to ``t``; ``level``: the pin read now (True = pressed), or None."""
        t = self._mono(t)
        out = self._settle(t, None)
        if level is not None and level != self.raw:
            self._level(level, t)  # a missed edge: the pin says otherwise
            out = self._settle(t, out)
        return _NONE if out is None else out

    def next_due(self, t):
        """Milliseconds from ``t`` until the next deadline (<= 0: due), or None."""
        which = self._due(t)
        return None if which == 0 else -self._overdue

    # ---------------------------------------------------------------- internals

    def _mono(self, t):
        if self.last_t is not None and self.diff(t, self.last_t) < 0:
            t = self.last_t
        self.last_t = t
        return t

    def _level(self, pressed, t):
        if pressed == self.raw:
            return
        self.raw = pressed
        self.raw_at = t
        if pressed != self.stable:
            if self.change_at is None:
                self.change_at = t
        elif self.change_at is not None:
            self.change_at = None  # back before the window closed: glitch or chatter
            self.bounces += 1

    def _due(self, t):
        """Which deadline is next (0 none, 1 confirm a change, 2 hold, 3 end of the double window);
        ``self._overdue``: how many ms past it ``t`` is.  At most one exists at a time (a change
        pending, or held, or released awaiting a second press), and no object is allocated."""
        if self.raw != self.stable:
            if self.raw_at is None:
                return 0
            self._overdue = self.diff(t, self.raw_at) - self.debounce_ms
            return 1
        if self.stable:
            if self.hold_enabled and not self.held and self.down_at is not None:
                self._overdue = self.diff(t, self.down_at) - self.hold_ms
                return 2
            return 0
        if self.pending_since is not None:
            self._overdue = self.diff(t, self.pending_since) - self.double_ms
            return 3
        return 0

    def _settle(self, t, out):
        while True:
            which = self._due(t)
            if which == 0 or self._overdue < 0:
                return out
            if out is None:
                out = []
            if which == 1:
                self._confirm(out)
            elif which == 2:
                self.held = True
                out.append(HOLD)
            else:
                self.pending_since = None
                out.append(PRESS)

    def _confirm(self, out):
        at = self.change_at if self.change_at is not None else self.raw_at
        self.change_at = None
        self.stable = self.raw
        if self.stable:
            self.down_at = at
            self.held = False
            self.second = False
            if self.pending_since is not None:
                self.second = self.diff(at, self.pending_since) < self.double_ms
                self.pending_since = None
            if not self.double_enabled and not self.hold_enabled:
                self.held = True
                out.append(PRESS)
            return
        down_at = self.down_at
        self.down_at = None
        held = self.held
        second = self.second
        self.held = False
        self.second = False
        if held or down_at is None:
            return
        if not self.double_enabled:
            out.append(PRESS)
        elif second:
            out.append(DOUBLE)
        else:
            self.pending_since = at
