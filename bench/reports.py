"""Reports of one day and of a year of history (``make bench``; alone: ``python -m bench.reports``).

History is generated quickly and realistically: the example site (MPP Kota Kupang: 11 agencies,
15 services, 13 gerai, its quotas and cut-off), open every day from 08:00 to 15:00, plays
:data:`TEMPLATES` different days of about 1,000 citizens each (1,200 asking, some refused over
quota) through the real queue service (``antre.sim.history.play_day``: kiosks, print
acknowledgements with failures, calls, recalls, no-shows, pauses, refusals); the year is those
days replicated in turn with bulk inserts, every time, date and id shifted.  Then every day older
than the retention (62 days) is moved to its archive file by the central's own code, so a year's
report reads about 300 archived days and 62 live ones, as on a site that has run a year.

Measured:

- **one day** (the latest, live; and an archived one): :func:`antre.central.reports.build_report`
  in this process, median of 9;
- **a year** (365 days): the same, median of 3; and ``antre report --from --to --xlsx`` as a
  process, end to end (start, read, compute, the text table and the workbook): wall time and peak
  resident memory, median of 3.

Targets: one day under 1 s (the process, with Python's start-up and the workbook, under 2 s), a year
under 60 s, and memory that does not grow with the events (a day's tickets at a time; 8 bytes a
duration).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from antre.central import events as ev
from antre.central.archive import archive_dir, archive_due
from antre.central.history import History
from antre.central.reports import build_report
from antre.central.service import QueueService
from antre.central.store import EventStore
from antre.sim.history import play_day
from antre.sim.sitefiles import example_site, write_toml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = 7
ASKING_PER_DAY = 1450
YEAR = 365
RETENTION_DAYS = 62
ZONE = ZoneInfo("Asia/Makassar")
DAY_RUNS, YEAR_RUNS, PROCESS_RUNS = 9, 3, 3


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def site_file(directory: Path) -> Path:
    """The example site open every day 08:00-15:00 (no break, no holiday), its log in ``directory``."""
    data = example_site()
    week = {d: ["08:00-15:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    data["site"] = {**data["site"], "hours": week, "breaks": {}, "holidays": []}
    data["store"] = {"path": str(directory / "central.db"), "durability": "off", "retention_days": 3660}
    data["central"] = {"require_clock_sync": False, "metrics": False}
    data.pop("lobby", None)
    return write_toml(directory / "site.toml", data)


def templates(site: Path, first: dt.date) -> list[tuple[dt.date, list[ev.AnyEvent]]]:
    """:data:`TEMPLATES` days played through the real service, each with its own seed."""
    from antre.central.config import load_site

    config = load_site(site)
    out = []
    for k in range(TEMPLATES):
        day = first + dt.timedelta(days=k)
        path = site.parent / f"template-{k}.db"
        store = EventStore(path, config.site_id, "off")
        try:
            play_day(QueueService.open(config, store, 0), day, ASKING_PER_DAY, seed=k, tag="r")
            out.append((day, [e for _, e in store.events(0)]))
        finally:
            store.close()
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return out


def generate(path: Path, site_id: str, last: dt.date, days: int,
             template_days: list[tuple[dt.date, list[ev.AnyEvent]]]) -> int:
    """A log of ``days`` days up to ``last``, the templates in turn, shifted; returns the events written."""
    store = EventStore(path, site_id)  # the schema, the site, an epoch
    store.begin_epoch()
    store.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    encode = msgspec.json.Encoder().encode
    seq = 0
    db.execute("BEGIN")
    for k in range(days):
        day = last - dt.timedelta(days=days - 1 - k)
        first, events = template_days[k % len(template_days)]
        shift = (day - first).days * 86400.0  # no daylight saving time in Indonesia
        old = first.isoformat().encode(), f"{first:%Y%m%d}".encode()
        new = day.isoformat().encode(), f"{day:%Y%m%d}".encode()
        rows = []
        for event in events:
            seq += 1
            body = encode(msgspec.structs.replace(event, ts=event.ts + shift)).replace(old[0], new[0]).replace(
                old[1], new[1])
            cmd = event.cmd.replace(old[1].decode(), new[1].decode()) if event.cmd else None
            rows.append((seq, event.ts + shift, type(event).__struct_config__.tag, event.actor, cmd, body))
        db.executemany("INSERT INTO events(seq, ts, kind, actor, cmd, body) VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.execute("INSERT INTO days(day, seq) VALUES (?, ?)", (day.isoformat(), rows[0][0]))
        if k % 30 == 29:
            db.execute("COMMIT")
            db.execute("BEGIN")
    db.execute("COMMIT")
    db.close()
    return seq


def _timed(config: Any, first: dt.date, last: dt.date, now: float) -> tuple[float, Any]:
    started = time.perf_counter()
    with History.open(config) as history:
        report = build_report(config, history, first, last, now)
    return time.perf_counter() - started, report


def _process(site: Path, first: dt.date, last: dt.date, out: Path) -> tuple[float, float]:
    """``antre report`` as a process: (wall seconds, peak resident MB)."""
    probe = ("import resource, subprocess, sys, time\n"
             "t = time.perf_counter()\n"
             "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
             "assert p.returncode == 0, p.stderr\n"
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    argv = [sys.executable, "-c", probe, sys.executable, "-m", "antre", "report", "--config", str(site), "--from",
            first.isoformat(), "--to", last.isoformat(), "--by", "all", "--xlsx", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    seconds, kb = done.stdout.split()
    return float(seconds), int(kb) / 1024


def run(work: Path, year: int = YEAR) -> dict[str, Any]:
    """Every figure of the part (see the module's docstring); ``year``: the days of the long history."""
    from antre.central.config import load_site

    work.mkdir(parents=True, exist_ok=True)
    site = site_file(work)
    config = load_site(site)
    today = dt.datetime.now(ZONE).date()
    last = today - dt.timedelta(days=1)  # a year of days that have ended
    first = last - dt.timedelta(days=year - 1)
    log(f"   playing {TEMPLATES} template days of {ASKING_PER_DAY} citizens")
    started = time.monotonic()
    template_days = templates(site, first)
    out: dict[str, Any] = {"template_s": round(time.monotonic() - started, 1), "year_days": year}
    log(f"   generating {year} days")
    started = time.monotonic()
    out["events"] = generate(Path(config.store.path), config.site_id, last, year, template_days)
    out["generate_s"] = round(time.monotonic() - started, 1)
    log("   archiving all but the retention window")
    store = EventStore(config.store.path, config.site_id)
    started = time.monotonic()
    records = archive_due(store, archive_dir(store.path), RETENTION_DAYS, today)
    store.close()
    out["archive"] = {"days": len(records), "seconds": round(time.monotonic() - started, 1)}
    with History.open(config) as history:
        days = history.days()
    out["live_days"] = sum(1 for d in days if d.where == "live")
    now = time.time()

    log("   one day (live, archived), a year")
    live = [_timed(config, last, last, now) for _ in range(DAY_RUNS)]
    archived_day = first + dt.timedelta(days=10)
    archived = [_timed(config, archived_day, archived_day, now) for _ in range(DAY_RUNS)]
    whole = [_timed(config, first, last, now) for _ in range(YEAR_RUNS)]
    report = whole[0][1]
    out["day_live_ms"] = round(statistics.median(t for t, _ in live) * 1000, 1)
    out["day_archived_ms"] = round(statistics.median(t for t, _ in archived) * 1000, 1)
    out["year_s"] = round(statistics.median(t for t, _ in whole), 2)
    out["year"] = {"days": len(report.days), "issued": report.summary.issued, "served": report.summary.served,
                   "refused": report.summary.refused, "waits": report.summary.wait.count,
                   "tickets_per_day": round(report.summary.issued / max(1, len(report.days)))}
    out["events_per_s"] = round(out["events"] / out["year_s"])
    log("   antre report for a year as a process")
    runs = [_process(site, first, last, work / "year.xlsx") for _ in range(PROCESS_RUNS)]
    out["process_year_s"] = round(statistics.median(s for s, _ in runs), 2)
    out["process_year_rss_mb"] = round(max(mb for _, mb in runs), 1)
    day_runs = [_process(site, last, last, work / "day.xlsx") for _ in range(PROCESS_RUNS)]
    out["process_day_s"] = round(statistics.median(s for s, _ in day_runs), 2)
    out["process_day_rss_mb"] = round(max(mb for _, mb in day_runs), 1)
    out["xlsx_kb"] = round((work / "year.xlsx").stat().st_size / 1024)
    return out


def rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, target) rows of the table."""
    if "error" in r:
        return [("reports", f"null ({r['error']})", "")]
    y = r["year"]
    long = "1 year" if r.get("year_days", YEAR) == YEAR else f"{r['year_days']} days"
    return [
        ("report, one day, live (ms)", f"{r['day_live_ms']}", "< 1000"),
        ("report, one day, archived (ms)", f"{r['day_archived_ms']}", "< 1000"),
        (f"report, {long} ({r['events']:,} events, {y['issued']:,} tickets) (s)",
         f"{r['year_s']} ({r['events_per_s']:,} events/s)", "< 60"),
        ("antre report --xlsx, one day, process (s / peak MB)", f"{r['process_day_s']} / {r['process_day_rss_mb']}",
         "< 2 s (start-up, workbook)"),
        (f"antre report --xlsx, {long}, process (s / peak MB)",
         f"{r['process_year_s']} / {r['process_year_rss_mb']}", "< 60 s, flat memory"),
        (f"history: {y['days']} days, {r['live_days']} live, {r['archive']['days']} archived; "
         f"{y['tickets_per_day']} tickets a day", f"generated in {r['generate_s']} s", ""),
    ]


def render(r: dict[str, Any]) -> str:
    table = rows(r)
    width = max(len(name) for name, _, _ in table)
    lines = ["reports of one day and a year of history (example site, about 1,000 tickets a day; bench/reports.py)"]
    lines += [f"{name:<{width}}  {value:>30}  {target}" for name, value, target in table]
    return "\n".join(lines)


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description="the report rows of make bench")
    parser.add_argument("--year-days", type=int, default=YEAR, help="days of the long history (a quick try: 70)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="antre-bench-reports-"))
    try:
        result = run(work, args.year_days)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "reports.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(render(result))
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
