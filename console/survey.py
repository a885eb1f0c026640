"""The SKM summary page of the console (supervisors and admins) and its exports (XLSX, CSV).

The answers are the ``survey_answered`` events of the central's log, read through
:class:`~antre.central.history.History` (live days and the archive, read-only, with a
connection of its own); the visitor count of a period (Krejcie & Morgan's N) is its served
tickets.  An answer belongs to the day of its ticket (its visit), which may be before the day
it was given (the answer window reaches past midnight).  A past day's figures never change:
they are read once and kept (a year of history is read once, then each request costs the
arithmetic only); today's are read again at every request.

The arithmetic is :mod:`antre.central.skm`'s (Permen PANRB 14/2017); the XLSX is the "rekap
SKM" an MPP sends up: one row per respondent with U1-U9, then the total per element, the NRR,
the NRR tertimbang, the IKM, its conversion and the quality band; a sheet per agency and
service, the respondents' profile, the suggestions, and the gerai's quick ratings (apart: never
in the IKM).
"""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import io
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from antre.central import events as ev
from antre.central import skm
from antre.central.archive import archive_dir
from antre.central.config import SiteConfig
from antre.central.history import History
from antre.central.store import EventStore, StorageError
from antre.console.accounts import Role

log = logging.getLogger(__name__)

SKM_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})
#: the longest period one page or export covers
MAX_DAYS = 3 * 366
#: past days kept in memory (a day's figures are small: its answers and its served counts)
CACHE_DAYS = 1200


@dataclass
class DayData:
    """One log day: the answers recorded in it and its served tickets per service, its quick ratings."""

    answers: list[skm.Answer] = field(default_factory=list)
    served: Counter[str] = field(default_factory=Counter)
    #: (gerai, service, score)
    quick: list[tuple[str, str, int]] = field(default_factory=list)


def read_day(events: Iterator[tuple[int, ev.AnyEvent]]) -> DayData:
    """The SKM figures of one day's events."""
    data = DayData()
    service_of: dict[str, str] = {}
    for _, event in events:
        match event:
            case ev.TicketIssued():
                service_of[event.ticket_id] = event.service
            case ev.TicketTransferred():
                service_of[event.ticket_id] = event.to_service
            case ev.TicketServed():
                data.served[service_of.get(event.ticket_id, "")] += 1
            case ev.SurveyAnswered():
                day = f"{event.ticket_id[:4]}-{event.ticket_id[4:6]}-{event.ticket_id[6:8]}"
                data.answers.append(skm.Answer(
                    day=day, ts=event.ts, service=event.service, scores=tuple(event.scores), age=event.age,
                    sex=event.sex, education=event.education, occupation=event.occupation,
                    suggestion=event.suggestion, channel=event.channel))
            case ev.QuickRated():
                data.quick.append((event.gerai, event.service, event.score))
            case _:
                pass
    return data


class SurveyReader:
    """The site's history read for SKM reports, past days cached (see the module docstring)."""

    def __init__(self, config: SiteConfig, db_path: str) -> None:
        self.config = config
        self.db_path = db_path
        self._lock = threading.Lock()
        self._history: History | None = None
        self._cache: dict[dt.date, DayData] = {}

    def _open(self) -> History:
        if self._history is None:
            store = EventStore(self.db_path, self.config.site_id, readonly=True)
            self._history = History(store, archive_dir(self.db_path, self.config.store.archive))
        return self._history

    def days(self, first: dt.date, last: dt.date, today: dt.date) -> dict[dt.date, DayData]:
        """The figures of the log days ``first`` to ``last`` (those the history has)."""
        with self._lock:
            history = self._open()
            present = {d.day for d in history.days() if first <= d.day <= last}
            out: dict[dt.date, DayData] = {}
            for day in sorted(present):
                data = self._cache.get(day)
                if data is None:
                    data = read_day(history.events(day))
                    if day < today:
                        self._cache[day] = data
                        if len(self._cache) > CACHE_DAYS:
                            self._cache.pop(min(self._cache))
                out[day] = data
            return out

    def close(self) -> None:
        with self._lock:
            if self._history is not None:
                self._history.close()
                self._history = None


@dataclass(frozen=True)
class Period:
    """What a report covers: the days of the visits, and optionally one agency or one service."""

    first: dt.date
    last: dt.date
    agency: str = ""
    service: str = ""

    @property
    def label(self) -> str:
        from antre.central.texts import format_date_id

        if self.first == self.last:
            return format_date_id(self.first)
        return f"{format_date_id(self.first)} - {format_date_id(self.last)}"

    def query(self) -> str:
        parts = [f"from={self.first.isoformat()}", f"to={self.last.isoformat()}"]
        if self.agency:
            parts.append(f"agency={self.agency}")
        if self.service:
            parts.append(f"service={self.service}")
        return "&".join(parts)


class PeriodError(ValueError):
    """A period that cannot be reported (Indonesian text)."""


def parse_period(config: SiteConfig, params: dict[str, str], today: dt.date) -> Period:
    """The period of the page's query (default: this month so far); :class:`PeriodError` when wrong."""
    try:
        first = dt.date.fromisoformat(params["from"]) if params.get("from") else today.replace(day=1)
        last = dt.date.fromisoformat(params["to"]) if params.get("to") else today
    except ValueError:
        raise PeriodError("Tanggal harus berformat TTTT-BB-HH (mis. 2024-01-31).") from None
    if last < first:
        raise PeriodError("Tanggal akhir lebih awal dari tanggal mulai.")
    if (last - first).days >= MAX_DAYS:
        raise PeriodError(f"Periode paling panjang {MAX_DAYS} hari.")
    agency, service = params.get("agency", ""), params.get("service", "")
    if agency and agency not in config.agencies:
        raise PeriodError("Instansi tidak dikenal di situs ini.")
    if service and service not in config.services:
        raise PeriodError("Layanan tidak dikenal di situs ini.")
    if agency and service and config.services[service].agency != agency:
        raise PeriodError("Layanan itu bukan milik instansi yang dipilih.")
    return Period(first, last, agency, service)


@dataclass
class QuickRow:
    """The quick ratings of one gerai (or of all)."""

    name: str
    counts: tuple[int, int, int, int]

    @property
    def n(self) -> int:
        return sum(self.counts)

    @property
    def mean(self) -> Fraction | None:
        return Fraction(sum((i + 1) * c for i, c in enumerate(self.counts)), self.n) if self.n else None


@dataclass
class Report:
    """A period's SKM: the summary and what the exports list."""

    period: Period
    unit_name: str
    summary: skm.Summary
    answers: list[skm.Answer]
    quick: list[QuickRow]
    days_without_log: int = 0


def build_report(config: SiteConfig, reader: SurveyReader, period: Period, today: dt.date) -> Report:
    """The SKM of ``period`` from the history (answers by their ticket's day, visitors by served tickets)."""
    reach = dt.timedelta(days=int(config.survey.answer_window_hours // 24) + 1)
    days = reader.days(period.first, min(period.last + reach, today), today)
    services = [sid for sid, s in config.services.items()
                if (not period.service or sid == period.service) and (not period.agency or s.agency == period.agency)]
    wanted = set(services)
    first, last = period.first.isoformat(), period.last.isoformat()
    answers = [a for d in days.values() for a in d.answers if first <= a.day <= last and a.service in wanted]
    answers.sort(key=lambda a: a.ts)
    visitors: Counter[str] = Counter()
    quick: dict[str, list[int]] = {}
    for day, data in days.items():
        if period.first <= day <= period.last:
            for sid, n in data.served.items():
                if sid in wanted:
                    visitors[sid] += n
            for gerai, sid, score in data.quick:
                if sid in wanted and 1 <= score <= 4:
                    quick.setdefault(gerai, [0, 0, 0, 0])[score - 1] += 1
    if period.service:
        unit = config.services[period.service].name
    elif period.agency:
        unit = config.agencies[period.agency].name
    else:
        unit = config.site.name
    names = {**{a.id: a.short for a in config.agencies.values()}, **{s.id: s.name for s in config.services.values()}}
    summary = skm.summarize(answers, visitors, {sid: config.services[sid].agency for sid in services}, names, unit)
    rows = [QuickRow(config.gerai[g].name if g in config.gerai else g, (c[0], c[1], c[2], c[3]))
            for g, c in sorted(quick.items(), key=lambda kv: config.gerai[kv[0]].number if kv[0] in config.gerai
                               else 10**6)]
    if rows:
        total = [sum(r.counts[i] for r in rows) for i in range(4)]
        rows.append(QuickRow("Semua gerai", (total[0], total[1], total[2], total[3])))
    missing = sum(1 for i in range((period.last - period.first).days + 1)
                  if period.first + dt.timedelta(days=i) not in days and period.first + dt.timedelta(days=i) <= today)
    return Report(period, unit, summary, answers, rows, missing)


# ---------------------------------------------------------------------- exports

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_text(value: str) -> str:
    """A citizen's text as a spreadsheet cell that is never a formula (CSV/XLSX injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _f(value: Fraction | Decimal | None) -> float | None:
    return None if value is None else float(value)


def _profile_label(options: dict[str, str], code: str | None) -> str:
    return options.get(code or "", "") if code else ""


def export_csv(config: SiteConfig, report: Report) -> bytes:
    """The respondents' matrix (U1-U9 and profile) with the SKM rows under it, UTF-8 with a BOM (Excel)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["Rekapitulasi Survei Kepuasan Masyarakat (Permen PANRB 14/2017)"])
    w.writerow(["Unit pelayanan", report.unit_name])
    w.writerow(["Periode", report.period.first.isoformat(), report.period.last.isoformat()])
    w.writerow([])
    codes = [e.code for e in skm.ELEMENTS]
    w.writerow(["No", "Tanggal", "Instansi", "Layanan", *codes, "Umur", "Jenis kelamin", "Pendidikan", "Pekerjaan",
                "Saran", "Melalui"])
    for i, a in enumerate(report.answers, start=1):
        svc = config.services.get(a.service)
        agency = config.agencies[svc.agency].short if svc is not None and svc.agency in config.agencies else ""
        w.writerow([i, a.day, agency, svc.name if svc else a.service, *a.scores,
                    _profile_label(skm.AGE_BANDS, a.age), _profile_label(skm.SEXES, a.sex),
                    _profile_label(skm.EDUCATION, a.education), _profile_label(skm.OCCUPATIONS, a.occupation),
                    _safe_text(a.suggestion), "ponsel" if a.channel == "phone" else "tablet"])
    idx = report.summary.total.index
    blank = ["", "", "", ""]
    w.writerow([])
    w.writerow(["Jumlah nilai per unsur", *blank[1:], *idx.totals])
    w.writerow(["NRR per unsur", *blank[1:], *(f"{_f(v):.4f}" for v in idx.nrr)])
    w.writerow(["NRR tertimbang per unsur", *blank[1:], *(f"{_f(v):.4f}" for v in idx.weighted)])
    w.writerow(["IKM unit pelayanan", "", "", "", f"{_f(idx.ikm):.4f}" if idx.ikm is not None else ""])
    w.writerow(["Konversi IKM (x25)", "", "", "", str(idx.converted) if idx.converted is not None else ""])
    w.writerow(["Mutu pelayanan", "", "", "", idx.band.letter if idx.band else "",
                idx.band.name if idx.band else ""])
    t = report.summary.total
    w.writerow(["Responden", "", "", "", idx.respondents])
    w.writerow(["Pengunjung dilayani (populasi)", "", "", "", t.visitors])
    w.writerow(["Sampel minimal (Krejcie-Morgan)", "", "", "", t.required])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export_xlsx(config: SiteConfig, report: Report) -> bytes:
    """The "rekap SKM" workbook (see the module docstring), written row by row (openpyxl's write-only
    mode: a year of a busy MPP is tens of thousands of respondents)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    title = Font(bold=True, size=13)
    head_fill = PatternFill("solid", fgColor="DDE6EE")
    sum_fill = PatternFill("solid", fgColor="F3F6F9")
    thin = Side(style="thin", color="A0AAB4")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    idx = report.summary.total.index
    total = report.summary.total

    def cell(ws: Any, value: Any, *, font: Any = None, fill: Any = None, fmt: str | None = None, align: Any = None,
             border: Any = None) -> Any:
        c = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            c.data_type = "s"  # never a formula, whatever the citizen typed
        if font is not None:
            c.font = font
        if fill is not None:
            c.fill = fill
        if fmt is not None:
            c.number_format = fmt
        if align is not None:
            c.alignment = align
        if border is not None:
            c.border = border
        return c

    def head(ws: Any, names: list[str]) -> list[Any]:
        return [cell(ws, n, font=bold, fill=head_fill, align=center, border=box) for n in names]

    # --- Rekap: the respondents x U1..U9 matrix and the SKM under it
    ws = wb.create_sheet("Rekap SKM")
    first_u = 4
    last_col = get_column_letter(first_u - 1)
    ws.column_dimensions["A"].width = 8
    ws.column_dimensions["B"].width = 12
    ws.column_dimensions["C"].width = 34
    for j in range(skm.N_ELEMENTS):
        ws.column_dimensions[get_column_letter(first_u + j)].width = 8
    header = 6
    ws.freeze_panes = f"{get_column_letter(first_u)}{header + 1}"
    ws.append([cell(ws, "REKAPITULASI SURVEI KEPUASAN MASYARAKAT (SKM)", font=title)])
    ws.append([cell(ws, f"Unit pelayanan: {report.unit_name}")])
    ws.append([cell(ws, f"Periode: {report.period.label}")])
    ws.append([cell(ws, "Dasar: Peraturan Menteri PANRB Nomor 14 Tahun 2017")])
    ws.append([])
    ws.append(head(ws, ["No", "Tanggal", "Layanan", *(e.code for e in skm.ELEMENTS)]))
    names = {sid: svc.name for sid, svc in config.services.items()}
    for i, a in enumerate(report.answers, start=1):
        ws.append([i, cell(ws, dt.date.fromisoformat(a.day), fmt="dd/mm/yyyy"),
                   cell(ws, names.get(a.service, a.service)), *a.scores])
    row = header + len(report.answers)
    ws.append([])
    row += 1
    summary_rows = [
        ("Jumlah nilai per unsur", list(idx.totals) if idx.respondents else [None] * skm.N_ELEMENTS, "0"),
        ("NRR per unsur", [_f(v) for v in idx.nrr] or [None] * skm.N_ELEMENTS, "0.00"),
        ("NRR tertimbang per unsur (x 1/9)", [_f(v) for v in idx.weighted] or [None] * skm.N_ELEMENTS, "0.000"),
    ]
    for label, values, fmt in summary_rows:
        row += 1
        ws.merged_cells.add(f"A{row}:{last_col}{row}")
        ws.append([cell(ws, label, font=bold, fill=sum_fill), None, None,
                   *(cell(ws, v, fmt=fmt, fill=sum_fill, align=center, border=box) for v in values)])
    results: list[tuple[str, str | float | int | None, str | None]] = [
        ("IKM unit pelayanan (jumlah NRR tertimbang)", _f(idx.ikm), "0.000"),
        ("Konversi IKM (IKM x 25)", _f(idx.converted), "0.00"),
        ("Mutu pelayanan", idx.band.letter if idx.band else "-", None),
        ("Kinerja unit pelayanan", idx.band.name if idx.band else "-", None),
        ("Jumlah responden", idx.respondents, "0"),
        ("Pengunjung dilayani dalam periode (N)", total.visitors, "0"),
        ("Sampel minimal Krejcie-Morgan", total.required, "0"),
        ("Jumlah responden memenuhi sampel", "Ya" if total.enough else "Belum", None),
    ]
    ws.append([])
    row += 1
    for label, result, number_format in results:
        row += 1
        ws.merged_cells.add(f"A{row}:{last_col}{row}")
        ws.append([cell(ws, label, font=bold), None, None, cell(ws, result, font=bold, fmt=number_format)])
    ws.append([])
    ws.append([cell(ws, "Keterangan unsur", font=bold)])
    for e in skm.ELEMENTS:
        ws.append([cell(ws, e.code), cell(ws, e.name)])
    ws.append([])
    ws.append([cell(ws, "Mutu", font=bold), cell(ws, "Nilai konversi", font=bold),
               cell(ws, "Kinerja unit pelayanan", font=bold)])
    for band in skm.BANDS:
        ws.append([cell(ws, band.letter), cell(ws, f"{band.low} - {band.high}"), cell(ws, band.name)])

    # --- per agency and per service
    ws2 = wb.create_sheet("Per Unit")
    ws2.column_dimensions["B"].width = 36
    ws2.freeze_panes = "C2"
    ws2.append(head(ws2, ["Tingkat", "Unit", "Responden", "Pengunjung (N)", "Sampel minimal", "Cukup",
                          *(f"NRR {e.code}" for e in skm.ELEMENTS), "IKM", "Konversi", "Mutu", "Kinerja"]))
    for level, units in (("Unit", [report.summary.total]), ("Instansi", report.summary.agencies),
                         ("Layanan", report.summary.services)):
        for u in units:
            mutu = u.index.band
            ws2.append([cell(ws2, level), cell(ws2, u.name), u.index.respondents, u.visitors, u.required,
                        cell(ws2, "Ya" if u.enough else "Belum"),
                        *(cell(ws2, _f(v), fmt="0.00") for v in (u.index.nrr or [None] * skm.N_ELEMENTS)),
                        cell(ws2, _f(u.index.ikm), fmt="0.000"), cell(ws2, _f(u.index.converted), fmt="0.00"),
                        cell(ws2, mutu.letter if mutu else "-"), cell(ws2, mutu.name if mutu else "-")])

    # --- profile
    ws3 = wb.create_sheet("Profil Responden")
    ws3.column_dimensions["A"].width = 28
    n = idx.respondents
    for name, (label, _) in skm.PROFILE_FIELDS.items():
        ws3.append([cell(ws3, label, font=bold), cell(ws3, "Jumlah", font=bold), cell(ws3, "Persen", font=bold)])
        for option, count in report.summary.profile.get(name, {}).items():
            ws3.append([cell(ws3, option), count, cell(ws3, count / n if n else 0, fmt="0.0%")])
        ws3.append([])

    # --- suggestions
    ws4 = wb.create_sheet("Saran dan Masukan")
    ws4.column_dimensions["A"].width = 12
    ws4.column_dimensions["B"].width = 30
    ws4.column_dimensions["C"].width = 80
    ws4.append([cell(ws4, h, font=bold, fill=head_fill) for h in ("Tanggal", "Layanan", "Saran dan masukan")])
    for a in report.summary.suggestions:
        ws4.append([cell(ws4, dt.date.fromisoformat(a.day), fmt="dd/mm/yyyy"), cell(ws4, names.get(a.service, a.service)),
                    cell(ws4, a.suggestion, align=wrap)])

    # --- quick ratings (apart from the IKM)
    ws5 = wb.create_sheet("Penilaian Cepat")
    ws5.column_dimensions["A"].width = 24
    ws5.append([cell(ws5, "Penilaian cepat di gerai (tombol 1-4); tidak termasuk perhitungan IKM", font=bold)])
    ws5.append([])
    ws5.append([cell(ws5, h, font=bold, fill=head_fill) for h in (
        "Gerai", "1 Tidak puas", "2 Kurang puas", "3 Puas", "4 Sangat puas", "Jumlah", "Rata-rata")])
    for q in report.quick:
        ws5.append([cell(ws5, q.name), *q.counts, q.n, cell(ws5, _f(q.mean), fmt="0.00")])

    wb.properties.title = f"Rekap SKM {report.unit_name} {report.period.first} - {report.period.last}"
    wb.properties.creator = "antre"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------- the page


def _kiosk_qr(url: str) -> str:
    """A PNG data URI of ``url``'s QR code (the tablet's camera opens it)."""
    import segno

    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=4, border=2)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def routes(console: Any, needs: Callable[[frozenset[Role] | None], Callable[[Any], Any]]) -> list[BaseRoute]:
    """The SKM page and its exports, for :func:`antre.console.web.build_app` (``needs``: its role guard)."""
    config: SiteConfig = console.config
    figures = console.log_figures
    reader = SurveyReader(config, figures.store.path) if figures is not None else None
    console.survey_reader = reader

    def today() -> dt.date:
        return dt.datetime.fromtimestamp(console.now(), config.zone).date()

    async def report_of(request: Request) -> Report | str:
        if reader is None:
            return "Log peristiwa server antrean tidak dapat dibaca oleh konsol: SKM tidak dapat dihitung."
        params = {k: v[:40] for k, v in request.query_params.items()}
        try:
            period = parse_period(config, params, today())
        except PeriodError as exc:
            return str(exc)
        started = time.monotonic()
        try:
            report = await asyncio.to_thread(build_report, config, reader, period, today())
        except StorageError as exc:
            log.error("SKM report: the history cannot be read: %s", exc)
            return f"Riwayat log tidak dapat dibaca: {exc}"
        log.info("SKM report %s to %s (%s%s): %d answers in %.0f ms", period.first, period.last, period.agency or "-",
                 f"/{period.service}" if period.service else "", len(report.answers),
                 (time.monotonic() - started) * 1000)
        return report

    @needs(SKM_ROLES)
    async def skm_page(request: Request) -> Response:
        report = await report_of(request)
        error = report if isinstance(report, str) else ""
        rep = report if not isinstance(report, str) else None
        from antre.console.ticket import kiosk_link

        desk = getattr(console, "ticket_desk", None)
        link = kiosk_link(desk, console.now()) if desk is not None else None
        page: Response = console.page(request, "skm.html", status=400 if error else 200, r=rep, error=error, skm=skm,
                            agencies=list(config.agencies.values()), services=list(config.services.values()),
                            params={k: v[:40] for k, v in request.query_params.items()},
                            today=today(), kiosk=link, kiosk_qr=_kiosk_qr(link[0]) if link and
                            config.console.public_url else "", public=bool(config.console.public_url),
                            config_agency=lambda sid: config.services[sid].agency if sid in config.services else "",
                            service_name=lambda sid: config.services[sid].name if sid in config.services else sid)
        return page

    def _download(body: bytes, media: str, name: str) -> Response:
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                         "Cache-Control": "no-store"})

    def _name(report: Report, ext: str) -> str:
        unit = report.period.service or report.period.agency or config.site_id
        return f"rekap-skm-{unit}-{report.period.first.isoformat()}-{report.period.last.isoformat()}.{ext}"

    @needs(SKM_ROLES)
    async def export_xlsx_route(request: Request) -> Response:
        report = await report_of(request)
        if isinstance(report, str):
            return Response(report, status_code=400, media_type="text/plain; charset=utf-8")
        body = await asyncio.to_thread(export_xlsx, config, report)
        return _download(body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _name(report, "xlsx"))

    @needs(SKM_ROLES)
    async def export_csv_route(request: Request) -> Response:
        report = await report_of(request)
        if isinstance(report, str):
            return Response(report, status_code=400, media_type="text/plain; charset=utf-8")
        return _download(export_csv(config, report), "text/csv; charset=utf-8", _name(report, "csv"))

    handlers: list[tuple[str, Callable[[Request], Awaitable[Response]]]] = [
        ("/skm", skm_page), ("/skm/rekap.xlsx", export_xlsx_route), ("/skm/rekap.csv", export_csv_route)]
    return [Route(path, handler, methods=["GET"]) for path, handler in handlers]


__all__ = ["Period", "Report", "SurveyReader", "build_report", "export_csv", "export_xlsx", "parse_period", "routes"]
