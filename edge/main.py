"""``antre edge``: run the agent, test the hardware on site, write a device config."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


from antre.broker.admin import credentials as creds
from antre.broker.admin.acl import Identity
from antre.broker.wire.topics import Role, check_id
from antre.edge.config import EdgeConfigError, load_device, parse_device
from antre.edge.setup import assemble
from antre.hardware.display import DisplayContent
from antre.hardware.gestures import Gesture
from antre.hardware.printer import Ticket

log = logging.getLogger(__name__)


def run(config_path: str, *, mock: bool | None = None) -> int:
    """Run the agent until SIGTERM; ``mock``: mock hardware (default: ``ANTRE_MOCK``)."""
    config = load_device(config_path)
    assembly = assemble(config, mock=mock)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from antre.daemon import Notifier, Watchdog

    notifier = Notifier()
    assembly.agent.start()
    log.info("antre edge %s.%s started (broker %s:%d)", config.device.role, config.device.id,
             config.broker.host, config.broker.port)
    notifier.ready(f"{config.device.role} {config.device.id} (broker {config.broker.host}:{config.broker.port})")
    # the agent's own lock must be free: a deadlocked agent stops the pings and systemd restarts it
    watchdog = Watchdog(notifier, lambda: assembly.agent.content() is not None).start()
    try:
        stop.wait()
    finally:
        watchdog.stop()
        notifier.stopping()
        assembly.close()
    return 0


def selftest(config_path: str, out: TextIO, ask: Callable[[str], None] | None = None, timeout: float = 15.0,
             *, mock: bool | None = None) -> int:
    """For a technician at the gerai: test pattern, test ticket and printer status, each button in turn."""
    config = load_device(config_path)
    assembly = assemble(config, mock=mock)
    agent, failures = assembly.agent, 0
    try:
        for fault in agent.hw.faults:
            out.write(f"FAULT  {fault}\n")
            failures += 1
        if agent.hw.display is not None:
            agent.hw.display.test_pattern()
            out.write("OK     display: test pattern shown (check every pixel row lights)\n")
            agent.hw.display.show(DisplayContent(config.device.id, "A000", 0, "UJI"))
        else:
            out.write("-      display: none configured\n")
        if agent.hw.printer is not None:
            status = agent.hw.printer.status()
            problem = getattr(agent.hw.printer, "problem", "")
            out.write(f"{'OK    ' if status.value in ('ok', 'paper_near_end') else 'FAULT '} printer status: "
                      f"{status.value}{f' ({problem})' if problem and problem != status.value else ''}\n")
            result = agent.hw.printer.print_ticket(Ticket(
                site_name="UJI CETAK / TEST PRINT", agency_name=f"{config.device.role} {config.device.id}",
                service_name="Tiket uji teknisi", number="T000", ticket_id="00000000-T000",
                issued_text=time.strftime("%Y-%m-%d %H:%M"), ahead=0, est_wait_min=None))
            out.write(f"{'OK    ' if result.ok else 'FAULT '} test ticket: {result.status.value} {result.detail}\n")
            failures += 0 if result.ok else 1
        else:
            out.write("-      printer: none configured\n")
        if assembly.buttons is not None:
            for spec in config.button:
                seen = threading.Event()
                previous = assembly.buttons.on_gesture

                def watch(name: str, gesture: Gesture, want: str = spec.name, flag: threading.Event = seen) -> None:
                    if name == want:
                        flag.set()

                assembly.buttons.on_gesture = watch
                (ask or (lambda text: out.write(text + "\n")))(f"...    press button '{spec.name}' (GPIO{spec.pin})")
                ok = seen.wait(timeout)
                assembly.buttons.on_gesture = previous
                out.write(f"{'OK    ' if ok else 'FAULT '} button {spec.name}: "
                          f"{'works' if ok else f'no press within {timeout:.0f} s'}\n")
                failures += 0 if ok else 1
        else:
            out.write("-      buttons: none configured\n")
    finally:
        assembly.close()
    out.write("selftest passed\n" if failures == 0 else f"selftest: {failures} fault(s)\n")
    return 0 if failures == 0 else 1


def provision(*, site: str, role: str, device: str, host: str, port: int, credentials: str, out: str,
              display: str, printer: str | None, paper_mm: int, buttons: list[str], service: str | None,
              mock: bool, baud: int = 19200) -> Path:
    """Write a device config from the site's credentials file, validating every value."""
    check_id(site, "site")
    check_id(device, role)
    who = Identity(Role(role), device)
    secret = creds.load(credentials)
    if secret.site != site:
        raise EdgeConfigError(credentials, "site", f"credentials of site {secret.site!r}, not {site!r}")
    lines = [
        "# antre device config, written by `antre edge provision`. Contains this device's secret: mode 0600.",
        "",
        "[device]", f'site = "{site}"', f'role = "{role}"', f'id = "{device}"', "",
        "[broker]", f'host = "{host}"', f"port = {port}", f'password = "{secret.password(who)}"', "",
    ]
    for spec in buttons:  # name:pin:press[:double[:hold]]
        parts = spec.split(":")
        if len(parts) < 3:
            raise EdgeConfigError("--button", spec, "use NAME:PIN:PRESS[:DOUBLE[:HOLD]]")
        name, pin, *actions = parts
        keys = ("press", "double", "hold")
        lines += ["[[button]]", f'name = "{name}"', f"pin = {pin}"]
        lines += [f'{k} = "{a}"' for k, a in zip(keys, actions)] + [""]
    lines += ["[display]", f'type = "{display}"', ""]
    if printer or (mock and role == "kiosk"):  # a laptop's test kiosk gets a (mock) printer for its tickets
        lines += ["[printer]", f'port = "{printer or "mock"}"', f"baudrate = {baud}", f"paper_mm = {paper_mm}", ""]
    if service:
        lines += ["[tickets]", f'service = "{service}"', ""]
    text = "\n".join(lines)
    parse_device(text, out)  # the same validation as the agent's own, before anything is written
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


