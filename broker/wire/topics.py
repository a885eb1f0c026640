"""The MQTT topic tree of the antre wire contract, version 1.

Every topic is rooted at the site::

    antre/v1/<site>/gerai/<gerai>/cmd        device -> central   commands (QoS 1)
    antre/v1/<site>/gerai/<gerai>/reply      central -> device   replies (QoS 1)
    antre/v1/<site>/gerai/<gerai>/state      central -> device   number display state (QoS 1, retained)
    antre/v1/<site>/gerai/<gerai>/print      central -> device   print jobs (QoS 1)
    antre/v1/<site>/gerai/<gerai>/presence   device              online/offline (QoS 1, retained, last will)
    antre/v1/<site>/gerai/<gerai>/health     device -> central   periodic health (QoS 0)
    antre/v1/<site>/kiosk/<kiosk>/...        the same channels, except state, for ticket kiosks
    antre/v1/<site>/lobby/<lobby>/presence   lobby screens' presence and health
    antre/v1/<site>/console/<console>/cmd    the operations console's actions (and reply, presence)
    antre/v1/<site>/central/presence         the central service's presence (retained, last will)
    antre/v1/<site>/service/<service>/state  central -> all     a service's waiting count, quota, estimate (QoS 1, retained)
    antre/v1/<site>/calls                    central -> all      the most recent calls (QoS 1, retained)
    antre/v1/<site>/board                    central -> lobbies  the whole-site board of contract 1 readers (QoS 1, retained)
    antre/v1/<site>/announce                 central -> lobbies  voice announcements (QoS 1)

Contract 2 (see PROTOCOL.md, "Versions"): a ticket changes one service state, not
the state of every gerai of its service; readers assemble the site from the
retained gerai states, service states and calls (:mod:`antre.broker.wire.feed`).

Identifiers (site, gerai, kiosk, lobby) are lower-case ASCII letters, digits and
hyphens, 1 to 32 characters, starting with a letter or digit: they can never
contain an MQTT wildcard or a level separator.  This module is pure: it builds
and parses topic strings and imports no MQTT client.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

ROOT = "antre"
VERSION = "v1"

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
_ID_RE = re.compile(ID_PATTERN)


class Role(str, enum.Enum):
    """The kinds of participant that own a subtree of the topic tree."""

    GERAI = "gerai"
    KIOSK = "kiosk"
    LOBBY = "lobby"
    CENTRAL = "central"
    #: a read-only observer of the whole site (the central's fence probe,
    #: ``antre status``, test and monitoring tools); it owns no topics
    MONITOR = "monitor"
    #: the operations console (issue 15): reads the whole site, sends people's actions
    #: on its own ``cmd`` channel and gets the replies on its own ``reply``
    CONSOLE = "console"


class Channel(str, enum.Enum):
    """The last level of a device topic."""

    CMD = "cmd"
    REPLY = "reply"
    STATE = "state"
    PRINT = "print"
    PRESENCE = "presence"
    HEALTH = "health"


#: Which channels exist for which role (the central has only presence).
ROLE_CHANNELS: dict[Role, frozenset[Channel]] = {
    Role.GERAI: frozenset(Channel),
    Role.KIOSK: frozenset(Channel) - {Channel.STATE},
    Role.LOBBY: frozenset({Channel.PRESENCE, Channel.HEALTH}),
    Role.CENTRAL: frozenset({Channel.PRESENCE}),
    Role.MONITOR: frozenset(),
    Role.CONSOLE: frozenset({Channel.CMD, Channel.REPLY, Channel.PRESENCE}),
}


#: The channel name of a parsed service state topic (and of its codec channel).
SERVICE_STATE = "service_state"


class TopicError(ValueError):
    """A topic or identifier that does not belong to the contract."""


def is_valid_id(value: str) -> bool:
    """True when ``value`` is usable as a site, gerai, kiosk or lobby id."""
    return bool(_ID_RE.match(value))


def check_id(value: str, what: str) -> str:
    """Return ``value`` or raise :class:`TopicError` naming ``what`` it was."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise TopicError(
            f"{what} {value!r} is not a valid identifier: use 1-32 lower-case "
            "letters, digits or hyphens, starting with a letter or digit"
        )
    return value


@dataclass(frozen=True, slots=True)
class Topics:
    """Builds the topics of one site.

    >>> Topics("kupang").device("gerai", "g05", "cmd")
    'antre/v1/kupang/gerai/g05/cmd'
    """

    site: str

    def __post_init__(self) -> None:
        check_id(self.site, "site")

    @property
    def prefix(self) -> str:
        return f"{ROOT}/{VERSION}/{self.site}"

    def device(self, role: Role | str, device: str, channel: Channel | str) -> str:
        role = Role(role)
        channel = Channel(channel)
        if role is Role.CENTRAL:
            return self.central_presence()
        if channel not in ROLE_CHANNELS[role]:
            raise TopicError(f"a {role.value} has no {channel.value} channel")
        check_id(device, role.value)
        return f"{self.prefix}/{role.value}/{device}/{channel.value}"

    def gerai(self, gerai: str, channel: Channel | str) -> str:
        return self.device(Role.GERAI, gerai, channel)

    def kiosk(self, kiosk: str, channel: Channel | str) -> str:
        return self.device(Role.KIOSK, kiosk, channel)

    def central_presence(self) -> str:
        return f"{self.prefix}/central/presence"

    def board(self) -> str:
        return f"{self.prefix}/board"

    def service_state(self, service: str) -> str:
        """The retained state of one service (contract 2)."""
        check_id(service, "service")
        return f"{self.prefix}/service/{service}/state"

    def all_service_states(self) -> str:
        return f"{self.prefix}/service/+/state"

    def all_gerai_states(self) -> str:
        return f"{self.prefix}/gerai/+/state"

    def calls(self) -> str:
        """The retained list of the most recent calls (contract 2)."""
        return f"{self.prefix}/calls"

    def announce(self) -> str:
        return f"{self.prefix}/announce"

    def all_commands(self) -> str:
        """Subscription filter for every device's command channel (the central's)."""
        return f"{self.prefix}/+/+/cmd"

    def all_presence(self) -> str:
        return f"{self.prefix}/+/+/presence"

    def all_gerai_presence(self) -> str:
        """Every gerai's retained presence (a lobby shows an offline gerai as such)."""
        return f"{self.prefix}/{Role.GERAI.value}/+/{Channel.PRESENCE.value}"

    def all_health(self) -> str:
        return f"{self.prefix}/+/+/health"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    """A topic of the contract, split into its parts."""

    site: str
    role: Role | None  # None for the site-wide topics (board, announce, calls, service states)
    device: str | None  # for a service state: the service id
    channel: Channel | str


def parse(topic: str) -> ParsedTopic:
    """Split a topic of the contract; raise :class:`TopicError` for anything else."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != ROOT:
        raise TopicError(f"topic {topic!r} is not under {ROOT}/")
    if parts[1] != VERSION:
        raise TopicError(f"topic {topic!r} uses contract version {parts[1]!r}, expected {VERSION!r}")
    site = parts[2]
    if not is_valid_id(site):
        raise TopicError(f"topic {topic!r} has an invalid site id {site!r}")
    rest = parts[3:]
    if len(rest) == 1 and rest[0] in ("board", "announce", "calls"):
        return ParsedTopic(site, None, None, rest[0])
    if len(rest) == 3 and rest[0] == "service" and rest[2] == "state":
        if not is_valid_id(rest[1]):
            raise TopicError(f"topic {topic!r} has an invalid service id {rest[1]!r}")
        return ParsedTopic(site, None, rest[1], SERVICE_STATE)
    if rest == ["central", "presence"]:
        return ParsedTopic(site, Role.CENTRAL, None, Channel.PRESENCE)
    if len(rest) != 3:
        raise TopicError(f"topic {topic!r} is not a topic of the contract")
    role_s, device, channel_s = rest
    try:
        role = Role(role_s)
        channel = Channel(channel_s)
    except ValueError:
        raise TopicError(f"topic {topic!r} is not a topic of the contract") from None
    if role in (Role.CENTRAL, Role.MONITOR) or channel not in ROLE_CHANNELS[role]:
        raise TopicError(f"topic {topic!r}: a {role.value} has no {channel.value} channel")
    if not is_valid_id(device):
        raise TopicError(f"topic {topic!r} has an invalid {role.value} id {device!r}")
    return ParsedTopic(site, role, device, channel)
