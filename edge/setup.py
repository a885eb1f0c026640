"""Build an agent's hardware from its device config: real drivers or library mocks.

Which one is chosen by configuration only (``mock = true``, ``mock_gpio``):
gpiozero's MockFactory for the buttons, luma's dummy (or emulator) device for
the display, and the pty-backed :class:`~hardware.mock_printer.MockPrinter`
opened through pyserial like a real port.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from edge.agent import EdgeAgent, Hardware
from edge.config import DeviceConfig
from hardware.buttons import ButtonPad, ButtonSpec
from hardware.display import open_display
from hardware.gestures import GestureTiming
from hardware.mock_printer import MockPrinter
from hardware.printer import SerialPrinter

log = logging.getLogger(__name__)


@dataclass
class Assembly:
    """An agent with its hardware, and the mocks when there are any (for tests and the demo)."""

    agent: EdgeAgent
    buttons: ButtonPad | None = None
    pin_factory: Any = None
    mock_printer: MockPrinter | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.agent.stop()
        if self.buttons is not None:
            self.buttons.close()
        if self.agent.hw.printer is not None:
            self.agent.hw.printer.close()
        if self.mock_printer is not None:
            self.mock_printer.close()
        if self.agent.hw.display is not None:
            self.agent.hw.display.close()


def assemble(config: DeviceConfig) -> Assembly:
    hw = Hardware()
    d = config.display
    try:
        hw.display = open_display(d.type, mock=d.mock, width=d.width, height=d.height, i2c_port=d.i2c_port,
                                  i2c_address=d.i2c_address, spi_port=d.spi_port, spi_device=d.spi_device,
                                  digits=d.digits, emulator=d.emulator)
    except Exception as exc:  # the agent still runs, and reports the fault
        hw.faults.append(f"display: {exc}")
        log.error("display %s unavailable: %s", d.type, exc)
    mock_printer = None
    if config.printer is not None:
        p = config.printer
        try:
            if p.mock:
                mock_printer = MockPrinter()
                hw.printer = SerialPrinter(mock_printer.path, p.baudrate, p.paper_mm)
            else:
                hw.printer = SerialPrinter(p.port, p.baudrate, p.paper_mm)
        except Exception as exc:
            hw.faults.append(f"printer: {exc}")
            log.error("printer %s unavailable: %s", p.port, exc)
    agent = EdgeAgent(config, hw)
    factory = None
    buttons = None
    if config.button:
        if config.mock_gpio:
            from gpiozero.pins.mock import MockFactory

            factory = MockFactory()
        g = config.gestures
        timing = GestureTiming(g.debounce_ms / 1000, g.double_window_ms / 1000, g.hold_ms / 1000,
                               double_enabled=any(b.double != "none" for b in config.button))
        specs = [ButtonSpec(b.name, b.pin, b.pull_up) for b in config.button]
        buttons = ButtonPad(specs, agent.on_gesture, timing, pin_factory=factory)
        hw.faults.extend(buttons.faults)
    return Assembly(agent, buttons, factory, mock_printer)
