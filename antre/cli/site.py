"""``antre demo``, ``antre check-config``, ``antre audit``, ``antre quarantine``: a site's file and log."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from antre.cli.tree import SITE_FILE, CommandTree, UsageError, Use
from antre.cli.values import date, positive_int, seconds


def register(tree: CommandTree) -> None:
    p = tree.command(
        "demo", _demo, help="the laptop demo: embedded broker, central service and simulated gerai on MQTT",
        description="In a terminal: an interactive demo where you take tickets and press gerai buttons. "
        "With --headless (or without a terminal): plays a scripted morning over MQTT and prints a summary.",
        uses={"config": Use(help="the site file (TOML)", metavar="SITE.toml",
                            shown_default="the example site, MPP Kota Kupang")},
    )
    p.add_argument("--headless", action="store_true", help="play the scripted morning unattended")
    p.add_argument("--duration", type=seconds, default=20.0, metavar="SECONDS",
                   help="wall-clock seconds the headless morning takes (0: as fast as possible)")
    p.add_argument("--engine-only", action="store_true",
                   help="play the morning straight through the queue engine, without MQTT")
    p.add_argument("--date", type=date, metavar="DATE", help="the day to play, e.g. 2026-11-20 "
                   "(default: the next working Friday)")
    p.add_argument("--db", metavar="FILE", help="with --engine-only: keep the event log in this file")
    p.add_argument("--seed", type=int, default=2023, metavar="N", help="random seed of the arrivals")
    p.add_argument("--snapshots", default="var/demo-displays", metavar="DIR",
                   help="headless: save PNG snapshots of every number display here at the end")

    p = tree.command("check-config", _check_config, help="validate a site file and summarise it",
                     uses={"config": SITE_FILE})
    p.add_argument("site", nargs="?", metavar="SITE.toml", help="the site file (TOML); or --config SITE.toml")

    p = tree.command("audit", _audit, help="print the audit trail of a day from the event log or its archive",
                     uses={"config": SITE_FILE.required()})
    p.add_argument("--db", metavar="FILE", help="the event log (default: store.path of the site file)")
    p.add_argument("--archive", metavar="DIR",
                   help="the archive of days older than the retention (default: store.archive of the site file, "
                   "or archive/ beside the log)")
    p.add_argument("--date", type=date, metavar="DATE",
                   help="local day to print, e.g. 2026-11-20, live or archived (default: every day)")

    p = tree.command(
        "quarantine", _quarantine, help="list the messages the central kept because handling them failed",
        description="Messages whose handling failed for an unforeseen reason are kept in the event log's "
        "database with their topic and bytes, answered with internal_error and acknowledged, so the site "
        "goes on. This lists them (newest last); --show ID prints one in full.",
        uses={"config": SITE_FILE.required()},
    )
    p.add_argument("--db", metavar="FILE", help="the event log (default: store.path of the site file)")
    p.add_argument("--show", type=positive_int, metavar="ID", help="print one entry with its payload in full")


def _demo(args: argparse.Namespace) -> int:
    from antre import EXAMPLE_SITE
    from antre.central.config import load_site
    from antre.sim.morning import run_morning

    config = load_site(args.config or EXAMPLE_SITE)
    if args.engine_only:
        run_morning(config, sys.stdout, day=args.date, db_path=args.db, seed=args.seed)
        return 0
    from antre.demo import main as demo_main

    return demo_main(config, args.headless, args.duration, args.date, args.seed, Path(args.snapshots))


def _check_config(args: argparse.Namespace) -> int:
    from antre.central.config import load_site

    if args.site and args.config and args.site != args.config:
        raise UsageError(f"two site files: {args.site} and --config {args.config}")
    path = args.site or args.config
    if not path:
        raise UsageError("a site file is required: antre check-config SITE.toml")
    config = load_site(path)
    print(f"{path}: OK: {config.site.name} ({config.site_id}), zone {config.site.timezone} "
          f"({config.zone_abbrev()})")
    print(f"  {len(config.agencies)} agencies, {len(config.services)} services, "
          f"{len(config.gerai)} gerai, {len(config.kiosks)} kiosks")
    for sid, svc in config.services.items():
        quota = "no quota" if svc.daily_quota is None else f"quota {svc.daily_quota}"
        gerai = ", ".join(str(g.number) for g in config.gerai_for_service(sid))
        print(f"  {svc.prefix:<3}{sid:<10} {svc.name[:48]:<49} {quota:<10} gerai {gerai}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from antre.central.audit import print_audit
    from antre.central.config import load_site
    from antre.central.history import History

    config = load_site(args.config)
    with History.open(config, args.db, args.archive) as history:
        try:
            print_audit(config, history, args.date, sys.stdout)
        except BrokenPipeError:  # `antre audit | head`
            pass
    return 0


def _quarantine(args: argparse.Namespace) -> int:
    from antre.central.config import load_site
    from antre.central.store import EventStore

    config = load_site(args.config)
    store = EventStore(args.db or config.store.path, config.site_id, readonly=True)
    try:
        entries = store.quarantined()
    finally:
        store.close()
    if args.show is not None:
        entry = next((e for e in entries if e.id == args.show), None)
        if entry is None:
            print(f"antre: no quarantine entry {args.show}", file=sys.stderr)
            return 1
        when = dt.datetime.fromtimestamp(entry.ts, config.zone).isoformat(timespec="seconds")
        print(f"entry   {entry.id}\ntime    {when}\ntopic   {entry.topic}\nerror   {entry.error}\n"
              f"bytes   {len(entry.payload)}\npayload {entry.payload!r}")
        return 0
    if not entries:
        print("quarantine is empty")
        return 0
    for e in entries:
        when = dt.datetime.fromtimestamp(e.ts, config.zone).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{e.id:>6}  {when}  {e.topic}  {len(e.payload)} bytes  {e.error.splitlines()[-1][:80]}")
    return 0
