"""``antre firmware config`` and ``antre firmware deploy``: the technician's side of a MicroPython node.

A node's device file (TOML) becomes the ``config.json`` on the board's flash; it is
validated by the firmware's own rules before anything is written.  Deploying copies
the application and the config with mpremote over the USB cable.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from antre.broker.errors import ConfigurationError

#: the MicroPython application, shipped as package data (firmware/ of the repository)
FIRMWARE = Path(__file__).resolve().parent / "firmware"


class FirmwareConfigError(ConfigurationError, ValueError, what="firmware config"):
    pass


def _validate(cfg: dict[str, Any]) -> list[str]:
    sys.path.insert(0, str(FIRMWARE))
    try:
        from antre_fw import node  # the firmware's own validation, the same code as on the board
    finally:
        sys.path.remove(str(FIRMWARE))
    return list(node.validate_config(cfg))


def board_config(path: str) -> dict[str, Any]:
    """The config.json contents for the device file at ``path``."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FirmwareConfigError(f"{path}: {exc}") from None
    device, wifi, broker = raw.get("device", {}), raw.get("wifi", {}), raw.get("broker", {})
    cfg: dict[str, Any] = {
        "site": device.get("site"), "gerai": device.get("id"),
        "wifi_ssid": wifi.get("ssid"), "wifi_password": wifi.get("password", ""),
        "broker_host": broker.get("host"), "broker_port": broker.get("port", 1883),
        "password": broker.get("password"),
        "buttons": raw.get("button", []), "display": raw.get("display", {"type": "tm1637"}),
        "digits": raw.get("display", {}).get("digits", 4),
    }
    if "service" in raw:
        cfg["service"] = raw["service"]
    problems = _validate(cfg)
    if problems:
        raise FirmwareConfigError(f"{path}: " + "; ".join(problems))
    return cfg


def deploy_commands(port: str, config_file: Path) -> list[list[str]]:
    """The mpremote invocations that install the application and its config on the board."""
    base = [sys.executable, "-m", "mpremote", "connect", port]
    files = sorted((FIRMWARE / "antre_fw").glob("*.py"))
    commands = [base + ["fs", "mkdir", ":antre_fw"]]
    commands += [base + ["fs", "cp", str(f), f":antre_fw/{f.name}"] for f in files]
    commands += [
        base + ["mip", "install", "umqtt.simple@1.8.0"],  # the version the node is tested against
        base + ["fs", "cp", str(config_file), ":config.json"],
        base + ["fs", "cp", str(FIRMWARE / "main.py"), ":main.py"],
        base + ["reset"],
    ]
    return commands


def deploy(port: str, config_path: str, dry_run: bool = False) -> int:
    cfg = board_config(config_path)
    out = Path(config_path).with_suffix(".json")
    out.write_text(json.dumps(cfg, indent=1), encoding="utf-8")
    out.chmod(0o600)
    commands = deploy_commands(port, out)
    if dry_run:
        for c in commands:
            print(" ".join(c))
        return 0
    try:
        import mpremote  # noqa: F401
    except ImportError:
        print("antre: mpremote is not installed: pip install mpremote", file=sys.stderr)
        return 2
    for c in commands:
        result = subprocess.run(c)
        if result.returncode != 0 and "mkdir" not in c:  # the folder may exist already
            print(f"antre: failed: {' '.join(c)}", file=sys.stderr)
            return 1
    print(f"deployed to {port}; the node shows its number display within a few seconds")
    return 0


