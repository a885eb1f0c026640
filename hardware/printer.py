"""Serial thermal ticket printers (ESC/POS over pyserial) and the ticket layout.

:class:`SerialPrinter` opens any pyserial URL with ``serial_for_url``: a real
port (``/dev/ttyUSB0``, ``/dev/serial0``), a pty of the mock printer, or
``loop://``.  Its status comes from the DLE EOT real-time queries; a printer
that does not answer is ``unknown``, never ``ok``.  A ticket is printed only
when the printer says it can, and the caller learns why when it cannot.
"""

from __future__ import annotations

import logging
import textwrap
import threading
from dataclasses import dataclass
from typing import Protocol

import serial

from antre.hardware import escpos
from antre.hardware.escpos import PrinterStatus

log = logging.getLogger(__name__)

PRIORITY_ID = {"elderly": "LANSIA", "disabled": "DISABILITAS", "pregnant": "IBU HAMIL", "child": "ANAK"}


@dataclass(frozen=True)
class Ticket:
    """What a ticket shows (built by the edge agent from a print job)."""

    site_name: str
    agency_name: str
    service_name: str
    number: str
    ticket_id: str
    issued_text: str
    ahead: int
    est_wait_min: int | None
    priority: str = "regular"
    footer: str = ""


@dataclass(frozen=True)
class PrintResult:
    ok: bool
    status: PrinterStatus
    detail: str = ""


class TicketPrinter(Protocol):
    def status(self) -> PrinterStatus: ...
    def print_ticket(self, ticket: Ticket) -> PrintResult: ...
    def close(self) -> None: ...


def columns(paper_mm: int) -> int:
    """Characters per line in font A (12 dots wide): 58 mm paper 32, 80 mm paper 48."""
    if paper_mm not in (58, 80):
        raise ValueError("paper width must be 58 or 80 mm")
    return 32 if paper_mm == 58 else 48


def render_ticket(ticket: Ticket, paper_mm: int = 58) -> bytes:
    """The ESC/POS bytes of a ticket."""
    cols = columns(paper_mm)
    big = 4 if paper_mm == 58 else 6
    out = [escpos.INIT, escpos.align("center"), escpos.bold(True)]
    out += [escpos.text(line) for line in textwrap.wrap(ticket.site_name, cols)]
    out.append(escpos.bold(False))
    out += [escpos.text(line) for line in textwrap.wrap(ticket.agency_name, cols)]
    out += [escpos.text(line) for line in textwrap.wrap(ticket.service_name, cols)]
    out += [escpos.feed(1), escpos.text("NOMOR ANTREAN"), escpos.size(big, big), escpos.bold(True),
            escpos.text(ticket.number), escpos.size(1, 1)]
    if ticket.priority in PRIORITY_ID:
        out += [escpos.size(2, 1), escpos.text(f"PRIORITAS {PRIORITY_ID[ticket.priority]}"), escpos.size(1, 1)]
    out.append(escpos.bold(False))
    out.append(escpos.text(ticket.issued_text))
    out.append(escpos.text(f"Menunggu di depan Anda: {ticket.ahead} orang"))
    if ticket.est_wait_min is not None:
        out.append(escpos.text(f"Perkiraan waktu tunggu: {ticket.est_wait_min} menit"))
    out += [escpos.feed(1), escpos.qr(ticket.ticket_id, module=6 if paper_mm == 58 else 8), escpos.text(ticket.ticket_id)]
    if ticket.footer:
        out += [escpos.text(line) for line in textwrap.wrap(ticket.footer, cols)]
    out += [escpos.feed(3), escpos.cut()]
    return b"".join(out)


class SerialPrinter:
    """An ESC/POS printer on a serial port (any pyserial URL)."""

    def __init__(self, url: str, baudrate: int = 19200, paper_mm: int = 58, timeout: float = 0.5) -> None:
        self.url, self.paper_mm, self.timeout = url, paper_mm, timeout
        columns(paper_mm)
        self._lock = threading.Lock()
        self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, write_timeout=5)

    def _query(self, n: int) -> int | None:
        self._port.reset_input_buffer()
        self._port.write(escpos.status_query(n))
        self._port.flush()
        answer = self._port.read(1)
        return answer[0] if answer else None

    def status(self) -> PrinterStatus:
        """Ask the printer (DLE EOT 1-4).  No answer is ``unknown``."""
        with self._lock:
            try:
                answers = [self._query(n) for n in (1, 2, 3, 4)]
            except (serial.SerialException, OSError) as exc:
                log.warning("printer %s: %s", self.url, exc)
                return PrinterStatus.UNKNOWN
        return escpos.parse_status(*answers)

    def print_ticket(self, ticket: Ticket) -> PrintResult:
        before = self.status()
        if before not in (PrinterStatus.OK, PrinterStatus.PAPER_NEAR_END):
            return PrintResult(False, before, f"printer {before.value} before printing")
        data = render_ticket(ticket, self.paper_mm)
        with self._lock:
            try:
                self._port.write(data)
                self._port.flush()
            except (serial.SerialException, OSError) as exc:
                return PrintResult(False, PrinterStatus.ERROR, f"write failed: {exc}")
        after = self.status()
        if after in (PrinterStatus.OK, PrinterStatus.PAPER_NEAR_END):
            return PrintResult(True, after)
        return PrintResult(False, after, f"printer {after.value} after printing")

    def close(self) -> None:
        try:
            self._port.close()
        except (serial.SerialException, OSError):  # pragma: no cover
            pass
