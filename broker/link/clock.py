"""The central's clock, as a device estimates it from the link.

A device stamps every command with the moment of the press on the *central's*
clock, so the central can refuse a press that arrives late (it waited in a hung
link or a dead broker) without trusting the device's own wall clock, which on
a Raspberry Pi without a battery-backed clock may be hours off until NTP syncs.

The device sends ``ping`` commands; the central answers each with a ``pong``
reply carrying its time.  From one round trip (sent and received on the
device's monotonic clock) the central's time at the moment the pong arrived is
``pong.ts + rtt / 2``, within ``rtt / 2``.  :class:`LinkClock` anchors that to
the monotonic clock, so later estimates follow the monotonic clock and are
immune to steps of the device's wall clock (NTP corrections, a wrong RTC).
Samples with a large round trip are less accurate and replace a better one
only once it has aged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Anchor:
    mono: float  # device monotonic time of the sample
    central: float  # the central's time at that moment
    rtt: float  # round trip of the sample (its error is at most rtt / 2)


class LinkClock:
    """Estimate of the central's clock from ping round trips (see module docstring).

    Thread-safe.  Before the first pong it falls back to the device's wall clock.
    """

    #: a sample with a round trip above this is ignored (its error could be half of it)
    MAX_RTT = 2.0
    #: a worse sample replaces a better one once the better one is this old (drift of the monotonic clock)
    REFRESH_S = 300.0

    def __init__(self, wall: Callable[[], float] = time.time, mono: Callable[[], float] = time.monotonic) -> None:
        self._wall = wall
        self._mono = mono
        self._anchor: Anchor | None = None
        self._sent: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def synced(self) -> bool:
        return self._anchor is not None

    @property
    def anchor(self) -> Anchor | None:
        return self._anchor

    def now(self) -> float:
        """The central's time now (the wall clock until the first pong)."""
        anchor = self._anchor
        if anchor is None:
            return self._wall()
        return anchor.central + (self._mono() - anchor.mono)

    def offset(self) -> float | None:
        """Central minus device wall clock, in seconds (for the technician's health report)."""
        return None if self._anchor is None else self.now() - self._wall()

    def ping_sent(self, ping_id: str) -> None:
        with self._lock:
            if len(self._sent) > 64:  # pongs that never came
                self._sent.clear()
            self._sent[ping_id] = self._mono()

    def pong(self, ping_id: str, central_ts: float) -> bool:
        """A pong for ``ping_id`` carrying the central's time; True when it was used."""
        received = self._mono()
        with self._lock:
            sent = self._sent.pop(ping_id, None)
            if sent is None:
                return False
            rtt = max(0.0, received - sent)
            if rtt > self.MAX_RTT:
                return False
            current = self._anchor
            if current is not None and rtt > current.rtt * 2 and received - current.mono < self.REFRESH_S:
                return False
            self._anchor = Anchor(received, central_ts + rtt / 2, rtt)
            return True

    def is_ping(self, cmd_id: str) -> bool:
        with self._lock:
            return cmd_id in self._sent
