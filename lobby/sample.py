"""A busy, realistic morning of any site, as the messages a lobby would receive.

``antre lobby render --sample`` feeds these to a real :class:`~antre.lobby.app.LobbyApp`
(the same decoding, room filter and model as a live lobby) and draws what it shows:
at 09:41 most gerai serve, one has just called, one is paused for a meeting, one
is closed (its service's quota is used up), one has lost its connection; the
services have citizens waiting; the last twenty calls include two recalls.
"""

from __future__ import annotations

import datetime as dt
import random

from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Role, Topics
from antre.central.config import SiteConfig

EPOCH = 1_700_000_000_000


def sample_time(site: SiteConfig, day: dt.date | None = None) -> float:
    """09:41 local time on ``day`` (default: a Friday, 27 November 2026)."""
    day = day or dt.date(2026, 11, 27)
    return dt.datetime.combine(day, dt.time(9, 41), tzinfo=site.zone).timestamp()


def sample_messages(site: SiteConfig, now: float, seed: int = 2026) -> tuple[list[tuple[str, bytes]],
                                                                           list[m.Announce]]:
    """The retained states (gerai, presence, services, recent calls) and the announcements of a busy
    morning at ``now``: (topic, payload) pairs, and the announcements, oldest first."""
    rng = random.Random(seed)
    t = Topics(site.site_id)
    out: list[tuple[str, bytes]] = []
    gerai = sorted(site.gerai.values(), key=lambda g: g.number)
    n = len(gerai)
    paused = gerai[min(4, n - 1)].id if n > 2 else None
    offline = gerai[-2].id if n > 4 else None
    closed = gerai[min(7, n - 1)].id if n > 8 else None
    closed_services = set(site.gerai[closed].services) if closed else set()
    counters: dict[str, int] = {}
    served: dict[str, tuple[str, str]] = {}  # gerai -> (ticket, service)
    for g in gerai:
        counters.setdefault(g.services[0], rng.randint(8, 40))
    for i, g in enumerate(gerai):
        status: m.GeraiStatus = "serving"
        ticket = service = None
        note = ""
        if g.id == paused:
            status, note = "paused", "rapat koordinasi"
        elif g.id == closed:
            status = "idle"
        else:
            service = g.services[i % len(g.services)]
            counters[service] = counters.get(service, rng.randint(8, 40)) + 1
            ticket = f"{site.services[service].prefix}{counters[service]:0{site.services[service].padding}d}"
            served[g.id] = (ticket, service)
        state = m.GeraiState(epoch=EPOCH, gerai=g.id, number=g.number, name=g.name,
                             agency=site.agencies[g.agency].short, status=status, ticket=ticket, service=service,
                             called_at=now - rng.randint(30, 600) if ticket else None, waiting=0, note=note,
                             rev=100 + i, ts=now, services=list(g.services))
        out.append((t.gerai(g.id, "state"), codec.encode(state)))
        out.append((t.device(Role.GERAI, g.id, "presence"),
                    codec.encode(m.Presence(role="gerai", device=g.id, online=g.id != offline, ts=now))))
    for order, (sid, svc) in enumerate(site.services.items()):
        waiting = rng.randint(2, 22)
        quota = None
        if svc.daily_quota is not None:
            quota = 0 if sid in closed_services else max(0, svc.daily_quota - counters.get(sid, 20) - waiting)
        service_state = m.ServiceState(
            epoch=EPOCH, service=sid, name=svc.name, agency=site.agencies[svc.agency].short, prefix=svc.prefix,
            open=sid not in closed_services, waiting=0 if sid in closed_services else waiting,
            remaining_quota=quota, est_wait_min=None if sid in closed_services else int(waiting *
                                                                                          svc.avg_service_minutes / 2),
            order=order, rev=200 + order, ts=now)
        out.append((t.service_state(sid), codec.encode(service_state)))
    # the last twenty calls, the newest the one being announced
    calls: list[m.BoardCall] = []
    announces: list[m.Announce] = []
    order_of = [g for g in gerai if g.id in served]
    picks = [order_of[k % len(order_of)] for k in range(20)]
    last = {g.id: k for k, g in enumerate(picks)}  # each gerai's last call is the ticket it serves now
    below: dict[str, int] = {}  # per service, the next older number to give (below every current one)
    for gid, (ticket, service) in served.items():
        number = int(ticket[len(site.services[service].prefix):])
        below[service] = min(below.get(service, number), number) - 1
    numbers: dict[int, str] = {}
    for k in range(19, -1, -1):  # newest first: older calls of a service get smaller numbers
        g = picks[k]
        ticket, service = served[g.id]
        if last[g.id] != k:
            svc = site.services[service]
            ticket = f"{svc.prefix}{max(1, below[service]):0{svc.padding}d}"
            below[service] -= 1
        numbers[k] = ticket
    for k, g in enumerate(picks):
        ticket, service = numbers[k], served[g.id][1]
        recall = k in (11, 16)
        ts = now - (19 - k) * 25 - 2
        calls.append(m.BoardCall(ticket=ticket, gerai=g.id, gerai_number=g.number, gerai_name=g.name,
                                 recall=recall, ts=ts))
        announces.append(m.Announce(epoch=EPOCH, id=f"a-sample-{k:03d}", ticket=ticket, service=service,
                                    gerai=g.id, gerai_number=g.number, gerai_name=g.name,
                                    agency_name=site.agencies[g.agency].short, recall=recall, called_at=ts))
    out.append((t.calls(), codec.encode(m.Calls(epoch=EPOCH, site=site.site_id, site_name=site.site.name, rev=300,
                                                ts=now, calls=calls))))
    lease = m.CentralLease(epoch=EPOCH, site=site.site_id, instance="0123456789abcdef", term=1, online=True,
                           renew_s=3.0, ts=now)
    out.append((t.central_presence(), codec.encode(lease)))
    return out, announces
