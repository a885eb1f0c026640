"""``antre central run``: the queue service of a site, on MQTT, until SIGTERM; ``antre central
check-log``: every page of its event log and every archive file, checked on demand."""

from __future__ import annotations

import argparse
import sys

from antre.broker.errors import EX_FAILURE
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

    p = tree.command(
        "central check-log", _check_log,
        help="check every page of the event log and every archive file (safe while the central runs)",
        description="Check the site's event log and its archive: PRAGMA integrity_check of the live log (the "
        "central does not read every page at each start), every live event readable, and every archived day's "
        "file present with its recorded SHA-256, header and events. Exit status: 0 sound, 1 a problem found "
        "(each is printed), 3 the log cannot be opened, 78 configuration error.",
        uses={"config": SITE_FILE.required()},
    )
    p.add_argument("--db", metavar="FILE", help="the event log (default: store.path of the site file)")
    p.add_argument("--archive", metavar="DIR",
                   help="the archive directory (default: store.archive of the site file, or archive/ beside the log)")
    p.add_argument("--quick", action="store_true",
                   help="PRAGMA quick_check instead of integrity_check (faster; skips index cross-checks)")


def _run(args: argparse.Namespace) -> int:
    from antre.central.config import load_site
    from antre.central.main import parse_clock, run_central

    config = load_site(args.config)
    clock = parse_clock(args.simulate_from, args.speed, config.zone, args.simulate_anchor)
    return run_central(
        config, host=args.broker_host, port=args.broker_port, db=args.db,
        credentials_path=args.credentials, clock=clock, new_epoch=args.new_epoch,
    )


def _check_log(args: argparse.Namespace) -> int:
    from pathlib import Path

    from antre.central.archive import archive_dir
    from antre.central.checklog import check_log
    from antre.central.config import load_site
    from antre.central.store import EventStore

    config = load_site(args.config)
    path = args.db or config.store.path
    directory = Path(args.archive) if args.archive else archive_dir(path, config.store.archive)
    store = EventStore(path, config.site_id, readonly=True)
    try:
        result = check_log(store, directory, full=not args.quick, out=sys.stdout)
    finally:
        store.close()
    for problem in result.problems:
        print(f"PROBLEM: {problem}")
    if result.ok:
        print(f"OK: the live log and {result.archived_days} archived days are sound ({result.seconds:.1f} s)")
        return 0
    print(f"FAILED: {len(result.problems)} problems ({result.seconds:.1f} s); see README, Backups, to restore")
    return EX_FAILURE
