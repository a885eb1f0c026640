"""Number displays above the gerai: OLED (luma.oled) and MAX7219 seven-segment.

Following luma's device / canvas / render split, a display is a luma device
(real, or luma's own ``dummy`` device for tests and snapshots, or a
luma.emulator window on a laptop) plus a renderer that draws a
:class:`DisplayContent` on it.  Fonts come from Pillow itself
(``ImageFont.load_default(size)``, FreeType), so a frame is pixel-identical
on every machine.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DisplayContent:
    """What a gerai display shows."""

    name: str  # "Gerai 5"
    number: str | None  # "A012", None when nobody is being served
    waiting: int
    status: str  # the bottom line: "MELAYANI", "SIAP", "ISTIRAHAT", "OFFLINE", a refusal ...


class NumberDisplay(Protocol):
    def show(self, content: DisplayContent) -> None: ...
    def test_pattern(self) -> None: ...
    def close(self) -> None: ...


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _fit(draw: ImageDraw.ImageDraw, text: str, max_width: int, max_size: int, min_size: int = 8) -> Any:
    for size in range(max_size, min_size - 1, -1):
        font = _font(size)
        if draw.textlength(text, font=font) <= max_width:
            return font
    return _font(min_size)


class OledDisplay:
    """Renders on a luma device (SSD1306/SH1106 128x64, or a dummy/emulator)."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self._lock = threading.Lock()
        self.last: DisplayContent | None = None
        self.frame: Image.Image | None = None

    def render(self, content: DisplayContent) -> Image.Image:
        """The frame for ``content`` (also what :meth:`show` sends to the device)."""
        w, h = self.device.width, self.device.height
        image = Image.new(self.device.mode, (w, h))
        draw = ImageDraw.Draw(image)
        small = _font(max(8, h // 6))
        draw.text((0, 0), content.name, font=small, fill="white")
        waiting = f"Tunggu {content.waiting}"
        draw.text((w - draw.textlength(waiting, font=small), 0), waiting, font=small, fill="white")
        number = content.number or "----"
        line_h = max(8, h // 6) + 2
        big = _fit(draw, number, w - 4, h - 2 * line_h - 2)
        left, top, right, bottom = draw.textbbox((0, 0), number, font=big)
        x = (w - (right - left)) // 2 - left
        y = line_h + (h - 2 * line_h - (bottom - top)) // 2 - top
        draw.text((x, y), number, font=big, fill="white")
        status = content.status[:40]
        alert = status in ("OFFLINE", "ISTIRAHAT") or status.startswith("!")
        status = status.lstrip("!")
        font = _fit(draw, status, w - 2, max(8, h // 6), min_size=7)  # long refusals shrink to fit
        sw = draw.textlength(status, font=font)
        if alert:
            draw.rectangle((0, h - line_h, w - 1, h - 1), fill="white")
        draw.text(((w - sw) // 2, h - line_h + 1), status, font=font, fill="black" if alert else "white")
        return image

    def show(self, content: DisplayContent) -> None:
        with self._lock:
            frame = self.render(content)
            self.device.display(frame)
            self.last, self.frame = content, frame

    def test_pattern(self) -> None:
        with self._lock:
            w, h = self.device.width, self.device.height
            image = Image.new(self.device.mode, (w, h))
            draw = ImageDraw.Draw(image)
            for x in range(0, w, 8):
                draw.line((x, 0, x, h - 1), fill="white")
            draw.rectangle((0, 0, w - 1, h - 1), outline="white")
            draw.text((4, h // 2 - 6), "UJI LAYAR", font=_font(12), fill="white")
            self.device.display(image)
            self.frame = image

    def close(self) -> None:
        try:
            self.device.cleanup()
        except Exception:  # pragma: no cover - a device that is already gone
            log.debug("display cleanup failed", exc_info=True)


# ------------------------------------------------------------ seven segment

#: Segment bits in MAX7219 no-decode order: DP A B C D E F G (bit 7 .. bit 0).
_A, _B, _C, _D, _E, _F, _G, _DP = 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01, 0x80
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
    "X": _F | _B | _G | _E | _C, "Y": _F | _G | _B | _C | _D, "Z": _A | _B | _G | _E | _D,
}


def segment_mapper(text: str, notfound: str = "_") -> list[int]:
    """luma.core.virtual.sevensegment mapper: text to segment bytes ('.' lights the previous DP)."""
    out: list[int] = []
    for ch in text.upper():
        if ch == "." and out:
            out[-1] |= _DP
            continue
        out.append(SEGMENTS.get(ch, SEGMENTS.get(notfound, 0)))
    return out


def seven_segment_text(content: DisplayContent, digits: int) -> str:
    """What an N-digit display shows: the number (and, on 8 digits, the waiting count)."""
    if content.status == "OFFLINE":
        return "OFF".ljust(digits)[:digits]
    if content.status == "ISTIRAHAT":
        return "----".ljust(digits)[:digits]
    number = content.number or "----"
    if digits >= 8:
        return f"{number:<4}{min(content.waiting, 9999):>4}"[:digits]
    return number.rjust(digits)[-digits:]


class SevenSegmentDisplay:
    """A MAX7219 seven-segment display (luma.led_matrix), or a luma dummy of 8x8 pixels."""

    def __init__(self, device: Any, digits: int = 8) -> None:
        from luma.core.virtual import sevensegment

        self.device = device
        self.digits = digits
        self._seg = sevensegment(device, segment_mapper=segment_mapper)
        self._lock = threading.Lock()
        self.last: DisplayContent | None = None

    def show(self, content: DisplayContent) -> None:
        with self._lock:
            self._seg.text = seven_segment_text(content, self.digits)
            self.last = content

    def test_pattern(self) -> None:
        with self._lock:
            self._seg.text = "8." * self.digits

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


def open_display(kind: str, *, mock: bool, width: int = 128, height: int = 64, i2c_port: int = 1,
                 i2c_address: int = 0x3C, spi_port: int = 0, spi_device: int = 0, digits: int = 8,
                 emulator: bool = False) -> NumberDisplay | None:
    """Build the configured display: real luma device, or luma's dummy/emulator when ``mock``."""
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
    raise ValueError(f"unknown display type {kind!r} (ssd1306, sh1106, max7219, none)")


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
