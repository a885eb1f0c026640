"""What every deployable does as a service: logging, readiness, watchdog.

- :func:`setup_logging` is the one logging setup of every ``antre`` command.
  Under systemd, with standard error connected to the journal
  (``$JOURNAL_STREAM`` names that stream), each line starts with its syslog
  priority (``<3>`` error, ``<4>`` warning, ``<6>`` info, ``<7>`` debug;
  systemd's ``SyslogLevelPrefix=``) and carries no timestamp (the journal
  has its own); elsewhere lines carry the time and the level name.  The
  INFO chatter of third-party libraries (amqtt, transitions, ...) is kept to
  warnings.
- :class:`Notifier` speaks systemd's notification protocol (``sd_notify``):
  ``READY=1`` once a service serves, ``STATUS=...``, ``STOPPING=1`` and
  ``WATCHDOG=1``.  Without ``$NOTIFY_SOCKET`` (not under systemd, or
  ``Type=simple``) every call does nothing.
- :func:`cpu_temperature` reads the SoC's temperature for every device's health report.
- :class:`Watchdog` pings ``WATCHDOG=1`` at a third of ``WatchdogSec=``, but
  only while the service's own check says its work loop makes progress: a
  service whose loop hangs stops pinging, and systemd restarts it.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol, TextIO

log = logging.getLogger(__name__)

#: Third-party loggers whose INFO lines are noise in a service's journal.
QUIET_LOGGERS = ("amqtt", "transitions", "websockets", "asyncio", "PIL", "passlib", "paho", "luma", "gpiozero")

#: syslog priorities of Python's levels (what the journal's PRIORITY field means).
_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a Python log level: 2 critical, 3 error, 4 warning, 6 info, 7 debug."""
    for level, priority in _PRIORITY:
        if levelno >= level:
            return priority
    return 7


class JournalFormatter(logging.Formatter):
    """``<N>logger: message``: the priority prefix systemd reads, no timestamp."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = f"<{syslog_priority(record.levelno)}>"
        # every line of a multi-line record (a traceback) keeps the record's priority
        return "\n".join(prefix + line for line in text.splitlines() or [""])


def journal_stream(stream: TextIO, env: Mapping[str, str] = os.environ) -> bool:
    """Whether ``stream`` is the journal stream systemd connected (``$JOURNAL_STREAM`` is its
    ``device:inode``; a redirected stderr of a child process no longer matches)."""
    value = env.get("JOURNAL_STREAM", "")
    if not value:
        return False
    try:
        dev, ino = (int(part) for part in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def setup_logging(level: int = logging.INFO, stream: TextIO | None = None, *,
                  journal: bool | None = None, force: bool = False) -> logging.Handler | None:
    """Configure the root logger for any antre command; returns its handler.

    ``journal``: force the journal format (None: detect it from ``$JOURNAL_STREAM``).  Like
    :func:`logging.basicConfig`, a root logger that already has someone else's handlers (a
    test runner's) is left alone unless ``force``; the third-party loggers are quieted anyway.
    """
    root = logging.getLogger()
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    if not force and any(not getattr(h, "antre", False) for h in root.handlers):
        return None
    stream = stream if stream is not None else sys.stderr
    if journal is None:
        journal = journal_stream(stream)
    handler = logging.StreamHandler(stream)
    if journal:
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.antre = True  # type: ignore[attr-defined]  # ours: replaced by the next call
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


class Notifier:
    """systemd's ``sd_notify`` protocol over ``$NOTIFY_SOCKET`` (a datagram socket).

    Pure Python: no libsystemd.  Does nothing when the variable is absent.
    """

    def __init__(self, env: Mapping[str, str] = os.environ) -> None:
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        self.address = address if address[:1] in ("/", "\0") else ""
        self._lock = threading.Lock()
        self.sent_ready = False  # READY=1 was sent
        watchdog_usec = env.get("WATCHDOG_USEC", "")
        watchdog_pid = env.get("WATCHDOG_PID", "")
        interval = None
        try:
            if watchdog_usec and (not watchdog_pid or int(watchdog_pid) == os.getpid()):
                interval = int(watchdog_usec) / 1e6
        except ValueError:
            interval = None
        #: ``WatchdogSec=`` in seconds, when systemd expects pings from this process
        self.watchdog_s: float | None = interval if interval and interval > 0 else None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields; False when not under systemd or when sending failed."""
        if not self.address:
            return False
        message = "\n".join(fields).encode("utf-8", "replace")
        try:
            with self._lock, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall(message)
            return True
        except OSError as exc:
            log.debug("sd_notify to %r failed: %s", self.address, exc)
            return False

    def ready(self, status: str = "") -> bool:
        """``READY=1`` (once), with a status line."""
        if self.sent_ready:
            return self.status(status) if status else True
        self.sent_ready = True
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text[:200]}")

    def stopping(self, status: str = "") -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def ping(self) -> bool:
        return self.notify("WATCHDOG=1")


class Watchdog:
    """A thread that sends ``WATCHDOG=1`` while ``alive()`` says the service makes progress.

    ``alive`` runs in the watchdog thread: it must be cheap and must not block on
    anything but what it checks.  When it returns False (or hangs), pings stop and
    systemd, after ``WatchdogSec=``, kills and restarts the service (``Restart=``).
    """

    def __init__(self, notifier: Notifier, alive: Callable[[], bool], *, interval: float | None = None) -> None:
        self.notifier = notifier
        self.alive = alive
        period = notifier.watchdog_s
        self.interval = interval if interval is not None else (period / 3 if period else None)
        self.pings = 0
        self.missed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Watchdog:
        if self.interval is None or not self.notifier.enabled:
            return self  # systemd expects no pings
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            try:
                ok = self.alive()
            except Exception:
                log.exception("watchdog check failed")
                ok = False
            if ok:
                self.notifier.ping()
                self.pings += 1
            else:
                self.missed += 1
                log.warning("watchdog: no progress; not pinging systemd (it restarts the service after "
                            "WatchdogSec=)")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


class Progress:
    """A monotonic timestamp a work loop touches on every pass; ``recent(limit)`` for a watchdog."""

    def __init__(self) -> None:
        self.at = time.monotonic()
        self.passes = 0

    def touch(self) -> None:
        self.at = time.monotonic()
        self.passes += 1

    def age(self) -> float:
        return time.monotonic() - self.at

    def recent(self, limit: float) -> bool:
        return self.age() < limit


class _Counting(Protocol):
    frames: int


@contextmanager
def lobby_service(app: _Counting, lobby: str) -> Iterator[Watchdog]:
    """Around a lobby screen's frame loop: ``READY=1`` after its first frame, then ``WATCHDOG=1``
    while frames keep being drawn (a frozen display driver stops the pings)."""
    notifier = Notifier()
    seen = {"frames": -1}

    def alive() -> bool:
        frames = app.frames
        if frames > 0:
            notifier.ready(f"lobby {lobby}: drawing")
        moved = frames != seen["frames"]
        seen["frames"] = frames
        return moved

    # checked every second here (not a third of WatchdogSec): READY=1 follows the first frame closely
    watchdog = Watchdog(notifier, alive, interval=1.0 if notifier.watchdog_s or notifier.enabled else None)
    watchdog.start()
    try:
        yield watchdog
    finally:
        watchdog.stop()
        notifier.stopping()


def cpu_temperature(path: str = "/sys/class/thermal/thermal_zone0/temp") -> float | None:
    """The SoC temperature in °C where the kernel exposes it (a Raspberry Pi does): every device's
    health report carries it."""
    try:
        with open(path, encoding="ascii") as f:
            return round(int(f.read().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None
