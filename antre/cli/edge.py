"""``antre edge run | selftest | provision``: a gerai's or kiosk's agent and its hardware."""

from __future__ import annotations

import argparse
import shlex
import sys

from antre.cli.tree import DEVICE_FILE, CommandTree, Use
from antre.cli.values import ident, seconds

#: --mock, or ANTRE_MOCK=1, selects mock hardware for the agent
MOCK = Use(help="mock hardware (a laptop): gpiozero's mock pins, luma's dummy display, a pty printer",
           env="ANTRE_MOCK")


def register(tree: CommandTree) -> None:
    tree.group("edge", help="the gerai agent: run it, test the hardware, or write a device file", default="run")
    tree.command(
        "edge run", _run, help="run the agent of a gerai or kiosk (until SIGTERM)",
        description="Run the agent of a gerai or kiosk until SIGTERM: buttons, number display and ticket "
        "printer on MQTT.",
        uses={"config": DEVICE_FILE.required(), "mock": MOCK}, quiet=False,
    )
    p = tree.command(
        "edge selftest", _selftest, help="test pattern, test ticket, printer status, each button in turn",
        description="For a technician at the gerai: show the display's test pattern, print a test ticket with "
        "the printer's status, then ask for each button in turn. Exit status 1 when anything failed.",
        uses={"config": DEVICE_FILE.required(), "mock": MOCK},
    )
    p.add_argument("--button-timeout", type=seconds, default=15.0, metavar="SECONDS",
                   help="how long to wait for each button")
    p = tree.command(
        "edge provision", _provision, help="write a device file from the site's credentials",
        description="Write the device file of one gerai or kiosk (mode 0600), with its own secret from the "
        "site's credentials file, after checking every value as the agent would.",
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
    p.add_argument("--display", choices=["ssd1306", "sh1106", "max7219", "none"], default="ssd1306",
                   help="the number display")
    p.add_renamed("--serial-port", "--printer", metavar="TTY",
                  help="the serial port of the ticket printer: for USB its stable /dev/serial/by-id/... name, "
                  "or /dev/serial0 for the Pi's UART (default: no printer)")
    p.add_argument("--paper-mm", type=int, choices=[58, 80], default=58, help="the printer's paper width")
    p.add_argument("--baud", type=int, choices=[9600, 19200, 38400, 57600, 115200], default=19200,
                   help="the printer's serial speed (many 58 mm printers ship at 9600; its self-test page "
                   "says)")
    p.add_argument("--button", action="append", default=[], metavar="NAME:PIN:PRESS[:DOUBLE[:HOLD]]",
                   help="a button and the actions of its gestures, e.g. panggil:17:call_next:recall:no_show "
                   "(repeat for a keypad)")
    p.add_argument("--service", type=ident, metavar="ID", help="the service of take-ticket buttons")


def _run(args: argparse.Namespace) -> int:
    from antre.edge import main as edge_main

    return edge_main.run(args.config, mock=args.mock)


def _selftest(args: argparse.Namespace) -> int:
    from antre.edge import main as edge_main

    return edge_main.selftest(args.config, sys.stdout, timeout=args.button_timeout, mock=args.mock)


def _provision(args: argparse.Namespace) -> int:
    from antre.edge import main as edge_main

    path = edge_main.provision(
        site=args.site, role=args.role, device=args.id, host=args.broker_host, port=args.broker_port,
        credentials=args.credentials, out=args.out, display=args.display, printer=args.serial_port,
        paper_mm=args.paper_mm, baud=args.baud, buttons=args.button, service=args.service, mock=args.mock,
    )
    hint = f"antre edge selftest --config {shlex.quote(str(path))}" + (" --mock" if args.mock else "")
    print(f"wrote {path} (mode 0600); test it at the gerai with: {hint}")
    return 0
