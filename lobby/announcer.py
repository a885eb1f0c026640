"""The announcements of a lobby: one at a time, in call order, never twice, never dropped silently.

:class:`AnnouncementQueue` is the policy, pure and clocked by the caller:

* calls are announced in the order they arrive; a recall is a new announcement
  (it has its own id), except that a call still waiting for its turn absorbs
  a later call of the same ticket to the same gerai (one announcement, both ids
  accounted as announced: *merged*);
* when calls queue up (``short_from`` or more waiting, the one about to start
  included, or a call that waited ``SHORT_AFTER_AGE``) they are said in the short
  form ("a dua belas, gerai lima"), about a third of the full one, the waiting
  calls of the same gerai together ("a dua belas, a tiga belas, gerai lima":
  merged), and in the compact form ("a dua belas, lima") when even that would
  bring the last waiting call near ``max_age``, so a burst of 30 calls is said
  within the two minutes a call stays worth announcing;
* a call is *stale*, and dropped (counted, logged, still on the screen), only
  when its age passes ``max_age``; its age is measured on the lobby's own
  monotonic clock from the moment the lobby received it, plus the age it already
  had then by the central's clock as the lobby learned it from the link (the
  central's lease), never by comparing the lobby's wall clock with the call's
  time: a lobby whose clock is minutes off still announces every call;
* an id already announced is never announced again, even after a restart: ids
  are appended to a small journal file before playback starts.

Every call ends in exactly one of the buckets of :class:`Outcome`, which the demo
and the lobby's log report.

:class:`Announcer` plays the queue through a :class:`Player` (pygame.mixer, in
the format the sound card really plays) on its own thread; its :meth:`Announcer.poll`
is the whole step, so tests drive it on a simulated clock instead of waiting for
real-time playback.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from antre.broker.wire import messages as m
from antre.lobby.speech import Announcement, Form, Names, VoiceTemplate, announcement
from antre.lobby.voicepack import OutputFormat, VoicePack

log = logging.getLogger(__name__)

JOURNAL_KEEP = 2000
#: silence between two announcements (seconds), and after a short one (a burst is said briskly)
GAP = 0.4
SHORT_GAP = 0.25
#: a call that has waited this long for its turn is said in the short form, whatever follows it
SHORT_AFTER_AGE = 20.0
#: the compact form is used when the short one would bring the last queued call past this share of max_age
COMPACT_AT = 0.85
#: a short announcement after this much quiet starts with the chime again
CHIME_AFTER_QUIET = 1.5

Outcome = Literal["full", "short", "merged", "stale", "chime_only"]
OUTCOMES: tuple[Outcome, ...] = ("full", "short", "merged", "stale", "chime_only")


@dataclass
class Pending:
    """A call waiting for its turn (with the calls merged into it)."""

    calls: list[m.Announce]
    received: float  # the lobby's monotonic clock when the first call arrived
    age_at_receipt: float = 0.0  # its age by the central's clock at that moment (0: unknown)

    @property
    def first(self) -> m.Announce:
        return self.calls[0]

    def age(self, now: float) -> float:
        return self.age_at_receipt + max(0.0, now - self.received)


class AnnouncementQueue:
    """Order, merging, staleness and the journal of announced ids (see the module docstring)."""

    def __init__(self, journal: Path | None = None, max_age: float = 120.0, short_from: int = 3) -> None:
        self.max_age = max_age
        self.short_from = short_from
        self.journal = journal
        self._queue: collections.deque[Pending] = collections.deque()
        self._queued_ids: set[str] = set()
        self.played: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.dropped: list[tuple[str, str]] = []  # (id, reason): stale calls and ignored redeliveries
        #: call id -> how it ended (every call offered ends in exactly one bucket, or is still queued)
        self.outcome: dict[str, Outcome] = {}
        if journal is not None and journal.exists():
            for line in journal.read_text(encoding="utf-8").splitlines()[-JOURNAL_KEEP:]:
                if line.strip():
                    self.played[line.strip()] = None

    def offer(self, a: m.Announce, received: float = 0.0, age_at_receipt: float = 0.0) -> bool:
        """Queue a call unless it was announced or queued already (a redelivery)."""
        if a.id in self.played or a.id in self._queued_ids:
            self.dropped.append((a.id, "duplicate"))
            return False
        self._queued_ids.add(a.id)
        for pending in self._queue:
            if pending.first.ticket == a.ticket and pending.first.gerai == a.gerai:
                pending.calls.append(a)  # said once, when its turn comes
                return True
        self._queue.append(Pending([a], received, max(0.0, age_at_receipt)))
        return True

    def next(self, now: float) -> tuple[Pending, Form] | None:
        """The next call to announce at ``now`` (monotonic) and its form; stale ones are dropped."""
        while self._queue:
            waiting = len(self._queue)
            p = self._queue.popleft()
            for a in p.calls:
                self._queued_ids.discard(a.id)
            age = p.age(now)
            if age > self.max_age:
                for a in p.calls:
                    self.dropped.append((a.id, "stale"))
                    self.outcome[a.id] = "stale"
                    self._remember(a.id)
                log.warning("not announced: call %s for gerai %s is %.0f s old (limit %.0f s); it stays on "
                            "the screen", p.first.ticket, p.first.gerai, age, self.max_age)
                continue
            for a in p.calls:
                self._remember(a.id)
            return p, ("short" if waiting >= self.short_from or age > SHORT_AFTER_AGE else "full")
        return None

    def take_for_gerai(self, gerai: str) -> list[Pending]:
        """Remove and return the waiting calls of ``gerai`` (said together with the one starting now)."""
        taken = [p for p in self._queue if p.first.gerai == gerai]
        for p in taken:
            self._queue.remove(p)
            for a in p.calls:
                self._queued_ids.discard(a.id)
                self._remember(a.id)
        return taken

    def projected_age(self, now: float, per_call: float) -> float:
        """The largest age a queued call will have when its turn comes, if each before it takes ``per_call``."""
        return max((p.age(now) + (i + 1) * per_call for i, p in enumerate(self._queue)), default=0.0)

    def settle(self, p: Pending, how: Outcome) -> None:
        """Record how the calls of ``p`` were announced (the first as ``how``, repeats of it as merged)."""
        for i, a in enumerate(p.calls):
            self.outcome[a.id] = how if i == 0 or how in ("chime_only", "merged") else "merged"

    def counts(self) -> dict[str, int]:
        """Calls per outcome, and those still waiting."""
        c = collections.Counter(self.outcome.values())
        result: dict[str, int] = {k: c.get(k, 0) for k in OUTCOMES}
        result["queued"] = sum(len(p.calls) for p in self._queue)
        return result

    def waiting(self) -> list[m.Announce]:
        return [a for p in self._queue for a in p.calls]

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


@dataclass(frozen=True)
class Started:
    """An announcement that began: what is said, from when to when (monotonic seconds)."""

    calls: tuple[m.Announce, ...]
    form: Form
    announcement: Announcement
    at: float
    seconds: float
    spoken: bool = True  # False: the pack lacked a clip, only the chime was played
    #: (seconds from the start, call) when each ticket said begins to be heard
    spans: tuple[tuple[float, m.Announce], ...] = ()

    @property
    def first(self) -> m.Announce:
        return self.calls[0]

    def call_at(self, now: float) -> m.Announce:
        """The call being said at ``now`` (the last one begun; before or after the words, the first or last)."""
        current = self.calls[0]
        for offset, call in self.spans:
            if self.at + offset <= now:
                current = call
        return current

    @property
    def ends(self) -> float:
        return self.at + self.seconds


class Player(Protocol):
    """Where announcements are heard."""

    #: what the output really plays
    format: OutputFormat

    def play(self, pcm: bytes) -> None: ...


class SilentPlayer:
    """No sound card: announcements keep their timing (the screen follows them) but are not heard."""

    def __init__(self, out: OutputFormat | None = None) -> None:
        self.format = out or OutputFormat()

    def play(self, pcm: bytes) -> None:
        pass


class PygamePlayer:
    """pygame.mixer, in the format the sound card really plays.

    ``pygame.mixer.pre_init`` asks for 16-bit mono at the pack's rate before the mixer
    starts (pygame.init() would start it with its own defaults); SDL may still open the
    device otherwise (48 kHz stereo is common), so the real format is read back with
    ``pygame.mixer.get_init()`` and every announcement is rendered in it: a buffer in the
    wrong format would play at the wrong speed.
    """

    def __init__(self, rate: int) -> None:
        import pygame

        if pygame.mixer.get_init() is None:
            pygame.mixer.pre_init(frequency=rate, size=-16, channels=1, buffer=1024)
            pygame.mixer.init()
        got = pygame.mixer.get_init()
        if got is None:
            raise RuntimeError("pygame.mixer did not start")
        freq, size, channels = got
        self.format = OutputFormat(int(freq), int(size), int(channels))
        if (freq, size, channels) != (rate, -16, 1):
            log.info("sound card plays %d Hz, format %d, %d channel(s): announcements are rendered so",
                     freq, size, channels)
        self._pygame = pygame

    def play(self, pcm: bytes) -> None:
        self._pygame.mixer.Sound(buffer=pcm).play()


class Announcer:
    """Announces the queue, one at a time, through a :class:`Player`, on its own thread.

    ``on_start`` is called as each announcement starts (the screen's main panel follows
    it); ``mono`` is the monotonic clock (a test passes a simulated one and calls
    :meth:`poll` itself).
    """

    def __init__(self, pack: VoicePack, queue: AnnouncementQueue, *, template: VoiceTemplate | None = None,
                 names: Names | None = None, player: Player | None = None,
                 mono: Callable[[], float] = time.monotonic, with_agency: bool = False,
                 on_start: Callable[[Started], None] | None = None) -> None:
        self.pack = pack
        self.queue = queue
        self.template = template or VoiceTemplate()
        self.names = names
        self.player = player
        self.mono = mono
        self.with_agency = with_agency
        self.on_start = on_start
        self.current: Started | None = None
        self.history: list[Started] = []
        #: why the calls are not heard (no audio device), for the lobby's health report; None: heard
        self.audio_fault: str | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="announcer", daemon=True)

    # ------------------------------------------------------------------ policy

    def announcement_for(self, a: m.Announce, form: Form = "full", chime: bool = True,
                         also: list[m.Announce] | None = None) -> Announcement:
        return announcement(a.ticket, a.gerai_number, a.gerai_name, a.agency_name if self.with_agency else None,
                            recall=a.recall, gerai=a.gerai, service=a.service, names=self.names,
                            template=self.template, form=form, chime=chime,
                            also=[c.ticket for c in also or []])

    def clips_for(self, a: m.Announce) -> list[str]:
        return self.announcement_for(a).clips

    def offer(self, a: m.Announce, received: float | None = None, age_at_receipt: float = 0.0) -> None:
        with self._cond:
            if self.queue.offer(a, self.mono() if received is None else received, age_at_receipt):
                self._cond.notify_all()

    def poll(self, now: float | None = None) -> Started | None:
        """Start the next announcement if the previous one is over; what started, or None."""
        now = self.mono() if now is None else now
        with self._cond:
            last = self.current
            if last is not None and now < last.ends + (GAP if last.form == "full" else SHORT_GAP):
                return None
            picked = self.queue.next(now)
            if picked is None:
                return None
            pending, form = picked
            a = pending.first
            recall = all(c.recall for c in pending.calls)
            if recall != a.recall:
                a = next(c for c in pending.calls if c.recall == recall)
            chime = form == "full" or last is None or last.form == "full" or now - last.ends > CHIME_AFTER_QUIET
            together: list[Pending] = []
            if form == "short":  # a backlog: the other calls of this gerai are said with this one
                together = self.queue.take_for_gerai(a.gerai)
            also = [p.first for p in together]
            said = self.announcement_for(a, form, chime, also)
            if form == "short" and not self.pack.missing(said.clips):
                per_call = self.pack.duration(self.announcement_for(a, "short", False)) + SHORT_GAP
                if self.queue.projected_age(now, per_call) > COMPACT_AT * self.queue.max_age:
                    form = "compact"
                    said = self.announcement_for(a, form, chime, also)
            missing = self.pack.missing(said.clips)
            spoken = not missing
            if missing:
                log.error("voice pack %s lacks %s: call %s for gerai %s gets the chime only (see "
                          "`antre lobby voicepack check`)", self.pack.source, ", ".join(missing), a.ticket, a.gerai)
                said = Announcement([], ["chime"], [0.0], form)
            out = self.player.format if self.player is not None else OutputFormat(self.pack.rate)
            pcm = self.pack.render(said, out)
            calls = [a] + also
            spans: list[tuple[float, m.Announce]] = []
            if spoken:
                starts = self.pack.offsets(said)
                spans = [(starts[index][0], calls[k]) for k, (index, _) in enumerate(said.marks[:len(calls)])]
            started = Started(tuple(pending.calls) + tuple(c for p in together for c in p.calls), form, said, now,
                              out.seconds(pcm), spoken, tuple(spans))
            self.queue.settle(pending, ("full" if form == "full" else "short") if spoken else "chime_only")
            for p in together:
                self.queue.settle(p, "merged" if spoken else "chime_only")
            self.current = started
            self.history.append(started)
            del self.history[:-200]
        if self.on_start is not None:
            self.on_start(started)
        if self.player is not None:
            self.player.play(pcm)
        log.info("announcing %s -> gerai %s (%s, %.1f s)%s", a.ticket, a.gerai_number, form, started.seconds,
                 f", merged with {len(pending.calls) - 1} more" if len(pending.calls) > 1 else "")
        return started

    def waiting(self) -> list[m.Announce]:
        """The calls still waiting for their turn (thread-safe)."""
        with self._cond:
            return self.queue.waiting()

    def speaking(self, now: float | None = None) -> Started | None:
        """The announcement being heard at ``now`` (None in the silence between two)."""
        now = self.mono() if now is None else now
        current = self.current
        return current if current is not None and current.at <= now < current.ends else None

    # ------------------------------------------------------------------ thread

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        if self.player is None:
            try:
                self.player = PygamePlayer(self.pack.rate)
            except Exception as exc:  # no audio device: the timing (and the screen) goes on, silently
                log.error("no audio output (%s): announcements are shown and logged, not heard", exc)
                self.player = SilentPlayer(OutputFormat(self.pack.rate))
                self.audio_fault = f"audio: no output device ({exc})"[:200]
        while not self._stop.is_set():
            self.poll()
            with self._cond:
                current = self.current
                wait = 0.5
                if current is not None:
                    gap = GAP if current.form == "full" else SHORT_GAP
                    wait = min(wait, max(0.01, current.ends + gap - self.mono()))
                if not self._stop.is_set():
                    self._cond.wait(wait)

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(2)


@dataclass
class LeaseClock:
    """The central's clock as a lobby learns it from the central's lease (renewed every few seconds).

    A lobby may not send commands, so it cannot ping; the lease's ``ts`` is the central's
    clock when it was published and reaches the lobby a few milliseconds later.  Each
    lease is a sample (its ``ts``, the lobby's monotonic time of receipt); the central's
    time now is the best of them carried forward on the monotonic clock (the sample that
    travelled fastest gives the latest estimate; the retained lease replayed at subscribe
    is old, and a later renewal supersedes it).  Samples older than ``keep`` are forgotten
    (the monotonic clock drifts).
    """

    keep: float = 600.0
    samples: collections.deque[tuple[float, float]] = field(default_factory=lambda: collections.deque(maxlen=256))

    def sample(self, central_ts: float, received: float) -> None:
        self.samples.append((central_ts, received))

    def now(self, mono: float) -> float | None:
        """The central's time at the lobby's monotonic ``mono``; None before any lease with a ``ts``."""
        fresh = [ts + (mono - at) for ts, at in self.samples if mono - at <= self.keep]
        return max(fresh) if fresh else None

    def age(self, called_at: float, mono: float) -> float:
        """How old a call made at ``called_at`` (central's clock) is at ``mono``; 0 when unknown."""
        central = self.now(mono)
        return 0.0 if central is None else max(0.0, central - called_at)
