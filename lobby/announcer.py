"""The announcement queue of a lobby: one at a time, in call order, never late, never twice.

:class:`AnnouncementQueue` is the pure policy: calls are played in the order
they arrive; a recall is a new announcement (it has its own id); a call older
than ``max_age`` seconds when its turn comes is dropped (after an audio or
network outage nobody should be sent to a gerai minutes late); an id already
played is never played again, even after a restart, because played ids are
appended to a small journal file before playback starts.

:class:`Announcer` plays the queue through pygame.mixer on its own thread.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from antre.broker.wire import messages as m
from antre.lobby.speech import announcement
from antre.lobby.voicepack import RATE, VoicePack

log = logging.getLogger(__name__)

JOURNAL_KEEP = 2000


class AnnouncementQueue:
    def __init__(self, journal: Path | None = None, max_age: float = 120.0) -> None:
        self.max_age = max_age
        self.journal = journal
        self._queue: collections.deque[m.Announce] = collections.deque()
        self._queued_ids: set[str] = set()
        self.played: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.dropped: list[tuple[str, str]] = []  # (id, reason)
        if journal is not None and journal.exists():
            for line in journal.read_text(encoding="utf-8").splitlines()[-JOURNAL_KEEP:]:
                if line.strip():
                    self.played[line.strip()] = None

    def offer(self, a: m.Announce) -> bool:
        """Queue an announcement unless it was played or queued already."""
        if a.id in self.played or a.id in self._queued_ids:
            self.dropped.append((a.id, "duplicate"))
            return False
        self._queue.append(a)
        self._queued_ids.add(a.id)
        return True

    def next(self, now: float) -> m.Announce | None:
        """The next announcement to play now, recording it as played; stale ones are dropped."""
        while self._queue:
            a = self._queue.popleft()
            self._queued_ids.discard(a.id)
            if now - a.called_at > self.max_age:
                self.dropped.append((a.id, "stale"))
                log.warning("dropped stale call %s for gerai %s (%.0f s old)", a.ticket, a.gerai, now - a.called_at)
                self._remember(a.id)
                continue
            self._remember(a.id)
            return a
        return None

    def __len__(self) -> int:
        return len(self._queue)

    def _remember(self, ident: str) -> None:
        self.played[ident] = None
        while len(self.played) > JOURNAL_KEEP:
            self.played.popitem(last=False)
        if self.journal is not None:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            with open(self.journal, "a", encoding="utf-8") as f:
                f.write(ident + "\n")
                f.flush()
                os.fsync(f.fileno())
            if len(self.played) == JOURNAL_KEEP and self.journal.stat().st_size > 200_000:
                self.journal.write_text("\n".join(self.played) + "\n", encoding="utf-8")


class Announcer:
    """Plays the queue through pygame.mixer, one announcement at a time, on its own thread."""

    def __init__(self, pack: VoicePack, queue: AnnouncementQueue, *, clock: Callable[[], float] = time.time,
                 with_agency: bool = False, on_start: Callable[[m.Announce, list[str]], None] | None = None) -> None:
        self.pack = pack
        self.queue = queue
        self.clock = clock
        self.with_agency = with_agency
        self.on_start = on_start
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="announcer", daemon=True)
        self._mixer_ready = False

    def clips_for(self, a: m.Announce) -> list[str]:
        return announcement(a.ticket, a.gerai_number, a.gerai_name, a.agency_name if self.with_agency else None,
                            recall=a.recall).clips

    def start(self) -> None:
        self._thread.start()

    def offer(self, a: m.Announce) -> None:
        with self._cond:
            if self.queue.offer(a):
                self._cond.notify_all()

    def _init_mixer(self) -> bool:
        try:
            import pygame

            pygame.mixer.pre_init(frequency=RATE, size=-16, channels=1, buffer=512)
            pygame.mixer.init()
            self._mixer_ready = True
        except Exception as exc:  # no audio device: announcements are logged, not played
            log.error("no audio output (%s): announcements will only be logged", exc)
        return self._mixer_ready

    def _run(self) -> None:
        self._init_mixer()
        while not self._stop.is_set():
            with self._cond:
                a = self.queue.next(self.clock())
                if a is None:
                    self._cond.wait(0.5)
                    continue
            clips = self.clips_for(a)
            missing = self.pack.missing(clips)
            if missing:
                log.warning("voice pack %s lacks %s: they are skipped", self.pack.source, ", ".join(missing))
            if self.on_start is not None:
                self.on_start(a, clips)
            pcm = self.pack.render(clips)
            seconds = len(pcm) / 2 / RATE
            if self._mixer_ready:
                import pygame

                pygame.mixer.Sound(buffer=pcm).play()
            log.info("announcing %s -> gerai %s (%.1f s)", a.ticket, a.gerai_number, seconds)
            self._stop.wait(seconds)  # one announcement at a time: wait for this one to finish

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(2)
