"""From a blank Pi to a calling gerai: what the central server (or a laptop) prepares for it.

* :func:`make_bundle` (``antre edge bundle``, on the central): one device's file,
  with only that device's secret, the broker's address, its hardware and the
  site's time zone, written 0600, and the same text as a QR code (PNG, and/or
  drawn in the terminal) for the technician's phone.  The site's credentials file
  never leaves the central.
* :func:`build_wheelhouse` (``antre edge wheelhouse``, on the central or a laptop
  with internet): every wheel ``antre[edge]`` needs for the Pi's architecture and
  Python (``pip download --only-binary=:all: --platform ... --python-version ...``)
  and antre's own, with a ``requirements.txt`` and ``SHA256SUMS``: the Pi installs
  from it with ``pip install --no-index --find-links`` and no network at all.

On the Pi, ``antre edge setup`` (:mod:`antre.edge.install`) does the rest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from antre import __version__
from antre.broker.errors import EX_UNAVAILABLE, AntreError, ConfigurationError

#: Raspberry Pi OS Bookworm's glibc: the newest manylinux tag a wheel for the Pi may carry
PI_GLIBC = (2, 36)
#: the Pi's Python on Raspberry Pi OS Bookworm
PI_PYTHON = "3.11"
ARCHES = ("aarch64", "armv7l", "x86_64")


class DeployError(AntreError, exit_status=EX_UNAVAILABLE, what="deploy"):
    """A bundle or wheelhouse that could not be made (a missing tool, pip failed)."""


class BundleError(ConfigurationError, what="bundle"):
    """A device the site file does not know, or a value the bundle cannot hold."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    text: str  # what the QR code holds: the device file without its comments
    qr_png: Path | None
    qr_version: int
    qr_error: str


def qr_payload(device_text: str) -> str:
    """The device file as the QR code carries it: its lines without comments and blank lines (valid TOML)."""
    return "\n".join(line for line in device_text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def make_bundle(site_file: str | Path, device: str, *, broker_host: str, out: str | Path, role: str | None = None,
                broker_port: int | None = None, credentials: str | None = None, display: str = "ssd1306",
                public_display: str = "none", modules: int = 4, printer: str | None = None, paper_mm: int = 58,
                buttons: list[str] | None = None, service: str | None = None, qr_png: str | Path | None = None,
                terminal: TextIO | None = None) -> Bundle:
    """Write ``device``'s bundle from the site file and its credentials (on the central)."""
    from antre.central.config import load_site
    from antre.edge.main import provision

    config = load_site(site_file)
    if role is None:
        role = "gerai" if device in config.gerai else "kiosk" if device in config.kiosks else None
    if role == "gerai" and device in config.gerai:
        name = config.gerai[device].name
    elif role == "kiosk" and device in config.kiosks:
        name = config.kiosks[device].name
    else:
        known = ", ".join(sorted(config.gerai)) + "; kiosks: " + ", ".join(sorted(config.kiosks))
        raise BundleError(f"{site_file}: no {role or 'gerai or kiosk'} {device!r} in the site file (gerai: {known})")
    if role == "kiosk" and service is None:
        raise BundleError("a kiosk's bundle needs --service: the service its take-ticket button issues")
    path = provision(site=config.site_id, role=role, device=device, host=broker_host,
                     port=broker_port or config.broker.port, credentials=credentials or config.broker.credentials,
                     out=str(out), display=display, printer=printer, paper_mm=paper_mm, buttons=buttons or [],
                     service=service, mock=False, timezone=config.site.timezone, name=name,
                     public_display=public_display, modules=modules)
    text = qr_payload(path.read_text(encoding="utf-8"))
    try:
        import segno
    except ImportError:
        raise DeployError("the QR code needs segno: pip install 'antre[central]' (or pip install segno)") from None
    qr = segno.make(text, error="m", micro=False)
    png = None
    if qr_png is not None:
        png = Path(qr_png)
        png.parent.mkdir(parents=True, exist_ok=True)
        qr.save(str(png), scale=5, border=4)
        png.chmod(0o600)  # it holds the device's secret, as the file does
    if terminal is not None:
        qr.terminal(out=terminal, compact=True)
    return Bundle(path, text, png, int(qr.version), str(qr.error))


# ----------------------------------------------------------------------------------------- wheelhouse


def platform_tags(arch: str, glibc: tuple[int, int] = PI_GLIBC) -> list[str]:
    """pip ``--platform`` values for a glibc Linux on ``arch``: pip does not widen a manylinux tag
    to the older ones it implies, so every manylinux_2_N up to ``glibc`` is listed."""
    if arch not in ARCHES:
        raise DeployError(f"unknown architecture {arch!r}: {', '.join(ARCHES)}")
    tags = [f"manylinux_{glibc[0]}_{minor}_{arch}" for minor in range(glibc[1], 16, -1)]
    return tags + [f"manylinux2014_{arch}", f"linux_{arch}"]


def source_tree() -> Path | None:
    """The antre source tree this antre runs from, if it runs from one (a checkout, an editable install)."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() and (here / "edge").is_dir() else None


def _pip(args: list[str], log: TextIO) -> None:
    argv = [sys.executable, "-m", "pip", *args]
    log.write("$ " + " ".join(argv) + "\n")
    log.flush()
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DeployError(f"pip {args[0]} failed (status {proc.returncode}):\n{tail}")


def build_wheelhouse(out: str | Path, log: TextIO, *, arch: str | None = None, python_version: str = PI_PYTHON,
                     extras: tuple[str, ...] = ("edge",), source: str | Path | None = None,
                     index_args: tuple[str, ...] = ()) -> list[str]:
    """Every wheel the Pi needs, for ``arch`` (None: this machine) and ``python_version``; returns the
    requirements the Pi installs (written to ``requirements.txt`` beside the wheels)."""
    out = Path(out)
    src = Path(source) if source is not None else source_tree()
    if src is None or not (src / "pyproject.toml").exists():
        raise DeployError("antre's source tree is needed to build its wheel: --source DIR (a checkout, e.g. "
                          "/opt/antre/src)")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("antre-*.whl"):
        old.unlink()  # never two versions of antre side by side
    with tempfile.TemporaryDirectory(prefix="antre-src-") as tmp:
        # a copy: building in the tree would leave build/ and antre.egg-info in it
        copy = Path(tmp) / "src"
        shutil.copytree(src, copy, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache", ".pytest_cache",
            ".hypothesis", ".cache", "var", "node_modules"))
        _pip(["wheel", "--no-deps", "--wheel-dir", str(out), str(copy)], log)
    built = sorted(out.glob("antre-*.whl"))
    if len(built) != 1:
        raise DeployError(f"expected one antre wheel in {out}, found {[p.name for p in built]}")
    version = built[0].name.split("-")[1]
    requirements = [f"antre[{','.join(extras)}]=={version}"]
    if arch in ("aarch64", "armv7l"):
        requirements.append("lgpio")  # gpiozero's pin library on a Pi (Raspberry Pi 5 included)
    target: list[str] = []
    if arch is not None:
        target = [a for tag in platform_tags(arch) for a in ("--platform", tag)]
        target += ["--python-version", python_version, "--implementation", "cp"]
    _pip(["download", "--dest", str(out), "--only-binary=:all:", "--find-links", str(out), *target, *index_args,
          *requirements], log)
    (out / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    wheels = sorted(out.glob("*.whl"))
    sums = "".join(f"{hashlib.sha256(w.read_bytes()).hexdigest()}  {w.name}\n" for w in wheels)
    (out / "SHA256SUMS").write_text(sums, encoding="utf-8")
    (out / "BUILD.txt").write_text(
        f"antre {version} wheelhouse for {arch or 'this machine'} (CPython {python_version if arch else sys.version.split()[0]})\n"
        f"built {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by antre {__version__}: {len(wheels)} wheels\n"
        "install on the Pi, with no network:\n"
        "  python3 -m venv --system-site-packages /opt/antre/venv\n"
        f"  /opt/antre/venv/bin/pip install --no-index --find-links DIR -r DIR/requirements.txt\n",
        encoding="utf-8")
    return requirements
