"""Every display kind in every state, compared pixel for pixel with committed reference images.

The references live in tests/reference/ (look at them: they are what citizens and staff
see).  A change to a renderer fails here until its new frames are looked at and committed:
regenerate them with ``ANTRE_UPDATE_REFERENCES=1 make pytest PYTEST_ARGS=tests/test_reference_frames.py``
and review the PNGs in the diff.  Fonts are Pillow's and pygame's own, so frames are
identical on every machine with the versions in constraints.txt.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from antre.hardware.display import DisplayContent, OledDisplay, SevenSegmentDisplay, open_display
from tests.conftest import ROOT

REFERENCES = ROOT / "tests" / "reference"
UPDATE = bool(os.environ.get("ANTRE_UPDATE_REFERENCES"))

STATES = {
    "serving": DisplayContent("Gerai 5", "A012", 7, "MELAYANI"),
    "serving-two-letters": DisplayContent("Gerai 13", "NP123", 45, "MELAYANI"),
    "idle": DisplayContent("Gerai 5", None, 0, "SIAP"),
    "paused": DisplayContent("Gerai 5", None, 3, "ISTIRAHAT"),
    "offline": DisplayContent("Gerai 5", "A012", 7, "OFFLINE"),
    "refused": DisplayContent("Gerai 5", "A012", 7, "!Selesaikan A012 dulu"),
    "unanswered": DisplayContent("Gerai 5", "A012", 7, "!TIDAK ADA JAWABAN"),
}


def _oled(content: DisplayContent) -> Image.Image:
    display = open_display("ssd1306", mock=True)
    assert isinstance(display, OledDisplay)
    return display.render(content).convert("L").resize((512, 256), Image.Resampling.NEAREST)


def _seven(content: DisplayContent, digits: int = 8) -> Image.Image:
    display = open_display("max7219", mock=True, digits=digits)
    assert isinstance(display, SevenSegmentDisplay)
    display.show(content)
    return display.preview()


def _lobby(size: tuple[int, int], lobby: str = "lobby-1") -> Image.Image:
    """The busy sample morning of the example site as its lobby draws it (the gerai page)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from antre.lobby import screen
    from tests.lobby_scenes import Scene

    scene = Scene(lobby, voice=False)
    scene.busy_morning()
    pygame.display.init()
    pygame.font.init()
    surface = pygame.Surface(size)
    screen.draw(surface, scene.app.model(page_clock=0.0))
    return Image.frombytes("RGB", size, pygame.image.tobytes(surface, "RGB"))


CASES: dict[str, Callable[[], Image.Image]] = {
    **{f"oled-{name}": (lambda c=c: _oled(c)) for name, c in STATES.items()},
    **{f"seven-segment-8-{name}": (lambda c=c: _seven(c)) for name, c in STATES.items()},
    **{f"seven-segment-4-{name}": (lambda c=c: _seven(c, 4)) for name, c in STATES.items()},
    "lobby-1280x720": lambda: _lobby((1280, 720)),
    "lobby-1920x1080": lambda: _lobby((1920, 1080)),
    "lobby-dukcapil-1280x720": lambda: _lobby((1280, 720), "lobby-dukcapil"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_frame_is_its_reference(name: str) -> None:
    frame = CASES[name]()
    path = REFERENCES / f"{name}.png"
    if UPDATE:
        REFERENCES.mkdir(parents=True, exist_ok=True)
        frame.save(path)
    assert path.exists(), f"no reference {path}: look at the frame and commit it (ANTRE_UPDATE_REFERENCES=1)"
    reference = Image.open(path)
    assert reference.size == frame.size and reference.mode == frame.mode, (reference.size, frame.size)
    box = ImageChops.difference(reference, frame).getbbox()
    assert box is None, f"{name} differs from {path} in {box}: a renderer changed; look at both"


def test_the_comparison_would_notice_one_pixel() -> None:
    frame = CASES["oled-serving"]()
    changed = frame.copy()
    changed.putpixel((0, 0), 255 - frame.getpixel((0, 0)))  # type: ignore[operator]
    assert ImageChops.difference(frame, changed).getbbox() == (0, 0, 1, 1)
