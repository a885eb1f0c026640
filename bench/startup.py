"""Start-up of the central with 1 day and with 1 year of history (``make bench``; alone:
``python -m bench.startup``).

History is generated quickly and realistically: one busy day (3,000 citizens
from 08:00 to 15:00, as at Surabaya's Siola, at a site of 40 gerai, 20 services
and 4 kiosks: about 2.6 MB of events a day, the rate issue 17 measured, some
0.9 GB a year) is played through the real queue service, then replicated day
after day with bulk inserts, every time, date and id shifted; only the last
three days keep their replies (the central prunes older ones at every
midnight).  Three logs:

- **1 day**: that day alone;
- **3 days**: the steady state of the reply cache (the central keeps the
  command ids of the last 48 h: from a site's third day on, every start reads
  that many; the 1-day log has one day of them);
- **1 year, archived**: 365 days, every day older than the retention (62 days)
  moved to its archive file by the same code the central runs (the upgrade of
  a site that ran a year before archiving existed: the file keeps its size,
  its free pages are reused, never read);
- **1 year, not archived**: the same 365 days all live, for comparison.

For each, the start-up of the central is measured as

- **open + replay**: ``EventStore`` (lock, sanity check) and
  ``QueueService.open`` (today's replay, the reply ids of the last 48 h) in a
  fresh process, as a restart at 16:00 after the day; warm (median of 9) and
  cold (the log's pages dropped from the page cache with
  ``posix_fadvise(DONTNEED)`` first; median of 5); the logs taken in turn;
- **process to ready** (with Mosquitto): ``antre central run`` from spawn until
  it logs ``antre central ready`` (imports, lease probe, connect, every display
  republished) at the real time of day, median of 3 after one unmeasured start.

Target: start-up independent of history, 1 year within 1.5x of 1 day (the
table also shows the ratio to 3 days, where the reply window is full).  For
reference the table shows what every start cost before: ``PRAGMA quick_check``
of the log (it read every page).
"""

from __future__ import annotations

import datetime as dt
import json
import os
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
from antre.central.service import QueueService
from antre.central.store import EventStore
from antre.sim.history import play_day
from antre.sim.procs import BrokerProc, CentralProc, free_port, mosquitto_binary
from antre.sim.sitefiles import SiteFiles, generated_site

GERAI, SERVICES, KIOSKS = 40, 20, 4
TICKETS_PER_DAY = 3000
RETENTION_DAYS = 62
YEAR = 365
ZONE = ZoneInfo("Asia/Makassar")
WARM_RUNS, COLD_RUNS, PROCESS_RUNS = 9, 5, 3

_PROBE = """
import sys, time
t0 = time.perf_counter()
from antre.central.config import load_site
from antre.central.service import QueueService
from antre.central.store import EventStore
config = load_site(sys.argv[1])
started = time.perf_counter()
store = EventStore(config.store.path, config.site_id)
opened = time.perf_counter()
service = QueueService.open(config, store, float(sys.argv[2]))
ready = time.perf_counter()
print(opened - started, ready - opened, service.engine.day, len(service._replies))
"""

Template = tuple[dt.date, list[ev.AnyEvent], list[tuple[str, float, bytes]]]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def site_data() -> dict[str, Any]:
    data = generated_site(GERAI, SERVICES, site_id="bench")
    data["kiosk"] = [{"id": f"k{i:02d}", "name": f"Anjungan {i + 1}"} for i in range(KIOSKS)]
    return data


# ------------------------------------------------------------------------------- history


def template_day(site: SiteFiles, day: dt.date) -> Template:
    """One busy ``day`` played through the real service: its events and its stored replies."""
    path = site.dir / "template.db"
    store = EventStore(path, site.config.site_id, "off")
    try:
        play_day(QueueService.open(site.config, store, 0), day, TICKETS_PER_DAY, tag="b")
        events = [e for _, e in store.events(0)]
        replies = [(r.key, r.ts, r.reply) for r in store.replies(0)]
    finally:
        store.close()
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return day, events, replies


def generate(path: Path, site: SiteFiles, last: dt.date, days: int, template: Template) -> float:
    """A log of ``days`` days up to ``last``, each the template day shifted; returns the seconds it took."""
    started = time.monotonic()
    first, events, replies = template
    store = EventStore(path, site.config.site_id)  # the schema, the site, an epoch
    store.begin_epoch()
    store.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=OFF")
    encode = msgspec.json.Encoder().encode
    seq = 0
    day0 = first.isoformat().encode(), f"{first:%Y%m%d}".encode()
    db.execute("BEGIN")
    for k in range(days):
        day = last - dt.timedelta(days=days - 1 - k)
        shift = (day - first).days * 86400.0  # no daylight saving time in Indonesia
        iso, compact = day.isoformat().encode(), f"{day:%Y%m%d}".encode()
        rows = []
        for event in events:
            seq += 1
            body = encode(msgspec.structs.replace(event, ts=event.ts + shift))
            body = body.replace(day0[0], iso).replace(day0[1], compact)
            cmd = event.cmd.replace(day0[1].decode(), compact.decode()) if event.cmd else None
            rows.append((seq, event.ts + shift, type(event).__struct_config__.tag, event.actor, cmd, body))
        db.executemany("INSERT INTO events(seq, ts, kind, actor, cmd, body) VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.execute("INSERT INTO days(day, seq) VALUES (?, ?)", (day.isoformat(), rows[0][0]))
        if k >= days - 3:  # the central prunes replies older than two days at every midnight
            db.executemany("INSERT INTO commands(key, ts, reply) VALUES (?, ?, ?)",
                           [(key.replace(day0[1].decode(), compact.decode()), ts + shift,
                             reply.replace(day0[1], compact)) for key, ts, reply in replies])
        if k % 30 == 29:
            db.execute("COMMIT")
            db.execute("BEGIN")
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return time.monotonic() - started


# ------------------------------------------------------------------------------- measuring


def _drop_cache(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            fd = os.open(name, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def probe(site: SiteFiles, now: float, cold: bool) -> tuple[float, float, str]:
    """One start in a fresh process: (open s, replay s, what was rebuilt)."""
    if cold:
        _drop_cache(Path(site.config.store.path))
    out = subprocess.run([sys.executable, "-c", _PROBE, str(site.config_path), str(now)], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).resolve().parent.parent).stdout.split()
    return float(out[0]), float(out[1]), f"day {out[2]}, {out[3]} reply ids"


def summary(runs: list[tuple[float, float, str]]) -> dict[str, Any]:
    total = [a + b for a, b, _ in runs]
    return {"ms": round(statistics.median(total) * 1000, 1), "min_ms": round(min(total) * 1000, 1),
            "open_ms": round(statistics.median(a for a, _, _ in runs) * 1000, 1),
            "replay_ms": round(statistics.median(b for _, b, _ in runs) * 1000, 1), "runs": len(runs),
            "detail": runs[-1][2]}


def open_and_replay(sites: dict[str, SiteFiles], now: float) -> dict[str, dict[str, Any]]:
    """``EventStore`` + ``QueueService.open`` in fresh processes, warm and cold, the logs taken in turn
    (so a busy moment of the shared machine hits them alike); medians."""
    warm: dict[str, list[tuple[float, float, str]]] = {name: [] for name in sites}
    cold: dict[str, list[tuple[float, float, str]]] = {name: [] for name in sites}
    for name, site in sites.items():
        probe(site, now, cold=False)  # warms the page cache and the interpreter's files
    for _ in range(WARM_RUNS):
        for name, site in sites.items():
            warm[name].append(probe(site, now, cold=False))
    for _ in range(COLD_RUNS):
        for name, site in sites.items():
            cold[name].append(probe(site, now, cold=True))
    return {name: {"warm": summary(warm[name]), "cold": summary(cold[name])} for name in sites}


def process_ready(sites: dict[str, SiteFiles]) -> dict[str, float | None]:
    """``antre central run`` from spawn to "antre central ready" with Mosquitto (seconds), the logs in
    turn; medians."""
    if mosquitto_binary() is None:
        return {name: None for name in sites}
    times: dict[str, list[float]] = {name: [] for name in sites}
    brokers = [BrokerProc("mosquitto", site) for site in sites.values()]
    for broker in brokers:
        broker.start()
    try:
        for name, site in sites.items():  # not measured: the first start of each (files into the page cache)
            central = CentralProc(site, name="central-warmup")
            central.start()
            try:
                central.wait_ready(120)
            finally:
                central.stop()
        for i in range(PROCESS_RUNS):
            for name, site in sites.items():
                central = CentralProc(site, name=f"central-{i}")
                started = time.monotonic()
                central.start()
                try:
                    central.wait_ready(120)
                    times[name].append(time.monotonic() - started)
                finally:
                    central.stop()
    finally:
        for broker in brokers:
            broker.stop()
    return {name: round(statistics.median(t), 3) for name, t in times.items()}


def quick_check_s(path: Path) -> float:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        started = time.perf_counter()
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        return round(time.perf_counter() - started, 3)
    finally:
        db.close()


def sizes(path: Path) -> dict[str, Any]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        pages, free, size = (db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count",
                                                                             "page_size"))
        live_days = db.execute("SELECT count(*) FROM days").fetchone()[0]
    finally:
        db.close()
    directory = archive_dir(path)
    archive = sum(p.stat().st_size for p in directory.iterdir()) if directory.is_dir() else 0
    return {"log_mb": round(path.stat().st_size / 2**20, 1), "used_mb": round((pages - free) * size / 2**20, 1),
            "live_days": live_days, "archive_mb": round(archive / 2**20, 1),
            "archive_files": len(list(directory.iterdir())) if directory.is_dir() else 0}


# ------------------------------------------------------------------------------- the part


def run(work: Path, year: int = YEAR) -> dict[str, Any]:
    """Every start-up figure (make bench's part ``startup``); ``year``: the days of the long history."""
    work.mkdir(parents=True, exist_ok=True)
    base = site_data()
    # The central's own archiver is held off (retention 3660 days in these site files): the log
    # "not archived" stays so, and nothing runs beside the start being measured.  The archived
    # log is archived below with RETENTION_DAYS by the same code.
    sites = {name: SiteFiles(work / name, free_port(), base=base, store={"retention_days": 3660})
             for name in ("day", "days3", "year_archived", "year_live")}
    today = dt.datetime.now(ZONE).date()  # the history ends today: the central replays the whole day
    log("   playing the template day")
    template = template_day(sites["day"], today - dt.timedelta(days=year - 1))
    out: dict[str, Any] = {"tickets_per_day": TICKETS_PER_DAY, "events_per_day": len(template[1]),
                           "retention_days": RETENTION_DAYS, "year_days": year}
    log(f"   generating 1 day and {year} days")
    out["generate_s"] = {"day": round(generate(Path(sites["day"].config.store.path), sites["day"], today, 1,
                                               template), 1),
                         "year": round(generate(Path(sites["year_live"].config.store.path), sites["year_live"], today,
                                                year, template), 1)}
    generate(Path(sites["days3"].config.store.path), sites["days3"], today, 3, template)
    shutil.copy(sites["year_live"].config.store.path, sites["year_archived"].config.store.path)
    out["mb_per_day"] = round(Path(sites["day"].config.store.path).stat().st_size / 2**20, 2)

    # before archiving: what each start used to check
    out["quick_check_s"] = {name: quick_check_s(Path(site.config.store.path)) for name, site in sites.items()}

    log("   archiving all but the retention window of year_archived")
    archived_site = sites["year_archived"]
    store = EventStore(archived_site.config.store.path, archived_site.config.site_id)
    started = time.monotonic()
    records = archive_due(store, archive_dir(store.path), RETENTION_DAYS, today)
    archive_s = time.monotonic() - started
    store.close()
    out["archive"] = {"days": len(records), "seconds": round(archive_s, 1),
                      "ms_per_day": round(archive_s / max(len(records), 1) * 1000, 1)}

    log("   open + replay, warm and cold")
    # a restart at 16:00 after the day (08:00-15:00): the whole day replayed, its command ids in the window
    measured = open_and_replay(sites, dt.datetime.combine(today, dt.time(16), ZONE).timestamp())
    for name, site in sites.items():
        out[name] = {**measured[name], **sizes(Path(site.config.store.path))}
    log("   process to ready")
    for name, ready in process_ready(sites).items():
        out[name]["process_ready_s"] = ready
    return out


def rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, target) rows of the table."""
    if "error" in r:
        return [("start-up with history", f"null ({r['error']})", "")]

    def ratio(key: str, *path: str) -> str:
        def get(d: dict[str, Any] | None) -> Any:
            for p in path:
                d = d.get(p) if isinstance(d, dict) else None
            return d

        value = get(r[key])
        if value is None:
            return "null"
        out = []
        for base_key, base_label in (("day", "1 day"), ("days3", "3 days")):
            base = get(r.get(base_key))
            if base and base_key != key and not (key == "day" and base_key == "days3"):
                out.append(f"{value / base:.2f}x {base_label}")
        return f" ({', '.join(out)})" if out else ""

    long = "1 year" if r.get("year_days", YEAR) == YEAR else f"{r['year_days']} days"
    every = (("day", "1 day"), ("days3", "3 days"), ("year_archived", f"{long}, archived"),
             ("year_live", f"{long}, not archived"))
    labels = [(key, label) for key, label in every if key in r]  # (3 days: not in older results)
    out: list[tuple[str, str, str]] = []
    for key, label in labels:
        d = r[key]
        target = "" if key in ("day", "days3") else "<= 1.5x 1 day; flat from 3 days on"
        out.append((f"start-up, open + replay, warm (ms): {label}",
                    f"{d['warm']['ms']}{ratio(key, 'warm', 'ms')}", target))
        out.append((f"start-up, open + replay, cold (ms): {label}",
                    f"{d['cold']['ms']}{ratio(key, 'cold', 'ms')}", target))
        ready = d.get("process_ready_s")
        out.append((f"start-up, process to ready (s): {label}",
                    "null" if ready is None else f"{ready}{ratio(key, 'process_ready_s')}", target))
    for key, label in labels:
        d = r[key]
        out.append((f"log: {label}: file / used MB, live days, archive MB (files)",
                    f"{d['log_mb']} / {d['used_mb']}, {d['live_days']}, {d['archive_mb']} ({d['archive_files']})",
                    f"live days <= {r['retention_days'] + 1}" if key == "year_archived" else ""))
    qc = r["quick_check_s"]
    out.append((f"before: quick_check at every start (s): 1 day / {long}", f"{qc['day']} / {qc['year_live']}",
                "no longer at start"))
    out.append((f"archiving a day ({r['mb_per_day']} MB, {r['events_per_day']} events) (ms)",
                f"{r['archive']['ms_per_day']}", "background"))
    return out


def render(r: dict[str, Any]) -> str:
    table = rows(r)
    width = max(len(name) for name, _, _ in table)
    lines = [f"start-up with history ({r.get('tickets_per_day', '?')} tickets a day, retention "
             f"{r.get('retention_days', '?')} days; bench/startup.py)"]
    lines += [f"{name:<{width}}  {value:>34}  {target}" for name, value, target in table]
    return "\n".join(lines)


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description="the start-up rows of make bench")
    parser.add_argument("--year-days", type=int, default=YEAR, help="days of the long history (a quick try: 70)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="antre-bench-startup-"))
    try:
        result = run(work, args.year_days)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "startup.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
