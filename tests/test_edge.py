"""The edge agent on mock hardware against a real broker and the central service."""

from __future__ import annotations

import signal
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


def test_paper_out_fails_the_job_and_the_ticket_is_not_lost(edge: EdgeStack) -> None:
    a = edge.gerai
    assert a.mock_printer is not None
    a.mock_printer.state = PrinterStatus.PAPER_OUT
    press(a, 27)
    wait_for(lambda: a.agent.printed, 10, "a print attempt")
    ticket, result = a.agent.printed[0]
    assert (ticket, result.ok, result.status) == ("A001", False, PrinterStatus.PAPER_OUT)
    assert a.mock_printer.tickets == []
    wait_for(lambda: "CETAK GAGAL" in shown(edge).status, 5, "the failure on the display")  # type: ignore[union-attr]
    # the ticket is in the queue all the same: another gerai calls it
    g2 = Device(edge.site, Role.GERAI, "g2")
    try:
        assert g2.request(m.CallNext(id="g2-after-paper-out")).ticket == "A001"
    finally:
        g2.close()
    store = EventStore(edge.site.dir / "central.db", "test", readonly=True)
    try:
        acks = [e for _, e in store.events() if isinstance(e, ev.PrintAcked)]
    finally:
        store.close()
    assert [(a.ticket_id.endswith("-A001"), a.ok, a.status) for a in acks] == [(True, False, "paper_out")]
    wait_for(lambda: a.agent.health().printer == "paper_out", 5, "printer status in health")


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
                     "--service", "ktp", "--timezone", "Asia/Makassar"]) == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        config = parse_device(out.read_text(), str(out))
        assert config.broker.password == site.secrets.password(Identity(Role.GERAI, "g1"))
        assert config.button[0].double == "recall" and config.device.timezone == "Asia/Makassar"

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
