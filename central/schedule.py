"""Opening hours, breaks, cut-off and holidays: pure functions over local time."""

from __future__ import annotations

from antre.broker.wire.messages import ResultCode

import datetime as dt
import re
from dataclasses import dataclass, field

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")


class ScheduleError(ValueError):
    """A malformed window or week table (the config loader adds file and key)."""


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """A half-open interval of local time of day, [start, end), in minutes."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> Window:
        match = _WINDOW_RE.match(text) if isinstance(text, str) else None
        if not match:
            raise ScheduleError(f"{text!r} is not a time window like \"08:00-15:00\"")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end > 24 * 60:
            raise ScheduleError(f"{text!r} ends after midnight")
        if end <= start:
            raise ScheduleError(f"{text!r} ends before it starts")
        return cls(start, end)

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end

    def __str__(self) -> str:
        return f"{fmt_minute(self.start)}-{fmt_minute(self.end)}"


def fmt_minute(minute: int) -> str:
    """``495`` -> ``"08:15"``."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_week(table: dict[str, list[str]]) -> dict[int, tuple[Window, ...]]:
    """Parse ``{"mon": ["08:00-12:00", "13:00-15:00"], ...}`` (weekday 0 = Monday).

    Days not in the table have no windows.  Windows of a day must not overlap.
    """
    week: dict[int, tuple[Window, ...]] = {}
    for day, texts in table.items():
        if day not in WEEKDAYS:
            raise ScheduleError(f"unknown weekday {day!r}; use one of {', '.join(WEEKDAYS)}")
        windows = sorted(Window.parse(t) for t in texts)
        for a, b in zip(windows, windows[1:]):
            if b.start < a.end:
                raise ScheduleError(f"windows {a} and {b} on {day} overlap")
        week[WEEKDAYS.index(day)] = tuple(windows)
    return week


@dataclass(frozen=True, slots=True)
class IssueVerdict:
    """Whether a ticket may be issued now, and if not, why (a refusal code)."""

    ok: bool
    code: ResultCode = ResultCode.OK
    opens_at: str | None = None  # for before_hours / on_break: when it opens
    closes_at: str | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a service serves and when it issues tickets.

    ``hours`` are the service windows per weekday; ``breaks`` windows inside
    them when nobody is called (Friday prayer).  Tickets may be taken from
    ``open_early`` minutes before the first window until ``cutoff`` minutes
    before the end of the last window of the day.  A holiday has no windows.
    """

    hours: dict[int, tuple[Window, ...]]
    breaks: dict[int, tuple[Window, ...]] = field(default_factory=dict)
    holidays: frozenset[dt.date] = frozenset()
    open_early: int = 15
    cutoff: int = 30
    issue_during_breaks: bool = True

    def windows(self, day: dt.date) -> tuple[Window, ...]:
        if day in self.holidays:
            return ()
        return self.hours.get(day.weekday(), ())

    def break_at(self, local: dt.datetime) -> Window | None:
        minute = local.hour * 60 + local.minute
        for window in self.breaks.get(local.weekday(), ()):
            if window.contains(minute) and self.windows(local.date()):
                return window
        return None

    def issue_verdict(self, local: dt.datetime) -> IssueVerdict:
        """May a ticket be issued at ``local`` (an aware datetime in site time)?"""
        day = local.date()
        if day in self.holidays:
            return IssueVerdict(False, ResultCode.HOLIDAY)
        windows = self.windows(day)
        if not windows:
            return IssueVerdict(False, ResultCode.CLOSED_TODAY)
        minute = local.hour * 60 + local.minute
        first, last = windows[0], windows[-1]
        opens = max(0, first.start - self.open_early)
        if minute < opens:
            return IssueVerdict(False, ResultCode.BEFORE_HOURS, opens_at=fmt_minute(opens))
        if minute >= last.end:
            return IssueVerdict(False, ResultCode.AFTER_HOURS, closes_at=fmt_minute(last.end))
        if minute >= last.end - self.cutoff:
            return IssueVerdict(False, ResultCode.AFTER_CUTOFF, closes_at=fmt_minute(last.end - self.cutoff))
        brk = self.break_at(local)
        if brk is not None and not self.issue_during_breaks:
            return IssueVerdict(False, ResultCode.ON_BREAK, opens_at=fmt_minute(brk.end))
        return IssueVerdict(True)

    def is_serving(self, local: dt.datetime) -> bool:
        """True inside a service window and outside a break (for the board)."""
        minute = local.hour * 60 + local.minute
        in_window = any(w.contains(minute) for w in self.windows(local.date()))
        return in_window and self.break_at(local) is None

    def describe(self, day: dt.date) -> str:
        """Human text of the day's hours, e.g. ``"08:00-15:00 (istirahat 11:30-13:00)"``."""
        windows = self.windows(day)
        if not windows:
            return "tutup"
        text = ", ".join(str(w) for w in windows)
        breaks = self.breaks.get(day.weekday(), ())
        if breaks:
            text += " (istirahat " + ", ".join(str(b) for b in breaks) + ")"
        return text
