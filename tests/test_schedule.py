"""Hours, breaks, cut-off and holidays at MPP Kota Kupang (WITA)."""

from __future__ import annotations

import datetime as dt

import pytest

from antre.central.config import SiteConfig
from antre.central.schedule import ScheduleError, Window

FRIDAY = dt.date(2023, 11, 17)
THURSDAY = dt.date(2023, 11, 16)
SATURDAY = dt.date(2023, 11, 18)
CHRISTMAS = dt.date(2026, 12, 25)  # a Friday, listed as a holiday in the example


def _local(kupang: SiteConfig, day: dt.date, hh: int, mm: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=kupang.zone)


@pytest.mark.parametrize(
    ("day", "hh", "mm", "code"),
    [
        (THURSDAY, 7, 44, "before_hours"),
        (THURSDAY, 7, 45, "ok"),  # the ticket machine opens 15 minutes early
        (THURSDAY, 11, 45, "ok"),
        (THURSDAY, 14, 29, "ok"),
        (THURSDAY, 14, 30, "after_cutoff"),  # 30 minutes before closing
        (THURSDAY, 15, 0, "after_hours"),
        (FRIDAY, 11, 45, "ok"),  # the example issues during Friday prayer
        (SATURDAY, 9, 0, "closed_today"),
        (CHRISTMAS, 9, 0, "holiday"),
    ],
)
def test_issue_verdicts(kupang: SiteConfig, day: dt.date, hh: int, mm: int, code: str) -> None:
    verdict = kupang.schedules["ktp-el"].issue_verdict(_local(kupang, day, hh, mm))
    assert verdict.code == code
    assert verdict.ok is (code == "ok")


def test_verdicts_say_when(kupang: SiteConfig) -> None:
    sched = kupang.schedules["ktp-el"]
    assert sched.issue_verdict(_local(kupang, THURSDAY, 6, 0)).opens_at == "07:45"
    assert sched.issue_verdict(_local(kupang, THURSDAY, 14, 40)).closes_at == "14:30"


def test_break_is_found_only_on_its_weekday(kupang: SiteConfig) -> None:
    sched = kupang.site_schedule
    brk = sched.break_at(_local(kupang, FRIDAY, 12, 0))
    assert brk is not None and str(brk) == "11:30-13:00"
    assert sched.break_at(_local(kupang, FRIDAY, 13, 0)) is None
    assert sched.break_at(_local(kupang, THURSDAY, 12, 0)) is None
    assert not sched.is_serving(_local(kupang, FRIDAY, 12, 0))
    assert sched.is_serving(_local(kupang, FRIDAY, 13, 0))


def test_break_refuses_issuing_when_configured(kupang: SiteConfig) -> None:
    from dataclasses import replace

    strict = replace(kupang.schedules["ktp-el"], issue_during_breaks=False)
    verdict = strict.issue_verdict(_local(kupang, FRIDAY, 12, 0))
    assert (verdict.code, verdict.opens_at) == ("on_break", "13:00")


@pytest.mark.parametrize("text", ["8:00-15:00", "08:00-08:00", "25:00-26:00", "08:00-24:30", "", "08:00 - 15:00"])
def test_bad_windows(text: str) -> None:
    with pytest.raises(ScheduleError):
        Window.parse(text)


def test_window_to_midnight() -> None:
    w = Window.parse("00:00-24:00")
    assert w.contains(0) and w.contains(24 * 60 - 1) and str(w) == "00:00-24:00"
