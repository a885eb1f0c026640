"""The lobby board: one truth with the voice, rooms, legibility measured on rendered images, tiles that
differ in shape and colour, every service on some page, and the lobby process over a real broker.

Scenes are real LobbyApps fed with broker messages on a simulated clock (tests/lobby_scenes.py);
their PNGs go to ANTRE_LOBBY_PNGS when set, to look at them."""

from __future__ import annotations

import colorsys
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame  # noqa: E402

from antre.broker.admin.acl import Identity  # noqa: E402
from antre.broker.wire import messages as m  # noqa: E402
from antre.broker.wire.topics import Role  # noqa: E402
from antre.lobby import screen  # noqa: E402
from antre.lobby.app import LobbyApp  # noqa: E402
from antre.lobby.model import ScreenModel, Tile  # noqa: E402
from antre.lobby.screen import Legibility, Screen  # noqa: E402
from tests.harness import Device, Site, running_site, wait_for  # noqa: E402
from tests.lobby_scenes import KUPANG, Scene, png_dir  # noqa: E402

SIZES = [(1280, 720), (1920, 1080)]


@pytest.fixture(autouse=True)
def _pygame() -> None:
    pygame.display.init()
    pygame.font.init()


def frame(model: ScreenModel, size: tuple[int, int] = (1280, 720)) -> tuple[pygame.Surface, Screen]:
    surface = pygame.Surface(size)
    s = Screen()
    s.draw(surface, model)
    return surface, s


def main_ticket(s: Screen) -> str | None:
    """The ticket the main panel shows, as drawn."""
    return next((d.text for d in s.drawn if d.region == "main" and d.tier == "call" and not d.text.isdigit()), None)


def count(surface: pygame.Surface, color: tuple[int, int, int], box: tuple[int, int, int, int] | None = None) -> int:
    x0, y0, x1, y1 = box or (0, 0, *surface.get_size())
    return sum(1 for x in range(x0, x1, 2) for y in range(y0, y1, 2) if tuple(surface.get_at((x, y)))[:3] == color)


# --------------------------------------------------------------------------- legibility


def test_sizes_follow_the_viewing_distance() -> None:
    leg = Legibility(8.0, 43.0)
    assert leg.mm("read") == 40.0 and leg.mm("near") == 20.0
    assert leg.mm("call") == pytest.approx(86.5, abs=0.1)  # ADA 703.5.5: 2 in + 1/8 in per ft over 15 ft
    assert leg.screen_height_mm == pytest.approx(535.5, abs=0.5)
    assert (leg.px("read", 1080), leg.px("near", 1080), leg.px("call", 1080)) == (81, 41, 175)
    assert (leg.px("read", 720), leg.px("near", 720), leg.px("call", 720)) == (54, 27, 117)
    assert Legibility(8.0, 55.0).px("read", 1080) == 64  # a bigger screen needs fewer pixels
    assert Legibility(4.0, 43.0).px("read", 1080) == 41


def _ink_height(surface: pygame.Surface, d: screen.Drawn, glyph_x: tuple[int, int]) -> int:
    """Rows of the glyph's columns that carry the text's colour (more than half way from the background)."""
    x, y, w, h = d.rect
    border = [tuple(surface.get_at((xx, yy)))[:3] for xx in range(x, x + w, 3) for yy in (y, y + h - 1)
              if 0 <= xx < surface.get_width() and 0 <= yy < surface.get_height()]
    bg = max(set(border), key=border.count)
    ink = d.color
    full = sum((a - b) ** 2 for a, b in zip(ink, bg)) ** 0.5
    rows = []
    for yy in range(max(0, y), min(surface.get_height(), y + h)):
        for xx in range(max(0, x + glyph_x[0]), min(surface.get_width(), x + glyph_x[1])):
            c = tuple(surface.get_at((xx, yy)))[:3]
            if sum((a - b) ** 2 for a, b in zip(c, ink)) ** 0.5 < full / 2:
                rows.append(yy)
                break
    # the longest run of consecutive rows: a neighbouring text of the same colour below or above
    # (e.g. "silakan menuju" under the ticket) is separated by rows of background
    best = run = 0
    for i, row in enumerate(rows):
        run = run + 1 if i and row == rows[i - 1] + 1 else 1
        best = max(best, run)
    return best


MEASURABLE = set("ABCDEFGHIJKLMNOPRSTUVWXZ0123456789")  # capitals and digits without overshoot quirks


def measured_heights(surface: pygame.Surface, s: Screen) -> list[tuple[screen.Drawn, int]]:
    """The cap (or digit) height of the first measurable glyph of every text drawn, in the image."""
    found = []
    for d in s.drawn:
        f = screen.font(d.size)
        for i, (ch, metric) in enumerate(zip(d.text, f.metrics(d.text))):
            x = f.size(d.text[:i])[0] if i else 0  # where the glyph starts (with kerning)
            advance = metric[4] if metric else 0
            on_screen = 0 <= d.rect[0] + x and d.rect[0] + x + advance <= surface.get_width()
            if ch in MEASURABLE and metric and x + advance <= d.rect[2] and on_screen:
                found.append((d, _ink_height(surface, d, (x + metric[0], x + metric[1]))))
                break
    return found


@pytest.mark.parametrize("size", SIZES)
def test_every_text_meets_the_legibility_rule_on_the_rendered_image(size: tuple[int, int], tmp_path: Path) -> None:
    """"silakan menuju Gerai N" was 21 px at 1080p (13 mm on 55 in), tile numbers 57 px, agency labels fell
    to 10 px as text shrank to fit: every capital or digit on every page is measured in the image."""
    scene = Scene("lobby-1", voice=False)
    scene.busy_morning()
    model = scene.app.model()
    leg = Legibility(model.viewing_distance_m, model.screen_inches)
    surface, s = frame(model, size)
    smallest: dict[str, float] = {}
    checked = 0
    for page in range(len(s.pages)):
        model.page_clock = page * screen.PAGE_SECONDS
        surface, s = frame(model, size)
        for d, height in measured_heights(surface, s):
            need = leg.px(d.tier, size[1])
            assert height >= need - 1, f"{d.text!r} ({d.region}, {d.tier}) is {height} px, needs {need}"
            mm = height * leg.screen_height_mm / size[1]
            smallest[d.tier] = min(smallest.get(d.tier, 1e9), mm)
            checked += 1
        if page == 0:
            pygame.image.save(surface, str(png_dir(tmp_path) / f"legibility-{size[1]}p.png"))
    assert checked > 100
    assert smallest["call"] >= 86.0 and smallest["read"] >= 39.5 and smallest["near"] >= 19.5, smallest
    print(f"\n{size}: smallest measured cap heights on a 43-inch screen (mm): "
          + ", ".join(f"{t} {v:.1f}" for t, v in sorted(smallest.items())))


def test_the_main_call_is_measured_at_its_size() -> None:
    scene = Scene("lobby-1", voice=False)
    scene.busy_morning()
    surface, s = frame(scene.app.model(), (1920, 1080))
    heights = {d.text: h for d, h in measured_heights(surface, s) if d.region == "main"}
    ticket = main_ticket(s)
    assert ticket is not None and heights[ticket] >= 175 - 1
    assert heights["GERAI"] >= 81 - 1
    print(f"\n1080p main panel: ticket {heights[ticket]} px, gerai number "
          f"{max(h for t, h in heights.items() if t.isdigit())} px, 'GERAI' {heights['GERAI']} px")


def test_every_service_is_on_some_page() -> None:
    """Only 7 of 15 services were listed: the services page through, never shrunk."""
    scene = Scene("lobby-1", voice=False)
    scene.busy_morning()
    model = scene.app.model()
    _, s = frame(model)
    seen: set[str] = set()
    kinds = set()
    for page in range(len(s.pages)):
        model.page_clock = page * screen.PAGE_SECONDS
        _, s2 = frame(model)
        kinds.add(s2.pages[s2.page])
        seen |= {d.text for d in s2.drawn if d.region == "services" and d.tier == "read" and d.text.isalpha()}
    assert seen == {svc.prefix for svc in scene.site.services.values()}
    assert kinds == {"gerai", "layanan", "info"}
    gerai_seen = set()
    for page, kind in enumerate(s.pages):
        if kind == "gerai":
            model.page_clock = page * screen.PAGE_SECONDS
            _, s3 = frame(model)
            gerai_seen |= {d.text for d in s3.drawn if d.region == "tile" and d.text.isdigit()}
    assert gerai_seen == {str(g.number) for g in scene.site.gerai.values()}


def _tile_surface(status: str, note: str = "") -> pygame.Surface:
    tile = Tile("g05", 5, "Gerai 5", "Bapenda", "bapenda", status, "E012" if status in ("serving", "calling")
                else None, note)  # type: ignore[arg-type]
    model = ScreenModel("MPP", "WITA", dt.datetime(2026, 11, 27, 9, 41), tiles=[tile])
    surface, s = frame(model)
    return surface


def _tile_mask_and_hue(surface: pygame.Surface) -> tuple[set[tuple[int, int]], float, float]:
    """The tile's pixels (not background) in its area of the board, and their dominant hue/saturation."""
    W, H = surface.get_size()
    pixels = {}
    for x in range(0, W, 2):
        for y in range(int(H * 0.55), int(H * 0.9), 2):
            c = tuple(surface.get_at((x, y)))[:3]
            if c != screen.BG:
                pixels[(x, y)] = c
    colors = list(pixels.values())
    dominant = max(set(colors), key=colors.count)
    h, _, sat = colorsys.rgb_to_hls(*(v / 255 for v in dominant))
    return set(pixels), h * 360, sat


def test_gerai_tiles_differ_in_shape_and_colour() -> None:
    """An offline or closed gerai looked like an idle one; paused and normal tiles differed by 1.07:1 in
    brightness only: each state has its own colour (hue) and its own shape."""
    states = {"serving": "", "calling": "", "paused": "rapat koordinasi", "closed": "", "offline": ""}
    found = {k: _tile_mask_and_hue(_tile_surface(k, note)) for k, note in states.items()}
    names = list(states)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            mask_a, hue_a, sat_a = found[a]
            mask_b, hue_b, sat_b = found[b]
            overlap = len(mask_a & mask_b) / len(mask_a | mask_b)
            assert overlap < 0.8, f"{a} and {b} have the same shape ({overlap:.2f})"
            hue_gap = min(abs(hue_a - hue_b), 360 - abs(hue_a - hue_b))
            assert hue_gap > 20 or abs(sat_a - sat_b) > 0.3, f"{a} and {b} differ only in brightness"
    paused = _tile_surface("paused", "rapat koordinasi")
    s = Screen()
    s.draw(paused, ScreenModel("MPP", "WITA", dt.datetime(2026, 11, 27, 9, 41), tiles=[
        Tile("g05", 5, "Gerai 5", "Bapenda", "bapenda", "paused", None, "rapat koordinasi")]))
    assert {"ISTIRAHAT", "rapat koordinasi"} <= {d.text for d in s.drawn if d.region == "tile"}


# --------------------------------------------------------------------------- one truth


def test_the_main_panel_shows_the_call_being_announced() -> None:
    """The voice said "B002, gerai 3" while the main panel showed the last call received (D002 at gerai 4):
    the panel shows what the voice says, from when it starts until the next announcement starts."""
    scene = Scene("lobby-1")
    scene.busy_morning()
    scene.lease()
    scene.call("g03", "B002")
    scene.call("g04", "D002")  # arrives while B002 is about to be said
    scene.run(0.1)
    assert main_ticket(frame(scene.app.model())[1]) == "B002"
    first = scene.app.current
    assert first is not None and first.first.ticket == "B002"
    scene.run(first.ends - scene.t + 0.2)  # the silence between the two announcements: B002 stays
    assert main_ticket(frame(scene.app.model())[1]) == "B002"
    scene.run(0.4)
    assert main_ticket(frame(scene.app.model())[1]) == "D002"
    model = scene.app.model()
    tiles = {t.gerai: t.status for t in model.tiles}
    assert tiles["g04"] == "calling" and tiles["g03"] == "serving"
    scene.run(20)  # long after its announcement, the tile of the called gerai is still marked (not 3 s)
    assert {t.gerai: t.status for t in scene.app.model().tiles}["g04"] == "calling"
    history = [c.ticket for c in scene.app.model().history]
    assert history[0] == "B002" and len(history) >= 6


def test_the_history_marks_recalls() -> None:
    """The board carried the recent calls, the screen showed one and no recall mark."""
    scene = Scene("lobby-1", voice=False)
    scene.busy_morning()
    scene.call("g06", "G030")
    scene.t += 5
    scene.call("g07", "H040")
    scene.t += 5
    scene.call("g06", "G030", recall=True)
    surface, s = frame(scene.app.model(), (1920, 1080))
    assert main_ticket(s) == "G030"  # without a voice: the room's latest call
    drawn = [d for d in s.drawn if d.region == "history" and d.tier == "read" and not d.text.isdigit()]
    assert len(drawn) >= 6
    recalled = [d for d in drawn if d.color == screen.RECALL]
    assert recalled and all(c.recall for c in scene.app.model().history if c.ticket in {d.text for d in recalled})
    assert count(surface, screen.RECALL, (0, 100, 1920, 600)) > 50  # the recall sign


def test_a_room_lobby_shows_only_its_room_on_every_panel(tmp_path: Path) -> None:
    """A lobby filtered to Dukcapil (gerai 1-3) spoke its calls only but its main panel showed K002 at
    gerai 9: tiles, services, main panel, history and voice all keep to the room."""
    scene = Scene("lobby-dukcapil")
    scene.busy_morning()
    scene.lease()
    scene.call("g01", "A050")
    scene.call("g09", "K002")  # another room
    scene.run(30)
    model = scene.app.model()
    assert {t.gerai for t in model.tiles} == {"g01", "g02", "g03"}
    assert {s.service for s in model.services} == {"ktp-el", "kk", "ikd"}
    assert model.main is not None and model.main.ticket == "A050"
    assert all(c.gerai in {"g01", "g02", "g03"} for c in model.history) and model.history
    said = [s.first.ticket for s in scene.app.announcer.history]  # type: ignore[union-attr]
    assert said == ["A050"]
    for page in range(4):
        model.page_clock = page * screen.PAGE_SECONDS
        surface, s = frame(model, (1920, 1080))
        assert not any(d.text.startswith("K") and d.text[1:].isdigit() for d in s.drawn)
        assert not any(d.text in ("9", "PLN") for d in s.drawn if d.region in ("tile", "agency", "history"))
    assert model.room == "Ruang Tunggu Dukcapil"


def test_a_burst_of_thirty_calls_screen_and_voice_agree_at_every_moment(tmp_path: Path) -> None:
    """30 calls at once: none dropped (short forms), and sampled every 0.25 s the main panel shows the
    ticket of the announcement being heard (or, in the silence after it, the last one heard)."""
    scene = Scene("lobby-1")
    scene.busy_morning()
    scene.lease()
    gerai = sorted(scene.site.gerai)
    calls = []
    for i in range(30):
        g = scene.site.gerai[gerai[i % len(gerai)]]
        svc = scene.site.services[g.services[0]]
        calls.append(scene.call(g.id, f"{svc.prefix}{100 + i:03d}"))
    player = scene.player
    samples = 0
    disagreements: list[tuple[float, str | None, str | None]] = []
    voices: set[str | None] = set()
    pictures = {30.0}

    def sample(t: float) -> None:
        nonlocal samples
        if round(t * 100) % 25:
            return
        heard = player.heard(t)
        announcer = scene.app.announcer
        assert announcer is not None
        started = [s for s in announcer.history if s.at <= t]
        voice = None
        if started:  # the ticket whose words are heard (or were heard last) at t, from the clips' timing
            s = started[-1]
            starts = announcer.pack.offsets(s.announcement)
            voice = s.announcement.marks[0][1]
            for index, ticket in s.announcement.marks:
                if s.at + starts[index][0] <= t:
                    voice = ticket
        if heard is not None:
            assert started and started[-1].at == player.played[heard][0]
        model = scene.app.model(now_mono=t)
        _, s = frame(model)
        if main_ticket(s) != voice:
            disagreements.append((t, main_ticket(s), voice))
        voices.add(voice)
        samples += 1
        for moment in list(pictures):
            if t >= scene.t and abs(t - (100.0 + moment)) < 0.01:
                model.page_clock = 0.0  # the gerai page
                for size in ((1280, 720), (1920, 1080)):
                    surface, _ = frame(model, size)
                    pygame.image.save(surface, str(png_dir(tmp_path) / f"burst-{size[1]}p.png"))
                pictures.discard(moment)

    scene.run(120, each=sample)
    assert samples >= 400 and disagreements == []
    counts = scene.app.announcer.queue.counts()  # type: ignore[union-attr]
    assert counts["stale"] == 0 and counts["queued"] == 0 and counts["chime_only"] == 0
    assert counts["full"] + counts["short"] + counts["merged"] == 30
    said = [t for s in scene.app.announcer.history for _, t in s.announcement.marks]  # type: ignore[union-attr]
    assert sorted(said) == sorted(a.ticket for a in calls) and counts["merged"] > 0
    assert {a.ticket for a in calls} <= voices  # each ticket was heard, and shown, at some sampled moment



def test_a_lobby_clock_three_minutes_ahead_announces_every_call() -> None:
    """A lobby whose clock was 180 s ahead of the central dropped every call as stale."""
    scene = Scene("lobby-1", wall_offset=180.0)
    scene.lease()
    for i, g in enumerate(("g01", "g02", "g04")):
        scene.call(g, ("A", "B", "D")[i] + f"{i + 1:03d}")
    scene.run(40)
    counts = scene.app.announcer.queue.counts()  # type: ignore[union-attr]
    assert counts["stale"] == 0 and counts["full"] + counts["short"] == 3
    assert scene.app.model().now.strftime("%H:%M") == "09:43"  # the central's time is shown, not its own


def test_a_call_already_old_by_the_central_clock_is_dropped_visibly(caplog: pytest.LogCaptureFixture) -> None:
    scene = Scene("lobby-1")
    scene.lease()
    scene.call("g01", "A001", age=300.0)  # made five minutes ago (an outage), arriving now
    scene.run(5)
    assert scene.app.announcer.queue.counts()["stale"] == 1  # type: ignore[union-attr]
    assert "not announced: call A001" in caplog.text
    assert scene.app.model().history[0].ticket == "A001"  # still on the screen


# --------------------------------------------------------------------------- scenes to look at


@pytest.mark.parametrize("size", SIZES)
def test_scenes_quiet_busy_and_room(size: tuple[int, int], tmp_path: Path) -> None:
    out = png_dir(tmp_path)
    quiet = Scene("lobby-1")
    quiet.start -= 96 * 60  # 08:05
    quiet.lease()
    for gid, g in quiet.site.gerai.items():
        quiet.presence(gid, True)
        quiet.gerai_state(gid, "idle")
    for sid in quiet.site.services:
        quiet.service_state(sid, 1 if sid in ("ktp-el", "kk") else 0)
    quiet.call("g01", "A001")
    quiet.run(1.0)
    surface, s = frame(quiet.app.model(page_clock=0.0), size)
    pygame.image.save(surface, str(out / f"quiet-{size[1]}p.png"))
    assert main_ticket(s) == "A001"
    room = Scene("lobby-dukcapil")
    room.busy_morning()
    room.lease()
    room.call("g02", "B045")
    room.call("g09", "K050")
    room.run(2.0)
    surface, s = frame(room.app.model(page_clock=0.0), size)
    pygame.image.save(surface, str(out / f"room-{size[1]}p.png"))
    assert main_ticket(s) == "B045"


# --------------------------------------------------------------------------- rendering


def test_render_draws_the_state_it_was_given(tmp_path: Path) -> None:
    """Every PNG of `antre lobby render`, live or --sample, had the red KONEKSI TERPUTUS banner."""
    from antre.cli import main

    assert main(["lobby", "render", "--config", str(KUPANG), "--sample", "--out", str(tmp_path / "s.png"),
                 "--size", "1280x720"]) == 0
    image = pygame.image.load(str(tmp_path / "s.png"))
    assert count(image, screen.ALERT) == 0
    assert main(["lobby", "render", "--config", str(KUPANG), "--sample", "--offline", "--out",
                 str(tmp_path / "o.png"), "--size", "1280x720"]) == 0
    assert count(pygame.image.load(str(tmp_path / "o.png")), screen.ALERT) > 1000


def test_clock_date_is_indonesian() -> None:
    now = dt.datetime(2026, 11, 27, 9, 15, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert screen.date_text(now, "WITA") == "Jumat, 27 November 2026"


def test_lost_connection_shows_the_banner_over_the_last_board() -> None:
    scene = Scene("lobby-1", voice=False)
    scene.busy_morning()
    surface, s = frame(scene.app.model(connected=False))
    assert count(surface, screen.ALERT) > 1000
    assert main_ticket(s) is not None  # the last board is still there


# --------------------------------------------------------------------------- over a real broker


@pytest.fixture(params=["mosquitto", "embedded"])
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    with running_site(request.param, tmp_path) as stack:
        yield stack.site


def test_a_call_reaches_the_lobby_board_and_the_announcement_queue(running: Site, tmp_path: Path) -> None:
    from tests.lobby_scenes import Recorder, tone_pack

    site = running
    recorder = Recorder(lambda: 0.0)
    app = LobbyApp(site.config, "lobby-1", site.address(Identity(Role.LOBBY, "lobby-1")),
                   pack=tone_pack(site.config), journal=tmp_path / "played.log", player=recorder)
    app.start()
    kiosk = Device(site, Role.KIOSK, "k1")
    g1 = Device(site, Role.GERAI, "g1")
    try:
        assert app.link.connected.wait(10)
        kiosk.request(m.TakeTicket(id="k1-lobby-0001", service="ktp"))
        g1.request(m.CallNext(id="g1-lobby-0001"))
        wait_for(lambda: app.board is not None and any(g.ticket == "A001" for g in app.board.gerai), 10,
                 "A001 on the lobby board")
        wait_for(lambda: app.current is not None and app.current.first.ticket == "A001", 10, "announced")
        wait_for(lambda: app.gerai_online.get("g1") is True, 10, "g1's presence (the lobby may read it)")
        assert app.central_clock.now(app.mono()) is not None  # learned from the lease
        assert recorder.played
        # its health, retained for the console's fleet page and `antre status`: a whole pack, no screen here
        from antre.broker.wire import codec
        from antre.broker.wire.topics import Channel, Topics
        from tests.harness import Watcher

        spy = Watcher(site, Identity(Role.MONITOR, "t1"), [Topics("test").device(Role.LOBBY, "lobby-1",
                                                                                   Channel.HEALTH)])
        try:
            wait_for(lambda: spy.messages, 10, "the lobby's health report")
            health = codec.decode(spy.messages[-1][1], "health", m.Health)
        finally:
            spy.close()
        assert (health.role, health.device, health.display, health.faults, health.ip) == (
            "lobby", "lobby-1", "absent", [], "127.0.0.1")
        model = app.model()
        assert model.main is not None and model.main.ticket == "A001" and model.connected
        assert {t.gerai: t.status for t in model.tiles}["g1"] == "calling"
        # `antre lobby render` of the live site (with the lobby's identity: the app goes first), drawn while
        # connected, so without the lost-connection banner
        from antre.cli import main

        app.stop()

        png = tmp_path / "live.png"
        assert main(["lobby", "render", "--config", str(site.config_path), "--out", str(png),
                     "--size", "640x360"]) == 0
        image = pygame.image.load(str(png))
        assert count(image, screen.ALERT) == 0 and count(image, screen.HIGHLIGHT) > 100  # g1 calls A001
    finally:
        app.stop()
        kiosk.close()
        g1.close()
