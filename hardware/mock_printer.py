"""A simulated ESC/POS printer on a pseudo-terminal, for tests and the laptop demo.

The driver under test opens the pty's path with ``serial_for_url`` exactly as
it opens ``/dev/ttyUSB0`` on a Pi; this printer reads what arrives, answers
the DLE EOT status queries as a real one does for its current state (or not
at all when ``silent``), and keeps every ticket it printed, decoded.
"""

from __future__ import annotations

import os
import select
import threading
import tty

from antre.hardware import escpos
from antre.hardware.escpos import Op, PrinterStatus


class MockPrinter:
    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self.state = PrinterStatus.OK
        self.silent = False  # a printer that is switched off answers nothing
        self.tickets: list[list[Op]] = []
        self.raw = bytearray()
        self._buffer = bytearray()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mock-printer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
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
                    os.write(self._master, bytes([escpos.status_bytes(self.state)[n - 1]]))
            # a ticket ends with the cut command
            cut = escpos.GS + b"V"
            while (j := self._buffer.find(cut)) >= 0 and j + 3 < len(self._buffer):
                ticket, self._buffer = bytes(self._buffer[:j + 4]), self._buffer[j + 4:]
                if self.state in (PrinterStatus.OK, PrinterStatus.PAPER_NEAR_END) and not self.silent:
                    self.tickets.append(escpos.decode(ticket))
            self._lock.notify_all()

    def wait_tickets(self, count: int, timeout: float) -> bool:
        with self._lock:
            return bool(self._lock.wait_for(lambda: len(self.tickets) >= count, timeout))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
