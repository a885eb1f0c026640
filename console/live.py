"""The live model of the site: what the console's pages show, and its alarms.

:class:`LiveSite` is the one place the console's view of the site is kept.  It is fed the
messages the console's MQTT link receives (:meth:`LiveSite.ingest`: contract 2's retained gerai
states, service states and calls, assembled by :class:`~antre.broker.wire.feed.SiteFeed`; the
presence and health of every device; the central's lease) and, for what no topic carries (the
waiting numbers, recent service times, pause times, out-of-order counts), the day's figures from
the event log (:meth:`LiveSite.set_figures`), and it builds the rows the pages render
(:meth:`site_view`, :meth:`counter_view`, :meth:`fleet_view`) and the alarms
(:meth:`evaluate`).  It is plain data and logic: no MQTT, no web, no clock of its own (``now``
is the central's time, as the console's link estimates it).  Changing where a figure comes from
(e.g. a per-service state topic from the central) changes this class only.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.codec import ProtocolError
from antre.broker.wire.feed import SiteFeed
from antre.broker.wire.topics import SERVICE_STATE, Channel, Role, TopicError, Topics, parse
from antre.central.config import SiteConfig
from antre.console.history import DayFigures

log = logging.getLogger(__name__)

#: the pages whose content a change touches (their SSE streams re-render only for their own changes)
ALL_PAGES = frozenset({"site", "counter", "day", "fleet", "ticket"})
QUEUE_PAGES = frozenset({"site", "counter", "day", "ticket"})
NOTHING: frozenset[str] = frozenset()

PRINTER_WARNINGS = frozenset({"paper_near_end"})
#: a printer's status as staff and technicians read it (the device's own word in brackets)
PRINTER_NAMES = {"ok": "siap", "paper_near_end": "kertas hampir habis", "paper_out": "kertas habis",
                 "cover_open": "penutup terbuka", "offline": "tidak siap", "unknown": "tidak menjawab",
                 "error": "rusak"}
#: the console's own alarm while it has no broker (device alarms that depend on it are held)
BROKER_ALARM = "console:broker"
#: the central's lease is late after this many renewal periods
LEASE_PERIODS = 3


@dataclass(frozen=True)
class Alarm:
    """Something a person should look at now."""

    key: str  #: stable while the condition lasts (``device:kiosk/k1:printer``)
    kind: str  #: device | central | crowd | wait | console
    subject: str  #: what it is about (``kiosk k1``, ``service ktp-el``)
    text: str  #: Indonesian, with the technician's English term where useful
    severity: str = "alarm"  #: alarm | warn
    since: float = 0.0  #: when it was first raised (a count in its text changing keeps it)
    #: what makes it the same alarm under its key: its text, except for alarms whose text carries a
    #: changing figure (crowd, wait: their kind), whose text is updated in place
    ident: str = ""


@dataclass(frozen=True)
class ServiceRow:
    id: str
    name: str
    agency: str
    prefix: str
    waiting: int
    longest_wait_s: float | None
    est_wait_min: int | None
    remaining_quota: int | None
    quota: int | None
    served: int | None
    no_show: int | None
    open: bool
    issuing: bool
    stopped_reason: str | None
    avg_service_min: float | None
    capacity_left: int | None
    open_gerai: int
    waiting_numbers: tuple[str, ...] = ()


@dataclass(frozen=True)
class GeraiRow:
    id: str
    number: int
    name: str
    agency: str
    services: tuple[str, ...]
    status: str  #: idle | serving | paused | closed | unknown
    ticket: str | None
    service: str | None
    priority: str | None
    recalls: int
    called_for_s: float | None
    pause_reason: str
    paused_for_s: float | None
    waiting: int
    online: bool | None
    out_of_order: int
    rev: int


@dataclass(frozen=True)
class DeviceRow:
    role: str
    id: str
    name: str
    configured: bool
    online: bool | None
    last_seen: float | None
    version: str
    printer: str | None
    cpu_temp_c: float | None
    rssi_dbm: int | None
    free_heap_bytes: int | None
    reset_cause: str | None
    uptime_s: float | None
    display: str
    buttons: str
    faults: tuple[str, ...]
    problems: tuple[str, ...]
    ip: str | None = None  #: where the device reaches the broker from (its last health report)


@dataclass(frozen=True)
class CentralRow:
    online: bool
    host: str
    term: int
    seq: int
    renewed_s: float | None


@dataclass
class LiveSite:
    """The site as the console knows it (see the module docstring)."""

    config: SiteConfig
    topics: Topics = field(init=False)
    feed: SiteFeed = field(init=False)
    presence: dict[tuple[str, str], m.Presence] = field(default_factory=dict)
    health: dict[tuple[str, str], m.Health] = field(default_factory=dict)
    heard: dict[tuple[str, str], float] = field(default_factory=dict)  #: when we last heard of a device (now)
    lease: m.CentralLease | None = None
    lease_heard: float | None = None
    figures: DayFigures | None = None
    connected: bool = False
    #: bumped by every change a page may show
    version: int = 0
    alarms: dict[str, Alarm] = field(default_factory=dict)
    #: the alarms whose text changed in place at the last :meth:`evaluate` (same alarm, new figure)
    updated: list[Alarm] = field(default_factory=list)
    #: until then (``now``) nothing is "never seen": the broker's retained messages are still arriving
    settle_until: float = 0.0
    _usual: dict[str, tuple[float, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.topics = Topics(self.config.site_id)
        self.feed = SiteFeed(self.config.site_id, self.config.site.name)

    @property
    def gerai(self) -> dict[str, m.GeraiState]:
        return self.feed.gerai

    @property
    def message(self) -> str:
        """The lobby's running text a supervisor set today ("" when none)."""
        calls = self.feed.calls
        return calls.message if calls is not None else ""

    # ------------------------------------------------------------------ feeding

    def subscriptions(self) -> list[tuple[str, int]]:
        """The topics the console reads (all retained: the truth arrives at every connect)."""
        return [*[(t, 1) for t in self.feed.subscriptions()], (self.topics.all_presence(), 1),
                (self.topics.all_health(), 0), (self.topics.central_presence(), 1)]

    def ingest(self, topic: str, payload: bytes, now: float) -> frozenset[str]:
        """Take one message; returns the pages whose content it changed (empty: none).  Never raises
        on bad input."""
        if not payload:
            return NOTHING  # a cleared retained message
        try:
            where = parse(topic)
        except TopicError:
            return NOTHING
        if where.site != self.config.site_id:
            return NOTHING
        pages = QUEUE_PAGES
        try:
            if where.channel in (SERVICE_STATE, "calls") or where.channel is Channel.STATE:
                if not self.feed.offer(topic, payload):  # older, or malformed (the feed logs it)
                    return NOTHING
            elif where.role is Role.CENTRAL:
                lease = codec.decode(payload, Channel.PRESENCE)
                if not isinstance(lease, m.CentralLease):
                    return NOTHING
                self.lease, self.lease_heard = lease, now
                pages = frozenset({"site", "fleet"})
            elif where.channel is Channel.PRESENCE and where.role is not None and where.device is not None:
                key = (where.role.value, where.device)
                self.presence[key] = codec.decode(payload, Channel.PRESENCE, m.Presence)
                self.heard[key] = now
                pages = frozenset({"site", "counter", "fleet"})
            elif where.channel is Channel.HEALTH and where.role is not None and where.device is not None:
                key = (where.role.value, where.device)
                # the latest to arrive is the device's latest (MQTT keeps one publisher's order on a
                # topic): never ordered by its own clock, which may have been ahead and been corrected
                self.health[key] = codec.decode(payload, Channel.HEALTH, m.Health)
                self.heard[key] = now
                pages = frozenset({"fleet"})
            else:
                return NOTHING
        except ProtocolError as exc:
            log.debug("ignored an invalid message on %s: %s", topic, exc)
            return NOTHING
        self.version += 1
        return pages

    def set_figures(self, figures: DayFigures) -> None:
        self.figures = figures
        self.version += 1

    def set_connected(self, connected: bool, now: float = 0.0) -> None:
        if connected and not self.connected:
            self.settle_until = now + 2.0
        if connected != self.connected:
            self.connected = connected
            self.version += 1

    def log_position(self) -> int:
        """The newest event the published states reflect (their ``rev``): the log has at least this."""
        revs = [s.rev for s in self.feed.gerai.values()] + [s.rev for s in self.feed.services.values()]
        if self.feed.calls is not None:
            revs.append(self.feed.calls.rev)
        return max(revs, default=0)

    # ------------------------------------------------------------------ views

    def services(self, now: float) -> list[ServiceRow]:
        rows = []
        for sid, svc in self.config.services.items():
            b = self.feed.services.get(sid)  # the central's retained service state (contract 2)
            f = self.figures.services.get(sid) if self.figures else None  # the event log's figures
            waiting = b.waiting if b else (f.waiting if f else 0)
            oldest = b.oldest_issued_at if b else (f.oldest_issued_at if f and f.waiting else None)
            rows.append(ServiceRow(
                id=sid, name=svc.name, agency=self.config.agencies[svc.agency].short, prefix=svc.prefix,
                waiting=waiting, longest_wait_s=max(0.0, now - oldest) if oldest is not None else None,
                est_wait_min=b.est_wait_min if b else None,
                remaining_quota=b.remaining_quota if b else (f.remaining_quota if f else None),
                quota=f.quota if f else svc.daily_quota,
                served=b.served if b else (f.served if f else None),
                no_show=b.no_show if b else (f.no_show if f else None),
                open=b.open if b else False, issuing=b.issuing if b else (f.stopped is None if f else True),
                stopped_reason=f.stopped if f else None,
                avg_service_min=f.avg_service_min if f else None,
                capacity_left=f.capacity_left if f else None,
                open_gerai=sum(1 for g in self.config.gerai_for_service(sid)
                               if self.gerai.get(g.id) is not None and self.gerai[g.id].status != "paused"),
                waiting_numbers=f.waiting_numbers if f else (),
            ))
        return rows

    def gerai_rows(self, now: float) -> list[GeraiRow]:
        return [self.gerai_row(gid, now) for gid in self.config.gerai]

    def gerai_row(self, gid: str, now: float) -> GeraiRow:
        conf = self.config.gerai[gid]
        s = self.gerai.get(gid)
        presence = self.presence.get((Role.GERAI.value, gid))
        pause_since = self.figures.pause_since.get(gid) if self.figures else None
        return GeraiRow(
            id=gid, number=conf.number, name=conf.name, agency=self.config.agencies[conf.agency].short,
            services=tuple(conf.services), status=s.status if s else "unknown",
            ticket=s.ticket if s else None, service=s.service if s else None,
            priority=str(s.priority) if s and s.priority else None, recalls=s.recalls if s else 0,
            called_for_s=max(0.0, now - s.called_at) if s and s.called_at and s.ticket else None,
            pause_reason=s.note if s and s.status == "paused" else "",
            paused_for_s=max(0.0, now - pause_since) if s and s.status == "paused" and pause_since else None,
            waiting=self._waiting_for_gerai(gid, s),
            online=None if presence is None else presence.online,
            out_of_order=self.figures.out_of_order.get(gid, 0) if self.figures else 0,
            rev=s.rev if s else 0,
        )

    def _waiting_for_gerai(self, gid: str, state: m.GeraiState | None) -> int:
        """Under contract 2 the sum of its services' states (the count in its own state may be old)."""
        summed = self.feed.waiting_for(self.config.gerai[gid].services)
        if summed is not None:
            return summed
        return state.waiting if state else 0

    def devices(self, now: float) -> list[DeviceRow]:
        names: dict[tuple[str, str], str] = {}
        for gid, g in self.config.gerai.items():
            names[(Role.GERAI.value, gid)] = g.name
        for kid, k in self.config.kiosks.items():
            names[(Role.KIOSK.value, kid)] = k.name
        for lid, lobby in self.config.lobbies.items():
            names[(Role.LOBBY.value, lid)] = lobby.name
        keys = list(names) + sorted(k for k in set(self.presence) | set(self.health)
                                    if k not in names and k[0] in (Role.GERAI.value, Role.KIOSK.value,
                                                                   Role.LOBBY.value))
        rows = []
        for key in keys:
            p, h = self.presence.get(key), self.health.get(key)
            # what the device stamped, never later than when it was heard (a clock ahead shows no future)
            heard = self.heard.get(key)
            stamps = [min(t, heard) if heard is not None else t
                      for t in (p.ts if p else None, h.ts if h else None) if t]
            problems = self._problems(key, p, h)
            rows.append(DeviceRow(
                role=key[0], id=key[1], name=names.get(key, "(tidak ada di berkas situs)"),
                configured=key in names, online=None if p is None else p.online,
                last_seen=max(stamps) if stamps else None,
                version=(h.version if h else "") or (p.version if p else "") or "-",
                printer=h.printer if h else None, cpu_temp_c=h.cpu_temp_c if h else None,
                rssi_dbm=h.rssi_dbm if h else None, free_heap_bytes=h.free_heap_bytes if h else None,
                reset_cause=h.reset_cause if h else None, uptime_s=h.uptime_s if h else None,
                display=h.display if h else "-", buttons=h.buttons if h else "-",
                faults=tuple(h.faults) if h else (), problems=tuple(text for _, text, _ in problems),
                ip=h.ip if h else None,
            ))
        return rows

    def central(self, now: float) -> CentralRow | None:
        lease = self.lease
        if lease is None:
            return None
        renewed = now - lease.ts if lease.ts else None
        return CentralRow(online=lease.online and not self._lease_late(now), host=lease.host, term=lease.term,
                          seq=lease.seq, renewed_s=renewed)

    def _lease_late(self, now: float) -> bool:
        lease = self.lease
        if lease is None or lease.ts is None:
            return True
        return now - lease.ts > LEASE_PERIODS * lease.renew_s

    # ------------------------------------------------------------------ alarms

    @staticmethod
    def _problems(key: tuple[str, str], p: m.Presence | None, h: m.Health | None) -> list[tuple[str, str, str]]:
        """(alarm key suffix, text, severity) of one device."""
        role, _ = key
        out: list[tuple[str, str, str]] = []
        if p is None:
            if role != Role.LOBBY.value:
                out.append(("never", "belum pernah terhubung (never seen)", "warn"))
        elif not p.online:
            out.append(("offline", "OFFLINE: tidak terhubung ke broker", "alarm"))
        if h is not None:
            if h.printer in m.PRINTER_FAULTS:
                out.append(("printer", f"printer: {printer_name(h.printer)}", "alarm"))
            elif h.printer in PRINTER_WARNINGS:
                out.append(("printer", f"printer: {printer_name(h.printer)}", "warn"))
            if h.display == "fault":
                out.append(("display", "layar rusak (display fault)", "alarm"))
            if h.buttons == "fault":
                out.append(("buttons", "tombol rusak (button fault)", "alarm"))
            for i, fault in enumerate(h.faults[:4]):
                # a wall clock that is off does not stop a device (presses are stamped from the link)
                out.append((f"fault{i}", fault_text(fault), "warn" if fault.startswith("clock:") else "alarm"))
        return out

    def evaluate(self, now: float) -> tuple[list[Alarm], list[Alarm]]:
        """Recompute the alarms; returns those that started and those that ended."""
        current: dict[str, Alarm] = {}

        def add(key: str, kind: str, subject: str, text: str, severity: str = "alarm", ident: str = "") -> None:
            ident = f"{severity}:{ident or text}"
            old = self.alarms.get(key)
            since = old.since if old is not None and old.ident == ident else now
            current[key] = Alarm(key, kind, subject, text, severity, since, ident)

        settling = now < self.settle_until or not self.connected
        if not self.connected:
            # what the console heard last of the devices and the central is not news: while it has no
            # broker, "offline" (even the wills the broker sent as it went down) says nothing of them
            add(BROKER_ALARM, "console", "konsol", "konsol tidak terhubung ke broker: status perangkat dan "
                "server antrean tidak diketahui")
        roles = ((Role.GERAI.value, self.config.gerai), (Role.KIOSK.value, self.config.kiosks))
        for role, ids in roles:
            for device in ids:
                key = (role, device)
                for suffix, text, severity in self._problems(key, self.presence.get(key), self.health.get(key)):
                    if suffix in ("never", "offline") and settling:
                        continue
                    add(f"device:{role}/{device}:{suffix}", "device", f"{role} {device}", text, severity)
        if settling:
            pass  # the central's lease: only once the broker's retained messages are in
        elif self.lease is None:
            add("central", "central", "central", "server antrean (central) belum terlihat di broker")
        elif not self.lease.online:
            add("central", "central", "central", "server antrean (central) OFFLINE")
        elif self._lease_late(now):
            add("central", "central", "central", "server antrean (central) tidak memperbarui lease (not renewed)")
        c = self.config.console
        for row in self.services(now):
            if row.open:
                total, n = self._usual.get(row.id, (0.0, 0))
                usual = total / n if n else 0.0
                if row.waiting > c.crowd_waiting and row.waiting > c.crowd_factor * usual:
                    add(f"crowd:{row.id}", "crowd", f"layanan {row.id}",
                        f"ramai: {row.waiting} menunggu (biasanya {usual:.0f})", ident="crowd")
            if row.longest_wait_s is not None and row.longest_wait_s > c.wait_alarm_minutes * 60:
                add(f"wait:{row.id}", "wait", f"layanan {row.id}",
                    f"menunggu terlama {math.floor(row.longest_wait_s / 60)} menit", "warn", ident="wait")
        started = [a for k, a in current.items() if k not in self.alarms or self.alarms[k].ident != a.ident]
        # an alarm that became another under its key (a printer's paper_near_end, then paper_out) ends too
        ended = [a for k, a in self.alarms.items() if k not in current or current[k].ident != a.ident]
        self.updated = [a for k, a in current.items()
                        if k in self.alarms and self.alarms[k].ident == a.ident and self.alarms[k].text != a.text]
        if started or ended or self.updated:
            self.version += 1
        self.alarms = current
        return started, ended

    def sample_usual(self) -> None:
        """One sample of each open service's waiting count for the crowd alarm's "usual" (its mean)."""
        for s in self.feed.services.values():
            if s.open:
                total, n = self._usual.get(s.service, (0.0, 0))
                self._usual[s.service] = (total + s.waiting, n + 1)


def printer_name(status: str | None) -> str:
    """A printer's status in Indonesian with the device's own word: ``kertas habis (paper_out)``."""
    if status is None:
        return "-"
    name = PRINTER_NAMES.get(status)
    return f"{name} ({status})" if name else status


#: the fault texts devices report (edge agent, MicroPython node), in Indonesian for staff; the
#: device's own text stays on the fleet page for technicians
_FAULTS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"printer: (\d+) ticket\(s\) not printed yet: (.*)", re.S),
     lambda mt: f"printer: {mt[1]} tiket belum tercetak: {mt[2]}"),
    (re.compile(r"printer: ([a-z_]+) \((.*)\)", re.S),
     lambda mt: f"printer: {printer_name(mt[1])}: {mt[2]}"),
    (re.compile(r"clock: this device's clock is (\d+) s (behind|ahead of) the central's.*", re.S),
     lambda mt: f"jam perangkat {'terlambat' if mt[2] == 'behind' else 'lebih cepat'} {mt[1]} dtk dari jam "
                "server antrean (tombol tetap dicatat dengan jam server; perbaiki NTP untuk log)"),
    (re.compile(r"reset: watchdog.*", re.S), lambda mt: "dinyalakan ulang oleh watchdog (sempat macet)"),
    (re.compile(r"wifi: weak signal (-?\d+) dBm", re.S), lambda mt: f"sinyal Wi-Fi lemah ({mt[1]} dBm)"),
    (re.compile(r"heap: only (\d+) bytes free", re.S), lambda mt: f"memori hampir habis ({mt[1]} byte tersisa)"),
    (re.compile(r"display: write failed", re.S), lambda mt: "layar gagal ditulis (display write failed)"),
    (re.compile(r"display: (.*)", re.S), lambda mt: f"layar bermasalah: {mt[1]}"),
    (re.compile(r"button (\S+) on GPIO(\d+): (.*)", re.S), lambda mt: f"tombol {mt[1]} (GPIO{mt[2]}) bermasalah: {mt[3]}"),
    (re.compile(r"printer: (.*)", re.S), lambda mt: f"printer bermasalah: {mt[1]}"),
]


def fault_text(fault: str) -> str:
    """A device's fault text for staff (Indonesian where the kind of fault is known, else as it came)."""
    for pattern, render in _FAULTS:
        mt = pattern.fullmatch(fault)
        if mt is not None:
            return render(mt)
    return fault
