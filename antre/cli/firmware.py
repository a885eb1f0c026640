"""``antre firmware config | deploy``: a MicroPython gerai node's config and its deployment."""

from __future__ import annotations

import argparse

from antre.broker.errors import MissingToolError
from antre.cli.tree import CommandTree, Use

NODE_FILE = Use(help="the node's device file (TOML)", metavar="NODE.toml").required()


def register(tree: CommandTree) -> None:
    tree.group("firmware", help="MicroPython gerai nodes: board config and deployment")
    tree.command("firmware config", _config, help="print the config.json a node's device file gives the board",
                 uses={"config": NODE_FILE})
    p = tree.command(
        "firmware deploy", _deploy, help="copy the application and its config to a board with mpremote",
        description="Copy the MicroPython application and the node's config.json to a board on USB with "
        "mpremote, install umqtt.simple with mip, and reset the board.",
        uses={"config": NODE_FILE},
    )
    p.add_renamed("--serial-port", "--port", required=True, metavar="TTY",
                  help="the board's serial port, e.g. /dev/ttyACM0")
    p.add_argument("--dry-run", action="store_true", help="print the mpremote commands instead of running them")


def _config(args: argparse.Namespace) -> int:
    import json

    from antre.firmware_tool import board_config

    print(json.dumps(board_config(args.config), indent=1))
    return 0


def _deploy(args: argparse.Namespace) -> int:
    import importlib.util

    from antre.firmware_tool import board_config, deploy

    board_config(args.config)  # a bad node file is a config error before anything else
    if not args.dry_run and importlib.util.find_spec("mpremote") is None:
        raise MissingToolError("mpremote is not installed: pip install 'antre[firmware]' (or pip install mpremote)")
    return deploy(args.serial_port, args.config, args.dry_run)
