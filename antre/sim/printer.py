"""A ticket printer on a ``socat`` pty pair that can be unplugged and plugged back.

``socat`` links two pseudo-terminals; the driver (:class:`~antre.hardware.printer.SerialPrinter`)
opens :attr:`SocatPrinter.device_path`, a symlink as stable as a Pi's
``/dev/serial/by-id/usb-...`` name, and a :class:`~antre.hardware.mock_printer.MockPrinter`
sits at the other end answering DLE EOT status queries.  :meth:`SocatPrinter.unplug` ends
socat: the driver's port fails with EIO and the symlink disappears, as when a USB printer
is pulled; :meth:`SocatPrinter.plug` starts a new pair (new pty numbers) behind the same
name, as when it is plugged back.  Tests and the fault kit use it; it needs ``socat``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from antre.hardware.escpos import Op, PrinterStatus
from antre.hardware.mock_printer import MockPrinter
from antre.sim.procs import MissingTool, wait_for


class SocatPrinter:
    """A printer behind a socat pty pair, in ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path, name: str = "printer") -> None:
        binary = shutil.which("socat")
        if binary is None:
            raise MissingTool("socat is not installed (apt-get install socat)")
        self.binary = binary
        directory.mkdir(parents=True, exist_ok=True)
        self.device_path = directory / f"usb-ESCPOS_{name}-if00"  # what the driver opens
        self._end = directory / f"{name}-printer-end"
        self.state = PrinterStatus.OK
        self.silent = False
        self.tickets: list[list[Op]] = []
        self.plugs = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self.printer: MockPrinter | None = None
        self.plug()

    def plug(self) -> None:
        """Plug it (back) in: a new pty pair behind the same name, and the printer answering."""
        if self._proc is not None:
            return
        for link in (self.device_path, self._end):
            link.unlink(missing_ok=True)  # a dangling link of a killed socat
        self._proc = subprocess.Popen(
            [self.binary, f"pty,raw,echo=0,link={self._end}", f"pty,raw,echo=0,link={self.device_path}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self._end.exists() and self.device_path.exists(), 10, "socat's pty pair")
        printer = MockPrinter(str(self._end))
        printer.tickets = self.tickets  # one paper trail across plugs
        printer.state, printer.silent = self.state, self.silent
        self.printer = printer
        self.plugs += 1

    def unplug(self) -> None:
        """Pull the cable: socat ends, the driver's port fails, the name disappears."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait(5)
        if self.printer is not None:
            self.printer.close()
            self.printer = None
        self.device_path.unlink(missing_ok=True)  # (socat removed it, unless it was killed)

    def set(self, state: PrinterStatus | None = None, silent: bool | None = None) -> None:
        """Change what the printer reports (paper out, cover open...) or whether it answers at all."""
        if state is not None:
            self.state = state
        if silent is not None:
            self.silent = silent
        if self.printer is not None:
            self.printer.state, self.printer.silent = self.state, self.silent

    def wait_tickets(self, count: int, timeout: float) -> bool:
        printer = self.printer
        if printer is None:
            return len(self.tickets) >= count
        return printer.wait_tickets(count, timeout)

    def close(self) -> None:
        self.unplug()
        self._end.unlink(missing_ok=True)
