"""The site configuration file (TOML): site, agencies, services, gerai, kiosks.

:func:`load_site` reads and validates a file.  Every problem is reported as a
:class:`ConfigError` naming the file, the key and the problem, e.g.::

    examples/kupang.toml: service[2].prefix: "a1" must be 1-2 upper-case letters
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from antre.broker.admin.acl import Identity
from antre.broker.tomlfile import FileConfigError, StrictSection, parse_toml, read_text
from antre.broker.wire.topics import ID_PATTERN, Role
from antre.central.schedule import Schedule, ScheduleError, parse_week

Ident = Annotated[str, Meta(pattern=ID_PATTERN)]
Name = Annotated[str, Meta(min_length=1, max_length=120)]
Minutes = Annotated[int, Meta(ge=0, le=24 * 60)]
#: a target wait: 1 minute to 8 hours
TargetMinutes = Annotated[int, Meta(ge=1, le=8 * 60)]
#: ``[site] target_wait_min`` when the site file does not say
DEFAULT_TARGET_WAIT_MIN = 30


class ConfigError(FileConfigError):
    """An invalid site config file: ``file: key: problem``."""


_Strict = StrictSection


class PriorityRatio(_Strict, frozen=True, kw_only=True):
    """When both wait, a gerai calls ``priority`` priority tickets, then
    ``regular`` regular ones, and repeats."""

    priority: Annotated[int, Meta(ge=1, le=100)] = 1
    regular: Annotated[int, Meta(ge=1, le=100)] = 2


class SiteSection(_Strict, frozen=True, kw_only=True):
    id: Ident
    name: Name
    short_name: Name | None = None
    timezone: str = "Asia/Jakarta"
    hours: dict[str, list[str]]
    breaks: dict[str, list[str]] = {}
    holidays: list[dt.date] = []
    tickets_open_early_minutes: Minutes = 15
    ticket_cutoff_minutes: Minutes = 30
    issue_during_breaks: bool = True
    calls_during_breaks: bool = False
    no_show_recall_minutes: Minutes = 15
    priority_ratio: PriorityRatio = PriorityRatio()
    running_text: Annotated[str, Meta(max_length=500)] = ""
    ticket_footer: Annotated[str, Meta(max_length=120)] = ""
    #: the service standard's longest wait (minutes from the ticket to its first call) for services
    #: that do not set their own; reports give the share of waits within it (antre.central.reports)
    target_wait_min: TargetMinutes = DEFAULT_TARGET_WAIT_MIN


#: How a name is said aloud: lower-case words, e.g. "a te er be pe en" for ATR/BPN
Spoken = Annotated[str, Meta(min_length=1, max_length=120, pattern=r"^[a-z0-9' -]+$")]


class Agency(_Strict, frozen=True, kw_only=True):
    id: Ident
    name: Name
    short: Annotated[str, Meta(min_length=1, max_length=40)]
    #: how the lobby's voice says the agency (default: ``short`` as written); abbreviations
    #: need one, e.g. ATR/BPN -> "a te er be pe en"
    spoken: Spoken | None = None


class Service(_Strict, frozen=True, kw_only=True):
    id: Ident
    agency: Ident
    name: Name
    prefix: str
    padding: Annotated[int, Meta(ge=1, le=6)] = 3
    daily_quota: Annotated[int, Meta(ge=1)] | None = None
    avg_service_minutes: Annotated[float, Meta(gt=0, le=480)] = 10.0
    standard: Annotated[str, Meta(max_length=300)] = ""
    #: how the lobby's voice says the service (default: ``name`` as written)
    spoken: Spoken | None = None
    # Optional overrides of the site's schedule.
    hours: dict[str, list[str]] | None = None
    breaks: dict[str, list[str]] | None = None
    ticket_cutoff_minutes: Minutes | None = None
    #: this service's target wait in minutes (default: the site's ``target_wait_min``)
    target_wait_min: TargetMinutes | None = None


class Gerai(_Strict, frozen=True, kw_only=True):
    id: Ident
    number: Annotated[int, Meta(ge=1, le=9999)]
    name: Name
    agency: Ident
    services: Annotated[list[Ident], Meta(min_length=1)]
    #: "oldest": oldest head ticket first across the services, each wait times
    #: its weight; "listed": the first listed service with a ticket waiting.
    order: Literal["oldest", "listed"] = "oldest"
    weights: dict[str, Annotated[float, Meta(gt=0, le=100)]] = {}


class Kiosk(_Strict, frozen=True, kw_only=True):
    id: Ident
    name: Name
    services: list[Ident] = []  # empty: every service


class Lobby(_Strict, frozen=True, kw_only=True):
    """A lobby screen and its loudspeaker: which room it serves, how it speaks, how far it is read."""

    id: Ident
    name: Name
    gerai: list[Ident] = []  # empty: every gerai (or, with services, the gerai serving them)
    services: list[Ident] = []  # empty: every service (or, with gerai, the services they call)
    #: the zone's template: what the voice says after the gerai ("none", the "agency" or the "service")
    announce_with: Literal["none", "agency", "service"] = "none"
    #: say the ticket number twice ("... a dua belas, a dua belas, silakan menuju ...")
    repeat_number: bool = False
    #: how far the farthest waiting citizen sits from the screen (metres): text sizes follow it
    viewing_distance_m: Annotated[float, Meta(ge=1.0, le=40.0)] = 8.0
    #: the screen's diagonal (inches, 16:9); 43 is the smallest the board is designed for
    screen_inches: Annotated[float, Meta(ge=20.0, le=120.0)] = 43.0
    #: an image (PNG or JPEG) for the logo slot; a relative path is relative to the site file
    logo: str = ""
    #: a folder of information pages: *.txt (first line the title) and *.png/*.jpg images
    info: str = ""
    #: a call not announced within this many seconds of being made is dropped (counted, logged, shown)
    max_call_age_s: Annotated[float, Meta(ge=10.0, le=3600.0)] = 120.0


class Monitor(_Strict, frozen=True, kw_only=True):
    """A read-only observer with its own broker credentials (a monitoring tool)."""

    id: Ident
    name: Name = "monitor"


#: Monitors every site has: the central's fence probe and ``antre status``.
BUILTIN_MONITORS = ("central", "ops")


class ConsoleSection(_Strict, frozen=True, kw_only=True):
    """The operations console (``antre console run``): a web application for supervisors, staff and
    technicians.  Its broker identity is ``console.<id>``; the central applies the actions it sends."""

    id: Ident = "main"
    #: where the web server listens (loopback unless told otherwise; the MPP's LAN address to serve it)
    bind: Annotated[str, Meta(min_length=1, max_length=253)] = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 8480
    #: the console's own database: accounts, its session key, alarm history (default
    #: ``/var/lib/antre/<site>-console.db``; a relative path is relative to the site file)
    database: str = ""
    #: HTTPS: both or neither (a relative path is relative to the site file)
    certfile: str | None = None
    keyfile: str | None = None
    #: a signed-in session lasts this long
    session_hours: Annotated[float, Meta(gt=0, le=24 * 7)] = 12.0
    #: failed sign-ins allowed per account and per address within ``login_window_s``
    login_attempts: Annotated[int, Meta(ge=1, le=100)] = 5
    login_window_s: Annotated[int, Meta(ge=10, le=86400)] = 300
    #: crowd alarm: a service with more than ``crowd_waiting`` waiting and more than
    #: ``crowd_factor`` times its usual count (its mean since the console started today)
    crowd_waiting: Annotated[int, Meta(ge=1)] = 30
    crowd_factor: Annotated[float, Meta(ge=1.0, le=100)] = 1.5
    #: wait alarm: the longest wait of a service over this many minutes
    wait_alarm_minutes: Annotated[int, Meta(ge=1, le=24 * 60)] = 60
    #: (issue 16) the console's address as citizens' phones on the MPP's network reach it, e.g.
    #: ``http://192.168.10.2:8480``: the QR code of every ticket opens ``<public_url>/t/<ticket>``, the
    #: ticket's own page (position, "almost your turn", the call, the SKM survey).  Empty: tickets keep
    #: the QR code of their id, and no ticket page is linked.  The console must listen where this
    #: points (``bind``).
    public_url: Annotated[str, Meta(max_length=200, pattern=r"^(https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~/-]*)?)?$")] = ""
    #: the ticket page says "Hampir giliran Anda" (sound and vibration) when at most this many wait ahead
    ticket_notice_ahead: Annotated[int, Meta(ge=1, le=50)] = 3
    #: the public pages (ticket pages, the survey tablet): requests per minute from one address, and
    #: wrong tokens from one address per 10 minutes, before it is refused (429) for a while
    public_requests_per_minute: Annotated[int, Meta(ge=10, le=100000)] = 600
    public_bad_tokens: Annotated[int, Meta(ge=1, le=10000)] = 20
    #: live ticket pages (server-sent event streams) open at once, and from one address
    public_streams: Annotated[int, Meta(ge=1, le=100000)] = 2000
    public_streams_per_address: Annotated[int, Meta(ge=1, le=10000)] = 20


class BrokerSection(_Strict, frozen=True, kw_only=True):
    """How devices and the central reach the broker, and where it listens."""

    host: Annotated[str, Meta(min_length=1, max_length=253)] = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 1883
    bind: Annotated[str, Meta(min_length=1, max_length=253)] = "127.0.0.1"
    #: every identity's secret (default ``/etc/antre/<site>-credentials.toml``; a relative
    #: path is relative to the site file's directory)
    credentials: str = ""
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None


class CentralSection(_Strict, frozen=True, kw_only=True):
    """How the central treats time and its claim to the site."""

    #: A command whose press is older than this (seconds, by its ``ts``) is refused as
    #: ``stale`` instead of applied late; 0 disables the check.  Also the limit for a
    #: ``ts`` in the future (``clock_skew``).
    command_deadline_s: Annotated[float, Meta(ge=0, le=600)] = 5.0
    #: How often the central renews its retained lease on the broker (seconds).
    lease_renew_s: Annotated[float, Meta(ge=0.2, le=600)] = 3.0
    #: A call_next pressed (by its ``ts``) within this many seconds of the gerai's previous one that
    #: called a citizen is a double press: refused (``double_press``), so two presses that a hung link
    #: delivers together never call a citizen and mark the previous one served at once. 0: off.
    call_guard_s: Annotated[float, Meta(ge=0, le=30)] = 2.0
    #: Refuse to issue tickets (``clock_unsynced``) while the kernel says the system clock is
    #: not synchronised (NTP).  Turn off only on a laptop or test machine without NTP.
    require_clock_sync: bool = True
    #: ``/metrics`` (Prometheus) and ``/healthz`` over HTTP; loopback unless told otherwise.
    metrics: bool = True
    metrics_bind: Annotated[str, Meta(min_length=1, max_length=253)] = "127.0.0.1"
    metrics_port: Annotated[int, Meta(ge=1, le=65535)] = 9883


class SurveySection(_Strict, frozen=True, kw_only=True):
    """The SKM survey (Permen PANRB 14/2017) and the quick rating at the gerai (issue 16)."""

    #: a served ticket's survey may be answered (on the phone or the tablet) for this long after its service
    answer_window_hours: Annotated[float, Meta(gt=0, le=24 * 14)] = 24.0
    #: the quick rating pad rates the gerai's current ticket, or the one it finished at most this long ago
    quick_rating_minutes: Annotated[float, Meta(gt=0, le=120)] = 10.0
    #: a survey tablet's link (made on the console's SKM page) is valid for this many days
    kiosk_link_days: Annotated[int, Meta(ge=1, le=366)] = 31


#: Where a site's files live when its file does not say (the systemd units' StateDirectory=
#: and ConfigurationDirectory=, both ``antre``).
STATE_DIR = Path("/var/lib/antre")
CONFIG_DIR = Path("/etc/antre")


#: ``[store] retention_days`` when the site file does not say: about two months live
DEFAULT_RETENTION_DAYS = 62
#: the longest retention accepted (ten years); longer is a typo
MAX_RETENTION_DAYS = 3660


class StoreSection(_Strict, frozen=True, kw_only=True):
    #: the event log (default ``/var/lib/antre/<site>.db``; a relative path is relative to the
    #: site file's directory)
    path: str = ""
    durability: Literal["full", "normal", "off"] = "full"
    #: days kept in the live log; older days are moved to one compressed file per day in
    #: ``archive`` (still read by ``antre audit``; see antre.central.archive)
    retention_days: int = DEFAULT_RETENTION_DAYS
    #: the archive directory (default: ``archive/`` beside the log; a relative path is relative
    #: to the site file's directory)
    archive: str = ""


class _File(_Strict, frozen=True, kw_only=True):
    site: SiteSection
    agency: Annotated[list[Agency], Meta(min_length=1)]
    service: Annotated[list[Service], Meta(min_length=1)]
    gerai: Annotated[list[Gerai], Meta(min_length=1)]
    kiosk: list[Kiosk] = []
    lobby: list[Lobby] = []
    monitor: list[Monitor] = []
    console: ConsoleSection = ConsoleSection()
    central: CentralSection = CentralSection()
    store: StoreSection = StoreSection()
    broker: BrokerSection = BrokerSection()
    survey: SurveySection = SurveySection()


_PREFIX_RE = re.compile(r"^[A-Z]{1,2}$")
@dataclass(frozen=True)
class SiteConfig:
    """A validated site.  Lookups by id; schedules compiled per service."""

    source: str
    site: SiteSection
    agencies: dict[str, Agency]
    services: dict[str, Service]
    gerai: dict[str, Gerai]
    kiosks: dict[str, Kiosk]
    lobbies: dict[str, Lobby]
    monitors: tuple[str, ...]
    console: ConsoleSection
    central: CentralSection
    store: StoreSection
    broker: BrokerSection
    zone: zoneinfo.ZoneInfo
    schedules: dict[str, Schedule]
    site_schedule: Schedule
    survey: SurveySection = SurveySection()

    @property
    def site_id(self) -> str:
        return self.site.id

    def zone_abbrev(self, when: dt.datetime | None = None) -> str:
        """WIB, WITA or WIT for Indonesian zones (from the tz database)."""
        moment = when or dt.datetime(2023, 1, 1, 12, tzinfo=dt.timezone.utc)
        return moment.astimezone(self.zone).tzname() or self.site.timezone

    def gerai_for_service(self, service: str) -> tuple[Gerai, ...]:
        """The gerai serving ``service`` (computed once: it is asked on every queue change)."""
        return self._by_service.get(service, ())

    @functools.cached_property
    def _by_service(self) -> dict[str, tuple[Gerai, ...]]:
        return {sid: tuple(g for g in self.gerai.values() if sid in g.services) for sid in self.services}

    def identities(self) -> list[Identity]:
        """Everyone who connects to this site's broker: central, gerai, kiosks, lobbies, monitors, console."""
        return (
            [Identity(Role.CENTRAL)]
            + [Identity(Role.GERAI, g) for g in self.gerai]
            + [Identity(Role.KIOSK, k) for k in self.kiosks]
            + [Identity(Role.LOBBY, lobby) for lobby in self.lobbies]
            + [Identity(Role.MONITOR, mon) for mon in self.monitors]
            + [Identity(Role.CONSOLE, self.console.id)]
        )

    def target_wait_min(self, service: str) -> int:
        """The target wait of ``service`` in minutes: its own, else the site's (an unknown service: the site's)."""
        svc = self.services.get(service)
        own = svc.target_wait_min if svc is not None else None
        return self.site.target_wait_min if own is None else own

    def service_by_prefix(self, prefix: str) -> Service | None:
        for service in self.services.values():
            if service.prefix == prefix:
                return service
        return None


def load_site(path: str | Path) -> SiteConfig:
    """Read and validate a site config file; raise :class:`ConfigError`.

    Relative paths in the file (``store.path``, ``broker.credentials``, TLS files) are
    relative to the file's own directory, whatever the working directory.
    """
    return parse_site(read_text(path, ConfigError), str(path), base=Path(os.path.abspath(path)).parent)


def parse_site(text: str, source: str = "<config>", *, base: Path | None = None) -> SiteConfig:
    """Validate the TOML text of a site config (see :func:`load_site`); relative paths are
    resolved against ``base`` (None: left as they are, relative to the working directory)."""
    return _check(parse_toml(text, _File, source, ConfigError), source, base)


def resolve_path(value: str, base: Path | None) -> str:
    """``value`` relative to ``base`` (a config file's directory) unless absolute; ``~`` expanded."""
    if not value or value == ":memory:":
        return value
    path = Path(value).expanduser()
    if base is None or path.is_absolute():
        return str(path)
    return str(base / path)


def _paths(cfg: _File, base: Path | None) -> tuple[StoreSection, BrokerSection, ConsoleSection]:
    """The store, broker and console sections with their paths defaulted and resolved."""
    site = cfg.site.id
    store = msgspec.structs.replace(
        cfg.store, path=resolve_path(cfg.store.path, base) if cfg.store.path else str(STATE_DIR / f"{site}.db"),
        archive=resolve_path(cfg.store.archive, base))
    b = cfg.broker
    tls = {key: resolve_path(value, base) if value else None
           for key, value in (("cafile", b.cafile), ("certfile", b.certfile), ("keyfile", b.keyfile))}
    broker = msgspec.structs.replace(
        b, credentials=resolve_path(b.credentials, base) if b.credentials
        else str(CONFIG_DIR / f"{site}-credentials.toml"), **tls)
    c = cfg.console
    console = msgspec.structs.replace(
        c, database=resolve_path(c.database, base) if c.database else str(STATE_DIR / f"{site}-console.db"),
        certfile=resolve_path(c.certfile, base) if c.certfile else None,
        keyfile=resolve_path(c.keyfile, base) if c.keyfile else None)
    return store, broker, console


def _check(cfg: _File, source: str, base: Path | None = None) -> SiteConfig:
    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(source, key, problem)

    try:
        zone = zoneinfo.ZoneInfo(cfg.site.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise fail("site.timezone", f"unknown time zone {cfg.site.timezone!r} (e.g. Asia/Makassar)") from None

    def week(key: str, table: dict[str, list[str]]) -> dict[int, Any]:
        try:
            return parse_week(table)
        except ScheduleError as exc:
            raise fail(key, str(exc)) from None

    site_hours = week("site.hours", cfg.site.hours)
    site_breaks = week("site.breaks", cfg.site.breaks)
    holidays = frozenset(cfg.site.holidays)
    if not any(site_hours.values()):
        raise fail("site.hours", "the site is never open: give at least one weekday a window")

    agencies: dict[str, Agency] = {}
    for i, agency in enumerate(cfg.agency):
        if agency.id in agencies:
            raise fail(f"agency[{i}].id", f"duplicate agency id {agency.id!r}")
        agencies[agency.id] = agency

    services: dict[str, Service] = {}
    prefixes: dict[str, str] = {}
    schedules: dict[str, Schedule] = {}
    for i, service in enumerate(cfg.service):
        key = f"service[{i}]"
        if service.id in services:
            raise fail(f"{key}.id", f"duplicate service id {service.id!r}")
        if service.agency not in agencies:
            raise fail(f"{key}.agency", f"unknown agency {service.agency!r}")
        if not _PREFIX_RE.match(service.prefix):
            raise fail(f"{key}.prefix", f"{service.prefix!r} must be 1-2 upper-case letters")
        if service.prefix in prefixes:
            raise fail(f"{key}.prefix", f"prefix {service.prefix!r} is already used by service {prefixes[service.prefix]!r}")
        services[service.id] = service
        prefixes[service.prefix] = service.id
        hours = week(f"{key}.hours", service.hours) if service.hours is not None else site_hours
        breaks = week(f"{key}.breaks", service.breaks) if service.breaks is not None else site_breaks
        cutoff = service.ticket_cutoff_minutes
        schedules[service.id] = Schedule(
            hours=hours,
            breaks=breaks,
            holidays=holidays,
            open_early=cfg.site.tickets_open_early_minutes,
            cutoff=cfg.site.ticket_cutoff_minutes if cutoff is None else cutoff,
            issue_during_breaks=cfg.site.issue_during_breaks,
        )

    gerai: dict[str, Gerai] = {}
    numbers: dict[int, str] = {}
    for i, g in enumerate(cfg.gerai):
        key = f"gerai[{i}]"
        if g.id in gerai:
            raise fail(f"{key}.id", f"duplicate gerai id {g.id!r}")
        if g.number in numbers:
            raise fail(f"{key}.number", f"gerai number {g.number} is already used by gerai {numbers[g.number]!r}")
        if g.agency not in agencies:
            raise fail(f"{key}.agency", f"unknown agency {g.agency!r}")
        for j, sid in enumerate(g.services):
            if sid not in services:
                raise fail(f"{key}.services[{j}]", f"unknown service {sid!r}")
        if len(set(g.services)) != len(g.services):
            raise fail(f"{key}.services", "a service is listed twice")
        if g.order == "listed" and g.weights:
            raise fail(f"{key}.weights", "weights apply to order = \"oldest\" only")
        for sid in g.weights:
            if sid not in g.services:
                raise fail(f"{key}.weights.{sid}", f"weight for service {sid!r} that this gerai does not serve")
        gerai[g.id] = g
        numbers[g.number] = g.id

    for i, service in enumerate(cfg.service):
        if not any(service.id in g.services for g in gerai.values()):
            raise fail(f"service[{i}]", f"service {service.id!r} is served by no gerai: its tickets would never be called")

    kiosks: dict[str, Kiosk] = {}
    for i, kiosk in enumerate(cfg.kiosk):
        key = f"kiosk[{i}]"
        if kiosk.id in kiosks or kiosk.id in gerai:
            raise fail(f"{key}.id", f"duplicate device id {kiosk.id!r}")
        for j, sid in enumerate(kiosk.services):
            if sid not in services:
                raise fail(f"{key}.services[{j}]", f"unknown service {sid!r}")
        kiosks[kiosk.id] = kiosk

    lobbies: dict[str, Lobby] = {}
    for i, lobby in enumerate(cfg.lobby):
        key = f"lobby[{i}]"
        if lobby.id in lobbies:
            raise fail(f"{key}.id", f"duplicate lobby id {lobby.id!r}")
        for j, gid in enumerate(lobby.gerai):
            if gid not in gerai:
                raise fail(f"{key}.gerai[{j}]", f"unknown gerai {gid!r}")
        for j, sid in enumerate(lobby.services):
            if sid not in services:
                raise fail(f"{key}.services[{j}]", f"unknown service {sid!r}")
        lobbies[lobby.id] = msgspec.structs.replace(
            lobby, logo=resolve_path(lobby.logo, base), info=resolve_path(lobby.info, base))
    monitors = list(BUILTIN_MONITORS)
    for i, mon in enumerate(cfg.monitor):
        if mon.id in monitors:
            raise fail(f"monitor[{i}].id", f"duplicate monitor id {mon.id!r} ({', '.join(BUILTIN_MONITORS)} "
                       "are built in)")
        monitors.append(mon.id)
    days = cfg.store.retention_days
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise fail("store.retention_days", f"{days} is not a number of days between 1 and {MAX_RETENTION_DAYS}: "
                   f"the live log keeps that many days and archives older ones (default {DEFAULT_RETENTION_DAYS})")
    if cfg.store.archive.strip() != cfg.store.archive or "\0" in cfg.store.archive:
        raise fail("store.archive", f"{cfg.store.archive!r} is not a directory name (leading or trailing blanks?)")
    tls = (cfg.broker.cafile, cfg.broker.certfile, cfg.broker.keyfile)
    if any(tls) and not all(tls):
        raise fail("broker", "TLS needs all three of cafile, certfile and keyfile")
    if bool(cfg.console.certfile) != bool(cfg.console.keyfile):
        raise fail("console", "HTTPS needs both certfile and keyfile")
    if cfg.survey.answer_window_hours > days * 24:
        raise fail("survey.answer_window_hours", f"{cfg.survey.answer_window_hours:g} hours is longer than the "
                   f"live log keeps days ({days}, store.retention_days): the central could not find the ticket")
    store, broker, console = _paths(cfg, base)

    return SiteConfig(
        source=source,
        site=cfg.site,
        agencies=agencies,
        services=services,
        gerai=gerai,
        kiosks=kiosks,
        lobbies=lobbies,
        monitors=tuple(monitors),
        console=console,
        central=cfg.central,
        store=store,
        broker=broker,
        zone=zone,
        schedules=schedules,
        site_schedule=Schedule(
            hours=site_hours,
            breaks=site_breaks,
            holidays=holidays,
            open_early=cfg.site.tickets_open_early_minutes,
            cutoff=cfg.site.ticket_cutoff_minutes,
            issue_during_breaks=cfg.site.issue_during_breaks,
        ),
        survey=cfg.survey,
    )
