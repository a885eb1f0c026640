"""Indonesian announcement words, clip lists, voice packs (reading, resampling, loudness, checking)
and the announcement queue (order, merges, short forms, staleness by receipt time, the journal)."""

from __future__ import annotations

import math
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile

from antre.broker.wire import messages as m
from antre.central.config import load_site
from antre.lobby import voicepack
from antre.lobby.announcer import AnnouncementQueue, Announcer, LeaseClock, SilentPlayer, Started
from antre.lobby.room import Room
from antre.lobby.speech import (
    BEFORE_SILAKAN, VoiceTemplate, announcement, clip_texts, number_words, numbers_vocabulary, spell_ticket,
)
from antre.lobby.voicepack import OutputFormat, VoicePack
from tests.conftest import ROOT

KUPANG = ROOT / "examples" / "kupang.toml"
RATE = voicepack.RATE


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "nol"), (1, "satu"), (9, "sembilan"), (10, "sepuluh"), (11, "sebelas"), (12, "dua belas"),
        (19, "sembilan belas"), (20, "dua puluh"), (21, "dua puluh satu"), (99, "sembilan puluh sembilan"),
        (100, "seratus"), (101, "seratus satu"), (110, "seratus sepuluh"), (111, "seratus sebelas"),
        (200, "dua ratus"), (999, "sembilan ratus sembilan puluh sembilan"), (1000, "seribu"),
        (1001, "seribu satu"), (1100, "seribu seratus"), (2000, "dua ribu"), (2023, "dua ribu dua puluh tiga"),
        (9999, "sembilan ribu sembilan ratus sembilan puluh sembilan"), (11000, "sebelas ribu"),
        (100000, "seratus ribu"),
    ],
)
def test_number_words(n: int, words: str) -> None:
    assert " ".join(number_words(n)) == words


def test_every_number_to_9999_uses_only_pack_words() -> None:
    vocabulary = set(clip_texts())
    for n in range(10000):
        assert set(number_words(n)) <= vocabulary, n
    assert numbers_vocabulary(150) == {w for n in range(1, 151) for w in number_words(n)}
    assert "ribu" in numbers_vocabulary(99_999) and "ribu" not in numbers_vocabulary(1999)


def test_tickets_are_spelled_without_padding() -> None:
    assert spell_ticket("A012") == ["a", "dua", "belas"]
    assert spell_ticket("A-012") == ["a", "dua", "belas"]
    assert spell_ticket("NP100") == ["en", "pe", "seratus"]
    assert spell_ticket("X001") == ["eks", "satu"]
    assert spell_ticket("V002") == ["fe", "dua"]  # PUEBI
    with pytest.raises(ValueError):
        spell_ticket("012")


def test_announcement_words_clips_and_pauses() -> None:
    a = announcement("A012", 5, "Gerai 5")
    assert a.text == "nomor antrean a dua belas silakan menuju gerai lima"
    assert a.clips == ["chime", "nomor_antrean", "letter_a", "dua", "belas", "silakan_menuju", "gerai", "lima"]
    pause = dict(zip(a.clips, a.pauses))
    # natural pauses: the longest before "silakan menuju", short ones inside the number
    assert pause["belas"] == BEFORE_SILAKAN == max(a.pauses)
    assert pause["dua"] < 0.1 and pause["chime"] >= 0.3
    r = announcement("NP07", 13, "Gerai 13", agency="Dukcapil", recall=True)
    assert r.clips[:3] == ["chime", "panggilan_ulang", "nomor_antrean"]
    assert r.clips[-3:] == ["tiga", "belas", "agency_dukcapil"]
    named = announcement("B003", 21, "Loket Prioritas", gerai="g21")
    assert named.clips[-1] == "gerai_g21" and named.words[-2:] == ["loket", "prioritas"]
    short = announcement("A012", 5, "Gerai 5", form="short", chime=False)
    assert short.clips == ["letter_a", "dua", "belas", "gerai", "lima"] and short.form == "short"


def test_zone_templates_say_the_agency_or_the_service_and_the_number_twice() -> None:
    """Agency names were recorded in the pack but never spoken; "ATR/BPN" was read "atr garis miring
    be pe en": each zone has its template, and an abbreviation its spoken form from the site file."""
    site = load_site(KUPANG)
    main = Room.of(site, "lobby-1")
    dukcapil = Room.of(site, "lobby-dukcapil")
    assert main.template == VoiceTemplate("agency", False)
    a = announcement("J004", 8, "Gerai 8", gerai="g08", service="tanah", names=main.names, template=main.template)
    assert a.clips[-1] == "agency_atr_bpn" and a.text.endswith("gerai delapan a te er be pe en")
    assert main.clips_needed(site)["agency_atr_bpn"] == "a te er be pe en"
    d = announcement("A012", 1, "Gerai 1", gerai="g01", service="ktp-el", names=dukcapil.names,
                     template=dukcapil.template)
    assert d.text == ("nomor antrean a dua belas a dua belas silakan menuju gerai satu "
                      "perekaman dan pencetakan ka te pe elektronik")
    assert d.clips[-1] == "service_ktp_el"
    assert dukcapil.unspoken_abbreviations(site) == []


def test_a_room_needs_every_clip_its_calls_can_use() -> None:
    site = load_site(KUPANG)
    needed = Room.of(site, "lobby-dukcapil").clips_needed(site)
    # its services' letters, every number up to the largest quota (150), its gerai, its services' names
    assert {"letter_a", "letter_be", "letter_ce"} <= set(needed) and "letter_ka" not in needed
    assert numbers_vocabulary(150) <= set(needed) and "ribu" not in needed
    assert {"service_ktp_el", "service_kk", "service_ikd"} <= set(needed) and "agency_dukcapil" not in needed
    whole = Room.of(site, "lobby-1").clips_needed(site)
    assert "seribu" not in whole and "ratus" in whole  # no quota: up to 999 (padding 3)
    assert {f"agency_{a.replace('-', '_')}" for a in site.agencies} <= set(whole)
    for name in needed:  # every clip a room can need is what its announcements use
        assert name in needed


# --------------------------------------------------------------------------- packs


def _tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[int(np.argmax(spectrum))])


@pytest.mark.parametrize(("subtype", "channels", "rate"), [
    ("PCM_16", 1, 22050), ("PCM_24", 1, 48000), ("FLOAT", 2, 44100), ("PCM_32", 2, 16000), ("DOUBLE", 1, 8000),
    ("PCM_U8", 1, 11025),
])
def test_any_common_wav_is_read(tmp_path: Path, subtype: str, channels: int, rate: int) -> None:
    """24-bit and float WAVs were dropped from the announcement: every common WAV is read."""
    path = tmp_path / "dua.wav"
    soundfile.write(str(path), _tone(440, 0.5, rate, 0.5, channels), rate, subtype=subtype)
    x = voicepack.read_audio(path)
    assert abs(x.size / RATE - 0.5) < 0.01
    assert abs(_peak_hz(x, RATE) - 440) < 5
    assert abs(float(np.max(np.abs(x))) - 0.5) < 0.03


def test_resampling_is_band_limited(tmp_path: Path) -> None:
    """Nearest-sample resampling turned a 15 kHz tone into 7 kHz: a proper resampler filters it out."""
    path = tmp_path / "hiss.wav"
    soundfile.write(str(path), _tone(15000, 1.0, 44100, 0.5), 44100, subtype="PCM_16")
    x = voicepack.read_audio(path)  # to 22050 Hz: 15 kHz is above its Nyquist frequency
    rms = float(np.sqrt(np.mean(x[2000:-2000] ** 2)))
    assert 20 * math.log10(rms / (0.5 / math.sqrt(2)) + 1e-12) < -60  # gone, not folded to 7050 Hz
    path = tmp_path / "tone.wav"
    soundfile.write(str(path), _tone(5000, 1.0, 48000, 0.5), 48000, subtype="PCM_24")
    y = voicepack.read_audio(path)
    assert abs(_peak_hz(y, RATE) - 5000) < 3
    assert abs(float(np.sqrt(np.mean(y[2000:-2000] ** 2))) - 0.5 / math.sqrt(2)) < 0.005


def test_loudness_is_bs1770() -> None:
    # a full-scale 1 kHz sine reads -3.01 LUFS (BS.1770-4); the level follows the amplitude
    assert abs(voicepack.loudness(_tone(997, 3.0, 48000, 1.0), 48000) - (-3.01)) < 0.05
    assert abs(voicepack.loudness(_tone(997, 3.0, RATE, 0.1), RATE) - (-23.01)) < 0.05
    # at 48 kHz the filters are the coefficients printed in the recommendation
    freqs = np.array([20.0, 100.0, 1000.0, 4000.0, 10000.0])
    w = 2 * np.pi * freqs / 48000
    z = np.exp(-1j * w)

    def power(b: list[float], a: list[float]) -> np.ndarray:
        return np.abs((b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)) ** 2

    spec = (power([1.53512485958697, -2.69169618940638, 1.19839281085285], [1.0, -1.69065929318241,
                                                                            0.73248077421585])
            * power([1.0, -2.0, 1.0], [1.0, -1.99004745483398, 0.99007225036621]))
    ours = voicepack.k_weighting_power(freqs, 48000)
    assert np.allclose(10 * np.log10(ours), 10 * np.log10(spec), atol=0.01)
    assert math.isinf(voicepack.loudness(np.zeros(RATE, dtype=np.float32)))


def test_clips_are_loudness_matched(tmp_path: Path) -> None:
    """Levels were not matched: a word recorded 20 dB quieter comes out as loud as the others."""
    soundfile.write(str(tmp_path / "dua.wav"), _tone(300, 0.6, 22050, 0.5), 22050, subtype="PCM_16")
    soundfile.write(str(tmp_path / "tiga.wav"), _tone(300, 0.6, 44100, 0.05), 44100, subtype="FLOAT")
    pack = VoicePack.load(tmp_path)
    levels = [voicepack.loudness(pack.clips[n]) for n in ("dua", "tiga")]
    assert all(abs(level - voicepack.TARGET_LUFS) < 0.1 for level in levels), levels
    assert abs(pack.gains["tiga"] - pack.gains["dua"] - 20) < 0.2


def test_a_pack_says_which_clips_are_missing_or_broken(tmp_path: Path) -> None:
    """A missing word simply vanished and nothing checked a pack: the check names every clip."""
    soundfile.write(str(tmp_path / "dua.wav"), _tone(300, 0.5, 22050), 22050)
    (tmp_path / "belas.wav").write_bytes(b"RIFF\x00\x00not a wave")
    soundfile.write(str(tmp_path / "lima.wav"), np.zeros(22050, dtype=np.float32), 22050)
    pack = VoicePack.load(tmp_path)
    problems = pack.check(["dua", "belas", "lima", "nomor_antrean"])
    assert len(problems) == 3
    assert problems[0].startswith("belas: belas.wav: not a readable audio file")
    assert problems[1].startswith("lima: lima.wav: silent")
    assert problems[2] == "nomor_antrean: missing (nomor_antrean.wav)"
    with pytest.raises(KeyError, match="lacks nomor_antrean, letter_a, belas"):
        pack.render(announcement("A012", 5, "Gerai 5"))


def test_no_pack_means_the_chime_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pack = VoicePack.load(tmp_path / "nothing")
    assert list(pack.clips) == ["chime"]
    assert "plays the chime alone" in caplog.text


def test_output_in_the_mixer_real_format() -> None:
    """A buffer in 16-bit mono played by a 48 kHz stereo mixer lasted 1.55 s instead of 6.75 s: the
    announcement is rendered in the format the output really plays."""
    pack = _synthetic_pack()
    a = announcement("A012", 5, "Gerai 5")
    seconds = pack.duration(a)
    for out in (OutputFormat(22050, -16, 1), OutputFormat(48000, -16, 2), OutputFormat(44100, 32, 2),
                OutputFormat(16000, 8, 1)):
        pcm = pack.render(a, out)
        assert abs(out.seconds(pcm) - seconds) < 0.01, out


def test_pygame_mixer_format_is_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pygame's mixer opened at 48 kHz stereo (as SDL may do whatever was asked) plays the announcement
    at its length: the player reads the real format with get_init and the Sound lasts as long."""
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(tmp_path / "audio.raw"))
    import pygame

    from antre.lobby.announcer import PygamePlayer

    pygame.mixer.quit()
    pygame.mixer.init(frequency=48000, size=-16, channels=2)  # someone started it otherwise
    try:
        player = PygamePlayer(RATE)
        assert (player.format.rate, player.format.channels) == (48000, 2)
        pack = _synthetic_pack()
        a = announcement("A012", 5, "Gerai 5")
        sound = pygame.mixer.Sound(buffer=pack.render(a, player.format))
        assert abs(sound.get_length() - pack.duration(a)) < 0.01
    finally:
        pygame.mixer.quit()


def _espeak() -> str:
    binary = shutil.which("espeak-ng")
    if binary is None:
        if os.environ.get("ANTRE_REQUIRE_ALL"):
            pytest.fail("espeak-ng is required (ANTRE_REQUIRE_ALL is set) but not installed")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return binary


@pytest.fixture(scope="module")
def espeak_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _espeak()
    site = load_site(KUPANG)
    from antre.lobby.room import site_clips

    out = tmp_path_factory.mktemp("espeak-pack")
    voicepack.build(out, site_clips(site))
    return out


def test_the_espeak_pack_has_every_clip_of_the_site_and_none_is_silent(espeak_pack: Path) -> None:
    site = load_site(KUPANG)
    pack = VoicePack.load(espeak_pack)
    for lobby in site.lobbies:
        assert pack.check(Room.of(site, lobby).clips_needed(site)) == [], lobby
    assert pack.unreadable == {}
    for name, clip in pack.clips.items():
        assert clip.size / RATE > 0.1, name
        assert abs(voicepack.loudness(clip) - (voicepack.CHIME_LUFS if name == "chime" else
                                               voicepack.TARGET_LUFS)) < 0.5, name
    room = Room.of(site, "lobby-1")
    full = announcement("A012", 5, "Gerai 5", gerai="g05", service="pbb", names=room.names, template=room.template)
    short = announcement("A012", 5, "Gerai 5", gerai="g05", names=room.names, form="short", chime=False)
    assert 4.0 < pack.duration(full) < 10.0
    assert pack.duration(short) < 0.45 * pack.duration(full)


def test_voicepack_check_command(espeak_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from antre.cli import main

    assert main(["lobby", "voicepack", "check", "--config", str(KUPANG), "--pack", str(espeak_pack)]) == 0
    out = capsys.readouterr().out
    assert "lobby lobby-1: all" in out and "lobby lobby-dukcapil: all" in out
    broken = tmp_path / "pack"
    shutil.copytree(espeak_pack, broken)
    (broken / "agency_atr_bpn.wav").unlink()
    (broken / "tujuh.wav").write_bytes(b"nonsense")
    assert main(["lobby", "voicepack", "check", "--config", str(KUPANG), "--pack", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "agency_atr_bpn: missing (agency_atr_bpn.wav)" in out
    assert "tujuh: tujuh.wav: not a readable audio file" in out
    assert "lobby lobby-dukcapil:" in out


# --------------------------------------------------------------------------- the queue


def _call(ident: str, ticket: str, at: float = 1000.0, recall: bool = False, gerai: int = 5) -> m.Announce:
    return m.Announce(id=ident, ticket=ticket, service="ktp-el", gerai=f"g{gerai:02d}", gerai_number=gerai,
                      gerai_name=f"Gerai {gerai}", recall=recall, called_at=at)


def test_queue_order_recall_merge_and_duplicates(tmp_path: Path) -> None:
    q = AnnouncementQueue(tmp_path / "played.log", max_age=120, short_from=10)
    assert q.offer(_call("a-1", "A001"), received=0)
    assert q.offer(_call("a-2", "A002"), received=0)
    assert q.offer(_call("a-3", "A001", recall=True), received=1)  # merged into a-1, still waiting
    assert not q.offer(_call("a-2", "A002"), received=2)  # a redelivery is ignored
    first = q.next(5)
    assert first is not None and [a.id for a in first[0].calls] == ["a-1", "a-3"]
    q.settle(first[0], first[1])
    second = q.next(6)
    assert second is not None and second[0].first.ticket == "A002"
    q.settle(second[0], second[1])
    assert q.offer(_call("a-4", "A001", recall=True), received=7)  # a recall after it was said: said again
    third = q.next(8)
    assert third is not None and third[0].first.recall
    q.settle(third[0], third[1])
    assert q.counts() == {"full": 3, "short": 0, "merged": 1, "stale": 0, "chime_only": 0, "queued": 0}


def test_staleness_is_measured_from_receipt_and_the_central_clock(tmp_path: Path) -> None:
    """A lobby whose clock was 180 s ahead of the central dropped every call as stale: the age of a call
    is the lobby's own time since receipt plus its age by the central's clock as learned from the link."""
    central = LeaseClock()
    # the central's clock reads 1000.0 when the lobby (monotonic 50.0, wall clock 1180) receives its lease
    central.sample(1000.0, received=50.0)
    q = AnnouncementQueue(max_age=120)
    fresh = _call("a-1", "A001", at=999.5)
    q.offer(fresh, received=50.2, age_at_receipt=central.age(fresh.called_at, 50.2))
    assert q.next(51.0) is not None  # the wall clock (1180) never enters
    # after an outage: the call was made 200 s ago by the central's clock, it arrives now
    old = _call("a-2", "A002", at=800.0)
    q.offer(old, received=50.5, age_at_receipt=central.age(old.called_at, 50.5))
    assert q.next(50.6) is None and ("a-2", "stale") in q.dropped
    # a call that waits its turn in the lobby for longer than the limit is stale too, and counted
    late = _call("a-3", "A003", at=1001.0)
    q.offer(late, received=51.0, age_at_receipt=central.age(late.called_at, 51.0))
    assert q.next(51.0 + 121) is None
    assert q.counts()["stale"] == 2
    # without any lease the age is the time since receipt
    assert LeaseClock().age(5.0, 100.0) == 0.0


def test_lease_clock_takes_the_fastest_sample() -> None:
    clock = LeaseClock()
    clock.sample(1000.0, received=10.0)  # the retained lease, published 2.9 s before it was replayed
    clock.sample(1005.9, received=13.0)  # a renewal that came at once
    assert clock.now(14.0) == pytest.approx(1006.9)


def test_a_restart_never_repeats_an_announcement(tmp_path: Path) -> None:
    journal = tmp_path / "played.log"
    q = AnnouncementQueue(journal)
    q.offer(_call("a-1", "A001"))
    assert q.next(1.0) is not None
    restarted = AnnouncementQueue(journal)  # e.g. the retained/redelivered call arrives again
    assert not restarted.offer(_call("a-1", "A001"))
    assert restarted.next(2.0) is None


def _synthetic_pack(word: float = 0.32) -> VoicePack:
    """Every clip a site can need, as a tone of a fixed length (what timing tests need, fast)."""
    site = load_site(KUPANG)
    from antre.lobby.room import site_clips

    clips = {name: _tone(200 + 10 * (i % 50), word * (2 if "_" in name else 1), RATE, 0.3)
             for i, name in enumerate(site_clips(site))}
    clips["chime"] = voicepack.chime()
    return VoicePack(clips, "synthetic")


class Recorder(SilentPlayer):
    """A player that keeps what it was given (no sound card, no waiting)."""

    def __init__(self) -> None:
        super().__init__(OutputFormat(RATE, -16, 1))
        self.played: list[bytes] = []

    def play(self, pcm: bytes) -> None:
        self.played.append(pcm)


def test_a_burst_of_thirty_calls_is_announced_without_dropping_one() -> None:
    """Each announcement took 6-8 s, so 30 calls at once lost 12 to staleness with only a log line: the
    queue switches to the short form and merges repeated calls, and every call is accounted for."""
    pack = _synthetic_pack()
    q = AnnouncementQueue(max_age=120)
    t = [0.0]
    announcer = Announcer(pack, q, player=Recorder(), mono=lambda: t[0])
    calls = [_call(f"a-{i}", f"A{i + 1:03d}", gerai=i % 13 + 1) for i in range(30)]
    for a in calls:
        announcer.offer(a, received=0.0)
    announcer.offer(_call("a-r", "A030", recall=True, gerai=30 % 13 or 13), received=0.5)
    started: list[Started] = []
    while t[0] < 200:
        s = announcer.poll(t[0])
        if s is not None:
            started.append(s)
        t[0] += 0.05
    counts = q.counts()
    assert counts["stale"] == 0 and counts["queued"] == 0 and counts["chime_only"] == 0
    assert counts["full"] + counts["short"] + counts["merged"] == 31
    assert counts["merged"] >= 17  # 13 gerai: the calls of a gerai are said together, and the recall once
    heard = [ticket for s in started for _, ticket in s.announcement.marks]
    assert sorted(heard) == sorted(a.ticket for a in calls)  # every ticket said, once
    by_gerai: dict[str, list[str]] = {}
    for a in calls:
        by_gerai.setdefault(a.gerai, []).append(a.ticket)
    assert heard == [t for tickets in by_gerai.values() for t in tickets]  # gerai by gerai, in call order
    assert started[0].announcement.text == "a satu a empat belas a dua puluh tujuh gerai satu"
    assert started[-1].ends < 120  # all said within the two minutes a call is worth announcing
    assert started[0].announcement.clips[0] == "chime" and started[1].announcement.clips[0] != "chime"


def test_missing_clips_are_an_error_and_the_call_gets_the_chime(caplog: pytest.LogCaptureFixture) -> None:
    pack = _synthetic_pack()
    del pack.clips["belas"]
    q = AnnouncementQueue()
    announcer = Announcer(pack, q, player=Recorder(), mono=lambda: 0.0)
    announcer.offer(_call("a-1", "A012"), received=0.0)
    s = announcer.poll(0.0)
    assert s is not None and not s.spoken and s.announcement.clips == ["chime"]
    assert "lacks belas" in caplog.text and q.counts()["chime_only"] == 1


def test_audio_path_headless_without_waiting_for_playback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(tmp_path / "audio.raw"))
    import pygame

    pygame.mixer.quit()
    started: list[Started] = []
    seen = threading.Condition()

    def on_start(s: Started) -> None:
        with seen:
            started.append(s)
            seen.notify_all()

    announcer = Announcer(_synthetic_pack(), AnnouncementQueue(tmp_path / "played.log"), on_start=on_start)
    announcer.start()
    try:
        announcer.offer(_call("a-1", "A012"))
        with seen:
            assert seen.wait_for(lambda: started, 10)
        assert started[0].first.ticket == "A012" and started[0].spoken
        assert announcer.player is not None and announcer.player.format.rate > 0  # the mixer on the disk driver
    finally:
        announcer.stop()  # does not wait for the playback to end
        pygame.mixer.quit()


def test_a_lobby_checks_its_pack_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing checked a pack at start-up: the lobby names every clip its room can need and lacks."""
    from tests.lobby_scenes import Scene

    scene = Scene("lobby-dukcapil")
    assert scene.app.check_pack() == []
    announcer = scene.app.announcer
    assert announcer is not None
    del announcer.pack.clips["service_kk"], announcer.pack.clips["letter_ce"]
    assert scene.app.check_pack() == ["letter_ce: missing (letter_ce.wav)", "service_kk: missing (service_kk.wav)"]
    scene.app.link.start = lambda: None  # type: ignore[method-assign]  # no broker in this test
    announcer.start = lambda: None  # type: ignore[method-assign]
    scene.app.start()
    assert "cannot say every call of lobby lobby-dukcapil" in caplog.text and "service_kk: missing" in caplog.text


def test_a_burst_with_the_espeak_voice_is_said_within_two_minutes(espeak_pack: Path) -> None:
    """With real word lengths (espeak-ng's Indonesian voice) and long numbers ("sembilan ratus tujuh
    puluh satu"), 30 calls at once across the site's 13 gerai are all said before any is 120 s old."""
    site = load_site(KUPANG)
    room = Room.of(site, "lobby-1")
    q = AnnouncementQueue(max_age=120)
    t = [0.0]
    announcer = Announcer(VoicePack.load(espeak_pack), q, template=room.template, names=room.names,
                          player=Recorder(), mono=lambda: t[0])
    gerai = sorted(site.gerai.values(), key=lambda g: g.number)
    for i in range(30):
        g = gerai[i % len(gerai)]
        svc = site.services[g.services[0]]
        announcer.offer(m.Announce(id=f"a-burst-{i:03d}", ticket=f"{svc.prefix}{970 + i:03d}", service=svc.id,
                                   gerai=g.id, gerai_number=g.number, gerai_name=g.name, called_at=0.0),
                        received=0.0)
    last = None
    while t[0] < 200:
        last = announcer.poll(t[0]) or last
        t[0] += 0.02
    counts = q.counts()
    assert counts["stale"] == 0 and counts["short"] + counts["merged"] == 30, counts
    assert last is not None and last.ends < 120
    print(f"\nespeak-ng burst of 30 (numbers 970-999): {counts}, the last call said by {last.ends:.1f} s")
