"""The device config of a gerai or kiosk (TOML), written by ``antre edge provision``.

Example::

    [device]
    site = "kupang"
    role = "gerai"            # or "kiosk"
    id = "g05"

    [broker]
    host = "192.168.10.2"
    port = 1883
    password = "..."          # this device's own secret (username: gerai.g05)

    [[button]]
    name = "utama"
    pin = 17
    press = "call_next"
    double = "recall"
    hold = "no_show"

    [display]                 # the staff's, on the desk
    type = "ssd1306"          # sh1106, max7219 (seven-segment), max7219-matrix, hdmi, none

    [public_display]          # the citizens', above the counter (optional)
    type = "max7219-matrix"   # or hdmi
    modules = 8
    spi_device = 1            # CE1: the staff's MAX7219, if any, is on CE0

    [printer]
    port = "/dev/serial/by-id/usb-..."   # or /dev/serial0 (the Pi's UART)
    baudrate = 9600
    paper_mm = 58

    [rating]                  # the citizens' quick-rating pad (optional, a gerai's)
    pins = [5, 6, 13, 19]     # keys 1 (tidak puas) to 4 (sangat puas)
"""

from __future__ import annotations

import os
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from antre.broker.wire.messages import PRIORITY_REASONS, Priority
from antre.broker.tomlfile import FileConfigError, StrictSection, parse_toml, read_text
from antre.broker.wire.topics import ID_PATTERN

Ident = Annotated[str, Meta(pattern=ID_PATTERN)]
Action = Literal[
    "call_next", "recall", "no_show", "done", "pause_toggle", "take_ticket", "take_priority_ticket",
    "reprint_last", "none"
]


class EdgeConfigError(FileConfigError, what="device config"):
    """An invalid device config file: ``file: key: problem``."""


_Strict = StrictSection


class DeviceSection(_Strict, frozen=True, kw_only=True):
    site: Ident
    role: Literal["gerai", "kiosk"] = "gerai"
    id: Ident
    name: Annotated[str, Meta(max_length=60)] = ""
    #: the site's time zone (the site file's site.timezone): the selftest's ticket shows the site's time
    timezone: Annotated[str, Meta(pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", max_length=64)] | None = None


class BrokerSection(_Strict, frozen=True, kw_only=True):
    host: Annotated[str, Meta(min_length=1, max_length=253)]
    port: Annotated[int, Meta(ge=1, le=65535)] = 1883
    password: Annotated[str, Meta(min_length=16, max_length=200)]
    cafile: str | None = None
    #: MQTT keepalive (s): a hung link is noticed at most about twice this after it froze
    keepalive: Annotated[int, Meta(ge=2, le=600)] = 2


class ButtonSection(_Strict, frozen=True, kw_only=True):
    name: Annotated[str, Meta(pattern=r"^[a-z0-9_-]{1,20}$")]
    pin: Annotated[int, Meta(ge=0, le=53)]
    pull_up: bool = True
    press: Action = "none"
    double: Action = "none"
    hold: Action = "none"


class GestureSection(_Strict, frozen=True, kw_only=True):
    debounce_ms: Annotated[int, Meta(ge=0, le=499)] = 30
    double_window_ms: Annotated[int, Meta(ge=50, le=2000)] = 350
    hold_ms: Annotated[int, Meta(ge=300, le=10000)] = 1200


DisplayType = Literal["ssd1306", "sh1106", "max7219", "max7219-matrix", "hdmi", "none"]


class DisplaySection(_Strict, frozen=True, kw_only=True):
    """A display: the staff's ([display]) or the citizens' above the counter ([public_display])."""

    type: DisplayType = "none"
    mock: bool = False  # deprecated: mock hardware is chosen at run time (--mock), never here
    width: Annotated[int, Meta(ge=32, le=256)] = 128
    height: Annotated[int, Meta(ge=16, le=128)] = 64
    i2c_port: Annotated[int, Meta(ge=0, le=10)] = 1
    i2c_address: Annotated[int, Meta(ge=0x03, le=0x77)] = 0x3C
    spi_port: Annotated[int, Meta(ge=0, le=10)] = 0
    spi_device: Annotated[int, Meta(ge=0, le=10)] = 0
    #: max7219 (seven-segment): 4 or 8 digits
    digits: Literal[4, 8] = 8
    #: max7219-matrix: 8x8 modules in the chain, and how they are mounted (luma.led_matrix's options;
    #: the common four-in-one FC-16 boards need block_orientation = -90)
    modules: Literal[4, 8] = 4
    block_orientation: Literal[0, 90, -90, 180] = -90
    rotate: Literal[0, 1, 2, 3] = 0
    reverse_order: bool = False
    #: hdmi: "native" (the screen's own mode, full screen) or WIDTHxHEIGHT
    resolution: Annotated[str, Meta(pattern=r"^(native|[0-9]{3,4}x[0-9]{3,4})$")] = "native"


class PrinterSection(_Strict, frozen=True, kw_only=True):
    #: any pyserial URL; for a USB printer prefer its stable /dev/serial/by-id/... name (reopened by
    #: that name after it was unplugged and plugged back)
    port: Annotated[str, Meta(min_length=1, max_length=200)]
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = 19200  # many 58 mm printers ship at 9600
    paper_mm: Literal[58, 80] = 58
    #: a ticket whose print failed is reprinted when the printer recovers within this long;
    #: after that it is voided (nobody holds it), with the reason in the audit trail
    reprint_within_s: Annotated[float, Meta(ge=1, le=7200)] = 600.0
    mock: bool = False  # deprecated, see DisplaySection.mock


class TicketSection(_Strict, frozen=True, kw_only=True):
    service: Ident  # the service of take_ticket buttons
    priority_reason: Priority = Priority.ELDERLY  # the reason a take_priority_ticket button gives


class RatingSection(_Strict, frozen=True, kw_only=True):
    """The quick-rating pad (antre.hardware.rating): four keys, scores 1 to 4, facing the citizen."""

    pins: Annotated[list[Annotated[int, Meta(ge=0, le=53)]], Meta(min_length=4, max_length=4)]
    pull_up: bool = True
    #: a key held this long rates nothing (a stuck key, a bag on the pad)
    hold_ms: Annotated[int, Meta(ge=300, le=10000)] = 2000
    #: presses this soon after a rating are ignored (one citizen, one rating)
    lockout_ms: Annotated[int, Meta(ge=0, le=30000)] = 1500


class _File(_Strict, frozen=True, kw_only=True):
    device: DeviceSection
    broker: BrokerSection
    button: list[ButtonSection] = []
    gestures: GestureSection = GestureSection()
    display: DisplaySection = DisplaySection()
    #: the citizens' display above the counter (a dot-matrix chain or an HDMI screen), beside the staff's
    public_display: DisplaySection = DisplaySection()
    printer: PrinterSection | None = None
    tickets: TicketSection | None = None
    rating: RatingSection | None = None
    health_interval_s: Annotated[int, Meta(ge=5, le=3600)] = 30
    #: a press not answered within this many seconds is dropped and shown as unanswered
    #: (match the central's [central] command_deadline_s)
    command_deadline_s: Annotated[float, Meta(ge=1, le=600)] = 5.0
    #: how often the agent syncs its estimate of the central's clock (ping/pong)
    ping_interval_s: Annotated[float, Meta(ge=1, le=3600)] = 30.0
    mock_gpio: bool = False  # deprecated, see DisplaySection.mock


DeviceConfig = _File

_MOCK_MOVED = ("mock hardware is chosen when the agent starts (`antre edge run --mock`, or ANTRE_MOCK=1), "
               "never in the device file: remove this line")


def _bus(display: DisplaySection) -> tuple[str, int, int] | None:
    """Where a display is wired: ("SPI", port, chip select), ("I2C", port, address), ("HDMI", 0, 0)."""
    if display.type in ("max7219", "max7219-matrix"):
        return ("SPI", display.spi_port, display.spi_device)
    if display.type in ("ssd1306", "sh1106"):
        return ("I2C", display.i2c_port, display.i2c_address)
    if display.type == "hdmi":
        return ("HDMI", 0, 0)
    return None


def parse_device(text: str, source: str = "<device>") -> DeviceConfig:
    cfg = parse_toml(text, _File, source, EdgeConfigError)
    # Older files (antre 0.1) carried `mock = false` lines: accepted; `true` is refused, so a
    # production device never runs on mock hardware because of a line in its file.
    for key, value in (("mock_gpio", cfg.mock_gpio), ("display.mock", cfg.display.mock),
                       ("printer.mock", cfg.printer.mock if cfg.printer else False)):
        if value:
            raise EdgeConfigError(source, key, _MOCK_MOVED)
    if cfg.device.timezone is not None:
        try:
            zoneinfo.ZoneInfo(cfg.device.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise EdgeConfigError(source, "device.timezone", f"unknown time zone {cfg.device.timezone!r} "
                                  "(e.g. Asia/Jakarta, Asia/Makassar, Asia/Jayapura)") from None
    for key, section in (("display", cfg.display), ("public_display", cfg.public_display)):
        if section.resolution != "native" and section.type != "hdmi":
            raise EdgeConfigError(source, f"{key}.resolution", "only an hdmi display has a resolution")
    staff, public = _bus(cfg.display), _bus(cfg.public_display)
    if staff is not None and staff == public:
        raise EdgeConfigError(source, "public_display", f"on the same {staff[0]} as [display]: give it its own "
                              "chip select (spi_device = 1: CE1) or I2C address")
    names = [b.name for b in cfg.button]
    if len(set(names)) != len(names):
        raise EdgeConfigError(source, "button", "two buttons have the same name")
    pins = [b.pin for b in cfg.button]
    if len(set(pins)) != len(pins):
        raise EdgeConfigError(source, "button", "two buttons use the same GPIO pin")
    if cfg.rating is not None:
        if cfg.device.role != "gerai":
            raise EdgeConfigError(source, "rating", "a rating pad belongs to a gerai (it rates the ticket served there)")
        if len(set(cfg.rating.pins)) != 4:
            raise EdgeConfigError(source, "rating.pins", "four different GPIO pins, one per key")
        shared = set(cfg.rating.pins) & set(pins)
        if shared:
            raise EdgeConfigError(source, "rating.pins", f"GPIO {sorted(shared)} already used by a [[button]]")
    actions = {a for b in cfg.button for a in (b.press, b.double, b.hold)}
    if cfg.tickets is not None and not cfg.tickets.priority_reason.is_priority:
        raise EdgeConfigError(source, "tickets.priority_reason", "must be a reason for priority service: "
                              + ", ".join(PRIORITY_REASONS))
    if actions & {"take_ticket", "take_priority_ticket"} and cfg.tickets is None:
        raise EdgeConfigError(source, "tickets", "a take-ticket button needs [tickets] service = ...")
    if cfg.device.role == "kiosk" and actions - {"take_ticket", "take_priority_ticket", "reprint_last", "none"}:
        raise EdgeConfigError(source, "button", "a kiosk can only take tickets (and reprint the last one)")
    if "reprint_last" in actions and cfg.printer is None:
        raise EdgeConfigError(source, "button", "a reprint_last button needs a [printer]")
    return cfg


def load_device(path: str | Path) -> DeviceConfig:
    """Read and validate a device file; a relative ``broker.cafile`` is relative to the file's directory."""
    cfg = parse_device(read_text(path, EdgeConfigError), str(path))
    cafile = cfg.broker.cafile
    if cafile and not Path(cafile).expanduser().is_absolute():
        base = os.path.abspath(Path(path).parent)
        broker = msgspec.structs.replace(cfg.broker, cafile=os.path.join(base, cafile))
        cfg = msgspec.structs.replace(cfg, broker=broker)
    return cfg
