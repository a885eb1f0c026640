"""Value types of command-line options: each refuses a bad value with a message argparse shows (exit 2)."""

from __future__ import annotations

import argparse
import datetime as dt
import re

from antre.broker.wire.topics import ID_PATTERN

_ID_RE = re.compile(ID_PATTERN)


def port(text: str) -> int:
    """A TCP port, 1-65535."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return value


def size(text: str) -> tuple[int, int]:
    """A screen size like 1920x1080."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        w = h = 0
    if not (320 <= w <= 7680 and 240 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"{text!r} is not a screen size like 1920x1080")
    return w, h


def seconds(text: str) -> float:
    """A duration, 0 to one day."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration in seconds (0-86400)")
    return value


def date(text: str) -> dt.date:
    """An ISO date like 2026-11-20."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-20") from None


def iso_time(text: str) -> str:
    """An ISO date and time like 2026-11-20T08:00 (kept as text; its zone is the site's)."""
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time like 2026-11-20T08:00") from None
    return text


def ident(text: str) -> str:
    """A site, gerai, kiosk or lobby id: 1-32 lower-case letters, digits or hyphens."""
    if not _ID_RE.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an id: use 1-32 lower-case letters, digits or hyphens, starting with a letter or digit")
    return text


def positive_int(text: str) -> int:
    """A whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value
