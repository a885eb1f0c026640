"""Run the real micropython-lib ``umqtt.simple`` (tests/vendor, unmodified) under CPython.

umqtt.simple's only MicroPython-specific import is ``socket``: it uses the
MicroPython socket's stream methods (``read(n)``, ``write(buf, n)``), which
CPython sockets do not have.  :class:`MpSocket` gives it those over a real
CPython socket, with MicroPython's semantics, as the lwIP ports (ESP32, Pico W)
behave:

* ``read(n)`` loops until ``n`` bytes, end of stream (a short result, ``b""``)
  or an error.  Non-blocking with nothing there: ``None``; with some bytes:
  those bytes.  A timeout raises ``OSError(ETIMEDOUT)`` and loses what was read.
* ``write(buf, n)`` writes all of ``buf[:n]`` (a ``str`` as its bytes) or raises
  ``OSError(ETIMEDOUT)`` when the timeout passes first.
* ``setblocking(True)`` is ``settimeout(None)``: no timeout at all.

:func:`load_umqtt` executes the vendored file with this module as its
``import socket`` (through the module's own ``__import__``), so nothing else in
the test process sees it, and nothing in the file is changed.

:class:`Board` is what the node needs of ``machine``/``time``/``os`` on CPython:
MicroPython's wrapping ``ticks_ms`` (2**30 period, an offset chosen by the test),
``ticks_diff``, ``ticks_add``, and a watchdog that records the longest time
between two feeds.
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import os
import socket as _socket
import threading
import time
import types
from pathlib import Path
from typing import Any

UMQTT_DIR = Path(__file__).resolve().parent / "vendor" / "umqtt_simple"
UMQTT_FILE = UMQTT_DIR / "umqtt" / "simple.py"
UMQTT_SHA256 = "3cfd101ef774e0c6f9543425650ddc36168a7bbf4b8b8b71667e27023dfd951f"

AF_INET = _socket.AF_INET
SOCK_STREAM = _socket.SOCK_STREAM
IPPROTO_TCP = _socket.IPPROTO_TCP
TCP_NODELAY = _socket.TCP_NODELAY


class MpSocket:
    """A MicroPython (lwIP) socket over a CPython socket."""

    #: every MpSocket made, for tests that look at what the node left open
    made: list[MpSocket] = []
    #: the largest single read (umqtt.simple allocates a bytes object of that size on a board)
    largest_read = 0

    def __init__(self, af: int = AF_INET, kind: int = SOCK_STREAM, proto: int = 0) -> None:
        self._s = _socket.socket(af, kind, proto)
        self.closed = False
        MpSocket.made.append(self)

    # configuration
    def settimeout(self, t: float | None) -> None:
        self._s.settimeout(t)

    def setblocking(self, flag: bool) -> None:
        self._s.settimeout(None if flag else 0.0)

    def setsockopt(self, level: int, opt: int, value: int) -> None:
        self._s.setsockopt(level, opt, value)

    def connect(self, addr: Any) -> None:
        try:
            self._s.connect(addr)
        except TimeoutError:
            raise OSError(errno.ETIMEDOUT, "ETIMEDOUT") from None
        except BlockingIOError:
            raise OSError(errno.EINPROGRESS, "EINPROGRESS") from None

    # streams
    def read(self, n: int) -> bytes | None:
        MpSocket.largest_read = max(MpSocket.largest_read, n)
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self._s.recv(n - len(buf))
            except BlockingIOError:  # non-blocking, nothing (more) there
                return bytes(buf) if buf else None
            except TimeoutError:
                raise OSError(errno.ETIMEDOUT, "ETIMEDOUT") from None
            if not chunk:
                break  # end of stream: a short read
            buf += chunk
        return bytes(buf)

    def write(self, buf: Any, n: int | None = None) -> int:
        data = buf.encode() if isinstance(buf, str) else bytes(buf)
        if n is not None:
            data = data[:n]
        try:
            self._s.sendall(data)
        except TimeoutError:
            raise OSError(errno.ETIMEDOUT, "ETIMEDOUT") from None
        except BlockingIOError:
            raise OSError(errno.EAGAIN, "EAGAIN") from None
        return len(data)

    def close(self) -> None:
        self.closed = True
        self._s.close()


def getaddrinfo(host: str, port: int, af: int = 0, kind: int = 0, proto: int = 0, flags: int = 0) -> list[Any]:
    return [a for a in _socket.getaddrinfo(host, port, AF_INET, SOCK_STREAM)]


def socket_module() -> types.ModuleType:
    mod = types.ModuleType("socket", "MicroPython's socket, over CPython sockets (tests/mpy_shim.py)")
    mod.socket = MpSocket  # type: ignore[attr-defined]
    mod.getaddrinfo = getaddrinfo  # type: ignore[attr-defined]
    for name in ("AF_INET", "SOCK_STREAM", "IPPROTO_TCP", "TCP_NODELAY"):
        setattr(mod, name, globals()[name])
    return mod


def load_umqtt(sock: types.ModuleType | None = None) -> types.ModuleType:
    """The vendored umqtt.simple, unmodified, importing this module's ``socket`` (real sockets),
    or ``sock`` (e.g. the scripted one of tests/mpy_fakes/socket.py)."""
    source = UMQTT_FILE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    assert digest == UMQTT_SHA256, f"{UMQTT_FILE} was changed (sha256 {digest}): it must stay the upstream file"
    shim = sock or socket_module()
    real_import = builtins.__import__

    def mp_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if name == "socket":
            return shim
        return real_import(name, globals, locals, fromlist, level)

    mod = types.ModuleType("umqtt.simple")
    mod.__file__ = str(UMQTT_FILE)
    mod.__dict__["__builtins__"] = {**builtins.__dict__, "__import__": mp_import}
    exec(compile(source, str(UMQTT_FILE), "exec"), mod.__dict__)
    return mod


# ------------------------------------------------------------- the board

TICKS_PERIOD = 1 << 30


class Watchdog:
    """machine.WDT: records feeds and the longest time between two (wall time, seconds)."""

    def __init__(self, timeout_ms: int = 8000) -> None:
        self.timeout_s = timeout_ms / 1000
        self.feeds = 0
        self.last = time.monotonic()
        self.longest = 0.0
        self._lock = threading.Lock()

    def feed(self) -> None:
        now = time.monotonic()
        with self._lock:
            self.longest = max(self.longest, now - self.last)
            self.last = now
            self.feeds += 1

    def restart(self) -> None:
        with self._lock:
            self.last = time.monotonic()

    @property
    def expired(self) -> bool:
        """True when the hardware would have reset the board (a gap over the timeout)."""
        with self._lock:
            return max(self.longest, time.monotonic() - self.last) > self.timeout_s


class Board:
    """time.ticks_* with MicroPython's wrap (2**30 ms), starting at ``start`` ms."""

    def __init__(self, start: int = 0) -> None:
        self.offset = start - int(time.monotonic() * 1000)

    def ticks_ms(self) -> int:
        return (int(time.monotonic() * 1000) + self.offset) % TICKS_PERIOD

    @staticmethod
    def ticks_diff(a: int, b: int) -> int:
        return ((a - b + TICKS_PERIOD // 2) % TICKS_PERIOD) - TICKS_PERIOD // 2

    @staticmethod
    def ticks_add(a: int, b: int) -> int:
        return (a + b) % TICKS_PERIOD


def urandom(n: int) -> bytes:
    return os.urandom(n)


def scripted_socket() -> types.ModuleType:
    """A fresh copy of tests/mpy_fakes/socket.py (the scripted broker), as a module object."""
    path = Path(__file__).resolve().parent / "mpy_fakes" / "socket.py"
    mod = types.ModuleType("socket", "the scripted socket of tests/mpy_fakes/socket.py")
    mod.__file__ = str(path)
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), mod.__dict__)
    return mod
