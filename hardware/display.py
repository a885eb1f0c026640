"""Gerai displays: the staff's OLED and seven-segment, the citizens' dot matrix and HDMI screen.

Following luma's device / canvas / render split, a display is a luma device
(real, or luma's own ``dummy`` device for tests and snapshots, or a
luma.emulator window on a laptop) plus a renderer that draws a
:class:`DisplayContent` on it.  Fonts come from Pillow itself
(``ImageFont.load_default(size)``, FreeType) and luma.core's bitmap fonts, so a
frame is pixel-identical on every machine.

Two audiences:

* **staff** (on the desk): the 128x64 OLED (:class:`OledDisplay`) and the MAX7219
  seven-segment (:class:`SevenSegmentDisplay`) show the number, the waiting count,
  the state and every refusal or failure of a press;
* **citizens** (above the counter, read from across the hall): a MAX7219 dot-matrix
  chain (:class:`~antre.hardware.matrix.MatrixDisplay`, 32 mm modules) and a
  full-screen HDMI view (:class:`~antre.hardware.screen.GeraiScreen`, pygame) show
  the number, the gerai and the state; a staff notice is not theirs to read.

Every display shows each :class:`Mode` differently, by shape and text (and colour
where it has colour), never only by brightness, and none presents the last number
as current while it is offline.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image, ImageChops, ImageDraw, ImageFont

log = logging.getLogger(__name__)


class Mode(enum.StrEnum):
    """What a gerai is doing, as every display tells it."""

    CALLING = "calling"  #: a ticket has been called and is being served
    IDLE = "idle"  #: open, nobody called
    PAUSED = "paused"  #: a break (istirahat)
    CLOSED = "closed"  #: outside service hours
    OFFLINE = "offline"  #: no broker, or no central: what is shown may be stale
    WAITING = "waiting"  #: connected, the central's state has not arrived yet


#: the words of a status line that name a mode (when a caller gives no ``mode``)
_STATUS_MODES = {"OFFLINE": Mode.OFFLINE, "PUSAT OFFLINE": Mode.OFFLINE, "ISTIRAHAT": Mode.PAUSED,
                 "TUTUP": Mode.CLOSED, "MENUNGGU DATA": Mode.WAITING, "SIAP": Mode.IDLE}


@dataclass(frozen=True)
class DisplayContent:
    """What a gerai display shows.

    ``status`` is the staff's line: the state in words (``MELAYANI``, ``SIAP``,
    ``ISTIRAHAT``, ``OFFLINE`` ...) or, for a few seconds, a notice: a refusal or a
    failure starts with ``!``.  ``mode`` is the gerai's state underneath (inferred from
    ``status`` and ``number`` when not given).  ``label`` is the gerai's short name on a
    citizens' display (its number, ``"5"``); ``agency`` its agency's short name.
    """

    name: str  # "Gerai 5"
    number: str | None  # "A012", None when nobody is being served (offline: the last one known)
    waiting: int
    status: str
    mode: Mode | None = None
    label: str = ""
    agency: str = ""

    @property
    def state(self) -> Mode:
        """:attr:`mode`, or the mode ``status`` and ``number`` tell."""
        if self.mode is not None:
            return self.mode
        named = _STATUS_MODES.get(self.status)
        if named is not None:
            return named
        return Mode.CALLING if self.number else Mode.IDLE

    @property
    def refusal(self) -> str | None:
        """The refusal or failure being shown (without its ``!``), if any."""
        return self.status[1:] if self.status.startswith("!") else None


class NumberDisplay(Protocol):
    """A display of a gerai: ``show`` a content, a ``test_pattern`` for the technician.

    ``test_pattern`` returns True when the hardware confirmed the pattern (an I2C
    acknowledgement, luma's dummy device read back), False when the read-back differs,
    None when nothing can tell (a MAX7219 on SPI answers nothing: a person must look);
    it raises when the device failed.
    """

    kind: str

    def show(self, content: DisplayContent) -> None: ...
    def test_pattern(self) -> bool | None: ...
    def close(self) -> None: ...


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _fit(draw: ImageDraw.ImageDraw, text: str, max_width: int, max_size: int, min_size: int = 8) -> Any:
    for size in range(max_size, min_size - 1, -1):
        font = _font(size)
        if _ink_width(font, text) <= max_width:
            return font
    return _font(min_size)


def _clip(draw: ImageDraw.ImageDraw, text: str, font: Any, max_width: int) -> str:
    """``text`` cut (with ``..``) to ``max_width`` pixels; "" when not even one character fits."""
    if _ink_width(font, text) <= max_width:
        return text
    for end in range(len(text) - 1, 0, -1):
        cut = text[:end].rstrip() + ".."
        if _ink_width(font, cut) <= max_width:
            return cut
    return ""


def big_text(text: str, height: int, max_width: int) -> Image.Image:
    """``text`` drawn bold ``height`` pixels tall (cap height), squeezed sideways to ``max_width``
    when wider: a mode "1" image exactly as large as the ink."""
    size = max(8, round(height * 1.45))
    stroke = max(1, height // 20)
    font = _font(size)
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    canvas = Image.new("L", (int(right - left) + 4, int(bottom - top) + 4))
    ImageDraw.Draw(canvas).text((2 - left, 2 - top), text, font=font, fill=255, stroke_width=stroke,
                                stroke_fill=255)
    box = canvas.getbbox()
    if box is None:
        return Image.new("1", (1, 1))
    ink = canvas.crop(box)
    width = min(ink.width, max_width)
    if ink.size != (width, height):
        ink = ink.resize((width, height), Image.Resampling.LANCZOS)
    return ink.point(lambda v: 255 if v > 110 else 0).convert("1")


@functools.lru_cache(maxsize=512)
def _ink(font: Any, text: str) -> tuple[int, int, int, int]:
    """The box of the pixels ``text`` lights when drawn at (0, 0) in ``font`` on a 1-bit display
    (FreeType hints 1-bit text differently from its anti-aliased metrics)."""
    left, top, right, bottom = font.getbbox(text)
    pad = 4 + int(bottom - top)
    image = Image.new("1", (int(right - left) + 2 * pad, int(bottom) + 2 * pad))
    ImageDraw.Draw(image).text((pad, pad), text, font=font, fill=1)
    box = image.getbbox()
    if box is None:
        return (0, 0, 0, 0)
    return (box[0] - pad, box[1] - pad, box[2] - pad, box[3] - pad)


def _ink_width(font: Any, text: str) -> int:
    """The width of the pixels ``text`` lights in ``font`` (0 for no text)."""
    if not text:
        return 0
    left, _, right, _ = _ink(font, text)
    return right - left


def _baseline(font: Any, top: int, bottom: int) -> int:
    """The y to draw a line of capitals and digits of ``font`` centred between ``top`` and ``bottom``."""
    _, ink_top, _, ink_bottom = _ink(font, "AG0")
    return top + (bottom - top - (ink_bottom - ink_top)) // 2 - ink_top


def _readback(device: Any, frame: Image.Image) -> bool | None:
    """luma's dummy device keeps what it was sent: compare; a real device: None (ask the caller)."""
    shown = getattr(device, "image", None)
    if shown is None or type(device).__name__ != "dummy":
        return None
    return ImageChops.difference(shown.convert(frame.mode), frame).getbbox() is None


# ------------------------------------------------------------------ OLED (staff)

#: the OLED's bottom line is drawn inverted (white bar, black text) for these
_ALERT_MODES = (Mode.OFFLINE, Mode.PAUSED)


@dataclass(frozen=True)
class Region:
    """A named rectangle of a frame and what is drawn in it (for layout checks)."""

    name: str
    box: tuple[int, int, int, int]  # left, top, right (exclusive), bottom (exclusive)
    text: str


class OledDisplay:
    """The staff's OLED (SSD1306/SH1106 128x64 on I2C, or luma's dummy/emulator).

    Three bands: the gerai's name (cut to fit) and the waiting count on top, the number
    as large as the middle band allows (42 of 64 rows, bold, squeezed sideways when
    long), the status at the bottom (inverted for an alert or a refusal).  Offline the
    number is not shown: ``OFFLINE`` takes its place and the top right says which number
    was last known (``akhir A012``).  Paused shows a pause sign, idle three bars,
    closed ``TUTUP``.
    """

    kind = "oled"

    def __init__(self, device: Any) -> None:
        self.device = device
        self._lock = threading.Lock()
        self.last: DisplayContent | None = None
        self.frame: Image.Image | None = None

    # the layout, in rows of a 64-row display (scaled for others)
    def _bands(self) -> tuple[int, int, int]:
        h = self.device.height
        line = max(9, round(h * 10 / 64))  # one text line
        return line, h - line, line + 1  # top band ends, bottom band starts, the middle's top

    def layout(self, content: DisplayContent) -> list[Region]:
        """Where each text of ``content`` is drawn; the regions never overlap."""
        w, h = self.device.width, self.device.height
        line, bottom, _ = self._bands()
        draw = ImageDraw.Draw(Image.new("1", (w, h)))
        small = _font(line)
        mode = content.state
        if mode is Mode.OFFLINE:
            right = f"akhir {content.number}" if content.number else ""
        elif mode is Mode.WAITING:
            right = ""
        else:
            right = f"Tunggu {content.waiting}"
        right_w = _ink_width(small, right)
        if right_w > w // 2:  # a huge count: the number alone, never cut
            right = str(content.waiting) if mode is not Mode.OFFLINE else right
            right_w = _ink_width(small, right)
        name_w = max(0, w - right_w - (6 if right else 0))
        name = _clip(draw, content.name, small, name_w)
        regions = [Region("name", (0, 0, name_w, line), name)]
        if right:
            regions.append(Region("waiting", (w - right_w, 0, w, line), right))
        # calling with nothing to say: no status line, the number takes the room (MELAYANI is plain to see)
        status = self._status_text(content)
        quiet = mode is Mode.CALLING and content.refusal is None and content.number is not None
        regions.append(Region("middle", (0, line + 1, w, h if quiet else bottom - 1), self._middle_text(content)))
        if not quiet:
            regions.append(Region("status", (0, bottom, w, h), status))
        return regions

    @staticmethod
    def _middle_text(content: DisplayContent) -> str:
        mode = content.state
        if mode is Mode.CALLING:
            return content.number or ""
        return {Mode.OFFLINE: "OFFLINE", Mode.CLOSED: "TUTUP"}.get(mode, "")

    @staticmethod
    def _status_text(content: DisplayContent) -> str:
        return (content.refusal or content.status)[:40]

    def render(self, content: DisplayContent) -> Image.Image:
        """The frame for ``content`` (also what :meth:`show` sends to the device)."""
        w, h = self.device.width, self.device.height
        image = Image.new(self.device.mode, (w, h))
        draw = ImageDraw.Draw(image)
        line, bottom, _ = self._bands()
        small = _font(line)
        mode = content.state
        for region in self.layout(content):
            left, top, right, low = region.box
            if region.name in ("name", "waiting"):
                ink_left = _ink(small, region.text)[0] if region.text else 0
                draw.text((left - ink_left, _baseline(small, top, low)), region.text, font=small, fill="white")
            elif region.name == "middle":
                self._draw_middle(image, draw, content, region.box)
            else:
                alert = mode in _ALERT_MODES or content.refusal is not None
                text = region.text
                font = _fit(draw, text, w - 4, line, min_size=7)  # long refusals shrink to fit
                if alert:
                    draw.rectangle((left, top, right - 1, low - 1), fill="white")
                ink_left, _, ink_right, _ = _ink(font, text) if text else (0, 0, 0, 0)
                draw.text(((w - (ink_right - ink_left)) // 2 - ink_left, _baseline(font, top, low)), text, font=font,
                          fill="black" if alert else "white")
        return image

    def _draw_middle(self, image: Image.Image, draw: ImageDraw.ImageDraw, content: DisplayContent,
                     box: tuple[int, int, int, int]) -> None:
        left, top, right, bottom = box
        w, hh = right - left, bottom - top
        cx, cy = (left + right) // 2, (top + bottom) // 2
        mode = content.state
        if mode is Mode.CALLING and content.number:
            ink = big_text(content.number, hh - 4, w - 4)
        elif mode is Mode.OFFLINE:
            ink = big_text("OFFLINE", hh // 2, w - 8)
        elif mode is Mode.CLOSED:
            ink = big_text("TUTUP", hh * 2 // 3, w - 8)
        elif mode is Mode.PAUSED:  # a pause sign: two thick bars
            bar_w, bar_h, gap = max(4, hh // 5), hh * 3 // 4, max(4, hh // 5)
            for x in (cx - gap // 2 - bar_w, cx + gap // 2):
                draw.rectangle((x, cy - bar_h // 2, x + bar_w - 1, cy + bar_h // 2), fill="white")
            return
        elif mode is Mode.IDLE:  # open, nobody called: three bars where the number will be
            bar_w, bar_h, gap = max(8, w // 6), max(3, hh // 10), max(6, w // 12)
            x0 = cx - (3 * bar_w + 2 * gap) // 2
            for i in range(3):
                x = x0 + i * (bar_w + gap)
                draw.rectangle((x, cy - bar_h // 2, x + bar_w - 1, cy + bar_h // 2), fill="white")
            return
        else:  # waiting for the central's state: three dots
            r = max(2, hh // 14)
            for i in (-1, 0, 1):
                x = cx + i * 5 * r
                draw.ellipse((x - r, cy - r, x + r, cy + r), fill="white")
            return
        image.paste(ink.convert(image.mode), (cx - ink.width // 2, cy - ink.height // 2))

    def show(self, content: DisplayContent) -> None:
        with self._lock:
            frame = self.render(content)
            self.device.display(frame)
            self.last, self.frame = content, frame

    def pattern(self) -> Image.Image:
        """The test pattern: every other column lit, a frame, and ``UJI LAYAR``."""
        w, h = self.device.width, self.device.height
        image = Image.new(self.device.mode, (w, h))
        draw = ImageDraw.Draw(image)
        for x in range(0, w, 8):
            draw.line((x, 0, x, h - 1), fill="white")
        draw.rectangle((0, 0, w - 1, h - 1), outline="white")
        draw.rectangle((w // 2 - 36, h // 2 - 9, w // 2 + 36, h // 2 + 9), fill="black", outline="white")
        draw.text((w // 2 - 30, h // 2 - 6), "UJI LAYAR", font=_font(12), fill="white")
        return image

    def test_pattern(self) -> bool | None:
        with self._lock:
            image = self.pattern()
            self.device.display(image)  # an I2C display that is not there raises (no acknowledgement)
            self.frame = image
            seen = _readback(self.device, image)
            return True if seen is None else seen  # I2C acknowledged every byte

    def close(self) -> None:
        try:
            self.device.cleanup()
        except Exception:  # pragma: no cover - a device that is already gone
            log.debug("display cleanup failed", exc_info=True)


# ------------------------------------------------------------ seven segment (staff)

#: Segment bits in MAX7219 no-decode order: DP A B C D E F G (bit 7 .. bit 0).
_A, _B, _C, _D, _E, _F, _G, _DP = 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01, 0x80
#: Letters legible on seven segments; no two letters alike (S is 5 and Z is 2, as everywhere:
#: a ticket's letters come before its digits).  X is the Greek Xi (three bars), since an
#: X drawn like an H would be read as H.
SEGMENTS: dict[str, int] = {
    "0": _A | _B | _C | _D | _E | _F, "1": _B | _C, "2": _A | _B | _G | _E | _D, "3": _A | _B | _G | _C | _D,
    "4": _F | _G | _B | _C, "5": _A | _F | _G | _C | _D, "6": _A | _F | _G | _E | _D | _C,
    "7": _A | _B | _C, "8": 0x7F, "9": _A | _B | _C | _D | _F | _G, " ": 0, "-": _G, "_": _D,
    "A": _A | _B | _C | _E | _F | _G, "B": _F | _E | _D | _C | _G, "C": _A | _F | _E | _D,
    "D": _B | _C | _D | _E | _G, "E": _A | _F | _G | _E | _D, "F": _A | _F | _G | _E,
    "G": _A | _F | _E | _D | _C, "H": _F | _E | _G | _B | _C, "I": _E | _F, "J": _B | _C | _D | _E,
    "K": _F | _E | _G | _C, "L": _F | _E | _D, "M": _A | _E | _C, "N": _E | _G | _C, "O": _C | _D | _E | _G,
    "P": _A | _B | _F | _G | _E, "Q": _A | _B | _F | _G | _C, "R": _E | _G, "S": _A | _F | _G | _C | _D,
    "T": _F | _E | _D | _G, "U": _F | _E | _D | _C | _B, "V": _E | _D | _C, "W": _B | _D | _F,
    "X": _A | _G | _D, "Y": _F | _G | _B | _C | _D, "Z": _A | _B | _G | _E | _D,
}

#: what a seven-segment display shows for a state (its own words: legible on seven segments)
SEVEN_SEGMENT_WORDS = {Mode.IDLE: "SIAP", Mode.PAUSED: "JEDA", Mode.CLOSED: "TUTUP", Mode.OFFLINE: "OFF",
                       Mode.WAITING: "----"}
#: a refusal or failure of a press, for the seconds it is shown
SEVEN_SEGMENT_REFUSAL = "Err"
#: how long each page of a number too long for the digits stays (the MicroPython node's ALTERNATE_MS)
PAGE_SECONDS = 1.0


def segment_mapper(text: str, notfound: str = "_") -> list[int]:
    """luma.core.virtual.sevensegment mapper: text to segment bytes ('.' lights the previous DP)."""
    out: list[int] = []
    for ch in text.upper():
        if ch == "." and out:
            out[-1] |= _DP
            continue
        out.append(SEGMENTS.get(ch, SEGMENTS.get(notfound, 0)))
    return out


def fit_number(ticket: str, digits: int, page: int = 0) -> str:
    """A ticket number on ``digits`` positions, never cut (the MicroPython node's rule, same result):
    as printed when it fits (``A012``); else with as few of the sequence's leading zeros dropped
    as needed (``AB012`` on 4 digits: ``AB12``); else the prefix and the sequence as two pages
    shown in turn, ``page`` 0 and 1 (``AB1234``: ``AB``, then ``1234``)."""
    if len(ticket) <= digits:
        return ticket
    i = 0
    while i < len(ticket) and not ticket[i].isdigit():
        i += 1
    prefix, seq = ticket[:i], ticket[i:]
    while len(prefix) + len(seq) > digits and len(seq) > 1 and seq[0] == "0":
        seq = seq[1:]
    if len(prefix) + len(seq) <= digits:
        return prefix + seq
    return prefix if page % 2 == 0 else seq[-digits:]


def seven_segment_pages(content: DisplayContent, digits: int) -> list[str]:
    """What an N-digit display shows, one string per page (shown in turn, :data:`PAGE_SECONDS` each).

    Calling: the number (:func:`fit_number`) and, on 8 digits, the waiting count right-aligned
    when it fits whole with a space between (``A012   7``, ``AB012 45``); a count that does not fit
    whole is not shown at all.  Idle ``SIAP``, paused ``JEDA`` (each with the count on 8 digits),
    closed ``TUTUP`` (``TUTP`` on 4), offline ``OFF``, no state yet ``----``, a refused or failed
    press ``Err`` for the seconds it is shown.
    """
    mode = content.state
    if content.refusal is not None:
        return [SEVEN_SEGMENT_REFUSAL.ljust(digits)]
    if mode is Mode.CALLING and content.number:
        heads = [fit_number(content.number, digits, page) for page in (0, 1)]
        if heads[0] == heads[1]:
            heads = heads[:1]
    else:
        word = SEVEN_SEGMENT_WORDS.get(mode, "----")
        heads = [word if len(word) <= digits else "TUTP"]
    pages = []
    for head in heads:
        text = head
        if digits >= 8 and mode in (Mode.CALLING, Mode.IDLE, Mode.PAUSED):
            count = str(content.waiting)
            gap = digits - len(head) - len(count)
            if gap >= 1:
                text = head + " " * gap + count
        pages.append(text.ljust(digits)[:digits])
    return pages


def seven_segment_text(content: DisplayContent, digits: int, page: int = 0) -> str:
    """Page ``page`` of :func:`seven_segment_pages` (the first by default)."""
    pages = seven_segment_pages(content, digits)
    return pages[page % len(pages)]


class SevenSegmentDisplay:
    """A MAX7219 seven-segment display (luma.led_matrix), or a luma dummy of 8x8 pixels.

    Pages of a number too long for the digits are shown in turn by a small thread (one
    per display, started when needed, stopped by :meth:`close`).
    """

    kind = "seven-segment"

    def __init__(self, device: Any, digits: int = 8, page_seconds: float = PAGE_SECONDS) -> None:
        from luma.core.virtual import sevensegment

        self.device = device
        self.digits = digits
        self.page_seconds = page_seconds
        self._seg = sevensegment(device, segment_mapper=segment_mapper)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pages: list[str] = []
        self._page = 0
        self._closed = False
        self._pager: threading.Thread | None = None
        self.last: DisplayContent | None = None

    def show(self, content: DisplayContent) -> None:
        with self._lock:
            pages = seven_segment_pages(content, self.digits)
            if pages != self._pages:
                self._pages, self._page = pages, 0
                self._seg.text = pages[0]
                self._changed.notify_all()
            self.last = content
            if len(pages) > 1 and self._pager is None:
                self._pager = threading.Thread(target=self._turn_pages, name="seven-segment-pages", daemon=True)
                self._pager.start()

    def _turn_pages(self) -> None:
        with self._lock:
            while not self._closed:
                if len(self._pages) < 2:
                    self._changed.wait()
                    continue
                pages = self._pages
                if self._changed.wait(self.page_seconds) or self._closed or pages is not self._pages:
                    continue  # new content: its first page stays its full time
                self._page = (self._page + 1) % len(self._pages)
                self._seg.text = self._pages[self._page]

    def test_pattern(self) -> bool | None:
        with self._lock:
            self._pages = []
            self._seg.text = "8." * self.digits
            if type(self.device).__name__ == "dummy":
                return self.segments() == [0xFF] * self.digits
            return None  # SPI answers nothing: a person must look

    def segments(self) -> list[int]:
        """The segment bytes shown, one per digit, read back from the device's frame (for tests)."""
        image = getattr(self.device, "image", None)
        if image is None:
            return []
        px = image.load()
        out = []
        for x in reversed(range(self.device.width)):
            byte = 0
            for y in range(8):
                if px[x, y]:
                    byte |= 1 << y
            out.append(byte)
        return out

    def preview(self, scale: int = 4) -> Image.Image:
        """A picture of what the digits show (for technicians' snapshots and reference images)."""
        return segments_image(self.segments(), scale)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._changed.notify_all()
        try:
            self.device.cleanup()
        except Exception:  # pragma: no cover
            log.debug("display cleanup failed", exc_info=True)


def segments_image(segments: list[int], scale: int = 4) -> Image.Image:
    """Seven-segment digits drawn as lit (red) and unlit (dark) bars, one per segment byte."""
    w, h, pad = 12 * scale, 20 * scale, 3 * scale
    t = max(1, 2 * scale)
    image = Image.new("RGB", (len(segments) * (w + pad) + pad, h + 2 * pad), (10, 10, 10))
    draw = ImageDraw.Draw(image)
    for i, byte in enumerate(segments):
        x0, y0 = pad + i * (w + pad), pad
        bars = {
            _A: (x0 + t, y0, x0 + w - t, y0 + t), _G: (x0 + t, y0 + h // 2 - t // 2, x0 + w - t, y0 + h // 2 + t // 2),
            _D: (x0 + t, y0 + h - t, x0 + w - t, y0 + h), _F: (x0, y0 + t, x0 + t, y0 + h // 2 - t // 2),
            _B: (x0 + w - t, y0 + t, x0 + w, y0 + h // 2 - t // 2), _E: (x0, y0 + h // 2 + t // 2, x0 + t, y0 + h - t),
            _C: (x0 + w - t, y0 + h // 2 + t // 2, x0 + w, y0 + h - t),
            _DP: (x0 + w + pad // 4, y0 + h - t, x0 + w + pad // 4 + t, y0 + h),
        }
        for bit, box in bars.items():
            draw.rectangle(box, fill=(255, 40, 20) if byte & bit else (40, 12, 10))
    return image


# ------------------------------------------------------------------ several displays


class DisplayGroup:
    """Several displays of one gerai shown as one (the staff's OLED and the citizens' matrix).

    A member that fails is logged and the others go on; :meth:`show` raises the first
    failure after every member was tried, so the agent reports it as a fault.
    """

    kind = "group"

    def __init__(self, members: Sequence[NumberDisplay]) -> None:
        self.members = list(members)

    def show(self, content: DisplayContent) -> None:
        first: Exception | None = None
        for member in self.members:
            try:
                member.show(content)
            except Exception as exc:
                log.error("display %s: %s", member.kind, exc)
                first = first or exc
        if first is not None:
            raise first

    def test_pattern(self) -> bool | None:
        results = [member.test_pattern() for member in self.members]
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True

    def close(self) -> None:
        for member in self.members:
            member.close()


def members(display: NumberDisplay | None) -> list[NumberDisplay]:
    """The single displays of ``display`` (a group's members, or itself)."""
    if display is None:
        return []
    if isinstance(display, DisplayGroup):
        return list(display.members)
    return [display]


# ------------------------------------------------------------------ building one

KINDS = ("ssd1306", "sh1106", "max7219", "max7219-matrix", "hdmi", "none")


def open_display(kind: str, *, mock: bool, width: int = 128, height: int = 64, i2c_port: int = 1,
                 i2c_address: int = 0x3C, spi_port: int = 0, spi_device: int = 0, digits: int = 8,
                 modules: int = 4, block_orientation: int = -90, rotate: int = 0, reverse_order: bool = False,
                 resolution: str = "native", emulator: bool = False) -> NumberDisplay | None:
    """Build the configured display: real luma device, or luma's dummy/emulator when ``mock``.

    ``max7219`` is the 8-digit (or 4-digit) seven-segment module; ``max7219-matrix`` a chain of
    ``modules`` 8x8 dot-matrix modules (4 or 8); ``hdmi`` the full-screen gerai view (pygame:
    the ``hdmi`` extra) at ``resolution`` (``native`` or ``WIDTHxHEIGHT``).
    """
    if kind == "none":
        return None
    if kind in ("ssd1306", "sh1106"):
        if mock:
            device = _emulator(width, height) if emulator else _dummy(width, height, "1")
        else:
            from luma.core.interface.serial import i2c
            from luma.oled.device import sh1106, ssd1306

            cls = ssd1306 if kind == "ssd1306" else sh1106
            device = cls(i2c(port=i2c_port, address=i2c_address), width=width, height=height)
        return OledDisplay(device)
    if kind == "max7219":
        if mock:
            device = _dummy(digits, 8, "1")
        else:
            from luma.core.interface.serial import noop, spi
            from luma.led_matrix.device import max7219

            device = max7219(spi(port=spi_port, device=spi_device, gpio=noop()), cascaded=1)
        return SevenSegmentDisplay(device, digits)
    if kind == "max7219-matrix":
        from antre.hardware.matrix import MatrixDisplay

        if modules not in (4, 8):
            raise ValueError("a dot-matrix chain has 4 or 8 modules")
        if mock:
            device = _dummy(8 * modules, 8, "1")
        else:
            from luma.core.interface.serial import noop, spi
            from luma.led_matrix.device import max7219

            device = max7219(spi(port=spi_port, device=spi_device, gpio=noop()), cascaded=modules,
                             block_orientation=block_orientation, rotate=rotate,
                             blocks_arranged_in_reverse_order=reverse_order)
        return MatrixDisplay(device)
    if kind == "hdmi":
        from antre.hardware.screen import GeraiScreen, parse_resolution

        return GeraiScreen.open(parse_resolution(resolution), mock=mock)
    raise ValueError(f"unknown display type {kind!r} ({', '.join(KINDS)})")


def _dummy(width: int, height: int, mode: str) -> Any:
    from luma.core.device import dummy

    return dummy(width=width, height=height, mode=mode)


def _emulator(width: int, height: int) -> Any:
    try:
        from luma.emulator.device import pygame as emulator
    except ImportError:
        log.warning("luma.emulator is not installed: using the dummy device (pip install luma.emulator)")
        return _dummy(width, height, "1")
    return emulator(width=width, height=height, mode="1", scale=3)
