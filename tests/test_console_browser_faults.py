"""The console's pages in Debian's Chromium (Playwright) when things fail, and on tablets: real
Mosquitto, the real central and ``antre console run`` as processes, simulated devices.

- every page fits a tablet (800x1280 and 1024x600): wide tables scroll in their own box, the page
  never scrolls sideways; screenshots are kept in ``var/console-screenshots/`` and were looked at;
- technicians see no "Terminal gerai" link; the fleet's badge counts alarms, not warnings; a failed
  sign-in keeps the name typed;
- the counter page says whether the queue server (central) is online;
- the broker going down: open pages say so at once (pushed, no reload), no device is shown OFFLINE
  for it, an action is answered at once; back when the broker is;
- the console going down: open pages say "Konsol tidak menjawab", a click says it got no answer; the
  console stops cleanly with browsers open (no traceback); they reconnect to the next console.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from antre.broker.wire.topics import Role
from antre.sim.procs import ConsoleProc
from antre.sim import procs
from antre.sim.sitefiles import SiteFiles
from tests.conftest import ROOT
from tests.harness import Device, Site, Stack, free_port, require_mosquitto, wait_for
from tests.browser import add_account, launch, playwright, sign_in
from tests.test_console_browser import SCREENSHOTS

PASSWORDS = {"ani": "admin-ani-123", "rina": "supervisor-rina", "teguh": "teknisi-teguh", "siti": "petugas-siti"}
TABLETS = {"tab800x1280": (800, 1280), "tab1024x600": (1024, 600)}


@dataclass
class Faults:
    stack: Stack
    console: ConsoleProc
    browser: Any
    devices: list[Device]

    @property
    def site(self) -> Site:
        return self.stack.site

    def page(self, user: str | None, size: tuple[int, int] = (1366, 768)) -> Any:
        context = self.browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="id-ID")
        page = context.new_page()
        page.set_default_timeout(10000)
        if user is not None:
            sign_in(page, self.console.url, user, PASSWORDS[user])
        return page


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    sync_playwright, expect = playwright()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    require_mosquitto()
    import tomllib

    # MPP Kota Kupang's site file: its long service names and 13 gerai are what tablets must fit
    kupang = tomllib.loads((ROOT / "examples" / "kupang.toml").read_text(encoding="utf-8"))
    directory = tmp_path_factory.mktemp("console-faults")
    site = SiteFiles(directory, free_port(), base=kupang)
    with procs.running_site("mosquitto", directory, site=site, report=print) as stack:
        for name, role, gerai in (("ani", "admin", ""), ("rina", "supervisor", ""), ("teguh", "technician", ""),
                                  ("siti", "staff", "g01")):
            add_account(stack.site.config_path, name, role, PASSWORDS[name], gerai)
        console = ConsoleProc(stack.site, free_port())
        console.start()
        devices: list[Device] = []
        try:
            console.wait_ready()
            devices = [Device(stack.site, Role.GERAI, g) for g in ("g01", "g02", "g03", "g04")]
            devices.append(Device(stack.site, Role.KIOSK, "kiosk-1"))
            with sync_playwright() as pw:
                browser = launch(pw)
                expect.set_options(timeout=10000)
                try:
                    yield Faults(stack, console, browser, devices)
                finally:
                    browser.close()
        finally:
            for d in devices:
                d.close()
            console.stop()
            print("--- console log\n" + console.output()[-20000:])


#: what sticks out of the window on the right (for the report when a page is too wide)
WIDEST = """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right >
  window.innerWidth + 1).slice(0, 5).map(e => e.tagName + '#' + (e.id || '') + '.' + e.className)"""


def _overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_every_page_fits_a_tablet(faults: Faults) -> None:
    from playwright.sync_api import expect

    wide: dict[str, int] = {}
    for label, size in TABLETS.items():
        page = faults.page("ani", size)
        for path in ("/site", "/counter/g01", "/day", "/fleet", "/accounts"):
            page.goto(faults.console.url + path)
            expect(page.locator("h1")).to_be_visible()
            page.wait_for_timeout(300)  # the live fragment's first push
            name = f"tablet-{path.strip('/').replace('/', '_')}-{label}"
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
            wide[name] = _overflow(page)
            if wide[name] > 0:
                print(name, page.evaluate(WIDEST))
        page.context.close()
    assert all(v <= 0 for v in wide.values()), wide


def test_technicians_see_no_counter_terminal_link(faults: Faults) -> None:
    page = faults.page("teguh")
    nav = page.inner_text("header nav")
    assert "Perangkat" in nav and "Terminal gerai" not in nav
    page.context.close()
    page = faults.page("siti")
    assert "Terminal gerai" in page.inner_text("header nav")
    page.context.close()


def test_the_fleet_badge_counts_alarms_not_warnings(faults: Faults) -> None:
    """Gerai g05 to g13 were never seen (warnings): the badge says 0 alarms and the warnings apart."""
    from playwright.sync_api import expect

    page = faults.page("teguh")
    expect(page.locator("#warning-count")).to_contain_text("peringatan")
    expect(page.locator("#alarm-count")).to_have_text("0")
    page.context.close()


def test_a_failed_sign_in_keeps_the_name(faults: Faults) -> None:
    page = faults.page(None)
    page.goto(faults.console.url + "/login")
    page.fill("input[name=name]", "rina")
    page.fill("input[name=password]", "salah-sekali")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "salah" in page.inner_text("#error")
    assert page.input_value("input[name=name]") == "rina" and page.input_value("input[name=password]") == ""
    page.context.close()


def test_the_counter_page_says_whether_the_queue_server_is_online(faults: Faults) -> None:
    from playwright.sync_api import expect

    page = faults.page("siti")
    assert page.url.endswith("/counter/g01")
    expect(page.locator("#central-state")).to_have_text("online")
    page.context.close()


def test_the_broker_going_down_shows_on_open_pages_and_actions_answer_at_once(faults: Faults) -> None:
    from playwright.sync_api import expect

    board = faults.page("rina")
    counter = faults.page("siti")
    expect(board.locator("#services")).to_be_visible()
    expect(counter.locator("#current-ticket")).to_be_visible()
    counter.wait_for_timeout(500)  # both live streams open
    assert board.locator("#broker-banner").count() == 0
    faults.stack.broker.stop()
    try:
        # pushed over the open pages' streams: no reload
        expect(board.locator("#broker-banner")).to_be_visible(timeout=15000)
        expect(counter.locator("#broker-banner")).to_be_visible(timeout=15000)
        expect(board.locator('[data-alarm="console:broker"]')).to_be_visible()
        board.wait_for_timeout(2500)  # a few ticks of the alarm evaluation
        assert board.locator('[data-alarm$=":offline"]').count() == 0, board.inner_text("#site-live")
        assert board.locator('[data-alarm="central"]').count() == 0
        assert "tidak diketahui" in board.inner_text("p.central")
        board.screenshot(path=str(SCREENSHOTS / "20-broker-down-site.png"))
        started = time.monotonic()
        counter.click("#btn-recall")
        expect(counter.locator("#reply .flash.bad")).to_contain_text("TIDAK dikirim")
        answered = time.monotonic() - started
        print(f"an action with the broker down answered after {answered * 1000:.0f} ms")
        counter.screenshot(path=str(SCREENSHOTS / "21-broker-down-counter.png"))
    finally:
        faults.stack.broker.start()
    expect(board.locator("#broker-banner")).to_have_count(0, timeout=30000)
    expect(counter.locator("#broker-banner")).to_have_count(0, timeout=30000)
    board.context.close()
    counter.context.close()


def test_the_console_going_down_shows_on_open_pages_and_stops_cleanly(faults: Faults) -> None:
    from playwright.sync_api import expect

    counter = faults.page("siti")
    board = faults.page("rina")
    expect(counter.locator("#current-ticket")).to_be_visible()
    expect(board.locator("#services")).to_be_visible()
    counter.wait_for_timeout(500)
    assert counter.locator("#console-banner").is_hidden()
    faults.console.stop()
    output = faults.console.output()
    assert "Traceback" not in output and "CancelledError" not in output, output[-4000:]
    assert "timeout graceful shutdown exceeded" not in output
    expect(counter.locator("#console-banner")).to_be_visible(timeout=15000)
    expect(board.locator("#console-banner")).to_be_visible(timeout=15000)
    counter.click("#btn-call_next")
    expect(counter.locator("#no-answer")).to_contain_text("Konsol tidak menjawab")
    counter.screenshot(path=str(SCREENSHOTS / "22-console-down-counter.png"))
    # the next console on the same port: the pages reconnect (the session lives in the console's database)
    again = ConsoleProc(faults.site, faults.console.http_port, name="console-again")
    again.start()
    try:
        again.wait_ready()
        expect(counter.locator("#console-banner")).to_be_hidden(timeout=30000)
        expect(board.locator("#console-banner")).to_be_hidden(timeout=30000)
    finally:
        counter.context.close()
        board.context.close()
        again.stop()
        print("--- second console log\n" + again.output()[-5000:])
    wait_for(lambda: not again.alive(), 10, "the second console stopped")
