"""The console's report page ("Laporan") in a real browser: Debian's Chromium driven by Playwright,
against a real Mosquitto, the real central and ``antre console run``, each a process.

The site is the example site (MPP Kota Kupang) whose log holds the demo's morning of 20 November
2026 (``antre demo --engine-only``, the same script), then the central runs on it.  A supervisor
opens the report of that day: the page shows the figures the report module computes from the same
log (checked cell by cell for the summary and a service), its charts, and the XLSX downloaded with
the page's button opens in openpyxl with every sheet and the same values.  Staff and technicians
are refused the page and its downloads; a bad date is refused with a clear message.  Screenshots
go to ``/tmp/shots-reports/`` (looked at by a person: see the report of issue 16).

Needs Chromium and Mosquitto; without them the tests skip, or fail when ANTRE_REQUIRE_ALL is set.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from antre.central.reports import Report, report_for
from antre.sim import procs
from antre.sim.morning import run_morning
from antre.sim.procs import ConsoleProc
from antre.sim.sitefiles import SiteFiles, example_site
from tests.browser import add_account, launch, playwright, sign_in
from tests.harness import free_port, require_mosquitto

SHOTS = Path(os.environ.get("ANTRE_REPORT_SHOTS", "/tmp/shots-reports"))
DEMO_DAY = dt.date(2026, 11, 20)
PASSWORDS = {"rina": "supervisor-rina", "ani": "admin-ani-123", "siti": "petugas-siti", "teguh": "teknisi-teguh"}


@dataclass
class ReportSite:
    site: SiteFiles
    console: ConsoleProc
    browser: Any
    report: Report  #: the demo day's report, computed here from the same log

    def page(self, user: str) -> Any:
        context = self.browser.new_context(viewport={"width": 1360, "height": 900}, locale="id-ID",
                                           accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(20000)
        sign_in(page, self.console.url, user, PASSWORDS[user])
        return page


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportSite]:
    sync_playwright, _ = playwright()
    require_mosquitto()
    directory = tmp_path_factory.mktemp("reports")
    SHOTS.mkdir(parents=True, exist_ok=True)
    site = SiteFiles(directory, free_port(), base=example_site())
    run_morning(site.config, io.StringIO(), day=DEMO_DAY, db_path=site.config.store.path)
    report = report_for(site.config, DEMO_DAY, DEMO_DAY)
    assert report.summary.issued > 200 and report.out_of_order and report.pauses
    with procs.running_site("mosquitto", directory, site=site, report=print):
        for name, role, gerai in (("rina", "supervisor", ""), ("ani", "admin", ""), ("siti", "staff", "g01"),
                                  ("teguh", "technician", "")):
            add_account(site.config_path, name, role, PASSWORDS[name], gerai)
        console = ConsoleProc(site, free_port())
        console.start()
        try:
            console.wait_ready()
            with sync_playwright() as pw:
                browser = launch(pw)
                try:
                    yield ReportSite(site, console, browser, report)
                finally:
                    browser.close()
        finally:
            console.stop()
            print("--- console log\n" + console.output()[-20000:])


def _tile(page: Any, label: str) -> str:
    tile = page.locator("#report-summary .tile", has=page.locator(".label", has_text=re.compile(f"^{label}$")))
    return str(tile.locator(".value").inner_text()).strip()


def _minutes(seconds: float | None) -> str:
    """Minutes as the page writes them (Indonesian: a decimal comma)."""
    return "-" if seconds is None else f"{seconds / 60:.1f}".replace(".", ",")


def test_a_supervisor_reads_the_demo_day_and_downloads_its_xlsx(stack: ReportSite, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    page = stack.page("rina")
    assert page.locator("nav a", has_text="Laporan").count() == 1
    page.click("nav a:has-text('Laporan')")
    page.wait_for_selector("#report-summary")
    page.fill("input[name=from]", DEMO_DAY.isoformat())
    page.fill("input[name=to]", DEMO_DAY.isoformat())
    with page.expect_navigation():
        page.click("#report-form button")
    assert "Jumat, 20 November 2026" in page.inner_text("#report-period")
    s = stack.report.summary
    assert _tile(page, "Nomor diambil") == str(s.issued)
    assert _tile(page, "Dilayani") == str(s.served)
    assert _tile(page, "Ditolak") == str(s.refused)
    assert _tile(page, "Tunggu rata-rata") == f"{_minutes(s.wait.mean)} mnt"
    assert _tile(page, "Dalam target tunggu") == f"{s.within_target * 100:.1f}%".replace(".", ",")  # type: ignore[operator]
    busiest = stack.report.busiest_hour
    assert busiest is not None and _tile(page, "Jam tersibuk") == f"{busiest[0]:02d}.00-{busiest[0] + 1:02d}.00"
    # the service table: KTP-el's row as the report module has it
    ktp = next(r for r in stack.report.views["service"] if r.key == "ktp-el")
    row = page.locator("#view-service tr[data-key='ktp-el']")

    def cell(key: str) -> str:
        return str(row.locator(f"td[data-col={key}]").inner_text())

    assert cell("issued") == str(ktp.issued) and cell("served") == str(ktp.served)
    assert cell("wait_median_min") == _minutes(ktp.wait.median)
    assert cell("service_p90_min") == _minutes(ktp.service_time.p90)
    assert cell("within_target") == f"{ktp.within_target * 100:.0f}%"  # type: ignore[operator]
    # the out-of-order call with its reason, the pause, the charts (inline SVG, one bar per hour and series)
    assert "berkas susulan, sudah antre pagi" in page.inner_text("#ooo-reasons")
    assert "rapat koordinasi" in page.inner_text("#pauses")
    assert page.locator("svg.chart").count() == 4  # per hour (2), per agency (2); a day has no per-day chart
    hours = [r for r in stack.report.views["hour"]]
    assert page.locator("svg.chart").first.locator("rect.bar.s1").count() == len(hours) + 1  # + the legend's
    page.screenshot(path=str(SHOTS / "reports-demo-day.png"), full_page=True)
    page.screenshot(path=str(SHOTS / "reports-demo-day-top.png"))
    page.locator("#view-service").screenshot(path=str(SHOTS / "reports-demo-day-services.png"))

    with page.expect_download() as info:
        page.click("#download-xlsx")
    download = info.value
    assert download.suggested_filename == "laporan-kupang-2026-11-20.xlsx"
    path = tmp_path / download.suggested_filename
    download.save_as(str(path))
    book = load_workbook(path)
    assert book.sheetnames == ["Ringkasan", "Per instansi", "Per layanan", "Per gerai", "Per jam", "Per hari",
                               "Pengunjung per instansi", "Di luar urutan", "Istirahat gerai", "Definisi"]
    sheet = book["Per layanan"]
    header = [c.value for c in sheet[2]]
    line = next(r for r in sheet.iter_rows(min_row=3) if r[0].value == "ktp-el")
    got = {h: c for h, c in zip(header, line)}
    assert got["Nomor diambil"].value == ktp.issued
    assert got["Tunggu median (mnt)"].value == pytest.approx(ktp.wait.median / 60)  # type: ignore[operator]
    assert got["Tunggu median (mnt)"].number_format == "0.0"
    assert got["Dalam target tunggu"].number_format == "0.0%"
    assert sheet.freeze_panes == "B3" and sheet["A2"].font.b
    calls = book["Di luar urutan"]
    assert calls["H3"].value == "berkas susulan, sudah antre pagi" and calls["A3"].value.date() == DEMO_DAY
    page.context.close()


def test_a_period_shows_a_chart_per_day_and_a_bad_date_is_refused_clearly(stack: ReportSite) -> None:
    page = stack.page("ani")
    first = DEMO_DAY - dt.timedelta(days=4)
    page.goto(f"{stack.console.url}/reports?from={first.isoformat()}&to={(DEMO_DAY + dt.timedelta(days=3)).isoformat()}")
    assert "s.d." in page.inner_text("#report-period")
    assert _tile(page, "Nomor diambil") == str(stack.report.summary.issued)
    assert page.locator("figcaption", has_text="per hari").count() == 1
    days = page.locator("figure", has=page.locator("figcaption", has_text="per hari")).locator("rect.bar.s1")
    assert days.count() == 8 + 1  # every day of the period (+ the legend's)
    page.screenshot(path=str(SHOTS / "reports-period.png"), full_page=True)
    response = page.goto(f"{stack.console.url}/reports?from=2026-11-31&to=2026-12-01")
    assert response is not None and response.status == 400
    assert "Tanggal tidak valid" in page.inner_text("#report-error")
    response = page.goto(f"{stack.console.url}/reports?from=2026-11-20&to=2026-11-01")
    assert response is not None and response.status == 400
    assert "sebelum tanggal awal" in page.inner_text("#report-error")
    for junk in ("from=" + "9" * 5000, "from=%00%ff&to=2026-11-20", "day=2026-11-20&from=2026-11-20&to=2026-11-21",
                 "from=2026-01-01&to=2027-12-31", "to=2026-11-20"):
        answer = page.request.get(f"{stack.console.url}/reports?{junk}")
        assert answer.status == 400 and 'id="report-error"' in answer.text(), junk
    answer = page.request.get(f"{stack.console.url}/reports/laporan.xlsx?from=2026-11-20&to=2026-11-01")
    assert answer.status == 400 and "sebelum tanggal awal" in answer.text()
    page.goto(f"{stack.console.url}/reports?from=2020-01-01&to=2020-01-02")
    assert page.locator("#report-empty").count() == 1
    csv = page.request.get(f"{stack.console.url}/reports/laporan.csv?from=2026-11-20&to=2026-11-20&view=service")
    assert csv.status == 200 and csv.text().startswith("id,service,agency,issued,")
    bad = page.request.get(f"{stack.console.url}/reports/laporan.csv?from=2026-11-20&to=2026-11-20&view=nope")
    assert bad.status == 400
    page.context.close()


@pytest.mark.parametrize("user", ["siti", "teguh"])
def test_staff_and_technicians_are_refused_the_reports(stack: ReportSite, user: str) -> None:
    page = stack.page(user)
    assert page.locator("nav a", has_text="Laporan").count() == 0
    response = page.goto(stack.console.url + "/reports?from=2026-11-20&to=2026-11-20")
    assert response is not None and response.status == 403
    assert "bukan untuk peran" in page.inner_text("body")
    for path in ("/reports/laporan.xlsx?from=2026-11-20&to=2026-11-20",
                 "/reports/laporan.csv?from=2026-11-20&to=2026-11-20&view=summary"):
        assert page.request.get(stack.console.url + path).status == 403
    if user == "siti":
        page.screenshot(path=str(SHOTS / "reports-refused-staff.png"))
    page.context.close()
