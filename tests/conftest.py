"""Shared fixtures: a small site open all day every day, and the example site."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from antre.central.config import SiteConfig, load_site, parse_site
from antre.sim.sitefiles import SMALL_SITE

__all__ = ["KUPANG", "MAKASSAR", "ROOT", "SMALL_SITE", "at"]

ROOT = Path(__file__).resolve().parent.parent
KUPANG = ROOT / "examples" / "kupang.toml"
MAKASSAR = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="session")
def small_site() -> SiteConfig:
    return parse_site(SMALL_SITE, "small.toml")


@pytest.fixture(scope="session")
def kupang() -> SiteConfig:
    return load_site(KUPANG)


def at(day: dt.date, hh: int, mm: int = 0, ss: int = 0) -> float:
    """Unix time of a local WITA (UTC+8) wall-clock time."""
    return dt.datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=MAKASSAR).timestamp()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Facts the log must show (e.g. which MicroPython the firmware tests ran on)."""
    for note in getattr(config, "antre_notes", []):
        terminalreporter.write_line(note)
