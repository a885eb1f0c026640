"""The console's "Laporan" page: a report of a day or a period (:mod:`antre.central.reports`) with
tables per view, charts drawn on the server as inline SVG (no script, nothing from the internet),
and its downloads (XLSX, and CSV per view) for supervisors and admins.

The report is computed from the site's history (the event log, read-only, and its archive) in a
worker thread, one at a time (a year of history keeps a core busy for some seconds), and kept for
the next request (the downloads after the page) while the log has not moved.  Registered in
:func:`antre.console.web.build_app` by :func:`routes`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from antre.central.reports import (
    CODE_LABELS,
    DEFINITIONS,
    REFUSAL_LABELS,
    REFUSAL_REASONS,
    VIEW_TITLES,
    Column,
    Report,
    ReportError,
    Row,
    build_report,
    columns,
    parse_period,
    period_text,
)
from antre.console.accounts import Role

if TYPE_CHECKING:
    from antre.console.web import Console

log = logging.getLogger(__name__)

REPORT_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})
#: reports kept for the next request (the downloads after the page), newest last
CACHED_REPORTS = 6
#: out-of-order calls listed on the page (the XLSX has them all)
LISTED_CALLS = 200
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: the columns of the page's tables (the downloads have every column)
PAGE_KEYS = {
    "gerai": ("calls", "out_of_order", "recalls", "served", "no_show", "transferred_out", "expired", "open",
              "wait_mean_min", "wait_median_min", "wait_p90_min", "wait_max_min", "service_mean_min",
              "service_median_min", "service_p90_min", "within_target", "pauses", "pause_min"),
    "other": ("issued", "priority", "transferred_in", "served", "no_show", "transferred_out", "voided", "expired",
              "open", "refused", "wait_mean_min", "wait_median_min", "wait_p90_min", "wait_max_min",
              "service_mean_min", "service_median_min", "service_p90_min", "within_target"),
}
#: columns of the page shown only when not all zero in the period
OPTIONAL = frozenset({"transferred_in", "voided", "open", "expired", "priority"})
#: the page's two heading rows: (group, heading under it) per column; a group spans its columns
PAGE_HEAD = {
    "issued": ("Masuk", "diambil"), "priority": ("Masuk", "prioritas"), "transferred_in": ("Masuk", "dialihkan masuk"),
    "calls": ("Panggilan", "semua"), "out_of_order": ("Panggilan", "di luar urutan"), "recalls": ("Panggilan", "ulang"),
    "served": ("Hasil kunjungan", "dilayani"), "no_show": ("Hasil kunjungan", "tidak hadir"),
    "transferred_out": ("Hasil kunjungan", "dialihkan"), "voided": ("Hasil kunjungan", "batal"),
    "expired": ("Hasil kunjungan", "hangus"), "open": ("Hasil kunjungan", "berjalan"),
    "refused": ("", "Ditolak"),
    "wait_mean_min": ("Waktu tunggu (menit)", "rata-rata"), "wait_median_min": ("Waktu tunggu (menit)", "median"),
    "wait_p90_min": ("Waktu tunggu (menit)", "p90"), "wait_max_min": ("Waktu tunggu (menit)", "maks"),
    "service_mean_min": ("Lama layanan (menit)", "rata-rata"),
    "service_median_min": ("Lama layanan (menit)", "median"), "service_p90_min": ("Lama layanan (menit)", "p90"),
    "within_target": ("", "Dalam target"),
    "pauses": ("Istirahat", "kali"), "pause_min": ("Istirahat", "menit"),
}

Handler = Callable[[Request], Awaitable[Response]]
Needs = Callable[[frozenset[Role] | None], Callable[[Handler], Handler]]


class LogUnreadable(Exception):
    """The event log or one of its archive files cannot be read (its text says which and why)."""


class Reports:
    """Computes reports for the pages (one at a time, in a worker thread) and keeps the latest few."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = asyncio.Lock()
        self._cache: OrderedDict[tuple[object, ...], Report] = OrderedDict()

    @property
    def log_path(self) -> str:
        figures = self.console.log_figures
        return figures.store.path if figures is not None else self.console.config.store.path

    async def get(self, first: dt.date, last: dt.date) -> Report:
        """The report of the period; :class:`LogUnreadable` when the log or an archive file cannot be read."""
        from antre.central.store import StorageError

        async with self._lock:
            try:
                return await asyncio.to_thread(self._compute, first, last)
            except StorageError as exc:
                log.error("report %s to %s: %s", first, last, exc)
                raise LogUnreadable(str(exc)) from None

    def _compute(self, first: dt.date, last: dt.date) -> Report:
        from antre.central.archive import archive_dir
        from antre.central.history import History
        from antre.central.store import EventStore

        config = self.console.config
        now = self.console.now()
        today = dt.datetime.fromtimestamp(now, config.zone).date()
        store = EventStore(self.log_path, config.site_id, readonly=True)
        with History(store, archive_dir(self.log_path, config.store.archive)) as history:
            days = history.days()
            # only the latest day of the log grows; whether it has ended depends on the date
            latest = days[-1] if days else None
            grows = latest.last_seq if latest is not None and first <= latest.day <= last else 0
            key = (first, last, today, grows)
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            started = dt.datetime.now()
            report = build_report(config, history, first, last, now)
        log.info("report %s to %s: %d days in %.1f s", first, last, len(report.days),
                 (dt.datetime.now() - started).total_seconds())
        self._cache[key] = report
        while len(self._cache) > CACHED_REPORTS:
            self._cache.popitem(last=False)
        return report


def _period(request: Request, today: dt.date) -> tuple[dt.date, dt.date]:
    """The period asked in the query (``from`` and ``to``, or ``day``); today when none (ReportError)."""
    q = {k: v[:20] for k, v in request.query_params.items() if k in ("day", "from", "to")}
    if not q:
        return today, today
    day = q.get("day") or None
    first, last = q.get("from") or None, q.get("to") or None
    if day is None and first is not None and last is None:
        last = first
    return parse_period(day, first, last)


def _query(report: Report) -> str:
    return f"from={report.first.isoformat()}&to={report.last.isoformat()}"


def routes(console: Console, needs: Needs) -> list[Route]:
    """The report page and its downloads, guarded by ``needs`` (the console's role check)."""
    reports = Reports(console)

    def today() -> dt.date:
        return dt.datetime.fromtimestamp(console.now(), console.config.zone).date()

    @needs(REPORT_ROLES)
    async def page(request: Request) -> Response:
        now_day = today()
        error = None
        try:
            first, last = _period(request, now_day)
        except ReportError as exc:
            error = _indonesian(str(exc))
            first = last = now_day
        try:
            report = await reports.get(first, last)
        except LogUnreadable as exc:
            return _unreadable(request, exc)
        return console.page(request, "reports.html", status=400 if error else 200, report=report, error=error,
                            query=_query(report), quick=_quick_periods(now_day),
                            view=_view_context(report, console.config.zone))

    async def _report_or_error(request: Request) -> Report | Response:
        try:
            first, last = _period(request, today())
        except ReportError as exc:
            return Response(_indonesian(str(exc)) + "\n", status_code=400, media_type="text/plain; charset=utf-8")
        try:
            return await reports.get(first, last)
        except LogUnreadable as exc:
            return _unreadable(request, exc)

    def _unreadable(request: Request, exc: LogUnreadable) -> Response:
        return console.page(request, "error.html", status=503, message=(
            "Laporan tidak dapat dibuat: log antrean atau arsipnya tidak dapat dibaca. Hubungi teknisi "
            f"(antre central check-log). Rincian: {exc}"))

    def _journal(request: Request, what: str, report: Report) -> None:
        from antre.console.web import client_addr, current_user

        user = current_user(request)
        if user is not None:
            console.accounts.journal(user.name, client_addr(request), "report", f"{what} {_query(report)}")
            log.info("%s (%s) downloaded the %s report %s to %s", user.name, user.role.value, what, report.first,
                     report.last)

    @needs(REPORT_ROLES)
    async def xlsx(request: Request) -> Response:
        from antre.central.reportfiles import file_stem, xlsx_bytes

        report = await _report_or_error(request)
        if isinstance(report, Response):
            return report
        body = await asyncio.to_thread(xlsx_bytes, report, console.config.zone)
        _journal(request, "xlsx", report)
        return Response(body, media_type=XLSX_TYPE, headers={
            "Content-Disposition": f'attachment; filename="laporan-{file_stem(report)}.xlsx"',
            "Cache-Control": "no-store"})

    @needs(REPORT_ROLES)
    async def csv(request: Request) -> Response:
        from antre.central.reportfiles import CSV_VIEWS, csv_text, file_stem

        view = request.query_params.get("view", "")
        if view not in CSV_VIEWS:
            return Response(f"Tampilan tidak dikenal: pilih salah satu dari {', '.join(CSV_VIEWS)}.\n",
                            status_code=400, media_type="text/plain; charset=utf-8")
        report = await _report_or_error(request)
        if isinstance(report, Response):
            return report
        _journal(request, f"csv {view}", report)
        return Response(csv_text(report, view, console.config.zone), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="laporan-{file_stem(report)}-{view}.csv"',
                                 "Cache-Control": "no-store"})

    return [
        Route("/reports", page, methods=["GET"]),
        Route("/reports/laporan.xlsx", xlsx, methods=["GET"]),
        Route("/reports/laporan.csv", csv, methods=["GET"]),
    ]


_MESSAGES = (
    ("give either one day", "Pilih satu hari atau satu periode, bukan keduanya."),
    ("a report needs a day", "Pilih tanggal atau periode laporan."),
    ("a period needs both", "Periode perlu tanggal awal dan akhir."),
    ("is not a date", "Tanggal tidak valid: gunakan bentuk 2026-11-20."),
    ("ends (", "Tanggal akhir sebelum tanggal awal."),
    ("a report covers at most", "Periode terlalu panjang: paling lama 400 hari."),
)


def _indonesian(text: str) -> str:
    for start, said in _MESSAGES:
        if start in text:
            return said
    return text


@dataclass(frozen=True)
class Quick:
    """A link to a usual period."""

    label: str
    first: dt.date
    last: dt.date


def _quick_periods(today: dt.date) -> list[Quick]:
    month = today.replace(day=1)
    previous_end = month - dt.timedelta(days=1)
    return [
        Quick("Hari ini", today, today),
        Quick("Kemarin", today - dt.timedelta(days=1), today - dt.timedelta(days=1)),
        Quick("7 hari terakhir", today - dt.timedelta(days=6), today),
        Quick("Bulan ini", month, today),
        Quick("Bulan lalu", previous_end.replace(day=1), previous_end),
        Quick("Tahun ini", today.replace(month=1, day=1), today),
    ]


# ---------------------------------------------------------------------------- what the template shows


@dataclass(frozen=True)
class Table:
    """A view as the page shows it: label columns, then figures under two heading rows."""

    view: str
    title: str
    labels: list[Column]
    columns: list[Column]
    rows: list[Row]

    def cell(self, column: Column, row: Row) -> str:
        return cell_text(column, row)

    @property
    def heads(self) -> tuple[list[tuple[str, int, int, str]], list[tuple[str, str]]]:
        """The two heading rows: the first as (text, colspan, rowspan, full label), the labels and each
        group over its columns (a column without a group takes both rows); the second as (text, full
        label) under the groups."""
        first: list[tuple[str, int, int, str]] = [(c.label, 1, 2, c.label) for c in self.labels]
        second: list[tuple[str, str]] = []
        for c in self.columns:
            group, sub = PAGE_HEAD[c.key]
            if not group:
                first.append((sub, 1, 2, c.label))
                continue
            second.append((sub, c.label))
            last = first[-1]
            if last[0] == group and last[2] == 1:
                first[-1] = (group, last[1] + 1, 1, group)
            else:
                first.append((group, 1, 1, group))
        return first, second


def cell_text(column: Column, row: Row) -> str:
    """A figure as an Indonesian reader writes it: 1.234 (thousands), 12,5 (minutes), 40% ('-': none)."""
    value = column.get(row)
    if value is None:
        return "-"
    if column.kind == "minutes":
        return _num(float(value), 1)
    if column.kind == "percent":
        return f"{float(value) * 100:.0f}%"
    if column.kind == "int":
        return _num(float(value))
    return str(value)


def _minutes_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{_num(seconds / 60, 1)} mnt"


def _table(report: Report, view: str) -> Table:
    cols = columns(view)
    by_key = {c.key: c for c in cols}
    labels = [cols[1] if cols[0].key == "id" else cols[0]]
    if view in ("service", "gerai"):
        labels.append(by_key["agency"])
    keys = PAGE_KEYS["gerai" if view == "gerai" else "other"]
    rows = [r for r in report.views[view] if not r.is_empty or view == "hour"]
    shown = [by_key[k] for k in keys if k in by_key]
    # what is rare is shown only when it happened in the period (the downloads always have it)
    shown = [c for c in shown if c.key not in OPTIONAL or any(c.get(r) for r in rows)]
    return Table(view, VIEW_TITLES[view], labels, shown, rows)


def _view_context(report: Report, zone: dt.tzinfo) -> dict[str, object]:
    s = report.summary
    tables = [_table(report, v) for v in ("agency", "service", "gerai", "hour")]
    if report.period_days > 1:
        tables.append(_table(report, "day"))
    hours = report.views["hour"]
    tiles = [
        ("Nomor diambil", _num(s.issued), f"{_num(s.priority)} prioritas"),
        ("Dilayani", _num(s.served), f"{_num(s.no_show)} tidak hadir"),
        ("Ditolak", _num(s.refused), ", ".join(f"{REFUSAL_LABELS[r]} {_num(getattr(s, 'refused_' + r))}"
                                              for r in REFUSAL_REASONS if getattr(s, "refused_" + r)) or "-"),
        ("Tunggu rata-rata", _minutes_text(s.wait.mean),
         f"median {_minutes_text(s.wait.median)}, p90 {_minutes_text(s.wait.p90)}, maks {_minutes_text(s.wait.max)}"),
        ("Lama layanan rata-rata", _minutes_text(s.service_time.mean),
         f"median {_minutes_text(s.service_time.median)}, p90 {_minutes_text(s.service_time.p90)}"),
        ("Dalam target tunggu", "-" if s.within_target is None else f"{_num(s.within_target * 100, 1)}%",
         f"{_num(s.target_met)} dari {_num(s.target_met + s.target_missed)} kunjungan"),
        ("Jam tersibuk", "-" if report.busiest_hour is None else
         f"{report.busiest_hour[0]:02d}.00-{report.busiest_hour[0] + 1:02d}.00",
         "" if report.busiest_hour is None else f"{_num(report.busiest_hour[1])} nomor diambil"),
        ("Di luar urutan", _num(s.out_of_order), f"{_num(s.calls)} panggilan, {_num(s.recalls)} panggil ulang"),
        ("Istirahat gerai", f"{_num(s.pause_s / 60)} mnt", f"{_num(s.pauses)} kali"),
        ("Hangus / masih berjalan", f"{_num(s.expired)} / {_num(s.open)}", f"{_num(s.voided)} dibatalkan"),
    ]
    charts = []
    if any(r.issued or r.served for r in hours):
        charts.append(("Nomor diambil dan dilayani per jam", bar_chart(
            [(r.key, [r.issued, r.served]) for r in hours], [("Diambil", "s1"), ("Dilayani", "s2")],
            title="Nomor diambil dan dilayani per jam", unit="nomor")))
        waited = [(r.key, [_m(r.wait.median), _m(r.wait.p90)]) for r in hours]
        if any(v for _, vs in waited for v in vs):
            charts.append(("Waktu tunggu per jam kedatangan (menit)", bar_chart(
                waited, [("Median", "s3"), ("p90", "s4")], title="Waktu tunggu per jam kedatangan", unit="mnt",
                decimals=1)))
    agencies = [r for r in report.views["agency"] if r.issued]
    if agencies:
        charts.append(("Nomor diambil per instansi", hbar_chart(
            [(r.label, float(r.issued), f"{_num(r.served)} dilayani") for r in agencies],
            title="Nomor diambil per instansi")))
        charts.append(("Waktu tunggu median per instansi (menit)", hbar_chart(
            [(r.label, _m(r.wait.median), "" if r.within_target is None else
              f"{r.within_target * 100:.0f}% dalam target") for r in agencies],
            title="Waktu tunggu median per instansi", unit="mnt", decimals=1, css="s3")))
    if report.period_days > 1:
        title, bars = _per_day_or_month(report)
        charts.append((title, bar_chart(bars, [("Diambil", "s1"), ("Dilayani", "s2")], title=title, unit="nomor")))
    return {
        "period": period_text(report),
        "tiles": tiles,
        "charts": charts,
        "tables": tables,
        "ooo_reasons": report.reasons("out_of_order"),
        "ooo_calls": report.out_of_order[-LISTED_CALLS:],
        "pause_reasons": report.reasons("pauses"),
        "refusals": report.refusals_by_code,
        "code_labels": CODE_LABELS,
        "definitions": DEFINITIONS,
        "fmt_time": lambda ts: dt.datetime.fromtimestamp(ts, zone).strftime("%H:%M"),
    }


def _per_day_or_month(report: Report) -> tuple[str, list[tuple[str, list[float]]]]:
    """Tickets issued and served on every day of the period (zero on days without data), or per month
    for a period longer than two months."""
    by_day = {r.key: r for r in report.views["day"]}
    days = [report.first + dt.timedelta(days=i) for i in range(report.period_days)]
    if len(days) <= 62:
        bars = []
        for d in days:
            r = by_day.get(d.isoformat())
            bars.append((f"{d.day}/{d.month}", [float(r.issued if r else 0), float(r.served if r else 0)]))
        return "Nomor diambil dan dilayani per hari", bars
    months: dict[str, list[float]] = {}
    for d in days:
        r = by_day.get(d.isoformat())
        m = months.setdefault(f"{d.month:02d}/{d.year % 100:02d}", [0.0, 0.0])
        if r is not None:
            m[0] += r.issued
            m[1] += r.served
    return "Nomor diambil dan dilayani per bulan", list(months.items())


def _m(seconds: float | None) -> float:
    return 0.0 if seconds is None else seconds / 60.0


# ---------------------------------------------------------------------------- charts (inline SVG)


def _nice_step(top: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about ``ticks`` gridlines up to ``top``."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power: float = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * power:
            return m * power
    return 10.0 * power  # pragma: no cover - the loop always returns


def _num(value: float, decimals: int = 0) -> str:
    """A number as Indonesian writes it: 1.234.567 and 12,5."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")  # Indonesian: 1.234,5


def bar_chart(groups: Sequence[tuple[str, Sequence[float]]], series: Sequence[tuple[str, str]], *, title: str,
              unit: str = "", decimals: int = 0, height: int = 240) -> Markup:
    """Vertical grouped bars: one group per label (e.g. an hour), one bar per series (name, CSS class);
    an axis with round gridlines, a legend, and a tooltip (``<title>``) on every bar."""
    top = max([v for _, vs in groups for v in vs] + [0.0])
    step = _nice_step(top)
    ymax = step * max(1, math.ceil(top / step)) if top > 0 else step * 4
    right, top_pad, bottom = 12, 28, 30
    left = 16 + 7 * len(_num(ymax, decimals if step < 1 else 0))  # the longest axis label fits
    group_w = max(14.0, min(110.0, 600.0 / max(1, len(groups))))
    width = left + right + group_w * len(groups)
    plot_h = height - top_pad - bottom
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width:.0f} {height}" width="{width:.0f}" '
             f'height="{height}" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    y = 0.0
    while y <= ymax + 1e-9:
        py = top_pad + plot_h * (1 - y / ymax)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right:.0f}" y1="{py:.1f}" y2="{py:.1f}"/>'
                     f'<text class="axis" x="{left - 6}" y="{py + 4:.1f}" text-anchor="end">'
                     f'{_num(y, decimals if step < 1 else 0)}</text>')
        y += step
    bar_w = min(34.0, (group_w - 6) / max(1, len(series)))
    every = max(1, math.ceil(len(groups) * 34 / 600))  # labels that fit under the bars
    for i, (label, values) in enumerate(groups):
        gx = left + i * group_w + (group_w - bar_w * len(series)) / 2
        for j, value in enumerate(values):
            h = plot_h * (value / ymax) if ymax else 0.0
            name, css = series[j]
            parts.append(f'<rect class="bar {css}" x="{gx + j * bar_w:.1f}" y="{top_pad + plot_h - h:.1f}" '
                         f'width="{max(1.0, bar_w - 1):.1f}" height="{h:.1f}"><title>{escape(label)}: {escape(name)} '
                         f'{_num(value, decimals)} {escape(unit)}</title></rect>')
        if i % every == 0:
            parts.append(f'<text class="axis" x="{gx + bar_w * len(series) / 2:.1f}" y="{height - bottom + 16}" '
                         f'text-anchor="middle">{escape(label)}</text>')
    parts.append(f'<line class="base" x1="{left}" x2="{width - right:.0f}" y1="{top_pad + plot_h}" '
                 f'y2="{top_pad + plot_h}"/>')
    lx = left
    for name, css in series:
        parts.append(f'<rect class="bar {css}" x="{lx}" y="6" width="12" height="12"/>'
                     f'<text class="legend" x="{lx + 16}" y="16">{escape(name)}</text>')
        lx += 24 + 8 * len(name)
    parts.append("</svg>")
    return Markup("".join(parts))


def hbar_chart(items: Sequence[tuple[str, float, str]], *, title: str, width: int = 640, unit: str = "nomor",
               decimals: int = 0, css: str = "s1") -> Markup:
    """Horizontal bars: one per (label, value, note), the value and the note after the bar."""
    label_w, row_h, note_w = 170, 24, 190
    height = row_h * len(items) + 8
    top = max([v for _, v, _ in items] + [1.0])
    plot_w = width - label_w - note_w
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for i, (label, value, note) in enumerate(items):
        y = 4 + i * row_h
        w = plot_w * value / top
        shown = _num(value, decimals)
        parts.append(f'<text class="axis" x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label[:26])}</text>'
                     f'<rect class="bar {css}" x="{label_w}" y="{y + 3}" width="{max(1.0, w):.1f}" '
                     f'height="{row_h - 8}"><title>{escape(label)}: {shown} {escape(unit)}</title></rect>'
                     f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 15}">{shown}'
                     f'{(" · " + str(escape(note))) if note else ""}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["REPORT_ROLES", "Reports", "bar_chart", "hbar_chart", "routes"]
