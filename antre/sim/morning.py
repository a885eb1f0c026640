"""A scripted morning at a site, run through the real queue service and log.

Citizens arrive at the ticket kiosks from before opening, some with priority;
gerai call, serve, mark no-shows, pause for a meeting, transfer a citizen and
call one out of order with a reason; a small quota runs out.  Everything goes
through :class:`~central.service.QueueService` with a durable log, exactly as
commands from devices would, and the account is printed as it happens.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from antre.broker.wire import messages as m
from antre.broker.wire.messages import PRIORITY_REASONS, Priority
from antre.central.config import SiteConfig
from antre.central.engine import Engine, Status
from antre.central.service import Handled, QueueService
from antre.central.store import EventStore

#: Sends one command as a device would and returns what came back.
Sender = Callable[[str, str, m.AnyCommand, float], Handled]

_PRIORITY_ID = {Priority.ELDERLY: "lansia", Priority.DISABLED: "disabilitas", Priority.PREGNANT: "ibu hamil",
                Priority.CHILD: "anak"}


@dataclass
class _Desk:
    gerai: str
    busy_until: float = 0.0
    paused_until: float | None = None


@dataclass
class DemoSummary:
    issued: int = 0
    refused: int = 0
    called: int = 0
    served: int = 0
    no_show: int = 0
    waits: list[float] = field(default_factory=list)


def default_day(config: SiteConfig) -> dt.date:
    """The next working day (today included) with a Friday break, if any."""
    day = dt.date.today()
    for _ in range(14):
        if config.site_schedule.windows(day) and config.site_schedule.breaks.get(day.weekday()):
            return day
        day += dt.timedelta(days=1)
    day = dt.date.today()
    while not config.site_schedule.windows(day):
        day += dt.timedelta(days=1)
    return day


def run_morning(
    config: SiteConfig,
    out: TextIO,
    day: dt.date | None = None,
    db_path: str | Path | None = None,
    seed: int = 2023,
    until: dt.time = dt.time(12, 0),
) -> DemoSummary:
    """Play a morning and print it to ``out``; returns the totals."""
    day = day or default_day(config)
    rng = random.Random(seed)
    tmp = None
    if db_path is None:
        tmp = tempfile.TemporaryDirectory(prefix="antre-demo-")
        db_path = Path(tmp.name) / "demo.db"
    store = EventStore(db_path, config.site_id, "full")
    try:
        t_open, t_end = morning_window(config, day, until)
        service = QueueService.open(config, store, t_open.timestamp())
        script = MorningScript(config, service.engine, service.handle, out, rng, t_open, t_end)
        summary = script.run()
        out.write(f"event log: {store.count()} events committed durably\n")
        return summary
    finally:
        store.close()
        if tmp is not None:
            tmp.cleanup()


def morning_window(config: SiteConfig, day: dt.date, until: dt.time = dt.time(12, 0)) -> tuple[dt.datetime, dt.datetime]:
    """(opening time, end of the scripted morning) of ``day`` in the site's zone."""
    windows = config.site_schedule.windows(day)
    first = windows[0].start if windows else 8 * 60
    start = dt.datetime.combine(day, dt.time(0, 0), config.zone)
    return start + dt.timedelta(minutes=first), dt.datetime.combine(day, until, config.zone)


class MorningScript:
    """The story of a morning, told through any :data:`Sender` (in-process or MQTT).

    It reads the engine only to choose what a real officer would see on their
    screen (who is waiting); every change goes through ``send``.
    """

    def __init__(
        self, config: SiteConfig, engine: Engine, send: Sender, out: TextIO, rng: random.Random,
        t_open: dt.datetime, t_end: dt.datetime,
    ) -> None:
        self.config, self.engine, self.sender, self.out, self.rng = config, engine, send, out, rng
        self.t_open, self.t_end = t_open, t_end
        self.summary = DemoSummary()
        self.desks = {g: _Desk(g) for g in config.gerai}
        self.cmd_seq = 0
        self.refusals: dict[tuple[str, str], int] = {}
        self.came_back: tuple[str, str, float] | None = None  # (gerai, ticket, when)
        kiosks = list(config.kiosks) or [next(iter(config.gerai))]
        self.kiosk = kiosks[0]

    # ------------------------------------------------------------ plumbing

    def say(self, when: float, text: str) -> None:
        local = dt.datetime.fromtimestamp(when, self.config.zone)
        self.out.write(f"{local:%H:%M}  {text}\n")

    def send(self, role: str, device: str, make: Callable[[str], m.AnyCommand], now: float) -> Handled:
        self.cmd_seq += 1
        return self.sender(role, device, make(f"demo-{self.cmd_seq:06d}"), now)

    def gname(self, gerai: str) -> str:
        return self.config.gerai[gerai].name

    # --------------------------------------------------------------- story

    def arrivals(self) -> list[tuple[float, str, Priority]]:
        """(time, service, priority) of every citizen of the morning."""
        services = list(self.config.services)
        # Busy services (large quotas, several gerai) draw more citizens; a
        # small quota is popular enough to run out during the morning.
        weights = [
            1.5 * len(self.config.gerai_for_service(sid)) if (s.daily_quota or 0) >= 100
            else 3.0 if s.daily_quota and s.daily_quota <= 30 else 1.0
            for sid, s in self.config.services.items()
        ]
        t = (self.t_open - dt.timedelta(minutes=self.config.site.tickets_open_early_minutes + 3)).timestamp()
        result = []
        end = self.t_end.timestamp() - 45 * 60
        while t < end:
            t += self.rng.expovariate(1 / 40)  # about 90 citizens an hour
            svc = self.rng.choices(services, weights)[0]
            prio = self.rng.choice(PRIORITY_REASONS) if self.rng.random() < 0.12 else Priority.REGULAR
            result.append((t, svc, prio))
        return result

    def run(self) -> DemoSummary:
        cfg = self.config
        self.out.write(
            f"antre demo: {cfg.site.name}, {self.t_open:%A %d %B %Y}, "
            f"{cfg.site_schedule.describe(self.t_open.date())} {cfg.zone_abbrev()}\n"
            f"{len(cfg.agencies)} agencies, {len(cfg.services)} services, {len(cfg.gerai)} gerai; "
            f"priority ratio {cfg.site.priority_ratio.priority}:{cfg.site.priority_ratio.regular} "
            "(priority:regular)\n\n"
        )
        arrivals = self.arrivals()
        special_done: set[str] = set()
        t = arrivals[0][0]
        step = 30.0
        i = 0
        while t <= self.t_end.timestamp():
            while i < len(arrivals) and arrivals[i][0] <= t:
                self.take(*arrivals[i])
                i += 1
            for desk in self.desks.values():
                self.work(desk, t, special_done)
            t += step
        self.close()
        return self.summary

    def take(self, when: float, service: str, priority: str) -> None:
        h = self.send(
            "kiosk", self.kiosk,
            lambda cid: m.TakeTicket(id=cid, service=service, priority=priority),  # type: ignore[arg-type]
            when,
        )
        if not h.reply.ok:
            self.summary.refused += 1
            key = (service, h.reply.code)
            self.refusals[key] = self.refusals.get(key, 0) + 1
            if self.refusals[key] == 1:
                self.say(when, f"kiosk      refused {service}: {h.reply.text_id} (later refusals of this kind "
                               "are counted, not shown)")
            return
        self.summary.issued += 1
        job = h.print_jobs[0]
        mark = f" [prioritas: {_PRIORITY_ID[Priority(priority)]}]" if priority != Priority.REGULAR else ""
        est = "?" if job.est_wait_min is None else str(job.est_wait_min)
        self.say(when, f"kiosk      ticket {job.ticket} {job.service_name}{mark}: {job.ahead} ahead, ~{est} min")

    def work(self, desk: _Desk, now: float, special: set[str]) -> None:
        if now < desk.busy_until:
            return
        engine = self.engine
        g = desk.gerai
        local = dt.datetime.fromtimestamp(now, self.config.zone)
        # One scripted pause: the gerai 5 officer attends a briefing at 10:00.
        if g == "g05" and "pause" not in special and local.hour >= 10:
            current = engine.current_of(g)
            if current is not None:
                self.finish(desk, now)
            h = self.send("gerai", g, lambda cid: m.Pause(id=cid, reason="rapat koordinasi"), now)
            self.say(now, f"{self.gname(g):<10} pauses: {h.reply.text_id}")
            special.add("pause")
            desk.paused_until = now + 15 * 60
            desk.busy_until = desk.paused_until
            return
        if desk.paused_until is not None and now >= desk.paused_until:
            h = self.send("gerai", g, lambda cid: m.Resume(id=cid), now)
            self.say(now, f"{self.gname(g):<10} {h.reply.text_id}")
            desk.paused_until = None
        current = engine.current_of(g)
        if self.came_back is not None and self.came_back[0] == g and now >= self.came_back[2]:
            number = self.came_back[1]
            self.came_back = None
            if current is not None:
                self.finish(desk, now)
            h = self.send("gerai", g, lambda cid: m.Recall(id=cid, ticket=number), now)
            self.summary.no_show -= int(h.reply.ok)
            self.after_call(desk, h, now, note=" again: the citizen came back within the recall window")
            return
        if current is not None and self.rng.random() < 0.06:
            h = self.send("gerai", g, lambda cid: m.Recall(id=cid), now)
            self.say(now, f"{self.gname(g):<10} {h.reply.text_id}  \u00ab{speech(h.announcements[0])}\u00bb")
            h = self.send("gerai", g, lambda cid: m.NoShow(id=cid), now)
            self.summary.no_show += 1
            self.say(now, f"{self.gname(g):<10} {h.reply.text_id}")
            if "came_back" not in special:
                special.add("came_back")
                self.came_back = (g, current.number, now + 5 * 60)
        elif current is not None and g == "g04" and "transfer" not in special:
            h = self.send("gerai", g, lambda cid: m.Transfer(id=cid, service="pbb", note="tanya PBB"), now)
            special.add("transfer")
            self.say(now, f"{self.gname(g):<10} {h.reply.text_id}")
        elif current is not None:
            self.finish(desk, now)
        if "out_of_order" not in special and g == "g02" and local.hour >= 9:
            waiting = [t for t in engine.tickets.values()
                       if t.status is Status.WAITING and t.service in self.config.gerai[g].services]
            if len(waiting) >= 3:
                target = waiting[-1]
                h = self.send(
                    "gerai", g,
                    lambda cid: m.CallTicket(id=cid, ticket=target.number, reason="berkas susulan, sudah antre pagi"),
                    now,
                )
                special.add("out_of_order")
                self.after_call(desk, h, now, note=" (out of order: berkas susulan, sudah antre pagi)")
                return
        if not self.config.site_schedule.windows(local.date()) or now < self.t_open.timestamp():
            return
        h = self.send("gerai", g, lambda cid: m.CallNext(id=cid), now)
        if h.reply.code in ("queue_empty", "on_break"):
            return
        self.after_call(desk, h, now)

    def finish(self, desk: _Desk, now: float) -> None:
        h = self.send("gerai", desk.gerai, lambda cid: m.Done(id=cid), now)
        if h.reply.ok:
            self.summary.served += 1

    def after_call(self, desk: _Desk, h: Handled, now: float, note: str = "") -> None:
        if not h.reply.ok:
            self.say(now, f"{self.gname(desk.gerai):<10} {h.reply.text_id}")
            return
        self.summary.called += 1
        ticket = self.engine.find(h.reply.ticket or "")
        assert ticket is not None
        self.summary.waits.append(now - ticket.issued_at)
        for a in h.announcements:
            self.say(now, f"{self.gname(desk.gerai):<10} calls {a.ticket}{note}, waited "
                          f"{(now - ticket.issued_at) / 60:.0f} min  \u00ab{speech(a)}\u00bb")
        avg = self.config.services[ticket.service].avg_service_minutes
        desk.busy_until = now + max(60.0, self.rng.gauss(avg, avg / 3) * 60)

    def close(self) -> None:
        engine = self.engine
        s = self.summary
        self.out.write(f"\nSummary at {self.t_end:%H:%M} {self.config.zone_abbrev()}\n")
        self.out.write(f"{'service':<8}{'name':<44}{'issued':>7}{'served':>7}{'no-show':>8}"
                       f"{'waiting':>8}{'quota left':>11}{'est. wait':>10}\n")
        for sid, svc in self.config.services.items():
            st = engine.stats[sid]
            waiting = engine.waiting_in(sid)
            est = engine.estimate_wait_minutes(sid, waiting)
            quota = engine.remaining_quota(sid)
            self.out.write(
                f"{svc.prefix:<8}{svc.name[:42]:<44}{st.issued:>7}{st.served:>7}{st.no_show:>8}{waiting:>8}"
                f"{'-' if quota is None else quota:>11}{'-' if est is None else f'{est} min':>10}\n"
            )
        if self.refusals:
            self.out.write("\nrefused ticket requests: " + ", ".join(
                f"{svc} {code} x{n}" for (svc, code), n in sorted(self.refusals.items())) + "\n")
        mean_wait = sum(s.waits) / len(s.waits) / 60 if s.waits else 0.0
        self.out.write(
            f"\ntickets issued {s.issued}, refused {s.refused}, called {s.called}, served {s.served}, "
            f"no-show {s.no_show}; mean wait before the call {mean_wait:.1f} min\n"
        )


def speech(a: m.Announce) -> str:
    """The call as the lobby says it (the number is spelled by the lobby's voice)."""
    again = "Panggilan ulang. " if a.recall else ""
    return f"{again}Nomor antrean {a.ticket}, silakan menuju {a.gerai_name.lower()}"
