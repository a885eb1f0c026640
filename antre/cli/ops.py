"""``antre backup`` and ``antre status``: a site's operations (the functions live in
:mod:`antre.central.opscli`, :mod:`antre.central.backup` and :mod:`antre.central.status`)."""

from __future__ import annotations

import argparse

from antre.cli.tree import SITE_FILE, CommandTree, Use
from antre.cli.values import positive_int, seconds


def _backup(args: argparse.Namespace) -> int:
    from antre.central import opscli

    return opscli.backup(args)


def _status(args: argparse.Namespace) -> int:
    from antre.central import opscli

    return opscli.status(args)


def register(tree: CommandTree) -> None:
    p = tree.command(
        "backup", _backup,
        help="copy the event log (SQLite online backup, safe while the central runs), verify, rotate",
        description="Copy the site's event log with SQLite's online backup API (a consistent copy even while "
        "antre central writes to it), check the copy's integrity, and keep the newest --keep copies. "
        "Restore: see README, Backups.",
        uses={"config": SITE_FILE.required()},
    )
    p.add_argument("--db", metavar="FILE", help="event log (default: store.path of the site file)")
    p.add_argument("--out", metavar="DIR",
                   help="backup directory (default: backups/ beside the log, e.g. /var/lib/antre/backups)")
    p.add_argument("--keep", type=positive_int, default=14, metavar="N",
                   help="backups of this site to keep in the directory (default 14)")

    p = tree.command(
        "status", _status, help="the site's devices: online or not, last seen, version, printer, faults",
        description="Read, as the read-only identity monitor.ops, the central's lease and every device's "
        "retained presence and last health report from the broker, then list the site's gerai, kiosks and "
        "lobbies. Exit status 0: all online without faults; 1: something needs a technician; 5: no broker.",
        uses={"config": SITE_FILE.required(), "broker_host": Use(), "broker_port": Use(), "credentials": Use()},
    )
    p.add_argument("--wait", type=seconds, default=1.0, metavar="SECONDS",
                   help="listen this long for live reports after the retained ones (default 1)")
    p.add_argument("--timeout", type=seconds, default=10.0, metavar="SECONDS",
                   help="give up on the broker after this long (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
