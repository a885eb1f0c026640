"""Build an agent's hardware from its device config: real drivers or library mocks.

The backend is chosen once, when the agent starts, gpiozero-style: real drivers by
default; mocks with ``antre edge run --mock`` or the environment variable
``ANTRE_MOCK=1`` (``ANTRE_MOCK=emulator`` adds luma's pygame preview window):
gpiozero's MockFactory for the buttons, luma's dummy (or emulator) device for the
display, and the pty-backed :class:`~antre.hardware.mock_printer.MockPrinter`
opened through pyserial like a real port.  The device file never says "mock".
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from antre.broker.link.base import LinkFactory
from antre.edge.agent import EdgeAgent, Hardware
from antre.edge.config import DeviceConfig, DisplaySection
from antre.hardware.buttons import ButtonPad, ButtonSpec
from antre.hardware.display import DisplayGroup, NumberDisplay, open_display
from antre.hardware.gestures import GestureTiming
from antre.hardware.mock_printer import MockPrinter
from antre.hardware.printer import SerialPrinter, TicketPrinter
from antre.hardware.rating import RatingPad, RatingTiming

log = logging.getLogger(__name__)


@dataclass
class Assembly:
    """An agent with its hardware, and the mocks when there are any (for tests and the demo)."""

    agent: EdgeAgent
    buttons: ButtonPad | None = None
    pin_factory: Any = None
    mock_printer: MockPrinter | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the citizens' quick-rating pad ([rating]), on the same pin factory as the buttons
    rating: RatingPad | None = None

    def close(self) -> None:
        self.agent.stop()
        if self.buttons is not None:
            self.buttons.close()
        if self.rating is not None:
            self.rating.close()
        if self.agent.hw.printer is not None:
            self.agent.hw.printer.close()
        if self.mock_printer is not None:
            self.mock_printer.close()
        if self.agent.hw.display is not None:
            self.agent.hw.display.close()


MOCK_ENV = "ANTRE_MOCK"


def build_display(d: DisplaySection, *, mock: bool, emulator: bool = False) -> NumberDisplay | None:
    """The display of a ``[display]`` or ``[public_display]`` section (None for ``type = "none"``)."""
    return open_display(d.type, mock=mock, width=d.width, height=d.height, i2c_port=d.i2c_port,
                        i2c_address=d.i2c_address, spi_port=d.spi_port, spi_device=d.spi_device, digits=d.digits,
                        modules=d.modules, block_orientation=d.block_orientation, rotate=d.rotate,
                        reverse_order=d.reverse_order, resolution=d.resolution, emulator=emulator)


def mock_from_env(environ: dict[str, str] | None = None) -> tuple[bool, bool]:
    """``(mock, emulator)`` from ``ANTRE_MOCK``: unset, ``0`` or empty: real hardware."""
    value = (os.environ if environ is None else environ).get(MOCK_ENV, "").strip().lower()
    if value in ("", "0", "no", "false"):
        return False, False
    return True, value == "emulator"


def assemble(config: DeviceConfig, *, mock: bool | None = None, emulator: bool | None = None,
             link_factory: LinkFactory | None = None, printer: TicketPrinter | None = None) -> Assembly:
    """The agent of ``config`` on real hardware, or on mocks when ``mock`` (default: ``ANTRE_MOCK``);
    ``printer``: this printer instead of the configured one (e.g. a real driver on a test pty)."""
    env_mock, env_emulator = mock_from_env()
    mock = env_mock if mock is None else mock
    emulator = env_emulator if emulator is None else emulator
    hw = Hardware()
    displays = []
    for key, d in (("display", config.display), ("public_display", config.public_display)):
        try:
            display = build_display(d, mock=mock, emulator=emulator)
        except Exception as exc:  # the agent still runs, and reports the fault
            hw.faults.append(f"display: [{key}] {d.type}: {exc}")
            log.error("display %s unavailable: %s", d.type, exc)
            continue
        if display is not None:
            displays.append(display)
    hw.display = displays[0] if len(displays) == 1 else DisplayGroup(displays) if displays else None
    mock_printer = None
    if printer is not None:
        hw.printer = printer
    elif config.printer is not None:
        p = config.printer
        try:
            if mock:
                mock_printer = MockPrinter()
                assert mock_printer.path is not None
                hw.printer = SerialPrinter(mock_printer.path, p.baudrate, p.paper_mm)
            else:
                serial_printer = SerialPrinter(p.port, p.baudrate, p.paper_mm)
                hw.printer = serial_printer
                if not serial_printer.connected:  # not a fault for ever: opened when it appears
                    log.error("printer %s unavailable: %s; it is opened as soon as it appears", p.port,
                              serial_printer.problem)
        except Exception as exc:
            hw.faults.append(f"printer: {exc}")
            log.error("printer %s unavailable: %s", p.port, exc)
    agent = EdgeAgent(config, hw) if link_factory is None else EdgeAgent(config, hw, link_factory=link_factory)
    factory = None
    buttons = None
    if config.button or config.rating is not None:
        if mock:
            from gpiozero.pins.mock import MockFactory

            factory = MockFactory()
    if config.button:
        g = config.gestures
        timing = GestureTiming(g.debounce_ms / 1000, g.double_window_ms / 1000, g.hold_ms / 1000)
        # only a button with a double action waits for the double window; one without a hold
        # action reports a press as soon as it is confirmed (hardware/gestures.py)
        specs = [ButtonSpec(b.name, b.pin, b.pull_up, double=b.double != "none", hold=b.hold != "none")
                 for b in config.button]
        buttons = ButtonPad(specs, agent.on_gesture, timing, pin_factory=factory)
        hw.faults.extend(buttons.faults)
    rating = None
    if config.rating is not None:
        r = config.rating
        rating = RatingPad(r.pins, agent.rate, RatingTiming(config.gestures.debounce_ms / 1000, r.hold_ms / 1000,
                                                             r.lockout_ms / 1000),
                           pull_up=r.pull_up, pin_factory=factory)
        hw.faults.extend(rating.faults)
    return Assembly(agent, buttons, factory, mock_printer, rating=rating)
