"""Call buttons on GPIO through gpiozero, with antre's own debouncing and gestures.

Each :class:`ButtonPad` button is a ``gpiozero.Button`` (on a Pi: the lgpio
pin factory; in tests and on a laptop: gpiozero's ``MockFactory``) whose raw
edges feed a :class:`~hardware.gestures.GestureDetector`.  A small timer
thread waits on a condition until the next gesture deadline (the end of a
debounce window, a hold, the end of a double-press window) and then polls the
detectors with a fresh reading of each pin, so a change is accepted only when
the pin still shows it, and an edge the callbacks missed is caught.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from antre.hardware.gestures import Gesture, GestureDetector, GestureTiming

log = logging.getLogger(__name__)

GestureHandler = Callable[[str, Gesture], None]
#: while a button is down the pins are read at least this often (seconds)
REREAD_S = 0.25


@dataclass(frozen=True)
class ButtonSpec:
    name: str
    pin: int
    pull_up: bool = True  # wired between the pin and ground
    double: bool = True  # the button has a double-press action (a lone press waits for the window)
    hold: bool = True  # the button has a hold action


class ButtonPad:
    """Several buttons; calls ``on_gesture(button name, gesture)`` from its own thread."""

    def __init__(
        self,
        specs: list[ButtonSpec],
        on_gesture: GestureHandler,
        timing: GestureTiming = GestureTiming(),
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from gpiozero import Button

        self.on_gesture = on_gesture
        self.clock = clock
        self.detectors = {
            spec.name: GestureDetector(replace(timing, double_enabled=timing.double_enabled and spec.double,
                                               hold_enabled=timing.hold_enabled and spec.hold))
            for spec in specs
        }
        self._cond = threading.Condition()
        self._stopped = threading.Event()
        self.buttons = []
        self._by_name: dict[str, Any] = {}
        self._emitting = 0  # gestures taken from the detectors and not yet handed to on_gesture
        self.faults: list[str] = []
        for spec in specs:
            try:
                button = Button(spec.pin, pull_up=spec.pull_up, bounce_time=None, pin_factory=pin_factory)
            except Exception as exc:  # a missing or busy pin is a fault to report, not a crash
                self.faults.append(f"button {spec.name} on GPIO{spec.pin}: {exc}")
                log.error("button %s on GPIO%d unavailable: %s", spec.name, spec.pin, exc)
                continue
            button.when_pressed = self._edge_handler(spec.name, True)
            button.when_released = self._edge_handler(spec.name, False)
            self.buttons.append(button)
            self._by_name[spec.name] = button
        self._thread = threading.Thread(target=self._timer, name="buttons", daemon=True)
        self._thread.start()

    def _edge_handler(self, name: str, pressed: bool) -> Callable[[], None]:
        def handler() -> None:
            self.edge(name, pressed)

        return handler

    def edge(self, name: str, pressed: bool) -> None:
        with self._cond:
            gestures = [(name, g) for g in self.detectors[name].edge(pressed, self.clock())]
            self._emitting += len(gestures)
            self._cond.notify_all()
        self._emit(gestures)

    def _emit(self, gestures: list[tuple[str, Gesture]]) -> None:
        for name, gesture in gestures:
            try:
                self.on_gesture(name, gesture)
            except Exception:
                log.exception("gesture handler failed for %s %s", name, gesture.value)
            finally:
                with self._cond:
                    self._emitting -= 1
                    self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every button is released and settled, nothing is pending (a double window,
        a debounce window) and every gesture was handed over; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._emitting == 0 and all(d.idle for d in self.detectors.values()), timeout)

    def _timer(self) -> None:
        while True:
            with self._cond:
                if self._stopped.is_set():
                    return
                deadlines = [d for d in (det.next_deadline() for det in self.detectors.values()) if d is not None]
                timeout = max(0.0, min(deadlines) - self.clock()) if deadlines else None
                if any(not det.idle for det in self.detectors.values()):
                    # a button is down (or settling): read the pins now and then, so a release edge
                    # that was lost is seen even when no deadline is due
                    timeout = min(timeout, REREAD_S) if timeout is not None else REREAD_S
                self._cond.wait(timeout)
                if self._stopped.is_set():
                    return
                now = self.clock()
                due = [(name, g) for name, det in self.detectors.items() for g in det.poll(now, self._read(name))]
                self._emitting += len(due)
            self._emit(due)

    def _read(self, name: str) -> bool | None:
        """The pin's level now (pressed), or None when it cannot be read."""
        button = self._by_name.get(name)
        if button is None:
            return None
        try:
            return bool(button.is_pressed)
        except Exception:  # a pin closed under us: the edges alone decide
            return None

    def close(self) -> None:
        with self._cond:
            self._stopped.set()
            self._cond.notify_all()
        self._thread.join(2)
        for button in self.buttons:
            button.close()
