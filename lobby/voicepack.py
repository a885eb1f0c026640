"""Voice packs: a folder of clips, one per word or phrase, joined with pauses at play time.

An MPP can drop in recordings of a human voice (same clip names): any WAV
libsndfile reads (8/16/24/32-bit integer or float, mono or stereo, any sample
rate; FLAC too).  Each clip is mixed down to mono, resampled to the pack's rate
with a proper band-limited resampler (libsoxr, "HQ": a tone above the new
Nyquist frequency is filtered out, not folded back as a false tone) and
loudness-matched: its loudness is measured as ITU-R BS.1770-4 integrated
loudness (K-weighting, 400 ms gated blocks) and brought to ``TARGET_LUFS``, so
a quietly recorded word is not lost between two loud ones.

:meth:`VoicePack.check` says, clip by clip, what a site needs and the pack
lacks or cannot play; ``antre lobby voicepack check`` and the lobby's start-up
print it.  The default pack is generated from Debian's espeak-ng Indonesian
voice (``-v id``) by ``antre lobby voicepack build`` into a cache directory,
never into the repository.  The chime is synthesised here (two soft sine
tones), so every pack has one.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import soxr

from antre.lobby.speech import Announcement, clip_texts

log = logging.getLogger(__name__)

RATE = 22050  # espeak-ng's rate; every clip is converted to mono float at this rate
TARGET_LUFS = -20.0  # speech clips are brought to this loudness
CHIME_LUFS = -22.0  # the chime a little below the words
SILENT_LUFS = -50.0  # a clip quieter than this is reported as silent
MAX_GAIN_DB = 30.0
PEAK = 0.97  # gains never push a sample past this (no clipping)
CLIP_SUFFIXES = (".wav", ".flac")

Samples = Any  # numpy float32 array, mono


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "antre" / "voicepacks" / "espeak-id"


# --------------------------------------------------------------------------- audio


def chime(rate: int = RATE) -> Samples:
    """A two-tone "ding-dong" (E6 then C6) with a soft decay, mono float."""
    parts = []
    for freq, seconds in ((1318.5, 0.45), (1046.5, 0.7)):
        n = int(rate * seconds)
        i = np.arange(n)
        envelope = np.exp(-3.2 * i / n) * np.minimum(1.0, i / (0.01 * rate))
        parts.append(0.37 * envelope * np.sin(2 * np.pi * freq * i / rate))
    return np.concatenate(parts).astype(np.float32)


def read_audio(path: Path, rate: int = RATE) -> Samples:
    """A clip as mono float32 at ``rate``, from any WAV/FLAC libsndfile reads.

    Raises ValueError (with the file and the reason) for a file that is not audio.
    """
    try:
        data, source_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ValueError(f"{path.name}: not a readable audio file ({exc})") from None
    if data.shape[0] == 0:
        raise ValueError(f"{path.name}: no samples")
    mono = data.mean(axis=1, dtype=np.float32)
    return resample(mono, int(source_rate), rate)


def resample(samples: Samples, source_rate: int, rate: int) -> Samples:
    """Band-limited resampling (libsoxr, high quality)."""
    if source_rate == rate:
        return np.ascontiguousarray(samples, dtype=np.float32)
    return np.asarray(soxr.resample(np.asarray(samples, dtype=np.float32), source_rate, rate, quality="HQ"),
                      dtype=np.float32)


def write_wav(path: Path, samples: Samples, rate: int = RATE) -> None:
    soundfile.write(str(path), np.clip(samples, -1.0, 1.0), rate, subtype="PCM_16")


def _biquad_power(b: tuple[float, float, float], a: tuple[float, float, float], w: Samples) -> Samples:
    z = np.exp(-1j * w)
    num = b[0] + b[1] * z + b[2] * z * z
    den = a[0] + a[1] * z + a[2] * z * z
    return np.abs(num / den) ** 2


def k_weighting_power(freqs: Samples, rate: int) -> Samples:
    """|H(f)|^2 of BS.1770's K-weighting (pre-filter shelf and RLB high-pass) at ``rate``.

    The filters are designed for any rate from their analogue parameters (as libebur128
    and pyloudnorm do); at 48 kHz they are the coefficients printed in BS.1770-4.
    """
    w = 2 * np.pi * np.asarray(freqs) / rate
    # stage 1: high shelf, +4 dB above ~1.7 kHz (the head's acoustic effect)
    gain_db, fc, q = 3.999843853973347, 1681.974450955533, 0.7071752369554196
    k = math.tan(math.pi * fc / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = ((vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0)
    shelf_a = (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    # stage 2: RLB high-pass at ~38 Hz
    fc, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * fc / rate)
    a0 = 1 + k / q + k * k
    hp_b = (1.0, -2.0, 1.0)
    hp_a = (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    return _biquad_power(shelf_b, shelf_a, w) * _biquad_power(hp_b, hp_a, w)


def loudness(samples: Samples, rate: int = RATE) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4, one channel): K-weighted mean square over
    400 ms blocks (75 % overlap), absolute gate -70 LUFS, relative gate -10 LU.  A clip shorter
    than one block is one block.  -inf for digital silence."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return -math.inf
    block = int(0.4 * rate)
    hop = int(0.1 * rate)
    if x.size <= block:
        blocks = [x]
    else:
        blocks = [x[s:s + block] for s in range(0, x.size - block + 1, hop)]
    powers = []
    weight_cache: dict[int, Samples] = {}
    for blk in blocks:
        n = blk.size
        if n not in weight_cache:
            freqs = np.fft.rfftfreq(n, 1 / rate)
            weights = np.full(freqs.size, 2.0)
            weights[0] = 1.0
            if n % 2 == 0:
                weights[-1] = 1.0
            weight_cache[n] = weights * k_weighting_power(freqs, rate)
        spectrum = np.fft.rfft(blk)
        powers.append(float(np.sum(weight_cache[n] * np.abs(spectrum) ** 2)) / (n * n))
    p = np.asarray(powers)
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(p)
    gated = p[levels > -70.0]
    if gated.size == 0:
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(gated.mean())) - 10.0
    final = p[(levels > -70.0) & (levels > relative)]
    return -0.691 + 10 * math.log10(float(final.mean()))


def match_loudness(samples: Samples, target: float, rate: int = RATE) -> tuple[Samples, float]:
    """``samples`` brought to ``target`` LUFS (gain limited so no sample clips); and the gain in dB."""
    level = loudness(samples, rate)
    if not math.isfinite(level):
        return samples, 0.0
    gain_db = max(-MAX_GAIN_DB, min(MAX_GAIN_DB, target - level))
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak > 0:
        gain_db = min(gain_db, 20 * math.log10(PEAK / peak))
    return (samples * 10 ** (gain_db / 20)).astype(np.float32), gain_db


def trim(samples: Samples, rate: int = RATE, threshold: float = 0.01) -> Samples:
    """Cut the leading and trailing silence a synthesizer or a recorder leaves, so words join naturally."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return samples
    start = max(0, int(loud[0]) - int(0.01 * rate))
    end = min(samples.size, int(loud[-1]) + int(0.03 * rate))
    return samples[start:end]


# --------------------------------------------------------------------------- output formats


@dataclass(frozen=True)
class OutputFormat:
    """What the sound card really plays (``pygame.mixer.get_init()``): rate, sample format, channels."""

    rate: int = RATE
    size: int = -16  # pygame's format: -16 signed 16-bit, 16 unsigned, 8/-8, 32 float
    channels: int = 1

    @property
    def bytes_per_frame(self) -> int:
        return abs(self.size) // 8 * self.channels

    def seconds(self, pcm: bytes) -> float:
        return len(pcm) / self.bytes_per_frame / self.rate


def encode(samples: Samples, out: OutputFormat, rate: int = RATE) -> bytes:
    """Mono float samples at ``rate`` as the bytes the output plays at its own rate and format."""
    x = resample(np.asarray(samples, dtype=np.float32), rate, out.rate)
    x = np.clip(x, -1.0, 1.0)
    if out.size == -16:
        data = (x * 32767).astype("<i2")
    elif out.size == 16:
        data = (x * 32767 + 32768).astype("<u2")
    elif out.size == -8:
        data = (x * 127).astype(np.int8)
    elif out.size == 8:
        data = (x * 127 + 128).astype(np.uint8)
    elif out.size == 32:
        data = x.astype("<f4")
    elif out.size == -32:
        data = (x * 2147483647).astype("<i4")
    else:
        raise ValueError(f"unsupported output sample format {out.size}")
    if out.channels > 1:
        data = np.repeat(data, out.channels)  # the same voice on every channel, interleaved
    return bytes(data.tobytes())


# --------------------------------------------------------------------------- building


def build(out: Path, texts: Mapping[str, str] | Iterable[str] = (), espeak: str | None = None,
          speed: int = 160) -> list[Path]:
    """Generate every clip with espeak-ng's Indonesian voice into ``out``.

    ``texts`` maps clip names to what is said (a site's needs, see
    :func:`antre.lobby.room.Room.clips_needed`); a plain list is taken as agency names
    said as written, added to the clips every pack has.
    """
    binary = espeak or shutil.which("espeak-ng")
    if binary is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    wanted = dict(texts) if isinstance(texts, Mapping) else clip_texts(list(texts))
    for name, text in clip_texts().items():
        wanted.setdefault(name, text)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(wanted.items()):
        path = out / f"{name}.wav"
        if name == "chime":
            write_wav(path, chime())
        else:
            subprocess.run([binary, "-v", "id", "-s", str(speed), "-w", str(path), text], check=True,
                           capture_output=True, timeout=30)
            write_wav(path, trim(read_audio(path)))
        written.append(path)
    return written


# --------------------------------------------------------------------------- the pack


@dataclass
class VoicePack:
    """Loaded clips (mono float32 at ``rate``, loudness-matched) by name, and what could not be loaded."""

    clips: dict[str, Samples]
    source: str
    rate: int = RATE
    #: clip name -> why its file could not be used
    unreadable: dict[str, str] = field(default_factory=dict)
    #: clip name -> gain applied to match loudness (dB)
    gains: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path | None, rate: int = RATE, target: float = TARGET_LUFS) -> VoicePack:
        """The pack in ``folder``; without one, the chime alone (and the log says why)."""
        clips: dict[str, Samples] = {}
        unreadable: dict[str, str] = {}
        gains: dict[str, float] = {}
        if folder is not None and folder.is_dir():
            for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in CLIP_SUFFIXES):
                try:
                    samples = read_audio(path, rate)
                except ValueError as exc:
                    unreadable[path.stem] = str(exc)
                    log.error("voice clip %s unreadable: %s", path, exc)
                    continue
                level = loudness(samples, rate)
                if not math.isfinite(level) or level < SILENT_LUFS:
                    unreadable[path.stem] = f"{path.name}: silent ({level:.0f} LUFS)"
                    log.error("voice clip %s is silent (%.0f LUFS)", path, level)
                    continue
                clips[path.stem], gains[path.stem] = match_loudness(
                    samples, CHIME_LUFS if path.stem == "chime" else target, rate)
        if not clips:
            log.warning("no voice pack at %s (build one with `antre lobby voicepack build`): the lobby "
                        "plays the chime alone", folder)
        if "chime" not in clips:
            clips["chime"], gains["chime"] = match_loudness(chime(rate), CHIME_LUFS, rate)
        return cls(clips, str(folder) if folder else "none", rate, unreadable, gains)

    def missing(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if n not in self.clips]

    def check(self, needed: Iterable[str]) -> list[str]:
        """Problems with the clips ``needed``: each missing or unusable clip, by name."""
        problems = []
        for name in sorted(set(needed)):
            if name in self.unreadable:
                problems.append(f"{name}: {self.unreadable[name]}")
            elif name not in self.clips:
                problems.append(f"{name}: missing ({name}.wav)")
        return problems

    def samples(self, announcement: Announcement) -> Samples:
        """The announcement as mono float samples at the pack's rate; a missing clip is an error."""
        missing = self.missing(announcement.clips)
        if missing:
            raise KeyError(f"voice pack {self.source} lacks {', '.join(missing)}")
        parts = []
        for name, pause in zip(announcement.clips, announcement.pauses, strict=True):
            parts.append(self.clips[name])
            parts.append(np.zeros(int(round(pause * self.rate)), dtype=np.float32))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def duration(self, announcement: Announcement) -> float:
        """Seconds the announcement lasts (from its sample count)."""
        return float(self.samples(announcement).size) / self.rate

    def render(self, announcement: Announcement, out: OutputFormat | None = None) -> bytes:
        """The announcement as the bytes ``out`` plays (default: 16-bit mono at the pack's rate)."""
        return encode(self.samples(announcement), out or OutputFormat(self.rate), self.rate)

    def offsets(self, announcement: Announcement) -> list[tuple[float, float, str]]:
        """(start, end, clip) of every clip in seconds from the start: what is heard when."""
        spans = []
        t = 0.0
        for name, pause in zip(announcement.clips, announcement.pauses, strict=True):
            n = self.clips[name].size / self.rate
            spans.append((t, t + n, name))
            t += n + int(round(pause * self.rate)) / self.rate
        return spans
