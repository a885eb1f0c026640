"""``antre edge setup BUNDLE``: one command on the Pi, from a device bundle to a running gerai.

The bundle is the device file the central made for this one device (``antre edge
bundle``: its own secret, the broker's address, its hardware, the site's time
zone; never the site's other secrets).  Setup:

1. checks the bundle as the agent would (nothing is written when it is wrong);
2. creates the ``antre`` system account with the groups of the devices it uses
   (``gpio``, ``i2c``, ``spi``, ``dialout``, ``video``, ``render``: those that exist);
3. installs the bundle as ``/etc/antre/device.toml`` (root:antre, 0640) and the
   systemd unit ``antre-edge.service`` running this environment's ``antre``;
4. stops a running agent (the selftest connects as the device) and runs the
   selftest (:mod:`antre.edge.selftest`);
5. when it passed: enables the unit (started at every boot) and starts it now.
   When anything failed, the unit is left disabled and the exit status is 1: fix
   what the selftest said and run setup again.

``--root DIR`` does all of it under ``DIR`` instead of ``/`` (an image being
prepared, a test): no account, no ownership, ``systemctl --root`` enables the unit
without a running systemd, nothing is started.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TextIO

from antre.broker.errors import EX_FAILURE, AntreError
from antre.edge.config import load_device

log = logging.getLogger(__name__)

ACCOUNT = "antre"
GROUPS = ("gpio", "i2c", "spi", "dialout", "video", "render")
UNIT = "antre-edge.service"
#: the ExecStart of the packaged unit (the Pi layout of README.md)
PACKAGED_ANTRE = "/opt/antre/venv/bin/antre"


class SetupError(AntreError, exit_status=EX_FAILURE, what="setup"):
    """Setup cannot go on (not root, no systemctl): what to do instead."""


def unit_text(antre: str) -> str:
    """The packaged systemd unit, running ``antre`` (this environment's executable)."""
    text = resources.files("antre.edge").joinpath(UNIT).read_text(encoding="utf-8")
    return text.replace(PACKAGED_ANTRE, antre)


def _run(argv: list[str], out: TextIO, check: bool = True) -> int:
    out.write(f"$ {' '.join(argv)}\n")
    out.flush()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    for line in (proc.stdout + proc.stderr).splitlines():
        out.write(f"  {line}\n")
    if check and proc.returncode != 0:
        raise SetupError(f"{' '.join(argv)} exited with status {proc.returncode}")
    return proc.returncode


def ensure_account(out: TextIO) -> None:
    """The ``antre`` system account, in the groups of the Pi's devices that exist here."""
    groups = [g for g in GROUPS if _group_exists(g)]
    try:
        pwd.getpwnam(ACCOUNT)
        if groups:
            _run(["usermod", "--append", "--groups", ",".join(groups), ACCOUNT], out)
        return
    except KeyError:
        pass
    argv = ["useradd", "--system", "--user-group", "--home-dir", "/var/lib/antre", "--no-create-home",
            "--shell", "/usr/sbin/nologin"]
    if groups:
        argv += ["--groups", ",".join(groups)]
    _run(argv + [ACCOUNT], out)


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def setup(bundle: str | Path, out: TextIO, *, root: str | Path = "/", antre: str | None = None,
          mock: bool | None = None, ask: Callable[[str], None] | None = None,
          confirm: Callable[[str], bool | None] | None = None, button_timeout: float = 15.0,
          pattern_seconds: float | None = None, network_timeout: float | None = None) -> int:
    """Install ``bundle`` on this Pi (or under ``root``), run the selftest, enable and start the agent."""
    from antre.edge import main as edge_main
    from antre.edge.selftest import NETWORK_TIMEOUT, PATTERN_SECONDS

    config = load_device(bundle)  # wrong: an error, and nothing written
    root = Path(root)
    real = root.resolve() == Path("/")
    systemctl = shutil.which("systemctl")
    if real and os.geteuid() != 0:
        raise SetupError("installing a device needs root: sudo " + " ".join(_argv_hint(bundle)))
    if systemctl is None:
        raise SetupError("systemctl not found: this is not a systemd system (Raspberry Pi OS is)")
    antre = antre or str(Path(sys.executable).with_name("antre"))
    d = config.device
    out.write(f"setting up {d.role} {d.id} of site {d.site} (broker {config.broker.host}:{config.broker.port})"
              f"{'' if real else f' under {root}'}\n")

    if real:
        ensure_account(out)
    else:
        out.write(f"-      account {ACCOUNT!r}: not created under --root\n")

    etc = root / "etc" / "antre"
    etc.mkdir(parents=True, exist_ok=True)
    target = etc / "device.toml"
    text = Path(bundle).read_text(encoding="utf-8")
    tmp = target.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    if real:
        os.chown(tmp, 0, grp.getgrnam(ACCOUNT).gr_gid)
        os.chown(etc, 0, grp.getgrnam(ACCOUNT).gr_gid)
        os.chmod(etc, 0o750)
    os.chmod(tmp, 0o640)
    os.replace(tmp, target)
    out.write(f"OK     device file: {target} (mode 0640{', root:antre' if real else ''})\n")

    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True, exist_ok=True)
    (units / UNIT).write_text(unit_text(antre), encoding="utf-8")
    os.chmod(units / UNIT, 0o644)
    out.write(f"OK     unit: {units / UNIT} (ExecStart={antre} edge run --config /etc/antre/device.toml)\n")
    if real:
        _run([systemctl, "daemon-reload"], out)
        _run([systemctl, "stop", UNIT], out, check=False)  # the selftest connects as the device

    out.write("\n")
    status = edge_main.selftest(str(target), out, ask=ask, timeout=button_timeout, mock=mock, confirm=confirm,
                                pattern_seconds=PATTERN_SECONDS if pattern_seconds is None else pattern_seconds,
                                network_timeout=NETWORK_TIMEOUT if network_timeout is None else network_timeout)
    out.write("\n")
    if status != 0:
        out.write(f"{UNIT} NOT enabled: fix what failed above and run setup again\n")
        return status
    if real:
        _run([systemctl, "enable", "--now", UNIT], out)
        _run([systemctl, "restart", UNIT], out)
        out.write(f"{UNIT} enabled and running: the gerai is ready (journalctl -u antre-edge -f to follow it)\n")
    else:
        _run([systemctl, f"--root={root}", "enable", UNIT], out)
        out.write(f"{UNIT} enabled under {root} (starts at the first boot)\n")
    return 0


def _argv_hint(bundle: str | Path) -> list[str]:
    return [str(Path(sys.executable).with_name("antre")), "edge", "setup", "--bundle", str(bundle)]
