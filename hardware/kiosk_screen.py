"""A kiosk's screen on a luma device (the OLED of a kiosk, or luma's dummy in tests and snapshots).

Draws an :class:`~antre.edge.kiosk.KioskView`-shaped object: on a 128x64 OLED the service
(prefix and name), the numbers left today in large type (or the people waiting when the
service has no quota), the waiting count and the estimated wait, and a state line at the
bottom, inverted when no number can be taken now (``KERTAS HABIS``, ``KUOTA HABIS``,
``LAYANAN TUTUP``, ``OFFLINE``...).  Offline, the figures are not drawn: old numbers are
never shown as current.  Larger screens get the same rows, larger.  Every text is fitted
to the width (smaller type, then cut with "..."), so nothing overprints.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from PIL import Image, ImageDraw, ImageFont


class KioskScreenView(Protocol):
    """What the screen draws (``antre.edge.kiosk.KioskView``)."""

    @property
    def title(self) -> str: ...
    @property
    def headline(self) -> str: ...
    @property
    def alert(self) -> bool: ...
    @property
    def state(self) -> str: ...
    @property
    def remaining_quota(self) -> int | None: ...
    @property
    def waiting(self) -> int | None: ...
    @property
    def est_wait_min(self) -> int | None: ...


def _font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def _fitted(draw: ImageDraw.ImageDraw, text: str, width: int, size: int, smallest: int) -> tuple[str, Any]:
    """``text`` at the largest size from ``size`` down to ``smallest`` that fits ``width``; cut when none does."""
    for s in range(size, smallest - 1, -1):
        font = _font(s)
        if draw.textlength(text, font=font) <= width:
            return text, font
    font = _font(smallest)
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "...", font


class KioskScreen:
    """Draws kiosk views on a luma device; :attr:`frame` is the last image shown."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self._lock = threading.Lock()
        self.frame: Image.Image | None = None
        self.last: KioskScreenView | None = None

    def render(self, view: KioskScreenView) -> Image.Image:
        w, h = self.device.width, self.device.height
        image = Image.new(self.device.mode, (w, h))
        draw = ImageDraw.Draw(image)
        row = max(10, h // 6)  # small rows: 10 px on a 64 px OLED
        title, font = _fitted(draw, view.title, w - 2, row, 8)
        draw.text((1, 0), title, font=font, fill="white")
        bar_top = h - row - 2
        show_figures = view.state not in ("offline", "central_offline") and view.waiting is not None
        if show_figures:
            if view.remaining_quota is not None:
                big, small = f"SISA {view.remaining_quota}", f"Antre {view.waiting}"
            else:
                big, small = f"ANTRE {view.waiting}", ""
            if view.est_wait_min is not None:
                small = (small + "  " if small else "") + f"~{view.est_wait_min} menit"
            small_top = bar_top - 1
            if small:
                text, font = _fitted(draw, small, w - 2, row, 8)
                _, top, _, bottom = draw.textbbox((0, 0), text, font=font)
                small_top = bar_top - 2 - (bottom - top)  # its lowest pixel clear of the state line
                draw.text(((w - draw.textlength(text, font=font)) // 2, small_top - top), text, font=font,
                          fill="white")
            big_top = row + 2
            big_h = small_top - 2 - big_top
            text, font = _fitted(draw, big, w - 4, big_h, 10)
            left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
            while bottom - top > big_h and font.size > 10:  # the glyphs' real height, not the type size
                font = _font(font.size - 1)
                left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
            draw.text(((w - (right - left)) // 2 - left, big_top + (big_h - (bottom - top)) // 2 - top), text,
                      font=font, fill="white")
        text, font = _fitted(draw, view.headline, w - 4, row, 7)
        if view.alert:
            draw.rectangle((0, bar_top, w - 1, h - 1), fill="white")
        draw.text(((w - draw.textlength(text, font=font)) // 2, bar_top + 1), text, font=font,
                  fill="black" if view.alert else "white")
        return image

    def show(self, view: KioskScreenView) -> None:
        with self._lock:
            frame = self.render(view)
            self.device.display(frame)
            self.frame, self.last = frame, view
