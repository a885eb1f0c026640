"""Days of history played through the real queue service, for tests and benchmarks of the log.

:func:`play_day` plays a working day at a site: citizens take tickets at the
kiosks through opening hours (some with priority, every printed ticket
acknowledged by the printer), gerai call, recall, mark no-shows and pause, and
a few commands are refused; every command goes through
:class:`~antre.central.service.QueueService`, so the log holds exactly what a
real day writes (events and replies).  :func:`play_days` plays several.
"""

from __future__ import annotations

import datetime as dt
import random

from antre.broker.wire import messages as m
from antre.central.service import QueueService


def play_day(service: QueueService, day: dt.date, tickets: int, *, seed: int = 0, start: dt.time = dt.time(8),
             hours: float = 7.0, tag: str = "h") -> int:
    """Play ``tickets`` citizens through ``day`` from ``start`` for ``hours`` (site time); returns the
    commands sent.

    Command ids are ``<tag>-<YYYYMMDD>-<n>``: unique across days and runs with different tags.
    """
    config = service.config
    rng = random.Random(f"{seed}-{day.isoformat()}")
    kiosks = list(config.kiosks) or ["k-sim"]
    gerai = list(config.gerai)
    t = dt.datetime.combine(day, start, config.zone).timestamp()
    gap = hours * 3600 / max(tickets, 1)  # between two citizens, on average
    sent = 0

    def send(role: str, device: str, make: type[m.Command], **fields: object) -> m.Reply:
        nonlocal sent
        sent += 1
        command = make(id=f"{tag}-{day:%Y%m%d}-{sent:06d}", **fields)  # type: ignore[arg-type]
        return service.handle(role, device, command, t).reply  # type: ignore[arg-type]

    for i in range(tickets):
        t += rng.uniform(0.4, 1.0) * gap
        kiosk = rng.choice(kiosks)
        allowed = config.kiosks[kiosk].services if kiosk in config.kiosks else []
        svc = rng.choice(allowed or list(config.services))
        prio = rng.choice(["regular"] * 6 + ["elderly", "pregnant", "disabled"])
        handled = service.handle("kiosk", kiosk, m.TakeTicket(id=f"{tag}-{day:%Y%m%d}-t{i:05d}", service=svc,
                                                               priority=prio), t)  # type: ignore[arg-type]
        sent += 1
        for job in handled.print_jobs:
            t += rng.uniform(0.01, 0.05) * gap
            send("kiosk", kiosk, m.PrintAck, job=job.job, ok=rng.random() > 0.02,
                 status="ok" if rng.random() > 0.02 else "paper_out")
        for g in rng.sample(gerai, k=min(len(gerai), 1 + (rng.random() < 0.3))):  # about one call a ticket
            t += rng.uniform(0.01, 0.1) * gap
            r = rng.random()
            if r < 0.80:
                send("gerai", g, m.CallNext, complete_current=True)
            elif r < 0.88:
                send("gerai", g, m.NoShow)
            elif r < 0.93:
                send("gerai", g, m.Recall)
            elif r < 0.96:
                send("gerai", g, m.Pause, reason="istirahat")
                t += rng.uniform(0.05, 0.2) * gap
                send("gerai", g, m.Resume)
            else:
                send("gerai", g, m.Done)
    return sent


def play_days(service: QueueService, first: dt.date, days: int, tickets: int, *, seed: int = 0,
              tag: str = "h") -> int:
    """:func:`play_day` for ``days`` consecutive days from ``first``; returns the commands sent."""
    return sum(play_day(service, first + dt.timedelta(days=i), tickets, seed=seed, tag=tag) for i in range(days))
