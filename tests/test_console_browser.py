"""The operations console in a real browser: Debian's Chromium driven by Playwright, against a
real Mosquitto (generated ACLs), the real central and ``antre console run``, each a process.

- every role signs in and lands on its page; a screenshot of every page is kept in
  ``var/console-screenshots/`` (looked at by a person: see the report of issue 15);
- a press of the mock button of a gerai's real edge agent appears on the supervisor's dashboard
  and on the counter terminal, pushed over SSE;
- staff transfer the held ticket from the counter terminal: the gerai's own display (the edge
  agent's state) changes at once, and ``antre audit`` names the person;
- a kiosk's health report with a printer fault, and a gerai going offline, raise alarms on the
  fleet page within 10 s;
- a staff user is refused at another gerai and on the supervisor's pages; a form without its
  CSRF token, and bad input, are refused with a clear message; day control works end to end.
- a technician downloads gerai g1's provisioning bundle from the fleet page: the file parses as
  g1's device file with g1's secret only, its QR code is that file; staff and supervisors get 403,
  and every download is in the access journal.

Needs Chromium (``apt-get install chromium``, as ``.ci/run`` does) and Mosquitto; without them the
tests skip, or fail when ANTRE_REQUIRE_ALL is set (CI).  No browser is downloaded.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the dev extra installs it; the fixture says so
    expect = None

from antre.broker.wire import messages as m
from antre.broker.wire.topics import Channel, Role
from antre.sim.procs import ConsoleProc
from tests.browser import CHROMIUM, add_account, launch, playwright, require, sign_in
from tests.conftest import ROOT
from tests.harness import Device, Site, free_port, running_site, wait_for

SCREENSHOTS = ROOT / "var" / "console-screenshots"
PASSWORDS = {"ani": "admin-ani-123", "rina": "supervisor-rina", "teguh": "teknisi-teguh", "siti": "petugas-siti",
             "sari": "petugas-sari"}



@dataclass
class ConsoleSite:
    site: Site
    console: ConsoleProc
    edges: dict[str, Any]
    kiosk: Device
    browser: Any

    def press(self, gerai: str) -> None:
        """A press of the gerai's mock call button (gpiozero's mock pin, through the real agent)."""
        pin = self.edges[gerai].pin_factory.pin(17)
        pin.drive_low()
        time.sleep(0.12)  # a press a person makes: longer than the debounce
        pin.drive_high()

    def take(self, service: str, n: int) -> m.Reply:
        return self.kiosk.request(m.TakeTicket(id=f"k1-{service}-{n:06d}", service=service, print=False,
                                               ts=time.time()))

    def page(self, user: str | None) -> Any:
        """A fresh browser context (its own cookies), signed in as ``user``."""
        context = self.browser.new_context(viewport={"width": 1360, "height": 900}, locale="id-ID")
        page = context.new_page()
        page.set_default_timeout(10000)
        if user is not None:
            sign_in(page, self.console.url, user, PASSWORDS[user])
        return page


def _edge(site: Site, gerai: str) -> Any:
    from antre.edge.config import parse_device
    from antre.edge.setup import assemble

    extra: dict[str, Any] = {
        "gestures": {"debounce_ms": 20}, "button": [{"name": "utama", "pin": 17, "press": "call_next",
                                                       "double": "recall", "hold": "no_show"}],
        "display": {"type": "ssd1306"}}
    if gerai == "g1":  # a counter with its own printer (a pty answering as an ESC/POS printer): reprints
        extra["printer"] = {"port": "/dev/serial/by-id/usb-test", "baudrate": 9600}
    text = site.agent_config("gerai", gerai, extra=extra)
    assembly = assemble(parse_device(text, f"{gerai}.toml"), mock=True)
    assembly.agent.start()
    assert assembly.agent.ready.wait(15), f"edge agent {gerai} not ready"
    return assembly


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    sync_playwright, expect = playwright()
    directory = tmp_path_factory.mktemp("console")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with running_site("mosquitto", directory, central={"call_guard_s": 0}) as run:
        site = run.site
        for name, role, gerai in (("ani", "admin", ""), ("rina", "supervisor", ""), ("teguh", "technician", ""),
                                  ("siti", "staff", "g1"), ("sari", "staff", "g4")):
            add_account(site.config_path, name, role, PASSWORDS[name], gerai)
        console = ConsoleProc(site, free_port())
        console.start()
        edges: dict[str, Any] = {}
        kiosk = None
        try:
            console.wait_ready()
            edges = {g: _edge(site, g) for g in ("g1", "g2", "g4")}
            kiosk = Device(site, Role.KIOSK, "k1")
            kiosk.link.publish(kiosk.topics.kiosk("k1", Channel.PRESENCE), _encode(
                m.Presence(role="kiosk", device="k1", online=True, version="test", ts=time.time())), retain=True)
            with sync_playwright() as pw:
                browser = launch(pw)
                expect.set_options(timeout=10000)
                try:
                    yield ConsoleSite(site, console, edges, kiosk, browser)
                finally:
                    browser.close()
        finally:
            if kiosk is not None:
                kiosk.close()
            for assembly in edges.values():
                assembly.close()
            console.stop()
            print("--- console log\n" + console.output()[-20000:])


def _encode(msg: m.Message) -> bytes:
    from antre.broker.wire import codec

    return codec.encode(msg)


def _shot(page: Any, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_every_role_signs_in_and_lands_on_its_page(stack: ConsoleSite) -> None:
    page = stack.page(None)
    page.goto(stack.console.url + "/site")
    assert "/login" in page.url  # signed out: the sign-in page
    _shot(page, "01-login")
    page.fill("input[name=name]", "rina")
    page.fill("input[name=password]", "wrong-password")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "salah" in page.inner_text("#error")
    for user, path, heading in (("rina", "/site", "Situasi kini"), ("teguh", "/fleet", "Perangkat"),
                                ("siti", "/counter/g1", "Gerai 1"), ("ani", "/site", "Situasi kini")):
        p = stack.page(user)
        assert p.url.endswith(path), (user, p.url)
        assert heading in p.inner_text("h1")
        p.context.close()
    page.context.close()


def test_a_press_on_a_mock_gerai_appears_on_the_dashboard_and_the_counter(stack: ConsoleSite) -> None:
    assert stack.take("ktp", 1).ok and stack.take("ktp", 2).ok
    board = stack.page("rina")
    board.wait_for_selector("#services")
    counter = stack.page("siti")
    counter.wait_for_selector("#current-ticket")
    # both pages have their SSE stream open before the press
    expect(board.locator("#svc-ktp .waiting")).to_have_text("2")
    pressed = time.monotonic()
    stack.press("g1")
    expect(board.locator("#gerai-g1 .ticket")).to_contain_text("A001")
    on_board = time.monotonic() - pressed
    expect(counter.locator("#current-ticket")).to_have_text("A001")
    expect(board.locator("#svc-ktp .waiting")).to_have_text("1")
    print(f"press -> dashboard {on_board * 1000:.0f} ms (browser, including the edge agent's debounce)")
    assert stack.edges["g1"].agent.state.ticket == "A001"
    _shot(board, "02-site-now")
    _shot(counter, "03-counter-terminal")
    # the counter terminal's keyboard shortcut: N calls the next, as the physical button would
    counter.keyboard.press("n")
    expect(counter.locator("#current-ticket")).to_have_text("A002")
    wait_for(lambda: stack.edges["g1"].agent.state.ticket == "A002", 5, "the gerai display shows A002")
    board.context.close()
    counter.context.close()


def test_transfer_from_the_counter_terminal_changes_the_gerai_display(stack: ConsoleSite) -> None:
    counter = stack.page("siti")
    counter.goto(stack.console.url + "/counter/g1")
    agent = stack.edges["g1"].agent
    if agent.state.ticket is None:
        assert stack.take("ktp", 3).ok
        counter.click("#btn-call_next")
        wait_for(lambda: agent.state.ticket is not None, 5, "a ticket at g1")
    held = agent.state.ticket
    counter.select_option("#transfer-service", "npwp")
    counter.fill("#form-transfer input[name=note]", "perlu NPWP dulu")
    counter.click("#btn-transfer")
    counter.wait_for_selector("#reply .flash.ok")
    assert "dialihkan" in counter.inner_text("#reply")
    wait_for(lambda: agent.state.ticket is None and agent.state.status == "idle", 5, "g1's display freed")
    expect(counter.locator("#current-ticket")).to_have_text("—")
    # the ticket waits at npwp now: gerai 4's display counts it
    wait_for(lambda: stack.edges["g4"].agent.content().waiting >= 1, 5, "g4's display counts the transferred ticket")
    _shot(counter, "04-counter-after-transfer")
    audit = subprocess.run([sys.executable, "-m", "antre", "audit", "--config", str(stack.site.config_path)],
                           capture_output=True, text=True, check=True).stdout
    assert re.search(rf"g1: transferred \d{{8}}-{held} to npwp note: perlu NPWP dulu by siti \(console\)", audit), audit
    # pause needs a reason; out of order needs a reason: the browser's own check, then the central's
    counter.fill("#pause-input", "sholat")
    counter.click("#btn-pause")
    expect(counter.locator("#gerai-status")).to_contain_text("istirahat")
    wait_for(lambda: agent.state.status == "paused" and agent.state.note == "sholat", 5, "g1 paused")
    counter.click("#btn-resume")
    wait_for(lambda: agent.state.status == "idle", 5, "g1 resumed")
    counter.context.close()


def test_reprint_from_the_counter_terminal_prints_on_the_gerais_printer(stack: ConsoleSite) -> None:
    counter = stack.page("siti")
    counter.goto(stack.console.url + "/counter/g1")
    agent = stack.edges["g1"].agent
    mock = stack.edges["g1"].mock_printer
    assert mock is not None
    if agent.state.ticket is None:
        assert stack.take("ktp", 40).ok
        counter.click("#btn-call_next")
        wait_for(lambda: agent.state.ticket is not None, 5, "a ticket at g1")
        counter.wait_for_selector("#reply .flash.ok")  # the actions were redrawn (htmx)
    held = agent.state.ticket
    assert held is not None
    before = len(mock.tickets)
    counter.keyboard.press("c")  # the shortcut focuses the number; empty: the ticket being served
    counter.keyboard.press("Enter")
    expect(counter.locator("#reply .flash.ok")).to_contain_text(f"Cetak ulang {held}")
    assert mock.wait_tickets(before + 1, 10), "the reprint came out of g1's printer"
    printed = " ".join(str(op.arg) for op in mock.tickets[-1] if op.kind == "text")
    assert held in printed, printed
    # a number the counter does not serve is refused, with the central's reason
    counter.fill("#reprint-ticket", "Z999")
    counter.click("#btn-reprint")
    counter.wait_for_selector("#reply .flash.bad")
    _shot(counter, "04b-counter-reprint-refused")
    audit = subprocess.run([sys.executable, "-m", "antre", "audit", "--config", str(stack.site.config_path)],
                           capture_output=True, text=True, check=True).stdout
    assert re.search(rf"g1: reprint of \d{{8}}-{held} sent to the printer by siti \(console\)", audit), audit
    # gerai 2 has no printer (its health says so): the button says why instead of failing later
    other = stack.page("ani")
    other.goto(stack.console.url + "/counter/g2")
    if "g2" in stack.edges:
        expect(other.locator("#btn-reprint")).to_be_disabled()
        assert "tidak punya printer" in other.inner_text("#reprint-note")
    other.context.close()
    counter.context.close()


def test_an_action_for_the_ticket_on_screen_never_lands_on_another(stack: ConsoleSite) -> None:
    """The page showed one ticket while the button called the next: "Tidak hadir" clicked for the one on
    screen is refused (not_current) and the citizen now called is left alone."""
    counter = stack.page("siti")
    counter.goto(stack.console.url + "/counter/g1")
    agent = stack.edges["g1"].agent
    assert stack.take("ktp", 60).ok and stack.take("ktp", 61).ok
    # the stack is shared by the module: g1 may still serve a ticket of an earlier test, so wait for the
    # click's own call (not merely for some ticket) before the screen is frozen
    before = agent.state.ticket
    counter.click("#btn-call_next")
    wait_for(lambda: agent.state.ticket not in (None, before), 5, "the click called a ticket at g1")
    seen = agent.state.ticket
    expect(counter.locator("#current-ticket")).to_have_text(seen)
    # the screen does not catch up with the button (as in the half second after a press): the state
    # panel is frozen as drawn (a static copy, off the live stream)
    counter.evaluate("""() => { const el = document.getElementById('counter-state');
        const still = el.cloneNode(true); still.removeAttribute('sse-connect'); still.removeAttribute('hx-ext');
        still.removeAttribute('sse-swap'); el.replaceWith(still); }""")
    stack.press("g1")
    wait_for(lambda: agent.state.ticket not in (None, seen), 5, "the button called the next citizen")
    now_serving = agent.state.ticket
    expect(counter.locator("#current-ticket")).to_have_attribute("data-ticket", seen)
    counter.click("#btn-no_show")
    expect(counter.locator("#reply .flash.bad")).to_contain_text("Tidak dijalankan")
    assert agent.state.ticket == now_serving and agent.state.status == "serving"
    counter.context.close()


def test_device_alarms_reach_the_fleet_page_within_10_s(stack: ConsoleSite) -> None:
    fleet = stack.page("teguh")
    fleet.wait_for_selector("#devices")
    assert fleet.query_selector('[data-alarm="device:kiosk/k1:printer"]') is None
    health = m.Health(role="kiosk", device="k1", version="test", uptime_s=60.0, ts=time.time(), printer="paper_out",
                      display="absent", buttons="ok", rssi_dbm=-67)
    started = time.monotonic()
    stack.kiosk.link.publish(stack.kiosk.topics.kiosk("k1", Channel.HEALTH), _encode(health), qos=0, retain=True)
    fleet.wait_for_selector('[data-alarm="device:kiosk/k1:printer"]', timeout=10000)
    printer_s = time.monotonic() - started
    assert "paper_out" in fleet.inner_text("#dev-kiosk-k1 .printer")
    # the real agents report the address they reach the broker from
    expect(fleet.locator("#dev-gerai-g1 .ip")).to_have_text("127.0.0.1")
    # a gerai goes offline (its agent stops: its presence says so, or its will after the keepalive)
    started = time.monotonic()
    stack.edges.pop("g2").close()
    fleet.wait_for_selector('[data-alarm="device:gerai/g2:offline"]', timeout=10000)
    offline_s = time.monotonic() - started
    print(f"alarm on the fleet page: printer fault after {printer_s * 1000:.0f} ms, gerai offline after "
          f"{offline_s * 1000:.0f} ms")
    assert printer_s < 10 and offline_s < 10
    _shot(fleet, "05-fleet-alarms")
    # the printer is fixed: the alarm ends and stays in the history
    fixed = m.Health(role="kiosk", device="k1", version="test", uptime_s=70.0, ts=time.time(), printer="ok")
    stack.kiosk.link.publish(stack.kiosk.topics.kiosk("k1", Channel.HEALTH), _encode(fixed), qos=0, retain=True)
    expect(fleet.locator('[data-alarm="device:kiosk/k1:printer"]')).to_have_count(0)
    assert "paper_out" in fleet.inner_text("#alarm-history")
    fleet.context.close()


def test_staff_are_refused_at_another_gerai_and_on_supervisor_pages(stack: ConsoleSite) -> None:
    page = stack.page("siti")
    for path, text in (("/counter/g4", "tidak terdaftar untuk Gerai 4"), ("/site", "bukan untuk peran"),
                       ("/day", "bukan untuk peran"), ("/fleet", "bukan untuk peran"),
                       ("/accounts", "bukan untuk peran")):
        response = page.goto(stack.console.url + path)
        assert response.status == 403, path
        assert text in page.inner_text("#error"), path
    _shot(page, "06-staff-refused")
    # a forged post for another gerai, with a valid token: refused before anything is sent
    page.goto(stack.console.url + "/counter/g1")
    token = page.get_attribute("input[name=csrf]", "value")
    before = stack.edges["g4"].agent.state
    response = page.request.post(stack.console.url + "/counter/g4", form={
        "csrf": token, "nonce": "0123456789abcdef", "action": "call_next"})
    assert response.status == 403 and "tidak terdaftar" in response.text()
    assert stack.edges["g4"].agent.state.rev == before.rev
    page.context.close()


def test_csrf_and_bad_input_are_refused_with_a_clear_message(stack: ConsoleSite) -> None:
    page = stack.page("rina")
    page.goto(stack.console.url + "/counter/g1")
    token = page.get_attribute("input[name=csrf]", "value")
    url = stack.console.url + "/counter/g1"
    no_token = page.request.post(url, form={"nonce": "0123456789abcdef", "action": "call_next"})
    assert no_token.status == 403 and "CSRF" in no_token.text()
    wrong = page.request.post(url, form={"csrf": "x" * 43, "nonce": "0123456789abcdef", "action": "call_next"})
    assert wrong.status == 403 and "CSRF" in wrong.text()
    for form, text in (
        ({"action": "call_ticket", "ticket": "A999"}, "Alasan panggilan di luar urutan wajib diisi"),
        ({"action": "call_ticket", "ticket": "<script>", "reason": "ok ok"}, "bukan nomor antrean"),
        ({"action": "transfer", "service": "nope"}, "Layanan tujuan: pilihan tidak dikenal"),
        ({"action": "pause", "reason": "a\x00b"}, "karakter kendali"),
        ({"action": "rm -rf"}, "Perintah: pilihan tidak dikenal"),
        ({"action": "call_next", "nonce": "../../etc"}, "Formulir kedaluwarsa"),
    ):
        response = page.request.post(url, form={"csrf": token, "nonce": "fedcba9876543210", **form})
        assert response.status == 400, (form, response.status)
        assert text in response.text(), (form, response.text()[:500])
    # the central's own refusal comes back as its Indonesian text
    response = page.request.post(url, form={"csrf": token, "nonce": "00000000000000aa", "action": "call_ticket",
                                            "ticket": "Z999", "reason": "uji coba"})
    assert response.status == 200 and "tidak ditemukan" in response.text()
    # the same in the browser: a refusal shows in the page, not as a broken page
    page.goto(url)
    page.fill("#form-call-ticket input[name=ticket]", "Z998")
    page.fill("#form-call-ticket input[name=reason]", "uji coba")
    page.click("#btn-call_ticket")
    page.wait_for_selector("#reply .flash.bad")
    assert "Z998" in page.inner_text("#reply")
    day = stack.console.url + "/day"
    page.goto(day)
    token = page.get_attribute("input[name=csrf]", "value")
    response = page.request.post(day, form={"csrf": token, "nonce": "00000000000000ab", "action": "set_quota",
                                            "service": "ktp", "quota": "banyak"})
    assert response.status == 400 and "Kuota hari ini: isi dengan angka" in response.text()
    page.context.close()


def test_day_control_end_to_end(stack: ConsoleSite) -> None:
    page = stack.page("rina")
    page.goto(stack.console.url + "/day")
    page.wait_for_selector("#day-services")
    _shot(page, "07-day-control")
    page.select_option("#form-stop select[name=service]", "kk")
    page.fill("#form-stop input[name=reason]", "kapasitas hari ini penuh")
    page.click("#form-stop button[value=stop_issuing]")
    page.wait_for_selector(".flash.ok")
    assert "dihentikan" in page.inner_text("#flash")
    refused = stack.take("kk", 1)
    assert not refused.ok and refused.code == "issuing_stopped"
    expect(page.locator("#day-kk")).to_contain_text("dihentikan")
    page.select_option("#form-quota select[name=service]", "ktp")
    page.fill("#form-quota input[name=quota]", "5")
    page.click("#form-quota button")
    page.wait_for_selector(".flash.ok")
    page.fill("#form-message input[name=text]", "Layanan KK hari ini sudah penuh")
    page.click("#form-message button")
    page.wait_for_selector(".flash.ok")
    expect(page.locator("#day-live")).to_contain_text("sudah penuh")
    _shot(page, "08-day-control-after")
    audit = subprocess.run([sys.executable, "-m", "antre", "audit", "--config", str(stack.site.config_path)],
                           capture_output=True, text=True, check=True).stdout
    assert "stopped issuing for kk, reason: kapasitas hari ini penuh by rina (console)" in audit
    assert "today's quota of ktp set to 5 by rina (console)" in audit
    admin = stack.page("ani")
    admin.goto(stack.console.url + "/accounts")
    assert "siti" in admin.inner_text("#users") and "login" in admin.inner_text("#journal")
    _shot(admin, "09-accounts")
    admin.goto(stack.console.url + "/fleet")
    admin.context.close()
    page.context.close()


def test_a_technician_downloads_a_devices_bundle_and_staff_are_refused(stack: ConsoleSite) -> None:
    import segno

    from antre.broker.admin import credentials as creds
    from antre.broker.admin.acl import Identity
    from antre.deploy import qr_payload
    from antre.edge.config import parse_device

    secrets = creds.load(stack.site.credentials_path)
    g1_password = secrets.password(Identity(Role.GERAI, "g1"))
    fleet = stack.page("teguh")
    fleet.goto(stack.console.url + "/fleet")
    fleet.wait_for_selector("#bundle-gerai-g1")
    _shot(fleet, "10-fleet-bundles")
    with fleet.expect_download() as info:
        fleet.click("#bundle-gerai-g1")
    download = info.value
    assert download.suggested_filename == "g1.toml"
    text = Path(download.path()).read_text(encoding="utf-8")
    device = parse_device(text, "g1.toml")  # the agent's own parser
    assert (device.device.site, device.device.role, device.device.id) == (stack.site.config.site_id, "gerai", "g1")
    assert device.broker.password == g1_password
    assert device.broker.host == stack.site.config.broker.host
    # only g1's secret: no other identity's password is anywhere in the file
    others = [pw for user, pw in secrets.secrets.items() if pw != g1_password]
    assert others and not [pw for pw in others if pw in text]
    url = stack.console.url + "/fleet/bundle"
    response = fleet.request.get(url, params={"device": "gerai:g1", "format": "toml"})
    assert response.status == 200
    assert response.headers["content-disposition"] == 'attachment; filename="g1.toml"'
    assert response.headers["cache-control"] == "no-store"
    # the QR code: exactly g1's file without its comments, as antre edge bundle draws it
    qr = fleet.request.get(url, params={"device": "gerai:g1", "format": "png"})
    assert qr.status == 200 and qr.headers["content-type"] == "image/png"
    assert qr.headers["cache-control"] == "no-store"
    png = SCREENSHOTS / "11-bundle-g1-qr.png"
    png.write_bytes(qr.body())
    expected = segno.make(qr_payload(text), error="m", micro=False)
    redrawn = SCREENSHOTS / "11-bundle-g1-qr-expected.png"
    expected.save(str(redrawn), scale=5, border=4)
    assert qr.body() == redrawn.read_bytes()
    redrawn.unlink()
    # another device's hardware from the form: a kiosk with its printer and service
    fleet.select_option("#form-bundle select[name=device]", "kiosk:k1")
    fleet.fill("#form-bundle input[name=printer]", "/dev/ttyUSB0")
    fleet.select_option("#form-bundle select[name=display]", "none")
    with fleet.expect_download() as info:
        fleet.click("#btn-bundle-toml")
    kiosk = parse_device(Path(info.value.path()).read_text(encoding="utf-8"), "k1.toml")
    assert kiosk.device.id == "k1" and kiosk.printer is not None and kiosk.printer.port == "/dev/ttyUSB0"
    assert kiosk.tickets is not None and kiosk.broker.password == secrets.password(Identity(Role.KIOSK, "k1"))
    # values that could not be a device file's are refused with a clear message; unknown devices too
    for params, status, words in (({"device": "gerai:g1", "printer": '/dev/x"\n[broker]'}, 400, "Port printer"),
                                  ({"device": "gerai:g1", "buttons": "a:17:call_next\"x"}, 400, "Tombol"),
                                  ({"device": "central:main"}, 404, "tidak dikenal"),
                                  ({"device": "gerai:g99"}, 404, "tidak dikenal")):
        bad = fleet.request.get(url, params=params)
        assert bad.status == status and words in bad.text(), (params, bad.status, bad.text()[:300])
    fleet.context.close()
    # staff and supervisors: refused, and the supervisor's fleet page has no bundle links
    for user in ("siti", "rina"):
        page = stack.page(user)
        refused = page.request.get(url, params={"device": "gerai:g1", "format": "toml"})
        assert refused.status == 403 and g1_password not in refused.text(), user
        assert "bukan untuk peran" in refused.text()
        if user == "rina":
            page.goto(stack.console.url + "/fleet")
            page.wait_for_selector("#devices")
            assert page.query_selector("#bundle-gerai-g1") is None and page.query_selector("#form-bundle") is None
        page.context.close()
    # every download is in the access journal that admins read
    admin = stack.page("ani")
    admin.goto(stack.console.url + "/accounts")
    journal = admin.inner_text("#journal")
    # in Indonesian, each kind with its code beside it for the technician
    assert re.search(r"teguh\s.*mengunduh bundel perangkat bundle\s+gerai g1 berkas perangkat", journal), journal
    assert re.search(r"teguh\s.*bundle\s+gerai g1 kode QR", journal), journal
    assert re.search(r"siti\s.*ditolak: bukan haknya refused\s+/fleet/bundle", journal), journal
    admin.context.close()


def test_a_removed_account_is_signed_out_at_once(stack: ConsoleSite) -> None:
    add_account(stack.site.config_path, "tmp-user", "supervisor", "sementara-123")
    PASSWORDS["tmp-user"] = "sementara-123"
    page = stack.page("tmp-user")
    assert page.url.endswith("/site")
    subprocess.run([sys.executable, "-m", "antre", "console", "user", "remove", "tmp-user", "--config",
                    str(stack.site.config_path)], check=True, capture_output=True)
    page.goto(stack.console.url + "/site")
    assert "/login" in page.url
    page.context.close()


def test_sign_in_is_rate_limited(stack: ConsoleSite) -> None:
    page = stack.page(None)
    page.goto(stack.console.url + "/login")
    statuses = []
    for _ in range(6):
        page.fill("input[name=name]", "ani")
        page.fill("input[name=password]", "not-the-password")
        with page.expect_navigation() as nav:
            page.click("button[type=submit]")
        statuses.append(nav.value.status)
    assert statuses[:5] == [401] * 5 and statuses[5] == 429, statuses
    assert "Terlalu banyak percobaan" in page.inner_text("#error")
    # even the right password waits now
    page.fill("input[name=name]", "ani")
    page.fill("input[name=password]", PASSWORDS["ani"])
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "Terlalu banyak percobaan" in page.inner_text("#error")
    page.context.close()


def test_chromium_is_debians_and_no_browser_was_downloaded() -> None:
    require(Path(CHROMIUM).exists(), "Debian's chromium (/usr/bin/chromium)")
    assert shutil.which("chromium") or Path(CHROMIUM).exists()
    cache = Path.home() / ".cache" / "ms-playwright"
    assert not any(cache.glob("chromium-*")) if cache.exists() else True
