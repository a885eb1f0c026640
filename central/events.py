"""The events of the queue: the append-only log from which state is rebuilt.

Every change of queue state is one of these.  Each records when it happened
(``ts``, Unix seconds), who did it (``actor``: a gerai, a kiosk or
``"system"``), and the command id that caused it, so the log is also the
audit trail the ombudsman asks for.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec
from msgspec import Struct

from antre.broker.wire.messages import Priority

CallMode: TypeAlias = Literal["next", "out_of_order", "recall_no_show"]


class Event(Struct, tag_field="kind", frozen=True, kw_only=True, forbid_unknown_fields=True):
    ts: float
    actor: str
    cmd: str | None = None
    #: the person who acted, when the action came from the operations console (its account name)
    by: str | None = None


class DayOpened(Event, tag="day_opened", frozen=True, kw_only=True):
    """The first event of a local day: what was still open yesterday expires."""

    day: str  # ISO date in the site's zone
    closed: dict[str, int] = {}  # the previous day's tickets by final status (open ones expire)


class TicketIssued(Event, tag="ticket_issued", frozen=True, kw_only=True):
    ticket_id: str
    number: str
    service: str
    seq: int
    priority: Priority
    print: bool


class TicketCalled(Event, tag="ticket_called", frozen=True, kw_only=True):
    gerai: str
    ticket_id: str
    mode: CallMode
    reason: str = ""
    both_classes: bool = False  # priority and regular tickets were both waiting
    ratio_pos: int = 0  # the gerai's position in the priority ratio cycle afterwards


class TicketRecalled(Event, tag="ticket_recalled", frozen=True, kw_only=True):
    gerai: str
    ticket_id: str


class TicketServed(Event, tag="ticket_served", frozen=True, kw_only=True):
    gerai: str
    ticket_id: str


class TicketNoShow(Event, tag="ticket_no_show", frozen=True, kw_only=True):
    gerai: str
    ticket_id: str


class TicketTransferred(Event, tag="ticket_transferred", frozen=True, kw_only=True):
    gerai: str
    ticket_id: str
    to_service: str
    note: str = ""


class GeraiPaused(Event, tag="gerai_paused", frozen=True, kw_only=True):
    gerai: str
    reason: str


class GeraiResumed(Event, tag="gerai_resumed", frozen=True, kw_only=True):
    gerai: str


class PrintAcked(Event, tag="print_acked", frozen=True, kw_only=True):
    ticket_id: str
    ok: bool
    status: str
    detail: str = ""


class TicketVoided(Event, tag="ticket_voided", frozen=True, kw_only=True):
    """A ticket nobody holds (its print failed) taken out of the day: never called, its quota
    place given back, its number never issued again."""

    ticket_id: str
    reason: str


class TicketReprinted(Event, tag="ticket_reprinted", frozen=True, kw_only=True):
    """A ticket sent to a printer again (``actor``'s); nobody moves in the queue."""

    ticket_id: str


# --- day control from the operations console (issue 15)


class IssuingStopped(Event, tag="issuing_stopped", frozen=True, kw_only=True):
    """No more tickets today for ``service``."""

    service: str
    reason: str


class IssuingResumed(Event, tag="issuing_resumed", frozen=True, kw_only=True):
    service: str


class QuotaSet(Event, tag="quota_set", frozen=True, kw_only=True):
    """Today's quota of ``service`` (None: the site file's)."""

    service: str
    quota: int | None


class LobbyMessageSet(Event, tag="lobby_message_set", frozen=True, kw_only=True):
    text: str


# --- accountability (issue 16): the citizen's feedback


class SurveyAnswered(Event, tag="survey_answered", frozen=True, kw_only=True):
    """A citizen's SKM answer (Permen PANRB 14/2017) for a served ticket: U1-U9 scored 1-4, the
    optional profile (bands and categories, no identifier) and a suggestion.  ``service`` and
    ``gerai`` are where the ticket was served, ``served_at`` when."""

    ticket_id: str
    service: str
    gerai: str
    served_at: float
    scores: list[int]
    age: str | None = None
    sex: str | None = None
    education: str | None = None
    occupation: str | None = None
    suggestion: str = ""
    channel: str = "phone"


class QuickRated(Event, tag="quick_rated", frozen=True, kw_only=True):
    """The citizen's press (1-4) on the gerai's four-key pad: a quick score, never part of the IKM."""

    ticket_id: str
    service: str
    gerai: str
    score: int


class CommandRefused(Event, tag="command_refused", frozen=True, kw_only=True):
    """A refused request: changes no queue state, but is part of the audit trail."""

    action: str
    code: str
    detail: str = ""


AnyEvent: TypeAlias = (
    DayOpened
    | TicketIssued
    | TicketCalled
    | TicketRecalled
    | TicketServed
    | TicketNoShow
    | TicketTransferred
    | GeraiPaused
    | GeraiResumed
    | PrintAcked
    | TicketVoided
    | TicketReprinted
    | CommandRefused
    | IssuingStopped
    | IssuingResumed
    | QuotaSet
    | LobbyMessageSet
    | SurveyAnswered
    | QuickRated
)

_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


def encode_event(event: AnyEvent) -> bytes:
    return _ENCODER.encode(event)


def decode_event(data: bytes) -> AnyEvent:
    """Raises ``msgspec.DecodeError`` (the store turns it into a StorageError)."""
    return _DECODER.decode(data)
