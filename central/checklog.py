"""``antre central check-log``: every page of the live log and every archive file, checked on demand.

The central checks only what is cheap at each start (an SQLite file of its site,
the current day readable by the replay) so that its start does not grow with
history; the whole file is checked when a day is archived, and here:

- the live log: ``PRAGMA integrity_check`` (``--quick``: ``quick_check``, which
  skips the index-to-table cross checks), then every event decoded;
- every day the log says is archived: its file is there, has the recorded
  SHA-256 and size, its header names this site, that day and that seq span,
  and every line decodes to an event;
- no day is both live and archived, no two days overlap.

Archive files the log does not name (left by an export interrupted before its
commit) are listed as notes: the log still has those days.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import msgspec

from antre.central import events as ev
from antre.central.archive import SUFFIX, read_archive
from antre.central.store import EventStore, StorageError

log = logging.getLogger(__name__)


@dataclass
class LogCheck:
    """What :func:`check_log` found."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    live_days: int = 0
    live_events: int = 0
    archived_days: int = 0
    archived_events: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def check_log(store: EventStore, directory: Path, *, full: bool = True, out: TextIO | None = None) -> LogCheck:
    """Check ``store`` (opened read-only is fine) and its archive in ``directory``; problems are
    collected, not raised, so one run lists them all."""
    started = time.monotonic()
    result = LogCheck()

    def say(text: str) -> None:
        if out is not None:
            out.write(text + "\n")
            out.flush()

    pragma = "integrity_check" if full else "quick_check"
    found = store.integrity(full)
    if found:
        result.problems += [f"{store.path}: {pragma}: {p}" for p in found[:20]]
        if len(found) > 20:
            result.problems.append(f"{store.path}: {pragma}: ... and {len(found) - 20} more")
    say(f"live log {store.path}: {pragma} {'ok' if not found else 'FAILED'}")

    with store.snapshot():
        spans = store.day_spans()
        records = store.archived()
    if not found:
        try:
            for span in spans:  # a day at a time: bounded memory
                for seq, body in store.raw_events(span.first_seq, span.last_seq):
                    try:
                        ev.decode_event(body)
                    except msgspec.DecodeError as exc:
                        result.problems.append(f"{store.path}: event {seq} is unreadable ({exc})")
                    result.live_events += 1
        except StorageError as exc:
            result.problems.append(str(exc))
    result.live_days = len(spans)
    say(f"live log: {len(spans)} days, {result.live_events} events readable"
        + (f" ({spans[0].day} to {spans[-1].day})" if spans else ""))

    live = {s.day for s in spans}
    for record in records:
        if record.day in live:
            result.problems.append(f"day {record.day} is both in the live log and archived in {record.file}")
        try:
            archived = read_archive(directory, record, store.site)
            for _ in archived.events(str(directory / record.file)):
                pass
        except StorageError as exc:
            result.problems.append(f"{exc.label()}: {exc}")
            say(f"archive {record.day}: FAILED")
            continue
        result.archived_days += 1
        result.archived_events += record.count
    say(f"archive {directory}: {len(records)} days recorded, {result.archived_days} verified (sha256, header, "
        f"{result.archived_events} events)")

    spans_all = sorted([(s.first_seq, s.last_seq, s.day) for s in spans]
                       + [(r.first_seq, r.last_seq, r.day) for r in records])
    for (a1, a2, da), (b1, b2, db) in zip(spans_all, spans_all[1:]):
        if b1 <= a2:
            result.problems.append(f"days {da} (seq {a1}-{a2}) and {db} (seq {b1}-{b2}) overlap")

    named = {r.file for r in records}
    if directory.is_dir():
        for path in sorted(directory.glob(f"{store.site}-*{SUFFIX}")):
            if path.name not in named:
                result.notes.append(f"{path} is not named by the log (an export interrupted before its commit; "
                                    "the log still holds that day, the next archive round rewrites it)")
    for note in result.notes:
        say(f"note: {note}")
    result.seconds = time.monotonic() - started
    return result
