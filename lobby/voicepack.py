"""Voice packs: a folder of WAV clips, one per word or phrase, concatenated at play time.

An MPP can drop in recordings of a human voice (same clip names, any sample
rate: they are converted when loaded).  The default pack is generated from
Debian's espeak-ng Indonesian voice (``-v id``) by ``antre lobby voicepack
build`` into a cache directory, never into the repository.  The chime is
synthesised here (two soft sine tones), so every pack has one.
"""

from __future__ import annotations

import array
import logging
import math
import os
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

from antre.lobby.speech import clip_texts

log = logging.getLogger(__name__)

RATE = 22050  # espeak-ng's rate; every clip is converted to 16-bit mono at this rate


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "antre" / "voicepacks" / "espeak-id"


def chime(rate: int = RATE) -> bytes:
    """A two-tone "ding-dong" (E6 then C6), 16-bit mono PCM, with a soft decay."""
    samples = array.array("h")
    for freq, seconds in ((1318.5, 0.45), (1046.5, 0.7)):
        n = int(rate * seconds)
        for i in range(n):
            envelope = math.exp(-3.2 * i / n) * min(1.0, i / (0.01 * rate))
            samples.append(int(12000 * envelope * math.sin(2 * math.pi * freq * i / rate)))
    return samples.tobytes()


def write_wav(path: Path, pcm: bytes, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def read_pcm(path: Path) -> bytes:
    """16-bit mono PCM at RATE from any 8/16-bit mono or stereo WAV (nearest-sample resampling)."""
    with wave.open(str(path), "rb") as w:
        channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.readframes(w.getnframes())
    if width == 1:
        samples = array.array("h", ((b - 128) << 8 for b in frames))
    elif width == 2:
        samples = array.array("h")
        samples.frombytes(frames)
    else:
        raise ValueError(f"{path}: {8 * width}-bit WAV is not supported; use 16-bit")
    if channels == 2:
        samples = array.array("h", ((samples[i] + samples[i + 1]) // 2 for i in range(0, len(samples) - 1, 2)))
    elif channels != 1:
        raise ValueError(f"{path}: {channels} channels are not supported")
    if rate != RATE:
        n = int(len(samples) * RATE / rate)
        samples = array.array("h", (samples[min(len(samples) - 1, int(i * rate / RATE))] for i in range(n)))
    return samples.tobytes()


def rms(pcm: bytes) -> float:
    samples = array.array("h")
    samples.frombytes(pcm)
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def build(out: Path, agencies: list[str] = (), espeak: str | None = None, speed: int = 135) -> list[Path]:  # type: ignore[assignment]
    """Generate every clip with espeak-ng's Indonesian voice into ``out``."""
    binary = espeak or shutil.which("espeak-ng")
    if binary is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in clip_texts(list(agencies)).items():
        path = out / f"{name}.wav"
        if name == "chime":
            write_wav(path, chime())
        else:
            subprocess.run([binary, "-v", "id", "-s", str(speed), "-w", str(path), text], check=True,
                           capture_output=True, timeout=30)
            write_wav(path, _trim(read_pcm(path)))
        written.append(path)
    return written


def _trim(pcm: bytes, threshold: int = 300) -> bytes:
    """Cut the leading and trailing silence espeak-ng leaves, so words join naturally."""
    samples = array.array("h")
    samples.frombytes(pcm)
    loud = [i for i, s in enumerate(samples) if abs(s) > threshold]
    if not loud:
        return pcm
    start, end = max(0, loud[0] - int(0.01 * RATE)), min(len(samples), loud[-1] + int(0.03 * RATE))
    return samples[start:end].tobytes()


@dataclass
class VoicePack:
    """Loaded clips (16-bit mono PCM at RATE) by name."""

    clips: dict[str, bytes]
    source: str

    @classmethod
    def load(cls, folder: Path | None) -> VoicePack:
        """The pack in ``folder``; without one, the chime alone (and the log says why)."""
        clips: dict[str, bytes] = {}
        if folder is not None and folder.is_dir():
            for path in sorted(folder.glob("*.wav")):
                try:
                    clips[path.stem] = read_pcm(path)
                except (OSError, EOFError, ValueError, wave.Error) as exc:
                    log.warning("voice clip %s unreadable: %s", path, exc)
        if not clips:
            log.warning("no voice pack at %s (build one with `antre lobby voicepack build`): the lobby "
                        "plays the chime alone", folder)
        clips.setdefault("chime", chime())
        return cls(clips, str(folder) if folder else "none")

    def missing(self, names: list[str]) -> list[str]:
        return [n for n in names if n not in self.clips]

    def render(self, names: list[str], gap: float = 0.06, after_chime: float = 0.35) -> bytes:
        """The clips of an announcement joined with natural gaps; missing clips are skipped."""
        out = bytearray()
        for name in names:
            pcm = self.clips.get(name)
            if pcm is None:
                continue
            out += pcm
            out += b"\x00\x00" * int(RATE * (after_chime if name == "chime" else gap))
        return bytes(out)
