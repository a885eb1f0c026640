"""Typed schemas of every message of the antre wire contract, version 1.

Every message is one JSON object with two envelope fields: ``"v"``, the schema
version (always ``1`` here), and ``"kind"``, which names the schema.  Unknown
fields are rejected, so a typo in a field name is an error, not a silently
ignored value.  Times are Unix epoch seconds (floats).

These are plain ``msgspec`` structs: pure data, no MQTT.  Encoding, decoding and
validation live in :mod:`broker.codec`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, TypeAlias

import msgspec
from msgspec import Meta, Struct

from broker.topics import ID_PATTERN

SCHEMA_VERSION = 1

# ---------------------------------------------------------------------------
# Field types shared by several messages
# ---------------------------------------------------------------------------

Ident = Annotated[str, Meta(pattern=ID_PATTERN, description="site/gerai/service id")]
CommandId = Annotated[
    str,
    Meta(pattern=r"^[A-Za-z0-9_.:-]{8,64}$", description="unique id of a command, 8-64 chars"),
]
TicketNumber = Annotated[
    str, Meta(pattern=r"^[A-Z]{1,2}[0-9]{1,6}$", description="printed number, e.g. A012")
]
TicketId = Annotated[
    str,
    Meta(pattern=r"^[0-9]{8}-[A-Z]{1,2}[0-9]{1,6}$", description="site-unique ticket id, e.g. 20231117-A012"),
]
ShortText = Annotated[str, Meta(max_length=200)]
Reason = Annotated[str, Meta(min_length=3, max_length=200)]
Epoch = Annotated[float, Meta(ge=0)]
Count = Annotated[int, Meta(ge=0)]

Priority: TypeAlias = Literal["regular", "elderly", "disabled", "pregnant", "child"]
PRIORITY_REASONS: tuple[str, ...] = ("elderly", "disabled", "pregnant", "child")

PrinterStatus: TypeAlias = Literal[
    "ok", "paper_near_end", "paper_out", "cover_open", "offline", "unknown", "error"
]
GeraiStatus: TypeAlias = Literal["idle", "serving", "paused", "closed"]
RoleName: TypeAlias = Literal["gerai", "kiosk", "lobby", "central"]
Part: TypeAlias = Literal["ok", "fault", "absent"]


class Message(Struct, tag_field="kind", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of every message: the schema version travels in every payload."""

    v: int = SCHEMA_VERSION
    #: Largest accepted encoded size in bytes; checked before parsing.
    max_bytes: ClassVar[int] = 2048


# ---------------------------------------------------------------------------
# Commands: device -> central on .../<role>/<device>/cmd, QoS 1.
# The sender is the topic's device; the broker's ACL makes sure it is.
# ---------------------------------------------------------------------------


class Command(Message, frozen=True, kw_only=True):
    """A request from a gerai or kiosk.  ``id`` makes redelivery harmless."""

    id: CommandId
    ts: Epoch | None = None  # the device's clock, informational only


class TakeTicket(Command, tag="take_ticket", frozen=True, kw_only=True):
    """Issue a ticket for ``service``; the central answers with a print job."""

    service: Ident
    priority: Priority = "regular"
    print: bool = True  # False: staff issue a number by hand (printer broken)


class CallNext(Command, tag="call_next", frozen=True, kw_only=True):
    """Call the next citizen.  With ``complete_current`` the ticket the gerai
    still holds is marked done in the same step; without it the call is
    refused while the gerai holds a ticket."""

    complete_current: bool = True


class Recall(Command, tag="recall", frozen=True, kw_only=True):
    """Call the held ticket again (no new number, nobody moves), or with
    ``ticket`` a ticket marked no-show within the recall window."""

    ticket: TicketNumber | None = None
    complete_current: bool = True


class NoShow(Command, tag="no_show", frozen=True, kw_only=True):
    """The held ticket's citizen did not come."""


class Done(Command, tag="done", frozen=True, kw_only=True):
    """The held ticket is served."""


class Transfer(Command, tag="transfer", frozen=True, kw_only=True):
    """Send the held ticket to another service, keeping its issue time and priority."""

    service: Ident
    note: ShortText = ""


class CallTicket(Command, tag="call_ticket", frozen=True, kw_only=True):
    """Call a specific waiting ticket out of order; the reason is recorded."""

    ticket: TicketNumber
    reason: Reason
    complete_current: bool = True


class Pause(Command, tag="pause", frozen=True, kw_only=True):
    """The gerai stops calling (break, prayer, meeting); the reason is recorded."""

    reason: Reason = "istirahat"


class Resume(Command, tag="resume", frozen=True, kw_only=True):
    """The gerai calls again after a pause."""


class PrintAck(Command, tag="print_ack", frozen=True, kw_only=True):
    """The outcome of a print job: printed, or failed with the printer's reason."""

    job: CommandId
    ok: bool
    status: PrinterStatus = "ok"
    detail: ShortText = ""


COMMAND_TYPES: tuple[type[Command], ...] = (
    TakeTicket, CallNext, Recall, NoShow, Done, Transfer, CallTicket, Pause, Resume, PrintAck,
)
AnyCommand: TypeAlias = (
    TakeTicket | CallNext | Recall | NoShow | Done | Transfer | CallTicket | Pause | Resume | PrintAck
)

# ---------------------------------------------------------------------------
# Central -> device
# ---------------------------------------------------------------------------


class Reply(Message, tag="reply", frozen=True, kw_only=True):
    """The answer to one command, on the sender's ``reply`` channel.

    ``code`` is ``"ok"`` or a typed error code; ``text_id`` is what staff read
    (Indonesian), ``text_en`` the same for logs and technicians.
    """

    cmd: CommandId
    ok: bool
    code: Annotated[str, Meta(pattern=r"^[a-z_]{2,40}$")]
    text_id: ShortText = ""
    text_en: ShortText = ""
    ticket: TicketNumber | None = None
    ts: Epoch


class GeraiState(Message, tag="gerai_state", frozen=True, kw_only=True):
    """What a gerai's number display shows.  Retained; ``rev`` only grows."""

    gerai: Ident
    number: Annotated[int, Meta(ge=0, le=9999)]
    name: ShortText
    agency: ShortText = ""
    status: GeraiStatus
    ticket: TicketNumber | None = None
    ticket_id: TicketId | None = None
    service: Ident | None = None
    priority: Priority | None = None
    recalls: Count = 0
    called_at: Epoch | None = None
    waiting: Count
    note: ShortText = ""
    rev: Count
    ts: Epoch


class PrintJob(Message, tag="print_job", frozen=True, kw_only=True):
    """A ticket to print, sent to the device that asked for it."""

    max_bytes: ClassVar[int] = 4096

    job: CommandId
    ticket_id: TicketId
    ticket: TicketNumber
    service: Ident
    service_name: ShortText
    agency_name: ShortText
    site_name: ShortText
    priority: Priority = "regular"
    issued_at: Epoch
    issued_text: ShortText  # e.g. "Jumat, 17 November 2023 10:15 WITA"
    ahead: Count
    est_wait_min: Count | None = None
    footer: ShortText = ""


class Presence(Message, tag="presence", frozen=True, kw_only=True):
    """Retained on .../presence; the device's last will publishes ``online: false``."""

    role: RoleName
    device: Ident
    online: bool
    version: Annotated[str, Meta(max_length=40)] = ""
    ts: Epoch | None = None


class Health(Message, tag="health", frozen=True, kw_only=True):
    """Periodic report of a device (QoS 0, not retained)."""

    max_bytes: ClassVar[int] = 4096

    role: RoleName
    device: Ident
    version: Annotated[str, Meta(max_length=40)]
    uptime_s: Annotated[float, Meta(ge=0)]
    ts: Epoch
    cpu_temp_c: float | None = None
    printer: PrinterStatus | None = None  # None: no printer attached
    display: Part = "absent"
    buttons: Part = "absent"
    faults: Annotated[list[ShortText], Meta(max_length=16)] = []


class BoardGerai(Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    gerai: Ident
    number: Annotated[int, Meta(ge=0, le=9999)]
    name: ShortText
    agency: ShortText
    status: GeraiStatus
    ticket: TicketNumber | None = None
    service: Ident | None = None


class BoardService(Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    service: Ident
    name: ShortText
    agency: ShortText
    prefix: Annotated[str, Meta(pattern=r"^[A-Z]{1,2}$")]
    waiting: Count
    remaining_quota: Count | None = None
    est_wait_min: Count | None = None
    open: bool


class BoardCall(Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    ticket: TicketNumber
    gerai: Ident
    gerai_number: Annotated[int, Meta(ge=0, le=9999)]
    gerai_name: ShortText
    recall: bool = False
    ts: Epoch


class Board(Message, tag="board", frozen=True, kw_only=True):
    """Everything a lobby screen shows.  Retained on ``antre/v1/<site>/board``."""

    max_bytes: ClassVar[int] = 256 * 1024

    site: Ident
    site_name: ShortText
    rev: Count
    ts: Epoch
    gerai: Annotated[list[BoardGerai], Meta(max_length=500)] = []
    services: Annotated[list[BoardService], Meta(max_length=1000)] = []
    calls: Annotated[list[BoardCall], Meta(max_length=50)] = []


class Announce(Message, tag="announce", frozen=True, kw_only=True):
    """One voice call for the lobby: played once, in order, dropped when stale."""

    id: CommandId
    ticket: TicketNumber
    service: Ident
    gerai: Ident
    gerai_number: Annotated[int, Meta(ge=0, le=9999)]
    gerai_name: ShortText
    agency_name: ShortText = ""
    recall: bool = False
    called_at: Epoch


OUTBOUND_TYPES: tuple[type[Message], ...] = (Reply, GeraiState, PrintJob, Presence, Health, Board, Announce)

ALL_TYPES: tuple[type[Message], ...] = COMMAND_TYPES + OUTBOUND_TYPES


def kind_of(cls: type[Message]) -> str:
    """The ``kind`` tag of a message class."""
    tag = msgspec.inspect.type_info(cls).tag  # type: ignore[attr-defined]
    assert isinstance(tag, str)
    return tag
