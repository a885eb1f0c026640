"""Serial thermal ticket printers (ESC/POS over pyserial) and the ticket layout.

:class:`SerialPrinter` opens any pyserial URL with ``serial_for_url``: a real
port (prefer the stable ``/dev/serial/by-id/...`` name of a USB printer over
``/dev/ttyUSB0``, which changes when it is replugged; ``/dev/serial0`` for the
Pi's own UART), a pty, or ``loop://``.  Its status comes from the DLE EOT
real-time queries; a printer that does not answer is ``unknown``, never ``ok``.
When the port fails (the printer was unplugged, switched off on USB) it is
closed, and reopened by its name at the next status query once the printer is
back.  A ticket is printed only when the printer says it can, and the caller
learns why when it cannot (:attr:`SerialPrinter.problem`).

:func:`render_ticket` lays a ticket out so that every printed line fits the
paper: 32 columns at 58 mm, 48 at 80 mm, for any service name, priority, date
and count (long texts wrap, the date breaks before its time, big characters
shrink to fit).
"""

from __future__ import annotations

import logging
import re
import textwrap
import threading
from dataclasses import dataclass
from typing import Protocol

import serial

from antre.hardware import escpos
from antre.hardware.escpos import PrinterStatus

log = logging.getLogger(__name__)

PRIORITY_ID = {"elderly": "LANSIA", "disabled": "DISABILITAS", "pregnant": "IBU HAMIL", "child": "ANAK"}
#: the statuses in which a ticket can be printed
PRINTABLE = frozenset({PrinterStatus.OK, PrinterStatus.PAPER_NEAR_END})
#: what a citizen or staff member reads on the display for a printer that cannot print
FAULT_TEXT = {
    PrinterStatus.PAPER_OUT: "KERTAS HABIS",
    PrinterStatus.COVER_OPEN: "PENUTUP PRINTER TERBUKA",
    PrinterStatus.OFFLINE: "PRINTER TIDAK SIAP",
    PrinterStatus.UNKNOWN: "PRINTER MATI",
    PrinterStatus.ERROR: "PRINTER RUSAK",
}
#: an unknown status because the port itself is gone (unplugged), not merely silent
NOT_CONNECTED_TEXT = "PRINTER TERLEPAS"


def fault_text(status: PrinterStatus, problem: str = "") -> str | None:
    """The display text of a printer that cannot print (None when it can)."""
    if status in PRINTABLE:
        return None
    if status is PrinterStatus.UNKNOWN and problem.startswith("not connected"):
        return NOT_CONNECTED_TEXT
    return FAULT_TEXT.get(status, "PRINTER RUSAK")


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
    #: the ticket's own page (position, the call, the survey): its QR code is printed; "" prints the id's
    url: str = ""


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


def _lines(text: str, width: int) -> list[str]:
    """``text`` as printed lines (printable ASCII) of at most ``width`` characters."""
    plain = escpos.printable(text).strip()
    if len(plain) <= width:
        return [plain] if plain else []
    return textwrap.wrap(plain, width)


def _first_fit(width: int, *forms: str) -> list[str]:
    """The first form that fits on one line; else the last one, wrapped."""
    for form in forms:
        if len(escpos.printable(form)) <= width:
            return [escpos.printable(form)]
    return _lines(forms[-1], width)


_TIME = re.compile(r"^(.*\S)\s+(\d{1,2}[:.]\d{2}\b.*)$")


def _date_lines(text: str, width: int) -> list[str]:
    """``Rabu, 30 September 2026 10:15 WITA``: one line when it fits, else the date and the time."""
    plain = escpos.printable(text).strip()
    match = _TIME.match(plain)
    if len(plain) <= width or match is None:
        return _lines(plain, width)
    return _lines(match.group(1), width) + _lines(match.group(2), width)


def render_ticket(ticket: Ticket, paper_mm: int = 58) -> bytes:
    """The ESC/POS bytes of a ticket; every line fits the paper's columns."""
    cols = columns(paper_mm)
    big = 4 if paper_mm == 58 else 6
    out = [escpos.INIT, escpos.align("center"), escpos.bold(True)]
    out += [escpos.text(line) for line in _lines(ticket.site_name, cols)]
    out.append(escpos.bold(False))
    out += [escpos.text(line) for line in _lines(ticket.agency_name, cols)]
    out += [escpos.text(line) for line in _lines(ticket.service_name, cols)]
    number = escpos.printable(ticket.number)
    scale = max(1, min(big, cols // max(1, len(number))))
    out += [escpos.feed(1), escpos.text("NOMOR ANTREAN"), escpos.size(scale, scale), escpos.bold(True),
            escpos.text(number), escpos.size(1, 1)]
    if ticket.priority in PRIORITY_ID:  # double width, wrapped at half the columns
        out.append(escpos.size(2, 1))
        out += [escpos.text(line) for line in _lines(f"PRIORITAS {PRIORITY_ID[ticket.priority]}", cols // 2)]
        out.append(escpos.size(1, 1))
    out.append(escpos.bold(False))
    out += [escpos.text(line) for line in _date_lines(ticket.issued_text, cols)]
    out += [escpos.text(line) for line in _first_fit(
        cols, f"Menunggu di depan Anda: {ticket.ahead} orang", f"Di depan Anda: {ticket.ahead} orang")]
    if ticket.est_wait_min is not None:
        m = ticket.est_wait_min
        out += [escpos.text(line) for line in _first_fit(
            cols, f"Perkiraan waktu tunggu: {m} menit", f"Perkiraan tunggu: {m} menit")]
    url = ticket.url if ticket.url.isascii() and ticket.url.isprintable() else ""
    out += [escpos.feed(1), escpos.qr(url or ticket.ticket_id, module=(5 if url else 6) if paper_mm == 58 else 8)]
    if url:
        out += [escpos.text(line) for line in _first_fit(
            cols, "Pindai: lihat antrean Anda di ponsel", "Pindai untuk lihat antrean")]
    out += [escpos.text(line) for line in _lines(ticket.ticket_id, cols)]
    if ticket.footer:
        out += [escpos.text(line) for line in _lines(ticket.footer, cols)]
    out += [escpos.feed(3), escpos.cut()]
    return b"".join(out)


class SerialPrinter:
    """An ESC/POS printer on a serial port (any pyserial URL); see the module docstring.

    Never raises for a missing or failing port: :meth:`status` is then ``unknown`` with
    :attr:`problem` saying ``not connected: ...``, and the port is reopened by its name at
    the next query, so a printer unplugged and plugged back works again by itself.
    """

    def __init__(self, url: str, baudrate: int = 19200, paper_mm: int = 58, timeout: float = 0.5) -> None:
        self.url, self.baudrate, self.paper_mm, self.timeout = url, baudrate, paper_mm, timeout
        columns(paper_mm)
        self._lock = threading.Lock()
        self._port: serial.SerialBase | None = None
        #: why the last status was not ``ok`` (empty when it was)
        self.problem = ""
        self.opens = 0  # times the port was opened (a reopen after a replug counts)
        with self._lock:
            self._open()

    @property
    def connected(self) -> bool:
        return self._port is not None

    def _open(self) -> bool:
        try:
            self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self.timeout,
                                               write_timeout=5)
        except (serial.SerialException, OSError, ValueError) as exc:
            self._port = None
            self.problem = f"not connected: {exc}"
            return False
        self.opens += 1
        if self.opens > 1:
            log.info("printer %s: port reopened", self.url)
        return True

    def _drop(self, exc: BaseException) -> None:
        """The port failed (unplugged): close it; the next query reopens it by name."""
        log.warning("printer %s: port lost (%s); it is reopened when the printer is back", self.url, exc)
        port, self._port = self._port, None
        self.problem = f"not connected: {exc}"
        if port is not None:
            try:
                port.close()
            except Exception:  # pragma: no cover - closing a dead port
                pass

    def _query(self, port: serial.SerialBase, n: int) -> int | None:
        port.reset_input_buffer()
        port.write(escpos.status_query(n))
        port.flush()
        answer = port.read(1)
        return answer[0] if answer else None

    def status(self) -> PrinterStatus:
        """Ask the printer (DLE EOT 1-4).  No answer, or no port, is ``unknown``."""
        with self._lock:
            return self._status()

    def _status(self) -> PrinterStatus:
        if self._port is None and not self._open():
            return PrinterStatus.UNKNOWN
        assert self._port is not None
        answers: list[int | None] = []
        try:
            for n in (1, 2, 3, 4):
                answer = self._query(self._port, n)
                if answer is None:  # silent: switched off, wrong baud rate, wrong cable
                    self.problem = (f"no answer to the status query within {self.timeout:g} s (printer off, "
                                    f"wrong baud rate {self.baudrate}, or cable)")
                    return PrinterStatus.UNKNOWN
                answers.append(answer)
        except Exception as exc:  # SerialException, OSError, termios.error: the port is gone
            self._drop(exc)
            return PrinterStatus.UNKNOWN
        status = escpos.parse_status(*answers)
        self.problem = "" if status is PrinterStatus.OK else status.value
        return status

    def print_ticket(self, ticket: Ticket) -> PrintResult:
        data = render_ticket(ticket, self.paper_mm)
        with self._lock:
            before = self._status()
            if before not in PRINTABLE:
                return PrintResult(False, before, f"before printing: {self.problem or before.value}")
            assert self._port is not None
            try:
                self._port.write(data)
                self._port.flush()
            except Exception as exc:
                self._drop(exc)
                return PrintResult(False, PrinterStatus.UNKNOWN, f"write failed: {exc}")
            after = self._status()
        if after in PRINTABLE:
            return PrintResult(True, after)
        return PrintResult(False, after, f"after printing: {self.problem or after.value}")

    def close(self) -> None:
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):  # pragma: no cover
                pass
