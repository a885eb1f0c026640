"""Lobby scenes for tests: a real LobbyApp fed with the messages a broker would deliver, on a
simulated monotonic clock, with a recording player (no sound card, no real-time waits)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from antre.broker.link.base import BrokerAddress
from antre.broker.wire import codec
from antre.broker.wire import messages as m
from antre.broker.wire.topics import Role, Topics
from antre.central.config import SiteConfig, load_site
from antre.lobby import voicepack
from antre.lobby.app import LobbyApp
from antre.lobby.room import site_clips
from antre.lobby.sample import EPOCH, sample_messages, sample_time
from antre.lobby.voicepack import OutputFormat, VoicePack
from tests.conftest import ROOT

KUPANG = ROOT / "examples" / "kupang.toml"
RATE = voicepack.RATE


class Recorder:
    """A player that keeps what it was given, when (no sound card, no waiting)."""

    def __init__(self, mono: Callable[[], float]) -> None:
        self.format = OutputFormat(RATE, -16, 1)
        self.mono = mono
        self.played: list[tuple[float, bytes]] = []

    def play(self, pcm: bytes) -> None:
        self.played.append((self.mono(), pcm))

    def heard(self, t: float) -> int | None:
        """Which buffer is audible at ``t`` (index), None in silence."""
        for i, (start, pcm) in enumerate(self.played):
            if start <= t < start + self.format.seconds(pcm):
                return i
        return None


def tone_pack(site: SiteConfig, word: float = 0.32) -> VoicePack:
    """Every clip the site's lobbies can need, each a tone of a fixed length (fast, deterministic)."""
    clips: dict[str, Any] = {}
    for i, name in enumerate(site_clips(site)):
        n = int(word * (2 if "_" in name else 1) * RATE)
        clips[name] = (0.3 * np.sin(2 * np.pi * (200 + 10 * (i % 50)) * np.arange(n) / RATE)).astype(np.float32)
    clips["chime"] = voicepack.chime()
    return VoicePack(clips, "tones")


class Scene:
    """A lobby app and its simulated clock."""

    def __init__(self, lobby: str = "lobby-1", *, voice: bool = True, wall_offset: float = 0.0,
                 site: SiteConfig | None = None, journal: Path | None = None) -> None:
        self.site = site or load_site(KUPANG)
        self.t = 100.0
        self.start = sample_time(self.site)
        self.player = Recorder(lambda: self.t)
        self.app = LobbyApp(self.site, lobby, BrokerAddress("127.0.0.1", 1, None, None),
                            pack=tone_pack(self.site) if voice else None, journal=journal,
                            clock=lambda: self.start + wall_offset + self.t, mono=lambda: self.t,
                            player=self.player)
        self.topics = Topics(self.site.site_id)
        self.sequence = 0
        self._leased: float | None = None
        # never started: the scene hands it the broker's messages itself, as from a live connection
        self.app.link.connected.set()

    def central_now(self) -> float:
        return self.start + self.t

    def lease(self) -> None:
        """The central's lease (renewed every 3 s by :meth:`run` from now on)."""
        self._leased = self.t
        lease = m.CentralLease(epoch=EPOCH, site=self.site.site_id, instance="0123456789abcdef", term=1,
                               online=True, renew_s=3.0, ts=self.central_now())
        self.app.receive(self.topics.central_presence(), codec.encode(lease))

    def busy_morning(self) -> None:
        """The sample's busy morning (every gerai, service and presence state, 20 recent calls)."""
        messages, _ = sample_messages(self.site, self.central_now())
        for topic, payload in messages:
            self.app.receive(topic, payload)

    def gerai_state(self, gerai: str, status: m.GeraiStatus, ticket: str | None = None, note: str = "",
                    service: str | None = None) -> None:
        g = self.site.gerai[gerai]
        self.sequence += 1
        state = m.GeraiState(epoch=EPOCH, gerai=gerai, number=g.number, name=g.name,
                             agency=self.site.agencies[g.agency].short, status=status, ticket=ticket,
                             service=service or (g.services[0] if ticket else None), waiting=0, note=note,
                             rev=10_000 + self.sequence, ts=self.central_now(), services=list(g.services))
        self.app.receive(self.topics.gerai(gerai, "state"), codec.encode(state))

    def presence(self, gerai: str, online: bool) -> None:
        self.app.receive(self.topics.device(Role.GERAI, gerai, "presence"),
                         codec.encode(m.Presence(role="gerai", device=gerai, online=online)))

    def service_state(self, service: str, waiting: int, open_: bool = True) -> None:
        svc = self.site.services[service]
        self.sequence += 1
        state = m.ServiceState(epoch=EPOCH, service=service, name=svc.name,
                               agency=self.site.agencies[svc.agency].short, prefix=svc.prefix, open=open_,
                               waiting=waiting, remaining_quota=svc.daily_quota and svc.daily_quota - 40,
                               est_wait_min=waiting * 4 if open_ else None,
                               order=list(self.site.services).index(service), rev=10_000 + self.sequence,
                               ts=self.central_now())
        self.app.receive(self.topics.service_state(service), codec.encode(state))

    def call(self, gerai: str, ticket: str, recall: bool = False, service: str | None = None,
             age: float = 0.0) -> m.Announce:
        """The central calls ``ticket`` at ``gerai``: its state changes and the announcement arrives."""
        g = self.site.gerai[gerai]
        service = service or next(s for s in g.services if self.site.services[s].prefix == ticket.rstrip(
            "0123456789"))
        self.gerai_state(gerai, "serving", ticket, service=service)
        self.sequence += 1
        a = m.Announce(epoch=EPOCH, id=f"a-{EPOCH}-{ticket}-{self.sequence}", ticket=ticket, service=service,
                       gerai=gerai, gerai_number=g.number, gerai_name=g.name,
                       agency_name=self.site.agencies[g.agency].short, recall=recall,
                       called_at=self.central_now() - age)
        self.app.receive(self.topics.announce(), codec.encode(a))
        return a

    def run(self, seconds: float, step: float = 0.05, each: Callable[[float], None] | None = None) -> None:
        """Advance the clock, letting the announcer start what is due (``each`` sees every step)."""
        end = self.t + seconds
        while self.t < end:
            if self._leased is not None and self.t - self._leased >= 3.0:
                self.lease()
            if self.app.announcer is not None:
                self.app.announcer.poll(self.t)
            if each is not None:
                each(self.t)
            self.t += step


def png_dir(tmp_path: Path) -> Path:
    """Where scene PNGs go: ``ANTRE_LOBBY_PNGS`` (to look at them) or the test's tmp dir."""
    out = Path(os.environ.get("ANTRE_LOBBY_PNGS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out
