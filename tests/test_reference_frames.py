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

from antre.hardware.display import (
    DisplayContent, Mode, OledDisplay, SevenSegmentDisplay, open_display, segment_mapper, segments_image,
    seven_segment_pages,
)
from tests.conftest import ROOT

REFERENCES = ROOT / "tests" / "reference"
UPDATE = bool(os.environ.get("ANTRE_UPDATE_REFERENCES"))

#: every state a gerai display shows (the mode as the agent sets it, the staff's status line)
STATES = {
    "calling": DisplayContent("Gerai 5", "A012", 7, "MELAYANI", Mode.CALLING, "5", "Dukcapil"),
    "calling-two-letters": DisplayContent("Gerai 13", "NP123", 45, "MELAYANI", Mode.CALLING, "13", "KPP Pratama"),
    "calling-long-name": DisplayContent("Gerai Pelayanan Terpadu 13", "AB012", 123, "MELAYANI", Mode.CALLING, "13",
                                        "BPJS Ketenagakerjaan"),
    "idle": DisplayContent("Gerai 5", None, 0, "SIAP", Mode.IDLE, "5", "Dukcapil"),
    "paused": DisplayContent("Gerai 5", None, 3, "ISTIRAHAT", Mode.PAUSED, "5", "Dukcapil"),
    "closed": DisplayContent("Gerai 5", None, 0, "TUTUP", Mode.CLOSED, "5", "Dukcapil"),
    "offline": DisplayContent("Gerai 5", "A012", 7, "OFFLINE", Mode.OFFLINE, "5", "Dukcapil"),
    "central-offline": DisplayContent("Gerai 5", "A012", 7, "PUSAT OFFLINE", Mode.OFFLINE, "5", "Dukcapil"),
    "waiting-for-state": DisplayContent("Gerai 5", None, 0, "MENUNGGU DATA", Mode.WAITING, "", ""),
    "refused": DisplayContent("Gerai 5", "A012", 7, "!Selesaikan A012 dulu", Mode.CALLING, "5", "Dukcapil"),
    "unanswered": DisplayContent("Gerai 5", "A012", 7, "!TIDAK ADA JAWABAN", Mode.CALLING, "5", "Dukcapil"),
}
#: a staff notice is not shown to citizens (their displays show the state: tests/test_display.py)
CITIZEN_STATES = {k: v for k, v in STATES.items() if v.refusal is None}


def _oled(content: DisplayContent) -> Image.Image:
    display = open_display("ssd1306", mock=True)
    assert isinstance(display, OledDisplay)
    return display.render(content).convert("L").resize((512, 256), Image.Resampling.NEAREST)


def _seven(content: DisplayContent, digits: int = 8) -> Image.Image:
    """Every page the digits show (one under the other), as read back from luma's dummy device."""
    display = open_display("max7219", mock=True, digits=digits)
    assert isinstance(display, SevenSegmentDisplay)
    display.show(content)
    first = display.preview()
    pages = seven_segment_pages(content, digits)
    assert display.segments() == segment_mapper(pages[0])
    images = [first] + [segments_image(segment_mapper(page)) for page in pages[1:]]
    out = Image.new("RGB", (first.width, sum(i.height for i in images)))
    for i, image in enumerate(images):
        out.paste(image, (0, i * first.height))
    return out


def _matrix(content: DisplayContent, modules: int) -> Image.Image:
    from antre.hardware.matrix import MatrixDisplay

    display = open_display("max7219-matrix", mock=True, modules=modules)
    assert isinstance(display, MatrixDisplay)
    display.show(content)
    return display.preview()


def _hdmi(content: DisplayContent) -> Image.Image:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from antre.hardware.screen import GeraiScreen

    display = open_display("hdmi", mock=True, resolution="960x540")
    assert isinstance(display, GeraiScreen)
    display.show(content)
    return display.snapshot()


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
    **{f"matrix-4-{name}": (lambda c=c: _matrix(c, 4)) for name, c in CITIZEN_STATES.items()},
    **{f"matrix-8-{name}": (lambda c=c: _matrix(c, 8)) for name, c in CITIZEN_STATES.items()},
    **{f"hdmi-{name}": (lambda c=c: _hdmi(c)) for name, c in CITIZEN_STATES.items()},
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


def test_every_reference_is_a_case() -> None:
    """No stale reference lies in tests/reference/ (a renamed state leaves its old picture behind)."""
    stale = {p.stem for p in REFERENCES.glob("*.png")} - set(CASES)
    assert not stale, f"references of no case: {sorted(stale)}"


def test_the_comparison_would_notice_one_pixel() -> None:
    frame = CASES["oled-calling"]()
    changed = frame.copy()
    changed.putpixel((0, 0), 255 - frame.getpixel((0, 0)))  # type: ignore[operator]
    assert ImageChops.difference(frame, changed).getbbox() == (0, 0, 1, 1)
