"""``antre lobby``: a lobby screen (and its loudspeaker) as its own MQTT process.

It can run on the central server or on any Raspberry Pi behind a TV: it
subscribes, with its own lobby credentials, to the retained gerai states,
service states and recent calls (contract 2: assembled by a
:class:`~antre.broker.wire.feed.SiteFeed`), the announcements and the central's
presence; publishes its own presence (saying it reads contract 2, so the
central stops sending the whole-site board); draws the site with pygame (full
screen, or headless for snapshots); and hands every call to the
:class:`~antre.lobby.announcer.Announcer`.  When the broker or the central
is lost it keeps the last picture under a "KONEKSI TERPUTUS" banner; on
reconnect the retained states bring the truth back at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from antre import __version__
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.link.base import BrokerAddress, LinkFactory, LinkSpec, Received, Will
from antre.broker.wire.feed import SiteFeed
from antre.broker.link.client import mqtt_link
from antre.broker.wire.codec import ProtocolError
from antre.broker.wire.topics import Channel, Role, TopicError, Topics, parse
from antre.central.config import SiteConfig
from antre.lobby.announcer import AnnouncementQueue, Announcer
from antre.lobby.voicepack import VoicePack

log = logging.getLogger(__name__)

PANEL_SECONDS = 8.0


class LobbyApp:
    #: frames drawn by :meth:`run_screen` (its progress, for the service watchdog)
    frames = 0

    def __init__(self, site: SiteConfig, lobby: str, address: BrokerAddress, *, pack: VoicePack | None,
                 journal: Path | None, clock: Callable[[], float] = time.time, max_age: float = 120.0,
                 link_factory: LinkFactory = mqtt_link) -> None:
        self.site = site
        self.lobby = site.lobbies.get(lobby)
        self.lobby_id = lobby
        self.clock = clock
        self.topics = Topics(site.site_id)
        self.board: m.Board | None = None
        self.central_online: bool | None = None
        self.lease: m.CentralLease | None = None
        self._lease_seen = 0.0
        self.highlight: tuple[m.BoardCall, float] | None = None  # the call and when it arrived (monotonic)
        self.calls: list[m.Announce] = []
        self.board_seen = threading.Event()
        self._lock = threading.Lock()
        self.announcer = Announcer(pack, AnnouncementQueue(journal, max_age), clock=clock) if pack else None
        #: the site from its retained per-item topics (contract 2)
        self.feed = SiteFeed(site.site_id, site.site.name)
        presence = self.topics.device(Role.LOBBY, lobby, Channel.PRESENCE)
        offline = codec.encode(m.Presence(role="lobby", device=lobby, online=False, version=__version__,
                                          contract=m.CONTRACT))
        self.link = link_factory(LinkSpec(
            address,
            subscriptions=[(t, 1) for t in self.feed.subscriptions()]
            + [(self.topics.announce(), 1), (self.topics.central_presence(), 1)],
            on_message=self._on_message,
            on_connect=self._on_connect,
            will=Will(presence, offline),
        ))
        self._presence_topic = presence

    @property
    def connected(self) -> bool:
        """The broker is reachable and the central is alive (its lease is online and renewed)."""
        if not self.link.connected.is_set() or self.central_online is False:
            return False
        lease = self.lease
        return lease is None or time.monotonic() - self._lease_seen <= 3 * lease.renew_s + 1

    def start(self) -> None:
        if self.announcer is not None:
            self.announcer.start()
        self.link.start()

    def _on_connect(self) -> None:
        """Say who reads what: the central serves the contract 1 board only to lobbies that need it."""
        online = codec.encode(m.Presence(role="lobby", device=self.lobby_id, online=True, version=__version__,
                                         ts=self.clock(), contract=m.CONTRACT))
        self.link.publish(self._presence_topic, online, qos=1, retain=True)

    def stop(self) -> None:
        offline = codec.encode(m.Presence(role="lobby", device=self.lobby_id, online=False, version=__version__,
                                          ts=self.clock(), contract=m.CONTRACT))
        self.link.stop(final=[(self._presence_topic, offline, True)])
        if self.announcer is not None:
            self.announcer.stop()

    def _on_message(self, msg: Received) -> None:
        try:
            where = parse(msg.topic)
        except TopicError as exc:
            log.warning("ignored a message on a foreign topic: %s", exc)
            return
        with self._lock:
            changed = self.feed.offer(msg.topic, msg.payload)  # gerai, service states and calls (bad ones logged)
            if changed:
                self.board = self.feed.board()
        if changed:
            self.board_seen.set()
            return
        try:
            if where.channel == "announce":
                a = codec.decode(msg.payload, "announce", m.Announce)
                with self._lock:
                    self.calls.append(a)
                    self.highlight = (m.BoardCall(ticket=a.ticket, gerai=a.gerai, gerai_number=a.gerai_number,
                                                  gerai_name=a.gerai_name, recall=a.recall, ts=a.called_at),
                                      time.monotonic())
                if self.announcer is not None and self._shown(a.gerai):
                    self.announcer.offer(a)
            elif where.role is Role.CENTRAL and where.channel is Channel.PRESENCE:
                lease = codec.decode(msg.payload, "presence", m.CentralLease)
                self.lease, self._lease_seen = lease, time.monotonic()
                self.central_online = lease.online
        except ProtocolError as exc:
            log.warning("ignored invalid message on %s: %s", msg.topic, exc)

    def _shown(self, gerai: str) -> bool:
        return self.lobby is None or not self.lobby.gerai or gerai in self.lobby.gerai

    def model(self, now_mono: float | None = None) -> Any:
        from antre.lobby.screen import ScreenModel, ServiceInfo

        now_mono = time.monotonic() if now_mono is None else now_mono
        local = dt.datetime.fromtimestamp(self.clock(), self.site.zone)
        services = [s for s in self.site.services.values()
                    if self.lobby is None or not self.lobby.services or s.id in self.lobby.services]
        panel = None
        if services:
            s = services[int(now_mono / PANEL_SECONDS) % len(services)]
            panel = ServiceInfo(s.name, self.site.agencies[s.agency].short,
                                self.site.schedules[s.id].describe(local.date()), s.standard)
        with self._lock:
            highlight = self.highlight
            board = self.board
        return ScreenModel(
            site_name=self.site.site.name, zone_abbrev=self.site.zone_abbrev(local), now=local, board=board,
            connected=self.connected, highlight=highlight[0] if highlight else None,
            highlight_age=now_mono - highlight[1] if highlight else 99.0,
            running_text=(board.message if board is not None and board.message else self.site.site.running_text),
            marquee_offset=now_mono * 120,
            panel=panel, gerai_filter=list(self.lobby.gerai) if self.lobby else [],
            service_filter=list(self.lobby.services) if self.lobby else [],
        )

    def run_screen(self, stop: threading.Event, size: tuple[int, int] | None, fps: int = 15) -> None:
        """Draw until ``stop``: full screen when ``size`` is None."""
        import pygame

        from antre.lobby.screen import draw

        pygame.display.init()
        pygame.font.init()
        if size is None:
            surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
            pygame.mouse.set_visible(False)
        else:
            surface = pygame.display.set_mode(size)
        pygame.display.set_caption(f"antre lobby {self.lobby_id}")
        clock = pygame.time.Clock()
        while not stop.is_set():
            for event in pygame.event.get():
                if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
                    stop.set()
            draw(surface, self.model())
            pygame.display.flip()
            self.frames += 1
            clock.tick(fps)  # frame pacing
        pygame.display.quit()

    def snapshot(self, path: str, size: tuple[int, int]) -> None:
        from antre.lobby.screen import render_png

        render_png(self.model(), size, path)


def default_journal(lobby: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "antre" / f"announced-{lobby}.log"
