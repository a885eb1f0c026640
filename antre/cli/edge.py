"""``antre edge run | selftest | setup | provision | bundle | wheelhouse``: a gerai's or kiosk's agent,
its hardware, and the way from a blank Pi to a calling gerai.

On the Pi: ``run`` (the service), ``selftest``, ``setup`` (install a bundle, test, enable).
On the central server or a laptop: ``bundle`` (one device's file and QR code),
``wheelhouse`` (the offline installation for the Pi).  ``provision`` writes a device
file from a whole credentials file (a laptop, tests).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from antre.cli.tree import DEVICE_FILE, SITE_FILE, CommandTree, Parser, Use
from antre.cli.values import ident, seconds

#: --mock, or ANTRE_MOCK=1, selects mock hardware for the agent
MOCK = Use(help="mock hardware (a laptop): gpiozero's mock pins, luma's dummy display, a pty printer",
           env="ANTRE_MOCK")
DISPLAYS = ["ssd1306", "sh1106", "max7219", "max7219-matrix", "hdmi", "none"]


def _device_options(p: Parser) -> None:
    """What a device file says of the hardware (provision and bundle)."""
    p.add_argument("--display", choices=DISPLAYS, default="ssd1306",
                   help="the staff's display on the desk (max7219: seven-segment)")
    p.add_argument("--public-display", choices=["max7219-matrix", "hdmi", "none"], default="none",
                   help="the citizens' display above the counter: a MAX7219 dot-matrix chain or an HDMI screen")
    p.add_argument("--modules", type=int, choices=[4, 8], default=4,
                   help="8x8 modules in the dot-matrix chain (32 mm each)")
    p.add_renamed("--serial-port", "--printer", metavar="TTY",
                  help="the serial port of the ticket printer, e.g. /dev/serial0 (default: no printer)")
    p.add_argument("--paper-mm", type=int, choices=[58, 80], default=58, help="the printer's paper width")
    p.add_argument("--button", action="append", default=[], metavar="NAME:PIN:PRESS[:DOUBLE[:HOLD]]",
                   help="a button and the actions of its gestures, e.g. panggil:17:call_next:recall:no_show "
                   "(repeat for a keypad)")
    p.add_argument("--service", type=ident, metavar="ID", help="the service of take-ticket buttons")


def _selftest_options(p: Parser) -> None:
    p.add_argument("--button-timeout", type=seconds, default=15.0, metavar="SECONDS",
                   help="how long to wait for each button")
    p.add_argument("--pattern-seconds", type=seconds, default=3.0, metavar="SECONDS",
                   help="how long each display holds its test pattern")
    p.add_argument("--network-timeout", type=seconds, default=5.0, metavar="SECONDS",
                   help="how long each network step may take (broker, handshake, the central's answer)")


def register(tree: CommandTree) -> None:
    tree.group("edge", help="the gerai agent: run it, test the hardware, install a Pi, make its bundle",
               default="run")
    tree.command(
        "edge run", _run, help="run the agent of a gerai or kiosk (until SIGTERM)",
        description="Run the agent of a gerai or kiosk until SIGTERM: buttons, number displays and ticket "
        "printer on MQTT.",
        uses={"config": DEVICE_FILE.required(), "mock": MOCK}, quiet=False,
    )
    p = tree.command(
        "edge selftest", _selftest, help="broker, credentials, round trip, displays, printer, each button",
        description="For a technician at the gerai: the broker is reachable, it accepts this device's "
        "credentials, a ping on the device's own topics is answered by the central, each display holds its "
        "test pattern (confirmed by the device, or by you), the printer answers its status and prints a test "
        "ticket with the site's time, and each button is pressed in turn. Every failure says what to check. "
        "Exit status 1 when anything failed. Stop the agent first (sudo systemctl stop antre-edge).",
        uses={"config": DEVICE_FILE.required(), "mock": MOCK},
    )
    _selftest_options(p)
    p = tree.command(
        "edge setup", _setup, help="on the Pi: install a device bundle, run the selftest, enable the agent",
        description="On the Pi, as root: check the bundle, create the antre account, install it as "
        "/etc/antre/device.toml and the systemd unit antre-edge.service (running this environment's antre), "
        "run the selftest, and when it passed enable and start the agent. With --root, under another "
        "directory (an image being prepared): nothing is started.",
        uses={"mock": MOCK},
    )
    p.add_argument("--bundle", required=True, metavar="DEVICE.toml",
                   help="the device's bundle, made on the central by antre edge bundle")
    p.add_argument("--root", default="/", metavar="DIR", help="install under this directory instead of /")
    _selftest_options(p)
    p = tree.command(
        "edge provision", _provision, help="write a device file from the site's credentials (a laptop, tests)",
        description="Write the device file of one gerai or kiosk (mode 0600), with its own secret from the "
        "site's credentials file, after checking every value as the agent would. On a site, make the device's "
        "bundle on the central instead (antre edge bundle): the credentials file never leaves the central.",
        uses={
            "broker_host": Use(help="the broker's address as this device reaches it, e.g. 192.168.10.2"
                               ).required(),
            "broker_port": Use(help="the broker's TCP port", default=1883),
            "credentials": Use(help="the site's credentials file (written by antre broker run or "
                               "antre broker mosquitto-config)").required(),
            "mock": Use(help="a device file for mock hardware (a laptop)"),
        },
    )
    p.add_argument("--site", required=True, type=ident, metavar="ID", help="the site id, e.g. kupang")
    p.add_argument("--role", choices=["gerai", "kiosk"], default="gerai", help="what the device is")
    p.add_argument("--id", required=True, type=ident, metavar="ID", help="the gerai or kiosk id, e.g. g05")
    p.add_argument("--out", required=True, metavar="FILE", help="the device file to write (mode 0600)")
    p.add_argument("--timezone", metavar="ZONE", help="the site's time zone, e.g. Asia/Makassar (the "
                   "selftest's ticket shows the site's time)")
    _device_options(p)
    p = tree.command(
        "edge bundle", _bundle, help="on the central: one device's bundle (file and QR code) for its Pi",
        description="On the central server: write one gerai's or kiosk's bundle, the device file with only "
        "its own secret (from the site's credentials file), the broker's address as the Pi reaches it, its "
        "hardware and the site's time zone (mode 0600), and the same as a QR code (PNG, or drawn in the "
        "terminal) for the technician's phone. Install it on the Pi with antre edge setup.",
        uses={
            "config": SITE_FILE.required(),
            "broker_host": Use(help="the broker's address as the Pi reaches it, e.g. 192.168.10.2").required(),
            "broker_port": Use(help="the broker's TCP port as the Pi reaches it",
                               shown_default="broker.port of the site file"),
            "credentials": Use(help="the site's credentials file", shown_default="broker.credentials of the "
                               "site file"),
        },
    )
    p.add_argument("--id", required=True, type=ident, metavar="ID", help="the gerai or kiosk id, e.g. g05")
    p.add_argument("--role", choices=["gerai", "kiosk"], help="what the device is (default: as the site file "
                   "says)")
    p.add_argument("--out", required=True, metavar="FILE", help="the bundle to write, e.g. g05.toml (mode 0600)")
    p.add_argument("--qr", metavar="PNG", help="also write the bundle as a QR code image (mode 0600)")
    p.add_argument("--qr-terminal", action="store_true", help="also draw the QR code in this terminal")
    _device_options(p)
    p = tree.command(
        "edge wheelhouse", _wheelhouse, help="on the central or a laptop: every wheel a Pi installs offline",
        description="Download every wheel antre[edge] needs for the Pi's architecture and Python "
        "(pip download --only-binary=:all: --platform ... --python-version ...), and build antre's own from "
        "its source tree, into one directory with requirements.txt and SHA256SUMS. Copy it to the Pi (a USB "
        "stick): pip install --no-index --find-links DIR -r DIR/requirements.txt needs no network there.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="the directory to fill")
    p.add_argument("--arch", choices=["aarch64", "armv7l", "x86_64"],
                   help="the Pi's architecture: aarch64 (64-bit Raspberry Pi OS, Pi 3/4/5), armv7l (32-bit); "
                   "default: this machine's")
    p.add_argument("--python-version", default="3.11", metavar="X.Y",
                   help="the Pi's Python (Raspberry Pi OS Bookworm: 3.11); with --arch")
    p.add_argument("--extra", action="append", choices=["edge", "hdmi"], metavar="EXTRA",
                   help="antre's extras to install: edge (default), hdmi (pygame, for an HDMI screen)")
    p.add_argument("--source", metavar="DIR", help="antre's source tree (default: the one this antre runs from)")
    p.add_argument("--extra-index-url", action="append", default=[], metavar="URL",
                   help="another package index, e.g. https://www.piwheels.org/simple for armv7l")


def _run(args: argparse.Namespace) -> int:
    from antre.edge import main as edge_main

    return edge_main.run(args.config, mock=args.mock)


def _selftest(args: argparse.Namespace) -> int:
    from antre.edge import main as edge_main

    return edge_main.selftest(args.config, sys.stdout, timeout=args.button_timeout, mock=args.mock,
                              confirm=edge_main.terminal_confirm, pattern_seconds=args.pattern_seconds,
                              network_timeout=args.network_timeout)


def _setup(args: argparse.Namespace) -> int:
    from antre.edge import install
    from antre.edge import main as edge_main

    return install.setup(args.bundle, sys.stdout, root=args.root, mock=args.mock,
                         confirm=edge_main.terminal_confirm, button_timeout=args.button_timeout,
                         pattern_seconds=args.pattern_seconds, network_timeout=args.network_timeout)


def _provision(args: argparse.Namespace) -> int:
    from antre.edge import main as edge_main

    path = edge_main.provision(
        site=args.site, role=args.role, device=args.id, host=args.broker_host, port=args.broker_port,
        credentials=args.credentials, out=args.out, display=args.display, printer=args.serial_port,
        paper_mm=args.paper_mm, buttons=args.button, service=args.service, mock=args.mock,
        timezone=args.timezone, public_display=args.public_display, modules=args.modules,
    )
    hint = f"antre edge selftest --config {shlex.quote(str(path))}" + (" --mock" if args.mock else "")
    print(f"wrote {path} (mode 0600); test it at the gerai with: {hint}")
    return 0


def _bundle(args: argparse.Namespace) -> int:
    from antre.deploy import make_bundle

    bundle = make_bundle(
        args.config, args.id, role=args.role, broker_host=args.broker_host, broker_port=args.broker_port,
        credentials=args.credentials, out=args.out, display=args.display, public_display=args.public_display,
        modules=args.modules, printer=args.serial_port, paper_mm=args.paper_mm, buttons=args.button,
        service=args.service, qr_png=args.qr, terminal=sys.stdout if args.qr_terminal else None,
    )
    qr = f" and {bundle.qr_png}" if bundle.qr_png else ""
    print(f"wrote {bundle.path}{qr} (mode 0600: this device's secret; delete them once the Pi is set up)")
    print(f"QR code: version {bundle.qr_version}, error correction {bundle.qr_error}, {len(bundle.text)} bytes")
    print(f"on the Pi, as root: /opt/antre/venv/bin/antre edge setup --bundle {shlex.quote(bundle.path.name)}")
    return 0


def _wheelhouse(args: argparse.Namespace) -> int:
    from antre.deploy import build_wheelhouse

    index = tuple(a for url in args.extra_index_url for a in ("--extra-index-url", url))
    requirements = build_wheelhouse(args.out, sys.stdout, arch=args.arch, python_version=args.python_version,
                                    extras=tuple(args.extra or ["edge"]), source=args.source, index_args=index)
    print(f"wrote {args.out}: {', '.join(requirements)} and every dependency (see {args.out}/BUILD.txt)")
    print(f"on the Pi: /opt/antre/venv/bin/pip install --no-index --find-links DIR -r DIR/requirements.txt")
    return 0
