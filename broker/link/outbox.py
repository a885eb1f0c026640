"""A device's unanswered commands: resent with the same id until answered or too old.

MQTT's QoS 1 ends at the broker: a command the broker acknowledged can still
be lost when the broker restarts without persistence, and one written into a
hung link sits in a socket buffer.  The central answers every command with a
reply, and applies a command id once, so a device keeps each command until
its reply arrives and resends it, unchanged (same id, same press time), while
its deadline has not passed.  After the deadline the central would refuse it
as ``stale`` anyway: the device drops it and tells the user it got no answer.

Pure bookkeeping on a monotonic clock: no MQTT here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Pending:
    """One command waiting for its reply."""

    id: str
    topic: str
    payload: bytes
    action: str
    first: float  # monotonic time of the first send (the press)
    deadline: float  # monotonic time after which it is dropped
    last_sent: float
    sends: int = 1


class Outbox:
    """Commands waiting for their replies (thread-safe).

    ``resend_s``: how long to wait for a reply before sending the command again.
    """

    def __init__(self, *, resend_s: float = 1.0, mono: Callable[[], float] = time.monotonic) -> None:
        self.resend_s = resend_s
        self._mono = mono
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()
        self.resent = 0
        self.expired_count = 0

    def add(self, cmd_id: str, topic: str, payload: bytes, action: str, deadline_s: float, sent: bool) -> Pending:
        """Keep a command; ``sent`` tells whether it went out now (else the next :meth:`due` sends it)."""
        now = self._mono()
        pending = Pending(cmd_id, topic, payload, action, now, now + deadline_s,
                          now if sent else now - self.resend_s, 1 if sent else 0)
        with self._lock:
            self._pending[cmd_id] = pending
        return pending

    def settle(self, cmd_id: str) -> Pending | None:
        """Its reply arrived: forget it; returns it, or None when it was not waiting."""
        with self._lock:
            return self._pending.pop(cmd_id, None)

    def due(self, *, reconnected: bool = False) -> list[Pending]:
        """What to send again now: unanswered for ``resend_s``, or everything after a reconnect."""
        now = self._mono()
        out = []
        with self._lock:
            for p in self._pending.values():
                if now < p.deadline and (reconnected or now - p.last_sent >= self.resend_s):
                    p.last_sent = now
                    p.sends += 1
                    out.append(p)
        self.resent += sum(1 for p in out if p.sends > 1)
        return out

    def expired(self) -> list[Pending]:
        """Commands whose deadline passed without a reply: removed and returned."""
        now = self._mono()
        with self._lock:
            gone = [p for p in self._pending.values() if now >= p.deadline]
            for p in gone:
                del self._pending[p.id]
        self.expired_count += len(gone)
        return gone

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def __contains__(self, cmd_id: object) -> bool:
        with self._lock:
            return cmd_id in self._pending
