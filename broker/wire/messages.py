"""Typed schemas of every message of the antre wire contract, version 1.

Every message is one JSON object with two envelope fields: ``"v"``, the schema
version (always ``1`` here), and ``"kind"``, which names the schema.  Times are
Unix epoch seconds (floats).

Version rule (PROTOCOL.md, "Versioning"): what devices send to the central
(commands, presence, health) is read strictly, unknown fields rejected, so a
typo is an error; what the central sends (replies, states, print jobs, the
board, announcements, the lease) is read leniently, unknown fields ignored,
so a v1 message may gain optional fields and the central can be upgraded
before its devices.

These are plain ``msgspec`` structs: pure data, no MQTT.  Encoding, decoding and
validation live in :mod:`antre.broker.wire.codec`.
"""

from __future__ import annotations

import enum
from typing import Annotated, ClassVar, Literal, TypeAlias

import msgspec
from msgspec import Meta, Struct

from antre.broker.wire.topics import ID_PATTERN

SCHEMA_VERSION = 1

#: The contract generation this code speaks (PROTOCOL.md, "Versions").  1: every gerai state
#: carries its waiting count and is republished at each ticket; the lobby reads one board.
#: 2: waiting counts live on per-service state topics, recent calls on their own topic, and
#: readers assemble the site from retained per-item topics.  A device says which it reads
#: in its presence; the central serves contract 1 readers for as long as one is online.
CONTRACT = 2

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
#: Unix seconds, 1970 to 2100 (a ts of 1e308 is refused, not carried into texts and reports)
Epoch = Annotated[float, Meta(ge=0, le=4102444800.0)]
#: a count or revision: never negative, and within JSON's exact integers (a hostile 10**30 is refused)
Count = Annotated[int, Meta(ge=0, le=2**53 - 1)]
#: a log's epoch, milliseconds since 1970 when it was started: up to the year 2100 (an absurd one
#: would make every reader refuse the real central's messages as "older")
LogEpoch = Annotated[int, Meta(ge=0, le=4102444800000)]



class Priority(enum.StrEnum):
    """Who is served ahead: ``regular``, or the reason for priority service (one list, used everywhere)."""

    REGULAR = "regular"
    ELDERLY = "elderly"
    DISABLED = "disabled"
    PREGNANT = "pregnant"
    CHILD = "child"

    @property
    def is_priority(self) -> bool:
        return self is not Priority.REGULAR


#: The reasons for priority service, in the order staff choose them.
PRIORITY_REASONS: tuple[Priority, ...] = tuple(p for p in Priority if p.is_priority)


class ResultCode(enum.StrEnum):
    """Every ``code`` a reply can carry: results, refusals, and the decode errors of
    :class:`antre.broker.wire.codec.ErrorCode` (one list; texts in antre.central.texts).
    A device must accept a code it does not know (a newer central): ``Reply.code`` is a string."""

    # results
    OK = "ok"
    ISSUED = "issued"
    CALLED = "called"
    RECALLED = "recalled"
    SERVED = "served"
    NO_SHOW_MARKED = "no_show_marked"
    TRANSFERRED = "transferred"
    PAUSED = "paused"
    RESUMED = "resumed"
    PRINT_RECORDED = "print_recorded"
    VOIDED = "voided"
    REPRINTED = "reprinted"
    QUEUE_EMPTY = "queue_empty"
    PONG = "pong"
    # refusals of the queue rules
    UNKNOWN_SERVICE = "unknown_service"
    SERVICE_NOT_OFFERED = "service_not_offered"
    UNKNOWN_DEVICE = "unknown_device"
    HOLIDAY = "holiday"
    CLOSED_TODAY = "closed_today"
    BEFORE_HOURS = "before_hours"
    AFTER_HOURS = "after_hours"
    AFTER_CUTOFF = "after_cutoff"
    ON_BREAK = "on_break"
    QUOTA_EXHAUSTED = "quota_exhausted"
    GERAI_PAUSED = "gerai_paused"
    NOT_PAUSED = "not_paused"
    GERAI_BUSY = "gerai_busy"
    NO_CURRENT = "no_current"
    UNKNOWN_TICKET = "unknown_ticket"
    TICKET_NOT_WAITING = "ticket_not_waiting"
    NOT_SERVED_HERE = "not_served_here"
    NOT_NO_SHOW = "not_no_show"
    RECALL_WINDOW_PASSED = "recall_window_passed"
    SAME_SERVICE = "same_service"
    REASON_REQUIRED = "reason_required"
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_JOB = "unknown_job"
    NOT_VOIDABLE = "not_voidable"
    NOT_REPRINTABLE = "not_reprintable"
    # refusals of delivery
    STALE = "stale"
    CLOCK_SKEW = "clock_skew"
    DOUBLE_PRESS = "double_press"
    NOT_CURRENT = "not_current"
    CLOCK_UNSYNCED = "clock_unsynced"
    INTERNAL_ERROR = "internal_error"
    # payloads that are not a valid message (antre.broker.wire.codec.ErrorCode)
    OVERSIZED = "oversized"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_KIND = "unknown_kind"
    WRONG_CHANNEL = "wrong_channel"
    INVALID_MESSAGE = "invalid_message"
    TOO_DEEP = "too_deep"
    # --- the operations console (issue 15): day control and its refusals
    ISSUING_STOPPED = "issuing_stopped"  # refusal: a supervisor stopped issuing for the service today
    STOPPED = "stopped"  # result: issuing stopped
    ISSUING_RESUMED = "issuing_resumed"
    NOT_STOPPED = "not_stopped"
    QUOTA_SET = "quota_set"
    MESSAGE_SET = "message_set"
    NOT_PERMITTED = "not_permitted"  # a console user's role may not do this
    # --- accountability (issue 16): the SKM survey and the quick rating at the gerai
    SURVEY_RECORDED = "survey_recorded"  # result: the citizen's answer is in the log
    RATING_RECORDED = "rating_recorded"  # result: the quick rating is in the log
    BAD_TOKEN = "bad_token"  # refusal: the ticket page's token does not match the ticket
    NOT_SERVED = "not_served"  # refusal: the ticket was not (or not yet) served
    SURVEY_WINDOW_PASSED = "survey_window_passed"  # refusal: served too long ago to answer now
    ALREADY_ANSWERED = "already_answered"  # refusal: one survey answer per ticket
    ALREADY_RATED = "already_rated"  # refusal: one quick rating per ticket
    SURVEY_INVALID = "survey_invalid"  # refusal: a suggestion with control characters

PrinterStatus: TypeAlias = Literal[
    "ok", "paper_near_end", "paper_out", "cover_open", "offline", "unknown", "error"
]
#: the printer statuses that mean it cannot print now (paper near its end still prints)
PRINTER_FAULTS: frozenset[str] = frozenset({"paper_out", "cover_open", "offline", "unknown", "error"})
GeraiStatus: TypeAlias = Literal["idle", "serving", "paused", "closed"]
RoleName: TypeAlias = Literal["gerai", "kiosk", "lobby", "central", "console"]
Part: TypeAlias = Literal["ok", "fault", "absent"]


class Message(Struct, tag_field="kind", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of every message: the schema version travels in every payload."""

    v: int = SCHEMA_VERSION
    #: Largest accepted encoded size in bytes; checked before parsing.
    max_bytes: ClassVar[int] = 2048


class Outbound(Message, forbid_unknown_fields=False, frozen=True, kw_only=True):
    """A message the central publishes: readers ignore fields they do not know (version rule).

    ``epoch`` names the event log that produced it (milliseconds since 1970 when the log
    was started; 0 from a central that predates epochs).  A device accepts any state of a
    newer epoch, whatever its ``rev`` (the central started a fresh log), and never acts on
    a message of an older epoch than the newest it has seen.
    """

    epoch: LogEpoch = 0


# ---------------------------------------------------------------------------
# Commands: device -> central on .../<role>/<device>/cmd, QoS 1.
# The sender is the topic's device; the broker's ACL makes sure it is.
# ---------------------------------------------------------------------------


class Command(Message, frozen=True, kw_only=True):
    """A request from a gerai or kiosk.  ``id`` makes redelivery harmless.

    ``ts`` is the moment of the press on the central's clock, as the device estimates it
    from the link (see :class:`Ping`).  The central refuses a command older than its
    deadline (``stale``) or too far in the future (``clock_skew``); without ``ts`` it
    cannot tell and applies it.  A resend of an unanswered command keeps its id and ``ts``.
    """

    id: CommandId
    ts: Epoch | None = None


class TakeTicket(Command, tag="take_ticket", frozen=True, kw_only=True):
    """Issue a ticket for ``service``; the central answers with a print job."""

    service: Ident
    priority: Priority = Priority.REGULAR
    print: bool = True  # False: staff issue a number by hand (printer broken)


#: what a person saw the gerai serve when they acted: a ticket number, or ``-`` for none
SeenTicket = Annotated[str, Meta(pattern=r"^([A-Z]{1,2}[0-9]{1,6}|-)$", description="A012, or - for none")]


class CounterCommand(Command, frozen=True, kw_only=True):
    """A gerai's action on the ticket it serves.  ``expect`` (optional): the ticket the person who acted
    saw the gerai serve (``-``: none).  When the gerai serves another by then (the button or another
    browser acted first), the command is refused as ``not_current`` and changes nothing, so an action
    never lands on a citizen the person did not see.  The operations console always sends it; a
    button leaves it out."""

    expect: SeenTicket | None = None


class CallNext(CounterCommand, tag="call_next", frozen=True, kw_only=True):
    """Call the next citizen.  With ``complete_current`` the ticket the gerai
    still holds is marked done in the same step; without it the call is
    refused while the gerai holds a ticket."""

    complete_current: bool = True


class Recall(CounterCommand, tag="recall", frozen=True, kw_only=True):
    """Call the held ticket again (no new number, nobody moves), or with
    ``ticket`` a ticket marked no-show within the recall window."""

    ticket: TicketNumber | None = None
    complete_current: bool = True


class NoShow(CounterCommand, tag="no_show", frozen=True, kw_only=True):
    """The held ticket's citizen did not come."""


class Done(CounterCommand, tag="done", frozen=True, kw_only=True):
    """The held ticket is served."""


class Transfer(CounterCommand, tag="transfer", frozen=True, kw_only=True):
    """Send the held ticket to another service, keeping its issue time and priority."""

    service: Ident
    note: ShortText = ""


class CallTicket(CounterCommand, tag="call_ticket", frozen=True, kw_only=True):
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


class VoidTicket(Command, tag="void_ticket", frozen=True, kw_only=True):
    """Void a ticket nobody holds: its print failed and it will not be printed (the citizen left,
    the printer stays broken).  Only a ticket not known to be printed and not yet called can be
    voided (else ``not_voidable``); it leaves the queue, gives its quota place back, keeps its
    number (never issued again) and the reason goes into the audit trail."""

    ticket: TicketNumber
    reason: Reason


class Reprint(Command, tag="reprint", frozen=True, kw_only=True):
    """Print a ticket again (staff's reprint button, or a device whose printer recovered): the
    central answers ``reprinted`` with a new print job to the asking device, for ``ticket`` or,
    without it, the last ticket that device issued today.  Logged; nobody moves in the queue.
    A ticket whose print had failed waits again once this print is acknowledged."""

    ticket: TicketNumber | None = None


class Ping(Command, tag="ping", frozen=True, kw_only=True):
    """Clock sync and end-to-end liveness: the central answers at once with a ``pong`` reply
    whose ``ts`` is its clock.  From the round trip a device keeps an estimate of the
    central's clock that does not depend on its own wall clock (``ts``: the device's
    current estimate, or its wall clock before the first pong).  Not logged."""


# ---------------------------------------------------------------------------
# The operations console (issue 15): day control, and a person's action on
# behalf of a gerai, on the console's own cmd channel.  Additive: a device never
# sends these; a central refuses them from anyone but its console.
# ---------------------------------------------------------------------------

ConsoleRoleName: TypeAlias = Literal["admin", "supervisor", "technician", "staff"]
UserName = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9._-]{1,31}$", description="a console account")]


class StopIssuing(Command, tag="stop_issuing", frozen=True, kw_only=True):
    """No more tickets today for ``service`` (the counters serve who already waits); recorded with its reason."""

    service: Ident
    reason: Reason


class ResumeIssuing(Command, tag="resume_issuing", frozen=True, kw_only=True):
    """Tickets for ``service`` may be issued again today (within hours and quota)."""

    service: Ident


class SetQuota(Command, tag="set_quota", frozen=True, kw_only=True):
    """Today's quota of ``service`` (``null``: back to the site file's ``daily_quota``)."""

    service: Ident
    quota: Annotated[int, Meta(ge=0, le=100000)] | None


class LobbyMessage(Command, tag="lobby_message", frozen=True, kw_only=True):
    """The running text of the lobby screens for the rest of the day (``""``: the site file's)."""

    text: Annotated[str, Meta(max_length=200)]


#: what a console user can ask of the central (counter actions for ``gerai``, or day control)
ConsoleAction: TypeAlias = (
    CallNext | Recall | NoShow | Done | Transfer | CallTicket | Pause | Resume | Reprint
    | StopIssuing | ResumeIssuing | SetQuota | LobbyMessage
)


class ConsoleCommand(Command, tag="console_cmd", frozen=True, kw_only=True):
    """A person's action in the operations console, sent by the console under its own identity.

    ``user`` and ``user_role`` name who acted (the console authenticated them and checked a
    staff user's gerai); the central records ``user`` with every event the action causes and
    refuses what ``user_role`` may not do.  ``gerai`` is the counter a counter action is for.
    ``command`` is the action; its own ``id`` and ``ts`` are ignored (the envelope's count).
    """

    user: UserName
    user_role: ConsoleRoleName
    gerai: Ident | None = None
    command: ConsoleAction


# ---------------------------------------------------------------------------
# Accountability (issue 16): the citizen's SKM answer (sent by the console, from the ticket's
# page) and the quick rating at the gerai (a four-key pad).  Additive.
# ---------------------------------------------------------------------------

#: one element's score: 1 (worst) to 4 (best)
Score = Annotated[int, Meta(ge=1, le=4)]
#: a ticket page's token (antre.central.ticketkey: 120 bits, URL-safe base64)
TicketToken = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{20}$")]
AgeBand: TypeAlias = Literal["u20", "20-29", "30-39", "40-49", "50-59", "60+"]
Sex: TypeAlias = Literal["l", "p"]
Education: TypeAlias = Literal["sd", "smp", "sma", "diploma", "s1", "s2", "s3"]
Occupation: TypeAlias = Literal["pns", "tni", "polri", "swasta", "wirausaha", "pelajar", "lainnya"]


class SurveyProfile(Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The respondent's optional profile (bands and categories only: nothing that names a person)."""

    age: AgeBand | None = None
    sex: Sex | None = None
    education: Education | None = None
    occupation: Occupation | None = None


class SurveyAnswer(Command, tag="survey_answer", frozen=True, kw_only=True):
    """A citizen's SKM answer (Permen PANRB 14/2017) for a served ticket, sent by the console from
    the ticket's page.  ``token`` is the page's (the central checks it: ``bad_token``); ``scores``
    are U1-U9, each 1-4.  One answer per ticket (``already_answered``), within the site's window
    after the service (``survey_window_passed``); a ticket not served is ``not_served``.  The
    suggestion's 400 characters fit the command channel's 2048 bytes whatever they are (4 bytes
    at most each in UTF-8)."""

    ticket_id: TicketId
    token: TicketToken
    scores: Annotated[list[Score], Meta(min_length=9, max_length=9)]
    profile: SurveyProfile = SurveyProfile()
    suggestion: Annotated[str, Meta(max_length=400)] = ""
    #: where it was answered: the citizen's phone or the survey tablet by the exit
    channel: Literal["phone", "kiosk"] = "phone"


class QuickRating(Command, tag="quick_rating", frozen=True, kw_only=True):
    """The citizen's press on the gerai's four-key pad (1 tidak puas .. 4 sangat puas), for the
    ticket the gerai serves or has just served (``ticket``: the number the gerai showed; without
    it, the central takes the gerai's current ticket, else the last one it finished).  Recorded
    apart from the SKM (never in the IKM); one per ticket (``already_rated``)."""

    score: Score
    ticket: TicketNumber | None = None


COMMAND_TYPES: tuple[type[Command], ...] = (
    TakeTicket, CallNext, Recall, NoShow, Done, Transfer, CallTicket, Pause, Resume, PrintAck, VoidTicket,
    Reprint, Ping, StopIssuing, ResumeIssuing, SetQuota, LobbyMessage, ConsoleCommand, SurveyAnswer, QuickRating,
)
AnyCommand: TypeAlias = (
    TakeTicket | CallNext | Recall | NoShow | Done | Transfer | CallTicket | Pause | Resume | PrintAck
    | VoidTicket | Reprint | Ping | StopIssuing | ResumeIssuing | SetQuota | LobbyMessage | ConsoleCommand
    | SurveyAnswer | QuickRating
)

# ---------------------------------------------------------------------------
# Central -> device
# ---------------------------------------------------------------------------


class Reply(Outbound, tag="reply", frozen=True, kw_only=True):
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


class GeraiState(Outbound, tag="gerai_state", frozen=True, kw_only=True):
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
    #: the waiting count of the gerai's services; current only for contract 1 readers
    #: (a contract 2 reader sums the service states of ``services`` instead)
    waiting: Count
    note: ShortText = ""
    rev: Count
    ts: Epoch
    #: the services this gerai calls from (contract 2: whose service states it reads)
    services: Annotated[list[Ident], Meta(max_length=64)] = []


class ServiceState(Outbound, tag="service_state", frozen=True, kw_only=True):
    """One service now: retained on ``service/<service>/state``, republished when it changes (contract 2)."""

    service: Ident
    name: ShortText
    agency: ShortText
    prefix: Annotated[str, Meta(pattern=r"^[A-Z]{1,2}$")]
    open: bool
    waiting: Count
    remaining_quota: Count | None = None
    est_wait_min: Count | None = None
    #: when the longest-waiting ticket was issued (None: nobody waits)
    oldest_issued_at: Epoch | None = None
    served: Count = 0
    no_show: Count = 0
    #: the service's place in the site's list (for readers that show them in order)
    order: Count = 0
    rev: Count
    ts: Epoch
    #: (operations console) False when a supervisor stopped issuing for the service today
    issuing: bool = True


class Calls(Outbound, tag="calls", frozen=True, kw_only=True):
    """The most recent calls of the site, oldest first: retained on ``calls`` (contract 2)."""

    max_bytes: ClassVar[int] = 16 * 1024

    site: Ident
    site_name: ShortText
    rev: Count
    ts: Epoch
    calls: Annotated[list[BoardCall], Meta(max_length=50)] = []
    #: (operations console) the supervisor's running text for the lobby today; "" for the site file's
    message: ShortText = ""


class PrintJob(Outbound, tag="print_job", frozen=True, kw_only=True):
    """A ticket to print, sent to the device that asked for it."""

    max_bytes: ClassVar[int] = 4096

    job: CommandId
    ticket_id: TicketId
    ticket: TicketNumber
    service: Ident
    service_name: ShortText
    agency_name: ShortText
    site_name: ShortText
    priority: Priority = Priority.REGULAR
    issued_at: Epoch
    issued_text: ShortText  # e.g. "Jumat, 17 November 2023 10:15 WITA"
    ahead: Count
    est_wait_min: Count | None = None
    footer: ShortText = ""
    #: (issue 16) the ticket's own page on the site's console (its QR code is printed): position,
    #: the "almost your turn" notice, the call and the survey; "" when the site has no public URL
    url: Annotated[str, Meta(max_length=300)] = ""


class Presence(Message, tag="presence", frozen=True, kw_only=True):
    """Retained on .../presence; the device's last will publishes ``online: false``."""

    role: RoleName
    device: Ident
    online: bool
    version: Annotated[str, Meta(max_length=40)] = ""
    ts: Epoch | None = None
    #: the contract generation the device reads (absent: 1); see :data:`CONTRACT`
    contract: Annotated[int, Meta(ge=1, le=99)] = 1


class Health(Message, tag="health", frozen=True, kw_only=True):
    """Periodic report of a device (QoS 0, retained: its last report, for ``antre status``)."""

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
    #: Wi-Fi signal where the device hangs (dBm), when it is on Wi-Fi
    rssi_dbm: Annotated[int, Meta(ge=-127, le=0)] | None = None
    #: free heap of a microcontroller node (bytes)
    free_heap_bytes: Annotated[int, Meta(ge=0)] | None = None
    #: why the device last started: power_on, watchdog, hard_reset, soft_reset, deep_sleep, ...
    reset_cause: Annotated[str, Meta(max_length=40)] | None = None
    #: the central's clock minus the device's wall clock, measured from the link (seconds)
    clock_offset_s: float | None = None
    #: the device's IP address on its link to the broker (where a technician reaches it)
    ip: Annotated[str, Meta(max_length=45, pattern=r"^[0-9A-Fa-f:.]{2,45}$")] | None = None


class BoardGerai(Struct, forbid_unknown_fields=False, frozen=True, kw_only=True):
    gerai: Ident
    number: Annotated[int, Meta(ge=0, le=9999)]
    name: ShortText
    agency: ShortText
    status: GeraiStatus
    ticket: TicketNumber | None = None
    service: Ident | None = None


class BoardService(Struct, forbid_unknown_fields=False, frozen=True, kw_only=True):
    service: Ident
    name: ShortText
    agency: ShortText
    prefix: Annotated[str, Meta(pattern=r"^[A-Z]{1,2}$")]
    waiting: Count
    remaining_quota: Count | None = None
    est_wait_min: Count | None = None
    open: bool
    #: False when a supervisor stopped issuing for the service today (operations console)
    issuing: bool = True


class BoardCall(Struct, forbid_unknown_fields=False, frozen=True, kw_only=True):
    ticket: TicketNumber
    gerai: Ident
    gerai_number: Annotated[int, Meta(ge=0, le=9999)]
    gerai_name: ShortText
    recall: bool = False
    ts: Epoch


class Board(Outbound, tag="board", frozen=True, kw_only=True):
    """Everything a lobby screen shows.  Retained on ``antre/v1/<site>/board``."""

    max_bytes: ClassVar[int] = 256 * 1024

    site: Ident
    site_name: ShortText
    rev: Count
    ts: Epoch
    gerai: Annotated[list[BoardGerai], Meta(max_length=500)] = []
    services: Annotated[list[BoardService], Meta(max_length=1000)] = []
    calls: Annotated[list[BoardCall], Meta(max_length=50)] = []
    #: the supervisor's message for the lobby today (operations console); "" for none
    message: ShortText = ""


class Announce(Outbound, tag="announce", frozen=True, kw_only=True):
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


class CentralLease(Outbound, tag="central_lease", frozen=True, kw_only=True):
    """The central's presence and its claim to be the one writer of its site (retained on
    ``antre/v1/<site>/central/presence``, renewed every ``renew_s``; the last will is the
    same lease with ``online: false`` and no ``ts``).

    ``term`` grows by one each time a central takes the site over; a central that sees a
    lease of a higher term (or the same term and a greater ``instance``) stops at once,
    so two centrals never issue numbers for one site.  ``epoch`` is its log's, ``seq``
    the newest event committed to it.  ``host``, ``pid`` and ``log`` are what a second
    central prints when it refuses to start.
    """

    site: Ident
    instance: Annotated[str, Meta(pattern=r"^[0-9a-f]{8,32}$")]
    term: Count
    online: bool
    host: Annotated[str, Meta(max_length=100)] = ""
    pid: Count = 0
    log: Annotated[str, Meta(max_length=300)] = ""
    seq: Count = 0
    #: the local day the log serves (ISO date) and the numbers it issued that day: a central
    #: starting on another log refuses to issue that day's numbers a second time
    day: Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] | None = None
    issued: Count = 0
    since: Epoch = 0.0
    renew_s: Annotated[float, Meta(gt=0, le=600)] = 3.0
    version: Annotated[str, Meta(max_length=40)] = ""
    ts: Epoch | None = None


OUTBOUND_TYPES: tuple[type[Message], ...] = (
    Reply, GeraiState, ServiceState, Calls, PrintJob, Presence, Health, Board, Announce, CentralLease,
)

ALL_TYPES: tuple[type[Message], ...] = COMMAND_TYPES + OUTBOUND_TYPES


def kind_of(cls: type[Message]) -> str:
    """The ``kind`` tag of a message class (its struct config: cheap, on the hot path)."""
    tag = cls.__struct_config__.tag
    assert isinstance(tag, str)
    return tag
