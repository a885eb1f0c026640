"""``antre report`` and the report files: the demo's day, a log of the simulation harness, archived
days reported exactly as live ones, the XLSX read back with openpyxl (sheets, headings, number
formats, values) and the CSV files; bad input refused with clear messages and the right status."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest

from antre.central.archive import archive_dir, archive_due
from antre.central.config import SiteConfig, load_site
from antre.central.reportfiles import CSV_VIEWS, csv_text, write_csv_dir, xlsx_bytes
from antre.central.reports import DEFINITIONS, VIEW_TITLES, VIEWS, report_for
from antre.central.service import QueueService
from antre.central.store import EventStore
from antre.cli import main
from antre.sim.history import play_days
from antre.sim.morning import run_morning
from tests.conftest import KUPANG, SMALL_SITE, at

FIRST = dt.date(2024, 1, 1)
DEMO_DAY = dt.date(2026, 11, 20)


def _site(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "site.toml"
    path.write_text(SMALL_SITE + '\n[store]\npath = "log.db"\n', encoding="utf-8")
    return path


def _history(tmp_path: Path, days: int = 8, tickets: int = 40) -> SiteConfig:
    """A site and its log with ``days`` days played by the simulation harness (antre.sim.history)."""
    config = load_site(_site(tmp_path))
    store = EventStore(config.store.path, "test", "off")
    play_days(QueueService.open(config, store, at(FIRST, 7)), FIRST, days, tickets)
    store.close()
    return config


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["report", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


# ---------------------------------------------------------------------------- the demo's day


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    summary = run_morning(load_site(KUPANG), io.StringIO(), day=DEMO_DAY, db_path=db)
    return db, summary


def test_antre_report_reads_the_demos_day(demo: tuple[Path, Any], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    db, summary = demo
    xlsx, out_dir = tmp_path / "laporan.xlsx", tmp_path / "csv"
    status, out, err = _run(capsys, "--config", str(KUPANG), "--db", str(db), "--day", "2026-11-20", "--by", "all",
                            "--csv", str(out_dir), "--xlsx", str(xlsx))
    assert status == 0, err
    # the demo's own account of its morning
    assert f"nomor diambil {summary.issued} " in out and f"ditolak {summary.refused} " in out
    assert f"panggilan {summary.called}," in out
    for title in VIEW_TITLES.values():
        if title != "Ringkasan":
            assert f"\n{title}\n" in out
    assert "Gerai 2: 1x berkas susulan, sudah antre pagi" in out
    assert "Perekaman dan Pencetakan" in out and "jam tersibuk: " in out
    assert xlsx.stat().st_size > 5000 and len(list(out_dir.iterdir())) == len(CSV_VIEWS)
    assert "XLSX: " in err and "CSV: 10 files" in err
    report = report_for(load_site(KUPANG), DEMO_DAY, DEMO_DAY, db=str(db))
    assert report.summary.issued == summary.issued and report.summary.refused == summary.refused
    assert report.summary.calls == summary.called


def test_the_xlsx_is_a_real_spreadsheet(demo: tuple[Path, Any], tmp_path: Path) -> None:
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    config = load_site(KUPANG)
    report = report_for(config, DEMO_DAY, DEMO_DAY, db=str(demo[0]))
    path = tmp_path / "r.xlsx"
    path.write_bytes(xlsx_bytes(report, config.zone))
    book = load_workbook(path)
    assert book.sheetnames == ["Ringkasan", *(VIEW_TITLES[v] for v in VIEWS), "Pengunjung per instansi",
                               "Di luar urutan", "Istirahat gerai", "Definisi"]
    from antre.central.reports import columns

    for view in VIEWS:
        sheet = book[VIEW_TITLES[view]]
        cols = columns(view)
        assert [c.value for c in sheet[2]] == [c.label for c in cols], view
        assert all(c.font.b for c in sheet[2]) and sheet.freeze_panes == "B3" and sheet.auto_filter.ref
        rows = report.view(view)
        label = next(i for i, c in enumerate(cols) if c.kind == "text" and c.key != "id")
        longest = max([len(str(cols[label].get(r))) for r in rows] + [0])
        assert sheet.column_dimensions[get_column_letter(label + 1)].width >= min(longest, 48), view
        assert sheet.max_row == 2 + len(rows), view
        for line, row in zip(sheet.iter_rows(min_row=3), rows):
            for cell, column in zip(line, cols):
                want = column.get(row)
                if view == "day" and column.key == "day":
                    assert cell.value.date() == dt.date.fromisoformat(row.key) and cell.number_format == "yyyy-mm-dd"
                    continue
                if want is None:
                    assert cell.value is None
                    continue
                if isinstance(want, float):
                    assert cell.value == pytest.approx(want), (view, column.key)
                else:
                    assert cell.value == want, (view, column.key)
                fmt = {"int": "#,##0", "minutes": "0.0", "percent": "0.0%"}.get(column.kind)
                if fmt:
                    assert cell.number_format == fmt, (view, column.key)
    summary = book["Ringkasan"]
    values = {row[0].value: row[1] for row in summary.iter_rows(min_row=6) if row[0].value}
    assert values["Nomor diambil"].value == report.summary.issued
    assert values["Tunggu median (mnt)"].value == pytest.approx(report.summary.wait.median / 60)
    assert values["Tunggu median (mnt)"].number_format == "0.0"
    assert values["Dalam target tunggu"].number_format == "0.0%"
    assert values["Jam tersibuk"].value == f"{report.busiest_hour[0]:02d}.00-{report.busiest_hour[0] + 1:02d}.00"
    assert "quota_exhausted (kuota hari ini habis)" in values
    calls = book["Di luar urutan"]
    assert calls["H3"].value == "berkas susulan, sudah antre pagi" and calls["B3"].number_format == "hh:mm:ss"
    assert calls["I3"].value == pytest.approx(report.out_of_order[0].wait_s / 60)
    pauses = book["Istirahat gerai"]
    assert pauses["C3"].value == "Gerai 5" and pauses["F3"].value == pytest.approx(15.0)
    assert book["Definisi"].max_row == 2 + len(DEFINITIONS)
    # visitors per agency per day: the day's row and the totals row add up to the report's figures
    visitors = book["Pengunjung per instansi"]
    heads = [c.value for c in visitors[2]]
    assert heads[0] == "Tanggal" and heads[-1] == "Jumlah" and "Dukcapil" in heads
    day_row = [c.value for c in visitors[3]]
    assert day_row[0].date() == DEMO_DAY and day_row[-1] == report.summary.issued
    dukcapil = next(r for r in report.views["agency"] if r.key == "dukcapil")
    assert day_row[heads.index("Dukcapil")] == dukcapil.issued
    assert visitors.cell(4, 1).value == "Jumlah" and visitors.cell(4, len(heads)).value == report.summary.issued


def test_the_csv_files(demo: tuple[Path, Any], tmp_path: Path) -> None:
    config = load_site(KUPANG)
    report = report_for(config, DEMO_DAY, DEMO_DAY, db=str(demo[0]))
    paths = write_csv_dir(report, tmp_path / "out", config.zone)
    assert [p.name for p in paths] == [f"kupang-2026-11-20-{v}.csv" for v in CSV_VIEWS]
    services = list(csv.DictReader(io.StringIO(paths[2].read_text(encoding="utf-8"))))
    ktp = next(r for r in services if r["id"] == "ktp-el")
    row = next(r for r in report.views["service"] if r.key == "ktp-el")
    assert int(ktp["issued"]) == row.issued and int(ktp["served"]) == row.served
    assert float(ktp["wait_median_min"]) == pytest.approx(row.wait.median / 60, abs=0.005)
    assert float(ktp["within_target"]) == pytest.approx(row.within_target, abs=0.00005)
    assert ktp["target_wait_min"] == "20"  # KTP-el's own target in the example site
    calls = list(csv.DictReader(io.StringIO(csv_text(report, "out_of_order", config.zone))))
    assert calls[0]["reason"] == "berkas susulan, sudah antre pagi" and calls[0]["day"] == "2026-11-20"
    hours = list(csv.DictReader(io.StringIO(csv_text(report, "hour", config.zone))))
    assert sum(int(h["issued"]) for h in hours) == report.summary.issued
    assert not paths[0].read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 without a byte-order mark


# ---------------------------------------------------------------------------- the simulation harness, the archive


def test_a_period_of_the_simulation_harness_and_archived_days_reported_as_live(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _history(tmp_path, days=8)
    site = config.source
    now = at(FIRST + dt.timedelta(days=20), 9)
    last = FIRST + dt.timedelta(days=7)
    before = report_for(config, FIRST, last, now=now)
    assert len(before.days) == 8 and before.summary.issued > 250 and before.summary.served > 100
    status, text_before, err = _run(capsys, "--config", site, "--from", FIRST.isoformat(), "--to", last.isoformat(),
                                    "--by", "all", "--csv", str(tmp_path / "before"))
    assert status == 0, err
    assert text_before.count("\n  2024-01-0") == 8  # the day view lists every day

    store = EventStore(config.store.path, "test")
    done = archive_due(store, archive_dir(config.store.path), 3, last)
    store.close()
    assert len(done) == 4
    after = report_for(config, FIRST, last, now=now)
    assert after == before
    assert [d.day for d in _days(config)][:4] == [FIRST + dt.timedelta(days=i) for i in range(4)]
    status, text_after, err = _run(capsys, "--config", site, "--from", FIRST.isoformat(), "--to", last.isoformat(),
                                   "--by", "all", "--csv", str(tmp_path / "after"))
    assert status == 0 and text_after == text_before
    for path in sorted((tmp_path / "before").iterdir()):
        assert (tmp_path / "after" / path.name).read_bytes() == path.read_bytes(), path.name

    # a missing archive file is a storage error, never a shorter report; the console says so (503)
    (archive_dir(config.store.path) / done[0].file).unlink()
    status, _, err = _run(capsys, "--config", site, "--day", FIRST.isoformat())
    assert status == 3 and "is missing" in err
    import asyncio
    from types import SimpleNamespace

    from antre.console.reports import LogUnreadable, Reports

    reports = Reports(SimpleNamespace(config=config, log_figures=None, now=lambda: now))  # type: ignore[arg-type]
    assert asyncio.run(reports.get(last, last)).summary.issued > 0  # a live day still reads
    with pytest.raises(LogUnreadable, match="is missing"):
        asyncio.run(reports.get(FIRST, last))


def test_a_day_of_the_period_is_its_own_report(tmp_path: Path) -> None:
    config = _history(tmp_path, days=3)
    now = at(FIRST + dt.timedelta(days=9), 9)
    period = report_for(config, FIRST, FIRST + dt.timedelta(days=2), now=now)
    for i, row in enumerate(period.views["day"]):
        day = FIRST + dt.timedelta(days=i)
        alone = report_for(config, day, day, now=now).summary
        assert (alone.issued, alone.served, alone.wait, alone.service_time, alone.pause_s) == (
            row.issued, row.served, row.wait, row.service_time, row.pause_s)


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["--day", "2026-13-01"], 2, "is not a date like 2026-11-20"),
    (["--day", "20-11-2026"], 2, "is not a date like 2026-11-20"),
    (["--day", "2026-11-20", "--from", "2026-11-01"], 2, "not both"),
    (["--from", "2026-11-01"], 2, "needs both --from and --to"),
    ([], 2, "needs a day (--day 2026-11-20) or a period"),
    (["--from", "2026-11-20", "--to", "2026-11-19"], 2, "ends (2026-11-19) before it starts (2026-11-20)"),
    (["--from", "2025-01-01", "--to", "2026-11-20"], 2, "at most 400 days"),
    (["--day", "2026-11-20", "--by", "week"], 2, "invalid choice: 'week'"),
])
def test_bad_command_lines_are_refused_clearly(argv: list[str], status: int, message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--config", str(KUPANG), *argv)
    assert code == status and message in err, err


def test_a_bad_site_file_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SMALL_SITE.replace('timezone = "Asia/Makassar"', 'timezone = "Asia/Makassar"\ntarget_wait_min = 0'),
                    encoding="utf-8")
    code, _, err = _run(capsys, "--config", str(site), "--day", "2026-11-20")
    assert code == 78 and "site.target_wait_min" in err
    code, _, err = _run(capsys, "--config", str(tmp_path / "nope.toml"), "--day", "2026-11-20")
    assert code == 78 and "not found" in err


def test_an_unreadable_log_and_an_unwritable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"garbage" * 1000)
    code, _, err = _run(capsys, "--config", str(KUPANG), "--db", str(garbage), "--day", "2026-11-20")
    assert code == 3 and "storage error" in err
    config = _history(tmp_path / "h", days=1, tickets=5)
    blocked = tmp_path / "file"
    blocked.write_text("x")
    code, out, err = _run(capsys, "--config", config.source, "--day", FIRST.isoformat(), "--xlsx",
                          str(blocked / "r.xlsx"))
    assert code == 1 and "antre: report error: cannot write" in err and "Laporan" in out
    code, _, err = _run(capsys, "--config", config.source, "--day", FIRST.isoformat(), "--csv", str(blocked))
    assert code == 1 and "cannot write the CSV files" in err


def test_a_day_without_data_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _history(tmp_path, days=1, tickets=5)
    code, out, err = _run(capsys, "--config", config.source, "--day", "2023-06-01", "--by", "service")
    assert code == 0 and "no day of 2023-06-01 in the log" in err
    assert "hari dengan data: 0 dari 1" in out and "(tidak ada data)" in out


def _days(config: SiteConfig) -> list[Any]:
    """The archived days of the site's history."""
    from antre.central.history import History

    with History.open(config) as history:
        return [d for d in history.days() if d.where == "archive"]
