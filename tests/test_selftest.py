"""``antre edge selftest`` against real brokers, the central, mock pins, luma devices and a pty printer.

Each check of the selftest must be able to fail: an unreachable broker, a wrong password,
a device whose topics the broker's ACL refuses, a central that does not answer, a display
that cannot confirm its pattern, a printer out of paper, a button nobody presses; and the
test ticket shows the site's time even when the Pi's zone is another.
"""

from __future__ import annotations

import datetime as dt
import inspect
import io
import os
import re
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from antre.edge.config import parse_device
from antre.edge.main import selftest
from antre.edge.setup import Assembly, assemble
from antre.hardware import escpos
from antre.hardware.escpos import PrinterStatus
from tests.harness import BrokerProc, Site, Stack, free_port, running_site, wait_for

PANGGIL = {"button": [{"name": "panggil", "pin": 17, "press": "call_next", "hold": "no_show"}],
           "gestures": {"debounce_ms": 10}}


def device_file(site: Site, tmp: Path, *, device: str = "g1", extra: dict[str, Any] | None = None,
                port: int | None = None, password: str | None = None, timezone: str | None = "Asia/Makassar",
                site_id: str | None = None) -> Path:
    import tomllib

    import tomli_w

    data = tomllib.loads(site.agent_config("gerai", device, port=port))
    data["display"] = {"type": "ssd1306"}
    data["printer"] = {"port": "mock"}
    if timezone:
        data["device"]["timezone"] = timezone
    if password is not None:
        data["broker"]["password"] = password
    if site_id is not None:
        data["device"]["site"] = site_id
    for key, value in (extra or {}).items():
        data[key] = value
    path = tmp / f"{device}.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def run_selftest(path: Path, *, presser: Callable[[Assembly, str], None] | None = None, button_timeout: float = 2,
                 pattern_seconds: float = 0.2, confirm: Callable[[str], bool | None] | None = None,
                 hardware: Callable[[Assembly], None] | None = None, network_timeout: float = 3) -> tuple[int, str]:
    """The selftest of ``path`` on mock hardware; ``presser`` is the technician (called with each prompt),
    ``hardware`` changes the assembled hardware before the checks."""
    import antre.edge.main as edge_main

    out = io.StringIO()
    original = edge_main.assemble
    made: list[Assembly] = []

    def assemble_and_keep(cfg: Any, **kwargs: Any) -> Assembly:
        assembly = original(cfg, **kwargs)
        if hardware is not None:
            hardware(assembly)
        made.append(assembly)
        return assembly

    def ask(prompt: str) -> None:
        out.write(prompt + "\n")
        if presser is not None and made:
            presser(made[0], prompt)

    # only the options the selftest of the day takes: the tests of the field failures run (and fail) on the
    # code before the fix too
    options = {k: v for k, v in (("confirm", confirm), ("pattern_seconds", pattern_seconds),
                                 ("network_timeout", network_timeout))
               if k in inspect.signature(selftest).parameters}
    edge_main.assemble = assemble_and_keep  # type: ignore[assignment]
    try:
        status = selftest(str(path), out, ask=ask, timeout=button_timeout, mock=True, **options)
    finally:
        edge_main.assemble = original  # type: ignore[assignment]
    return status, out.getvalue()


def press_button(assembly: Assembly, prompt: str) -> None:
    """A technician's press when asked: the pin held low 80 ms (longer than any debounce), released."""
    match = re.search(r"GPIO(\d+)", prompt)
    if not match or "press button" not in prompt:
        return

    def press() -> None:
        pin = assembly.pin_factory.pin(int(match.group(1)))
        pin.drive_low()
        threading.Event().wait(0.08)  # how long a finger stays on the button
        pin.drive_high()

    threading.Thread(target=press, daemon=True).start()


@pytest.fixture(scope="module")
def site_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_site("mosquitto", tmp_path_factory.mktemp("site")) as stack:
        yield stack


# ------------------------------------------------------------------------------------------ the link


def test_everything_answers_and_the_selftest_passes(site_stack: Stack, tmp_path: Path) -> None:
    path = device_file(site_stack.site, tmp_path, extra=PANGGIL)
    status, out = run_selftest(path, presser=press_button)
    assert status == 0, out
    for line in ("OK     broker: 127.0.0.1:", "OK     credentials: the broker accepted gerai.g1",
                 "OK     own topics: antre/v1/test/gerai/g1/cmd -> central -> antre/v1/test/gerai/g1/reply",
                 "OK     display oled: test pattern shown for 0.2 s (read back from the mock)",
                 "OK     printer status: ok", "OK     test ticket: ok: printed",
                 "OK     button panggil: pressed and seen", "selftest passed"):
        assert line in out, out


def test_an_unreachable_broker_fails(tmp_path: Path) -> None:
    site = Site(tmp_path / "site", free_port())  # nothing listens on its port
    status, out = run_selftest(device_file(site, tmp_path, timezone=None))
    assert status == 1, out
    assert f"FAIL   broker: 127.0.0.1:{site.port} refused the connection" in out
    assert "check: the broker runs on 127.0.0.1 (systemctl status mosquitto)" in out
    assert "selftest FAILED" in out and "(broker, site time)" in out


def test_a_port_that_accepts_but_never_speaks_mqtt_fails_with_its_timeout(tmp_path: Path) -> None:
    """A hung broker (or another service on its port): the TCP handshake succeeds, no CONNACK ever comes."""
    import socket

    site = Site(tmp_path / "site", free_port())
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", site.port))
        silent.listen(4)  # the kernel completes handshakes; nobody ever reads or answers
        started = time.monotonic()
        status, out = run_selftest(device_file(site, tmp_path), network_timeout=1)
    assert status == 1, out
    assert f"OK     broker: 127.0.0.1:{site.port} reachable" in out
    assert f"FAIL   credentials: 127.0.0.1:{site.port} did not answer the MQTT handshake within 1 s" in out, out
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("kind", ["mosquitto", "embedded"])
def test_a_wrong_password_fails(kind: str, tmp_path: Path) -> None:
    with running_site(kind, tmp_path) as stack:
        status, out = run_selftest(device_file(stack.site, tmp_path, password="not-the-secret-of-g1",
                                               timezone=None))
    assert status == 1, out
    assert "OK     broker:" in out
    assert "FAIL   credentials: the broker refused gerai.g1" in out, out
    assert "make this device's bundle again (antre edge bundle)" in out


def test_another_sites_topics_are_refused(site_stack: Stack, tmp_path: Path) -> None:
    """The right password, the wrong site: the ACL refuses the subscription or drops the ping."""
    status, out = run_selftest(device_file(site_stack.site, tmp_path, site_id="other"))
    assert status == 1, out
    assert "OK     credentials" in out and "FAIL   own topics:" in out, out
    assert "device.site = 'other'" in out


def test_a_broker_without_its_central_fails_the_round_trip(tmp_path: Path) -> None:
    site = Site(tmp_path / "site", free_port())
    broker = BrokerProc("mosquitto", site)
    broker.start()
    try:
        status, out = run_selftest(device_file(site, tmp_path), network_timeout=1.5)
    finally:
        broker.stop()
    assert status == 1, out
    assert "OK     credentials" in out
    assert "FAIL   own topics: no answer from the central to a ping on antre/v1/test/gerai/g1/cmd" in out, out
    assert "systemctl status antre-central" in out


# ------------------------------------------------------------------------------------------ displays


def _held(assembly: Assembly, log: list[tuple[float, int]]) -> None:
    """Record when each frame reached the OLED's device, and how many pixels it lit."""
    device = assembly.agent.hw.display.device  # type: ignore[union-attr]
    original = device.display

    def display(image: Any) -> None:
        log.append((time.monotonic(), sum(image.convert("1").histogram()[1:])))
        original(image)

    device.display = display


def test_the_test_pattern_is_held_long_enough_to_see(site_stack: Stack, tmp_path: Path) -> None:
    frames: list[tuple[float, int]] = []
    status, out = run_selftest(device_file(site_stack.site, tmp_path, timezone=None), pattern_seconds=1.5,
                               hardware=lambda a: _held(a, frames))
    pattern = next(i for i, (_, lit) in enumerate(frames) if lit > 1000)  # the pattern lights many pixels
    assert pattern + 1 < len(frames), "something followed the pattern"
    held = frames[pattern + 1][0] - frames[pattern][0]
    assert held >= 1.5, f"the pattern stayed {held:.2f} s"
    from antre.cli import build_parser

    args = build_parser().parse_args(["edge", "selftest", "--config", "d.toml"])
    assert args.pattern_seconds >= 3  # the default: a few seconds


def _spi_seven_segment(assembly: Assembly) -> None:
    """A MAX7219 on SPI as luma drives it with nothing that can answer (luma's noop serial interface)."""
    from luma.core.interface.serial import noop
    from luma.led_matrix.device import max7219

    from antre.hardware.display import SevenSegmentDisplay

    assembly.agent.hw.display = SevenSegmentDisplay(max7219(noop(), cascaded=1), 8)


@pytest.mark.parametrize("answer, expected", [
    (None, "FAIL   display seven-segment: not confirmed: this display cannot answer the Pi"),
    (False, "FAIL   display seven-segment: the technician did not see the whole test pattern"),
    (True, "OK     display seven-segment: test pattern shown for 0.2 s, seen by the technician"),
])
def test_a_max7219_is_never_ok_unless_someone_saw_it(site_stack: Stack, tmp_path: Path, answer: bool | None,
                                                      expected: str) -> None:
    questions: list[str] = []

    def technician(question: str) -> bool | None:
        questions.append(question)
        return answer

    status, out = run_selftest(device_file(site_stack.site, tmp_path, timezone=None), hardware=_spi_seven_segment,
                               confirm=technician)
    assert expected in out, out
    assert "FAIL   site time" in out  # (no zone in this file: a failure of its own, below the display's)
    assert status == 1
    assert questions and "seven-segment" in questions[0]
    if answer is False:
        assert "check: SPI: VCC to 5 V (pin 2)" in out


def test_a_display_that_does_not_acknowledge_fails(site_stack: Stack, tmp_path: Path) -> None:
    from luma.core.device import dummy

    from antre.hardware.display import OledDisplay

    class Unplugged(dummy):  # type: ignore[misc]
        """An SSD1306 whose I2C address nobody answers: smbus raises as the kernel reports it."""

        def display(self, image: Any) -> None:
            raise OSError(121, "Remote I/O error")

    def unplug(assembly: Assembly) -> None:
        assembly.agent.hw.display = OledDisplay(Unplugged(width=128, height=64, mode="1"))

    status, out = run_selftest(device_file(site_stack.site, tmp_path), hardware=unplug)
    assert status == 1
    assert "FAIL   display oled: the test pattern failed: [Errno 121] Remote I/O error" in out, out
    assert "check: I2C: VCC to 3.3 V (pin 1)" in out


def test_a_dot_matrix_and_the_oled_are_both_tested(site_stack: Stack, tmp_path: Path) -> None:
    extra = {"public_display": {"type": "max7219-matrix", "modules": 8}}
    status, out = run_selftest(device_file(site_stack.site, tmp_path, extra=extra))
    assert status == 0, out
    assert "OK     display oled: test pattern" in out and "OK     display matrix: test pattern" in out


# ------------------------------------------------------------------------------------------ printer


@pytest.mark.parametrize("state, hint", [
    (PrinterStatus.PAPER_OUT, "load a paper roll"),
    (PrinterStatus.COVER_OPEN, "close the printer's cover"),
    (None, "the printer did not answer a status query"),  # switched off: silent
])
def test_a_printer_that_cannot_print_fails_with_what_to_do(site_stack: Stack, tmp_path: Path,
                                                            state: PrinterStatus | None, hint: str) -> None:
    def fault(assembly: Assembly) -> None:
        assert assembly.mock_printer is not None
        if state is None:
            assembly.mock_printer.silent = True
        else:
            assembly.mock_printer.state = state

    status, out = run_selftest(device_file(site_stack.site, tmp_path), hardware=fault)
    assert status == 1
    value = state.value if state else "unknown"
    assert f"FAIL   printer status: {value}" in out and f"check: {hint}" in out, out
    assert "FAIL   test ticket:" in out


@pytest.mark.parametrize("zone, abbrev", [("Asia/Jayapura", "WIT"), ("Asia/Jakarta", "WIB")])
def test_the_test_ticket_shows_the_sites_time_not_the_pis(site_stack: Stack, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, zone: str,
                                                         abbrev: str) -> None:
    monkeypatch.setenv("TZ", "America/Sao_Paulo")  # the Pi's own zone, far from the site's
    time.tzset()
    printed: list[list[str]] = []

    def keep(assembly: Assembly) -> None:
        printed.append([])
        mp = assembly.mock_printer
        assert mp is not None
        original = assembly.close

        def close() -> None:
            mp.wait_tickets(1, 5)
            printed[-1].extend(escpos.texts(mp.tickets[0]) if mp.tickets else [])
            original()

        assembly.close = close  # type: ignore[method-assign]

    try:
        status, out = run_selftest(device_file(site_stack.site, tmp_path, timezone=zone), hardware=keep)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert status == 0, out
    lines = printed[0]
    when = next(line for line in lines if line.endswith(abbrev))
    stamp = dt.datetime.strptime(" ".join(when.split()[1:3]), "%d-%m-%Y %H:%M").replace(tzinfo=zoneinfo.ZoneInfo(zone))
    assert abs(stamp.timestamp() - time.time()) < 120, (when, lines)
    assert "the central's clock" in out


def test_a_device_file_without_the_sites_zone_fails_the_ticket_time(site_stack: Stack, tmp_path: Path) -> None:
    status, out = run_selftest(device_file(site_stack.site, tmp_path, timezone=None))
    assert status == 1
    assert "FAIL   site time: the device file names no time zone" in out, out


# ------------------------------------------------------------------------------------------ buttons


def test_each_button_is_asked_for_and_one_not_pressed_is_named(site_stack: Stack, tmp_path: Path) -> None:
    keypad = {"button": [{"name": "panggil", "pin": 17, "press": "call_next"},
                         {"name": "ulang", "pin": 27, "press": "recall"},
                         {"name": "jeda", "pin": 22, "press": "pause_toggle"}],
              "gestures": {"debounce_ms": 10}}

    def technician(assembly: Assembly, prompt: str) -> None:
        if "'ulang'" not in prompt:  # the recall button's wire is broken
            press_button(assembly, prompt)

    status, out = run_selftest(device_file(site_stack.site, tmp_path, extra=keypad), presser=technician,
                               button_timeout=1.5)
    assert status == 1
    assert "press button 'panggil' (GPIO17, pin 11)" in out
    assert "OK     button panggil: pressed and seen" in out and "OK     button jeda: pressed and seen" in out
    assert "FAIL   button ulang: no press seen within 1.5 s (GPIO27, pin 13)" in out, out
    assert "check: the wire from GPIO27, pin 13 to the button" in out
    assert out.rstrip().endswith("(button ulang)")


def test_the_terminal_confirmation() -> None:
    from antre.edge.main import terminal_confirm

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = io.StringIO()
    assert terminal_confirm("seen?", Tty("maybe\ny\n"), out) is True
    assert out.getvalue().count("seen?") == 2  # asked again after an answer it did not understand
    assert terminal_confirm("seen?", Tty("tidak\n"), io.StringIO()) is False
    assert terminal_confirm("seen?", io.StringIO("y\n"), io.StringIO()) is None  # no terminal: nobody to ask
