"""The ``antre`` command: one entry point, one subcommand per role.

Subcommands import their modules lazily, so ``antre --help`` works without
the optional hardware or display libraries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence

from antre import __version__

log = logging.getLogger("antre")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-20") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="antre",
        description="antre: queue controller for the gerai of a Mal Pelayanan Publik.",
    )
    parser.add_argument("--version", action="version", version=f"antre {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser("demo", help="play a scripted morning at a site through the queue engine")
    demo.add_argument("--config", default="examples/kupang.toml", help="site config file (TOML)")
    demo.add_argument("--date", type=_date, help="the day to play (default: the next working Friday)")
    demo.add_argument("--db", help="keep the event log in this file (default: a temporary file)")
    demo.add_argument("--seed", type=int, default=2023, help="random seed of the arrivals")

    check = sub.add_parser("check-config", help="validate a site config file and summarise it")
    check.add_argument("config", help="site config file (TOML)")

    audit = sub.add_parser("audit", help="print the audit trail of a day from the event log")
    audit.add_argument("--config", required=True, help="site config file (TOML)")
    audit.add_argument("--db", help="event log (default: store.path of the config)")
    audit.add_argument("--date", type=_date, help="local day to print (default: the latest day in the log)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from central.config import ConfigError
    from central.store import StorageError

    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "check-config":
            return _check_config(args)
        if args.command == "audit":
            return _audit(args)
    except ConfigError as exc:
        print(f"antre: config error: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"antre: storage error: {exc}", file=sys.stderr)
        return 3
    raise AssertionError(args.command)  # pragma: no cover


def _demo(args: argparse.Namespace) -> int:
    from central.config import load_site
    from central.demo import run_morning

    config = load_site(args.config)
    run_morning(config, sys.stdout, day=args.date, db_path=args.db, seed=args.seed)
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from central.config import load_site

    config = load_site(args.config)
    print(f"{args.config}: OK: {config.site.name} ({config.site_id}), zone {config.site.timezone} "
          f"({config.zone_abbrev()})")
    print(f"  {len(config.agencies)} agencies, {len(config.services)} services, "
          f"{len(config.gerai)} gerai, {len(config.kiosks)} kiosks")
    for sid, svc in config.services.items():
        quota = "no quota" if svc.daily_quota is None else f"quota {svc.daily_quota}"
        gerai = ", ".join(str(g.number) for g in config.gerai_for_service(sid))
        print(f"  {svc.prefix:<3}{sid:<10} {svc.name[:48]:<49} {quota:<10} gerai {gerai}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from central.audit import print_audit
    from central.config import load_site
    from central.store import EventStore

    config = load_site(args.config)
    store = EventStore(args.db or config.store.path, config.site_id, config.store.durability)
    try:
        print_audit(config, store, args.date, sys.stdout)
    finally:
        store.close()
    return 0
