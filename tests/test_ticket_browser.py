"""The citizen's ticket page and the SKM summary in a real browser: Debian's Chromium driven by
Playwright at a cheap phone's size (360 x 740), against a real Mosquitto, the real central and
``antre console run`` (each a process), driven by real commands over the broker.

- the QR code's address comes from the print job; the page follows the ticket live (SSE):
  waiting -> "Hampir giliran Anda" (sound and vibration) -> called at Gerai 1 (sound and
  vibration) -> the SKM form once served -> thanks; one answer per ticket, a resend harmless;
- a wrong token is a 404 and an address that keeps guessing is refused (429);
- the survey tablet by the exit (kiosk mode) takes a typed number and thanks, then resets;
- the supervisor's SKM page shows the IKM computed by hand below, and its XLSX export, opened
  with openpyxl, holds the rekap (respondents x U1..U9, NRR, NRR tertimbang, IKM, konversi, mutu).

Screenshots of every stage are saved in ``/tmp/shots-skm/`` (looked at by a person).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Channel, Role
from antre.central import events as ev
from antre.central.store import EventStore
from antre.central.ticketkey import TicketKey
from antre.sim import procs
from antre.sim.procs import ConsoleProc
from antre.sim.sitefiles import SiteFiles
from tests.harness import Device, free_port, require_mosquitto, wait_for
from tests.browser import add_account, launch, playwright

SHOTS = Path("/tmp/shots-skm")
PHONE = {"width": 360, "height": 740}
TABLET = {"width": 800, "height": 1280}
SUPERVISOR = ("rina", "supervisor-rina")
#: records what the page asks of the phone: vibrations and the beeps' oscillators
SPY = """
window.__buzz = [];
window.__beeps = 0;
Object.defineProperty(navigator, "vibrate", {value: function (p) { window.__buzz.push(p); return true; }});
(function () {
  var Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) { return; }
  var make = Ctx.prototype.createOscillator;
  Ctx.prototype.createOscillator = function () { window.__beeps += 1; return make.call(this); };
}());
"""


@dataclass
class TicketSite:
    site: SiteFiles
    console: ConsoleProc
    kiosk: Device
    gerai: Device
    browser: Any
    key: TicketKey
    central_output: Any

    def context(self, viewport: dict[str, int]) -> Any:
        context = self.browser.new_context(viewport=viewport, locale="id-ID", is_mobile=viewport is PHONE,
                                           has_touch=viewport is PHONE)
        context.add_init_script(SPY)
        return context

    def log_events(self) -> list[ev.AnyEvent]:
        store = EventStore(self.site.config.store.path, self.site.config.site_id, readonly=True)
        try:
            return [e for _, e in store.events()]
        finally:
            store.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TicketSite]:
    sync_playwright, expect = playwright()
    require_mosquitto()
    directory = tmp_path_factory.mktemp("ticket")
    SHOTS.mkdir(parents=True, exist_ok=True)
    http_port = free_port()
    site = SiteFiles(directory, free_port(), central={"call_guard_s": 0},
                     console={"public_url": f"http://127.0.0.1:{http_port}"})
    with procs.running_site("mosquitto", directory, site=site, report=print) as run:
        name, password = SUPERVISOR
        add_account(site.config_path, name, "supervisor", password)
        console = ConsoleProc(site, http_port)
        console.start()
        kiosk = gerai = None
        try:
            console.wait_ready()
            kiosk = Device(site, Role.KIOSK, "k1")
            gerai = Device(site, Role.GERAI, "g1")
            key = TicketKey(site.secrets.keys["ticket-page"], site.config.site_id)
            with sync_playwright() as pw:
                browser = launch(pw)
                expect.set_options(timeout=10000)
                try:
                    yield TicketSite(site, console, kiosk, gerai, browser, key, run.central.output)
                finally:
                    browser.close()
        finally:
            for device in (kiosk, gerai):
                if device is not None:
                    device.close()
            console.stop()
            print("--- console log\n" + console.output()[-20000:])


def _shot(page: Any, name: str, full: bool = True) -> Path:
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    return path


def _print_job(stack: TicketSite, ticket: str) -> m.PrintJob:
    for topic, payload in stack.kiosk.others:
        if topic.endswith("/print"):
            job = codec.decode(payload, Channel.PRINT, m.PrintJob)
            if job.ticket == ticket:
                return job
    raise AssertionError(f"no print job for {ticket}")


def _call(stack: TicketSite, n: int, what: type[m.Command] = m.CallNext) -> m.Reply:
    return stack.gerai.request(what(id=f"g1-browser-{n:06d}"))


def test_the_ticket_page_from_waiting_to_thanks_at_phone_size(stack: TicketSite) -> None:
    from playwright.sync_api import expect

    for i in range(1, 6):
        assert stack.kiosk.request(m.TakeTicket(id=f"k1-browser-{i:06d}", service="ktp")).ticket == f"A00{i}"
    wait_for(lambda: len([t for t, _ in stack.kiosk.others if t.endswith("/print")]) >= 5, 10, "five print jobs")
    job = _print_job(stack, "A005")
    assert job.url.startswith(f"{stack.console.url}/t/{job.ticket_id}?k=")
    assert stack.key.check(job.ticket_id, job.url.rsplit("k=", 1)[1])
    context = stack.context(PHONE)
    page = context.new_page()
    page.set_default_timeout(10000)
    response = page.goto(job.url)  # what the phone's camera opens from the QR code
    assert response.status == 200 and response.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#number")).to_have_text("A005")
    expect(page.locator("#service")).to_contain_text("KTP-el")
    expect(page.locator("#ahead")).to_have_text("4")
    assert page.get_attribute("#state", "data-stage") == "waiting"
    expect(page.locator("#sound-on")).to_be_visible()
    _shot(page, "01-phone-waiting")
    page.click("#sound-on")  # the citizen's tap: audio and vibration allowed from now on
    expect(page.locator("#sound-on")).to_have_text("Suara aktif")
    buzz_before = page.evaluate("window.__buzz.length")

    # A001 called at gerai 1: three wait ahead of A005 now, within the notice (3): "Hampir giliran Anda"
    sent = time.time()
    assert _call(stack, 1).ticket == "A001"
    expect(page.locator("#state")).to_have_attribute("data-stage", "almost")
    latency_ms = int(page.get_attribute("#ticket", "data-updated")) - sent * 1000
    expect(page.locator("#banner")).to_have_text("Hampir giliran Anda")
    expect(page.locator("#ahead")).to_have_text("3")
    wait_for(lambda: page.evaluate("window.__buzz.length") > buzz_before, 5, "a vibration at 'almost'")
    assert page.evaluate("window.__beeps") >= 3  # the tap's beep, then two for "almost"
    _shot(page, "02-phone-almost")
    print(f"ticket page: call -> page updated in {latency_ms:.0f} ms (browser, SSE)")
    for n in (2, 3, 4):
        assert _call(stack, n).ticket == f"A00{n}"
    expect(page.locator("#ahead")).to_have_text("0")
    buzz_before, beeps_before = page.evaluate("window.__buzz.length"), page.evaluate("window.__beeps")

    # A005 called: the gerai, a sound and a vibration
    sent = time.time()
    assert _call(stack, 5).ticket == "A005"
    expect(page.locator("#state")).to_have_attribute("data-stage", "called")
    called_ms = int(page.get_attribute("#ticket", "data-updated")) - sent * 1000
    expect(page.locator("#gerai")).to_have_text("Gerai 1")
    expect(page.locator("#banner")).to_have_text("Giliran Anda!")
    wait_for(lambda: page.evaluate("window.__buzz.length") > buzz_before, 5, "a vibration at 'called'")
    assert page.evaluate("window.__beeps") >= beeps_before + 4
    assert page.title().startswith("GILIRAN ANDA")
    _shot(page, "03-phone-called")
    print(f"ticket page: call -> 'called' shown in {called_ms:.0f} ms (browser, SSE)")

    # served: the survey
    assert _call(stack, 6, m.Done).code == "served"
    expect(page.locator("#state")).to_have_attribute("data-stage", "survey")
    expect(page.locator("#survey fieldset.q")).to_have_count(9)
    assert "Bagaimana pendapat Saudara tentang kesesuaian persyaratan" in page.inner_text("#q1 legend")
    assert [t.strip() for t in page.locator("#q8 .opt span").all_inner_texts()] == [
        "Tidak ada", "Ada tetapi tidak berfungsi", "Berfungsi kurang maksimal", "Dikelola dengan baik"]
    expect(page.locator("#alert-box")).to_be_hidden()
    _shot(page, "04-phone-survey")
    page.locator("#q1").scroll_into_view_if_needed()
    _shot(page, "04b-phone-survey-first-questions", full=False)
    # sent with a question unanswered (the browser's own check skipped): the page says which, keeps the rest
    for i in range(1, 9):
        page.click(f"#q{i} .opt.s{3 if i == 3 else 4}")
    page.evaluate("document.getElementById('survey').noValidate = true")
    page.click("#send")
    expect(page.locator("#survey-error")).to_contain_text("U9 belum dijawab")
    assert page.is_checked("#q1 input[value='4']") and page.is_checked("#q3 input[value='3']")
    page.click("#q9 .opt.s4")
    page.select_option("#p-age", "30-39")
    page.select_option("#p-sex", "p")
    page.fill("#saran", "Ruang tunggu nyaman, terima kasih.")
    form = {k: page.input_value(f"#survey input[name={k}]") for k in ("k", "nonce")}
    page.click("#send")
    expect(page.locator("#state")).to_have_attribute("data-stage", "answered")
    expect(page.locator("#banner")).to_have_text("Terima kasih atas penilaian Anda!")
    _shot(page, "05-phone-thanks")
    # the same form again (a browser's resend): the first reply; another form: already answered: thanks
    fields = {**form, **{f"u{i}": "1" for i in range(1, 10)}}
    again = page.request.post(f"{stack.console.url}/t/{job.ticket_id}/survey", form=fields)
    assert again.status == 200 and "Terima kasih atas penilaian Anda" in again.text()
    other = page.request.post(f"{stack.console.url}/t/{job.ticket_id}/survey",
                              form={**fields, "nonce": "00000000000000ff"})
    assert other.status == 200 and "Terima kasih atas penilaian Anda" in other.text()
    answers = [e for e in stack.log_events() if isinstance(e, ev.SurveyAnswered)]
    assert [(a.ticket_id, a.scores, a.age, a.sex, a.channel) for a in answers] == [
        (job.ticket_id, [4, 4, 3, 4, 4, 4, 4, 4, 4], "30-39", "p", "phone")]
    assert answers[0].suggestion == "Ruang tunggu nyaman, terima kasih."
    # the page of a finished ticket has no live stream any more; a reload shows the thanks
    page.reload()
    expect(page.locator("#banner")).to_have_text("Terima kasih atas penilaian Anda!")
    assert page.get_attribute("#ticket", "data-live") == ""
    context.close()


def test_the_survey_tablet_by_the_exit(stack: TicketSite, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    tablet_url = stack.console.url
    today = dt.datetime.fromtimestamp(time.time(), stack.site.config.zone).date()
    until = today + dt.timedelta(days=31)
    link = f"{tablet_url}/t/kiosk?until={until.isoformat()}&k={stack.key.kiosk_token(until)}"
    context = stack.context(TABLET)
    page = context.new_page()
    page.set_default_timeout(10000)
    expired = today - dt.timedelta(days=1)
    assert page.request.get(f"{tablet_url}/t/kiosk?until={expired}&k={stack.key.kiosk_token(expired)}").status == 404
    page.goto(link)
    expect(page.locator(".kiosk-title")).to_have_text("Bagaimana layanan kami hari ini?")
    _shot(page, "07-tablet-entry")
    page.fill("#ticket-input", "A999")
    page.click("#find-btn")
    expect(page.locator("#kiosk-error")).to_contain_text("tidak ditemukan")
    page.fill("#ticket-input", "a-4")  # typed as people type it: A004
    page.click("#find-btn")
    expect(page.locator("#state")).to_have_attribute("data-stage", "survey")
    expect(page.locator("#number")).to_have_text("A004")
    for i, score in enumerate([3, 3, 3, 2, 3, 3, 3, 3, 3], start=1):
        page.click(f"#q{i} .opt.s{score}")
    page.fill("#saran", "=1+1 antrean lama")  # a formula-looking text must stay text in the exports
    _shot(page, "08-tablet-survey")
    page.click("#send")
    expect(page.locator("#banner")).to_have_text("Terima kasih atas penilaian Anda!")
    expect(page.locator("#reset-note")).to_contain_text("kembali ke awal")
    _shot(page, "09-tablet-thanks")
    page.wait_for_url(lambda url: "/t/kiosk?" in url and "until=" in url, timeout=15000)  # the screen resets
    expect(page.locator("#ticket-input")).to_be_visible()
    # a barcode scanner types the whole link of the ticket's QR code: A003's form
    page.fill("#ticket-input", _print_job(stack, "A003").url)
    page.click("#find-btn")
    expect(page.locator("#number")).to_have_text("A003")
    expect(page.locator("#state")).to_have_attribute("data-stage", "survey")
    page.click("#back")
    # A005 was answered on the phone: the tablet says so instead of a second form
    page.fill("#ticket-input", "A005")
    page.click("#find-btn")
    expect(page.locator("#banner")).to_have_text("Terima kasih atas penilaian Anda!")
    answers = [e for e in stack.log_events() if isinstance(e, ev.SurveyAnswered)]
    assert [(a.ticket_id[-4:], a.channel) for a in answers] == [("A005", "phone"), ("A004", "kiosk")]
    context.close()


def test_the_skm_summary_and_its_exports(stack: TicketSite, tmp_path: Path) -> None:
    from openpyxl import load_workbook
    from playwright.sync_api import expect

    # a quick rating from the gerai's pad: listed apart, never in the IKM
    assert stack.gerai.request(m.QuickRating(id="g1-browser-rate01", score=2, ticket="A005")).code == "rating_recorded"
    context = stack.context({"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10000)
    page.goto(stack.console.url + "/login?next=/skm")
    page.fill("input[name=name]", SUPERVISOR[0])
    page.fill("input[name=password]", SUPERVISOR[1])
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith("/skm")
    # by hand: A005 [4,4,3,4,4,4,4,4,4] (35) and A004 [3,3,3,2,3,3,3,3,3] (26): totals U1 7, U2 7, U3 6,
    # U4 6, U5..U9 7 (61); IKM = 61/18 = 3.3889; x25 = 84.72 -> B Baik.  Visitors: A001-A005 served (5):
    # s = 3.841*5*0.25 / (0.0025*4 + 0.96025) = 4.80125/0.97025 = 4.95 -> 5: two respondents, 3 short.
    expect(page.locator("#ikm")).to_have_text("84,72")
    expect(page.locator("#band")).to_have_text("Mutu B · Baik")
    expect(page.locator("#respondents")).to_have_text("2")
    expect(page.locator("#visitors")).to_have_text("5")
    expect(page.locator("#required")).to_contain_text("5")
    expect(page.locator("#enough")).to_have_text("kurang 3")
    assert page.inner_text("#el-U3 .nrr") == "3,00" and page.inner_text("#el-U1 .nrr") == "3,50"
    assert "Ruang tunggu nyaman" in page.inner_text("#suggestions")
    quick = page.inner_text("#quick")
    assert "Gerai 1" in quick and "2,00" in quick
    expect(page.locator("#kiosk-url")).to_contain_text("/t/kiosk?until=")
    _shot(page, "10-skm-summary")
    with page.expect_download() as info:
        page.click("#export-xlsx")
    path = tmp_path / "rekap.xlsx"
    info.value.save_as(path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Rekap SKM", "Per Unit", "Profil Responden", "Saran dan Masukan", "Penilaian Cepat"]
    ws = wb["Rekap SKM"]
    assert [ws.cell(row=6, column=c).value for c in range(1, 13)] == ["No", "Tanggal", "Layanan",
                                                                      *(f"U{i}" for i in range(1, 10))]
    rows = [[ws.cell(row=r, column=c).value for c in range(4, 13)] for r in (7, 8)]
    assert rows == [[4, 4, 3, 4, 4, 4, 4, 4, 4], [3, 3, 3, 2, 3, 3, 3, 3, 3]]
    labels = {ws.cell(row=r, column=1).value: r for r in range(9, 30)}
    assert [ws.cell(row=labels["Jumlah nilai per unsur"], column=c).value for c in range(4, 13)] == [
        7, 7, 6, 6, 7, 7, 7, 7, 7]
    nrr = [ws.cell(row=labels["NRR per unsur"], column=c).value for c in range(4, 13)]
    assert nrr == [3.5, 3.5, 3.0, 3.0, 3.5, 3.5, 3.5, 3.5, 3.5]
    assert ws.cell(row=labels["NRR per unsur"], column=4).number_format == "0.00"
    weighted = ws.cell(row=labels["NRR tertimbang per unsur (x 1/9)"], column=4).value
    assert weighted == pytest.approx(3.5 / 9)
    assert ws.cell(row=labels["IKM unit pelayanan (jumlah NRR tertimbang)"], column=4).value == pytest.approx(61 / 18)
    assert ws.cell(row=labels["Konversi IKM (IKM x 25)"], column=4).value == pytest.approx(84.72)
    assert ws.cell(row=labels["Mutu pelayanan"], column=4).value == "B"
    assert ws.cell(row=labels["Kinerja unit pelayanan"], column=4).value == "Baik"
    assert ws.cell(row=labels["Sampel minimal Krejcie-Morgan"], column=4).value == 5
    saran = wb["Saran dan Masukan"]
    texts = {saran.cell(row=r, column=3).value: saran.cell(row=r, column=3).data_type for r in (2, 3)}
    assert texts == {"=1+1 antrean lama": "s", "Ruang tunggu nyaman, terima kasih.": "s"}  # text, never a formula
    quick_sheet = wb["Penilaian Cepat"]
    assert [quick_sheet.cell(row=4, column=c).value for c in range(1, 7)] == ["Gerai 1", 0, 1, 0, 0, 1]
    units = {wb["Per Unit"].cell(row=r, column=2).value: r for r in range(2, 8)}
    assert wb["Per Unit"].cell(row=units["KTP-el"], column=17).value == pytest.approx(84.72)
    # the CSV: the same matrix, a formula-looking text defused
    csv_response = page.request.get(stack.console.url + page.get_attribute("#export-csv", "href"))
    assert csv_response.status == 200
    body = csv_response.body()
    assert body.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header = next(i for i, row in enumerate(table) if row and row[0] == "No")
    assert table[header + 1][4:13] == ["4", "4", "3", "4", "4", "4", "4", "4", "4"]
    assert any(row and row[17:18] == ["'=1+1 antrean lama"] for row in table)
    assert any(row[:1] == ["Konversi IKM (x25)"] and "84.72" in row for row in table)
    # staff may not see it; a bad period is a clear refusal
    bad = page.request.get(stack.console.url + "/skm?from=2024-13-01")
    assert bad.status == 400 and "TTTT-BB-HH" in bad.text()
    context.close()


def test_a_wrong_token_is_a_404_and_guessing_is_refused(stack: TicketSite) -> None:
    # (last: it gets this address refused for 10 minutes)
    context = stack.context(PHONE)
    page = context.new_page()
    job = _print_job(stack, "A004")
    good = job.url.rsplit("k=", 1)[1]
    wrong = good[:-1] + ("A" if good[-1] != "A" else "B")
    response = page.goto(f"{stack.console.url}/t/{job.ticket_id}?k={wrong}")
    assert response.status == 404 and "Halaman tidak ditemukan" in page.inner_text("#msg-title")
    _shot(page, "06-phone-wrong-token")
    for path in (f"/t/{job.ticket_id}", "/t/20231117-A001?k=AAAAAAAAAAAAAAAAAAAA", "/t/..%2f..%2fetc?k=x",
                 f"/t/{job.ticket_id}/live?k={wrong}"):
        assert page.request.get(stack.console.url + path).status == 404, path
    statuses = [page.request.get(f"{stack.console.url}/t/{job.ticket_id}?k={'C' * 20}").status for _ in range(20)]
    assert statuses[-1] == 429 and 404 in statuses  # 20 wrong tokens per 10 minutes from one address
    assert page.request.get(job.url).status == 429  # even the right one waits now, from this address
    wait_for(lambda: "wrong token for" in stack.console.output(), 5, "the console logs the wrong tokens")
    context.close()
