"""The citizens' number above a gerai: a chain of MAX7219 8x8 dot-matrix modules (luma.led_matrix).

Four modules (32x8 LEDs) or eight (64x8) of the common 32 mm size: a character
is 7 of the 8 rows, 28 mm tall, legible from across an MPP hall (citizens need
about 25 mm at 3 m and more further away).  Text is drawn with luma.core's
bitmap fonts (CP437, bold two-pixel strokes; the thinner LCD font when a number
would not fit), so each LED is one pixel of the font and frames are identical on
every machine.

What each state looks like (four modules; eight add the gerai's number after an
arrow, ``A012 > 5``):

* calling: the number, as printed on the ticket (``AB012`` whole);
* idle: ``SIAP``;
* paused: a pause sign and ``JEDA`` (eight modules: ``ISTIRAHAT``);
* closed: ``TUTUP`` between two bars;
* offline: ``OFF`` (eight modules: ``OFFLINE``) in thin letters over a dotted line between
  dotted brackets: never the last number;
* no state yet: three dots.

A staff notice (a refusal) is not shown here: citizens see the gerai's state.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from PIL import Image, ImageDraw

from antre.hardware.display import DisplayContent, Mode, _readback

log = logging.getLogger(__name__)


#: A zero without the slash or dot of the bitmap fonts' own (a slashed zero reads as the letter Ø
#: to a citizen): columns, bit 0 the top row.
ZERO_BOLD = [0x3E, 0x7F, 0x41, 0x41, 0x7F, 0x3E]
ZERO_THIN = [0x3E, 0x41, 0x41, 0x41, 0x3E]
ZERO_TINY = [0x3E, 0x22, 0x3E]


class _Glyphs:
    """A luma legacy font with some glyphs replaced (indexable by character code, as luma wants)."""

    def __init__(self, base: Any, replace: dict[str, list[int]]) -> None:
        self.base = base
        self.replace = {ord(k): v for k, v in replace.items()}

    def __getitem__(self, code: int) -> Any:
        return self.replace.get(code) or self.base[code]


@functools.lru_cache(maxsize=1)
def _fonts() -> tuple[Any, Any, Any]:
    """Bold (CP437), thin (LCD) and tiny (TINY) proportional fonts, with unslashed zeros."""
    from luma.core.legacy.font import CP437_FONT, LCD_FONT, TINY_FONT, proportional

    return (proportional(_Glyphs(CP437_FONT, {"0": ZERO_BOLD})), proportional(_Glyphs(LCD_FONT, {"0": ZERO_THIN})),
            proportional(_Glyphs(TINY_FONT, {"0": ZERO_TINY})))


def text_width(text: str, font: Any) -> int:
    from luma.core.legacy import textsize

    width: int = textsize(text, font=font)[0]
    return width


def _draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, font: Any) -> None:
    from luma.core.legacy import text as legacy_text

    legacy_text(draw, xy, text, fill="white", font=font)


class MatrixDisplay:
    """A MAX7219 dot-matrix chain (or luma's dummy device of the same size)."""

    kind = "matrix"

    def __init__(self, device: Any) -> None:
        self.device = device
        self._lock = threading.Lock()
        self.last: DisplayContent | None = None
        self.frame: Image.Image | None = None

    @property
    def modules(self) -> int:
        return int(self.device.width) // 8

    @staticmethod
    def fit_font(text: str, width: int) -> Any | None:
        """The boldest font in which ``text`` fits ``width`` LEDs (None: not even the tiny one)."""
        bold, thin, tiny = _fonts()
        for font in (bold, thin, tiny):
            if text_width(text, font) <= width:
                return font
        return None

    def render(self, content: DisplayContent) -> Image.Image:
        """The frame for ``content`` (mode "1", one pixel per LED)."""
        w, h = self.device.width, self.device.height
        image = Image.new("1", (w, h))
        draw = ImageDraw.Draw(image)
        bold, thin, tiny = _fonts()
        mode = content.state
        wide = w >= 64
        label = content.label if wide else ""
        # the gerai's number on the right of a wide chain: "> 5"
        tail = 0
        if label and mode in (Mode.CALLING, Mode.IDLE):
            label_font = bold if text_width(label, bold) <= 16 else thin
            lw = text_width(label, label_font)
            tail = lw + 7
            x = w - lw
            _draw_text(draw, (x, 0), label, label_font)
            ax = x - 6  # an arrow: a filled triangle pointing right, rows 1..5
            for i in range(3):
                draw.line((ax + i, 1 + i, ax + i, 5 - i), fill="white")
        room = w - tail
        if mode is Mode.CALLING and content.number:
            font = self.fit_font(content.number, room) or tiny
            tw = text_width(content.number, font)
            _draw_text(draw, ((room - tw) // 2 if not tail else 0, 0), content.number, font)
        elif mode is Mode.IDLE:
            self._centered(draw, "SIAP", room, bold)
        elif mode is Mode.PAUSED:
            word = "ISTIRAHAT" if wide else "JEDA"
            font = self.fit_font(word, w - 7) or tiny
            tw = text_width(word, font)
            x0 = (w - (tw + 7)) // 2
            draw.rectangle((x0, 1, x0 + 1, 5), fill="white")  # a pause sign
            draw.rectangle((x0 + 3, 1, x0 + 4, 5), fill="white")
            _draw_text(draw, (x0 + 7, 0), word, font)
        elif mode is Mode.CLOSED:
            font = self.fit_font("TUTUP", room) or tiny
            tw = text_width("TUTUP", font)
            x0 = (room - tw) // 2
            _draw_text(draw, (x0, 0), "TUTUP", font)
            if x0 >= 6:  # room for a bar each side: closed, crossed out
                draw.line((1, 3, x0 - 3, 3), fill="white")
                draw.line((x0 + tw + 2, 3, room - 2, 3), fill="white")
        elif mode is Mode.OFFLINE:  # dotted brackets and a dotted line under a thin OFF: no number
            for x in range(0, w, 2):
                draw.point((x, h - 1), fill="white")
            for y in range(0, h - 1, 2):
                draw.point((0, y), fill="white")
                draw.point((w - 1, y), fill="white")
            word = "OFFLINE" if wide else "OFF"
            tw = text_width(word, thin)
            _draw_text(draw, ((w - tw) // 2, 0), word, thin)
        else:  # waiting for the central's state: three dots
            for i in (-1, 0, 1):
                x = room // 2 + 4 * i
                draw.rectangle((x - 1, 3, x, 4), fill="white")
        return image

    @staticmethod
    def _centered(draw: ImageDraw.ImageDraw, text: str, width: int, font: Any) -> None:
        tw = text_width(text, font)
        _draw_text(draw, ((width - tw) // 2, 0), text, font)

    def show(self, content: DisplayContent) -> None:
        with self._lock:
            frame = self.render(content)
            self.device.display(frame)
            self.last, self.frame = content, frame

    def pattern(self) -> Image.Image:
        """Every LED on: a dead LED is a dark dot."""
        return Image.new("1", (self.device.width, self.device.height), 1)

    def test_pattern(self) -> bool | None:
        with self._lock:
            image = self.pattern()
            self.device.display(image)
            self.frame = image
            return _readback(self.device, image)  # None on a real chain: SPI answers nothing

    def preview(self, scale: int = 8) -> Image.Image:
        """The frame shown, as the LEDs look (red dots, a gap between modules)."""
        frame = self.frame or Image.new("1", (self.device.width, self.device.height))
        return matrix_image(frame, scale)

    def close(self) -> None:
        try:
            self.device.cleanup()
        except Exception:  # pragma: no cover
            log.debug("display cleanup failed", exc_info=True)


def matrix_image(frame: Image.Image, scale: int = 8) -> Image.Image:
    """A dot-matrix frame drawn as round LEDs, lit red or dark (the modules' LED pitch runs on
    across their seams, as on a chain of 32 mm modules)."""
    w, h = frame.size
    gap = max(1, scale // 2)
    image = Image.new("RGB", (w * scale + 2 * gap, h * scale + 2 * gap), (12, 12, 12))
    draw = ImageDraw.Draw(image)
    px = frame.convert("1").load()
    assert px is not None
    r = max(1, scale * 3 // 8)
    for x in range(w):
        for y in range(h):
            cx = gap + x * scale + scale // 2
            cy = gap + y * scale + scale // 2
            lit = bool(px[x, y])
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 45, 25) if lit else (48, 14, 12))
    return image
