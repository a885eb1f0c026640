"""``antre report``: the figures of a day or a period from the site's history (the live log and its
archive), as a table on the terminal and as CSV and XLSX files (:mod:`antre.central.reports`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from antre.broker.errors import AntreError
from antre.cli.tree import SITE_FILE, CommandTree, UsageError
from antre.cli.values import date

VIEW_CHOICES = ("agency", "service", "gerai", "hour", "day", "all")


class ReportOutputError(AntreError, what="report"):
    """A report file that cannot be written (exit 1)."""


def register(tree: CommandTree) -> None:
    p = tree.command(
        "report", _report,
        help="the figures of a day or a period: tickets, waits, service times, refusals, pauses; CSV and XLSX",
        description="Read a day (--day) or a period (--from, --to) from the site's event log and its archive "
        "(read-only, safe while antre central runs) and print its figures: tickets issued, served, no-show, "
        "transferred, voided and refused (by reason); waiting and service times (mean, median, 90th "
        "percentile, max); the share called within each service's target wait; calls out of order with "
        "their reasons; pause time per gerai; the busiest hour. --csv writes every view as CSV files into a "
        "directory, --xlsx a spreadsheet with one sheet per view. README, Reports, defines every figure.",
        uses={"config": SITE_FILE.required()},
    )
    p.add_argument("--day", type=date, metavar="DATE", help="one local day, e.g. 2026-11-20")
    p.add_argument("--from", dest="first", type=date, metavar="DATE", help="the first day of a period")
    p.add_argument("--to", dest="last", type=date, metavar="DATE", help="the last day of a period (at most 400 days)")
    p.add_argument("--by", choices=VIEW_CHOICES, default="agency",
                   help="the table printed after the summary: per agency, service, gerai, hour, day, or all of them")
    p.add_argument("--csv", metavar="DIR",
                   help="write every view as <site>-<period>-<view>.csv into DIR (made if missing)")
    p.add_argument("--xlsx", metavar="FILE", help="write the report as an XLSX workbook (one sheet per view)")
    p.add_argument("--db", metavar="FILE", help="the event log (default: store.path of the site file)")
    p.add_argument("--archive", metavar="DIR",
                   help="the archive of days older than the retention (default: store.archive of the site file, "
                   "or archive/ beside the log)")


def _report(args: argparse.Namespace) -> int:
    from antre.central.config import load_site
    from antre.central.reports import ReportError, parse_period, report_for, write_text

    try:
        first, last = parse_period(args.day, args.first, args.last)
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    config = load_site(args.config)
    report = report_for(config, first, last, db=args.db, archive=args.archive)
    if not report.days:
        print(f"antre report: no day of {first}" + ("" if first == last else f" to {last}") +
              " in the log or its archive: every figure is zero", file=sys.stderr)
    try:
        write_text(report, args.by, sys.stdout)
    except BrokenPipeError:  # `antre report | head`
        pass
    if args.csv:
        from antre.central.reportfiles import write_csv_dir

        try:
            paths = write_csv_dir(report, Path(args.csv), config.zone)
        except OSError as exc:
            raise ReportOutputError(f"cannot write the CSV files into {args.csv}: {exc.strerror or exc}") from None
        print(f"\nCSV: {len(paths)} files in {args.csv}/ ({', '.join(p.name for p in paths[:2])}, ...)",
              file=sys.stderr)
    if args.xlsx:
        from antre.central.reportfiles import xlsx_bytes

        data = xlsx_bytes(report, config.zone)
        try:
            Path(args.xlsx).write_bytes(data)
        except OSError as exc:
            raise ReportOutputError(f"cannot write {args.xlsx}: {exc.strerror or exc}") from None
        print(f"XLSX: {args.xlsx} ({len(data)} bytes)", file=sys.stderr)
    return 0
