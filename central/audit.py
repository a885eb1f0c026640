"""The audit trail: every call, skip, transfer, priority and pause of a day,
with gerai, time and reason, read back from the event log."""

from __future__ import annotations

import datetime as dt
from typing import TextIO

from central import events as ev
from central.config import SiteConfig
from central.store import EventStore


def describe(event: ev.AnyEvent) -> str:
    """One line of the audit trail for ``event`` (without its time)."""
    match event:
        case ev.DayOpened():
            return f"day {event.day} opened"
        case ev.TicketIssued():
            prio = f" priority={event.priority}" if event.priority != "regular" else ""
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
        case ev.CommandRefused():
            return f"{event.actor}: refused {event.action}: {event.code} {event.detail}".rstrip()


def print_audit(config: SiteConfig, store: EventStore, day: dt.date | None, out: TextIO) -> int:
    """Print the trail of ``day`` (default: the latest); returns the line count."""
    lines = 0
    current: dt.date | None = None
    for _, event in store.events(0):
        if isinstance(event, ev.DayOpened):
            current = dt.date.fromisoformat(event.day)
        if day is not None and current != day:
            continue
        if day is None and current is not None and isinstance(event, ev.DayOpened) and lines:
            out.write("\n")
        local = dt.datetime.fromtimestamp(event.ts, config.zone)
        cmd = f" [{event.cmd}]" if event.cmd else ""
        out.write(f"{local:%Y-%m-%d %H:%M:%S} {describe(event)}{cmd}\n")
        lines += 1
    return lines
