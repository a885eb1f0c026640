"""Site and device files for simulations, tests and benchmarks: one builder.

Every site a test, the demo, the benchmarks or the soak runs is built here, as a dict
written with a TOML writer (never by formatting TOML text): a base site (the small
test site, the example site or a generated one of any size) with the broker, the
event log and the test identities the run needs.  :class:`SiteFiles` is such a site
on disk, with its generated credentials.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from antre import EXAMPLE_SITE
from antre.broker.admin import credentials as creds
from antre.broker.admin.acl import Identity
from antre.broker.link.base import BrokerAddress
from antre.broker.wire.topics import Role
from antre.central.config import SiteConfig, parse_site

#: A small site open all day every day: 2 agencies, 3 services (one with a two-letter
#: prefix and a quota), 4 gerai, a kiosk.  The unit tests' site.
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


def small_site() -> dict[str, Any]:
    return tomllib.loads(SMALL_SITE)


def example_site() -> dict[str, Any]:
    """MPP Kota Kupang (examples/kupang.toml) as data."""
    return tomllib.loads(EXAMPLE_SITE.read_text(encoding="utf-8"))


def generated_site(gerai: int, services: int, *, site_id: str = "bench") -> dict[str, Any]:
    """A site of any size, open around the clock: ``services`` services (prefixes AA, AB...),
    ``gerai`` gerai, each serving one of them in turn (the benchmarks' site)."""
    days = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    return {
        "site": {"id": site_id, "name": "MPP Benchmark", "timezone": "Asia/Makassar", "ticket_cutoff_minutes": 0,
                 "tickets_open_early_minutes": 0, "calls_during_breaks": True, "hours": days},
        "agency": [{"id": "a", "name": "Agency", "short": "A"}],
        "service": [{"id": f"s{j:02d}", "agency": "a", "name": f"Service {j}",
                     "prefix": chr(65 + j // 26) + chr(65 + j % 26), "padding": 4} for j in range(services)],
        "gerai": [{"id": f"g{i:04d}", "number": i + 1, "name": f"Gerai {i + 1}", "agency": "a",
                   "services": [f"s{i % services:02d}"]} for i in range(gerai)],
    }


def write_toml(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(dict(data)), encoding="utf-8")
    return path


@dataclass
class SiteFiles:
    """A site on disk for one run: site file, credentials, event log path.

    ``base`` is the site as data (default: the small test site); the run's own parts
    replace its ``[broker]`` and ``[store]``: the broker on ``port`` of loopback, the
    log ``central.db`` in ``dir`` (``store`` adds keys); ``central`` is merged into its ``[central]``; a
    lobby ``lobby-1`` and the monitors ``t1``, ``t2`` are added when missing.
    """

    dir: Path
    port: int
    base: Mapping[str, Any] = field(default_factory=small_site)
    durability: str = "full"
    central: Mapping[str, Any] = field(default_factory=dict)
    #: merged into its ``[console]`` (the operations console's database is ``console.db`` in ``dir``)
    console: Mapping[str, Any] = field(default_factory=dict)
    #: more keys of ``[store]`` (e.g. ``retention_days``)
    store: Mapping[str, Any] = field(default_factory=dict)
    config_path: Path = field(init=False)
    config: SiteConfig = field(init=False)
    credentials_path: Path = field(init=False)
    secrets: creds.Credentials = field(init=False)

    def __post_init__(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.credentials_path = self.dir / "credentials.toml"
        data = dict(self.base)
        lobbies = list(data.get("lobby", []))
        if not any(lob.get("id") == "lobby-1" for lob in lobbies):
            lobbies.append({"id": "lobby-1", "name": "Layar Lobi"})
        monitors = [mon for mon in data.get("monitor", []) if mon.get("id") not in ("t1", "t2")]
        data["lobby"] = lobbies
        data["monitor"] = monitors + [{"id": "t1"}, {"id": "t2"}]
        data["broker"] = {"host": "127.0.0.1", "port": self.port, "bind": "127.0.0.1",
                          "credentials": str(self.credentials_path)}
        data["store"] = {"path": str(self.dir / "central.db"), "durability": self.durability, **self.store}
        # A simulated site's central: the machine's clock may not be NTP-synchronised (a container),
        # and many centrals run side by side (no metrics port); tests of both turn them on.
        data["central"] = {"require_clock_sync": False, "metrics": False, **data.get("central", {}),
                           **self.central}
        data["console"] = {"database": str(self.dir / "console.db"), **data.get("console", {}), **self.console}
        self.config_path = write_toml(self.dir / "site.toml", data)
        self.config = parse_site(self.config_path.read_text(encoding="utf-8"), str(self.config_path))
        self.secrets = creds.ensure(self.credentials_path, self.config.site_id, self.config.identities())

    def address(self, who: Identity, port: int | None = None) -> BrokerAddress:
        """How ``who`` reaches this site's broker (or ``port``, e.g. a proxy in front of it)."""
        return BrokerAddress("127.0.0.1", port or self.port, self.secrets.username(who), self.secrets.password(who))

    def agent_config(self, role: str, device: str, *, port: int | None = None,
                     extra: Mapping[str, Any] | None = None) -> str:
        """The device file of an edge agent for ``device``, with its own secret (no hardware unless
        ``extra`` adds tables for it; its top-level keys are merged in); ``port``: e.g. a proxy's."""
        who = Identity(Role(role), device)
        data: dict[str, Any] = {
            "device": {"site": self.config.site_id, "role": role, "id": device},
            "broker": {"host": "127.0.0.1", "port": port or self.port, "password": self.secrets.password(who),
                       "keepalive": 2},
        }
        for key, value in (extra or {}).items():
            data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
        return tomli_w.dumps(data)
