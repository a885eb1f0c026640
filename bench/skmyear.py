"""The SKM report over a year of history (``make bench``; alone: ``python -m bench.skmyear``).

A year like MPP Kota Kupang's (about 55,000 visits): one day of 300 citizens at a site of 40
gerai and 20 services played through the real queue service, a quarter of the served citizens
answering the SKM survey (``survey_answered`` events as the central writes them), then replicated
over 365 days with bulk inserts (bench.startup's generator: dates, times and ids shifted).  The
console's report builder (:func:`antre.console.survey.build_report`, what the SKM page and its
exports run) reads the whole year through :class:`~antre.central.history.History`: measured the
first time (every day read and decoded) and again (past days cached), and the XLSX export of it.

Target: the first year's report within 10 s on this 2-core machine, a second one under 1 s.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from antre.central import events as ev
from antre.central.service import QueueService
from antre.central.store import EventStore
from antre.sim.history import play_day
from antre.sim.procs import free_port
from antre.sim.sitefiles import SiteFiles
from bench.startup import Template, generate, site_data

DAYS = 365
VISITORS = 300
ANSWERING = 0.25


def template(site: SiteFiles, day: dt.date) -> Template:
    """The day played, with a quarter of its served citizens answering the survey."""
    path = site.dir / "skm-template.db"
    store = EventStore(path, site.config.site_id, "off")
    try:
        play_day(QueueService.open(site.config, store, 0), day, VISITORS, tag="s")
        events = [e for _, e in store.events(0)]
    finally:
        store.close()
    rng = random.Random(7)
    served = [e for e in events if isinstance(e, ev.TicketServed)]
    service_of = {e.ticket_id: e.service for e in events if isinstance(e, ev.TicketIssued)}
    for e in events:
        if isinstance(e, ev.TicketTransferred):
            service_of[e.ticket_id] = e.to_service
    end = max(e.ts for e in events)
    for i, s in enumerate(rng.sample(served, int(len(served) * ANSWERING))):
        events.append(ev.SurveyAnswered(
            ts=end + i, actor="console.main", cmd=f"s-{i:016x}", ticket_id=s.ticket_id,
            service=service_of.get(s.ticket_id, ""), gerai=s.gerai, served_at=s.ts,
            scores=[rng.choice((2, 3, 3, 4, 4)) for _ in range(9)], age=rng.choice((None, "30-39", "40-49")),
            sex=rng.choice((None, "l", "p")), suggestion=rng.choice(("", "", "Antrean cepat.", "Kursi kurang."))))
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return day, events, []


def run(work: Path) -> dict[str, Any]:
    from antre.console.survey import Period, SurveyReader, build_report, export_xlsx

    data = site_data()
    data["store"] = {"retention_days": 400}  # every day live: the reader's worst case (no archive file to skip)
    site = SiteFiles(work / "skm-year", free_port(), base=data, store={"retention_days": 400})
    last = dt.date(2024, 12, 31)
    first = last - dt.timedelta(days=DAYS - 1)
    tpl = template(site, first)
    answers_per_day = sum(1 for e in tpl[1] if isinstance(e, ev.SurveyAnswered))
    path = Path(site.config.store.path)
    generated_s = generate(path, site, last, DAYS, tpl)
    reader = SurveyReader(site.config, str(path))
    try:
        period = Period(first, last)
        started = time.monotonic()
        report = build_report(site.config, reader, period, last + dt.timedelta(days=1))
        first_s = time.monotonic() - started
        started = time.monotonic()
        again = build_report(site.config, reader, period, last + dt.timedelta(days=1))
        second_s = time.monotonic() - started
        started = time.monotonic()
        xlsx = export_xlsx(site.config, report)
        xlsx_s = time.monotonic() - started
    finally:
        reader.close()
    assert again.summary.total.index == report.summary.total.index
    total = report.summary.total
    return {"days": DAYS, "visitors": total.visitors, "answers": total.index.respondents,
            "answers_per_day": answers_per_day, "ikm": str(total.index.converted), "log_mb": round(
                path.stat().st_size / 2**20, 1), "generated_s": round(generated_s, 1),
            "first_report_s": round(first_s, 2), "cached_report_s": round(second_s, 3),
            "xlsx_s": round(xlsx_s, 2), "xlsx_kb": len(xlsx) // 1024}


def render(r: dict[str, Any]) -> str:
    if not r or "error" in r:
        return f"SKM report of a year: not measured ({r.get('error') if r else 'no result'})"
    return (f"SKM report of a year ({r['days']} days, {r['visitors']} served, {r['answers']} answers, log "
            f"{r['log_mb']} MB): first {r['first_report_s']} s (target < 10), again {r['cached_report_s']} s "
            f"(target < 1), its XLSX {r['xlsx_s']} s ({r['xlsx_kb']} KB)")


def main() -> int:
    result = run(Path(tempfile.mkdtemp(prefix="antre-bench-skm-")))
    print(json.dumps(result, indent=1))
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
