"""Encode, decode and validate every message of the wire contract.

:func:`decode` is the one way bytes from the network become messages.  It never
lets an exception other than :class:`ProtocolError` escape, whatever the bytes;
each error carries a :class:`ErrorCode` and a message a technician can act on.
"""

from __future__ import annotations

import enum
import hashlib
import re
from itertools import accumulate
from typing import Any, Final, TypeVar, cast, overload

import msgspec

from antre.broker.wire import messages as m
from antre.broker.wire.topics import SERVICE_STATE, Channel

T = TypeVar("T", bound=m.Message)


class ErrorCode(str, enum.Enum):
    """Why a payload was rejected."""

    OVERSIZED = "oversized"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_KIND = "unknown_kind"
    WRONG_CHANNEL = "wrong_channel"
    INVALID_MESSAGE = "invalid_message"
    TOO_DEEP = "too_deep"


class ProtocolError(Exception):
    """A payload that is not a valid message of the contract."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message


class _Envelope(msgspec.Struct):
    """The two fields every message has; everything else is skipped here."""

    v: Any = None
    kind: Any = None


_BY_KIND: Final[dict[str, type[m.Message]]] = {m.kind_of(cls): cls for cls in m.ALL_TYPES}

#: Which kinds may arrive on which channel (board and announce are site topics).
CHANNEL_KINDS: Final[dict[str, frozenset[str]]] = {
    Channel.CMD.value: frozenset(m.kind_of(c) for c in m.COMMAND_TYPES),
    Channel.REPLY.value: frozenset({"reply"}),
    Channel.STATE.value: frozenset({"gerai_state"}),
    Channel.PRINT.value: frozenset({"print_job"}),
    Channel.PRESENCE.value: frozenset({"presence", "central_lease"}),
    Channel.HEALTH.value: frozenset({"health"}),
    "board": frozenset({"board"}),
    "announce": frozenset({"announce"}),
    "calls": frozenset({"calls"}),
    SERVICE_STATE: frozenset({"service_state"}),
}

#: No message of any kind is ever larger than this; checked before parsing.
MAX_PAYLOAD_BYTES: Final[int] = max(cls.max_bytes for cls in m.ALL_TYPES)

#: No message of the contract nests deeper than 4 levels (board -> list -> struct -> value).
#: Deeper JSON is refused before any parser recurses into it (msgspec raises RecursionError
#: near Python's recursion limit, on the path that skips unknown fields too).
MAX_DEPTH: Final[int] = 16

#: A JSON string literal, escapes included (its brackets do not nest anything).
_STRING_RE: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_DELTA: Final[list[int]] = [0] * 256
_DELTA[ord("[")] = _DELTA[ord("{")] = 1
_DELTA[ord("]")] = _DELTA[ord("}")] = -1
_NOT_BRACKETS: Final[bytes] = bytes(b for b in range(256) if b not in b"[]{}")


def nesting_depth(payload: bytes) -> int:
    """The deepest nesting of arrays and objects in ``payload`` (strings skipped), computed
    without recursion in time linear in its size; an upper bound for malformed input."""
    brackets = _STRING_RE.sub(b'""', payload).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DELTA.__getitem__, brackets)), default=0)


_ENVELOPE_DECODER: Final = msgspec.json.Decoder(_Envelope)


class _IdOnly(msgspec.Struct):
    id: Any = None


_ID_DECODER: Final = msgspec.json.Decoder(_IdOnly)
_ID_RE: Final = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
_DECODERS: Final[dict[str, msgspec.json.Decoder[Any]]] = {
    kind: msgspec.json.Decoder(cls) for kind, cls in _BY_KIND.items()
}
_ENCODER: Final = msgspec.json.Encoder()


def encode(message: m.Message) -> bytes:
    """The JSON bytes of ``message`` (compact, UTF-8)."""
    return _ENCODER.encode(message)


@overload
def decode(payload: bytes | bytearray | memoryview | str, channel: Channel | str) -> m.Message: ...
@overload
def decode(
    payload: bytes | bytearray | memoryview | str, channel: Channel | str, expect: type[T]
) -> T: ...


def decode(
    payload: bytes | bytearray | memoryview | str,
    channel: Channel | str,
    expect: type[T] | None = None,
) -> m.Message:
    """Decode and validate a payload received on ``channel``.

    ``channel`` is a :class:`~antre.broker.wire.topics.Channel` or ``"board"`` /
    ``"announce"``.  With ``expect`` the message must also be of that class.
    Raises only :class:`ProtocolError`.
    """
    try:
        return _decode(payload, channel, expect)
    except ProtocolError:
        raise
    except Exception as exc:  # pragma: no cover - a bug in a library must not escape either
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"undecodable payload ({type(exc).__name__}: {exc})") from exc


def decode_command(payload: bytes | bytearray | memoryview | str) -> m.AnyCommand:
    """Decode a payload received on a ``cmd`` channel."""
    return cast(m.AnyCommand, decode(payload, Channel.CMD))


def peek_command_id(payload: bytes | bytearray | memoryview | str) -> str | None:
    """The ``id`` of a command payload that failed to decode, when it can be read safely.

    Bounded like :func:`decode` (size before parsing, nesting depth) and never raises.
    """
    try:
        data = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else bytes(payload)
        if len(data) > MAX_PAYLOAD_BYTES or nesting_depth(data) > MAX_DEPTH:
            return None
        value = _ID_DECODER.decode(data).id
    except Exception:  # invalid JSON or UTF-8, or anything else: no id
        return None
    return value if isinstance(value, str) and _ID_RE.match(value) else None


def answer_id(payload: bytes | bytearray | memoryview | str) -> str:
    """The ``cmd`` a reply to a rejected payload carries: the payload's own id when it can be
    read, else ``invalid-`` and 16 hex digits of its SHA-256 (so every payload gets an answer
    the sender can match, and no two different payloads share one)."""
    found = peek_command_id(payload)
    if found is not None:
        return found
    data = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else bytes(payload)
    return "invalid-" + hashlib.sha256(data).hexdigest()[:16]


def _decode(
    payload: bytes | bytearray | memoryview | str,
    channel: Channel | str,
    expect: type[T] | None,
) -> m.Message:
    channel_name = channel.value if isinstance(channel, Channel) else str(channel)
    allowed = CHANNEL_KINDS.get(channel_name)
    if allowed is None:
        raise ProtocolError(ErrorCode.WRONG_CHANNEL, f"no message is defined for channel {channel_name!r}")
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogatepass")
    size = len(payload)
    limit = max(_BY_KIND[k].max_bytes for k in allowed)
    if size > limit:
        raise ProtocolError(
            ErrorCode.OVERSIZED, f"payload of {size} bytes exceeds the {limit}-byte limit of channel {channel_name!r}"
        )
    payload = bytes(payload)
    depth = nesting_depth(payload)
    if depth > MAX_DEPTH:
        raise ProtocolError(
            ErrorCode.TOO_DEEP, f"payload nests {depth} levels deep; no message nests more than {MAX_DEPTH}"
        )
    try:
        env = _ENVELOPE_DECODER.decode(payload)
    except msgspec.ValidationError as exc:
        if str(exc).startswith("Expected `object`"):
            raise ProtocolError(ErrorCode.NOT_AN_OBJECT, "payload must be a JSON object with 'v' and 'kind'") from None
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"invalid envelope: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(ErrorCode.MALFORMED_JSON, f"payload is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ProtocolError(ErrorCode.MALFORMED_JSON, f"payload is not valid JSON: invalid UTF-8 ({exc.reason} "
                            f"at byte {exc.start})") from None
    if env.v is None:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "missing schema version field 'v'")
    if type(env.v) is not int or env.v != m.SCHEMA_VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"schema version {env.v!r} is not supported; this side speaks v={m.SCHEMA_VERSION}",
        )
    if not isinstance(env.kind, str):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "missing or non-string field 'kind'")
    cls = _BY_KIND.get(env.kind)
    if cls is None:
        raise ProtocolError(ErrorCode.UNKNOWN_KIND, f"unknown message kind {env.kind[:40]!r}")
    if env.kind not in allowed or (expect is not None and cls is not expect):
        raise ProtocolError(
            ErrorCode.WRONG_CHANNEL, f"a {env.kind!r} message does not belong on channel {channel_name!r}"
        )
    if size > cls.max_bytes:
        raise ProtocolError(
            ErrorCode.OVERSIZED, f"{env.kind!r} payload of {size} bytes exceeds its {cls.max_bytes}-byte limit"
        )
    try:
        msg: m.Message = _DECODERS[env.kind].decode(payload)
    except msgspec.ValidationError as exc:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"invalid {env.kind!r} message: {exc}") from None
    except msgspec.DecodeError as exc:  # pragma: no cover - envelope parse already proved it is JSON
        raise ProtocolError(ErrorCode.MALFORMED_JSON, f"payload is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:  # invalid UTF-8 inside a string the envelope skipped
        raise ProtocolError(ErrorCode.MALFORMED_JSON, f"payload is not valid JSON: invalid UTF-8 ({exc.reason} "
                            f"at byte {exc.start})") from None
    return msg


def to_builtins(message: m.Message) -> dict[str, Any]:
    """The message as plain Python data (for logs and documentation)."""
    return cast(dict[str, Any], msgspec.to_builtins(message))
