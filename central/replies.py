"""Which command ids the central has answered, for exactly-once handling of redeliveries.

A device (or the broker, under QoS 1) may send a command again; the central
answers a command id it has seen with the reply it gave the first time and
changes nothing.  The replies themselves are in the event log (``commands``
table, written in the same transaction as the command's events); this cache
keeps only the ids and their times, by time (``retention_s``) and bounded in
count (``max_keys``):

- at start it reads the ids of the retention window from an index, without
  decoding a single reply (start-up does not grow with the window's traffic);
- a duplicate's reply is read from the log when the duplicate arrives;
- past ``max_keys`` the oldest ids are forgotten by the cache, and a command id
  the cache does not know is then looked up in the log before it is applied,
  so a burst beyond the cap costs a lookup per command, never a command applied twice.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator

import msgspec

from antre.broker.wire import messages as m
from antre.central.store import EventStore, StorageCause, StorageError, restore_advice

log = logging.getLogger(__name__)

#: ids kept in memory at most (about 200 bytes each); the log holds them all
DEFAULT_MAX_KEYS = 100_000


class ReplyCache:
    """The command ids answered within ``retention_s``, oldest first; replies read on demand from ``store``."""

    def __init__(self, store: EventStore, retention_s: float, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.store = store
        self.retention_s = retention_s
        self.max_keys = max_keys
        self._keys: dict[str, float] = {}
        self._order: deque[tuple[str, float]] = deque()  # the same ids, oldest first
        #: a command id newer than this that the cache does not hold may still be in the log
        self._forgot_until = float("-inf")
        self.lookups = 0  # log lookups of ids the cache did not hold (after the cap was reached)

    def load(self, now: float) -> None:
        """The ids of the retention window, from the log's index (no reply is read)."""
        keys = self.store.reply_keys(now - self.retention_s)
        self._keys = dict(keys)
        self._order = deque(keys)
        self._forgot_until = float("-inf")
        self._cap()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def seen(self, key: str, now: float) -> m.Reply | None:
        """The reply given to ``key`` if it was answered within the retention, read from the log."""
        if key in self._keys:
            stored = self.store.reply(key)
            if stored is None:
                raise StorageError(f"the reply to command {key!r} is missing from {self.store.path} although it "
                                   f"was answered; the log is corrupt: {restore_advice(self.store.path)}",
                                   StorageCause.CORRUPT)
        elif self._forgot_until >= now - self.retention_s:
            self.lookups += 1
            stored = self.store.reply(key)
            if stored is None or stored.ts < now - self.retention_s:
                return None
        else:
            return None
        try:
            return msgspec.json.decode(stored.reply, type=m.Reply)
        except msgspec.DecodeError as exc:
            raise StorageError(f"stored reply {key!r} is unreadable ({exc}); the log is corrupt: "
                               f"{restore_advice(self.store.path)}", StorageCause.CORRUPT) from None

    def add(self, keys: list[tuple[str, float]]) -> None:
        """Remember ids just committed with their replies."""
        for key, ts in keys:
            if key not in self._keys:
                self._keys[key] = ts
                self._order.append((key, ts))
        self._cap()

    def prune(self, now: float) -> None:
        """Forget the ids older than the retention."""
        cutoff = now - self.retention_s
        while self._order and self._order[0][1] < cutoff:
            key, _ = self._order.popleft()
            del self._keys[key]

    def _cap(self) -> None:
        if len(self._order) <= self.max_keys:
            return
        newest = self._forgot_until
        while len(self._order) > self.max_keys:
            key, ts = self._order.popleft()
            del self._keys[key]
            newest = max(newest, ts)
        if newest > self._forgot_until:
            log.debug("reply cache at its cap (%d ids): ids up to %.0f are looked up in the log", self.max_keys, newest)
        self._forgot_until = newest
