"""Call buttons on GPIO through gpiozero, with antre's own debouncing and gestures.

Each :class:`ButtonPad` button is a ``gpiozero.Button`` (on a Pi: the lgpio
pin factory; in tests and on a laptop: gpiozero's ``MockFactory``) whose raw
edges feed a :class:`~hardware.gestures.GestureDetector`.  A small timer
thread waits on a condition until the next gesture deadline (a hold, the end
of a double-press window) and then polls the detectors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from antre.hardware.gestures import Gesture, GestureDetector, GestureTiming

log = logging.getLogger(__name__)

GestureHandler = Callable[[str, Gesture], None]


@dataclass(frozen=True)
class ButtonSpec:
    name: str
    pin: int
    pull_up: bool = True  # wired between the pin and ground


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
        self.detectors = {spec.name: GestureDetector(timing) for spec in specs}
        self._cond = threading.Condition()
        self._stopped = threading.Event()
        self.buttons = []
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
        self._thread = threading.Thread(target=self._timer, name="buttons", daemon=True)
        self._thread.start()

    def _edge_handler(self, name: str, pressed: bool) -> Callable[[], None]:
        def handler() -> None:
            self.edge(name, pressed)

        return handler

    def edge(self, name: str, pressed: bool) -> None:
        with self._cond:
            gestures = self.detectors[name].edge(pressed, self.clock())
            self._cond.notify_all()
        for gesture in gestures:
            self._emit(name, gesture)

    def _emit(self, name: str, gesture: Gesture) -> None:
        try:
            self.on_gesture(name, gesture)
        except Exception:
            log.exception("gesture handler failed for %s %s", name, gesture.value)

    def _timer(self) -> None:
        while True:
            with self._cond:
                if self._stopped.is_set():
                    return
                deadlines = [d for d in (det.next_deadline() for det in self.detectors.values()) if d is not None]
                timeout = max(0.0, min(deadlines) - self.clock()) if deadlines else None
                self._cond.wait(timeout)
                if self._stopped.is_set():
                    return
                now = self.clock()
                due = [(name, g) for name, det in self.detectors.items() for g in det.poll(now)]
            for name, gesture in due:
                self._emit(name, gesture)

    def close(self) -> None:
        with self._cond:
            self._stopped.set()
            self._cond.notify_all()
        self._thread.join(2)
        for button in self.buttons:
            button.close()
