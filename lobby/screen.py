"""The lobby board, drawn with pygame at any resolution, sized for the distance it is read from.

Legibility rule (checked on rendered images by tests/test_lobby_screen.py):
a character's cap height must be at least 1/200 of the distance it has to be
read from, about 17 minutes of arc: a letter of 20/20 vision subtends 5', so
the rule leaves a margin of 3.4, or 1.7 for a citizen with 20/40 vision.
Sizes are computed in millimetres on the lobby's screen (``screen_inches``,
16:9; 43 inches by default, the smallest screen the board is designed for, so
the worst case) and converted to pixels from the screen's height, so the same
screen at 720p or 1080p shows the same millimetres.  Three tiers:

* ``call``: the ticket and gerai being announced, at the size ADA 2010
  section 703.5.5 asks of a sign 1.8-3 m above the floor read from the
  viewing distance (2 in plus 1/8 in per foot beyond 15 ft: 86.5 mm at 8 m);
* ``read``: everything a waiting citizen needs to find their turn from the
  farthest seat (``viewing_distance_m``, 8 m by default: 40 mm): ticket and
  gerai numbers on every panel, the history, the waiting counts, the clock;
* ``near``: descriptions read by a citizen who walks halfway (d/2, 20 mm):
  agency and service names, pause reasons, estimates, the information
  area, the running text, the date.

Nothing is ever shrunk to fit: what does not fit is paged.  The board is a
header (logo slot, site and room, date and time), the calls band (the main
panel with the call the voice is announcing, and the history of the room's
recent calls, recalls marked), a rotating area (the gerai, grouped per
agency; the services with waiting count, estimate and remaining quota; the
information pages from the site's folder: text or images), and a running
text.  Gerai tiles say what a gerai does by colour *and* shape: serving
(solid blue), calling (solid yellow, with a pointer), paused (hollow amber
outline with a pause sign and the reason), closed (grey with hatching, square
corners) and offline (dashed red outline with a cross).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402

from antre.lobby.model import CallItem, InfoPage, ScreenModel, ServiceRow, Tile  # noqa: E402

DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")

BG = (12, 32, 64)
PANEL = (22, 52, 96)
TEXT = (240, 244, 250)
MUTED = (170, 190, 215)
ACCENT = (255, 196, 0)
HIGHLIGHT = (250, 230, 50)
ALERT = (200, 30, 40)
SERVING = (28, 96, 178)
IDLE = (36, 64, 104)
BADGE = (10, 24, 48)
PAUSED = (255, 115, 0)
CLOSED = (88, 92, 102)
HATCH = (120, 125, 136)
OFFLINE = (235, 64, 64)
RECALL = (255, 160, 60)

PAGE_SECONDS = 8.0

Tier = Literal["call", "read", "near"]

#: kept for callers of the first board (the main panel's colour while the voice speaks)
TILE = SERVING


# --------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Legibility:
    """Minimum cap heights (mm) for a viewing distance, and pixels on a given screen."""

    distance_m: float = 8.0
    screen_inches: float = 43.0

    @property
    def screen_height_mm(self) -> float:
        return self.screen_inches * 25.4 * 9 / math.hypot(16, 9)

    def mm(self, tier: Tier) -> float:
        read = self.distance_m * 1000 / 200
        if tier == "read":
            return read
        if tier == "near":
            return read / 2
        feet = self.distance_m / 0.3048
        ada = (2 + max(0.0, feet - 15) / 8) * 25.4  # ADA 2010 table 703.5.5, 70-120 in above the floor
        return max(ada, 2 * read)

    def px(self, tier: Tier, height_px: int) -> int:
        """The minimum cap height of ``tier`` in pixels on a screen ``height_px`` tall."""
        return math.ceil(self.mm(tier) / self.screen_height_mm * height_px)


@dataclass(frozen=True)
class Drawn:
    """A text as drawn (tests measure its glyphs in the rendered image)."""

    text: str
    tier: Tier
    rect: tuple[int, int, int, int]
    color: tuple[int, int, int]
    size: int  # the font size
    region: str


_caps: dict[int, int] = {}
_fonts: dict[int, Any] = {}


def font(size: int) -> Any:
    size = max(6, int(size))
    if size not in _fonts:
        _fonts[size] = pygame.font.Font(None, size)
    return _fonts[size]


#: the shortest capitals and digits of FreeSansBold ("1", "4" and "7" are 3 % shorter than "H")
SHORTEST_GLYPHS = "H147"


def cap_height(size: int) -> int:
    """The ink height of the shortest capital or digit at font ``size`` (pygame's bundled FreeSansBold)."""
    if size not in _caps:
        f = font(size)
        _caps[size] = min(int(f.render(ch, True, (255, 255, 255)).get_bounding_rect(min_alpha=128).height)
                          for ch in SHORTEST_GLYPHS)
    return _caps[size]


def size_for_cap(cap_px: int) -> int:
    """The smallest font size whose capitals are at least ``cap_px`` tall."""
    size = max(6, int(cap_px * 2) - 4)
    while cap_height(size) < cap_px:
        size += 1
    return size


def date_text(now: dt.datetime, zone: str = "") -> str:
    return f"{DAYS[now.weekday()]}, {now.day} {MONTHS[now.month - 1]} {now.year}"


# --------------------------------------------------------------------------- the board


@dataclass
class _Metrics:
    W: int
    H: int
    pad: int
    cap: dict[str, int]
    size: dict[str, int]
    line: dict[str, int]


@dataclass
class _Placed:
    kind: Literal["label", "tile"]
    x: int
    width: int
    tile: Tile | None = None
    lines: list[str] = field(default_factory=list)


class Screen:
    """Draws :class:`ScreenModel` frames; remembers every text it drew (:attr:`drawn`) and the
    pages of the rotating area (:attr:`pages`) of the last frame."""

    def __init__(self) -> None:
        self.drawn: list[Drawn] = []
        self.pages: list[str] = []
        self.page = 0
        self._number_sample = "88"
        self._images: dict[tuple[str, int, int], Any] = {}

    # ------------------------------------------------------------ text

    def _font(self, m: _Metrics, tier: Tier) -> Any:
        return font(m.size[tier])

    def width(self, m: _Metrics, text: str, tier: Tier) -> int:
        return int(self._font(m, tier).size(text)[0])

    def text(self, surface: Any, m: _Metrics, text: str, tier: Tier, color: tuple[int, int, int],
             pos: tuple[float, float], anchor: str = "topleft", max_width: float | None = None,
             region: str = "") -> Any:
        """Draw ``text`` at its tier's size; too wide for ``max_width``: cut with an ellipsis, never shrunk."""
        f = self._font(m, tier)
        if max_width is not None and f.size(text)[0] > max_width:
            while text and f.size(text + "\u2026")[0] > max_width:
                text = text[:-1]
            text = text.rstrip() + "\u2026"
        image = f.render(text, True, color)
        rect = image.get_rect(**{anchor: (int(pos[0]), int(pos[1]))})
        surface.blit(image, rect)
        self.drawn.append(Drawn(text, tier, (rect.x, rect.y, rect.w, rect.h), color, m.size[tier], region))
        return rect

    def wrap(self, m: _Metrics, text: str, tier: Tier, width: float, max_lines: int) -> list[str]:
        """Words of ``text`` in lines of at most ``width``; the last line cut with an ellipsis."""
        f = self._font(m, tier)
        lines: list[str] = []
        for word in text.split():
            if lines and f.size(lines[-1] + " " + word)[0] <= width:
                lines[-1] += " " + word
            else:
                lines.append(word)
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] += " \u2026"
        return lines

    # ------------------------------------------------------------ frame

    def metrics(self, size: tuple[int, int], model: ScreenModel) -> _Metrics:
        W, H = size
        leg = Legibility(model.viewing_distance_m, model.screen_inches)
        cap = {t: leg.px(t, H) for t in ("call", "read", "near")}
        sizes = {t: size_for_cap(c) for t, c in cap.items()}
        line = {t: font(s).get_linesize() for t, s in sizes.items()}
        line["call"] = int(cap["call"] * 1.15)
        # a row of ticket numbers and digits: capitals and digits have no descenders
        line["digits"] = int(cap["read"] * 1.3)
        return _Metrics(W, H, max(4, round(H * 0.012)), cap, sizes, line)

    def draw(self, surface: Any, model: ScreenModel) -> None:
        """Draw one frame of the board on ``surface``."""
        self.drawn = []
        m = self.metrics(surface.get_size(), model)
        W, H, pad = m.W, m.H, m.pad
        surface.fill(BG)
        top = self._header(surface, m, model)
        footer = m.line["near"] + pad
        calls_bottom = self._calls(surface, m, model, top + pad)
        self._rotating(surface, m, model, pygame.Rect(pad, calls_bottom + pad, W - 2 * pad,
                                                      H - footer - pad - (calls_bottom + pad)))
        self._footer(surface, m, model, H - footer)
        if not model.connected:
            band = pygame.Rect(0, int(H * 0.40), W, m.line["read"] + m.line["near"] + 2 * pad)
            pygame.draw.rect(surface, ALERT, band)
            self.text(surface, m, "KONEKSI TERPUTUS", "read", TEXT, (W / 2, band.y + pad), "midtop",
                      region="banner")
            self.text(surface, m, "menampilkan data terakhir", "near", TEXT,
                      (W / 2, band.y + pad + m.line["read"]), "midtop", region="banner")

    # ------------------------------------------------------------ header and footer

    def _header(self, surface: Any, m: _Metrics, model: ScreenModel) -> int:
        W, pad = m.W, m.pad
        h = max(m.line["read"], 2 * m.line["near"]) + pad
        pygame.draw.rect(surface, PANEL, (0, 0, W, h))
        x = pad
        logo = self._image(model.logo, h - pad, h - pad) if model.logo else None
        if logo is not None:
            surface.blit(logo, (x, pad // 2))
            x += logo.get_width() + pad
        clock = f"{model.now:%H:%M}"
        clock_w = self.width(m, clock, "read")
        right_block = max(self.width(m, date_text(model.now), "near"), self.width(m, model.zone_abbrev, "near"))
        self.text(surface, m, clock, "read", ACCENT, (W - pad, h / 2), "midright", region="header")
        rx = W - pad - clock_w - pad
        self.text(surface, m, date_text(model.now), "near", MUTED, (rx, pad // 2), "topright", region="header")
        self.text(surface, m, model.zone_abbrev, "near", MUTED, (rx, pad // 2 + m.line["near"]), "topright",
                  region="header")
        room_w = rx - right_block - pad - x
        self.text(surface, m, model.site_name, "near", TEXT, (x, pad // 2), max_width=room_w, region="header")
        if model.room:
            self.text(surface, m, model.room, "near", ACCENT, (x, pad // 2 + m.line["near"]), max_width=room_w,
                      region="header")
        return h

    def _footer(self, surface: Any, m: _Metrics, model: ScreenModel, y: int) -> None:
        pygame.draw.rect(surface, PANEL, (0, y, m.W, m.H - y))
        if model.running_text:
            f = self._font(m, "near")
            image = f.render(model.running_text, True, TEXT)
            span = image.get_width() + m.W
            x = m.W - (model.marquee_offset * m.H * 0.12 + m.W - m.pad) % span  # at 0: from the left edge
            rect = image.get_rect(topleft=(int(x), y + m.pad // 2))
            surface.blit(image, rect)
            self.drawn.append(Drawn(model.running_text, "near", (rect.x, rect.y, rect.w, rect.h), TEXT,
                                    m.size["near"], "footer"))

    # ------------------------------------------------------------ calls

    def _samples(self, model: ScreenModel) -> list[str]:
        prefixes = {s.prefix for s in model.services} | {t.ticket[:2].rstrip("0123456789") for t in model.tiles
                                                         if t.ticket}
        samples = [f"{p}888" for p in prefixes if p] or ["A888"]
        if model.main is not None:
            samples.append(model.main.ticket)
        return samples

    def _calls(self, surface: Any, m: _Metrics, model: ScreenModel, y: int) -> int:
        W, pad = m.W, m.pad
        samples = self._samples(model)
        ticket_w = max(self.width(m, s, "call") for s in samples)
        stack_w = max(self.width(m, "silakan menuju", "near"), self.width(m, "GERAI", "read"),
                      m.cap["near"] + m.pad // 2 + self.width(m, "ULANG", "near"))
        number_w = self.width(m, "88" if not model.main else str(model.main.gerai_number), "call")
        row2 = max(m.line["call"], m.line["near"] + m.line["read"])
        main_w = 2 * pad + max(ticket_w, stack_w + pad + number_w)
        main_h = pad + m.line["call"] + row2 + pad
        main = pygame.Rect(pad, y, main_w, main_h)
        call = model.main
        fill = HIGHLIGHT if (call is not None and model.speaking) else PANEL
        ink = BG if fill == HIGHLIGHT else HIGHLIGHT
        pygame.draw.rect(surface, fill, main, border_radius=pad)
        if call is not None:
            ty = main.y + pad
            self.text(surface, m, call.ticket, "call", ink, (main.centerx, ty + (m.line["call"] - m.cap["call"]) // 2
                                                              - self._top_bearing(m, "call")), "midtop",
                      region="main")
            ry = ty + m.line["call"] + (row2 - m.line["near"] - m.line["read"]) // 2
            x = main.x + pad
            if call.recall:  # a recall is said "panggilan ulang": marked by its sign and word
                icon = m.cap["near"]
                _recall_icon(surface, BG if fill == HIGHLIGHT else RECALL,
                             pygame.Rect(x, ry + (m.line["near"] - icon) // 2, icon, icon))
                self.text(surface, m, "ULANG", "near", BG if fill == HIGHLIGHT else RECALL,
                          (x + icon + pad // 2, ry), region="main")
            else:
                self.text(surface, m, "silakan menuju", "near", ink, (x, ry), region="main")
            self.text(surface, m, "GERAI", "read", ink, (x, ry + m.line["near"]), region="main")
            self.text(surface, m, str(call.gerai_number), "call", ink,
                      (main.right - pad, ty + m.line["call"] + (row2 - m.cap["call"]) // 2
                       - self._top_bearing(m, "call")), "topright", region="main")
        else:
            self.text(surface, m, "menunggu panggilan", "near", MUTED, main.center, "center", region="main")
        # history: to the right of the main panel, and below it when that is not room for six
        hx = main.right + pad
        hw = W - pad - hx
        item_h = m.line["digits"]
        gap = pad
        number = max((str(t.number) for t in model.tiles), key=len, default="88")
        self._number_sample = number
        item_w = max(self._history_width(m, s, int(number)) for s in samples)
        label_h = m.line["near"]
        cols = max(0, (hw + gap) // (item_w + gap))
        rows = max(0, (main_h - label_h - pad) // (item_h + gap // 2)) if cols else 0
        slots: list[tuple[int, int]] = [(hx + c * (item_w + gap), y + label_h + pad // 2 + r * (item_h + gap // 2))
                                        for r in range(rows) for c in range(cols)]
        bottom = main.bottom
        if len(slots) < 6:
            full_cols = max(1, (W - 2 * pad + gap) // (item_w + gap))
            extra_rows = math.ceil((6 - len(slots)) / full_cols)
            for r in range(extra_rows):
                for c in range(full_cols):
                    slots.append((pad + c * (item_w + gap), main.bottom + pad // 2 + r * (item_h + gap // 2)))
            bottom = main.bottom + pad // 2 + extra_rows * (item_h + gap // 2)
        self.text(surface, m, "PANGGILAN TERAKHIR", "near", MUTED, (hx, y), region="history")
        for (sx, sy), item in zip(slots, model.history):
            self._history_item(surface, m, item, sx, sy, item_w)
        return bottom

    def _top_bearing(self, m: _Metrics, tier: Tier) -> int:
        """Pixels between the top of a rendered line and the top of its capitals."""
        f = self._font(m, tier)
        return int(f.get_ascent() - m.cap[tier] * 1.0) if f.get_ascent() > m.cap[tier] else 0

    def _history_width(self, m: _Metrics, ticket: str, gerai: int) -> int:
        icon = m.cap["read"]
        return icon + m.pad // 2 + self.width(m, ticket, "read") + m.pad + self._badge_width(m, str(gerai))

    def _badge_width(self, m: _Metrics, text: str, tier: Tier = "read") -> int:
        return self.width(m, text, tier) + m.pad

    def _history_item(self, surface: Any, m: _Metrics, item: CallItem, x: int, y: int, width: int) -> None:
        h = m.line["digits"]
        icon = m.cap["read"]
        color = MUTED if item.pending else RECALL if item.recall else TEXT  # pending: not yet said
        if item.recall:
            _recall_icon(surface, RECALL, pygame.Rect(x, y + (h - icon) // 2, icon, icon))
        tx = x + icon + m.pad // 2
        self.text(surface, m, item.ticket, "read", color, (tx, y + h // 2), "midleft", region="history")
        self._badge(surface, m, str(item.gerai_number), x + width, y, h, "midright", ACCENT, BADGE,
                    width=self._badge_width(m, self._number_sample))

    def _badge(self, surface: Any, m: _Metrics, text: str, x: int, y: int, h: int, anchor: str,
               ink: tuple[int, int, int], fill: tuple[int, int, int], region: str = "history",
               width: int | None = None) -> pygame.Rect:
        w = width or self._badge_width(m, text)
        rect = pygame.Rect(0, 0, w, h - m.pad // 2)
        setattr(rect, anchor, (x, y + h // 2))
        pygame.draw.rect(surface, fill, rect, border_radius=m.pad)
        self.text(surface, m, text, "read", ink, rect.center, "center", region=region)
        return rect

    # ------------------------------------------------------------ rotating area

    def _rotating(self, surface: Any, m: _Metrics, model: ScreenModel, area: pygame.Rect) -> None:
        pages: list[tuple[str, Any]] = []
        for rows in self._gerai_pages(m, model, area):
            pages.append(("gerai", rows))
        for chunk in self._service_pages(m, model, area):
            pages.append(("layanan", chunk))
        for info in self._info_pages(m, model, area):
            pages.append(("info", info))
        self.pages = [kind for kind, _ in pages]
        if not pages or area.height <= 0:
            return
        self.page = int(model.page_clock // PAGE_SECONDS) % len(pages)
        kind, content = pages[self.page]
        if kind == "gerai":
            self._draw_gerai(surface, m, content, area)
        elif kind == "layanan":
            self._draw_services(surface, m, content, area)
        else:
            self._draw_info(surface, m, content, area)
        if len(pages) > 1:  # where in the cycle: a dot per page
            r = max(2, m.pad // 3)
            for i in range(len(pages)):
                cx = area.right - (len(pages) - i) * 3 * r
                pygame.draw.circle(surface, ACCENT if i == self.page else PANEL, (cx, area.bottom + m.pad // 2), r)

    # gerai ---------------------------------------------------------------

    def _tile_width(self, m: _Metrics, tile: Tile) -> int:
        pad = m.pad
        badge = self._badge_width(m, str(tile.number))
        if tile.status in ("serving", "calling"):
            content = self.width(m, tile.ticket or "888", "read")
            if tile.status == "calling":
                content += m.cap["read"] // 2 + pad
        elif tile.status == "idle":
            content = self.width(m, "\u2014", "read")
        elif tile.status == "closed":
            content = self.width(m, "TUTUP", "read")
        elif tile.status == "offline":
            content = m.cap["read"] + pad // 2 + self.width(m, "OFFLINE", "near")
        else:
            reason = self._pause_lines(m, tile)
            content = m.cap["read"] + pad // 2 + max(self.width(m, line, "near") for line in reason)
        return pad + badge + pad + content + pad

    def _pause_lines(self, m: _Metrics, tile: Tile) -> list[str]:
        reason = tile.note.strip()
        lines = ["ISTIRAHAT"]
        if reason and reason.lower() != "istirahat":
            lines += self.wrap(m, reason, "near", m.W * 0.3, 1)
        return lines

    def _gerai_pages(self, m: _Metrics, model: ScreenModel, area: pygame.Rect) -> list[list[list[_Placed]]]:
        if not model.tiles:
            return []
        pad = m.pad
        groups: dict[str, list[Tile]] = {}
        for tile in model.tiles:
            groups.setdefault(tile.agency_id, []).append(tile)
        rows: list[list[_Placed]] = [[]]
        x = 0
        width = area.width
        for tiles in groups.values():
            lines = self.wrap(m, tiles[0].agency, "near", m.W * 0.16, 2)
            label_w = max(self.width(m, line, "near") for line in lines)
            widths = [self._tile_width(m, t) for t in tiles]
            chip = label_w + pad + sum(w + pad for w in widths)
            if x and x + chip > width:
                rows.append([])
                x = 0
            rows[-1].append(_Placed("label", x, label_w, lines=lines))
            x += label_w + pad
            indent = x
            for tile, w in zip(tiles, widths):
                if x + w > width and x > indent:
                    rows.append([])
                    x = indent
                rows[-1].append(_Placed("tile", x, w, tile=tile))
                x += w + pad
            x += pad
        tile_h = self._tile_height(m)
        per_page = max(1, (area.height + pad) // (tile_h + pad))
        return [rows[i:i + per_page] for i in range(0, len(rows), per_page)]

    def _tile_height(self, m: _Metrics) -> int:
        return max(m.line["digits"], 2 * m.line["near"]) + m.pad // 2

    def _draw_gerai(self, surface: Any, m: _Metrics, rows: list[list[_Placed]], area: pygame.Rect) -> None:
        pad = m.pad
        tile_h = self._tile_height(m)
        for r, row in enumerate(rows):
            y = area.y + r * (tile_h + pad)
            for item in row:
                x = area.x + item.x
                if item.kind == "label":
                    n = len(item.lines)
                    ly = y + (tile_h - n * m.line["near"]) // 2
                    for k, line in enumerate(item.lines):
                        self.text(surface, m, line, "near", MUTED, (x, ly + k * m.line["near"]), region="agency")
                elif item.tile is not None:
                    self._tile(surface, m, item.tile, pygame.Rect(x, y, item.width, tile_h))

    def _tile(self, surface: Any, m: _Metrics, tile: Tile, rect: pygame.Rect) -> None:
        pad = m.pad
        status = tile.status
        radius = pad
        ink = TEXT
        badge_ink, badge_fill = TEXT, BADGE
        if status == "serving" or status == "idle":
            pygame.draw.rect(surface, SERVING if status == "serving" else IDLE, rect, border_radius=radius)
        elif status == "calling":
            pygame.draw.rect(surface, HIGHLIGHT, rect, border_radius=radius)
            pygame.draw.rect(surface, TEXT, rect, width=max(3, pad // 3), border_radius=radius)
            ink, badge_ink, badge_fill = BG, HIGHLIGHT, BG
        elif status == "paused":
            pygame.draw.rect(surface, PAUSED, rect, width=max(3, pad // 3), border_radius=radius)
            ink, badge_ink = PAUSED, PAUSED
        elif status == "closed":
            pygame.draw.rect(surface, CLOSED, rect)
            _hatch(surface, rect, HATCH, max(6, pad))
            ink = TEXT
        else:  # offline
            _dashed_rect(surface, OFFLINE, rect, max(3, pad // 3), pad)
            ink, badge_ink = OFFLINE, OFFLINE
        badge = self._badge(surface, m, str(tile.number), rect.x + pad, rect.y, rect.h, "midleft", badge_ink,
                            badge_fill, region="tile")
        x = badge.right + pad
        cy = rect.centery
        icon = m.cap["read"]
        if status in ("serving", "calling"):
            if status == "calling":
                _pointer(surface, BG, pygame.Rect(x, cy - icon // 2, icon // 2, icon))
                x += icon // 2 + pad
            self.text(surface, m, tile.ticket or "", "read", ink, (x, cy), "midleft", region="tile")
        elif status == "idle":
            self.text(surface, m, "\u2014", "read", MUTED, (x, cy), "midleft", region="tile")
        elif status == "closed":
            self.text(surface, m, "TUTUP", "read", ink, (x, cy), "midleft", region="tile")
        elif status == "offline":
            _cross(surface, OFFLINE, pygame.Rect(x, cy - icon // 2, icon, icon), max(3, pad // 3))
            self.text(surface, m, "OFFLINE", "near", OFFLINE, (x + icon + pad // 2, cy), "midleft", region="tile")
        else:
            _pause_icon(surface, PAUSED, pygame.Rect(x, cy - icon // 2, icon, icon))
            lines = self._pause_lines(m, tile)
            ty = cy - len(lines) * m.line["near"] // 2
            for k, line in enumerate(lines):
                self.text(surface, m, line, "near", PAUSED if k == 0 else TEXT,
                          (x + icon + pad // 2, ty + k * m.line["near"]), region="tile")

    # services -----------------------------------------------------------

    def _service_columns(self, m: _Metrics, area: pygame.Rect) -> dict[str, int]:
        pad = m.pad
        badge = self._badge_width(m, "WW")
        waiting = max(self.width(m, "888", "read"), self.width(m, "menunggu", "near"))
        est = max(self.width(m, "\u00b1888 mnt", "near"), self.width(m, "perkiraan", "near"))
        quota = max(self.width(m, "888", "near"), self.width(m, "sisa kuota", "near"), self.width(m, "tutup", "near"))
        name = area.width - badge - waiting - est - quota - 5 * pad
        return {"badge": badge, "name": name, "waiting": waiting, "est": est, "quota": quota}

    def _service_pages(self, m: _Metrics, model: ScreenModel, area: pygame.Rect) -> list[list[ServiceRow]]:
        if not model.services:
            return []
        row_h = max(m.line["digits"], 2 * m.line["near"]) + m.pad // 2
        per_page = max(1, (area.height - m.line["near"]) // row_h)
        return [model.services[i:i + per_page] for i in range(0, len(model.services), per_page)]

    def _draw_services(self, surface: Any, m: _Metrics, rows: list[ServiceRow], area: pygame.Rect) -> None:
        pad = m.pad
        cols = self._service_columns(m, area)
        x_name = area.x + cols["badge"] + pad
        x_wait = x_name + cols["name"] + pad + cols["waiting"]
        x_est = x_wait + pad + cols["est"]
        x_quota = x_est + pad + cols["quota"]
        self.text(surface, m, "LAYANAN", "near", MUTED, (area.x, area.y), region="services")
        for text, x in (("menunggu", x_wait), ("perkiraan", x_est), ("sisa kuota", x_quota)):
            self.text(surface, m, text, "near", MUTED, (x, area.y), "topright", region="services")
        row_h = max(m.line["digits"], 2 * m.line["near"]) + pad // 2
        for k, s in enumerate(rows):
            y = area.y + m.line["near"] + k * row_h
            cy = y + row_h // 2
            pygame.draw.rect(surface, PANEL, (area.x, y + pad // 4, area.width, row_h - pad // 2),
                             border_radius=pad)
            self._badge(surface, m, s.prefix, area.x, y, row_h, "midleft", ACCENT, BADGE, region="services")
            lines = self.wrap(m, s.name, "near", cols["name"], 2)
            ny = cy - len(lines) * m.line["near"] // 2
            for j, line in enumerate(lines):
                self.text(surface, m, line, "near", TEXT if s.open else MUTED, (x_name, ny + j * m.line["near"]),
                          region="services")
            waiting = "\u2014" if s.waiting is None else str(s.waiting)
            self.text(surface, m, waiting, "read", TEXT, (x_wait, cy), "midright", region="services")
            if not s.open:
                est = "tutup"
            else:
                est = "\u2014" if s.est_wait_min is None else f"\u00b1{s.est_wait_min} mnt"
            self.text(surface, m, est, "near", MUTED if not s.open else TEXT, (x_est, cy), "midright",
                      region="services")
            quota = "tutup" if not s.issuing else "\u2014" if s.remaining_quota is None else str(s.remaining_quota)
            self.text(surface, m, quota, "near", OFFLINE if s.remaining_quota == 0 else TEXT, (x_quota, cy),
                      "midright", region="services")

    # information ---------------------------------------------------------

    def _info_pages(self, m: _Metrics, model: ScreenModel, area: pygame.Rect) -> list[tuple[InfoPage, list[str]]]:
        pages: list[tuple[InfoPage, list[str]]] = []
        for page in model.info:
            if page.image:
                pages.append((page, []))
                continue
            lines = self.wrap(m, page.body, "near", area.width, 10_000)
            per_page = max(1, (area.height - m.line["read"]) // m.line["near"])
            for i in range(0, max(1, len(lines)), per_page):
                pages.append((page, lines[i:i + per_page]))
        return pages

    def _draw_info(self, surface: Any, m: _Metrics, content: tuple[InfoPage, list[str]], area: pygame.Rect) -> None:
        page, lines = content
        if page.image:
            image = self._image(page.image, area.width, area.height)
            if image is not None:
                surface.blit(image, image.get_rect(center=area.center))
            return
        self.text(surface, m, page.title, "read", ACCENT, (area.x, area.y), max_width=area.width, region="info")
        for k, line in enumerate(lines):
            self.text(surface, m, line, "near", TEXT, (area.x, area.y + m.line["read"] + k * m.line["near"]),
                      region="info")

    def _image(self, path: str, width: int, height: int) -> Any:
        key = (path, width, height)
        if key not in self._images:
            try:
                image = pygame.image.load(path)
                scale = min(width / image.get_width(), height / image.get_height())
                self._images[key] = pygame.transform.smoothscale(
                    image, (max(1, int(image.get_width() * scale)), max(1, int(image.get_height() * scale))))
            except (pygame.error, OSError, FileNotFoundError, ZeroDivisionError):
                self._images[key] = None
        return self._images[key]


# --------------------------------------------------------------------------- shapes


def _hatch(surface: Any, rect: pygame.Rect, color: tuple[int, int, int], step: int) -> None:
    clip = surface.get_clip()
    surface.set_clip(rect)
    for x in range(rect.x - rect.h, rect.right, step):
        pygame.draw.line(surface, color, (x, rect.bottom), (x + rect.h, rect.y), max(2, step // 4))
    surface.set_clip(clip)


def _dashed_rect(surface: Any, color: tuple[int, int, int], rect: pygame.Rect, width: int, dash: int) -> None:
    for x in range(rect.x, rect.right, 2 * dash):
        end = min(x + dash, rect.right)
        pygame.draw.line(surface, color, (x, rect.y), (end, rect.y), width)
        pygame.draw.line(surface, color, (x, rect.bottom - 1), (end, rect.bottom - 1), width)
    for y in range(rect.y, rect.bottom, 2 * dash):
        end = min(y + dash, rect.bottom)
        pygame.draw.line(surface, color, (rect.x, y), (rect.x, end), width)
        pygame.draw.line(surface, color, (rect.right - 1, y), (rect.right - 1, end), width)


def _cross(surface: Any, color: tuple[int, int, int], rect: pygame.Rect, width: int) -> None:
    pygame.draw.line(surface, color, rect.topleft, rect.bottomright, width)
    pygame.draw.line(surface, color, rect.bottomleft, rect.topright, width)


def _pause_icon(surface: Any, color: tuple[int, int, int], rect: pygame.Rect) -> None:
    bar = max(2, rect.w // 3)
    pygame.draw.rect(surface, color, (rect.x, rect.y, bar, rect.h))
    pygame.draw.rect(surface, color, (rect.right - bar, rect.y, bar, rect.h))


def _pointer(surface: Any, color: tuple[int, int, int], rect: pygame.Rect) -> None:
    pygame.draw.polygon(surface, color, [rect.topleft, rect.midright, rect.bottomleft])


def _recall_icon(surface: Any, color: tuple[int, int, int], rect: pygame.Rect) -> None:
    """A circular arrow: "called again"."""
    width = max(2, rect.w // 7)
    inner = rect.inflate(-width * 2, -width * 2)
    pygame.draw.arc(surface, color, inner, math.radians(60), math.radians(360), width)
    tip = (inner.centerx + inner.w / 2 * math.cos(math.radians(60)),
           inner.centery - inner.h / 2 * math.sin(math.radians(60)))
    s = rect.w / 3
    pygame.draw.polygon(surface, color, [(tip[0] - s, tip[1] - s * 0.4), (tip[0] + s * 0.6, tip[1] - s * 0.5),
                                         (tip[0] - s * 0.1, tip[1] + s * 0.6)])


# --------------------------------------------------------------------------- entry points


def draw(surface: Any, model: ScreenModel) -> Screen:
    """Draw one frame on ``surface``; the :class:`Screen` that drew it (with what it drew)."""
    screen = Screen()
    screen.draw(surface, model)
    return screen


def render_png(model: ScreenModel, size: tuple[int, int], path: str) -> Any:
    """Draw one frame headless (SDL_VIDEODRIVER=dummy) and save it; the surface."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    pygame.font.init()
    surface = pygame.Surface(size)
    draw(surface, model)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(surface, path)
    return surface


def sample_rng(seed: int = 2026) -> random.Random:
    return random.Random(seed)
