"""Who may publish and read which topics: one model for every broker.

The same rules render Mosquitto's ACL file (:func:`mosquitto_acl`) and are
enforced by the embedded broker's topic plugin (:func:`allowed`), so the
laptop demo and production grant exactly the same rights:

* a **gerai** publishes only its own ``cmd``, ``presence`` and ``health`` and
  reads only its own ``reply``, ``state`` and ``print``;
* a **kiosk** likewise, without ``state``;
* a **lobby** reads the board, the announcements, the central's presence and each gerai's presence,
  and publishes only its own ``presence`` and ``health``;
* a **monitor** (``monitor.<name>``) reads everything under its site and
  publishes nothing: the central's fence probe, ``antre status`` and tools;
* the **central** reads and writes everything under its site;
* the **console** (``console.<name>``, the operations console) reads everything under
  its site and publishes only its own ``cmd`` and ``presence``: every action a person
  takes there is a command the central applies (or refuses).

A username is ``<role>.<device>`` (e.g. ``gerai.g05``; a dot can never occur
in an id, so the split is unambiguous) or, for the central, ``central-<tag>``
with a secret random tag of 16 hex digits generated with the site's
credentials (``central`` alone is accepted from older sites).  **The MQTT
client id of every connection is its username**: Mosquitto is configured
with ``use_username_as_clientid`` and the embedded broker refuses any other
client id, so no device can take over another identity's connection or
session (the broker closes the older connection when a client id connects
twice).  The central's id is secret because Mosquitto 2.0 lets even an
unauthenticated CONNECT with a known client id and clean session damage that
id's persistent session (eclipse-mosquitto/mosquitto#3551), and only the
central keeps one: nobody off the central server can name it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from antre.broker.wire.topics import Channel, Role, Topics, check_id


class Access(str, enum.Enum):
    READ = "read"  # subscribe and receive
    WRITE = "write"  # publish (including the last will)
    READWRITE = "readwrite"


_CENTRAL_TAG = re.compile(r"^[0-9a-f]{8,32}$")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who connects: a role and its device id (for the central: its secret tag, or None for
    "the site's central", whose username the site's credentials resolve)."""

    role: Role
    device: str | None = None

    @property
    def username(self) -> str:
        if self.role is Role.CENTRAL:
            return f"central-{self.device}" if self.device else "central"
        return f"{self.role.value}.{self.device}"

    @property
    def client_id(self) -> str:
        """The MQTT client id this identity connects with: always its username."""
        return self.username

    @classmethod
    def parse(cls, username: str) -> Identity:
        """``gerai.g05`` -> Identity(GERAI, "g05"); ``central-<tag>`` -> Identity(CENTRAL, tag);
        raises ValueError for anything else."""
        if username == "central":
            return cls(Role.CENTRAL)
        if username.startswith("central-"):
            tag = username[len("central-"):]
            if not _CENTRAL_TAG.match(tag):
                raise ValueError(f"username {username!r}: the central's tag must be 8-32 lower-case hex digits")
            return cls(Role.CENTRAL, tag)
        role_s, sep, device = username.partition(".")
        if not sep:
            raise ValueError(f"username {username!r} is not 'central' or '<role>.<device>'")
        role = Role(role_s)
        if role is Role.CENTRAL:
            raise ValueError(f"username {username!r}: the central has no device part")
        check_id(device, role.value)
        return cls(role, device)


def rules(site: str, who: Identity) -> list[tuple[Access, str]]:
    """The topic patterns (MQTT filters) ``who`` may use at ``site``."""
    t = Topics(site)
    if who.role is Role.CENTRAL:
        return [(Access.READWRITE, f"{t.prefix}/#")]
    if who.role is Role.MONITOR:
        return [(Access.READ, f"{t.prefix}/#")]
    if who.role is Role.CONSOLE:
        assert who.device is not None
        return [(Access.WRITE, t.device(Role.CONSOLE, who.device, ch)) for ch in (Channel.CMD, Channel.PRESENCE)] + [
            (Access.READ, f"{t.prefix}/#")]
    assert who.device is not None
    # what every device may read: the services' waiting counts (contract 2)
    public = [(Access.READ, t.all_service_states())]
    if who.role is Role.LOBBY:
        mine = [(Access.WRITE, t.device(Role.LOBBY, who.device, ch)) for ch in (Channel.PRESENCE, Channel.HEALTH)]
        return mine + public + [
            (Access.READ, t.board()),
            (Access.READ, t.calls()),
            (Access.READ, t.all_gerai_states()),
            (Access.READ, t.all_gerai_presence()),
            (Access.READ, t.announce()),
            (Access.READ, t.central_presence()),
        ]
    write = [Channel.CMD, Channel.PRESENCE, Channel.HEALTH]
    read = [Channel.REPLY, Channel.PRINT] + ([Channel.STATE] if who.role is Role.GERAI else [])
    return [(Access.WRITE, t.device(who.role, who.device, ch)) for ch in write] + [
        (Access.READ, t.device(who.role, who.device, ch)) for ch in read
    ] + public


def topic_matches(topic: str, pattern: str) -> bool:
    """MQTT filter matching (``+`` one level, ``#`` the rest)."""
    t_parts = topic.split("/")
    p_parts = pattern.split("/")
    for i, p in enumerate(p_parts):
        if p == "#":
            return True
        if i >= len(t_parts):
            return False
        if p != "+" and p != t_parts[i]:
            return False
    return len(t_parts) == len(p_parts)


def filter_within(requested: str, pattern: str) -> bool:
    """Is every topic the subscription filter ``requested`` can match allowed by ``pattern``?"""
    r_parts = requested.split("/")
    p_parts = pattern.split("/")
    for i, p in enumerate(p_parts):
        if p == "#":
            return True
        if i >= len(r_parts):
            return False
        r = r_parts[i]
        if r == "#":
            return False
        if p == "+":
            continue
        if r == "+" or r != p:
            return False
    return len(r_parts) == len(p_parts)


def allowed(site: str, who: Identity, access: Access, topic: str) -> bool:
    """May ``who`` publish (WRITE) or subscribe/receive (READ) ``topic``?"""
    for grant, pattern in rules(site, who):
        if grant is not Access.READWRITE and grant is not access:
            continue
        if access is Access.WRITE and topic_matches(topic, pattern):
            return True
        if access is Access.READ and filter_within(topic, pattern):
            return True
    return False


def mosquitto_acl(site: str, identities: list[Identity]) -> str:
    """The text of a Mosquitto ``acl_file`` granting each identity its rules."""
    lines = [
        f"# antre ACL for site {site}: generated by `antre broker mosquitto-config`; do not edit by hand.",
        "# Anything not granted here is denied (Mosquitto drops a denied QoS 0/1 publish silently).",
        "",
    ]
    for who in identities:
        lines.append(f"user {who.username}")
        for access, pattern in rules(site, who):
            lines.append(f"topic {access.value} {pattern}")
        lines.append("")
    return "\n".join(lines)
