"""Every day of a site's log, live or archived, through one reader.

The live log (SQLite) holds the recent days; older ones are in their archive
files (:mod:`antre.central.archive`).  :class:`History` lists both and gives a
day's events the same way wherever they are, so ``antre audit``, reports and
anything else that reads history never need to know where a day lives::

    with History.open(config) as history:
        for day in history.days():
            for seq, event in history.events(day.day): ...

A live day is read in one read transaction, so a day archived by the running
central at that moment is read whole from one side or the other, never twice
and never half.  An archived day's file is verified (checksum, header, every
line) before any of its events is given; a missing or damaged file raises
:class:`~antre.central.store.StorageError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import msgspec

from antre.central import events as ev
from antre.central.archive import archive_dir, read_archive
from antre.central.config import SiteConfig
from antre.central.store import (
    ArchiveRecord,
    EventStore,
    StorageCause,
    StorageError,
    restore_advice,
)


@dataclass(frozen=True, slots=True)
class Day:
    """One local day of the site's history and where it is kept."""

    day: dt.date
    where: Literal["live", "archive"]
    first_seq: int
    last_seq: int


class History:
    """The site's days, from the live log and the archive (read-only; safe beside a running central)."""

    def __init__(self, store: EventStore, directory: Path) -> None:
        self.store = store
        self.directory = directory

    @classmethod
    def open(cls, config: SiteConfig, db: str | None = None, archive: str | None = None) -> History:
        """The history of ``config``'s site: its log (``db``, default ``store.path``) opened read-only and
        its archive directory (``archive``, default ``store.archive`` or ``archive/`` beside the log)."""
        path = db or config.store.path
        store = EventStore(path, config.site_id, readonly=True)
        return cls(store, archive_dir(path, archive or config.store.archive))

    def __enter__(self) -> History:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ days

    def days(self) -> list[Day]:
        """Every day, oldest first; a day both archived and live (never written so) is served live."""
        with self.store.snapshot():
            live = self.store.day_spans()
            archived = self.store.archived()
        found = {s.day: Day(dt.date.fromisoformat(s.day), "live", s.first_seq, s.last_seq) for s in live}
        for rec in archived:
            found.setdefault(rec.day, Day(dt.date.fromisoformat(rec.day), "archive", rec.first_seq, rec.last_seq))
        return sorted(found.values(), key=lambda d: d.first_seq)

    def latest(self) -> dt.date | None:
        days = self.days()
        return days[-1].day if days else None

    # ---------------------------------------------------------------- events

    def events(self, day: dt.date) -> Iterator[tuple[int, ev.AnyEvent]]:
        """The events of ``day`` in order, with their sequence numbers (none for a day not in the history)."""
        key = day.isoformat()
        with self.store.snapshot():
            span = next((s for s in self.store.day_spans() if s.day == key), None)
            rows = self.store.raw_events(span.first_seq, span.last_seq) if span is not None else []
            record = None if span is not None else next((r for r in self.store.archived() if r.day == key), None)
        if span is not None:
            for seq, body in rows:
                yield seq, self._decode(seq, body)
            return
        if record is not None:
            yield from self._archived(record)

    def all_events(self) -> Iterator[tuple[dt.date, int, ev.AnyEvent]]:
        """Every event of every day, oldest first."""
        for day in self.days():
            for seq, event in self.events(day.day):
                yield day.day, seq, event

    def _archived(self, record: ArchiveRecord) -> Iterator[tuple[int, ev.AnyEvent]]:
        path = self.directory / record.file
        yield from read_archive(self.directory, record, self.store.site).events(str(path))

    def _decode(self, seq: int, body: bytes) -> ev.AnyEvent:
        try:
            return ev.decode_event(body)
        except msgspec.DecodeError as exc:
            raise StorageError(
                f"event {seq} in {self.store.path} is unreadable ({exc}); the log is corrupt: move it aside and "
                f"{restore_advice(self.store.path)}", StorageCause.CORRUPT,
            ) from None
