"""The lobby screen rendered headless (SDL dummy driver) at 1280x720 and 1920x1080, and the
lobby process over a real broker with the central service."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame  # noqa: E402

from antre.broker.wire import messages as m  # noqa: E402
from antre.broker.admin.acl import Identity  # noqa: E402
from antre.broker.wire.topics import Role  # noqa: E402
from antre.central.config import SiteConfig  # noqa: E402
from antre.lobby import screen  # noqa: E402
from antre.lobby.app import LobbyApp  # noqa: E402
from antre.lobby.screen import ScreenModel, ServiceInfo, render_png, sample_board  # noqa: E402
from tests.harness import Device, Site, running_site, wait_for  # noqa: E402

NOW = dt.datetime(2026, 11, 27, 9, 15, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def model(**kw: object) -> ScreenModel:
    board = sample_board()
    base: dict[str, object] = dict(
        site_name=board.site_name, zone_abbrev="WITA", now=NOW, board=board, connected=True,
        highlight=board.calls[-1], highlight_age=0.2, running_text="Selamat datang di MPP Kota Kupang",
        marquee_offset=400.0, panel=ServiceInfo("Perekaman KTP-el", "Dukcapil", "08:00-15:00", "Syarat: KK."),
    )
    base.update(kw)
    return ScreenModel(**base)  # type: ignore[arg-type]


def _has(surface: pygame.Surface, box: tuple[float, float, float, float], color: tuple[int, int, int]) -> int:
    W, H = surface.get_size()
    x0, y0, x1, y1 = int(box[0] * W), int(box[1] * H), int(box[2] * W), int(box[3] * H)
    return sum(1 for x in range(x0, x1, 2) for y in range(y0, y1, 2) if tuple(surface.get_at((x, y)))[:3] == color)


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_board_regions(size: tuple[int, int], tmp_path: Path) -> None:
    surface = render_png(model(), size, str(tmp_path / f"board-{size[0]}.png"))
    assert (tmp_path / f"board-{size[0]}.png").exists()
    assert _has(surface, (0, 0, 1, 0.1), screen.PANEL) > 100  # the header bar
    assert _has(surface, (0.7, 0.0, 1.0, 0.1), screen.ACCENT) > 20  # the clock, top right
    assert _has(surface, (0.0, 0.12, 0.17, 0.3), screen.HIGHLIGHT) > 200  # gerai 1's tile, just called
    assert _has(surface, (0.66, 0.15, 1.0, 0.4), screen.HIGHLIGHT) > 50  # the latest call, large and blinking
    assert _has(surface, (0.0, 0.3, 1.0, 0.6), screen.ALERT) == 0  # connected: no banner


def test_lost_connection_shows_the_banner_over_the_last_board() -> None:
    pygame.display.init()
    pygame.font.init()
    surface = pygame.Surface((1280, 720))
    screen.draw(surface, model(connected=False))
    assert _has(surface, (0.0, 0.43, 1.0, 0.57), screen.ALERT) > 1000
    assert _has(surface, (0.0, 0.12, 0.17, 0.3), screen.HIGHLIGHT) > 100  # the last board is still there


def test_clock_date_is_indonesian() -> None:
    assert screen.date_text(NOW, "WITA") == "Jumat, 27 November 2026"


def test_lobby_filters_its_gerai() -> None:
    pygame.display.init()
    pygame.font.init()
    full, only = pygame.Surface((1280, 720)), pygame.Surface((1280, 720))
    screen.draw(full, model())
    screen.draw(only, model(gerai_filter=["g01", "g02"]))
    assert _has(only, (0.0, 0.6, 0.6, 0.9), screen.TILE) < _has(full, (0.0, 0.6, 0.6, 0.9), screen.TILE)


@pytest.fixture(params=["mosquitto", "embedded"])
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    with running_site(request.param, tmp_path) as stack:
        yield stack.site


def test_a_call_reaches_the_lobby_board_and_the_announcement_queue(running: Site, tmp_path: Path) -> None:
    from antre.lobby.voicepack import VoicePack

    site = running
    app = LobbyApp(site.config, "lobby-1", site.address(Identity(Role.LOBBY, "lobby-1")),
                   pack=VoicePack({}, "test"), journal=tmp_path / "played.log")
    app.start()
    kiosk = Device(site, Role.KIOSK, "k1")
    g1 = Device(site, Role.GERAI, "g1")
    try:
        assert app.link.connected.wait(10)
        kiosk.request(m.TakeTicket(id="k1-lobby-0001", service="ktp"))
        g1.request(m.CallNext(id="g1-lobby-0001"))
        wait_for(lambda: app.board is not None and any(g.ticket == "A001" for g in app.board.gerai), 10,
                 "A001 on the lobby board")
        wait_for(lambda: app.calls and app.calls[-1].ticket == "A001", 10, "the announcement")
        assert app.announcer is not None
        wait_for(lambda: "-A001-1" in "".join(app.announcer.queue.played), 10, "announced (played or playing)")
        surface = pygame.Surface((1280, 720))
        screen.draw(surface, app.model())
        assert _has(surface, (0.0, 0.12, 0.17, 0.3), screen.HIGHLIGHT) > 100  # gerai 1 highlighted
    finally:
        app.stop()
        kiosk.close()
        g1.close()
