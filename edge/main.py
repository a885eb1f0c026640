"""``antre edge``: run the agent, test the hardware on site, write a device config."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


from antre.broker.admin import credentials as creds
from antre.broker.admin.acl import Identity
from antre.broker.wire.topics import Role, check_id
from antre.edge.config import EdgeConfigError, load_device, parse_device
from antre.edge.selftest import NETWORK_TIMEOUT, PATTERN_SECONDS
from antre.edge.setup import assemble

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
             *, mock: bool | None = None, confirm: Callable[[str], bool | None] | None = None,
             pattern_seconds: float = PATTERN_SECONDS, network_timeout: float = NETWORK_TIMEOUT) -> int:
    """For a technician at the gerai (:mod:`antre.edge.selftest`): the broker, the credentials, the device's
    own topics to the central and back, each display's test pattern, the printer's status and a test ticket
    with the site's time, each button in turn.  Exit status 1 when anything failed."""
    from antre.edge import selftest as checks

    config = load_device(config_path)
    assembly = assemble(config, mock=mock)
    try:
        report = checks.run(config, assembly, out, ask=ask, confirm=confirm, button_timeout=timeout,
                            pattern_seconds=pattern_seconds, network_timeout=network_timeout)
    finally:
        assembly.close()
    return 1 if report.failed else 0


def terminal_confirm(question: str, stream_in: TextIO | None = None, out: TextIO | None = None) -> bool | None:
    """Ask ``question`` on the terminal: True for yes, False for no, None when no terminal can answer."""
    import sys

    stream_in = stream_in or sys.stdin
    out = out or sys.stdout
    if not stream_in.isatty():
        return None
    while True:
        out.write(f"?      {question} ")
        out.flush()
        answer = stream_in.readline()
        if not answer:
            return None
        word = answer.strip().lower()
        if word in ("y", "ya", "yes"):
            return True
        if word in ("n", "t", "tidak", "no"):
            return False


def provision(*, site: str, role: str, device: str, host: str, port: int, credentials: str, out: str,
              display: str, printer: str | None, paper_mm: int, buttons: list[str], service: str | None,
              mock: bool, timezone: str | None = None, name: str = "", public_display: str = "none",
              modules: int = 4) -> Path:
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
        "[device]", f'site = "{site}"', f'role = "{role}"', f'id = "{device}"',
        *([f"name = {_toml_string(name)}"] if name else []),
        *([f'timezone = "{timezone}"'] if timezone else []), "",
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
    if public_display != "none":
        lines += ["[public_display]", f'type = "{public_display}"']
        if public_display == "max7219-matrix":
            lines.append(f"modules = {modules}")
            if display in ("max7219", "max7219-matrix"):
                lines.append("spi_device = 1  # CE1 (pin 26): the staff's MAX7219 is on CE0")
        lines.append("")
    if printer or (mock and role == "kiosk"):  # a laptop's test kiosk gets a (mock) printer for its tickets
        lines += ["[printer]", f'port = "{printer or "mock"}"', f"paper_mm = {paper_mm}", ""]
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


def _toml_string(text: str) -> str:
    """A TOML basic string (a gerai's name may hold quotes or backslashes)."""
    import json

    return json.dumps(text, ensure_ascii=False)
