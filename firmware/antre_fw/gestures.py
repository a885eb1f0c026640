"""Debounced press / double press / hold detection: the same rules as hardware/gestures.py,
written for MicroPython (no enum, no dataclasses; times in milliseconds, ints)."""

PRESS = "press"
DOUBLE = "double"
HOLD = "hold"


class Detector:
    def __init__(self, debounce_ms=30, double_ms=350, hold_ms=1200, double_enabled=True):
        self.debounce_ms = debounce_ms
        self.double_ms = double_ms
        self.hold_ms = hold_ms
        self.double_enabled = double_enabled
        self.pressed = False
        self.last_edge = None
        self.down_at = None
        self.held = False
        self.pending_since = None
        self.bounces = 0

    def edge(self, pressed, t):
        out = self.poll(t)
        if pressed == self.pressed:
            return out
        if self.last_edge is not None and t - self.last_edge < self.debounce_ms:
            self.bounces += 1
            return out
        self.last_edge = t
        self.pressed = pressed
        if pressed:
            self.down_at = t
            self.held = False
            return out
        down_at = self.down_at
        self.down_at = None
        if self.held or down_at is None:
            return out
        if not self.double_enabled:
            out.append(PRESS)
            return out
        if self.pending_since is not None:
            self.pending_since = None
            out.append(DOUBLE)
            return out
        self.pending_since = t
        return out

    def poll(self, t):
        out = []
        if self.pressed and not self.held and self.down_at is not None and t - self.down_at >= self.hold_ms:
            self.held = True
            self.pending_since = None
            out.append(HOLD)
        if self.pending_since is not None and not self.pressed and t - self.pending_since >= self.double_ms:
            self.pending_since = None
            out.append(PRESS)
        return out
