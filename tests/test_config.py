"""Site config: the example loads; bad files name the file, the key and the problem."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from antre.central.config import ConfigError, SiteConfig, load_site, parse_site
from tests.conftest import SMALL_SITE


def test_example_site_is_kupang(kupang: SiteConfig) -> None:
    assert kupang.site_id == "kupang"
    assert kupang.site.timezone == "Asia/Makassar"
    assert kupang.zone_abbrev() == "WITA"
    assert len(kupang.agencies) == 11
    friday = dt.date(2023, 11, 17)
    assert kupang.site_schedule.describe(friday) == "08:00-15:00 (istirahat 11:30-13:00)"
    assert kupang.site_schedule.windows(dt.date(2023, 11, 18)) == ()  # Saturday
    assert kupang.service_by_prefix("A") is kupang.services["ktp-el"]


def _broken(old: str, new: str) -> ConfigError:
    assert old in SMALL_SITE, old
    with pytest.raises(ConfigError) as info:
        parse_site(SMALL_SITE.replace(old, new, 1), "bad.toml")
    return info.value


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ('timezone = "Asia/Makassar"', 'timezone = "Asia/Kupang"', "site.timezone", "unknown time zone"),
        ('id = "test"', 'id = "Test Site"', "site.id", "regex"),
        ('prefix = "A"', 'prefix = "a1"', "service[0].prefix", "1-2 upper-case letters"),
        ('prefix = "B"', 'prefix = "A"', "service[1].prefix", "already used by service 'ktp'"),
        ("daily_quota = 60", "daily_quota = 0", "service[0].daily_quota", ">= 1"),
        ("daily_quota = 60", 'daily_quota = "60"', "service[0].daily_quota", "expected `int"),
        ('agency = "pajak"\nname = "NPWP"', 'agency = "bea"\nname = "NPWP"', "service[2].agency", "unknown agency"),
        ('services = ["kk"]', 'services = ["kk", "sim"]', "gerai[2].services[1]", "unknown service 'sim'"),
        ("number = 2", "number = 1", "gerai[1].number", "already used by gerai 'g1'"),
        ("weights = { ktp = 2 }", "weights = { npwp = 2 }", "gerai[0].weights.npwp", "does not serve"),
        ('mon = ["00:00-24:00"]', 'mon = ["08:00-07:00"]', "site.hours", "ends before it starts"),
        ('mon = ["00:00-24:00"]', 'mon = ["8-15"]', "site.hours", "not a time window"),
        ('mon = ["00:00-24:00"]', 'mon = ["08:00-12:00", "11:00-15:00"]', "site.hours", "overlap"),
        ('mon = ["00:00-24:00"]', 'senin = ["08:00-15:00"]', "site.hours", "unknown weekday 'senin'"),
        ("priority = 1\n", "priority = 0\n", "site.priority_ratio.priority", ">= 1"),
        ("regular = 2", "regular = 0", "site.priority_ratio.regular", ">= 1"),
        ('name = "MPP Uji"', 'name = "MPP Uji"\ncolour = "red"', "site", "unknown key 'colour'"),
        ('services = ["npwp"]', 'services = ["kk"]', "service[2]", "served by no gerai"),
        ("weights = { ktp = 2 }", 'order = "listed"\nweights = { ktp = 2 }', "gerai[0].weights", "oldest"),
        ("weights = { ktp = 2 }", 'order = "newest"', "gerai[0].order", "invalid enum value"),
    ],
)
def test_bad_values_name_file_key_and_problem(old: str, new: str, key: str, problem: str) -> None:
    err = _broken(old, new)
    assert err.source == "bad.toml"
    assert err.key == key, str(err)
    assert problem.lower() in err.problem.lower(), str(err)
    assert str(err).startswith(f"bad.toml: {key}: ")


def test_missing_section() -> None:
    with pytest.raises(ConfigError, match="missing required field `gerai`"):
        parse_site(SMALL_SITE.split("[[gerai]]")[0], "bad.toml")


def test_not_toml() -> None:
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        parse_site("[site\nid=", "bad.toml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_site(tmp_path / "nope.toml")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"[site]\nname = \"Caf\xe9\"\n")
    with pytest.raises(ConfigError, match="cannot read file"):
        load_site(path)
