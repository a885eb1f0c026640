"""A simulated ESC/POS printer on a pseudo-terminal, for tests and the laptop demo.

The driver under test opens a pty's path with ``serial_for_url`` exactly as it
opens ``/dev/ttyUSB0`` on a Pi; this printer reads what arrives, answers the
DLE EOT status queries as a real one does for its current state (or not at all
when ``silent``), and keeps every ticket it printed, decoded.

``MockPrinter()`` makes its own pty pair (the driver opens :attr:`MockPrinter.path`);
``MockPrinter(endpoint)`` sits at one end of a pair someone else made, e.g. the
``socat`` pair of :class:`antre.sim.printer.SocatPrinter`, which can also vanish
and come back as a replugged USB printer does.
"""

from __future__ import annotations

import os
import select
import threading
import tty

from antre.hardware import escpos
from antre.hardware.escpos import Op, PrinterStatus


class MockPrinter:
    """A printer answering on a pty (see the module docstring)."""

    def __init__(self, endpoint: str | None = None) -> None:
        self._slave: int | None = None
        if endpoint is None:
            self._master, self._slave = os.openpty()
            tty.setraw(self._master)
            tty.setraw(self._slave)
            self.path: str | None = os.ttyname(self._slave)
        else:
            self._master = os.open(endpoint, os.O_RDWR | os.O_NOCTTY)
            tty.setraw(self._master)
            self.path = None  # the driver opens the pair's other end
        self.state = PrinterStatus.OK
        self.silent = False  # a printer that is switched off answers nothing
        #: tickets' worth of paper left (None: endless); a ticket sent when none is left is not
        #: printed and the printer reports paper out (it ran out in the middle of that ticket)
        self.paper_left: int | None = None
        self.tickets: list[list[Op]] = []
        self.raw = bytearray()
        self.queries = 0  # status queries answered
        self._buffer = bytearray()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mock-printer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.1)
                if not ready:
                    continue
                chunk = os.read(self._master, 4096)
            except (OSError, ValueError):  # the pty went away
                return
            if not chunk:
                return
            self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        with self._lock:
            self.raw += chunk
            self._buffer += chunk
            while True:
                i = self._buffer.find(escpos.DLE + escpos.EOT)
                if i < 0 or i + 2 >= len(self._buffer):
                    break
                n = self._buffer[i + 2]
                del self._buffer[i:i + 3]
                if not self.silent and 1 <= n <= 4:
                    try:
                        os.write(self._master, bytes([escpos.status_bytes(self.state)[n - 1]]))
                        self.queries += 1
                    except OSError:
                        return
            # a ticket ends with the cut command
            cut = escpos.GS + b"V"
            while (j := self._buffer.find(cut)) >= 0 and j + 3 < len(self._buffer):
                ticket, self._buffer = bytes(self._buffer[:j + 4]), self._buffer[j + 4:]
                if self.state in (PrinterStatus.OK, PrinterStatus.PAPER_NEAR_END) and not self.silent:
                    if self.paper_left is not None and self.paper_left <= 0:
                        self.state = PrinterStatus.PAPER_OUT
                        continue
                    self.tickets.append(escpos.decode(ticket))
                    if self.paper_left is not None:
                        self.paper_left -= 1
            self._lock.notify_all()

    def wait_tickets(self, count: int, timeout: float) -> bool:
        with self._lock:
            return bool(self._lock.wait_for(lambda: len(self.tickets) >= count, timeout))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        for fd in (self._master, self._slave):
            if fd is None:
                continue
            try:
                os.close(fd)
            except OSError:
                pass
