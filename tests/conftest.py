"""Shared fixtures: a small site open all day every day, and the example site."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from central.config import SiteConfig, load_site, parse_site

ROOT = Path(__file__).resolve().parent.parent
KUPANG = ROOT / "examples" / "kupang.toml"
MAKASSAR = dt.timezone(dt.timedelta(hours=8))

SMALL_SITE = """
[site]
id = "test"
name = "MPP Uji"
timezone = "Asia/Makassar"
ticket_cutoff_minutes = 0
tickets_open_early_minutes = 0
no_show_recall_minutes = 15
calls_during_breaks = true
[site.priority_ratio]
priority = 1
regular = 2
[site.hours]
mon = ["00:00-24:00"]
tue = ["00:00-24:00"]
wed = ["00:00-24:00"]
thu = ["00:00-24:00"]
fri = ["00:00-24:00"]
sat = ["00:00-24:00"]
sun = ["00:00-24:00"]

[[agency]]
id = "dukcapil"
name = "Dinas Dukcapil"
short = "Dukcapil"

[[agency]]
id = "pajak"
name = "Kantor Pajak"
short = "Pajak"

[[service]]
id = "ktp"
agency = "dukcapil"
name = "KTP-el"
prefix = "A"
daily_quota = 60
avg_service_minutes = 6

[[service]]
id = "kk"
agency = "dukcapil"
name = "Kartu Keluarga"
prefix = "B"
avg_service_minutes = 10

[[service]]
id = "npwp"
agency = "pajak"
name = "NPWP"
prefix = "NP"
padding = 2
avg_service_minutes = 12

[[gerai]]
id = "g1"
number = 1
name = "Gerai 1"
agency = "dukcapil"
services = ["ktp", "kk"]
weights = { ktp = 2 }

[[gerai]]
id = "g2"
number = 2
name = "Gerai 2"
agency = "dukcapil"
services = ["ktp", "kk"]

[[gerai]]
id = "g3"
number = 3
name = "Gerai 3"
agency = "dukcapil"
services = ["kk"]

[[gerai]]
id = "g4"
number = 4
name = "Gerai 4"
agency = "pajak"
services = ["npwp"]

[[kiosk]]
id = "k1"
name = "Anjungan 1"
"""


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
