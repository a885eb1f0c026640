"""Ticket printers through a socat pty pair, and the ticket layout measured from its bytes.

The printer sits at the far end of a real pty pair made by socat (antre.sim.printer): it
answers DLE EOT status queries, reports paper out or cover open, stops answering, and
disappears (socat ends, the driver's port fails with EIO, its by-id name is gone) and comes
back under the same name.  The driver is the production SerialPrinter; the kiosk is the
production edge agent on a real broker and central.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antre.broker.wire import messages as m
from antre.broker.wire.topics import Role
from antre.central import events as ev
from antre.central.config import SiteConfig
from antre.central.store import EventStore
from antre.central.texts import format_datetime_id
from antre.edge.config import parse_device
from antre.edge.setup import assemble
from antre.hardware import escpos
from antre.hardware.escpos import PrinterStatus
from antre.hardware.gestures import Gesture
from antre.hardware.printer import PRIORITY_ID, SerialPrinter, Ticket, render_ticket
from antre.sim.printer import SocatPrinter
from antre.sim.procs import MissingTool
from tests.harness import Device, running_site, wait_for


@pytest.fixture
def socat_printer(tmp_path: Path) -> Iterator[SocatPrinter]:
    try:
        printer = SocatPrinter(tmp_path / "serial" / "by-id")
    except MissingTool as exc:
        if os.environ.get("ANTRE_REQUIRE_ALL"):
            pytest.fail(f"{exc} (ANTRE_REQUIRE_ALL is set)")
        pytest.skip(str(exc))
    try:
        yield printer
    finally:
        printer.close()


def ticket(number: str = "A012", **kw: object) -> Ticket:
    fields: dict[str, object] = dict(site_name="Mal Pelayanan Publik Kota Kupang", agency_name="Dinas Dukcapil",
                                     service_name="Perekaman KTP-el", number=number, ticket_id=f"20260930-{number}",
                                     issued_text="Rabu, 30 September 2026 10:15 WITA", ahead=3, est_wait_min=12)
    fields.update(kw)
    return Ticket(**fields)  # type: ignore[arg-type]


# ----------------------------------------------------------------- the driver on a pty


def test_status_comes_from_the_printer_and_silence_is_never_ok(socat_printer: SocatPrinter) -> None:
    driver = SerialPrinter(str(socat_printer.device_path), 9600, 58, timeout=0.3)
    try:
        assert driver.status() is PrinterStatus.OK and driver.problem == ""
        for state in (PrinterStatus.PAPER_OUT, PrinterStatus.COVER_OPEN, PrinterStatus.PAPER_NEAR_END):
            socat_printer.set(state=state)
            assert driver.status() is state
        socat_printer.set(state=PrinterStatus.PAPER_OUT)
        result = driver.print_ticket(ticket())
        assert (result.ok, result.status) == (False, PrinterStatus.PAPER_OUT) and socat_printer.tickets == []
        socat_printer.set(state=PrinterStatus.OK, silent=True)  # switched off: it answers nothing
        started = time.monotonic()
        assert driver.status() is PrinterStatus.UNKNOWN and "no answer" in driver.problem
        assert time.monotonic() - started < 2  # one unanswered query is enough to know
        assert not driver.print_ticket(ticket()).ok
        socat_printer.set(silent=False)
        assert driver.print_ticket(ticket()).ok and socat_printer.wait_tickets(1, 5)
    finally:
        driver.close()


def test_a_printer_unplugged_and_plugged_back_is_reopened_by_its_name(socat_printer: SocatPrinter) -> None:
    """The field failure: after the printer was unplugged and plugged back its port was never
    reopened; every later ticket failed until the service restarted."""
    driver = SerialPrinter(str(socat_printer.device_path), 9600, 58, timeout=0.3)
    try:
        assert driver.print_ticket(ticket("A001")).ok
        socat_printer.unplug()
        assert driver.status() is PrinterStatus.UNKNOWN and driver.problem.startswith("not connected")
        assert not driver.connected
        assert driver.status() is PrinterStatus.UNKNOWN  # still gone: tried again, no crash
        result = driver.print_ticket(ticket("A002"))
        assert not result.ok and "not connected" in result.detail
        socat_printer.plug()
        assert socat_printer.plugs == 2  # a new pty pair behind the same name
        assert driver.status() is PrinterStatus.OK and driver.connected and driver.opens == 2
        assert driver.print_ticket(ticket("A003")).ok and socat_printer.wait_tickets(2, 5)
        assert [escpos.texts(t)[escpos.texts(t).index("NOMOR ANTREAN") + 1] for t in socat_printer.tickets] == [
            "A001", "A003"]
    finally:
        driver.close()


def test_a_printer_missing_at_start_is_opened_when_it_appears(tmp_path: Path, socat_printer: SocatPrinter) -> None:
    socat_printer.unplug()
    driver = SerialPrinter(str(socat_printer.device_path), 9600, 58, timeout=0.3)
    try:
        assert driver.status() is PrinterStatus.UNKNOWN and driver.problem.startswith("not connected")
        socat_printer.plug()
        assert driver.status() is PrinterStatus.OK
    finally:
        driver.close()


# ------------------------------------------------------------ every line fits the paper


def printed_lines(data: bytes) -> list[tuple[str, int]]:
    """Each printed text line with its width in columns of font A (characters x width magnification),
    from the ESC/POS bytes as the printer decodes them."""
    width, out = 1, []
    for op in escpos.decode(data):
        if op.kind == "init":
            width = 1
        elif op.kind == "size":
            width = op.arg[0]  # type: ignore[index]
        elif op.kind == "text":
            out.append((str(op.arg), len(str(op.arg)) * width))
    return out


def assert_fits(t: Ticket, paper_mm: int) -> list[str]:
    cols = 32 if paper_mm == 58 else 48
    lines = printed_lines(render_ticket(t, paper_mm))
    too_wide = [(text, w) for text, w in lines if w > cols]
    assert not too_wide, f"{paper_mm} mm ({cols} columns): {too_wide}"
    texts = [text for text, _ in lines]
    assert escpos.printable(t.number) in texts  # the number is printed whole, on one line
    return texts


def test_the_field_overflows_fit_now(kupang: SiteConfig) -> None:
    """At 58 mm the date line (122 of 261 weekdays of 2026), PRIORITAS DISABILITAS, PRIORITAS IBU
    HAMIL and three-digit counts overflowed 32 columns."""
    weekdays = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    weekdays = [d for d in weekdays if d.weekday() < 5]
    long_dates = [format_datetime_id(dt.datetime(d.year, d.month, d.day, 10, 15), "WITA") for d in weekdays]
    assert len(weekdays) == 261 and sum(len(x) > 32 for x in long_dates) == 122  # the cases exist
    for text in long_dates:
        lines = assert_fits(ticket(issued_text=text), 58)
        if len(text) > 32:
            assert text.rsplit(" ", 2)[0] in lines and text.endswith(lines[lines.index(text.rsplit(" ", 2)[0]) + 1])
    for reason in PRIORITY_ID:
        assert_fits(ticket(priority=reason, ahead=999, est_wait_min=999), 58)
    texts = assert_fits(ticket(ahead=123, est_wait_min=456), 58)
    assert "Di depan Anda: 123 orang" in texts and "Perkiraan tunggu: 456 menit" in texts
    texts = assert_fits(ticket(ahead=7, est_wait_min=15), 58)
    assert "Menunggu di depan Anda: 7 orang" in texts  # the full sentence when it fits


def test_every_service_priority_and_day_of_the_example_site_fits(kupang: SiteConfig) -> None:
    services = list(kupang.services.values())
    longest = max(services, key=lambda s: len(s.name) + len(kupang.agencies[s.agency].name))
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    for paper in (58, 80):
        for svc in services:
            for reason in ["regular", *PRIORITY_ID]:
                assert_fits(ticket(f"{svc.prefix}{10 ** svc.padding - 1}", site_name=kupang.site.name,
                                   agency_name=kupang.agencies[svc.agency].name, service_name=svc.name,
                                   priority=reason, footer=kupang.site.ticket_footer,
                                   issued_text="Rabu, 30 September 2026 10:15 WITA", ahead=9999,
                                   est_wait_min=9999), paper)
        for day in days:
            when = dt.datetime(day.year, day.month, day.day, 14, 59)
            assert_fits(ticket(f"{longest.prefix}001", agency_name=kupang.agencies[longest.agency].name,
                               service_name=longest.name, priority="disabled",
                               issued_text=format_datetime_id(when, kupang.zone_abbrev())), paper)


NAMES = st.text(st.characters(min_codepoint=32, max_codepoint=0x17F), max_size=200)


@settings(max_examples=400, deadline=None)
@given(
    paper=st.sampled_from([58, 80]),
    number=st.from_regex(r"\A[A-Z]{1,2}[0-9]{1,6}\Z"),
    priority=st.sampled_from([p.value for p in m.Priority]),
    when=st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2099, 12, 31)),
    zone=st.sampled_from(["WIB", "WITA", "WIT"]),
    ahead=st.integers(0, 10**7),
    wait=st.none() | st.integers(0, 10**7),
    site=NAMES, agency=NAMES, service=NAMES, footer=NAMES,
)
def test_every_line_fits_for_any_ticket_the_site_can_produce(
    paper: int, number: str, priority: str, when: dt.datetime, zone: str, ahead: int, wait: int | None,
    site: str, agency: str, service: str, footer: str,
) -> None:
    assert_fits(Ticket(site_name=site, agency_name=agency, service_name=service, number=number,
                       ticket_id=f"{when:%Y%m%d}-{number}", issued_text=format_datetime_id(when, zone), ahead=ahead,
                       est_wait_min=wait, priority=priority, footer=footer), paper)


# ------------------------------------------------------------- a kiosk on a socat printer


KIOSK = {
    "button": [{"name": "tiket", "pin": 17, "press": "take_ticket", "double": "none", "hold": "reprint_last"}],
    "gestures": {"debounce_ms": 0},
    "display": {"type": "ssd1306"},
    "printer": {"port": "/dev/serial/by-id/usb-test", "baudrate": 9600, "reprint_within_s": 4},
    "tickets": {"service": "ktp"},
}


def press(assembly: object, pin: int = 17) -> None:
    p = assembly.pin_factory.pin(pin)  # type: ignore[attr-defined]
    p.drive_low()
    p.drive_high()


def test_a_kiosk_with_a_faulty_printer_issues_nothing_and_recovers_by_itself(
        tmp_path: Path, socat_printer: SocatPrinter) -> None:
    with running_site("embedded", tmp_path / "site") as stack:
        config = parse_device(stack.site.agent_config("kiosk", "k1", extra=KIOSK), "k1.toml")
        driver = SerialPrinter(str(socat_printer.device_path), 9600, 58, timeout=0.3)
        kiosk = assemble(config, mock=True, printer=driver)
        agent = kiosk.agent
        agent.start()
        g1 = Device(stack.site, Role.GERAI, "g1")
        try:
            assert agent.ready.wait(10)

            def status() -> str:
                return agent.content().status

            wait_for(lambda: status() == "MENUNGGU DATA" or "SIAP" in status(), 10, "the kiosk ready")
            press(kiosk)
            assert socat_printer.wait_tickets(1, 10)  # A001 printed
            wait_for(lambda: agent.printed and agent.printed[-1][1].ok, 5, "A001's print checked")
            # paper out: pressing issues nothing and says why
            socat_printer.set(state=PrinterStatus.PAPER_OUT)
            press(kiosk)
            wait_for(lambda: status() == "!KERTAS HABIS", 5, "KERTAS HABIS")
            wait_for(lambda: agent.kiosk_view().state == "printer", 6, "the refusal's notice gone, the fault stays")
            view = agent.kiosk_view()  # the central's state of its service: 60 a day, A001 issued
            assert (view.state, view.headline, view.remaining_quota, view.waiting) == ("printer", "KERTAS HABIS", 59, 1)
            assert view.title == "A  KTP-el" and "Sisa kuota hari ini: 59" in view.facts
            frame = kiosk.agent.hw.display.frame  # type: ignore[union-attr]
            frame.convert("L").resize((512, 256)).save(tmp_path / "kiosk-paper-out.png")
            assert all(frame.getpixel((x, 60)) for x in range(5, 20))  # the inverted state line
            # unplugged: the same, with the reason; then plugged back: reopened by name, prints again
            socat_printer.set(state=PrinterStatus.OK)
            socat_printer.unplug()
            wait_for(lambda: status() == "!PRINTER TERLEPAS", 10, "PRINTER TERLEPAS")
            press(kiosk)
            socat_printer.plug()
            wait_for(lambda: agent.printer_fault is None, 10, "the printer back")
            press(kiosk)
            assert socat_printer.wait_tickets(2, 10)
            assert "A002" in escpos.texts(socat_printer.tickets[1])  # nothing was issued meanwhile
            wait_for(lambda: len(agent.printed) == 2 and agent.printed[-1][1].ok, 5, "A002's print checked")
            # staff reprint the last ticket (the button's hold): A002 again, nobody moves
            agent.on_gesture("tiket", Gesture.HOLD)
            assert socat_printer.wait_tickets(3, 10)
            assert "A002" in escpos.texts(socat_printer.tickets[2])
            wait_for(lambda: len(agent.printed) == 3 and agent.printed[-1][1].ok, 5, "the reprint checked")
            # switched off after the status check: A003's job fails and is kept; it never recovers
            # within reprint_within_s (4 s): voided, with the reason in the audit trail
            socat_printer.printer.paper_left = 0  # type: ignore[union-attr]
            press(kiosk)
            wait_for(lambda: agent.kept, 10, "A003 kept")
            socat_printer.set(silent=True)
            wait_for(lambda: agent.voided == ["A003"] and not agent.kept, 20, "A003 voided")
            assert g1.request(m.CallNext(id="g1-after-void-1")).ticket == "A001"
            assert g1.request(m.CallNext(id="g1-after-void-2")).ticket == "A002"
            assert g1.request(m.CallNext(id="g1-after-void-3")).code == "queue_empty"  # never A003
        finally:
            g1.close()
            kiosk.close()
        store = EventStore(stack.site.dir / "central.db", "test", readonly=True)
        try:
            events = [e for _, e in store.events()]
        finally:
            store.close()
        issued = [e.number for e in events if isinstance(e, ev.TicketIssued)]
        assert issued == ["A001", "A002", "A003"]  # no number for the presses on a faulty printer
        voids = [e for e in events if isinstance(e, ev.TicketVoided)]
        assert [(v.ticket_id[-4:], v.actor) for v in voids] == [("A003", "k1")] and "cetak gagal" in voids[0].reason
        assert [e.ticket_id[-4:] for e in events if isinstance(e, ev.TicketReprinted)] == ["A002"]
        import contextlib
        import io

        from antre.cli import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out):  # what a manager or the ombudsman reads back
            assert main(["audit", "--config", str(stack.site.config_path), "--db",
                         str(stack.site.dir / "central.db")]) == 0
        trail = out.getvalue()
        assert "-A003 PRINT FAILED (paper_out after printing: paper_out)" in trail, trail
        assert "k1: VOIDED " in trail and "-A003 (never printed), reason: cetak gagal; printer tidak pulih dalam 4 detik" in trail
        assert "k1: reprint of " in trail and "-A002 sent to the printer" in trail
