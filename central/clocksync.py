"""Is the system clock synchronised?  The kernel knows (``adjtimex``).

The central's clock decides the day, the opening hours, the cut-off and the
press deadline.  A Raspberry Pi has no battery-backed clock: until NTP has
set it after a boot it may be hours or days off, and a ticket issued then
would carry the wrong date and number.  So the central refuses to issue
tickets (``clock_unsynced``) until the kernel reports a synchronised clock.

Both chrony and systemd-timesyncd keep the kernel's NTP state up to date
through ``adjtimex(2)``; the same rule as ``timedatectl``'s "System clock
synchronized" is used here: the kernel's maximum error estimate is below
16 s (it grows to 16 s when no NTP daemon disciplines the clock).  The call
only reads (``modes = 0``): no capability is needed, but a seccomp filter
must allow it (the central's unit adds ``adjtimex`` to ``@system-service``
and does not use ``ProtectClock=``, which would deny it).

Once synchronised, always trusted until the next boot: when the internet
(and so NTP) goes away, chrony marks the clock unsynchronised after a while,
but a clock that was right a few hours ago is still right to the second.
The gate remembers a synchronisation for the rest of the boot, in memory and
in a small file beside the event log holding the kernel's boot id (so a
restarted central trusts it too); only a clock never synchronised since the
machine booted (a Pi without a real-time clock after a power cut) holds
tickets back.

Tests and laptops: ``[central] require_clock_sync = false`` in the site file
turns the check off; the laptop demo runs on a simulated clock and never
checks.  :class:`ClockGate` takes any ``probe`` for tests.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: the kernel's "unsynchronised" maximum error (µs): NTP_PHASE_LIMIT << 5 = 16 s
MAXERROR_UNSYNCED_US = 16_000_000
STA_UNSYNC = 0x0040
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class ClockState:
    """What the kernel says of the system clock."""

    synced: bool
    maxerror_us: int | None = None
    status: int | None = None
    error: str | None = None  # why the state could not be read

    def describe(self) -> str:
        if self.error:
            return f"unknown ({self.error})"
        flag = "STA_UNSYNC set" if self.status is not None and self.status & STA_UNSYNC else "STA_UNSYNC clear"
        return (f"{'synchronised' if self.synced else 'NOT synchronised'} (kernel max error "
                f"{(self.maxerror_us or 0) / 1e6:.3f} s, {flag})")


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """``struct timex`` of <sys/timex.h> (the ABI of glibc's plain ``adjtimex`` symbol)."""

    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


def kernel_clock() -> ClockState:
    """Read the kernel's NTP state (``adjtimex`` with ``modes = 0``: read only)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return ClockState(False, error="no C library")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        adjtimex = libc.adjtimex
    except (OSError, AttributeError) as exc:
        return ClockState(False, error=f"adjtimex unavailable: {exc}")
    tx = _Timex()
    tx.modes = 0
    if adjtimex(ctypes.byref(tx)) < 0:
        err = ctypes.get_errno()
        return ClockState(False, error=f"adjtimex: {os.strerror(err)} (a seccomp filter without @clock?)")
    return ClockState(int(tx.maxerror) < MAXERROR_UNSYNCED_US, int(tx.maxerror), int(tx.status))


def boot_id(path: Path = BOOT_ID) -> str | None:
    """The kernel's id of this boot (None where it cannot be read)."""
    try:
        return path.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


class ClockGate:
    """``gate()`` tells whether tickets may be issued now; the kernel is asked at most every
    ``recheck_s`` seconds, and every change is logged (a warning while unsynchronised).

    ``latch``: a file remembering, by boot id, that the clock was synchronised during this
    boot (None: remembered in memory only).
    """

    def __init__(self, probe: Callable[[], ClockState] = kernel_clock, *, recheck_s: float = 2.0,
                 monotonic: Callable[[], float] = time.monotonic, latch: Path | None = None,
                 boot: Callable[[], str | None] = boot_id) -> None:
        self.probe = probe
        self.recheck_s = recheck_s
        self.monotonic = monotonic
        self.latch = latch
        self.boot = boot
        self.state: ClockState | None = None
        #: synchronised at some point since the machine booted (this process saw it, or the latch says so)
        self.synced_this_boot = False
        self._checked = float("-inf")
        self._last_warning = float("-inf")
        self._latch_checked = False

    def _latched(self) -> bool:
        if self.synced_this_boot:
            return True
        if self.latch is None or self._latch_checked:
            return False
        self._latch_checked = True  # read once: a boot id does not change while we run
        current = self.boot()
        try:
            stored = self.latch.read_text(encoding="ascii").strip()
        except OSError:
            return False
        self.synced_this_boot = current is not None and stored == current
        return self.synced_this_boot

    def _remember(self) -> None:
        if self.synced_this_boot:
            return
        self.synced_this_boot = True
        current = self.boot()
        if self.latch is None or current is None:
            return
        try:
            tmp = self.latch.with_name(self.latch.name + ".tmp")
            tmp.write_text(current + "\n", encoding="ascii")
            os.replace(tmp, self.latch)
        except OSError as exc:
            log.warning("cannot remember the clock's synchronisation in %s: %s", self.latch, exc)

    def __call__(self) -> bool:
        now = self.monotonic()
        if now - self._checked >= self.recheck_s:
            self._checked = now
            state = self.probe()
            previous, self.state = self.state, state
            if state.synced:
                self._remember()
                if previous is None or not previous.synced:
                    log.info("system clock %s: issuing tickets", state.describe())
            elif self._latched():
                if previous is None or previous.synced:
                    log.warning("system clock %s, but it was synchronised earlier since this boot: issuing "
                                "tickets on the free-running clock (check NTP: `chronyc sources`)",
                                state.describe())
            elif previous is None or previous.synced or now - self._last_warning > 300:
                self._last_warning = now
                log.warning("system clock %s and never synchronised since this boot: tickets are refused "
                            "(clock_unsynced) until it is. Check `timedatectl` or `chronyc tracking`; see "
                            "README, Clocks", state.describe())
        return self.state is not None and (self.state.synced or self.synced_this_boot)
