"""Indonesian announcement words, clip lists, the voice pack and the announcement queue."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from antre.broker.wire import messages as m
from antre.lobby import voicepack
from antre.lobby.announcer import AnnouncementQueue, Announcer
from antre.lobby.speech import announcement, clip_texts, number_words, spell_ticket
from antre.lobby.voicepack import VoicePack


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


def test_tickets_are_spelled_without_padding() -> None:
    assert spell_ticket("A012") == ["a", "dua", "belas"]
    assert spell_ticket("A-012") == ["a", "dua", "belas"]
    assert spell_ticket("NP100") == ["en", "pe", "seratus"]
    assert spell_ticket("X001") == ["eks", "satu"]
    with pytest.raises(ValueError):
        spell_ticket("012")


def test_announcement_words_and_clips() -> None:
    a = announcement("A012", 5)
    assert a.text == "nomor antrean a dua belas silakan menuju gerai lima"
    assert a.clips == ["chime", "nomor_antrean", "letter_a", "dua", "belas", "silakan_menuju", "gerai", "lima"]
    r = announcement("NP07", 13, agency="Dukcapil", recall=True)
    assert r.clips[:3] == ["chime", "panggilan_ulang", "nomor_antrean"]
    assert r.clips[-3:] == ["tiga", "belas", "agency_dukcapil"]
    named = announcement("B003", None, "Loket Prioritas")
    assert named.clips[-1] == "name_loket_prioritas" and named.words[-2:] == ["loket", "prioritas"]


def _espeak() -> str:
    binary = shutil.which("espeak-ng")
    if binary is None:
        if os.environ.get("ANTRE_REQUIRE_ALL"):
            pytest.fail("espeak-ng is required (ANTRE_REQUIRE_ALL is set) but not installed")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return binary


def test_default_voice_pack_builds_every_clip_and_none_is_silent(tmp_path: Path) -> None:
    _espeak()
    paths = voicepack.build(tmp_path / "pack", ["Dukcapil"])
    names = {p.stem for p in paths}
    assert names == set(clip_texts(["Dukcapil"]))
    for path in paths:
        pcm = voicepack.read_pcm(path)
        assert len(pcm) / 2 / voicepack.RATE > 0.1, path.name
        assert voicepack.rms(pcm) > 500, f"{path.name} is silent"
    pack = VoicePack.load(tmp_path / "pack")
    a = announcement("A012", 5, agency="Dukcapil")
    assert pack.missing(a.clips) == []
    audio = pack.render(a.clips)
    assert 2.0 < len(audio) / 2 / voicepack.RATE < 12.0


def test_no_pack_means_the_chime_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pack = VoicePack.load(tmp_path / "nothing")
    assert list(pack.clips) == ["chime"]
    assert "plays the chime alone" in caplog.text
    clips = announcement("A012", 5).clips
    assert pack.render(clips) == pack.render(["chime"])


def _call(ident: str, ticket: str, at: float, recall: bool = False) -> m.Announce:
    return m.Announce(id=ident, ticket=ticket, service="ktp", gerai="g05", gerai_number=5, gerai_name="Gerai 5",
                      recall=recall, called_at=at)


def test_queue_order_recall_stale_and_duplicates(tmp_path: Path) -> None:
    q = AnnouncementQueue(tmp_path / "played.log", max_age=120)
    assert q.offer(_call("a-1", "A001", 1000))
    assert q.offer(_call("a-2", "A002", 1001))
    assert q.offer(_call("a-3", "A001", 1002, recall=True))  # a recall is announced again
    assert not q.offer(_call("a-2", "A002", 1001))  # a redelivery is not
    assert [q.next(1005).ticket, q.next(1006).ticket] == ["A001", "A002"]  # type: ignore[union-attr]
    assert q.next(1007).recall  # type: ignore[union-attr]
    q.offer(_call("a-4", "A004", 1000))
    assert q.next(1000 + 121) is None  # stale after an outage: dropped, not announced late
    assert ("a-4", "stale") in q.dropped


def test_a_restart_never_repeats_an_announcement(tmp_path: Path) -> None:
    journal = tmp_path / "played.log"
    q = AnnouncementQueue(journal)
    q.offer(_call("a-1", "A001", 1000))
    assert q.next(1001) is not None
    restarted = AnnouncementQueue(journal)  # e.g. the retained/redelivered call arrives again
    assert not restarted.offer(_call("a-1", "A001", 1000))
    assert restarted.next(1002) is None


def test_audio_path_headless_without_waiting_for_playback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(tmp_path / "audio.raw"))
    started: list[tuple[str, list[str]]] = []
    pack = VoicePack({"chime": voicepack.chime(), "nomor_antrean": b"\x10\x00" * 2000}, "test")
    q = AnnouncementQueue(tmp_path / "played.log")
    import threading

    seen = threading.Condition()

    def on_start(a: m.Announce, clips: list[str]) -> None:
        with seen:
            started.append((a.ticket, clips))
            seen.notify_all()

    announcer = Announcer(pack, q, clock=lambda: 1000.0, on_start=on_start)
    announcer.start()
    try:
        announcer.offer(_call("a-1", "A012", 999))
        with seen:
            assert seen.wait_for(lambda: started, 10)
        assert started[0] == ("A012", ["chime", "nomor_antrean", "letter_a", "dua", "belas", "silakan_menuju",
                                       "gerai", "lima"])
        assert announcer._mixer_ready  # pygame.mixer initialised on the disk driver
    finally:
        announcer.stop()  # does not wait for the playback to end
