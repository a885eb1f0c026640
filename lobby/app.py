"""``antre lobby``: a lobby screen (and its loudspeaker) as its own MQTT process.

It can run on the central server or on any Raspberry Pi behind a TV: it
subscribes, with its own lobby credentials, to the retained gerai states,
service states and recent calls (contract 2: assembled by a
:class:`~antre.broker.wire.feed.SiteFeed`), each gerai's presence (an offline
gerai is drawn as such), the announcements and the central's lease; publishes
its own presence (saying it reads contract 2, so the central stops sending the
whole-site board); draws its room of the site with pygame (full screen, or
headless for snapshots); and hands every call of its room to the
:class:`~antre.lobby.announcer.Announcer`.

One truth for screen and voice: the main panel shows the call the voice is
announcing, from the moment its announcement starts until the next one starts
(without a voice: the room's latest call).  Every call of the room is in the
history, announced or not yet.  When the broker or the central is lost it
keeps the last picture under a "KONEKSI TERPUTUS" banner; on reconnect the
retained states bring the truth back at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from antre import __version__
from antre.daemon import cpu_temperature
from antre.broker.link.base import BrokerAddress, LinkFactory, LinkSpec, Received, Will
from antre.broker.link.client import mqtt_link
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.codec import ProtocolError
from antre.broker.wire.feed import SiteFeed
from antre.broker.wire.topics import Channel, Role, TopicError, Topics, parse
from antre.central.config import SiteConfig
from antre.lobby.announcer import AnnouncementQueue, Announcer, LeaseClock, Player, Started
from antre.lobby.room import Room
from antre.lobby.model import CallItem, InfoPage, ScreenModel, ServiceRow, Tile, TileStatus, load_info
from antre.lobby.voicepack import VoicePack

log = logging.getLogger(__name__)

#: how long the tile of a called gerai stays marked "calling" after its announcement started
CALLING_SECONDS = 30.0
#: calls kept for the history
HISTORY_KEEP = 50
#: how often a lobby reports its health (retained, for the console's fleet page and `antre status`);
#: a change of its faults is reported at the next check, within HEALTH_CHECK_S
HEALTH_INTERVAL_S = 30.0
HEALTH_CHECK_S = 2.0
#: a screen that drew no frame for this long is reported as a display fault
FROZEN_SCREEN_S = 10.0


class LobbyApp:
    """One lobby: its MQTT link, its view of the site, its announcer (see the module docstring)."""

    #: frames drawn by :meth:`run_screen` (its progress, for the service watchdog)
    frames = 0

    def __init__(self, site: SiteConfig, lobby: str, address: BrokerAddress, *, pack: VoicePack | None,
                 journal: Path | None, clock: Callable[[], float] = time.time, max_age: float | None = None,
                 link_factory: LinkFactory = mqtt_link, player: Player | None = None,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self.site = site
        self.lobby = site.lobbies.get(lobby)
        self.lobby_id = lobby
        self.room = Room.of(site, lobby)
        self.clock = clock
        self.mono = mono
        self.topics = Topics(site.site_id)
        self.board: m.Board | None = None
        self.central_online: bool | None = None
        self.lease: m.CentralLease | None = None
        self._lease_seen = 0.0
        #: the central's clock, learned from its lease
        self.central_clock = LeaseClock()
        #: gerai id -> online (from its retained presence); absent: never heard of
        self.gerai_online: dict[str, bool] = {}
        #: every call seen (announce messages and the retained recent calls), oldest first
        self.history: list[CallItem] = []
        self._history_keys: set[tuple[str, str, float, bool]] = set()
        self.calls: list[m.Announce] = []
        #: the announcement the voice started last (the main panel shows it)
        self.current: Started | None = None
        self.board_seen = threading.Event()
        self._lock = threading.Lock()
        self.info_pages: list[InfoPage] = load_info(self.room.info) if self.room.info else []
        age = self.room.max_call_age_s if max_age is None else max_age
        self.announcer = Announcer(pack, AnnouncementQueue(journal, age), template=self.room.template,
                                   names=self.room.names, player=player, mono=mono,
                                   on_start=self._on_start) if pack else None
        #: the site from its retained per-item topics (contract 2)
        self.feed = SiteFeed(site.site_id, site.site.name)
        presence = self.topics.device(Role.LOBBY, lobby, Channel.PRESENCE)
        offline = codec.encode(m.Presence(role="lobby", device=lobby, online=False, version=__version__,
                                          contract=m.CONTRACT))
        self.link = link_factory(LinkSpec(
            address,
            subscriptions=[(t, 1) for t in self.feed.subscriptions()]
            + [(self.topics.all_gerai_presence(), 1), (self.topics.announce(), 1),
               (self.topics.central_presence(), 1)],
            on_message=self._on_message,
            on_connect=self._on_connect,
            will=Will(presence, offline),
        ))
        self._presence_topic = presence
        self._health_topic = self.topics.device(Role.LOBBY, lobby, Channel.HEALTH)
        self._started = mono()
        self._stop = threading.Event()
        self._health_thread = threading.Thread(target=self._health_loop, name="lobby-health", daemon=True)
        #: the screen loop's progress: (frames, when they last moved); None while no screen runs
        self._screen_seen: tuple[int, float] | None = None
        self._pack_problems: list[str] = []

    @property
    def connected(self) -> bool:
        """The broker is reachable and the central is alive (its lease is online and renewed)."""
        if not self.link.connected.is_set() or self.central_online is False:
            return False
        lease = self.lease
        return lease is None or self.mono() - self._lease_seen <= 3 * lease.renew_s + 1

    def start(self) -> None:
        if self.announcer is not None:
            problems = self._pack_problems = self.check_pack()
            if problems:
                log.error("voice pack %s cannot say every call of lobby %s; missing or unusable clips: %s",
                          self.announcer.pack.source, self.lobby_id, "; ".join(problems))
            self.announcer.start()
        self.link.start()
        self._health_thread.start()

    def check_pack(self) -> list[str]:
        """What the voice pack lacks for this lobby (empty: it can say every call)."""
        if self.announcer is None:
            return []
        return self.announcer.pack.check(self.room.clips_needed(self.site))

    def _on_connect(self) -> None:
        """Say who reads what: the central serves the contract 1 board only to lobbies that need it."""
        online = codec.encode(m.Presence(role="lobby", device=self.lobby_id, online=True, version=__version__,
                                         ts=self.clock(), contract=m.CONTRACT))
        self.link.publish(self._presence_topic, online, qos=1, retain=True)

    # ----------------------------------------------------------------- health

    def health(self) -> m.Health:
        """What a technician needs of this lobby: its screen drawing, its voice heard, its pack whole."""
        faults: list[str] = []
        display = "absent"
        seen = self._screen_seen
        if seen is not None:
            frames, moved_at = seen
            if self.frames != frames:
                self._screen_seen = (self.frames, self.mono())
            elif self.mono() - moved_at > FROZEN_SCREEN_S:
                faults.append(f"display: no frame drawn for {self.mono() - moved_at:.0f} s")
            display = "fault" if faults else "ok"
        if self.announcer is not None:
            if self.announcer.audio_fault:
                faults.append(self.announcer.audio_fault)
            if self._pack_problems:
                faults.append(("voice pack: cannot say " + "; ".join(self._pack_problems))[:200])
        else:
            faults.append("voice: no voice pack (calls are shown, not announced)")
        return m.Health(role="lobby", device=self.lobby_id, version=__version__,
                        uptime_s=round(self.mono() - self._started, 1), ts=self.clock(),
                        cpu_temp_c=cpu_temperature(), display=display,  # type: ignore[arg-type]
                        faults=[f[:200] for f in faults[:16]], ip=self.link.local_ip)

    def _health_loop(self) -> None:
        """A report every HEALTH_INTERVAL_S, and at the next check when the faults change."""
        last: tuple[str, tuple[str, ...]] | None = None
        sent = -HEALTH_INTERVAL_S
        while not self._stop.wait(HEALTH_CHECK_S):
            if not self.link.connected.is_set():
                last = None  # report again as soon as the link is back
                continue
            try:
                health = self.health()
                key = (health.display, tuple(health.faults))
                if key == last and self.mono() - sent < HEALTH_INTERVAL_S:
                    continue
                if last is not None and key != last:
                    log.warning("lobby %s health changed: display %s, faults %s", self.lobby_id, *key)
                last, sent = key, self.mono()
                self.link.publish(self._health_topic, codec.encode(health), qos=0, retain=True)
            except Exception:  # a report is not worth the lobby: logged, tried again
                log.exception("lobby %s: the health report failed", self.lobby_id)

    def stop(self) -> None:
        self._stop.set()
        offline = codec.encode(m.Presence(role="lobby", device=self.lobby_id, online=False, version=__version__,
                                          ts=self.clock(), contract=m.CONTRACT))
        self.link.stop(final=[(self._presence_topic, offline, True)])
        if self.announcer is not None:
            self.announcer.stop()

    # ------------------------------------------------------------------ input

    def _on_message(self, msg: Received) -> None:
        received = self.mono()
        try:
            where = parse(msg.topic)
        except TopicError as exc:
            log.warning("ignored a message on a foreign topic: %s", exc)
            return
        with self._lock:
            changed = self.feed.offer(msg.topic, msg.payload)  # gerai, service states and calls (bad ones logged)
            if changed:
                self.board = self.feed.board()
                if where.channel == "calls" and self.feed.calls is not None:
                    for c in self.feed.calls.calls:
                        self._remember(CallItem(c.ticket, c.gerai, c.gerai_number, c.gerai_name, c.recall, c.ts))
        if changed:
            self.board_seen.set()
            return
        try:
            if where.channel == "announce":
                a = codec.decode(msg.payload, "announce", m.Announce)
                self.take_call(a, received)
            elif where.role is Role.CENTRAL and where.channel is Channel.PRESENCE:
                lease = codec.decode(msg.payload, "presence", m.CentralLease)
                self.lease, self._lease_seen = lease, received
                self.central_online = lease.online
                if lease.ts is not None and lease.online:
                    self.central_clock.sample(lease.ts, received)
            elif where.role is Role.GERAI and where.channel is Channel.PRESENCE and where.device:
                presence = codec.decode(msg.payload, "presence", m.Presence)
                with self._lock:
                    self.gerai_online[where.device] = presence.online
        except ProtocolError as exc:
            log.warning("ignored invalid message on %s: %s", msg.topic, exc)

    def receive(self, topic: str, payload: bytes) -> None:
        """Take one message as if it came from the broker (the sample board, tests)."""
        self._on_message(Received(topic, payload, 1, True, 0, False))

    def take_call(self, a: m.Announce, received: float | None = None) -> None:
        """A call from the central: into the history and, for this room, to the announcer."""
        received = self.mono() if received is None else received
        with self._lock:
            self.calls.append(a)
            del self.calls[:-HISTORY_KEEP]
            self._remember(CallItem(a.ticket, a.gerai, a.gerai_number, a.gerai_name, a.recall, a.called_at,
                                    service=a.service))
        if self.announcer is not None and self.room.shows_call(a.gerai, a.service):
            self.announcer.offer(a, received, self.central_clock.age(a.called_at, received))

    def _remember(self, item: CallItem) -> None:
        key = (item.ticket, item.gerai, round(item.ts, 3), item.recall)
        if key in self._history_keys:
            return
        self._history_keys.add(key)
        self.history.append(item)
        self.history.sort(key=lambda c: c.ts)
        if len(self.history) > HISTORY_KEEP:
            for old in self.history[:-HISTORY_KEEP]:
                self._history_keys.discard((old.ticket, old.gerai, round(old.ts, 3), old.recall))
            del self.history[:-HISTORY_KEEP]

    def _on_start(self, started: Started) -> None:
        with self._lock:
            self.current = started

    # ------------------------------------------------------------------ the picture

    def now(self) -> float:
        """The time shown: the central's clock when learned (a lobby's own clock may be off), else its own."""
        central = self.central_clock.now(self.mono())
        return central if central is not None else self.clock()

    def model(self, now_mono: float | None = None, connected: bool | None = None,
              page_clock: float | None = None) -> ScreenModel:
        """Everything one frame shows, for this lobby's room."""
        now_mono = self.mono() if now_mono is None else now_mono
        local = dt.datetime.fromtimestamp(self.now(), self.site.zone)
        room = self.room
        with self._lock:
            feed_gerai = dict(self.feed.gerai)
            feed_services = dict(self.feed.services)
            message = self.feed.calls.message if self.feed.calls is not None else ""
            online = dict(self.gerai_online)
            history = [c for c in self.history if room.shows_call(c.gerai, c.service)]
            current = self.current
        main: CallItem | None = None
        speaking = False
        started_ago = 1e9
        if current is not None:
            a = current.call_at(now_mono)  # in a merged announcement: the ticket being said
            main = CallItem(a.ticket, a.gerai, a.gerai_number, a.gerai_name, a.recall, a.called_at,
                            service=a.service, merged=len(current.calls) - 1)
            speaking = current.at <= now_mono < current.ends
            started_ago = now_mono - current.at
        elif self.announcer is None and history:
            main = history[-1]
            started_ago = 0.0
        if self.announcer is not None:
            waiting = {(a.ticket, a.gerai, round(a.called_at, 3), a.recall) for a in self.announcer.waiting()}
            history = [dataclasses.replace(c, pending=True) if (c.ticket, c.gerai, round(c.ts, 3), c.recall) in waiting
                       else c for c in history]
        if main is not None:
            on_main = (main.ticket, main.gerai, round(main.ts, 3), main.recall)
            history = [c for c in history if (c.ticket, c.gerai, round(c.ts, 3), c.recall) != on_main]
        tiles = []
        for gid, conf in sorted(self.site.gerai.items(), key=lambda item: (item[1].number, item[0])):
            if not room.shows_gerai(gid):
                continue
            state = feed_gerai.get(gid)
            agency = self.site.agencies[conf.agency].short
            status = state.status if state is not None else "idle"
            ticket = state.ticket if state is not None else None
            note = state.note if state is not None else ""
            shown: TileStatus = status
            services_open = [feed_services[s].open for s in conf.services if s in feed_services]
            if online.get(gid) is False:
                shown = "offline"
            elif status == "closed" or (status == "idle" and services_open and not any(services_open)):
                shown = "closed"
            elif (main is not None and main.gerai == gid and ticket == main.ticket and status == "serving"
                  and started_ago < CALLING_SECONDS):
                shown = "calling"
            tiles.append(Tile(gid, conf.number, conf.name, agency, conf.agency, shown, ticket, note))
        services = []
        for sid, svc in self.site.services.items():
            if not room.shows_service(sid):
                continue
            st = feed_services.get(sid)
            services.append(ServiceRow(
                sid, svc.name, self.site.agencies[svc.agency].short, svc.prefix,
                st.waiting if st else None, st.remaining_quota if st else svc.daily_quota,
                st.est_wait_min if st else None, st.open if st else True, st.issuing if st else True))
        return ScreenModel(
            site_name=self.site.site.short_name or self.site.site.name,
            zone_abbrev=self.site.zone_abbrev(local),
            now=local,
            room=room.name if not room.everything else "",
            tiles=tiles,
            services=services,
            main=main,
            speaking=speaking,
            history=list(reversed(history)),
            connected=self.connected if connected is None else connected,
            running_text=message or self.site.site.running_text,  # the day's message from the console
            marquee_offset=now_mono if page_clock is None else 0.0,
            page_clock=now_mono if page_clock is None else page_clock,
            logo=room.logo,
            info=self.info_pages,
            viewing_distance_m=room.viewing_distance_m,
            screen_inches=room.screen_inches,
        )

    def run_screen(self, stop: threading.Event, size: tuple[int, int] | None, fps: int = 15) -> None:
        """Draw until ``stop``: full screen when ``size`` is None."""
        import pygame

        from antre.lobby.screen import Screen

        pygame.display.init()
        pygame.font.init()
        if size is None:
            surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
            pygame.mouse.set_visible(False)
        else:
            surface = pygame.display.set_mode(size)
        pygame.display.set_caption(f"antre lobby {self.lobby_id}")
        screen = Screen()
        clock = pygame.time.Clock()
        self._screen_seen = (self.frames, self.mono())
        while not stop.is_set():
            for event in pygame.event.get():
                if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
                    stop.set()
            screen.draw(surface, self.model())
            pygame.display.flip()
            self.frames += 1
            clock.tick(fps)  # frame pacing
        self._screen_seen = None
        pygame.display.quit()

    def snapshot(self, path: str, size: tuple[int, int], connected: bool | None = None, page: int = 0) -> None:
        """Save a PNG of the board (the rotating area at its ``page``, the running text at its start)."""
        from antre.lobby.screen import PAGE_SECONDS, render_png

        render_png(self.model(connected=connected, page_clock=page * PAGE_SECONDS), size, path)


def default_journal(lobby: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "antre" / f"announced-{lobby}.log"
