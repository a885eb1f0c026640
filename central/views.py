"""What the outside sees of the engine: wire messages built from its state.

Pure functions from (config, engine state) to :mod:`antre.broker.wire.messages` structs:
the number display state of a gerai, the lobby board, a print job, a voice
announcement.  No MQTT here; the central service publishes them.
"""

from __future__ import annotations

from antre.broker.wire import messages as m
from antre.central.engine import Call, Engine, Ticket
from antre.central.texts import format_datetime_id

#: How many recent calls the ``calls`` topic and the lobby board carry.
RECENT_CALLS = BOARD_CALLS = 20


def gerai_state(engine: Engine, gerai: str, now: float, rev: int, epoch: int = 0) -> m.GeraiState:
    conf = engine.config.gerai[gerai]
    state = engine.gerai[gerai]
    ticket = engine.current_of(gerai)
    status: m.GeraiStatus
    if state.paused:
        status = "paused"
    elif ticket is not None:
        status = "serving"
    else:
        status = "idle"
    return m.GeraiState(
        epoch=epoch,
        gerai=gerai,
        number=conf.number,
        name=conf.name,
        agency=engine.config.agencies[conf.agency].short,
        status=status,
        ticket=ticket.number if ticket else None,
        ticket_id=ticket.id if ticket else None,
        service=ticket.service if ticket else None,
        priority=ticket.priority if ticket else None,  # type: ignore[arg-type]
        recalls=ticket.recalls if ticket else 0,
        called_at=ticket.called_at if ticket else None,
        waiting=engine.waiting_for_gerai(gerai),
        note=state.pause_reason if state.paused else "",
        rev=rev,
        ts=now,
        services=list(conf.services),
    )


def service_state(engine: Engine, service: str, now: float, rev: int, epoch: int = 0) -> m.ServiceState:
    """One service now (contract 2's ``service/<service>/state``)."""
    config = engine.config
    svc = config.services[service]
    waiting = engine.waiting_in(service)
    prio, reg = engine.queues[service]
    heads = [engine.tickets[q[0][1]].issued_at for q in (prio, reg) if q]
    stats = engine.stats[service]
    return m.ServiceState(
        epoch=epoch,
        service=service,
        name=svc.name,
        agency=config.agencies[svc.agency].short,
        prefix=svc.prefix,
        open=config.schedules[service].is_serving(engine.local(now)),
        waiting=waiting,
        remaining_quota=engine.remaining_quota(service),
        est_wait_min=engine.estimate_wait_minutes(service, waiting),
        oldest_issued_at=min(heads) if heads else None,
        served=stats.served,
        no_show=stats.no_show,
        order=list(config.services).index(service),
        rev=rev,
        ts=now,
        issuing=service not in engine.issuing_stopped,
    )


def calls(engine: Engine, now: float, rev: int, epoch: int = 0) -> m.Calls:
    """The most recent calls of the site (contract 2's retained ``calls``)."""
    return m.Calls(
        epoch=epoch,
        site=engine.config.site_id,
        site_name=engine.config.site.name,
        rev=rev,
        ts=now,
        calls=[_board_call(engine, c) for c in list(engine.recent_calls)[-RECENT_CALLS:]],
        message=engine.lobby_message[:200],
    )


def print_job(engine: Engine, ticket: Ticket, epoch: int = 0, url: str = "") -> m.PrintJob:
    config = engine.config
    service = config.services[ticket.service]
    ahead = engine.ahead_of(ticket)
    return m.PrintJob(
        epoch=epoch,
        job=job_id(ticket.id),
        ticket_id=ticket.id,
        ticket=ticket.number,
        service=ticket.service,
        service_name=service.name,
        agency_name=config.agencies[service.agency].name,
        site_name=config.site.name,
        priority=ticket.priority,  # type: ignore[arg-type]
        issued_at=ticket.issued_at,
        issued_text=format_datetime_id(engine.local(ticket.issued_at), config.zone_abbrev()),
        ahead=ahead,
        est_wait_min=engine.estimate_wait_minutes(ticket.service, ahead),
        footer=config.site.ticket_footer,
        url=url,
    )


def job_id(ticket_id: str) -> str:
    """The print job id of a ticket: ``p-20231117-A012``."""
    return f"p-{ticket_id}"


def ticket_of_job(job: str) -> str | None:
    return job[2:] if job.startswith("p-") else None


def announcement(engine: Engine, ticket: Ticket, gerai: str, recall: bool, now: float, epoch: int = 0) -> m.Announce:
    """A voice call.  Its id names the log's epoch, the ticket and the call's ordinal, so a
    lobby never says one call twice and a fresh log's calls never look like old ones."""
    conf = engine.config.gerai[gerai]
    agency = engine.config.agencies[conf.agency]
    return m.Announce(
        epoch=epoch,
        id=f"a-{epoch}-{ticket.id}-{ticket.announced}",
        ticket=ticket.number,
        service=ticket.service,
        gerai=gerai,
        gerai_number=conf.number,
        gerai_name=conf.name,
        agency_name=agency.short,
        recall=recall,
        called_at=now,
    )


def board(engine: Engine, now: float, rev: int, epoch: int = 0) -> m.Board:
    config = engine.config
    local = engine.local(now)
    tiles = []
    for gid, conf in sorted(config.gerai.items(), key=lambda item: (item[1].number, item[0])):
        state = gerai_state(engine, gid, now, rev, epoch)
        tiles.append(
            m.BoardGerai(
                gerai=gid,
                number=conf.number,
                name=conf.name,
                agency=state.agency,
                status=state.status,
                ticket=state.ticket,
                service=state.service,
            )
        )
    services = []
    for sid, svc in config.services.items():
        waiting = engine.waiting_in(sid)
        services.append(
            m.BoardService(
                service=sid,
                name=svc.name,
                agency=config.agencies[svc.agency].short,
                prefix=svc.prefix,
                waiting=waiting,
                remaining_quota=engine.remaining_quota(sid),
                est_wait_min=engine.estimate_wait_minutes(sid, waiting),
                open=config.schedules[sid].is_serving(local),
                issuing=sid not in engine.issuing_stopped,
            )
        )
    return m.Board(
        epoch=epoch,
        site=config.site_id,
        site_name=config.site.name,
        rev=rev,
        ts=now,
        gerai=tiles,
        services=services,
        calls=[_board_call(engine, c) for c in list(engine.recent_calls)[-BOARD_CALLS:]],
        message=engine.lobby_message[:200],
    )


def _board_call(engine: Engine, call: Call) -> m.BoardCall:
    conf = engine.config.gerai[call.gerai]
    return m.BoardCall(
        ticket=engine.tickets[call.ticket_id].number,
        gerai=call.gerai,
        gerai_number=conf.number,
        gerai_name=conf.name,
        recall=call.recall,
        ts=call.ts,
    )
