"""``python -m bench.edge_input``: what a gerai's button and printer cost in time (not part of ``make bench``).

* release of a button to its ``press`` gesture, on gpiozero's MockFactory pins with the agent's
  ButtonPad and the default timing: a button without a double action (the debounce window)
  and one with a double action (the double window);
* the DLE EOT status query of the production SerialPrinter on a socat pty pair: a printer that
  answers, one that is silent (never "ok"), one unplugged, and the first query after it is
  plugged back (the port reopened by its name).  Needs socat.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from antre.hardware.buttons import ButtonPad, ButtonSpec
from antre.hardware.gestures import GestureTiming
from antre.hardware.printer import SerialPrinter
from antre.sim.printer import SocatPrinter

PRESSES = 20


def gesture_latency(double: bool) -> list[float]:
    factory = MockFactory()
    got: list[float] = []
    seen = threading.Event()

    def on_gesture(name: str, gesture: object) -> None:
        got.append(time.monotonic())
        seen.set()

    pad = ButtonPad([ButtonSpec("b", 17, double=double)], on_gesture, GestureTiming(), pin_factory=factory)
    latencies = []
    try:
        for _ in range(PRESSES):
            seen.clear()
            pin = factory.pin(17)
            pin.drive_low()
            threading.Event().wait(0.1)  # a 100 ms press
            pin.drive_high()
            released = time.monotonic()
            assert seen.wait(2), "no gesture"
            latencies.append((got[-1] - released) * 1000)
            assert pad.wait_idle(2)
    finally:
        pad.close()
    return latencies


def timed(fn: object) -> float:
    started = time.monotonic()
    fn()  # type: ignore[operator]
    return (time.monotonic() - started) * 1000


def main() -> None:
    for double in (False, True):
        lat = gesture_latency(double)
        print(f"release to press, {'with' if double else 'without'} a double action: median "
              f"{statistics.median(lat):.1f} ms, max {max(lat):.1f} ms ({PRESSES} presses)")
    printer = SocatPrinter(Path(tempfile.mkdtemp(prefix="antre-bench-")))
    driver = SerialPrinter(str(printer.device_path), 9600, 58)
    try:
        answering = [timed(driver.status) for _ in range(20)]
        print(f"status query, printer answering: median {statistics.median(answering):.2f} ms")
        printer.set(silent=True)
        print(f"status query, printer silent: {timed(driver.status):.0f} ms -> {driver.status().value}")
        printer.set(silent=False)
        printer.unplug()
        print(f"status query, printer unplugged: {timed(driver.status):.2f} ms -> {driver.problem[:50]}")
        printer.plug()
        print(f"first status query after it is plugged back: {timed(driver.status):.2f} ms -> "
              f"{driver.status().value}, port opened {driver.opens} times")
    finally:
        driver.close()
        printer.close()


if __name__ == "__main__":
    main()
