"""The audit trail: every call, skip, transfer, priority and pause of a day,
with gerai, time and reason, read back from the site's history (the live event
log and its archive, :class:`~antre.central.history.History`)."""

from __future__ import annotations

import datetime as dt
from typing import TextIO

from antre.broker.wire.messages import Priority
from antre.central import events as ev
from antre.central.archive import archive_dir
from antre.central.config import SiteConfig
from antre.central.history import History
from antre.central.store import EventStore


def describe(event: ev.AnyEvent) -> str:
    """One line of the audit trail for ``event`` (without its time)."""
    match event:
        case ev.DayOpened():
            return f"day {event.day} opened"
        case ev.TicketIssued():
            prio = f" priority={event.priority}" if event.priority != Priority.REGULAR else ""
            printed = "" if event.print else " (issued without printing)"
            return f"{event.actor}: issued {event.number} for {event.service}{prio}{printed}"
        case ev.TicketCalled():
            why = f" reason: {event.reason}" if event.reason else ""
            return f"{event.gerai}: called {event.ticket_id} ({event.mode}){why}"
        case ev.TicketRecalled():
            return f"{event.gerai}: recalled {event.ticket_id}"
        case ev.TicketServed():
            return f"{event.gerai}: served {event.ticket_id}"
        case ev.TicketNoShow():
            return f"{event.gerai}: no-show {event.ticket_id}"
        case ev.TicketTransferred():
            note = f" note: {event.note}" if event.note else ""
            return f"{event.gerai}: transferred {event.ticket_id} to {event.to_service}{note}"
        case ev.GeraiPaused():
            return f"{event.gerai}: paused, reason: {event.reason}"
        case ev.GeraiResumed():
            return f"{event.gerai}: resumed"
        case ev.PrintAcked():
            result = "printed" if event.ok else f"PRINT FAILED ({event.status} {event.detail})".rstrip()
            return f"{event.actor}: {event.ticket_id} {result}"
        case ev.TicketVoided():
            return f"{event.actor}: VOIDED {event.ticket_id} (never printed), reason: {event.reason}"
        case ev.TicketReprinted():
            return f"{event.actor}: reprint of {event.ticket_id} sent to the printer"
        case ev.CommandRefused():
            return f"{event.actor}: refused {event.action}: {event.code} {event.detail}".rstrip()
        case ev.IssuingStopped():
            return f"{event.actor}: stopped issuing for {event.service}, reason: {event.reason}"
        case ev.IssuingResumed():
            return f"{event.actor}: resumed issuing for {event.service}"
        case ev.QuotaSet():
            quota = "the site file's" if event.quota is None else str(event.quota)
            return f"{event.actor}: today's quota of {event.service} set to {quota}"
        case ev.LobbyMessageSet():
            return f"{event.actor}: lobby message set to {event.text!r}" if event.text else \
                f"{event.actor}: lobby message cleared"
        case ev.SurveyAnswered():
            said = " with a suggestion" if event.suggestion.strip() else ""
            return (f"{event.actor}: SKM answer for {event.ticket_id} ({event.service} at {event.gerai}, "
                    f"{event.channel}): {' '.join(map(str, event.scores))}{said}")
        case ev.QuickRated():
            return f"{event.gerai}: quick rating {event.score} for {event.ticket_id}"


_UNSAFE = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), 0x7F)}  # control characters
_UNSAFE.update({c: f"\\u{c:04x}" for c in (*range(0x80, 0xA0), *range(0x200B, 0x2010), *range(0x202A, 0x202F),
                                          *range(0x2066, 0x206A), 0xFEFF)})  # C1, zero-width, bidi overrides


def printable(text: str) -> str:
    """``text`` safe for a technician's terminal: control, zero-width and bidi characters (which a
    device could put into a reason or a note) are shown escaped, never interpreted."""
    return text.translate(_UNSAFE)


def print_audit(config: SiteConfig, history: History | EventStore, day: dt.date | None, out: TextIO) -> int:
    """Print the trail of ``day``, live or archived (default: every day, a blank line between
    days); returns the line count.  An EventStore is read with its archive (``store.archive``)."""
    if isinstance(history, EventStore):
        history = History(history, archive_dir(history.path, config.store.archive))
    lines = 0
    days = [d.day for d in history.days()] if day is None else [day]
    for current in days:
        if day is None and lines:
            out.write("\n")
        for _, event in history.events(current):
            local = dt.datetime.fromtimestamp(event.ts, config.zone)
            cmd = f" [{event.cmd}]" if event.cmd else ""
            by = f" by {event.by} (console)" if event.by else ""
            out.write(printable(f"{local:%Y-%m-%d %H:%M:%S} {describe(event)}{by}{cmd}") + "\n")
            lines += 1
    return lines
