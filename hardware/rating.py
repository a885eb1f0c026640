"""The quick-rating pad at a gerai: four keys the citizen presses once served (1 tidak puas .. 4 sangat puas).

A :class:`RatingPad` is four buttons of a :class:`~antre.hardware.buttons.ButtonPad` (gpiozero:
the lgpio pin factory on a Pi, ``MockFactory`` in tests and on a laptop), each with the same
debouncing as the call buttons (:mod:`antre.hardware.gestures`), and a little policy of its own
for a pad that faces the public:

* a key rates when it is **released** after a short press (a 1 ms glitch or a 20 ms brush is
  no press; contact chatter is one press);
* a key **held** past ``hold_time`` rates nothing (a bag leaning on the pad, a stuck key, a
  child keeping a finger on it): its release is ignored too;
* two keys down together (a palm, a hand sliding across the pad) rate nothing: each key pressed
  during another's press is void, whichever is released first;
* after a rating, presses within ``lockout`` are ignored (a second tap, a bounce of the hand):
  one citizen, one rating.  The central refuses a second rating of the same ticket anyway
  (``already_rated``); the lockout saves the citizen a refusal on the display.

``on_rating(score)`` is called from the pad's thread with 1-4.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from antre.hardware.buttons import ButtonPad, ButtonSpec
from antre.hardware.gestures import Gesture, GestureTiming

log = logging.getLogger(__name__)

#: what each key means (as printed on the pad and shown on the gerai's display)
RATING_LABELS: dict[int, str] = {1: "TIDAK PUAS", 2: "KURANG PUAS", 3: "PUAS", 4: "SANGAT PUAS"}


@dataclass(frozen=True)
class RatingTiming:
    """How the pad tells a rating from everything else (seconds)."""

    debounce: float = 0.03
    hold_time: float = 2.0
    lockout: float = 1.5

    def __post_init__(self) -> None:
        if not 0 <= self.lockout <= 30:
            raise ValueError("lockout must be between 0 and 30 s")
        GestureTiming(debounce=self.debounce, hold_time=self.hold_time)  # the same limits as a call button


class RatingPad:
    """Four rating keys on GPIO (see the module docstring); ``pins`` are those of scores 1 to 4."""

    def __init__(self, pins: Sequence[int], on_rating: Callable[[int], object],
                 timing: RatingTiming = RatingTiming(), *, pull_up: bool = True, pin_factory: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if len(pins) != 4 or len(set(pins)) != 4:
            raise ValueError("a rating pad has four keys on four different pins")
        self.on_rating = on_rating
        self.timing = timing
        self.clock = clock
        self._lock = threading.Lock()
        self._void: set[str] = set()  # keys pressed together with another: their release rates nothing
        self._last_rating: float | None = None
        #: what the pad did, for health reports and tests
        self.ratings = 0
        self.chords = 0
        self.locked_out = 0
        self.holds = 0
        self._scores = {f"rate{i + 1}": i + 1 for i in range(4)}
        specs = [ButtonSpec(name, pin, pull_up, double=False, hold=True) for name, pin in zip(self._scores, pins)]
        self.pad = ButtonPad(specs, self._gesture, GestureTiming(debounce=timing.debounce, hold_time=timing.hold_time,
                                                                 double_enabled=False),
                             pin_factory=pin_factory, clock=clock)
        self.faults = self.pad.faults

    def _gesture(self, name: str, gesture: Gesture) -> None:
        score = self._scores.get(name)
        if score is None:
            return
        with self._lock:
            if gesture is Gesture.HOLD:
                self.holds += 1
                log.info("rating key %d held for %.1f s: ignored", score, self.timing.hold_time)
                return
            others = {other for other, det in self.pad.detectors.items() if other != name and det.pressed}
            if name in self._void or others:
                self._void.discard(name)
                self._void |= others
                self.chords += 1
                log.info("rating key %d pressed together with another key: ignored", score)
                return
            now = self.clock()
            if self._last_rating is not None and now - self._last_rating < self.timing.lockout:
                self.locked_out += 1
                log.info("rating key %d pressed %.2f s after a rating: ignored", score, now - self._last_rating)
                return
            self._last_rating = now
            self.ratings += 1
        self.on_rating(score)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every key is released and settled and every rating handed over."""
        return self.pad.wait_idle(timeout)

    def close(self) -> None:
        self.pad.close()
