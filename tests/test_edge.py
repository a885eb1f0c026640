"""The edge agent on mock hardware against a real broker and the central service."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from antre.broker.admin.acl import Identity
from antre.broker.wire.topics import Role
from antre.edge.config import EdgeConfigError, parse_device
from antre.edge.setup import Assembly, assemble
from antre.hardware import escpos
from antre.hardware.escpos import PrinterStatus
from tests.harness import BrokerProc, CentralProc, Device, Site, free_port, running_site, wait_for
from antre.broker.wire import messages as m
from antre.central import events as ev
from antre.central.store import EventStore

DEVICE = """
health_interval_s = 5

[device]
site = "test"
role = "{role}"
id = "{id}"

[broker]
host = "127.0.0.1"
port = {port}
password = "{password}"
keepalive = 2

[gestures]
debounce_ms = 0

{buttons}

[display]
type = "ssd1306"

[printer]
port = "mock"

[tickets]
service = "ktp"
"""

GERAI_BUTTONS = """
[[button]]
name = "panggil"
pin = 17
press = "call_next"
hold = "no_show"

[[button]]
name = "tiket"
pin = 27
press = "take_ticket"
"""


def device_toml(site: Site, role: str, device: str, buttons: str = GERAI_BUTTONS) -> str:
    who = Identity(Role(role), device)
    return DEVICE.format(role=role, id=device, port=site.port, password=site.secrets.password(who), buttons=buttons)


@dataclass
class EdgeStack:
    site: Site
    broker: BrokerProc
    central: CentralProc
    gerai: Assembly


def press(assembly: Assembly, pin: int) -> None:
    p = assembly.pin_factory.pin(pin)
    p.drive_low()
    p.drive_high()


@pytest.fixture(params=["mosquitto", "embedded"])
def edge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EdgeStack]:
    with running_site(request.param, tmp_path) as running:
        site = running.site
        gerai = assemble(mock=True, config=parse_device(device_toml(site, "gerai", "g1"), "g1.toml"))
        gerai.agent.start()
        try:
            assert gerai.agent.ready.wait(10)
            yield EdgeStack(site, running.broker, running.central, gerai)
        finally:
            gerai.close()


def shown(stack: EdgeStack) -> object:
    return stack.gerai.agent.hw.display.last  # type: ignore[union-attr]


def test_take_ticket_press_prints_and_call_press_shows_the_number(edge: EdgeStack) -> None:
    a = edge.gerai
    press(a, 27)  # take a ticket at this gerai's ticket button
    assert a.mock_printer is not None and a.mock_printer.wait_tickets(1, 10)
    printed = escpos.texts(a.mock_printer.tickets[0])
    assert "A001" in printed and "MPP Uji" in printed and "KTP-el" in printed
    assert any(t.startswith("Menunggu di depan Anda: 0") for t in printed)
    wait_for(lambda: a.agent.printed and a.agent.printed[-1][1].ok, 10, "print acknowledged")
    wait_for(lambda: shown(edge) is not None and shown(edge).waiting == 1, 10, "waiting count 1")  # type: ignore[union-attr]
    press(a, 17)  # call next
    wait_for(lambda: shown(edge).number == "A001", 10, "A001 on the display")  # type: ignore[union-attr]
    assert shown(edge).status == "MELAYANI"  # type: ignore[union-attr]
    frame = a.agent.hw.display.device.image  # type: ignore[union-attr]
    assert sum(frame.crop((10, 14, 118, 50)).histogram()[1:]) > 300


def test_a_printer_out_of_paper_issues_nothing_and_shows_why(edge: EdgeStack) -> None:
    """The field failure: a kiosk without paper kept sending take_ticket; the central issued numbers
    nobody held, and they were called.  Now nothing is sent, the display says why."""
    a = edge.gerai
    assert a.mock_printer is not None
    a.mock_printer.state = PrinterStatus.PAPER_OUT
    press(a, 27)
    wait_for(lambda: shown(edge).status == "!KERTAS HABIS", 5, "KERTAS HABIS on the display")  # type: ignore[union-attr]
    assert a.agent.printed == [] and len(a.agent.outbox) == 0
    g2 = Device(edge.site, Role.GERAI, "g2")
    try:
        assert g2.request(m.CallNext(id="g2-after-paper-out")).code == "queue_empty"  # nothing was issued
    finally:
        g2.close()
    wait_for(lambda: a.agent.health().printer == "paper_out", 5, "printer status in health")
    assert any("KERTAS HABIS" in f for f in a.agent.health().faults)
    a.mock_printer.state = PrinterStatus.OK  # paper loaded: the display says so within a poll
    wait_for(lambda: shown(edge).status == "SIAP", 10, "SIAP again")  # type: ignore[union-attr]
    press(a, 27)
    assert a.mock_printer.wait_tickets(1, 10)


def test_paper_running_out_mid_ticket_keeps_it_off_the_queue_until_reprinted(edge: EdgeStack) -> None:
    a = edge.gerai
    assert a.mock_printer is not None
    a.mock_printer.paper_left = 1  # one ticket, then it runs out in the middle of the next one
    press(a, 27)
    assert a.mock_printer.wait_tickets(1, 10)
    wait_for(lambda: shown(edge).waiting == 1, 10, "A001 waiting")  # type: ignore[union-attr]
    press(a, 27)  # the status said OK: A002 is issued, and its print fails
    wait_for(lambda: len(a.agent.printed) == 2, 10, "a second print attempt")
    ticket, result = a.agent.printed[1]
    assert (ticket, result.ok, result.status) == ("A002", False, PrinterStatus.PAPER_OUT)
    wait_for(lambda: "CETAK GAGAL A002" in shown(edge).status or shown(edge).status == "!KERTAS HABIS", 5,
             "the failure on the display")  # type: ignore[union-attr]
    assert [job.ticket for job, _ in a.agent.kept.values()] == ["A002"]
    # the central keeps A002 but does not count it as waiting: nobody holds it
    wait_for(lambda: shown(edge).waiting == 1, 10, "A002 not counted as waiting")  # type: ignore[union-attr]
    g2 = Device(edge.site, Role.GERAI, "g2")
    try:
        assert g2.request(m.CallNext(id="g2-after-paper-out-1")).ticket == "A001"
        assert g2.request(m.CallNext(id="g2-after-paper-out-2")).code == "queue_empty"  # A002 is not called
        a.mock_printer.paper_left = None
        a.mock_printer.state = PrinterStatus.OK  # paper loaded: the kept ticket is reprinted by itself
        assert a.mock_printer.wait_tickets(2, 15)
        assert "A002" in escpos.texts(a.mock_printer.tickets[1])
        wait_for(lambda: not a.agent.kept, 10, "nothing kept any more")
        wait_for(lambda: g2.request(m.CallNext(id=f"g2-reprinted-{time.monotonic_ns()}")).ticket == "A002", 10,
                 "A002 waiting again, then called")
    finally:
        g2.close()
    store = EventStore(edge.site.dir / "central.db", "test", readonly=True)
    try:
        events = [e for _, e in store.events()]
    finally:
        store.close()
    acks = [(e.ticket_id[-4:], e.ok, e.status) for e in events if isinstance(e, ev.PrintAcked)]
    assert acks == [("A001", True, "ok"), ("A002", False, "paper_out"), ("A002", True, "ok")]
    assert [e.ticket_id[-4:] for e in events if isinstance(e, ev.TicketReprinted)] == ["A002"]


def test_a_slow_double_press_calls_one_citizen_and_the_display_says_why(edge: EdgeStack) -> None:
    """The field failure: a double press with a 400 ms gap called two citizens (the first marked served
    without being served).  Real presses on the mock pins, 400 ms apart: one call, and the refusal
    (the reply's code double_press) on the display."""
    a = edge.gerai
    press(a, 27)
    press(a, 27)
    wait_for(lambda: shown(edge).waiting == 2, 10, "two tickets waiting")  # type: ignore[union-attr]
    pin = a.pin_factory.pin(17)
    for gap in (0.4, 0.0):
        pin.drive_low()
        pin.drive_high()
        threading.Event().wait(gap)
    wait_for(lambda: any(r.code == "double_press" for r in a.agent.replies.values()), 10, "the refusal")
    wait_for(lambda: shown(edge).status == "!Tekan 2x: A001 baru dipanggil", 5,  # type: ignore[union-attr]
             "the reason on the display")
    assert shown(edge).number == "A001" and shown(edge).waiting == 1  # type: ignore[union-attr]
    codes = sorted(r.code for r in a.agent.replies.values() if r.code in ("called", "double_press"))
    assert codes == ["called", "double_press"]


def test_broker_loss_shows_offline_refuses_presses_and_recovers(edge: EdgeStack) -> None:
    a = edge.gerai
    press(a, 27)
    press(a, 17)
    wait_for(lambda: shown(edge).number == "A001", 10, "A001")  # type: ignore[union-attr]
    edge.broker.signal(signal.SIGTERM)
    edge.broker.wait(15)
    wait_for(lambda: shown(edge).status == "OFFLINE", 10, "OFFLINE on the display")  # type: ignore[union-attr]
    assert shown(edge).number == "A001"  # type: ignore[union-attr]  # the last known number stays
    assert a.agent.act("call_next") is None  # refused at once, not queued
    wait_for(lambda: shown(edge).status == "!TIDAK TERKIRIM", 2, "a visible refusal")  # type: ignore[union-attr]
    edge.broker.start()
    wait_for(lambda: a.agent.link.connected.is_set(), 30, "reconnect")
    edge.central.wait_ready()
    wait_for(lambda: shown(edge).status == "MELAYANI" and shown(edge).number == "A001", 30,  # type: ignore[union-attr]
             "the truth again after reconnecting")
    # and the refused press never arrives later as a surprise call
    press(a, 27)
    wait_for(lambda: shown(edge).waiting == 1, 10, "a new ticket waiting")  # type: ignore[union-attr]
    assert shown(edge).number == "A001"  # type: ignore[union-attr]


def test_device_config_is_validated() -> None:
    with pytest.raises(EdgeConfigError, match="broker.password"):
        parse_device('[device]\nsite="test"\nid="g1"\n[broker]\nhost="x"\npassword="short"\n', "d.toml")
    with pytest.raises(EdgeConfigError, match="same GPIO pin"):
        parse_device('[device]\nsite="test"\nid="g1"\n[broker]\nhost="x"\npassword="' + "p" * 20 + '"\n'
                     '[[button]]\nname="a"\npin=17\n[[button]]\nname="b"\npin=17\n', "d.toml")
    with pytest.raises(EdgeConfigError, match="needs \\[tickets\\]"):
        parse_device('[device]\nsite="test"\nid="g1"\n[broker]\nhost="x"\npassword="' + "p" * 20 + '"\n'
                     '[[button]]\nname="a"\npin=17\npress="take_ticket"\n', "d.toml")
    with pytest.raises(EdgeConfigError, match="device.id"):
        parse_device('[device]\nsite="test"\nid="G 1"\n[broker]\nhost="x"\npassword="' + "p" * 20 + '"\n', "d.toml")


def test_provision_writes_a_valid_private_config_and_selftest_runs_it(tmp_path: Path) -> None:
    import io
    import stat
    import threading

    from antre.cli import main
    from antre.edge.main import selftest

    with running_site("mosquitto", tmp_path) as stack:
        site = stack.site
        out = tmp_path / "dev" / "g1.toml"
        assert main(["edge", "provision", "--site", "test", "--id", "g1", "--broker-host", "127.0.0.1",
                     "--broker-port", str(site.port), "--credentials", str(site.credentials_path), "--out", str(out),
                     "--mock", "--serial-port", "mock", "--button", "panggil:17:call_next:recall:no_show",
                     "--service", "ktp", "--timezone", "Asia/Makassar", "--baud", "9600"]) == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        config = parse_device(out.read_text(), str(out))
        assert config.broker.password == site.secrets.password(Identity(Role.GERAI, "g1"))
        assert config.button[0].double == "recall" and config.device.timezone == "Asia/Makassar"
        assert config.printer is not None and config.printer.baudrate == 9600  # many 58 mm printers ship at 9600

        report = io.StringIO()
        pressed = threading.Event()

        def technician(prompt: str) -> None:  # presses the button the selftest asks for
            report.write(prompt + "\n")
            if "press button" in prompt:
                pressed.set()

        result: list[int] = []
        import antre.edge.setup as setup_mod

        original = setup_mod.assemble

        def assemble_and_press(cfg, **kwargs):  # type: ignore[no-untyped-def]
            assembly = original(cfg, **kwargs)

            def press_when_asked() -> None:
                if pressed.wait(20):
                    pin = assembly.pin_factory.pin(17)
                    pin.drive_low()
                    threading.Event().wait(0.1)  # a finger on the button, longer than the debounce
                    pin.drive_high()

            threading.Thread(target=press_when_asked, daemon=True).start()
            return assembly

        import antre.edge.main as edge_main

        edge_main.assemble = assemble_and_press  # type: ignore[assignment]
        try:
            result.append(selftest(str(out), report, ask=technician, timeout=10, mock=True, pattern_seconds=0.2))
        finally:
            edge_main.assemble = original  # type: ignore[assignment]
    text = report.getvalue()
    assert result == [0], text
    assert "OK     own topics:" in text
    assert "OK     display oled: test pattern shown" in text
    assert "OK     printer status: ok" in text and "OK     test ticket: ok" in text
    assert "OK     button panggil: pressed and seen" in text


def test_provision_rejects_bad_values(tmp_path: Path) -> None:
    from antre.cli import main

    site = Site(tmp_path, free_port())
    common = ["edge", "provision", "--site", "test", "--broker-host", "127.0.0.1", "--credentials",
              str(site.credentials_path), "--out", str(tmp_path / "x.toml")]
    assert main(common + ["--id", "g9"]) == 78  # no credentials for an unknown gerai (EX_CONFIG)
    assert main(common + ["--id", "g1", "--button", "a:99:call_next"]) == 78  # no GPIO 99
    assert main(common + ["--id", "g1", "--button", "a:17:fly"]) == 78  # no such action
    assert not (tmp_path / "x.toml").exists()


def test_mock_hardware_is_chosen_at_run_time_never_by_the_device_file(tmp_path: Path) -> None:
    from antre.edge.setup import mock_from_env

    site = Site(tmp_path, free_port())
    text = device_toml(site, "gerai", "g1")
    parse_device("mock_gpio = false\n" + text.replace('type = "ssd1306"', 'type = "ssd1306"\nmock = false'), "old.toml")
    for line, key in (("mock_gpio = true\n", "mock_gpio"), ("", "display.mock")):
        bad = line + text if line else text.replace('type = "ssd1306"', 'type = "ssd1306"\nmock = true')
        with pytest.raises(EdgeConfigError, match=rf"{key}: mock hardware is chosen when the agent starts"):
            parse_device(bad, "old.toml")
    assert mock_from_env({}) == (False, False) and mock_from_env({"ANTRE_MOCK": "0"}) == (False, False)
    assert mock_from_env({"ANTRE_MOCK": "1"}) == (True, False)
    assert mock_from_env({"ANTRE_MOCK": "emulator"}) == (True, True)


def test_a_print_job_at_a_gerai_without_a_printer_is_answered_and_not_kept(edge: EdgeStack) -> None:
    """A reprint sent to a counter that has no printer: acknowledged as failed at once, said on the
    display, never kept for a printer that will not come back (no lasting false alarm)."""
    text = device_toml(edge.site, "gerai", "g2").replace('[printer]\nport = "mock"\n', "").replace(
        '[tickets]\nservice = "ktp"\n', "").replace('press = "take_ticket"', 'press = "call_next"')
    g2 = assemble(mock=True, config=parse_device(text, "g2.toml"))
    g2.agent.start()
    try:
        assert g2.agent.ready.wait(10) and g2.agent.hw.printer is None
        job = m.PrintJob(job="p-20231117-A001", ticket_id="20231117-A001", ticket="A001", service="ktp",
                         service_name="KTP-el", agency_name="Dukcapil", site_name="MPP Uji", issued_at=1700198100.0,
                         issued_text="Jumat, 17 November 2023 10:15 WITA", ahead=0)
        notices: list[str] = []
        said = g2.agent._notify
        g2.agent._notify = lambda text: (notices.append(text), said(text))[1]  # type: ignore[method-assign]
        g2.agent._jobs.put(job)
        wait_for(lambda: g2.agent.printed and not g2.agent.printed[-1][1].ok, 10, "the job answered as failed")
        wait_for(lambda: any("TIDAK ADA PRINTER" in n for n in notices), 5, "the display says why")
        assert not g2.agent.kept
        assert not [f for f in g2.agent.health().faults if f.startswith("printer")]
    finally:
        g2.close()
