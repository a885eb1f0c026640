"""A report (:mod:`antre.central.reports`) as files: CSV for programs, XLSX for people.

**CSV**: one file per view, UTF-8 without a byte-order mark, comma-separated,
a header row of stable English column names (the ``key`` of each
:class:`~antre.central.reports.Column`), dots for decimals.  Durations are in
minutes (two decimals), shares from 0 to 1 (four decimals), an empty cell
where there is no value.  :func:`write_csv_dir` writes every view into a
directory as ``<site>-<period>-<view>.csv``: ``summary``, ``agency``,
``service``, ``gerai``, ``hour``, ``day``, ``agency_day`` (tickets issued and
served per agency per day), ``out_of_order`` (every call out of order),
``pauses`` (every pause of a gerai) and ``refusals`` (refused ticket requests
by code).  One view alone: :func:`csv_text`.

**XLSX** (:func:`xlsx_bytes`, openpyxl): a sheet per view ("Ringkasan", "Per
instansi", "Per layanan", "Per gerai", "Per jam", "Per hari", "Di luar
urutan", "Istirahat gerai"), "Pengunjung per instansi" (tickets issued per agency per day: a
day a row, an agency a column) and "Definisi" (what every figure means).  Headings
in Indonesian, bold, frozen with the first column, with filters; counts
``#,##0``, durations in minutes ``0.0``, shares ``0.0%``, days as dates, times
as times (the site's local time).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from antre.central.reports import (
    CODE_LABELS,
    DEFINITIONS,
    REFUSAL_LABELS,
    REFUSAL_REASONS,
    VIEW_TITLES,
    VIEWS,
    Column,
    Report,
    columns,
    period_text,
)

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

#: Every CSV a report directory holds, in order
CSV_VIEWS = ("summary", *VIEWS, "agency_day", "out_of_order", "pauses", "refusals")

INT_FORMAT = "#,##0"
MINUTES_FORMAT = "0.0"
PERCENT_FORMAT = "0.0%"
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "hh:mm:ss"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def period_slug(report: Report) -> str:
    """``2026-11-20`` or ``2026-11-01_2026-11-30``: the period in file names."""
    if report.first == report.last:
        return report.first.isoformat()
    return f"{report.first.isoformat()}_{report.last.isoformat()}"


def file_stem(report: Report) -> str:
    return f"{report.site_id}-{period_slug(report)}"


# ---------------------------------------------------------------------------- CSV


def _csv_value(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.kind == "minutes":
        return f"{float(value):.2f}"
    if column.kind == "percent":
        return f"{float(value):.4f}"
    return str(value)


def _local(report: Report, ts: float, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, zone).replace(tzinfo=None)


def _list_rows(report: Report, view: str, zone: dt.tzinfo) -> tuple[list[str], list[list[Any]]]:
    """The list views: the calls out of order, the pauses, the refusals by code (raw values)."""
    if view == "out_of_order":
        header = ["day", "time", "gerai", "gerai_name", "ticket", "service", "service_name", "reason", "wait_min",
                  "passed_over"]
        rows = [[c.day, _local(report, c.ts, zone).time().replace(microsecond=0), c.gerai, c.gerai_name, c.ticket,
                 c.service, c.service_name, c.reason, None if c.wait_s is None else c.wait_s / 60, c.passed_over]
                for c in report.out_of_order]
        return header, rows
    if view == "pauses":
        header = ["day", "gerai", "gerai_name", "start", "end", "minutes", "reason", "closed_by_report"]
        rows = [[p.day, p.gerai, p.gerai_name, _local(report, p.start, zone).time().replace(microsecond=0),
                 _local(report, p.end, zone).time().replace(microsecond=0), p.seconds / 60, p.reason,
                 p.closed_by_report] for p in report.pauses]
        return header, rows
    if view == "agency_day":
        return ["day", "agency", "agency_name", "issued", "served"], [
            [r.day, r.agency, r.agency_name, r.issued, r.served] for r in report.agency_days]
    if view == "refusals":
        return ["code", "meaning", "refused"], [[code, CODE_LABELS.get(code, ""), n] for code, n in report.refusals_by_code]
    raise ValueError(f"unknown view {view!r}")


def csv_text(report: Report, view: str, zone: dt.tzinfo) -> str:
    """One view as CSV text (see the module's docstring); ``zone``: the site's, for the times of the lists."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if view in ("summary", *VIEWS):
        cols = columns(view)
        writer.writerow([c.key for c in cols])
        for row in report.view(view):
            writer.writerow([_csv_value(c, c.get(row)) for c in cols])
        return out.getvalue()
    header, rows = _list_rows(report, view, zone)
    writer.writerow(header)
    for values in rows:
        writer.writerow(["" if v is None else f"{v:.2f}" if isinstance(v, float) else
                         str(v).lower() if isinstance(v, bool) else str(v) for v in values])
    return out.getvalue()


def write_csv_dir(report: Report, directory: Path, zone: dt.tzinfo) -> list[Path]:
    """Every view as ``<site>-<period>-<view>.csv`` in ``directory`` (made if missing); returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for view in CSV_VIEWS:
        path = directory / f"{file_stem(report)}-{view}.csv"
        path.write_text(csv_text(report, view, zone), encoding="utf-8")
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------- XLSX


def _number_format(column: Column) -> str | None:
    return {"int": INT_FORMAT, "minutes": MINUTES_FORMAT, "percent": PERCENT_FORMAT}.get(column.kind)


def xlsx_bytes(report: Report, zone: dt.tzinfo) -> bytes:
    """The report as an XLSX workbook (see the module's docstring)."""
    from openpyxl import Workbook

    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = VIEW_TITLES["summary"]
    _summary_sheet(summary, report, zone)
    for view in VIEWS:
        sheet = book.create_sheet(VIEW_TITLES[view])
        cols = columns(view)
        values = []
        for row in report.view(view):
            line: list[Any] = [c.get(row) for c in cols]
            if view == "day":
                line[0] = dt.date.fromisoformat(row.key)
            values.append(line)
        formats = [_number_format(c) for c in cols]
        if view == "day":
            formats[0] = DATE_FORMAT
        _table(sheet, [c.label for c in cols], values, formats, title=f"{VIEW_TITLES[view]} · {period_text(report)}")
    _agency_day_sheet(book.create_sheet("Pengunjung per instansi"), report)
    header, rows = _list_rows(report, "out_of_order", zone)
    sheet = book.create_sheet("Di luar urutan")
    _table(sheet, ["Tanggal", "Jam", "Kode gerai", "Gerai", "Nomor", "Kode layanan", "Layanan", "Alasan",
                   "Tunggu (mnt)", "Nomor dilewati"], rows,
           [DATE_FORMAT, TIME_FORMAT, None, None, None, None, None, None, MINUTES_FORMAT, INT_FORMAT],
           title=f"Panggilan di luar urutan · {period_text(report)}")
    header, rows = _list_rows(report, "pauses", zone)
    sheet = book.create_sheet("Istirahat gerai")
    rows = [r[:-1] + ["ya" if r[-1] else ""] for r in rows]
    _table(sheet, ["Tanggal", "Kode gerai", "Gerai", "Mulai", "Selesai", "Menit", "Alasan",
                   "Ditutup laporan (masih terbuka saat hari berakhir)"], rows,
           [DATE_FORMAT, None, None, TIME_FORMAT, TIME_FORMAT, MINUTES_FORMAT, None, None],
           title=f"Istirahat gerai · {period_text(report)}")
    sheet = book.create_sheet("Definisi")
    _table(sheet, ["Angka", "Arti"], [list(d) for d in DEFINITIONS], [None, None], widths=[34, 120], wrap=True,
           title="Definisi setiap angka")
    book.properties.title = f"Laporan {report.site_name}, {period_text(report)}"
    book.properties.creator = "antre"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _agency_day_sheet(sheet: Worksheet, report: Report) -> None:
    """Visitors (tickets issued) per agency per day: a day a row, an agency a column, with totals."""
    from openpyxl.styles import Font

    agencies: dict[str, str] = {}
    for r in report.agency_days:
        agencies.setdefault(r.agency, r.agency_name)
    order = [a for a in (row.key for row in report.views["agency"]) if a in agencies]
    by_day: dict[dt.date, dict[str, int]] = {}
    for r in report.agency_days:
        by_day.setdefault(r.day, {})[r.agency] = r.issued
    rows: list[list[Any]] = [[day, *(cells.get(a, 0) for a in order), sum(cells.values())]
                             for day, cells in sorted(by_day.items())]
    _table(sheet, ["Tanggal", *(agencies[a] for a in order), "Jumlah"], rows,
           [DATE_FORMAT, *([INT_FORMAT] * (len(order) + 1))],
           title=f"Pengunjung (nomor diambil) per instansi per hari · {period_text(report)}")
    total = len(rows) + 3
    sheet.cell(total, 1, "Jumlah").font = Font(bold=True)
    for i in range(len(order) + 1):
        cell = sheet.cell(total, i + 2, sum(int(row[i + 1]) for row in rows))
        cell.number_format = INT_FORMAT
        cell.font = Font(bold=True)


def _summary_sheet(sheet: Worksheet, report: Report, zone: dt.tzinfo) -> None:
    from openpyxl.styles import Alignment, Font

    s = report.summary
    bold = Font(bold=True)
    sheet["A1"] = f"Laporan {report.site_name}"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = f"{period_text(report)} ({report.zone})"
    generated = dt.datetime.fromtimestamp(report.generated_at, zone).replace(tzinfo=None, microsecond=0)
    sheet["A3"] = "Dibuat"
    sheet["B3"] = generated
    sheet["B3"].number_format = DATETIME_FORMAT
    sheet["B3"].alignment = Alignment(horizontal="left")
    lines: list[tuple[str, Any, str | None]] = [
        ("Hari dengan data", len(report.days), INT_FORMAT),
        ("Hari dalam periode", report.period_days, INT_FORMAT),
        ("Hari masih berjalan", report.running_day.isoformat() if report.running_day else "-", None),
    ]
    for column in columns("summary")[1:]:
        lines.append((column.label, column.get(s), _number_format(column)))
    if report.busiest_hour is not None:
        h, n = report.busiest_hour
        lines.append(("Jam tersibuk", f"{h:02d}.00-{h + 1:02d}.00", None))
        lines.append(("Nomor diambil pada jam tersibuk", n, INT_FORMAT))
    if report.busiest_day is not None:
        lines.append(("Hari tersibuk", report.busiest_day[0], DATE_FORMAT))
        lines.append(("Nomor diambil pada hari tersibuk", report.busiest_day[1], INT_FORMAT))
    row = 5
    sheet.cell(row, 1, "Angka").font = bold
    sheet.cell(row, 2, "Nilai").font = bold
    for label, value, number_format in lines:
        row += 1
        sheet.cell(row, 1, label)
        cell = sheet.cell(row, 2, value)
        if number_format:
            cell.number_format = number_format
        cell.alignment = Alignment(horizontal="right")
    row += 2
    sheet.cell(row, 1, "Penolakan nomor per alasan").font = bold
    for reason in REFUSAL_REASONS:
        row += 1
        sheet.cell(row, 1, REFUSAL_LABELS[reason])
        sheet.cell(row, 2, getattr(s, f"refused_{reason}")).number_format = INT_FORMAT
    if report.refusals_by_code:
        row += 2
        sheet.cell(row, 1, "Penolakan nomor per kode").font = bold
        for code, n in report.refusals_by_code:
            row += 1
            sheet.cell(row, 1, f"{code} ({CODE_LABELS[code]})" if code in CODE_LABELS else code)
            sheet.cell(row, 2, n).number_format = INT_FORMAT
    if report.skipped_events:
        row += 2
        sheet.cell(row, 1, "Peristiwa log dilewati (tiket tidak dikenal)").font = Font(bold=True, color="B3261E")
        sheet.cell(row, 2, report.skipped_events)
    sheet.column_dimensions["A"].width = 44
    sheet.column_dimensions["B"].width = 22
    sheet.freeze_panes = "A6"


def _table(sheet: Worksheet, header: Sequence[str], rows: Iterable[Sequence[Any]], formats: Sequence[str | None],
           *, title: str, widths: Sequence[int] | None = None, wrap: bool = False) -> None:
    """A title in row 1, a bold heading in row 2 (frozen with the first column, with filters), the rows
    below with their number formats, and column widths that fit the headings and values."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet.cell(1, 1, title).font = Font(bold=True, size=12)
    fill = PatternFill("solid", fgColor="E9EDF1")
    for i, label in enumerate(header, start=1):
        cell = sheet.cell(2, i, label)
        cell.font = Font(bold=True)
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    longest = [min(len(h), 18) for h in header]
    count = 0
    for r, values in enumerate(rows, start=3):
        count += 1
        for i, value in enumerate(values, start=1):
            cell = sheet.cell(r, i, value)
            number_format = formats[i - 1]
            if number_format and value is not None:
                cell.number_format = number_format
            if wrap:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            shown = len(value) if isinstance(value, str) else 10
            longest[i - 1] = max(longest[i - 1], min(shown, 48))
    for i, width in enumerate(widths or [n + 2 for n in longest], start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.row_dimensions[2].height = 32
    sheet.freeze_panes = "B3"
    last = get_column_letter(len(header))
    sheet.auto_filter.ref = f"A2:{last}{max(2, count + 2)}"


__all__ = ["CSV_VIEWS", "csv_text", "file_stem", "write_csv_dir", "xlsx_bytes"]
