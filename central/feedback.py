"""The citizen's feedback: the SKM answer from the ticket's page and the quick rating at the gerai.

:class:`FeedbackBook` knows which tickets may still be rated: the tickets served within the
site's answer window (``[survey] answer_window_hours``, which may reach back into earlier days,
whose tickets the engine no longer holds), and which of them were answered or quick-rated.  It
is fed every event in log order (:meth:`FeedbackBook.apply`), by the central as it commits and
by the console as it reads the log, so both see the same.

:func:`survey_answer` and :func:`quick_rating` decide a command and return the engine's
:class:`~antre.central.engine.Outcome`: a ``survey_answered`` or ``quick_rated`` event, or a
refusal in the audit trail (after the day's opening, when the command is the first of a new
day).  They do not change the book: the caller applies every event of the outcome to it, in
order, as it does with every other command's.  Pure: no MQTT, no web, no clock of its own.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from antre.broker.wire import messages as m
from antre.broker.wire.messages import ResultCode
from antre.central import events as ev
from antre.central.engine import Engine, Outcome, Result, Status, Ticket
from antre.central.ticketkey import TicketKey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    """A served ticket that may still be rated."""

    ticket_id: str
    number: str
    service: str
    gerai: str
    served_at: float


class FeedbackBook:
    """Served tickets within the answer window, and which were answered or quick-rated (see the module docstring)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.served: dict[str, Served] = {}
        self.answered: set[str] = set()
        self.rated: set[str] = set()
        #: today's tickets not yet finished: ticket id -> (number, service now)
        self._open: dict[str, tuple[str, str]] = {}

    def apply(self, event: ev.AnyEvent) -> None:
        """One event of the log, in order."""
        match event:
            case ev.DayOpened():
                self._open.clear()
                self.prune(event.ts, event.day.replace("-", ""))
            case ev.TicketIssued():
                self._open[event.ticket_id] = (event.number, event.service)
            case ev.TicketTransferred():
                number, _ = self._open.get(event.ticket_id, (event.ticket_id.rpartition("-")[2], ""))
                self._open[event.ticket_id] = (number, event.to_service)
            case ev.TicketServed():
                number, service = self._open.pop(event.ticket_id, (event.ticket_id.rpartition("-")[2], ""))
                self.served[event.ticket_id] = Served(event.ticket_id, number, service, event.gerai, event.ts)
            case ev.SurveyAnswered():
                self.answered.add(event.ticket_id)
            case ev.QuickRated():
                self.rated.add(event.ticket_id)
            case _:
                pass

    def prune(self, now: float, today: str = "") -> None:
        """Forget the tickets whose window has passed (their answers can no longer come); with
        ``today`` (``YYYYMMDD``) also the ratings of earlier days' tickets never served."""
        old = [tid for tid, s in self.served.items() if now - s.served_at > self.window_s]
        for tid in old:
            del self.served[tid]
        keep = (lambda tid: tid in self.served or tid[:8] >= today) if today else (lambda tid: tid in self.served)
        self.answered = {tid for tid in self.answered if keep(tid)}
        self.rated = {tid for tid in self.rated if keep(tid)}

    def first_day(self, today: dt.date) -> dt.date:
        """The oldest local day whose served tickets may still be in the window."""
        return today - dt.timedelta(days=int(self.window_s // 86400) + 1)


def survey_answer(engine: Engine, book: FeedbackBook, key: TicketKey | None, actor: str, cmd: m.SurveyAnswer,
                  now: float) -> Outcome:
    """Record a citizen's SKM answer, or refuse it: the token first (nothing is said about a ticket
    to whoever does not hold its page), then the ticket served, within the window, once."""
    opened = engine.tick(now)
    outcome = _survey_answer(engine, book, key, actor, cmd, now)
    return Outcome(outcome.result, opened + outcome.events) if opened else outcome


def _survey_answer(engine: Engine, book: FeedbackBook, key: TicketKey | None, actor: str, cmd: m.SurveyAnswer,
                   now: float) -> Outcome:
    tid = cmd.ticket_id
    number = tid.rpartition("-")[2]
    if key is None or not key.check(tid, cmd.token):
        if key is None:
            log.error("survey answer for %s refused: the site has no ticket-page key; "
                      "`antre broker mosquitto-config` (or `antre broker run`) adds it to the credentials file", tid)
        else:
            log.warning("survey answer for %s refused: wrong token", tid)
        return engine.refuse(actor, "survey_answer", ResultCode.BAD_TOKEN, now, cmd.id, ticket=number)
    served = book.served.get(tid)
    if served is None:
        ticket = engine.tickets.get(tid)
        if ticket is not None:  # today's, not (or not yet) served: waiting, called, no-show, voided
            return engine.refuse(actor, "survey_answer", ResultCode.NOT_SERVED, now, cmd.id, ticket=number,
                                 status=ticket.status.value)
        code = ResultCode.SURVEY_WINDOW_PASSED if _older_than_window(tid, engine, book) else ResultCode.UNKNOWN_TICKET
        return engine.refuse(actor, "survey_answer", code, now, cmd.id, ticket=number)
    if now - served.served_at > book.window_s:
        return engine.refuse(actor, "survey_answer", ResultCode.SURVEY_WINDOW_PASSED, now, cmd.id, ticket=number)
    if tid in book.answered:
        return engine.refuse(actor, "survey_answer", ResultCode.ALREADY_ANSWERED, now, cmd.id, ticket=number)
    suggestion = cmd.suggestion.strip()
    if any(ord(c) < 32 and c not in "\n\t" or 0x7F <= ord(c) < 0xA0 for c in suggestion):
        return engine.refuse(actor, "survey_answer", ResultCode.SURVEY_INVALID, now, cmd.id, ticket=number)
    p = cmd.profile
    event = ev.SurveyAnswered(
        ts=now, actor=actor, cmd=cmd.id, ticket_id=tid, service=served.service, gerai=served.gerai,
        served_at=served.served_at, scores=list(cmd.scores), age=p.age, sex=p.sex, education=p.education,
        occupation=p.occupation, suggestion=suggestion, channel=cmd.channel,
    )
    return Outcome(Result(True, ResultCode.SURVEY_RECORDED, None, {"ticket": served.number}), [event])


def _older_than_window(ticket_id: str, engine: Engine, book: FeedbackBook) -> bool:
    """Is the ticket's day (its id says it) older than any day the window still reaches?"""
    try:
        day = dt.datetime.strptime(ticket_id[:8], "%Y%m%d").date()
    except ValueError:
        return False
    today = engine.day
    return today is not None and day < book.first_day(today)


def quick_rating(engine: Engine, book: FeedbackBook, gerai: str, cmd: m.QuickRating, now: float,
                 window_s: float) -> Outcome:
    """Record the gerai pad's quick rating for the ticket it serves or has just served."""
    opened = engine.tick(now)
    outcome = _quick_rating(engine, book, gerai, cmd, now, window_s)
    return Outcome(outcome.result, opened + outcome.events) if opened else outcome


def _quick_rating(engine: Engine, book: FeedbackBook, gerai: str, cmd: m.QuickRating, now: float,
                  window_s: float) -> Outcome:
    ticket: Ticket | None
    if cmd.ticket is not None:
        ticket = engine.find(cmd.ticket)
        if ticket is None:
            return engine.refuse(gerai, "quick_rating", ResultCode.UNKNOWN_TICKET, now, cmd.id, ticket=cmd.ticket)
        if ticket.gerai != gerai:
            return engine.refuse(gerai, "quick_rating", ResultCode.NOT_SERVED_HERE, now, cmd.id, ticket=cmd.ticket)
    else:
        ticket = engine.current_of(gerai) if gerai in engine.gerai else None
        if ticket is None:
            finished = [t for t in engine.tickets.values() if t.gerai == gerai and t.status is Status.SERVED]
            ticket = max(finished, key=lambda t: t.finished_at or 0.0, default=None)
        if ticket is None:
            return engine.refuse(gerai, "quick_rating", ResultCode.NO_CURRENT, now, cmd.id)
    number = ticket.number
    if ticket.status not in (Status.CALLED, Status.SERVED):
        return engine.refuse(gerai, "quick_rating", ResultCode.NOT_SERVED, now, cmd.id, ticket=number,
                             status=ticket.status.value)
    if ticket.status is Status.SERVED and now - (ticket.finished_at or now) > window_s:
        return engine.refuse(gerai, "quick_rating", ResultCode.SURVEY_WINDOW_PASSED, now, cmd.id, ticket=number)
    if ticket.id in book.rated:
        return engine.refuse(gerai, "quick_rating", ResultCode.ALREADY_RATED, now, cmd.id, ticket=number)
    event = ev.QuickRated(ts=now, actor=gerai, cmd=cmd.id, ticket_id=ticket.id, service=ticket.service, gerai=gerai,
                          score=cmd.score)
    return Outcome(Result(True, ResultCode.RATING_RECORDED, ticket, {"ticket": number, "score": str(cmd.score)}),
                   [event])
