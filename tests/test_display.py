"""Number display frames on luma's dummy device: pixel assertions and PNG snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops

from antre.hardware.display import (
    DisplayContent, OledDisplay, SevenSegmentDisplay, open_display, segment_mapper, seven_segment_text,
)

SERVING = DisplayContent("Gerai 5", "A012", 7, "MELAYANI")


def _oled() -> OledDisplay:
    display = open_display("ssd1306", mock=True)
    assert isinstance(display, OledDisplay)
    return display


def _lit(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    return sum(image.crop(box).histogram()[1:])


def test_frame_layout(tmp_path: Path) -> None:
    d = _oled()
    d.show(SERVING)
    frame = d.device.image  # what luma's dummy device received
    assert frame.size == (128, 64) and frame.mode == "1"
    assert ImageChops.difference(frame, d.render(SERVING)).getbbox() is None
    assert _lit(frame, (0, 0, 60, 12)) > 20  # the gerai name, top left
    assert _lit(frame, (70, 0, 128, 12)) > 20  # the waiting count, top right
    assert _lit(frame, (10, 14, 118, 50)) > 300  # the number, big, in the middle
    assert _lit(frame, (0, 53, 128, 64)) < 250  # the status line is not inverted when serving
    frame.resize((512, 256)).save(tmp_path / "serving.png")


def test_offline_inverts_the_status_line_and_keeps_the_last_number() -> None:
    d = _oled()
    d.show(DisplayContent("Gerai 5", "A012", 7, "OFFLINE"))
    frame = d.device.image
    assert _lit(frame, (0, 54, 128, 64)) > 900  # a white bar with black text
    d.show(SERVING)
    assert _lit(d.device.image, (0, 54, 128, 64)) < 250


def test_different_numbers_give_different_frames() -> None:
    d = _oled()
    a = d.render(SERVING)
    b = d.render(DisplayContent("Gerai 5", "A013", 7, "MELAYANI"))
    assert ImageChops.difference(a, b).getbbox() is not None


def test_long_numbers_shrink_to_fit() -> None:
    d = _oled()
    frame = d.render(DisplayContent("Gerai 13", "NP1000", 130, "MELAYANI"))
    assert _lit(frame, (0, 14, 2, 50)) == 0 and _lit(frame, (126, 14, 128, 50)) == 0  # nothing clipped at the edges


def test_rendering_is_deterministic() -> None:
    assert _oled().render(SERVING).tobytes() == _oled().render(SERVING).tobytes()


def test_test_pattern() -> None:
    d = _oled()
    d.test_pattern()
    assert _lit(d.device.image, (0, 0, 128, 64)) > 600


def test_seven_segment_mapping() -> None:
    assert segment_mapper("A012") == [0x77, 0x7E, 0x30, 0x6D]
    assert segment_mapper("8.") == [0xFF]
    assert seven_segment_text(SERVING, 8) == "A012   7"
    assert seven_segment_text(SERVING, 4) == "A012"
    assert seven_segment_text(DisplayContent("G", None, 0, "OFFLINE"), 4) == "OFF "
    assert seven_segment_text(DisplayContent("G", None, 3, "ISTIRAHAT"), 8) == "----    "


def test_seven_segment_on_the_dummy_device() -> None:
    d = open_display("max7219", mock=True, digits=8)
    assert isinstance(d, SevenSegmentDisplay)
    d.show(SERVING)
    assert d.segments() == [0x77, 0x7E, 0x30, 0x6D, 0, 0, 0, 0x70]


def test_unknown_display_type() -> None:
    with pytest.raises(ValueError, match="unknown display type"):
        open_display("lcd1602", mock=True)
    assert open_display("none", mock=True) is None
