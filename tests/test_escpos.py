"""ESC/POS bytes of a ticket decoded back, and the real-time status, including silence."""

from __future__ import annotations

import pytest

from antre.hardware import escpos
from antre.hardware.escpos import PrinterStatus, parse_status, status_bytes
from antre.hardware.mock_printer import MockPrinter
from antre.hardware.printer import SerialPrinter, Ticket, render_ticket

TICKET = Ticket(
    site_name="Mal Pelayanan Publik Kota Kupang",
    agency_name="Dinas Kependudukan dan Pencatatan Sipil Kota Kupang",
    service_name="Perekaman dan Pencetakan KTP-el",
    number="A012", ticket_id="20230728-A012", issued_text="Jumat, 28 Juli 2023 10:15 WITA",
    ahead=4, est_wait_min=16, priority="elderly", footer="Layanan gratis.",
)


def test_ticket_bytes_decode_back() -> None:
    ops = escpos.decode(render_ticket(TICKET, 58))
    kinds = [op.kind for op in ops]
    assert kinds[0] == "init" and kinds[-1] == "cut"
    texts = escpos.texts(ops)
    assert "Mal Pelayanan Publik Kota Kupang" in texts
    assert "Jumat, 28 Juli 2023 10:15 WITA" in texts
    assert "Menunggu di depan Anda: 4 orang" in texts
    assert "Perkiraan waktu tunggu: 16 menit" in texts
    assert "PRIORITAS LANSIA" in texts
    # the number is printed 4x4 and bold, then the size goes back to normal
    i = next(i for i, op in enumerate(ops) if op.kind == "text" and op.arg == "A012")
    assert escpos.Op("size", (4, 4)) in ops[i - 3:i] and escpos.Op("bold", True) in ops[i - 3:i]
    assert escpos.Op("size", (1, 1)) in ops[i + 1:i + 2]
    assert [op.arg for op in ops if op.kind == "qr"] == ["20230728-A012"]
    assert all(len(t) <= 32 for t in texts)


def test_wide_paper_uses_48_columns_and_a_bigger_number() -> None:
    ops = escpos.decode(render_ticket(TICKET, 80))
    assert escpos.Op("size", (6, 6)) in ops
    texts = escpos.texts(ops)
    assert "Dinas Kependudukan dan Pencatatan Sipil Kota" in texts  # 44 characters: one line on 80 mm
    assert all(len(t) <= 48 for t in texts)
    with pytest.raises(ValueError):
        render_ticket(TICKET, 76)


def test_non_ascii_text_is_reduced_safely() -> None:
    assert escpos.text("Café Ñusa\u200b") == b"Cafe Nusa\n"


@pytest.mark.parametrize("status", list(PrinterStatus))
def test_status_bytes_round_trip(status: PrinterStatus) -> None:
    if status is PrinterStatus.UNKNOWN:
        return
    assert parse_status(*status_bytes(status)) is status


def test_silence_is_unknown_never_ok() -> None:
    assert parse_status(None, None, None, None) is PrinterStatus.UNKNOWN
    assert parse_status(0x12, 0x12, 0x12, None) is PrinterStatus.UNKNOWN
    assert parse_status(0x00, 0x12, 0x12, 0x12) is PrinterStatus.UNKNOWN  # not a status byte at all
    assert parse_status(0x12, 0x12, 0x12, 0x12) is PrinterStatus.OK


def test_serial_printer_against_the_mock_printer() -> None:
    mock = MockPrinter()
    printer = SerialPrinter(mock.path, paper_mm=58, timeout=0.3)
    try:
        assert printer.status() is PrinterStatus.OK
        result = printer.print_ticket(TICKET)
        assert result.ok and result.status is PrinterStatus.OK
        assert mock.wait_tickets(1, 5)
        assert "A012" in escpos.texts(mock.tickets[0])
        mock.state = PrinterStatus.PAPER_NEAR_END
        assert printer.print_ticket(TICKET).ok  # near end still prints, and says so
        mock.state = PrinterStatus.PAPER_OUT
        failed = printer.print_ticket(TICKET)
        assert (failed.ok, failed.status) == (False, PrinterStatus.PAPER_OUT)
        mock.state = PrinterStatus.COVER_OPEN
        assert printer.status() is PrinterStatus.COVER_OPEN
        mock.silent = True  # switched off: no answer at all
        silent = printer.print_ticket(TICKET)
        assert (silent.ok, silent.status) == (False, PrinterStatus.UNKNOWN)
        assert len(mock.tickets) == 2
    finally:
        printer.close()
        mock.close()


def test_loop_url_echo_is_not_mistaken_for_a_printer() -> None:
    # pyserial's loop:// echoes the query itself (0x10 0x04 0x01): not a valid status byte
    printer = SerialPrinter("loop://", timeout=0.1)
    try:
        assert printer.status() is PrinterStatus.UNKNOWN
    finally:
        printer.close()
