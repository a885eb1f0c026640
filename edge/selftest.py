"""``antre edge selftest``: what a technician at the gerai runs, and may trust.

Every check says OK only when something answered: the broker's TCP port, the
broker's acceptance of this device's own name and password (CONNACK), its own
topics (a ``ping`` on this device's command topic answered by the central's
``pong`` on its reply topic: the broker's ACL let both through and the central
runs), each display (an I2C display acknowledges every byte; a MAX7219 on SPI
and an HDMI screen cannot answer, so the technician is asked what they saw),
the printer (its own status answer, through the driver's public ``status()``)
and a test ticket printed with the site's local time (the central's clock from
the pong, in the site's zone), and each button (the technician is asked to
press it).  Every failure says what to check.  The exit status is 1 when
anything failed.

The selftest connects as the device itself (a broker accepts one connection per
identity): stop the agent first (``sudo systemctl stop antre-edge``;
``antre edge setup`` does it).
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.messages import ResultCode
from antre.broker.wire.topics import Channel, Role, Topics
from antre.edge.config import DeviceConfig
from antre.hardware.display import DisplayContent, Mode, members

log = logging.getLogger(__name__)

#: the default time each display holds its test pattern (seconds)
PATTERN_SECONDS = 3.0
#: how long each network step may take (seconds)
NETWORK_TIMEOUT = 5.0

Ask = Callable[[str], None]
#: asks the technician a yes/no question; None when nobody can answer (no terminal)
Confirm = Callable[[str], "bool | None"]

_WIRING = {
    "oled": "I2C: VCC to 3.3 V (pin 1), GND (pin 6), SDA to GPIO2 (pin 3), SCL to GPIO3 (pin 5); I2C on "
            "(sudo raspi-config nonint do_i2c 0); the address (i2cdetect -y 1) is display.i2c_address",
    "seven-segment": "SPI: VCC to 5 V (pin 2), GND (pin 20), DIN to MOSI (pin 19), CS to CE0 (pin 24) or CE1 "
                     "(pin 26, spi_device = 1), CLK to SCLK (pin 23); SPI on (sudo raspi-config nonint do_spi 0)",
    "hdmi": "the HDMI cable (the port next to the power socket on a Pi 4/5), the TV is on and set to that input",
}
_WIRING["matrix"] = _WIRING["seven-segment"] + "; the chain's modules: [display] modules, block_orientation"

_PRINTER_HINTS = {
    "paper_out": "load a paper roll (thermal side out) and close the cover",
    "paper_near_end": "the roll is nearly used up: load a new one soon",
    "cover_open": "close the printer's cover until it clicks",
    "offline": "the printer says it is offline: look at its error light (paper, cover, cutter jam, overheating)",
    "unknown": "the printer did not answer a status query: check its power, the cable (TX to RX, RX to TX, a "
               "common GND; a level shifter on the Pi's 3.3 V pins), printer.port and printer.baudrate "
               "(many 58 mm printers ship at 9600)",
    "error": "the port failed: check printer.port exists (ls -l /dev/serial0 /dev/ttyUSB*) and the antre "
             "account is in the dialout group",
}


@dataclass
class Check:
    """One line of the report."""

    name: str
    ok: bool | None  # None: not applicable (nothing configured)
    detail: str
    hint: str = ""


@dataclass
class Report:
    """The checks so far, written as they are made."""

    out: TextIO
    checks: list[Check] = field(default_factory=list)

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        mark = "-     " if check.ok is None else ("OK    " if check.ok else "FAIL  ")
        self.out.write(f"{mark} {check.name}: {check.detail}\n")
        if check.ok is False and check.hint:
            self.out.write(f"       check: {check.hint}\n")
        self.out.flush()
        return check

    def ok(self, name: str, detail: str) -> Check:
        return self.add(Check(name, True, detail))

    def fail(self, name: str, detail: str, hint: str = "") -> Check:
        return self.add(Check(name, False, detail, hint))

    def skip(self, name: str, detail: str) -> Check:
        return self.add(Check(name, None, detail))

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]


# ------------------------------------------------------------------------------ network


@dataclass
class LinkResult:
    """What the network checks learned."""

    central_time: float | None = None  # the central's clock at the pong
    at: float = 0.0  # time.monotonic() of the pong
    state: m.GeraiState | None = None

    def now(self) -> float | None:
        """The central's clock now (None when the central never answered)."""
        if self.central_time is None:
            return None
        return self.central_time + (time.monotonic() - self.at)


def check_link(config: DeviceConfig, report: Report, timeout: float = NETWORK_TIMEOUT) -> LinkResult:
    """Broker reachable, credentials accepted, own topics allowed and the central answering."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    b = config.broker
    where = f"{b.host}:{b.port}"
    result = LinkResult()
    started = time.monotonic()
    try:
        with socket.create_connection((b.host, b.port), timeout=timeout):
            pass
    except socket.gaierror as exc:
        report.fail("broker", f"cannot resolve {b.host!r} ({exc.strerror})",
                    "broker.host in the device file: the central server's address as this Pi reaches it "
                    "(an IP address such as 192.168.10.2 needs no DNS)")
        return result
    except ConnectionRefusedError:
        report.fail("broker", f"{where} refused the connection (nothing listens there)",
                    f"the broker runs on {b.host} (systemctl status mosquitto) and listens on port {b.port} "
                    "(broker.port in the device file)")
        return result
    except TimeoutError:
        report.fail("broker", f"{where} did not answer within {timeout:.0f} s",
                    f"this Pi's network (cable or Wi-Fi: ip addr; ping {b.host}), the address broker.host, "
                    f"a firewall in between (TCP port {b.port})")
        return result
    except OSError as exc:
        report.fail("broker", f"{where} unreachable: {exc.strerror or exc}",
                    f"this Pi's network (ip addr, ip route) and the address broker.host (ping {b.host})")
        return result
    report.ok("broker", f"{where} reachable ({(time.monotonic() - started) * 1000:.0f} ms)")

    role = Role(config.device.role)
    username = f"{role.value}.{config.device.id}"
    topics = Topics(config.device.site)
    reply_topic = topics.device(role, config.device.id, Channel.REPLY)
    cmd_topic = topics.device(role, config.device.id, Channel.CMD)
    state_topic = topics.device(role, config.device.id, Channel.STATE)
    cond = threading.Condition()
    seen: dict[str, Any] = {"connack": None, "suback": None, "disconnected": False, "pong": None, "puback": False}
    ping_id = f"{config.device.id}-selftest-{int(time.time() * 1000) % 10**9:09d}"

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with cond:
            seen["connack"] = reason
            cond.notify_all()

    def on_subscribe(client: Any, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        with cond:
            seen["suback"] = [int(r.value) for r in reasons]
            cond.notify_all()

    def on_publish(client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with cond:
            seen["puback"] = True
            cond.notify_all()

    def on_disconnect(client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with cond:
            seen["disconnected"] = True
            cond.notify_all()

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        try:
            if msg.topic == reply_topic:
                reply = codec.decode(bytes(msg.payload), Channel.REPLY, m.Reply)
                if reply.code == ResultCode.PONG and reply.cmd == ping_id:
                    with cond:
                        seen["pong"] = reply
                        result.central_time, result.at = reply.ts, time.monotonic()
                        cond.notify_all()
            elif msg.topic == state_topic:
                result.state = codec.decode(bytes(msg.payload), Channel.STATE, m.GeraiState)
        except codec.ProtocolError as exc:
            log.warning("selftest: ignored an invalid message on %s: %s", msg.topic, exc)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username, clean_session=True,
                         protocol=mqtt.MQTTv311, reconnect_on_failure=False)
    client.username_pw_set(username, b.password)
    if b.cafile:
        import ssl

        client.tls_set(ca_certs=b.cafile, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.on_connect, client.on_subscribe, client.on_publish = on_connect, on_subscribe, on_publish
    client.on_disconnect, client.on_message = on_disconnect, on_message
    try:
        client.connect(b.host, b.port, keepalive=max(5, b.keepalive))
    except OSError as exc:  # a TLS handshake that failed, a broker that closed at once
        report.fail("credentials", f"the MQTT connection to {where} failed: {exc}",
                    "broker.cafile when the broker uses TLS; the broker's own log")
        return result
    client.loop_start()
    try:
        with cond:
            cond.wait_for(lambda: seen["connack"] is not None or seen["disconnected"], timeout)
        connack = seen["connack"]
        if connack is None:
            report.fail("credentials", f"{where} did not answer the MQTT handshake within {timeout:.0f} s",
                        f"that {where} is the site's MQTT broker (not another service); TLS there needs "
                        "broker.cafile")
            return result
        if connack.is_failure:
            report.fail("credentials", f"the broker refused {username}: {connack}",
                        f"broker.password in the device file must be {username}'s own secret from the site's "
                        "credentials file: on the central, make this device's bundle again (antre edge bundle) "
                        "and install it (antre edge setup)")
            return result
        report.ok("credentials", f"the broker accepted {username}")
        channels = [(reply_topic, 1)] + ([(state_topic, 1)] if role is Role.GERAI else [])
        client.subscribe(channels)
        with cond:
            cond.wait_for(lambda: seen["suback"] is not None or seen["disconnected"], timeout)
        granted = seen["suback"]
        if not granted or any(code >= 0x80 for code in granted):
            report.fail("own topics", f"the broker refused {username}'s subscription to {reply_topic}",
                        f"device.site = {config.device.site!r} and device.id = {config.device.id!r} in the "
                        "device file must be those the site file gives this device (the broker's ACL)")
            return result
        ping = m.Ping(id=ping_id, ts=time.time())
        client.publish(cmd_topic, codec.encode(ping), qos=1)
        with cond:
            cond.wait_for(lambda: seen["pong"] is not None or seen["disconnected"], timeout)
        if seen["pong"] is None:
            if seen["disconnected"]:
                report.fail("own topics", "the broker dropped the selftest's connection",
                            "another connection with this device's name took it over: stop the agent while "
                            "testing (sudo systemctl stop antre-edge), and no other device may use this "
                            "device's file")
            else:
                report.fail("own topics", f"no answer from the central to a ping on {cmd_topic} within "
                            f"{timeout:.0f} s",
                            "the central service runs (on the server: systemctl status antre-central; antre "
                            f"status); if it does, the broker dropped this device's message: device.site = "
                            f"{config.device.site!r} and device.id = {config.device.id!r} must match the site "
                            "file (the broker's ACL drops other topics silently)")
            return result
        rtt = (time.monotonic() - started) * 1000
        report.ok("own topics", f"{cmd_topic} -> central -> {reply_topic}: ping answered ({rtt:.0f} ms "
                                "from the first packet)")
        if role is Role.GERAI:
            with cond:  # the retained state arrives with the subscription
                cond.wait_for(lambda: result.state is not None, 1.0)
    finally:
        client.disconnect()
        client.loop_stop()
    return result


# ------------------------------------------------------------------------------ the site's time

DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")


def site_time_text(when: float, zone: str) -> str:
    """``Jumat 27-11-2026 09:41 WITA``: the site's local time and zone (fits 32 columns)."""
    local = dt.datetime.fromtimestamp(when, zoneinfo.ZoneInfo(zone))
    return f"{DAYS[local.weekday()]} {local:%d-%m-%Y %H:%M} {local.tzname()}"


# ------------------------------------------------------------------------------ the whole test


def run(config: DeviceConfig, assembly: Any, out: TextIO, *, ask: Ask | None = None, confirm: Confirm | None = None,
        button_timeout: float = 15.0, pattern_seconds: float = PATTERN_SECONDS,
        network_timeout: float = NETWORK_TIMEOUT, stop: threading.Event | None = None) -> Report:
    """Every check, in the order a technician can act on them; ``assembly``: the device's hardware
    (:func:`antre.edge.setup.assemble`)."""
    report = Report(out)

    def say(text: str) -> None:
        if ask is not None:
            ask(text)
        else:
            out.write(text + "\n")
            out.flush()

    hold = stop or threading.Event()
    d = config.device
    out.write(f"antre selftest of {d.role} {d.id} (site {d.site}), broker {config.broker.host}:"
              f"{config.broker.port}\n")
    link = check_link(config, report, network_timeout)
    agent = assembly.agent
    for fault in agent.hw.faults:
        kind = fault.split(":", 1)[0]
        report.fail(kind, fault.split(":", 1)[-1].strip(), _fault_hint(fault))

    # displays: the pattern held long enough to see, then confirmed by the device or by a person
    displays = members(agent.hw.display)
    if not displays and not any(f.startswith("display") for f in agent.hw.faults):
        report.skip("display", "none configured")
    for display in displays:
        name = f"display {display.kind}"
        try:
            confirmed = display.test_pattern()
        except Exception as exc:
            report.fail(name, f"the test pattern failed: {exc}", _WIRING.get(display.kind, ""))
            continue
        say(f"...    {name}: test pattern for {pattern_seconds:g} s: look at it")
        hold.wait(pattern_seconds)
        if confirmed is None:
            question = (f"Did the {display.kind} display show the whole test pattern (every LED, segment or "
                        "colour bar lit)? [y/n]")
            confirmed = confirm(question) if confirm is not None else None
            if confirmed is None:
                report.fail(name, "not confirmed: this display cannot answer the Pi (SPI, HDMI), only a person "
                            "can tell whether it lit",
                            "run `antre edge selftest` in a terminal at the gerai and answer what you saw")
            elif confirmed:
                report.ok(name, f"test pattern shown for {pattern_seconds:g} s, seen by the technician")
            else:
                report.fail(name, "the technician did not see the whole test pattern", _WIRING.get(display.kind, ""))
        elif confirmed:
            how = "read back from the mock" if _is_mock(display) else "acknowledged by the display"
            report.ok(name, f"test pattern shown for {pattern_seconds:g} s ({how})")
        else:
            report.fail(name, "the frame read back is not the test pattern", _WIRING.get(display.kind, ""))
        try:
            display.show(DisplayContent(d.name or d.id, "T000", 0, "UJI", Mode.CALLING, "0"))
        except Exception as exc:
            report.fail(name, f"showing a number failed after the pattern: {exc}", _WIRING.get(display.kind, ""))

    # the printer: its own status, then a ticket with the site's time
    printer = agent.hw.printer
    if printer is not None:
        p = config.printer
        try:
            status = printer.status()
            value = getattr(status, "value", str(status))
        except Exception as exc:  # a driver that raises instead of answering
            log.warning("printer status failed: %s", exc)
            value = "error"
        where = f"{p.port} at {p.baudrate} baud" if p is not None else ""
        if value in ("ok", "paper_near_end"):
            report.ok("printer status", value + ("" if value == "ok" else f" ({_PRINTER_HINTS[value]})"))
        else:
            report.fail("printer status", f"{value} ({where})", _PRINTER_HINTS.get(value, ""))
        zone = d.timezone
        when = link.now()
        clock = "the central's clock" if when is not None else "this Pi's clock (the central did not answer)"
        when = when if when is not None else time.time()
        if zone is None:
            report.fail("site time", "the device file names no time zone (device.timezone): the ticket "
                        "would show this Pi's zone, not the site's",
                        "make this device's bundle on the central (antre edge bundle takes site.timezone from "
                        "the site file), or add timezone = \"Asia/Makassar\" (WITA; Asia/Jakarta WIB, "
                        "Asia/Jayapura WIT) under [device]")
            issued = dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime("%d-%m-%Y %H:%M UTC")
        else:
            issued = site_time_text(when, zone)
        from antre.hardware.printer import Ticket

        result = printer.print_ticket(Ticket(
            site_name="UJI CETAK / TEST PRINT", agency_name=f"{d.role} {d.id} ({d.site})",
            service_name="Tiket uji teknisi", number="T000", ticket_id="00000000-T000", issued_text=issued,
            ahead=0, est_wait_min=None))
        if result.ok:
            report.ok("test ticket", f"{result.status.value}: printed, time {issued} ({clock})")
        else:
            report.fail("test ticket", f"{result.status.value} {result.detail}".strip(),
                        _PRINTER_HINTS.get(result.status.value, "the printer's cable and power"))
    elif config.printer is None:
        report.skip("printer", "none configured")

    # buttons: the technician presses each in turn
    buttons = assembly.buttons
    if buttons is not None and config.button:
        from antre.hardware.gestures import Gesture

        for spec in config.button:
            if any(f.startswith(f"button {spec.name} ") for f in agent.hw.faults):
                continue  # already reported
            seen = threading.Event()
            previous = buttons.on_gesture

            def watch(name: str, gesture: Gesture, want: str = spec.name, flag: threading.Event = seen) -> None:
                if name == want:
                    flag.set()

            buttons.on_gesture = watch
            pin = _PHYSICAL.get(spec.pin)
            where = f"GPIO{spec.pin}" + (f", pin {pin}" if pin else "")
            say(f"...    press button '{spec.name}' ({where}) within {button_timeout:g} s")
            ok = seen.wait(button_timeout)
            buttons.on_gesture = previous
            if ok:
                report.ok(f"button {spec.name}", "pressed and seen")
            else:
                report.fail(f"button {spec.name}", f"no press seen within {button_timeout:g} s ({where})",
                            f"the wire from {where} to the button and from the button to a GND pin (pin 9, 14, "
                            "20, 25, 34 or 39); button.pin in the device file")
    elif not config.button:
        report.skip("buttons", "none configured")

    failed = report.failed
    if failed:
        names = ", ".join(dict.fromkeys(c.name for c in failed))
        out.write(f"selftest FAILED: {len(failed)} of {len(report.checks)} checks ({names})\n")
    else:
        out.write(f"selftest passed: {sum(1 for c in report.checks if c.ok)} checks\n")
    return report


def _is_mock(display: Any) -> bool:
    return type(getattr(display, "device", None)).__name__ == "dummy" or not getattr(display, "window", True)


def _fault_hint(fault: str) -> str:
    if fault.startswith("display"):
        if "spidev" in fault or "SPI" in fault:
            return _WIRING["seven-segment"] + "; python3-spidev installed (the venv sees system packages)"
        if "hdmi" in fault or "pygame" in fault:
            return _WIRING["hdmi"] + "; pygame installed (pip install 'antre[hdmi]')"
        return _WIRING["oled"]
    if fault.startswith("printer"):
        return _PRINTER_HINTS["error"]
    if fault.startswith("button"):
        return ("the pin is free (stop the agent: sudo systemctl stop antre-edge) and the antre account is in "
                "the gpio group")
    return ""


#: BCM GPIO number -> physical pin of the 40-pin header
_PHYSICAL = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 0: 27, 5: 29, 6: 31, 13: 33,
             19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24, 7: 26, 1: 28, 12: 32,
             16: 36, 20: 38, 21: 40}
