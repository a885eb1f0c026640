"""The citizens' view of one gerai on a TV or monitor above the counter (HDMI, pygame).

Full screen at any resolution (laid out in fractions of the height, pygame's
bundled font so frames are identical everywhere): the gerai's name and agency
on top, the state in the middle, a coloured band with what the state means at
the bottom.  Each state has its own colour, its own sign and its own words:

* calling (dark blue, green band ``SILAKAN MAJU``): the number, as large as the screen
  allows, with the waiting count;
* idle (blue band ``SIAP MELAYANI``): three bars where a number will be;
* paused (amber): a pause sign and ``ISTIRAHAT``;
* closed (grey): ``TUTUP``;
* offline (red): a broken-link sign and ``TIDAK TERHUBUNG``: the last number is not
  shown, it may be stale;
* no state yet: ``MENUNGGU DATA``.

On a Pi without a desktop, SDL draws straight on the HDMI output (KMS/DRM); with
``mock`` (tests, a laptop) it draws off-screen (SDL's ``dummy`` video driver) and
:meth:`GeraiScreen.snapshot` gives the frame.  Needs pygame (``pip install 'antre[hdmi]'``).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402
from PIL import Image  # noqa: E402

from antre.hardware.display import DisplayContent, Mode  # noqa: E402

log = logging.getLogger(__name__)

Colour = tuple[int, int, int]

TEXT: Colour = (244, 246, 250)
MUTED: Colour = (175, 190, 210)


#: per state: background, band colour, band text, sign colour
LOOK: dict[Mode, tuple[Colour, Colour, str, Colour]] = {
    Mode.CALLING: ((10, 30, 66), (22, 150, 72), "SILAKAN MAJU", (255, 214, 64)),
    Mode.IDLE: ((10, 30, 66), (34, 96, 178), "SIAP MELAYANI", (120, 170, 230)),
    Mode.PAUSED: ((58, 38, 4), (214, 138, 0), "LAYANAN DIJEDA SEBENTAR", (255, 176, 0)),
    Mode.CLOSED: ((32, 32, 36), (90, 90, 98), "DI LUAR JAM LAYANAN", (150, 150, 160)),
    Mode.OFFLINE: ((54, 8, 12), (196, 28, 36), "MOHON TUNGGU", (255, 90, 90)),
    Mode.WAITING: ((10, 30, 66), (60, 70, 90), "MENUNGGU DATA", MUTED),
}


def parse_resolution(text: str) -> tuple[int, int] | None:
    """``native`` (None: the screen's own) or ``WIDTHxHEIGHT`` (320x240 .. 7680x4320)."""
    if text == "native":
        return None
    match = re.fullmatch(r"(\d{3,4})x(\d{3,4})", text)
    if not match:
        raise ValueError(f"resolution {text!r}: use native or WIDTHxHEIGHT, e.g. 1920x1080")
    w, h = int(match.group(1)), int(match.group(2))
    if not (320 <= w <= 7680 and 240 <= h <= 4320):
        raise ValueError(f"resolution {text!r}: between 320x240 and 7680x4320")
    return w, h


_fonts: dict[int, Any] = {}


def _font(px: float) -> Any:
    size = max(8, int(px))
    if size not in _fonts:
        if not pygame.font.get_init():
            pygame.font.init()
        _fonts[size] = pygame.font.Font(None, size)
    return _fonts[size]


def _text(surface: Any, text: str, px: float, colour: Colour, anchor: str, pos: tuple[float, float],
          max_width: float) -> Any:
    """Draw ``text`` at ``px`` (smaller until it fits ``max_width``); returns its rect."""
    size = px
    image = _font(size).render(text, True, colour)
    while image.get_width() > max_width and size > 10:
        size *= 0.92
        image = _font(size).render(text, True, colour)
    rect = image.get_rect(**{anchor: (int(pos[0]), int(pos[1]))})
    surface.blit(image, rect)
    return rect


def draw(surface: Any, content: DisplayContent) -> None:
    """One frame of the gerai view of ``content`` on ``surface``."""
    W, H = surface.get_size()
    u = H / 100.0
    mode = content.state
    bg, band, band_text, sign = LOOK[mode]
    surface.fill(bg)
    # header: the gerai and its agency
    pygame.draw.rect(surface, tuple(min(255, c + 18) for c in bg), (0, 0, W, 16 * u))
    _text(surface, content.name.upper(), 11 * u, TEXT, "midleft", (3 * u, 8 * u), W * 0.6)
    if content.agency:
        _text(surface, content.agency, 6 * u, MUTED, "midright", (W - 3 * u, 8 * u), W * 0.35)
    # the band: what the state means
    pygame.draw.rect(surface, band, (0, 84 * u, W, 16 * u))
    _text(surface, band_text, 8 * u, TEXT, "center", (W / 2, 92 * u), W * 0.92)
    # the middle
    cx, cy = W / 2, 50 * u
    if mode is Mode.CALLING and content.number:
        _text(surface, "NOMOR ANTREAN", 6 * u, MUTED, "center", (cx, 23 * u), W * 0.9)
        _text(surface, content.number, 62 * u, sign, "center", (cx, 51.5 * u), W * 0.94)
        _text(surface, f"Menunggu: {content.waiting} orang", 5 * u, MUTED, "center", (cx, 78.5 * u), W * 0.9)
    elif mode is Mode.IDLE:
        bar_w, bar_h, gap = 16 * u, 4 * u, 7 * u
        x0 = cx - (3 * bar_w + 2 * gap) / 2
        for i in range(3):
            pygame.draw.rect(surface, sign, (x0 + i * (bar_w + gap), cy - 8 * u, bar_w, bar_h), border_radius=int(u))
        _text(surface, f"Menunggu: {content.waiting} orang", 5 * u, MUTED, "center", (cx, 66 * u), W * 0.9)
    elif mode is Mode.PAUSED:
        bar_w, bar_h = 8 * u, 34 * u
        left = cx - 44 * u
        pygame.draw.rect(surface, sign, (left, cy - bar_h / 2, bar_w, bar_h), border_radius=int(u))
        pygame.draw.rect(surface, sign, (left + bar_w + 6 * u, cy - bar_h / 2, bar_w, bar_h), border_radius=int(u))
        _text(surface, "ISTIRAHAT", 20 * u, sign, "midleft", (left + 2 * bar_w + 14 * u, cy), W * 0.62)
    elif mode is Mode.CLOSED:
        _text(surface, "TUTUP", 34 * u, sign, "center", (cx, cy), W * 0.9)
        pygame.draw.line(surface, sign, (cx - 40 * u, cy + 18 * u), (cx + 40 * u, cy + 18 * u), int(2 * u))
    elif mode is Mode.OFFLINE:
        # a broken link: two rings apart, a slash between them
        r, t = 9 * u, max(2, int(2.2 * u))
        pygame.draw.circle(surface, sign, (int(cx - 20 * u), int(cy - 8 * u)), int(r), t)
        pygame.draw.circle(surface, sign, (int(cx + 20 * u), int(cy - 8 * u)), int(r), t)
        pygame.draw.line(surface, sign, (cx - 5 * u, cy + 4 * u), (cx + 5 * u, cy - 20 * u), t)
        _text(surface, "TIDAK TERHUBUNG", 12 * u, sign, "center", (cx, cy + 17 * u), W * 0.9)
        _text(surface, "Nomor yang dipanggil akan tampil lagi setelah tersambung", 4.5 * u, MUTED, "center",
              (cx, cy + 27 * u), W * 0.9)
    else:
        for i in (-1, 0, 1):
            pygame.draw.circle(surface, sign, (int(cx + i * 9 * u), int(cy)), int(2.5 * u))


def pattern(surface: Any) -> None:
    """The test pattern: colour bars, a white frame, the resolution and ``UJI LAYAR``."""
    W, H = surface.get_size()
    colours = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0),
               (0, 0, 255), (0, 0, 0)]
    for i, colour in enumerate(colours):
        pygame.draw.rect(surface, colour, (i * W // 8, 0, W // 8 + 1, H))
    pygame.draw.rect(surface, (255, 255, 255), (0, 0, W, H), max(2, H // 100))
    box = pygame.Rect(0, 0, W // 2, H // 4)
    box.center = (W // 2, H // 2)
    pygame.draw.rect(surface, (0, 0, 0), box)
    _text(surface, "UJI LAYAR", H / 10, (255, 255, 255), "center", (W / 2, H / 2 - H / 30), W / 2.2)
    _text(surface, f"{W} x {H}", H / 20, (200, 200, 200), "center", (W / 2, H / 2 + H / 14), W / 2.2)


def to_image(surface: Any) -> Image.Image:
    """A pygame surface as a Pillow RGB image."""
    size = surface.get_size()
    return Image.frombytes("RGB", size, pygame.image.tobytes(surface, "RGB"))


class GeraiScreen:
    """The HDMI gerai view: one pygame display, drawn by its own thread (SDL wants one thread).

    ``show`` only hands the content over; the thread draws it and flips, and keeps
    SDL's event queue pumped.  With ``mock`` the frame is drawn off-screen at once.
    """

    kind = "hdmi"

    def __init__(self, size: tuple[int, int], *, window: bool) -> None:
        self.size = size
        self.window = window
        self._lock = threading.Condition()
        self._content: DisplayContent | None = None
        self._pattern = False
        self._dirty = False
        self._closed = False
        self._drawn = 0  # frames flipped (the thread's count)
        self._failure: Exception | None = None
        self.last: DisplayContent | None = None
        self.surface: Any = pygame.Surface(size)
        self._thread: threading.Thread | None = None
        if window:
            self._ready = threading.Event()
            self._thread = threading.Thread(target=self._run, name="gerai-screen", daemon=True)
            self._thread.start()
            self._ready.wait(10)
            if self._failure is not None:
                raise self._failure

    @classmethod
    def open(cls, resolution: tuple[int, int] | None, *, mock: bool) -> GeraiScreen:
        """The screen at ``resolution`` (None: the display's own; mock: 1280x720 off-screen)."""
        if mock:
            return cls(resolution or (1280, 720), window=False)
        return cls(resolution or (0, 0), window=True)

    def _run(self) -> None:
        try:
            pygame.display.init()
            flags = pygame.FULLSCREEN if self.size == (0, 0) else 0
            screen = pygame.display.set_mode(self.size, flags)
            pygame.mouse.set_visible(False)
            self.size = screen.get_size()
            self.surface = pygame.Surface(self.size)
        except Exception as exc:  # no HDMI, no permission on /dev/dri
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._dirty or self._closed, timeout=0.5)
                if self._closed:
                    break
                dirty, self._dirty = self._dirty, False
                content, showing_pattern = self._content, self._pattern
            pygame.event.pump()
            if dirty:
                try:
                    if showing_pattern:
                        pattern(screen)
                    elif content is not None:
                        draw(screen, content)
                    pygame.display.flip()
                except Exception as exc:  # pragma: no cover - a display that went away
                    log.error("HDMI screen: %s", exc)
                    self._failure = exc
                with self._lock:
                    self._drawn += 1
                    self._lock.notify_all()
        pygame.display.quit()

    def show(self, content: DisplayContent) -> None:
        with self._lock:
            if self._failure is not None:
                raise self._failure
            self._content, self._pattern, self.last = content, False, content
            if not self.window:
                draw(self.surface, content)
                return
            self._dirty = True
            self._lock.notify_all()

    def test_pattern(self) -> bool | None:
        with self._lock:
            self._pattern = True
            if not self.window:
                pattern(self.surface)
                return True  # drawn off-screen: nothing to look at
            self._dirty = True
            drawn = self._drawn
            self._lock.notify_all()
            if not self._lock.wait_for(lambda: self._drawn > drawn or self._failure is not None, timeout=5):
                raise RuntimeError("the HDMI screen did not draw the test pattern within 5 s")
            if self._failure is not None:
                raise self._failure
        return None  # SDL cannot tell whether a monitor shows it: a person must look

    def snapshot(self) -> Image.Image:
        """The current frame (mock: the off-screen surface)."""
        with self._lock:
            return to_image(self.surface)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(5)
