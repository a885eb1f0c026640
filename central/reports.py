"""Reports of a site's history: what the MPP answers to its region and to KemenPAN-RB.

:func:`build_report` reads the days of a period from the site's
:class:`~antre.central.history.History` (the live log and the archived days,
read-only, safe beside a running central), one day at a time, and returns a
:class:`Report`: the period's figures overall and by agency, service, gerai,
hour of the day and day, the calls made out of order with their reasons, and
every pause of a gerai.  Nothing here imports MQTT or the web; the files
(CSV, XLSX) are :mod:`antre.central.reportfiles`' job, the page the console's.

How every figure is counted
---------------------------

A **segment** is one stay of a ticket in one service's queue: it starts when
the ticket is issued (or transferred into the service) and ends with the
ticket's outcome in that service.  A ticket that is never transferred has one
segment; each transfer ends a segment and starts another in the receiving
service.  Figures are counted on segments, so for every service, every
agency and every day::

    issued + transferred_in == served + no_show + transferred_out + voided + expired + open

and for the whole site, where transfers cancel out, ``issued == served +
no_show + voided + expired + open``.

- **issued**: tickets issued (``ticket_issued``), in the service asked for,
  at the hour of issue; **priority**: those issued with a priority group.
- **served** / **no_show** / **transferred_out**: segments that ended so,
  counted for the segment's service and the gerai that closed it, at the hour
  of that event.  A no-show called back within the recall window
  (``recall_no_show``) is not a no-show: only the ticket's last outcome
  counts.  **transferred_in**: segments started by a transfer, in the
  receiving service, at the hour of the transfer (no gerai).
- **voided**: tickets voided after a failed print (never called), at the hour
  of the void.
- **expired**: segments still waiting, or called and never closed (no served,
  no-show or transfer pressed), when their day ended: the day is over when a
  later day exists in the log or its date is before today (``now``).
  **open**: the same on the day still running: waiting or at a gerai now.
  Unprinted tickets (a failed print never reprinted) count here too.  Both
  count at the hour the segment started (a called one: at its last call's
  hour and gerai).
- **refused_***: ticket requests the central refused (``command_refused``
  with action ``take_ticket``), by reason: ``quota`` (quota_exhausted),
  ``cutoff`` (after_cutoff), ``stopped`` (issuing_stopped by a supervisor),
  ``hours`` (before_hours, after_hours, closed_today, holiday, on_break) and
  ``other`` (clock_unsynced, stale, an unknown or unoffered service, ...);
  the service is read from the refusal's detail (``service=<id>``, or the
  service's name for logs older than that field); one that names none is
  counted under the service ``?``.  No gerai.
- **calls**: calls of a ticket (next, out of order, or a no-show called
  back), per the calling gerai; **out_of_order**: those made out of order (each
  with its reason, in :attr:`Report.out_of_order`); **recalls**: the number
  called again while held (``ticket_recalled``: no new wait, no new service);
  **no_show_recalls**: no-shows called back.
- **wait** (seconds): per segment, from its start (issue, or the transfer) to
  its first call; counted at the gerai of that call and at the hour the
  segment started (the citizen's hour of arrival).  A transferred citizen thus
  waits twice: once in the first service, from the ticket (the citizen's wait
  proper), and once in the next one, from the transfer (usually short: the
  ticket keeps its place by issue order).  Recalls and later calls of the same
  segment do not change its wait.  Segments never called have no wait.
- **service time** (seconds): per segment that ended served, no-show or
  transferred, from its last call to that end (a recall while held does not
  restart it; a no-show called back does: the time before it is the counter
  waiting for an absent citizen, not service).  Counted at the closing gerai
  and the hour of the end.
- **within target**: of the segments whose outcome against the service's
  target wait (``target_wait_min``, see the site file) is known, the share
  met: a segment meets it when its first call came at most the target after
  its start; it misses it when the call came later, or never came before its
  day ended, or (on the day still running) has not come although the target
  has already passed.  Voided and unprinted tickets, nobody holding them, are
  left out; a segment still waiting within its target on the running day is
  not counted yet.  Counted at the hour the segment started and the gerai of
  its first call (none when it was never called).
- **pause time**: per gerai, from ``gerai_paused`` to ``gerai_resumed``.  A
  pause still open at the end of its day is closed at the gerai's closing time
  that day (the latest end of its services' hours; without hours that day, the
  day's last event), or at ``now`` on the day still running (if earlier); a
  pause opened after closing time counts zero.
- **mean**, **median** and **p90** of a set of durations: the arithmetic mean;
  the median as usual (the middle value, or the mean of the two middle values
  of an even count); the 90th percentile by the nearest-rank method: the
  smallest value with at least 90 % of the values at or below it (the value at
  rank ``ceil(0.9 * n)`` in ascending order).  **max**: the largest.
- **busiest hour**: the hour of the day (over every day of the period) with
  the most tickets issued; ties go to the earlier hour.

Hours and days are the site's local time (``site.timezone``).  An event of a
ticket the day's log never issued (a damaged log) is skipped and counted in
:attr:`Report.skipped_events`, never a crash.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
import statistics
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TextIO

from antre.broker.wire.messages import Priority, ResultCode
from antre.central import events as ev
from antre.central.config import SiteConfig
from antre.central.history import History
from antre.central.texts import format_date_id

log = logging.getLogger(__name__)

#: The views of a report, besides its summary; ``antre report --by`` and the console offer them.
View = Literal["agency", "service", "gerai", "hour", "day"]
VIEWS: Final[tuple[View, ...]] = ("agency", "service", "gerai", "hour", "day")
VIEW_TITLES: Final[dict[str, str]] = {
    "summary": "Ringkasan", "agency": "Per instansi", "service": "Per layanan", "gerai": "Per gerai",
    "hour": "Per jam", "day": "Per hari",
}
#: The longest period a report covers (a year and a day: a leap year's whole year and more)
MAX_DAYS: Final = 400
#: The service key of refusals that name no service
UNKNOWN: Final = "?"

#: Refusal reasons of a ticket request, and the codes each gathers (anything else: "other")
REFUSAL_REASONS: Final[tuple[str, ...]] = ("quota", "cutoff", "stopped", "hours", "other")
REFUSAL_LABELS: Final[dict[str, str]] = {
    "quota": "kuota habis", "cutoff": "lewat batas pengambilan", "stopped": "pengambilan dihentikan",
    "hours": "di luar jam layanan", "other": "lainnya",
}
#: What a refused ticket request's code means, for the people reading a report
CODE_LABELS: Final[dict[str, str]] = {
    ResultCode.QUOTA_EXHAUSTED: "kuota hari ini habis",
    ResultCode.AFTER_CUTOFF: "lewat batas pengambilan nomor",
    ResultCode.ISSUING_STOPPED: "pengambilan nomor dihentikan supervisor",
    ResultCode.BEFORE_HOURS: "sebelum pengambilan nomor dibuka",
    ResultCode.AFTER_HOURS: "sesudah layanan tutup",
    ResultCode.CLOSED_TODAY: "layanan tutup hari itu",
    ResultCode.HOLIDAY: "hari libur",
    ResultCode.ON_BREAK: "jam istirahat",
    ResultCode.CLOCK_UNSYNCED: "jam server belum sinkron (NTP)",
    ResultCode.STALE: "perintah terlambat sampai",
    ResultCode.CLOCK_SKEW: "jam perangkat tidak tepat",
    ResultCode.UNKNOWN_SERVICE: "layanan tidak dikenal",
    ResultCode.SERVICE_NOT_OFFERED: "layanan tidak tersedia di anjungan itu",
    ResultCode.UNKNOWN_DEVICE: "perangkat tidak terdaftar",
    ResultCode.NOT_ALLOWED: "tidak diizinkan untuk perangkat itu",
}
_REASON_OF: Final[dict[str, str]] = {
    ResultCode.QUOTA_EXHAUSTED: "quota",
    ResultCode.AFTER_CUTOFF: "cutoff",
    ResultCode.ISSUING_STOPPED: "stopped",
    ResultCode.BEFORE_HOURS: "hours",
    ResultCode.AFTER_HOURS: "hours",
    ResultCode.CLOSED_TODAY: "hours",
    ResultCode.HOLIDAY: "hours",
    ResultCode.ON_BREAK: "hours",
}
_DETAIL_SERVICE = re.compile(r"(?:^|;)service=([^;]*)")
_DETAIL_SERVICE_NAME = re.compile(r"(?:^|;)service_name=([^;]*)")


class ReportError(ValueError):
    """A period that cannot be reported (its text says why, for a person)."""


# ---------------------------------------------------------------------------- the figures


@dataclass(frozen=True, slots=True)
class Durations:
    """Statistics of a set of durations in seconds (None when the set is empty; see the module's
    docstring for the median and the nearest-rank p90)."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None
    max: float | None

    @classmethod
    def of(cls, values: Iterable[float]) -> Durations:
        ordered = sorted(values)
        n = len(ordered)
        if n == 0:
            return cls(0, None, None, None, None)
        return cls(n, math.fsum(ordered) / n, statistics.median(ordered), percentile(ordered, 90), ordered[-1])


def percentile(ordered: Sequence[float], p: float) -> float:
    """The ``p``-th percentile of ascending ``ordered`` values by the nearest-rank method: the value at
    rank ``ceil(p / 100 * n)`` (1-based; at least rank 1).  Raises ValueError on no values."""
    if not ordered:
        raise ValueError("no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    rank = max(1, math.ceil(p / 100 * len(ordered) - 1e-9))
    return ordered[rank - 1]


# Indexes of the counts a row accumulates.
_C = (ISSUED, PRIORITY, SERVED, NO_SHOW, TRANSFERRED_OUT, TRANSFERRED_IN, VOIDED, EXPIRED, OPEN,
      REFUSED_QUOTA, REFUSED_CUTOFF, REFUSED_STOPPED, REFUSED_HOURS, REFUSED_OTHER,
      CALLS, OUT_OF_ORDER, RECALLS, NO_SHOW_RECALLS, TARGET_MET, TARGET_MISSED, PAUSES, PAUSE_S) = range(22)
_WIDTH = len(_C)
#: the Row field of each index of _C
_FIELDS = ("issued", "priority", "served", "no_show", "transferred_out", "transferred_in", "voided", "expired",
           "open", "refused_quota", "refused_cutoff", "refused_stopped", "refused_hours", "refused_other", "calls",
           "out_of_order", "recalls", "no_show_recalls", "target_met", "target_missed", "pauses", "pause_s")
_HOUR_KEYS = tuple(f"{h:02d}" for h in range(24))
_REFUSED_INDEX = {"quota": REFUSED_QUOTA, "cutoff": REFUSED_CUTOFF, "stopped": REFUSED_STOPPED,
                  "hours": REFUSED_HOURS, "other": REFUSED_OTHER}


@dataclass(frozen=True, slots=True)
class Row:
    """The figures of one group of a view (an agency, a service, a gerai, an hour, a day) or of the
    whole period (the summary).  Every count and duration is defined in the module's docstring."""

    key: str  #: the agency, service or gerai id, the hour ("08"), the day (ISO), or "" for the summary
    label: str  #: its name for a person
    detail: str  #: e.g. the agency of a service or a gerai ("" when none)
    issued: int
    priority: int
    served: int
    no_show: int
    transferred_out: int
    transferred_in: int
    voided: int
    expired: int
    open: int
    refused_quota: int
    refused_cutoff: int
    refused_stopped: int
    refused_hours: int
    refused_other: int
    calls: int
    out_of_order: int
    recalls: int
    no_show_recalls: int
    target_met: int
    target_missed: int
    pauses: int
    pause_s: float
    wait: Durations
    service_time: Durations
    #: the service's target wait (service view), else None
    target_wait_min: int | None = None

    @property
    def refused(self) -> int:
        return (self.refused_quota + self.refused_cutoff + self.refused_stopped + self.refused_hours
                + self.refused_other)

    @property
    def within_target(self) -> float | None:
        """The share (0-1) of decided segments that met their target wait; None when none is decided."""
        decided = self.target_met + self.target_missed
        return self.target_met / decided if decided else None

    @property
    def is_empty(self) -> bool:
        counts = (self.issued, self.served, self.no_show, self.transferred_out, self.transferred_in, self.voided,
                  self.expired, self.open, self.refused, self.calls, self.recalls, self.pauses)
        return not any(counts) and not self.pause_s


@dataclass(frozen=True, slots=True)
class OutOfOrderCall:
    """A call out of order, with the reason the gerai gave and how many it passed over: the tickets of
    the same service issued before it and waiting at that moment."""

    day: dt.date
    ts: float
    gerai: str
    gerai_name: str
    ticket: str  #: its number, e.g. "A012"
    service: str
    service_name: str
    reason: str
    wait_s: float | None  #: the segment's wait if this was its first call
    passed_over: int


@dataclass(frozen=True, slots=True)
class Pause:
    """A pause of a gerai (``end`` is where an open pause was closed; see the module's docstring)."""

    day: dt.date
    gerai: str
    gerai_name: str
    start: float
    end: float
    reason: str
    closed_by_report: bool  #: still open when its day ended (or now, on the running day)

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class ReasonCount:
    """How often a gerai gave one reason (out-of-order calls, pauses), and the minutes (pauses)."""

    gerai: str
    gerai_name: str
    reason: str
    count: int
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class AgencyDay:
    """Visitors of an agency on a day: tickets issued for its services, and served."""

    day: dt.date
    agency: str
    agency_name: str  #: its short name
    issued: int
    served: int


@dataclass(frozen=True)
class Report:
    """The figures of a period (see the module's docstring)."""

    site_id: str
    site_name: str
    zone: str  #: e.g. "WITA"
    first: dt.date
    last: dt.date
    #: the days of the period present in the history (the MPP was open, or anything happened)
    days: tuple[dt.date, ...]
    #: the day still running (today, the latest day of the log), if it is in the period
    running_day: dt.date | None
    generated_at: float
    summary: Row
    views: dict[str, list[Row]]
    out_of_order: list[OutOfOrderCall]
    pauses: list[Pause]
    #: refused ticket requests by result code (e.g. quota_exhausted), most frequent first
    refusals_by_code: list[tuple[str, int]]
    #: (hour of the day, tickets issued in it over the period), or None when nothing was issued
    busiest_hour: tuple[int, int] | None
    #: (day, tickets issued), or None
    busiest_day: tuple[dt.date, int] | None
    skipped_events: int = 0
    #: every (day, agency) with tickets, by day then the site file's order of agencies
    agency_days: list[AgencyDay] = dataclasses.field(default_factory=list)

    @property
    def period_days(self) -> int:
        return (self.last - self.first).days + 1

    def view(self, name: str) -> list[Row]:
        """A view's rows ("summary": the one summary row)."""
        return [self.summary] if name == "summary" else self.views[name]

    def reasons(self, of: Literal["out_of_order", "pauses"]) -> list[ReasonCount]:
        """Per gerai and reason: the count (and the pause time), most frequent first."""
        counts: dict[tuple[str, str], list[float]] = {}
        names: dict[str, str] = {}
        items: Iterable[OutOfOrderCall | Pause] = self.out_of_order if of == "out_of_order" else self.pauses
        for item in items:
            names[item.gerai] = item.gerai_name
            entry = counts.setdefault((item.gerai, item.reason), [0, 0.0])
            entry[0] += 1
            entry[1] += item.seconds if isinstance(item, Pause) else 0.0
        rows = [ReasonCount(g, names[g], reason, int(n), s) for (g, reason), (n, s) in counts.items()]
        return sorted(rows, key=lambda r: (-r.count, r.gerai, r.reason))


# ---------------------------------------------------------------------------- the period


def parse_period(day: str | dt.date | None = None, first: str | dt.date | None = None,
                 last: str | dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The period of ``--day D`` or ``--from D --to D`` (dates, or ISO texts); ReportError with a clear
    text for anything else (both or neither, a bad date, the end before the start, more than
    :data:`MAX_DAYS` days)."""
    if day is not None and (first is not None or last is not None):
        raise ReportError("give either one day (--day) or a period (--from and --to), not both")
    if day is not None:
        d = _date(day, "--day")
        return d, d
    if first is None or last is None:
        if first is None and last is None:
            raise ReportError("a report needs a day (--day 2026-11-20) or a period (--from 2026-11-01 "
                              "--to 2026-11-30)")
        raise ReportError("a period needs both --from and --to")
    start, end = _date(first, "--from"), _date(last, "--to")
    check_period(start, end)
    return start, end


def check_period(first: dt.date, last: dt.date) -> None:
    if last < first:
        raise ReportError(f"the period ends ({last}) before it starts ({first})")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise ReportError(f"the period has {days} days; a report covers at most {MAX_DAYS} days")


def _date(text: str | dt.date, what: str) -> dt.date:
    if isinstance(text, dt.date):
        return text
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            raise ValueError
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"{what} {text!r} is not a date like 2026-11-20") from None


# ---------------------------------------------------------------------------- accumulating


_WAITING, _CALLED, _NO_SHOW, _DONE = range(4)


class _Segment:
    """A ticket's current stay in a service's queue (see the module's docstring)."""

    __slots__ = ("number", "service", "order", "start", "first_call", "last_call", "gerai", "state",
                 "no_show_at", "printed", "unprinted", "announced", "voided")

    def __init__(self, number: str, service: str, order: int, start: float) -> None:
        self.number = number
        self.service = service
        self.order = order
        self.start = start
        self.first_call: float | None = None
        self.last_call: float | None = None
        self.gerai: str | None = None
        self.state = _WAITING
        self.no_show_at = 0.0
        self.printed = False
        self.unprinted = False
        self.announced = False
        self.voided = False


Bucket = tuple[str, str | None, int]  # (service, gerai, hour)


class _Hours:
    """The local hour of a Unix time on one day, fast when the day has one UTC offset (Indonesia)."""

    def __init__(self, day: dt.date, zone: dt.tzinfo) -> None:
        self.zone = zone
        start = dt.datetime.combine(day, dt.time(0), zone)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), zone)
        self.midnight = start.timestamp()
        self.uniform = start.utcoffset() == end.utcoffset() and end.timestamp() - self.midnight == 86400

    def __call__(self, ts: float) -> int:
        hour = int((ts - self.midnight) // 3600)
        if self.uniform and 0 <= hour < 24:
            return hour
        if not self.uniform:  # pragma: no cover - a zone with a change of offset that day (not Indonesia's)
            hour = dt.datetime.fromtimestamp(ts, self.zone).hour
        return 0 if hour < 0 else 23 if hour > 23 else hour


class _Accumulator:
    """Counts per group of every view, and duration samples per (service, gerai, hour) bucket and per
    day: each sample is kept once (8 bytes), the views' statistics are computed from the buckets at
    the end."""

    def __init__(self, config: SiteConfig) -> None:
        self.agency_of = {sid: s.agency for sid, s in config.services.items()}
        self.summary = [0.0] * _WIDTH
        self.rows: dict[str, defaultdict[str, list[float]]] = {v: defaultdict(lambda: [0.0] * _WIDTH) for v in VIEWS}
        self.by_hour, self.by_service = self.rows["hour"], self.rows["service"]
        self.by_agency, self.by_gerai = self.rows["agency"], self.rows["gerai"]
        self.waits: defaultdict[Bucket, array[float]] = defaultdict(lambda: array("d"))
        self.services: defaultdict[Bucket, array[float]] = defaultdict(lambda: array("d"))
        self.day_waits: dict[str, array[float]] = {}
        self.day_services: dict[str, array[float]] = {}
        self.day = ""
        self.day_row = self.summary
        self.day_wait = self.day_service = array("d")
        self.fine: dict[tuple[int, str | None, str | None, int | None], float] = {}
        #: (day, agency) -> [issued, served]: visitors per agency per day
        self.agency_days: dict[tuple[str, str], list[int]] = {}

    def start_day(self, day: dt.date) -> None:
        self.day = day.isoformat()
        self.day_row = self.rows["day"][self.day]
        self.day_wait = self.day_waits[self.day] = array("d")
        self.day_service = self.day_services[self.day] = array("d")

    def add(self, index: int, service: str | None, gerai: str | None, hour: int | None, n: float = 1.0) -> None:
        """Count ``n`` for every group the (service, gerai, hour) falls in (spread at the day's end)."""
        key = (index, service, gerai, hour)
        fine = self.fine
        fine[key] = fine.get(key, 0.0) + n

    def flush(self) -> None:
        """Spread the day's counts over the views (one pass over a few hundred keys, not every event)."""
        for (index, service, gerai, hour), n in self.fine.items():
            self._spread(index, service, gerai, hour, n)
            if (index == ISSUED or index == SERVED) and service is not None:
                cell = self.agency_days.setdefault((self.day, self.agency_of.get(service, UNKNOWN)), [0, 0])
                cell[index == SERVED] += int(n)
        self.fine.clear()

    def _spread(self, index: int, service: str | None, gerai: str | None, hour: int | None, n: float) -> None:
        self.summary[index] += n
        self.day_row[index] += n
        if hour is not None:
            self.by_hour[_HOUR_KEYS[hour]][index] += n
        if service is not None:
            self.by_service[service][index] += n
            self.by_agency[self.agency_of.get(service, UNKNOWN)][index] += n
        if gerai is not None:
            self.by_gerai[gerai][index] += n

    def wait(self, value: float, bucket: Bucket) -> None:
        self.waits[bucket].append(value)
        self.day_wait.append(value)

    def service_time(self, value: float, bucket: Bucket) -> None:
        self.services[bucket].append(value)
        self.day_service.append(value)


class _DayReader:
    """Reads one day's events into the accumulator (the day's tickets are held only while it is read)."""

    def __init__(self, acc: _Accumulator, config: SiteConfig, day: dt.date, ended: bool, now: float,
                 out_of_order: list[OutOfOrderCall], pauses: list[Pause], refusals: dict[str, int]) -> None:
        self.acc = acc
        self.refusals = refusals
        self.config = config
        self.day = day
        self.ended = ended
        self.now = now
        self.hour = _Hours(day, config.zone)
        self.tickets: dict[str, _Segment] = {}
        self.open_pauses: dict[str, tuple[float, str]] = {}
        self.out_of_order = out_of_order
        self.pauses = pauses
        self.last_ts = self.hour.midnight
        self.skipped = 0
        self.targets = {sid: config.target_wait_min(sid) * 60.0 for sid in config.services}
        self.by_name = {s.name: sid for sid, s in config.services.items()}

    def target(self, service: str) -> float:
        found = self.targets.get(service)
        return found if found is not None else self.config.site.target_wait_min * 60.0

    def _ticket(self, ticket_id: str, kind: str) -> _Segment | None:
        seg = self.tickets.get(ticket_id)
        if seg is None:
            self.skipped += 1
            log.warning("report: %s of ticket %s, which day %s never issued: skipped", kind, ticket_id, self.day)
        return seg

    def read(self, events: Iterable[tuple[int, ev.AnyEvent]]) -> None:
        acc, hour = self.acc, self.hour
        for _, event in events:  # (the cases in the order of their frequency)
            ts = event.ts
            if ts > self.last_ts:
                self.last_ts = ts
            match event:
                case ev.TicketIssued():
                    new = _Segment(event.number, event.service, len(self.tickets), ts)
                    self.tickets[event.ticket_id] = new
                    h = hour(ts)
                    acc.add(ISSUED, event.service, None, h)
                    if event.priority != Priority.REGULAR:
                        acc.add(PRIORITY, event.service, None, h)
                    if not event.print:
                        new.printed = True  # issued by hand: the citizen holds the number
                case ev.PrintAcked():
                    seg = self.tickets.get(event.ticket_id)
                    if seg is not None:
                        if event.ok:
                            seg.printed, seg.unprinted = True, False
                        elif not seg.printed and seg.state == _WAITING and not seg.announced:
                            seg.unprinted = True  # nobody holds it (as the engine has it)
                case ev.TicketCalled():
                    seg = self._ticket(event.ticket_id, "a call")
                    if seg is not None:
                        self._called(seg, event, ts)
                case ev.TicketRecalled():
                    seg = self._ticket(event.ticket_id, "a recall")
                    if seg is not None:
                        acc.add(RECALLS, seg.service, event.gerai, hour(ts))
                case ev.TicketServed():
                    seg = self._ticket(event.ticket_id, "service")
                    if seg is not None:
                        self._ended(seg, SERVED, event.gerai, ts)
                case ev.CommandRefused(action="take_ticket"):
                    reason = _REASON_OF.get(event.code, "other")
                    acc.add(_REFUSED_INDEX[reason], self._refused_service(event.detail), None, hour(ts))
                    self.refusals[event.code] = self.refusals.get(event.code, 0) + 1
                case ev.TicketNoShow():
                    seg = self._ticket(event.ticket_id, "a no-show")
                    if seg is not None:  # counted when its day ends, unless called back before
                        seg.state, seg.no_show_at, seg.gerai = _NO_SHOW, ts, event.gerai
                case ev.TicketTransferred():
                    seg = self._ticket(event.ticket_id, "a transfer")
                    if seg is not None:
                        self._ended(seg, TRANSFERRED_OUT, event.gerai, ts)
                        seg.service, seg.start, seg.first_call, seg.last_call = event.to_service, ts, None, None
                        seg.state, seg.gerai = _WAITING, None
                        acc.add(TRANSFERRED_IN, event.to_service, None, hour(ts))
                case ev.TicketVoided():
                    seg = self._ticket(event.ticket_id, "a void")
                    if seg is not None and seg.state != _DONE:
                        seg.state, seg.voided = _DONE, True
                        acc.add(VOIDED, seg.service, None, hour(ts))
                case ev.GeraiPaused():
                    if event.gerai not in self.open_pauses:
                        self.open_pauses[event.gerai] = (ts, event.reason)
                        acc.add(PAUSES, None, event.gerai, None)
                case ev.GeraiResumed():
                    opened = self.open_pauses.pop(event.gerai, None)
                    if opened is not None:
                        self._pause(event.gerai, opened[0], max(opened[0], ts), opened[1], False)
                case _:
                    pass

    def _refused_service(self, detail: str) -> str:
        found = _DETAIL_SERVICE.search(detail)
        if found and found.group(1):
            return found.group(1)
        named = _DETAIL_SERVICE_NAME.search(detail)  # a log from before refusals named the service
        if named and named.group(1) in self.by_name:
            return self.by_name[named.group(1)]
        return UNKNOWN

    def _called(self, seg: _Segment, event: ev.TicketCalled, ts: float) -> None:
        acc, gerai = self.acc, event.gerai
        h = self.hour(ts)
        wait: float | None = None
        if seg.first_call is None:
            wait = max(0.0, ts - seg.start)
            start_hour = self.hour(seg.start)
            acc.wait(wait, (seg.service, gerai, start_hour))
            acc.add(TARGET_MET if wait <= self.target(seg.service) else TARGET_MISSED, seg.service, gerai, start_hour)
            seg.first_call = ts
        if event.mode == "out_of_order":
            acc.add(OUT_OF_ORDER, seg.service, gerai, h)
            passed = sum(1 for other in self.tickets.values()
                         if other.state == _WAITING and not other.unprinted and other.service == seg.service
                         and other.order < seg.order)
            svc = self.config.services.get(seg.service)
            g = self.config.gerai.get(gerai)
            self.out_of_order.append(OutOfOrderCall(
                self.day, ts, gerai, g.name if g else gerai, seg.number, seg.service, svc.name if svc else seg.service,
                event.reason, wait, passed))
        elif event.mode == "recall_no_show":
            acc.add(NO_SHOW_RECALLS, seg.service, gerai, h)
        acc.add(CALLS, seg.service, gerai, h)
        seg.state, seg.last_call, seg.gerai = _CALLED, ts, gerai
        seg.announced, seg.unprinted = True, False

    def _ended(self, seg: _Segment, index: int, gerai: str, ts: float) -> None:
        h = self.hour(ts)
        self.acc.add(index, seg.service, gerai, h)
        if seg.last_call is not None:
            self.acc.service_time(max(0.0, ts - seg.last_call), (seg.service, gerai, h))
        seg.state = _DONE

    def _pause(self, gerai: str, start: float, end: float, reason: str, by_report: bool) -> None:
        g = self.config.gerai.get(gerai)
        self.pauses.append(Pause(self.day, gerai, g.name if g else gerai, start, end, reason, by_report))
        self.acc.add(PAUSE_S, None, gerai, None, end - start)

    def closing(self, gerai: str) -> float:
        """The gerai's closing time on this day (see the module's docstring)."""
        conf = self.config.gerai.get(gerai)
        services = conf.services if conf is not None else list(self.config.services)
        ends = [w[-1].end for w in (self.config.schedules[s].windows(self.day) for s in services
                                    if s in self.config.schedules) if w]
        if not ends:
            return self.last_ts
        return self.hour.midnight + max(ends) * 60.0  # minutes of the local day (no offset change in Indonesia)

    def finish(self) -> None:
        """The day's end: no-shows become final, what is left expires (or stays open), open pauses close."""
        acc, hour = self.acc, self.hour
        for seg in self.tickets.values():
            if seg.state == _NO_SHOW:
                self._ended(seg, NO_SHOW, seg.gerai or "", seg.no_show_at)
            elif seg.state == _WAITING:
                h = hour(seg.start)
                acc.add(EXPIRED if self.ended else OPEN, seg.service, None, h)
                if not seg.unprinted:
                    waited = (self.last_ts if self.ended else self.now) - seg.start
                    if self.ended or waited > self.target(seg.service):
                        acc.add(TARGET_MISSED, seg.service, None, h)
            elif seg.state == _CALLED:
                acc.add(EXPIRED if self.ended else OPEN, seg.service, seg.gerai,
                        hour(seg.last_call if seg.last_call is not None else seg.start))
        for gerai, (start, reason) in self.open_pauses.items():
            end = self.closing(gerai)
            if not self.ended:
                end = min(end, self.now)
            self._pause(gerai, start, max(start, end), reason, True)
        self.tickets.clear()
        acc.flush()


# ---------------------------------------------------------------------------- building the report


def build_report(config: SiteConfig, history: History, first: dt.date, last: dt.date,
                 now: float | None = None) -> Report:
    """The report of the days ``first`` to ``last`` (site-local dates) from ``history``; ``now``
    (default: the clock) decides which day is still running.  Reads one day at a time; raises
    :class:`ReportError` for a bad period and StorageError for an unreadable log or archive."""
    check_period(first, last)
    now = time.time() if now is None else now
    today = dt.datetime.fromtimestamp(now, config.zone).date()
    days = history.days()
    latest = days[-1].day if days else None
    wanted = [d.day for d in days if first <= d.day <= last]
    acc = _Accumulator(config)
    out_of_order: list[OutOfOrderCall] = []
    pauses: list[Pause] = []
    refusals: dict[str, int] = {}
    skipped = 0
    running: dt.date | None = None
    for day in wanted:
        ended = day != latest or day < today
        if not ended:
            running = day
        acc.start_day(day)
        reader = _DayReader(acc, config, day, ended, now, out_of_order, pauses, refusals)
        reader.read(history.events(day))
        reader.finish()
        skipped += reader.skipped
    return _assemble(config, acc, first, last, tuple(wanted), running, now, out_of_order, pauses, refusals,
                     skipped)


def _durations(buckets: dict[Bucket, array[float]], key: Callable[[Bucket], str | None]) -> dict[str, Durations]:
    grouped: dict[str, list[array[float]]] = {}
    for bucket, values in buckets.items():
        k = key(bucket)
        if k is not None:
            grouped.setdefault(k, []).append(values)
    return {k: Durations.of(_chain(parts)) for k, parts in grouped.items()}


def _chain(parts: list[array[float]]) -> array[float]:
    if len(parts) == 1:
        return parts[0]
    joined = array("d")
    for part in parts:
        joined.extend(part)
    return joined


_NONE = Durations(0, None, None, None, None)


def _row(key: str, label: str, detail: str, counts: list[float], wait: Durations, service: Durations,
         target: int | None = None) -> Row:
    values: dict[str, int | float] = {name: int(v) for name, v in zip(_FIELDS, counts)}
    values["pause_s"] = float(counts[PAUSE_S])
    return Row(key=key, label=label, detail=detail, wait=wait, service_time=service, target_wait_min=target,
               **values)  # type: ignore[arg-type]


def _assemble(config: SiteConfig, acc: _Accumulator, first: dt.date, last: dt.date, days: tuple[dt.date, ...],
              running: dt.date | None, now: float, out_of_order: list[OutOfOrderCall], pauses: list[Pause],
              refusals: dict[str, int], skipped: int) -> Report:
    agency_of = acc.agency_of
    keys: dict[str, Callable[[Bucket], str | None]] = {
        "agency": lambda b: agency_of.get(b[0], UNKNOWN),
        "service": lambda b: b[0],
        "gerai": lambda b: b[1],
        "hour": lambda b: f"{b[2]:02d}",
    }
    waits = {v: _durations(acc.waits, k) for v, k in keys.items()}
    services = {v: _durations(acc.services, k) for v, k in keys.items()}
    waits["day"] = {d: Durations.of(a) for d, a in acc.day_waits.items()}
    services["day"] = {d: Durations.of(a) for d, a in acc.day_services.items()}

    def order_and_label(view: str, key: str) -> tuple[tuple[int, str], str, str]:
        if view == "agency":
            agency = config.agencies.get(key)
            pos = list(config.agencies).index(key) if agency else len(config.agencies)
            return (pos, key), agency.short if agency else _unknown(key, "instansi"), agency.name if agency else ""
        if view == "service":
            svc = config.services.get(key)
            pos = list(config.services).index(key) if svc else len(config.services)
            agency = config.agencies.get(svc.agency) if svc else None
            return ((pos, key), f"{svc.prefix} {svc.name}" if svc else _unknown(key, "layanan"),
                    agency.short if agency else "")
        if view == "gerai":
            g = config.gerai.get(key)
            agency = config.agencies.get(g.agency) if g else None
            return ((g.number if g else 1 << 20, key), g.name if g else _unknown(key, "gerai"),
                    agency.short if agency else "")
        if view == "hour":
            h = int(key)
            return (h, key), f"{h:02d}.00-{h + 1:02d}.00", ""
        return (0, key), format_date_id(dt.date.fromisoformat(key)), ""

    views: dict[str, list[Row]] = {}
    for view in VIEWS:
        built = []
        groups = dict(acc.rows[view])
        if view == "hour" and groups:  # every hour between the first and the last, for the chart
            hours = [int(k) for k in groups]
            for h in range(min(hours), max(hours) + 1):
                groups.setdefault(f"{h:02d}", [0.0] * _WIDTH)
        if view == "service":  # every configured service, even one nobody asked for
            for sid in config.services:
                groups.setdefault(sid, [0.0] * _WIDTH)
        for key, counts in groups.items():
            sort, label, detail = order_and_label(view, key)
            target = config.target_wait_min(key) if view == "service" and key in config.services else None
            built.append((sort, _row(key, label, detail, counts, waits[view].get(key, _NONE),
                                     services[view].get(key, _NONE), target)))
        views[view] = [r for _, r in sorted(built, key=lambda x: x[0])]

    summary = _row("", config.site.short_name or config.site.name, "", acc.summary,
                   Durations.of(_chain(list(acc.waits.values())) if acc.waits else []),
                   Durations.of(_chain(list(acc.services.values())) if acc.services else []))
    by_hour = [(int(r.key), r.issued) for r in views["hour"] if r.issued]
    busiest_hour = max(by_hour, key=lambda x: (x[1], -x[0])) if by_hour else None
    by_day = [(dt.date.fromisoformat(r.key), r.issued) for r in views["day"] if r.issued]
    busiest_day = max(by_day, key=lambda x: (x[1], -x[0].toordinal())) if by_day else None
    return Report(
        site_id=config.site_id, site_name=config.site.name, zone=config.zone_abbrev(), first=first, last=last,
        days=days, running_day=running, generated_at=now, summary=summary, views=views,
        out_of_order=out_of_order, pauses=pauses,
        refusals_by_code=sorted(refusals.items(), key=lambda x: (-x[1], x[0])),
        busiest_hour=busiest_hour, busiest_day=busiest_day, skipped_events=skipped,
        agency_days=_agency_days(config, acc),
    )


def _agency_days(config: SiteConfig, acc: _Accumulator) -> list[AgencyDay]:
    order = {a: i for i, a in enumerate(config.agencies)}
    rows = [AgencyDay(dt.date.fromisoformat(day), agency,
                      config.agencies[agency].short if agency in config.agencies else _unknown(agency, "instansi"),
                      issued, served)
            for (day, agency), (issued, served) in acc.agency_days.items()]
    return sorted(rows, key=lambda r: (r.day, order.get(r.agency, len(order)), r.agency))


def _unknown(key: str, what: str) -> str:
    if key == UNKNOWN:
        return f"({what} tidak diketahui)"
    return f"{key} (tidak ada di berkas situs)"


def report_for(config: SiteConfig, first: dt.date, last: dt.date, *, db: str | None = None,
               archive: str | None = None, now: float | None = None) -> Report:
    """:func:`build_report` on the site's own history (its log and archive, or ``db``/``archive``)."""
    with History.open(config, db, archive) as history:
        return build_report(config, history, first, last, now)


#: What every figure means, for the people who read a report (the XLSX's "Definisi" sheet, the console).
DEFINITIONS: Final[tuple[tuple[str, str], ...]] = (
    ("Kunjungan", "Satu masa antre sebuah tiket di satu layanan: dari pengambilan nomor (atau pengalihan ke "
     "layanan itu) sampai hasilnya di layanan itu. Tiket yang dialihkan punya dua kunjungan. Untuk setiap "
     "layanan, instansi dan hari: diambil + dialihkan masuk = dilayani + tidak hadir + dialihkan keluar + "
     "dibatalkan + hangus + masih berjalan."),
    ("Nomor diambil", "Tiket yang dikeluarkan (anjungan atau petugas) untuk layanan itu, pada jam pengambilan."),
    ("Prioritas", "Nomor yang diambil kelompok prioritas (lansia, penyandang disabilitas, ibu hamil, anak)."),
    ("Dilayani, tidak hadir, dialihkan keluar", "Akhir kunjungan di layanan itu, untuk gerai yang menutupnya, pada "
     "jam penutupan. Warga tidak hadir yang dipanggil kembali tidak dihitung tidak hadir: yang dihitung hasil "
     "terakhirnya."),
    ("Dialihkan masuk", "Tiket yang dialihkan dari layanan lain ke layanan ini: ia mengantre lagi di sini."),
    ("Dibatalkan", "Tiket yang gagal dicetak lalu dibatalkan (tidak pernah dipanggil; kuotanya kembali)."),
    ("Hangus", "Kunjungan yang masih menunggu, atau sudah dipanggil tetapi tidak ditutup, ketika harinya berakhir."),
    ("Masih berjalan", "Kunjungan yang menunggu atau sedang di gerai pada hari yang masih berjalan."),
    ("Ditolak", "Permintaan nomor yang ditolak: kuota habis; lewat batas pengambilan; pengambilan dihentikan "
     "supervisor; di luar jam layanan (sebelum buka, sesudah tutup, hari libur, istirahat); lainnya (jam sistem "
     "belum sinkron, layanan tidak dikenal, ...)."),
    ("Panggilan", "Panggilan tiket oleh gerai: berikutnya, di luar urutan, atau warga tidak hadir yang dipanggil "
     "kembali."),
    ("Di luar urutan", "Panggilan tiket tertentu mendahului antrean, selalu dengan alasan. Lembar 'Di luar urutan' "
     "memuat setiap panggilan, alasannya dan berapa nomor yang lebih dulu menunggu di layanan itu (dilewati)."),
    ("Panggil ulang", "Pengumuman ulang nomor yang sedang dilayani; tidak mengubah waktu tunggu maupun lama layanan."),
    ("Waktu tunggu", "Dari pengambilan nomor (atau pengalihan ke layanan ini) sampai panggilan pertama, dalam menit; "
     "pada gerai yang memanggil dan jam kedatangan warga. Warga yang dialihkan menunggu dua kali: di layanan "
     "pertama dan di layanan tujuan."),
    ("Lama layanan", "Dari panggilan terakhir sampai selesai, tidak hadir, atau dialihkan, dalam menit; pada gerai "
     "yang menutup dan jam penutupan."),
    ("Rata-rata, median, p90, maks", "Rata-rata hitung; median: nilai tengah (rata-rata dua nilai tengah bila "
     "jumlahnya genap); p90: nilai terkecil yang sama dengan atau lebih besar dari 90 % nilai (metode peringkat "
     "terdekat); maks: nilai terbesar."),
    ("Dalam target tunggu", "Bagian kunjungan yang dipanggil paling lambat target tunggu layanannya "
     "(target_wait_min di berkas situs, bawaan 30 menit). Kunjungan yang tidak pernah dipanggil sebelum harinya "
     "berakhir tidak memenuhi target; tiket dibatalkan atau gagal cetak tidak dihitung."),
    ("Istirahat", "Waktu gerai dijeda sampai dilanjutkan. Jeda yang masih terbuka saat harinya berakhir ditutup "
     "pada jam tutup gerai (pada hari yang masih berjalan: sekarang)."),
    ("Jam tersibuk", "Jam dengan nomor diambil terbanyak selama periode (bila sama, jam yang lebih awal)."),
    ("Jam dan tanggal", "Waktu setempat situs (zona waktu di berkas situs)."),
)


# ---------------------------------------------------------------------------- columns (every format)


Kind = Literal["text", "int", "minutes", "percent"]


@dataclass(frozen=True)
class Column:
    """A column of a view: its CSV name (``key``), its Indonesian heading, its kind (how each format
    shows it: minutes with one decimal, a percentage) and how to read it from a row."""

    key: str
    label: str
    kind: Kind
    get: Callable[[Row], str | int | float | None]
    short: str = ""  #: a shorter heading for the text table (default: label)


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60.0


def _c(key: str, label: str, kind: Kind, get: Callable[[Row], str | int | float | None], short: str = "") -> Column:
    return Column(key, label, kind, get, short or label)


_FIRST: dict[str, Column] = {
    "agency": _c("agency", "Instansi", "text", lambda r: r.label),
    "service": _c("service", "Layanan", "text", lambda r: r.label),
    "gerai": _c("gerai", "Gerai", "text", lambda r: r.label),
    "hour": _c("hour", "Jam", "text", lambda r: r.label),
    "day": _c("day", "Tanggal", "text", lambda r: r.key),
    "summary": _c("site", "Situs", "text", lambda r: r.label),
}
_ID = _c("id", "Kode", "text", lambda r: r.key)
_DETAIL = {"service": _c("agency", "Instansi", "text", lambda r: r.detail),
           "gerai": _c("agency", "Instansi", "text", lambda r: r.detail)}
_COUNT_COLS = [
    _c("issued", "Nomor diambil", "int", lambda r: r.issued, "Diambil"),
    _c("priority", "Prioritas", "int", lambda r: r.priority, "Prio"),
    _c("served", "Dilayani", "int", lambda r: r.served),
    _c("no_show", "Tidak hadir", "int", lambda r: r.no_show, "T.hadir"),
    _c("transferred_out", "Dialihkan keluar", "int", lambda r: r.transferred_out, "Alih>"),
    _c("transferred_in", "Dialihkan masuk", "int", lambda r: r.transferred_in, "Alih<"),
    _c("voided", "Dibatalkan", "int", lambda r: r.voided, "Batal"),
    _c("expired", "Hangus (hari berakhir)", "int", lambda r: r.expired, "Hangus"),
    _c("open", "Masih berjalan", "int", lambda r: r.open, "Jalan"),
    _c("refused", "Ditolak", "int", lambda r: r.refused, "Tolak"),
    _c("refused_quota", "Ditolak: kuota", "int", lambda r: r.refused_quota),
    _c("refused_cutoff", "Ditolak: lewat batas", "int", lambda r: r.refused_cutoff),
    _c("refused_stopped", "Ditolak: dihentikan", "int", lambda r: r.refused_stopped),
    _c("refused_hours", "Ditolak: jam layanan", "int", lambda r: r.refused_hours),
    _c("refused_other", "Ditolak: lainnya", "int", lambda r: r.refused_other),
]
_CALL_COLS = [
    _c("calls", "Panggilan", "int", lambda r: r.calls, "Pggl"),
    _c("out_of_order", "Di luar urutan", "int", lambda r: r.out_of_order, "L.urut"),
    _c("recalls", "Panggil ulang", "int", lambda r: r.recalls, "Ulang"),
    _c("no_show_recalls", "Tidak hadir dipanggil lagi", "int", lambda r: r.no_show_recalls),
]
_TIME_COLS = [
    _c("wait_count", "Jumlah tunggu", "int", lambda r: r.wait.count),
    _c("wait_mean_min", "Tunggu rata-rata (mnt)", "minutes", lambda r: _minutes(r.wait.mean), "Tunggu"),
    _c("wait_median_min", "Tunggu median (mnt)", "minutes", lambda r: _minutes(r.wait.median), "Med"),
    _c("wait_p90_min", "Tunggu p90 (mnt)", "minutes", lambda r: _minutes(r.wait.p90), "p90"),
    _c("wait_max_min", "Tunggu maks (mnt)", "minutes", lambda r: _minutes(r.wait.max), "Maks"),
    _c("service_count", "Jumlah layanan", "int", lambda r: r.service_time.count),
    _c("service_mean_min", "Lama layanan rata-rata (mnt)", "minutes", lambda r: _minutes(r.service_time.mean),
       "Layan"),
    _c("service_median_min", "Lama layanan median (mnt)", "minutes", lambda r: _minutes(r.service_time.median),
       "Med"),
    _c("service_p90_min", "Lama layanan p90 (mnt)", "minutes", lambda r: _minutes(r.service_time.p90), "p90"),
    _c("within_target", "Dalam target tunggu", "percent", lambda r: r.within_target, "Target"),
]
_TARGET = _c("target_wait_min", "Target tunggu (mnt)", "int", lambda r: r.target_wait_min, "Tgt")
_PAUSE = [_c("pauses", "Istirahat (kali)", "int", lambda r: r.pauses, "Ist"),
          _c("pause_min", "Istirahat (mnt)", "minutes", lambda r: r.pause_s / 60.0, "Ist.mnt")]
_GERAI_COUNTS = [c for c in _COUNT_COLS if c.key in ("served", "no_show", "transferred_out", "expired", "open")]


def columns(view: str) -> list[Column]:
    """The columns of a view ("summary" or one of :data:`VIEWS`), in every format's order."""
    first = _FIRST[view]
    if view == "gerai":
        return [_ID, first, _DETAIL["gerai"], *_CALL_COLS, *_GERAI_COUNTS, *_TIME_COLS, *_PAUSE]
    if view == "service":
        return [_ID, first, _DETAIL["service"], *_COUNT_COLS, *_CALL_COLS, *_TIME_COLS, _TARGET]
    if view == "agency":
        return [_ID, first, *_COUNT_COLS, *_CALL_COLS, *_TIME_COLS]
    if view == "summary":
        return [first, *_COUNT_COLS, *_CALL_COLS, *_TIME_COLS, *_PAUSE]
    return [first, *_COUNT_COLS, *_CALL_COLS, *_TIME_COLS]


#: The columns of the text table (``antre report``): what fits a terminal.
_TEXT_KEYS = {
    "gerai": ("gerai", "calls", "served", "no_show", "transferred_out", "out_of_order", "wait_mean_min",
              "wait_median_min", "wait_p90_min", "wait_max_min", "service_mean_min", "service_median_min",
              "service_p90_min", "within_target", "pauses", "pause_min"),
    "other": ("issued", "served", "no_show", "transferred_out", "voided", "expired", "open", "refused",
              "wait_mean_min", "wait_median_min", "wait_p90_min", "wait_max_min", "service_mean_min",
              "service_median_min", "service_p90_min", "within_target"),
}


def fmt(column: Column, row: Row) -> str:
    """A cell as text: minutes with one decimal, percentages whole, '-' for no value."""
    value = column.get(row)
    if value is None:
        return "-"
    if column.kind == "minutes":
        return f"{float(value):.1f}"
    if column.kind == "percent":
        return f"{float(value) * 100:.0f}%"
    return str(value)


def fmt_minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} mnt"


def period_text(report: Report) -> str:
    if report.first == report.last:
        return format_date_id(report.first)
    return f"{format_date_id(report.first)} s.d. {format_date_id(report.last)}"


def write_text(report: Report, view: str, out: TextIO) -> None:
    """The report as a text table: a summary, then ``view`` ("all": every view), then the calls out
    of order with their reasons (gerai view)."""
    s = report.summary
    out.write(f"Laporan {report.site_name} ({report.site_id}), {period_text(report)} ({report.zone})\n")
    running = f"; {report.running_day} masih berjalan" if report.running_day else ""
    out.write(f"hari dengan data: {len(report.days)} dari {report.period_days}{running}\n\n")
    out.write(f"  nomor diambil {s.issued} (prioritas {s.priority}), dilayani {s.served}, tidak hadir {s.no_show}, "
              f"dibatalkan {s.voided}, hangus {s.expired}, masih berjalan {s.open}\n")
    refused = ", ".join(f"{REFUSAL_LABELS[r]} {getattr(s, 'refused_' + r)}" for r in REFUSAL_REASONS
                        if getattr(s, "refused_" + r))
    out.write(f"  ditolak {s.refused}" + (f" ({refused})" if refused else "") + "\n")
    out.write(f"  tunggu: rata-rata {fmt_minutes(s.wait.mean)}, median {fmt_minutes(s.wait.median)}, "
              f"p90 {fmt_minutes(s.wait.p90)}, maks {fmt_minutes(s.wait.max)} ({s.wait.count} panggilan pertama)\n")
    out.write(f"  lama layanan: rata-rata {fmt_minutes(s.service_time.mean)}, median "
              f"{fmt_minutes(s.service_time.median)}, p90 {fmt_minutes(s.service_time.p90)}\n")
    share = "-" if s.within_target is None else f"{s.within_target * 100:.1f}%"
    out.write(f"  dalam target tunggu: {share} ({s.target_met} dari {s.target_met + s.target_missed})\n")
    out.write(f"  panggilan {s.calls}, di luar urutan {s.out_of_order}, panggil ulang {s.recalls}; "
              f"istirahat gerai {s.pauses} kali, {s.pause_s / 60:.1f} mnt\n")
    if report.busiest_hour is not None:
        h, n = report.busiest_hour
        out.write(f"  jam tersibuk: {h:02d}.00-{h + 1:02d}.00 ({n} nomor diambil)\n")
    if report.busiest_day is not None and report.first != report.last:
        d, n = report.busiest_day
        out.write(f"  hari tersibuk: {d} ({n} nomor diambil)\n")
    if report.skipped_events:
        out.write(f"  PERINGATAN: {report.skipped_events} peristiwa log dilewati (tiket tidak dikenal)\n")
    for name in VIEWS if view == "all" else (view,):
        out.write(f"\n{VIEW_TITLES[name]}\n")
        _table(report.views[name], name, out)
        if name == "gerai":
            reasons = report.reasons("out_of_order")
            if reasons:
                out.write("\nPanggilan di luar urutan, per gerai dan alasan\n")
                for r in reasons:
                    out.write(f"  {r.gerai_name}: {r.count}x {r.reason}\n")


def _table(rows: list[Row], view: str, out: TextIO) -> None:
    wanted = _TEXT_KEYS["gerai" if view == "gerai" else "other"]
    by_key = {c.key: c for c in columns(view)}
    cols = [_FIRST[view]] + [by_key[k] for k in wanted if k in by_key and k != _FIRST[view].key]
    shown = [r for r in rows if not r.is_empty] if view != "hour" else rows
    cells = [[c.short for c in cols]] + [[fmt(c, r)[:34] if i == 0 else fmt(c, r) for i, c in enumerate(cols)]
                                        for r in shown]
    if not shown:
        out.write("  (tidak ada data)\n")
        return
    widths = [max(len(line[i]) for line in cells) for i in range(len(cols))]
    for line in cells:
        out.write("  " + "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in
                                   enumerate(zip(line, widths))).rstrip() + "\n")


def rows_as_dicts(report: Report, view: str) -> Iterator[dict[str, str | int | float | None]]:
    """A view's rows as {column key: value} (raw values: durations in minutes, shares 0-1)."""
    cols = columns(view)
    for row in report.view(view):
        yield {c.key: c.get(row) for c in cols}


__all__ = [
    "AgencyDay", "DEFINITIONS", "MAX_DAYS", "VIEWS", "Column", "Durations", "OutOfOrderCall", "Pause", "ReasonCount", "Report", "ReportError",
    "Row", "build_report", "check_period", "columns", "parse_period", "percentile", "report_for", "write_text",
]
