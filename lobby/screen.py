"""The lobby screen, drawn with pygame at any resolution from 1280x720 to 3840x2160.

Everything is laid out in fractions of the screen, with pygame's bundled font
(identical on every machine): a header with the MPP's name and the date and
time in Indonesian with the zone (WIB, WITA, WIT); a tile per gerai (gerai,
agency, the number being served); the latest call, highlighted and blinking
for a few seconds; each service's waiting count, remaining quota and
estimated wait; a rotating panel with a service's hours and standard; a
running text line; and a red "KONEKSI TERPUTUS" banner when the board is stale.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402

from antre.broker.wire import messages as m  # noqa: E402

DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")

BG = (12, 32, 64)
PANEL = (22, 52, 96)
TILE = (30, 66, 120)
TILE_PAUSED = (70, 70, 80)
TEXT = (240, 244, 250)
MUTED = (170, 190, 215)
ACCENT = (255, 196, 0)
HIGHLIGHT = (255, 214, 64)
ALERT = (200, 30, 40)
HIGHLIGHT_SECONDS = 8.0


@dataclass
class ServiceInfo:
    """What the rotating panel says of a service (from the site config)."""

    name: str
    agency: str
    hours: str
    standard: str


@dataclass
class ScreenModel:
    """Everything one frame needs."""

    site_name: str
    zone_abbrev: str
    now: dt.datetime  # in the site's zone
    board: m.Board | None = None
    connected: bool = True
    highlight: m.BoardCall | None = None
    highlight_age: float = 99.0
    running_text: str = ""
    marquee_offset: float = 0.0
    panel: ServiceInfo | None = None
    gerai_filter: list[str] = field(default_factory=list)
    service_filter: list[str] = field(default_factory=list)


_fonts: dict[int, Any] = {}


def font(px: int) -> Any:
    px = max(8, int(px))
    if px not in _fonts:
        _fonts[px] = pygame.font.Font(None, px)
    return _fonts[px]


def _text(surface: Any, text: str, px: float, color: tuple[int, int, int], pos: tuple[float, float],
          anchor: str = "topleft", max_width: float | None = None) -> Any:
    size = int(px)
    image = font(size).render(text, True, color)
    while max_width is not None and image.get_width() > max_width and size > 10:
        size = int(size * 0.9)
        image = font(size).render(text, True, color)
    rect = image.get_rect(**{anchor: (int(pos[0]), int(pos[1]))})
    surface.blit(image, rect)
    return rect


def date_text(now: dt.datetime, zone: str) -> str:
    return f"{DAYS[now.weekday()]}, {now.day} {MONTHS[now.month - 1]} {now.year}"


def draw(surface: Any, model: ScreenModel) -> None:
    """Draw one frame of the lobby board on ``surface``."""
    W, H = surface.get_size()
    u = H / 100.0  # one hundredth of the screen height
    surface.fill(BG)

    # header
    pygame.draw.rect(surface, PANEL, (0, 0, W, 10 * u))
    _text(surface, model.site_name, 5 * u, TEXT, (2 * u, 5 * u), "midleft", max_width=W * 0.55)
    _text(surface, f"{model.now:%H:%M} {model.zone_abbrev}", 6 * u, ACCENT, (W - 2 * u, 3.6 * u), "midright")
    _text(surface, date_text(model.now, model.zone_abbrev), 3.2 * u, MUTED, (W - 2 * u, 8 * u), "midright")

    board = model.board
    gerai = [g for g in (board.gerai if board else []) if not model.gerai_filter or g.gerai in model.gerai_filter]
    services = [s for s in (board.services if board else [])
                if not model.service_filter or s.service in model.service_filter]

    # gerai tiles, left 64 %
    left_w = W * 0.64
    top = 12 * u
    bottom = H - 9 * u
    n = max(1, len(gerai))
    cols = 4 if n > 9 else 3 if n > 4 else 2
    rows = (n + cols - 1) // cols
    gap = 1.2 * u
    tile_w = (left_w - 2 * u - gap * (cols - 1)) / cols
    tile_h = min(22 * u, (bottom - top - gap * (rows - 1)) / rows)
    for i, g in enumerate(gerai):
        x = 2 * u + (i % cols) * (tile_w + gap)
        y = top + (i // cols) * (tile_h + gap)
        called = model.highlight is not None and model.highlight.gerai == g.gerai and model.highlight_age < 3
        color = HIGHLIGHT if called else TILE_PAUSED if g.status == "paused" else TILE
        pygame.draw.rect(surface, color, (x, y, tile_w, tile_h), border_radius=int(u))
        ink = BG if called else TEXT
        _text(surface, g.name.upper(), tile_h * 0.16, ink, (x + u, y + 0.8 * u), max_width=tile_w * 0.55)
        _text(surface, g.agency, tile_h * 0.13, BG if called else MUTED, (x + tile_w - u, y + u), "topright",
              max_width=tile_w * 0.45)
        number = "ISTIRAHAT" if g.status == "paused" else (g.ticket or "----")
        _text(surface, number, tile_h * (0.34 if g.status == "paused" else 0.55), ink,
              (x + tile_w / 2, y + tile_h * 0.6), "center", max_width=tile_w * 0.9)
    if not gerai:
        _text(surface, "Menunggu data antrean ...", 5 * u, MUTED, (left_w / 2, H / 2), "center")

    # latest call, right column
    rx = left_w + 1 * u
    rw = W - rx - 2 * u
    pygame.draw.rect(surface, PANEL, (rx, top, rw, 30 * u), border_radius=int(u))
    _text(surface, "PANGGILAN", 3.2 * u, MUTED, (rx + rw / 2, top + 3 * u), "center")
    call = model.highlight or (board.calls[-1] if board and board.calls else None)
    if call is not None:
        blink = model.highlight is not None and model.highlight_age < HIGHLIGHT_SECONDS and \
            int(model.highlight_age * 2) % 2 == 0
        color = HIGHLIGHT if blink else TEXT
        _text(surface, call.ticket, 13 * u, color, (rx + rw / 2, top + 13 * u), "center", max_width=rw * 0.9)
        _text(surface, f"silakan menuju {call.gerai_name}", 4 * u, color, (rx + rw / 2, top + 24.5 * u), "center",
              max_width=rw * 0.92)

    # services: waiting, quota, estimate
    sy = top + 32 * u
    _text(surface, "LAYANAN", 2.8 * u, MUTED, (rx, sy))
    _text(surface, "menunggu  sisa kuota  perkiraan", 2.4 * u, MUTED, (rx + rw, sy), "topright")
    line = 3.4 * u
    max_lines = int((bottom - 22 * u - sy) / line)
    for j, s in enumerate(services[:max(0, max_lines)]):
        y = sy + 3.6 * u + j * line
        _text(surface, f"{s.prefix}  {s.name}", 2.6 * u, TEXT if s.open else MUTED, (rx, y), max_width=rw * 0.5)
        quota = "tutup" if not s.issuing else "-" if s.remaining_quota is None else str(s.remaining_quota)
        est = "-" if s.est_wait_min is None else f"{s.est_wait_min} mnt"
        _text(surface, f"{s.waiting:>3}    {quota:>4}    {est:>7}", 2.6 * u, TEXT, (rx + rw, y), "topright")

    # rotating panel: hours and service standard
    py = bottom - 20 * u
    pygame.draw.rect(surface, PANEL, (rx, py, rw, 19 * u), border_radius=int(u))
    if model.panel is not None:
        p = model.panel
        _text(surface, p.name, 3 * u, ACCENT, (rx + u, py + u), max_width=rw - 2 * u)
        _text(surface, f"{p.agency}  |  Jam layanan: {p.hours}", 2.4 * u, MUTED, (rx + u, py + 5 * u),
              max_width=rw - 2 * u)
        for k, chunk in enumerate(_wrap(p.standard, int(rw / (1.25 * u)))[:3]):
            _text(surface, chunk, 2.5 * u, TEXT, (rx + u, py + 9 * u + k * 3.2 * u), max_width=rw - 2 * u)

    # running text
    pygame.draw.rect(surface, PANEL, (0, H - 7 * u, W, 7 * u))
    if model.running_text:
        image = font(int(4 * u)).render(model.running_text, True, TEXT)
        span = image.get_width() + W
        x = W - (model.marquee_offset % span)
        surface.blit(image, (x, H - 5.6 * u))

    # connection banner
    if not model.connected:
        pygame.draw.rect(surface, ALERT, (0, H * 0.42, W, 16 * u))
        _text(surface, "KONEKSI TERPUTUS", 9 * u, TEXT, (W / 2, H * 0.42 + 6 * u), "center")
        _text(surface, "menampilkan data terakhir", 3.5 * u, TEXT, (W / 2, H * 0.42 + 12.5 * u), "center")


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, max(10, width))


def sample_board(site: str = "kupang", site_name: str = "Mal Pelayanan Publik Kota Kupang") -> m.Board:
    """A board for snapshots without a running site."""
    tiles = [m.BoardGerai(gerai=f"g{i:02d}", number=i, name=f"Gerai {i}", agency=a, status=st,  # type: ignore[arg-type]
                          ticket=t)
             for i, (a, st, t) in enumerate([
                 ("Dukcapil", "serving", "A012"), ("Dukcapil", "serving", "B007"), ("Dukcapil", "idle", None),
                 ("KPP Pratama", "serving", "D003"), ("Bapenda", "paused", None), ("BPJS Kesehatan", "serving", "G015"),
                 ("BPJS Ketenagakerjaan", "serving", "H004"), ("ATR/BPN", "idle", None), ("PLN", "serving", "K021"),
                 ("Perumda Air Minum", "serving", "L009"), ("Bank NTT", "serving", "M030"), ("PT Pos", "idle", None),
                 ("Kemenkumham", "serving", "P011")], start=1)]
    services = [m.BoardService(service=s, name=n, agency=a, prefix=p, waiting=w, remaining_quota=q, est_wait_min=e,
                               open=True)
                for s, n, a, p, w, q, e in [
                    ("ktp-el", "Perekaman dan Pencetakan KTP-el", "Dukcapil", "A", 14, 126, 56),
                    ("kk", "Kartu Keluarga dan Akta", "Dukcapil", "B", 9, 103, 45),
                    ("npwp", "Pendaftaran NPWP", "KPP Pratama", "D", 2, None, 24),
                    ("jkn", "Pendaftaran JKN-KIS", "BPJS Kesehatan", "G", 5, 65, 50),
                    ("paspor", "Informasi Paspor", "Kemenkumham", "P", 12, 0, 180)]]
    calls = [m.BoardCall(ticket="P011", gerai="g13", gerai_number=13, gerai_name="Gerai 13", ts=0),
             m.BoardCall(ticket="A012", gerai="g01", gerai_number=1, gerai_name="Gerai 1", ts=1)]
    return m.Board(site=site, site_name=site_name, rev=1, ts=0, gerai=tiles, services=services, calls=calls)


def render_png(model: ScreenModel, size: tuple[int, int], path: str) -> Any:
    """Draw one frame headless (SDL_VIDEODRIVER=dummy) and save it."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    pygame.font.init()
    surface = pygame.Surface(size)
    draw(surface, model)
    pygame.image.save(surface, path)
    return surface
