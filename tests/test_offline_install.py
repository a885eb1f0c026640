"""From a blank machine to a calling gerai with no network: the technician's path, on this x86 machine.

1. On "the central" (this checkout): ``antre edge wheelhouse`` builds every wheel of
   ``antre[edge]`` for this machine (PyPI or pip's cache), ``antre edge bundle`` the
   device's file.
2. On "the Pi" (a fresh virtual environment): ``pip install --no-index --find-links``
   inside a network namespace with no interface up (``unshare -rn``), no pip
   configuration and no index: the network is proven absent first, and every package
   installed is proven to come from the wheelhouse.
3. ``antre edge setup`` from that environment (under ``--root``, on mock hardware)
   installs the device file and the unit, runs the selftest against a real broker and
   the central, and enables the unit with the real ``systemctl --root``.

Each step is timed; the figures appear in the test summary (README's technician section
quotes them).  ``-m "not install"`` leaves this out.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.harness import running_site
from tests.test_install import _clean_env, _note, _source_files

pytestmark = pytest.mark.install


def _timed(request: pytest.FixtureRequest, what: str, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, **kwargs)  # type: ignore[call-overload]
    _note(request, f"offline install: {what}: {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc  # type: ignore[no-any-return]


def _no_network_prefix() -> list[str]:
    """``unshare -rn``: a new user and network namespace (only a loopback, down); skip where the kernel or a
    container's seccomp profile does not allow it (CI fails instead)."""
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare, "-rn", "true"], capture_output=True) if unshare else None
    if probe is None or probe.returncode != 0:
        if os.environ.get("ANTRE_REQUIRE_ALL"):
            pytest.fail("unshare -rn is required (ANTRE_REQUIRE_ALL is set) but does not work here: "
                        f"{probe.stderr.decode(errors='replace') if probe else 'no unshare'}")
        pytest.skip("unshare -rn (user and network namespaces) is not available here")
    return [unshare, "-rn"]


def test_a_gerai_installs_and_passes_its_selftest_with_no_network(tmp_path: Path,
                                                                   request: pytest.FixtureRequest) -> None:
    offline = _no_network_prefix()
    antre = str(Path(sys.executable).with_name("antre"))

    # --- on the central (or a laptop): the wheelhouse, from a copy of the tree git would commit
    src = tmp_path / "src"
    for name in _source_files():
        origin, target = ROOT / name, src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():
            target.symlink_to(os.readlink(origin))
        elif origin.is_file():
            shutil.copy2(origin, target)
    wheels = tmp_path / "usb" / "antre-wheels"
    _timed(request, "antre edge wheelhouse (this machine's wheels, from PyPI or pip's cache)",
           [antre, "edge", "wheelhouse", "--out", str(wheels), "--source", str(src)], env=_clean_env())
    files = sorted(p.name for p in wheels.glob("*.whl"))
    assert any(f.startswith("antre-") for f in files) and any(f.startswith("msgspec-") for f in files), files
    assert (wheels / "requirements.txt").read_text().startswith("antre[edge]==")
    size = sum(p.stat().st_size for p in wheels.glob("*.whl"))
    _note(request, f"offline install: the wheelhouse: {len(files)} wheels, {size / 1e6:.1f} MB")

    # --- on the Pi: a fresh environment, pip with no network, no index, no configuration
    venv = tmp_path / "opt" / "antre" / "venv"
    _timed(request, "python3 -m venv (the Pi's environment)", [sys.executable, "-m", "venv", str(venv)],
           env=_clean_env())
    pip_env = {k: v for k, v in _clean_env().items() if not k.startswith("PIP_")}
    pip_env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_INDEX_URL="http://192.0.2.1/simple")
    script = (
        "ip -o link; "
        f"{venv}/bin/python -c \"import socket\n"
        "try:\n    socket.create_connection(('151.101.0.223', 443), timeout=3)\n    print('NETWORK UP')\n"
        "except OSError as exc:\n    print('no network:', exc)\"; "
        f"{venv}/bin/pip install --no-index --find-links {wheels} -r {wheels}/requirements.txt"
    )
    proc = _timed(request, "pip install --no-index --find-links (no network)", [*offline, "sh", "-c", script],
                  env=pip_env)
    links = [line for line in proc.stdout.splitlines() if ": <" in line or "link/" in line]
    assert links and all(line.split(":")[1].strip() == "lo" for line in links), proc.stdout  # only a loopback
    assert "state DOWN" in links[0] or "NO-CARRIER" in links[0] or "noop" in links[0]
    assert "no network: [Errno 101] Network is unreachable" in proc.stdout, proc.stdout
    assert "NETWORK UP" not in proc.stdout
    code = ("import importlib.metadata as m, json; print(json.dumps(sorted(d.metadata['Name'].lower().replace('_', '-')"
            ".replace('.', '-') for d in m.distributions())))")
    installed = set(json.loads(subprocess.run([f"{venv}/bin/python", "-c", code], capture_output=True, text=True,
                                              check=True).stdout))
    from_wheels = {f.split("-")[0].lower().replace("_", "-").replace(".", "-") for f in files}
    assert from_wheels - {"setuptools"} <= installed, from_wheels - installed
    assert installed - from_wheels <= {"pip", "setuptools"}, f"not from the wheelhouse: {installed - from_wheels}"
    assert "pygame" not in installed and "amqtt" not in installed

    # --- the bundle (on the central) and `antre edge setup` (on the Pi) against a real broker and central
    with running_site("mosquitto", tmp_path / "site") as stack:
        bundle = tmp_path / "usb" / "g1.toml"
        _timed(request, "antre edge bundle (on the central)",
               [antre, "edge", "bundle", "--config", str(stack.site.config_path), "--id", "g1", "--broker-host",
                "127.0.0.1", "--display", "ssd1306", "--public-display", "max7219-matrix", "--modules", "8",
                "--serial-port", "/dev/serial0", "--out", str(bundle), "--qr", str(tmp_path / "usb" / "g1.png")],
               env=_clean_env())
        root = tmp_path / "pi"
        proc = _timed(request, "antre edge setup (install, selftest with a 3 s pattern, enable)",
                      [f"{venv}/bin/antre", "edge", "setup", "--bundle", str(bundle), "--root", str(root), "--mock"],
                      env=_clean_env(), cwd=tmp_path)
    out = proc.stdout
    for line in ("OK     broker: 127.0.0.1:", "OK     credentials: the broker accepted gerai.g1", "OK     own topics:",
                 "OK     display oled: test pattern shown for 3 s", "OK     display matrix: test pattern shown for 3 s",
                 "OK     printer status: ok", "OK     test ticket: ok: printed", "selftest passed",
                 "antre-edge.service enabled under"):
        assert line in out, out
    device = root / "etc" / "antre" / "device.toml"
    assert device.read_text() == bundle.read_text() and stat.S_IMODE(device.stat().st_mode) == 0o640
    unit = (root / "etc" / "systemd" / "system" / "antre-edge.service").read_text()
    assert f"ExecStart={venv}/bin/antre edge run --config /etc/antre/device.toml" in unit
    wants = root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "antre-edge.service"
    assert wants.is_symlink() and os.readlink(wants) == "/etc/systemd/system/antre-edge.service"


def test_the_pi_wheelhouse_is_complete_for_aarch64_cp311(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """README's build for a 64-bit Raspberry Pi OS (aarch64, CPython 3.11): every requirement resolves from
    the wheelhouse alone, for that platform, with no network (pip's dry run with --platform)."""
    from antre.deploy import platform_tags

    offline = _no_network_prefix()
    antre = str(Path(sys.executable).with_name("antre"))
    wheels = tmp_path / "antre-wheels-aarch64"
    _timed(request, "antre edge wheelhouse --arch aarch64 --extra edge --extra hdmi",
           [antre, "edge", "wheelhouse", "--arch", "aarch64", "--extra", "edge", "--extra", "hdmi", "--out",
            str(wheels)], env=_clean_env())
    files = sorted(p.name for p in wheels.glob("*.whl"))
    assert all(f.endswith(("none-any.whl", "aarch64.whl")) for f in files), files
    assert {"lgpio", "pygame", "msgspec", "pillow"} <= {f.split("-")[0].lower() for f in files}
    platforms = [a for tag in platform_tags("aarch64") for a in ("--platform", tag)]
    pip_env = {k: v for k, v in _clean_env().items() if not k.startswith("PIP_")}
    pip_env.update(PIP_CONFIG_FILE=os.devnull)
    proc = subprocess.run([*offline, sys.executable, "-m", "pip", "install", "--dry-run", "--no-index",
                           "--find-links", str(wheels), "--only-binary=:all:", *platforms, "--python-version", "3.11",
                           "--implementation", "cp", "--target", str(tmp_path / "target"), "-r",
                           str(wheels / "requirements.txt")], capture_output=True, text=True, env=pip_env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    would = proc.stdout.strip().splitlines()[-1]
    assert would.startswith("Would install antre-") and "lgpio-" in would and "pygame-" in would, would
    _note(request, f"offline install: aarch64 cp311 wheelhouse: {len(files)} wheels, "
                   f"{sum(p.stat().st_size for p in wheels.glob('*.whl')) / 1e6:.1f} MB, resolves offline")
