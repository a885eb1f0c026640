"""What one frame of the lobby board shows: plain data, no pygame.

:class:`ScreenModel` is built by :meth:`antre.lobby.app.LobbyApp.model` from the
site as the lobby sees it (already filtered to its room) and drawn by
:mod:`antre.lobby.screen`; ``antre lobby render --sample`` builds one by hand.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

TileStatus = Literal["serving", "idle", "paused", "closed", "offline", "calling"]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class CallItem:
    """One call: in the main panel (the one announced) or in the history."""

    ticket: str
    gerai: str
    gerai_number: int
    gerai_name: str
    recall: bool = False
    ts: float = 0.0
    service: str | None = None
    #: calls of the same ticket to the same gerai said in this one announcement
    merged: int = 0
    #: called, still waiting for its turn to be announced (calls queue up in a burst)
    pending: bool = False


@dataclass(frozen=True)
class Tile:
    """A gerai's tile: its number, agency, what it does now."""

    gerai: str
    number: int
    name: str
    agency: str  # the agency's short name
    agency_id: str
    status: TileStatus
    ticket: str | None = None
    note: str = ""  # the pause reason


@dataclass(frozen=True)
class ServiceRow:
    service: str
    name: str
    agency: str
    prefix: str
    waiting: int | None
    remaining_quota: int | None
    est_wait_min: int | None
    open: bool = True
    #: tickets are issued today (a supervisor may stop issuing from the console)
    issuing: bool = True


@dataclass(frozen=True)
class InfoPage:
    """A page of the information area: a text (title and body) or an image file."""

    title: str = ""
    body: str = ""
    image: str = ""


def load_info(folder: str) -> list[InfoPage]:
    """The information pages in ``folder``, in file name order: ``*.txt`` (UTF-8; first line the
    title, the rest the body) and ``*.png`` / ``*.jpg`` images.  A missing folder or an unreadable
    file is logged and left out."""
    pages: list[InfoPage] = []
    path = Path(folder)
    if not path.is_dir():
        log.error("lobby information folder %s does not exist", folder)
        return pages
    for item in sorted(path.iterdir()):
        suffix = item.suffix.lower()
        try:
            if suffix == ".txt":
                lines = item.read_text(encoding="utf-8").strip().splitlines()
                if lines:
                    pages.append(InfoPage(lines[0].strip(), " ".join(x.strip() for x in lines[1:] if x.strip())))
            elif suffix in IMAGE_SUFFIXES:
                pages.append(InfoPage(image=str(item)))
        except (OSError, UnicodeDecodeError) as exc:
            log.error("lobby information page %s unreadable: %s", item, exc)
    return pages


@dataclass
class ScreenModel:
    """Everything one frame needs (already filtered to the lobby's room)."""

    site_name: str
    zone_abbrev: str
    now: dt.datetime  # in the site's zone
    tiles: list[Tile] = field(default_factory=list)
    services: list[ServiceRow] = field(default_factory=list)
    #: the call the voice announces (or announced last): the main panel
    main: CallItem | None = None
    #: the voice is saying ``main`` right now
    speaking: bool = False
    #: the room's other recent calls, newest first
    history: list[CallItem] = field(default_factory=list)
    connected: bool = True
    room: str = ""  # the room's name when the lobby is filtered to one
    running_text: str = ""
    marquee_offset: float = 0.0  # seconds: the running text scrolls with it
    page_clock: float = 0.0  # seconds: which page of the rotating area is shown
    logo: str = ""
    info: list[InfoPage] = field(default_factory=list)
    viewing_distance_m: float = 8.0
    screen_inches: float = 43.0
