"""``antre status --config SITE``: the site's devices as the broker knows them.

Connects as the read-only identity ``monitor.ops`` and reads what the broker
retains: the central's lease, every device's presence (online, or its last
will) and every device's last health report (printer, display, buttons,
faults), then listens ``--wait`` seconds more for fresh reports.  Lists every
gerai, kiosk and lobby of the site file, and any device the broker knows that
the file does not.  Reads nothing of the event log; needs no central.

Exit status: 0 when the central and every device are online without faults,
1 when something needs a technician, 5 when the broker cannot be reached.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from antre.broker.admin.acl import Identity
from antre.broker.link.client import BrokerAddress, MqttLink, Received
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.codec import ProtocolError
from antre.broker.wire.topics import Channel, Role, TopicError, Topics, parse
from antre.central.config import SiteConfig

EXIT_ATTENTION = 1
EXIT_NO_BROKER = 5


@dataclass
class DeviceView:
    role: str
    device: str
    configured: bool
    presence: m.Presence | None = None
    health: m.Health | None = None

    @property
    def online(self) -> bool | None:
        return None if self.presence is None else self.presence.online

    @property
    def last_seen(self) -> float | None:
        stamps = [t for t in (self.presence.ts if self.presence else None, self.health.ts if self.health else None)
                  if t]
        return max(stamps) if stamps else None

    def problems(self) -> list[str]:
        out = []
        if self.presence is None:
            if self.role != Role.LOBBY.value:  # lobby screens publish no presence (yet): not a fault
                out.append("never seen")
        elif not self.presence.online:
            out.append("offline")
        if self.health is not None:
            if self.health.printer in m.PRINTER_FAULTS:
                out.append(f"printer {self.health.printer}")
            if self.health.display == "fault":
                out.append("display fault")
            if self.health.buttons == "fault":
                out.append("button fault")
            out.extend(self.health.faults)
        if not self.configured:
            out.append("not in the site file")
        return out


@dataclass
class SiteStatus:
    site: str
    broker: str
    lease: m.CentralLease | None = None
    devices: dict[str, DeviceView] = field(default_factory=dict)
    listened_s: float = 0.0

    def needs_attention(self) -> bool:
        return (self.lease is None or not self.lease.online
                or any(d.problems() for d in self.devices.values()))


def collect(config: SiteConfig, address: BrokerAddress, *, wait: float = 1.0,
            connect_timeout: float = 10.0) -> SiteStatus | None:
    """Read the retained lease, presence and health, then listen ``wait`` seconds; None: no broker."""
    topics = Topics(config.site_id)
    status = SiteStatus(config.site_id, f"{address.host}:{address.port}")
    roles = ((Role.GERAI, config.gerai), (Role.KIOSK, config.kiosks), (Role.LOBBY, config.lobbies))
    for role, ids in roles:
        for device in ids:
            status.devices[f"{role.value}/{device}"] = DeviceView(role.value, device, True)
    lock = threading.Lock()
    barrier = f"{topics.prefix}/central/status-barrier"
    subscribed: dict[str, int] = {}
    retained_done = threading.Event()

    def on_message(msg: Received) -> None:
        with lock:
            _take(status, config.site_id, msg)

    def connected() -> None:
        # The broker sends each subscription's retained messages after its SUBACK: the SUBACK of
        # the last (a topic nobody uses) means every retained message before it has arrived.
        for topic in (topics.central_presence(), topics.all_presence(), topics.all_health()):
            link.subscribe_now(topic, 1)
        subscribed["barrier"] = link.subscribe_now(barrier, 0)

    def on_sub(mid: int) -> None:
        if mid == subscribed.get("barrier"):
            retained_done.set()

    link = MqttLink(address, on_message=on_message, on_connect=connected, on_subscribed=on_sub)
    link.start()
    try:
        deadline = time.monotonic() + connect_timeout
        while not retained_done.wait(0.05):
            if time.monotonic() > deadline or link.refused:
                return None
        started = time.monotonic()
        time.sleep(wait)
        status.listened_s = time.monotonic() - started
    finally:
        link.stop()
    return status


def _take(status: SiteStatus, site: str, msg: Received) -> None:
    if not msg.payload:
        return  # a cleared retained message
    try:
        where = parse(msg.topic)
    except TopicError:
        return
    if where.site != site:
        return
    try:
        if where.role is Role.CENTRAL and where.channel is Channel.PRESENCE:
            lease = codec.decode(msg.payload, Channel.PRESENCE)
            if isinstance(lease, m.CentralLease):
                status.lease = lease
            return
        if where.role is None or where.device is None or where.role in (Role.CENTRAL, Role.MONITOR):
            return
        key = f"{where.role.value}/{where.device}"
        view = status.devices.setdefault(key, DeviceView(where.role.value, where.device, False))
        if where.channel is Channel.PRESENCE:
            view.presence = codec.decode(msg.payload, Channel.PRESENCE, m.Presence)
        elif where.channel is Channel.HEALTH:
            health = codec.decode(msg.payload, Channel.HEALTH, m.Health)
            if view.health is None or health.ts >= view.health.ts:
                view.health = health
    except ProtocolError:
        return  # not ours to judge here: the central logs invalid reports


def _ago(ts: float | None, now: float) -> str:
    if not ts:
        return "-"
    seconds = max(0.0, now - ts)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} d ago"


def render(status: SiteStatus, config: SiteConfig, out: TextIO, now: float | None = None) -> None:
    """The table a technician reads."""
    now = time.time() if now is None else now
    zone = config.zone

    def clock(ts: float | None) -> str:
        return dt.datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"

    out.write(f"site {config.site_id} ({config.site.name}), broker {status.broker}, as monitor.ops, "
              f"{clock(now)} {config.zone_abbrev()}\n")
    lease = status.lease
    if lease is None:
        out.write("central   NEVER SEEN  no lease on the broker (has antre central ever run for this site?)\n")
    else:
        state = "online" if lease.online else "OFFLINE"
        renewed = f"renewed {_ago(lease.ts, now)}" if lease.ts else "its last will"
        out.write(f"central   {state:<8}  host {lease.host or '?'} pid {lease.pid or '?'}, term {lease.term}, "
                  f"epoch {lease.epoch}, event {lease.seq}, {renewed}, log {lease.log or '?'}\n")
    out.write("\n")
    header = f"{'DEVICE':<22} {'STATE':<10} {'LAST SEEN':<30} {'IP':<15} {'VERSION':<9} {'PRINTER':<15} PROBLEMS\n"
    out.write(header)
    for view in sorted(status.devices.values(), key=lambda d: (d.role, d.device)):
        online = view.online
        state = ("no report" if view.role == Role.LOBBY.value else "never") if online is None else (
            "online" if online else "OFFLINE")
        seen = view.last_seen
        seen_text = f"{clock(seen)} ({_ago(seen, now)})" if seen else "-"
        version = (view.health.version if view.health else None) or (view.presence.version if view.presence
                                                                      else "") or "-"
        printer = view.health.printer if view.health and view.health.printer else "-"
        ip = (view.health.ip if view.health else None) or "-"
        problems = "; ".join(view.problems()) or "-"
        out.write(f"{view.role + ' ' + view.device:<22} {state:<10} {seen_text:<30} {ip:<15} {version:<9} {printer:<15} "
                  f"{problems}\n")
    count_online = sum(1 for d in status.devices.values() if d.online)
    attention = sum(1 for d in status.devices.values() if d.problems())
    out.write(f"\n{count_online} of {len(status.devices)} devices online, {attention} need attention "
              f"(retained presence and health, then {status.listened_s:.0f} s of live reports)\n")


def as_json(status: SiteStatus) -> dict[str, Any]:
    def enc(message: m.Message | None) -> Any:
        return None if message is None else json.loads(codec.encode(message))

    return {
        "site": status.site, "broker": status.broker, "central": enc(status.lease),
        "devices": [
            {"role": d.role, "device": d.device, "configured": d.configured, "online": d.online,
             "last_seen": d.last_seen, "presence": enc(d.presence), "health": enc(d.health),
             "problems": d.problems()}
            for d in sorted(status.devices.values(), key=lambda d: (d.role, d.device))
        ],
        "needs_attention": status.needs_attention(),
    }


def run_status(config: SiteConfig, out: TextIO, err: TextIO, *, host: str | None = None,
               port: int | None = None, credentials: str | None = None, wait: float = 1.0,
               timeout: float = 10.0, as_json_output: bool = False) -> int:
    """``antre status``: print the table (or JSON); the exit status says whether all is well."""
    from antre.central.main import broker_address

    address = broker_address(config, Identity(Role.MONITOR, "ops"), host, port, credentials)
    status = collect(config, address, wait=wait, connect_timeout=timeout)
    if status is None:
        err.write(f"antre status: no answer from the broker at {address.host}:{address.port} as monitor.ops "
                  "(is it running? are the credentials this site's?)\n")
        return EXIT_NO_BROKER
    if as_json_output:
        out.write(json.dumps(as_json(status), indent=1) + "\n")
    else:
        render(status, config, out)
    return EXIT_ATTENTION if status.needs_attention() else 0
