"""``antre central run``: the queue service of a site, on MQTT, until SIGTERM."""

from __future__ import annotations

import argparse

from antre.cli.tree import SITE_FILE, CommandTree, Use
from antre.cli.values import iso_time

BROKER_HOST = Use(help="the broker's host name or address", shown_default="broker.host of the site file")
BROKER_PORT = Use(help="the broker's TCP port", shown_default="broker.port of the site file")
CREDENTIALS = Use(help="the site's credentials file (TOML)", shown_default="broker.credentials of the site file")


def register(tree: CommandTree) -> None:
    tree.group("central", help="the queue service of a site", default="run")
    p = tree.command(
        "central run", _run, help="run the queue service of a site on MQTT (until SIGTERM)",
        description="Run the queue service of a site on MQTT until SIGTERM: take the event log's lock, check "
        "the site's lease on the broker, then serve every gerai, kiosk and lobby. Logs 'antre central ready' "
        "when it serves. Exit status: 0 after SIGTERM, 3 storage error, 4 another central owns the site, "
        "78 configuration error.",
        uses={"config": SITE_FILE.required(), "broker_host": BROKER_HOST, "broker_port": BROKER_PORT,
              "credentials": CREDENTIALS},
        quiet=False,
    )
    p.add_argument("--db", metavar="FILE", help="the event log (default: store.path of the site file)")
    p.add_argument("--new-epoch", action="store_true",
                   help="give the event log a new epoch (continue knowingly from an older log or copy; "
                   "every device follows the new epoch)")
    # the demo and the soak only: a simulated clock
    p.add_argument("--simulate-from", type=iso_time, help=argparse.SUPPRESS)
    p.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)
    p.add_argument("--simulate-anchor", type=float, help=argparse.SUPPRESS)  # the soak's shared wall-clock origin


def _run(args: argparse.Namespace) -> int:
    from antre.central.config import load_site
    from antre.central.main import parse_clock, run_central

    config = load_site(args.config)
    clock = parse_clock(args.simulate_from, args.speed, config.zone, args.simulate_anchor)
    return run_central(
        config, host=args.broker_host, port=args.broker_port, db=args.db,
        credentials_path=args.credentials, clock=clock, new_epoch=args.new_epoch,
    )
