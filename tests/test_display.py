"""Gerai displays on luma's dummy device (and pygame's off-screen surface): what staff and citizens see.

The checks read the frames back as a person would look at them: how tall the number is,
whether the name's pixels reach the waiting count's, whether an offline frame still shows
the number big, what a seven-segment display spells (decoded from the segments the dummy
device received), whether two states look alike.  The pictures themselves are pinned in
tests/reference/ (tests/test_reference_frames.py).
"""

from __future__ import annotations

import os
import string
import threading

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image, ImageChops

# only what every version of the module had: the tests of the field failures (issue 12) run, and fail,
# on the code before the fix too; the newer names are imported where they are used
from antre.hardware.display import (
    SEGMENTS, DisplayContent, OledDisplay, SevenSegmentDisplay, open_display, segment_mapper, seven_segment_text,
)
from tests.harness import wait_for

SERVING = DisplayContent("Gerai 5", "A012", 7, "MELAYANI")
LETTERS = {v: k for k, v in SEGMENTS.items() if k in string.ascii_uppercase}
DIGIT_OF = {v: k for k, v in SEGMENTS.items() if k in string.digits + " -"}


def _oled() -> OledDisplay:
    display = open_display("ssd1306", mock=True)
    assert isinstance(display, OledDisplay)
    return display


def _lit(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    return sum(image.crop(box).histogram()[1:])


def _frame(content: DisplayContent) -> Image.Image:
    d = _oled()
    d.show(content)
    frame: Image.Image = d.device.image  # what luma's dummy device received
    return frame.convert("1")


def _changed(a: Image.Image, b: Image.Image) -> tuple[int, int, int, int] | None:
    return ImageChops.difference(a.convert("L"), b.convert("L")).getbbox()


# ---------------------------------------------------------------------------------- OLED (staff)


def test_oled_draws_the_number_much_larger_than_29_pixels() -> None:
    """The number was 29 px (5 mm) tall: now it takes most of the 64 rows."""
    for a, b in (("A012", "B345"), ("AB012", "CD345"), ("NP1000", "NP2999")):
        box = _changed(_frame(DisplayContent("Gerai 5", a, 7, "MELAYANI")),
                       _frame(DisplayContent("Gerai 5", b, 7, "MELAYANI")))
        assert box is not None
        height = box[3] - box[1]
        assert height >= 44, f"{a}: the number is {height} px tall"
        assert box[0] >= 0 and box[2] <= 128  # whole: nothing cut at the edges


def test_oled_offline_does_not_present_the_last_number_as_current() -> None:
    """Offline, the number once shown full size becomes ``OFFLINE``; the last number is named small."""
    a = _frame(DisplayContent("Gerai 5", "A012", 7, "OFFLINE"))
    b = _frame(DisplayContent("Gerai 5", "B345", 9, "OFFLINE"))
    box = _changed(a, b)
    assert box is not None and box[3] <= 12, f"offline frames differ below the top line: {box}"
    assert _changed(a, _frame(SERVING)) is not None
    central = _frame(DisplayContent("Gerai 5", "A012", 7, "PUSAT OFFLINE"))
    assert _changed(a, central) is not None and (_changed(a, central) or (0, 0, 0, 0))[1] >= 50  # the words differ


NAMES = ["Gerai 5", "Gerai 13", "Gerai Pelayanan Terpadu 13", "BPJS Ketenagakerjaan Gerai 21", "WWWWWWWWWWWWWWWW"]


@pytest.mark.parametrize("waiting", [0, 7, 45, 123, 1234, 99999])
@pytest.mark.parametrize("name", NAMES)
def test_oled_name_never_overprints_the_waiting_count(name: str, waiting: int) -> None:
    """The name's pixels stay left of the waiting count's, with a gap, whatever their lengths."""
    for status, number in (("MELAYANI", "AB012"), ("SIAP", None), ("ISTIRAHAT", None)):
        both = _frame(DisplayContent(name, number, waiting, status))
        count_only = _frame(DisplayContent("", number, waiting, status))
        name_pixels = ImageChops.subtract(both.convert("L"), count_only.convert("L")).getbbox()
        count_box = count_only.crop((0, 0, 128, 12)).getbbox()
        assert count_box is not None, "the waiting count is shown"
        assert name_pixels is not None, "the name is shown (cut if it must be)"
        assert name_pixels[2] <= count_box[0] - 2, (name, waiting, name_pixels, count_box)
        assert name_pixels[3] <= 12  # and it stays on its line
        # the count is never cut: its pixels are those of the count drawn alone
        assert ImageChops.subtract(count_only.convert("L"), both.convert("L")).getbbox() is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(alphabet=string.ascii_letters + string.digits + " -./", min_size=1, max_size=60),
       waiting=st.integers(0, 10**6))
def test_oled_layout_regions_never_overlap(name: str, waiting: int) -> None:
    from antre.hardware.display import Mode

    d = _oled()
    regions = d.layout(DisplayContent(name, "AB123", waiting, "MELAYANI", Mode.CALLING))
    for i, a in enumerate(regions):
        assert 0 <= a.box[0] <= a.box[2] <= 128 and 0 <= a.box[1] <= a.box[3] <= 64
        for b in regions[i + 1:]:
            apart = a.box[2] <= b.box[0] or b.box[2] <= a.box[0] or a.box[3] <= b.box[1] or b.box[3] <= a.box[1]
            assert apart, (a, b)


def test_oled_states_each_look_different() -> None:
    from antre.hardware.display import Mode

    frames = {mode: _frame(DisplayContent("Gerai 5", "A012" if mode is Mode.CALLING else None, 3, "X", mode))
              for mode in Mode}
    for a in Mode:
        for b in Mode:
            if a < b:
                box = _changed(frames[a], frames[b])
                assert box is not None and box[1] < 52, f"{a} and {b} differ only in the status line, if at all"


def test_oled_refusal_is_an_inverted_line_and_the_number_stays() -> None:
    from antre.hardware.display import Mode

    refused = _frame(DisplayContent("Gerai 5", "A012", 7, "!Selesaikan A012 dulu", Mode.CALLING))
    assert _lit(refused, (0, 55, 128, 64)) > 600  # a white bar with black text
    assert _lit(_frame(SERVING), (0, 55, 128, 64)) < 600


def test_different_numbers_give_different_frames_and_rendering_is_deterministic() -> None:
    d = _oled()
    assert ImageChops.difference(d.render(SERVING), d.render(DisplayContent("Gerai 5", "A013", 7, "MELAYANI"))
                                 ).getbbox() is not None
    assert _oled().render(SERVING).tobytes() == _oled().render(SERVING).tobytes()


def test_oled_test_pattern_is_read_back_from_the_device() -> None:
    d = _oled()
    assert d.test_pattern() is True
    assert _lit(d.device.image, (0, 0, 128, 64)) > 600


# ------------------------------------------------------------------------ seven segment (staff)


def _seven(digits: int, page_seconds: float = 1.0) -> SevenSegmentDisplay:
    from luma.core.device import dummy

    return SevenSegmentDisplay(dummy(width=digits, height=8, mode="1"), digits, page_seconds=page_seconds)


def _spelled(d: SevenSegmentDisplay) -> str:
    """What the digits read as (letters where a letter's pattern is lit, digits otherwise)."""
    out = []
    for byte in d.segments():
        out.append(DIGIT_OF.get(byte) or LETTERS.get(byte) or "?")
    return "".join(out)


def test_x_does_not_look_like_h_and_no_two_letters_look_alike() -> None:
    letters = {k: v for k, v in SEGMENTS.items() if k in string.ascii_uppercase}
    assert SEGMENTS["X"] != SEGMENTS["H"]
    assert len(set(letters.values())) == len(letters), "two letters share a pattern"
    digits = {SEGMENTS[d] for d in string.digits}
    assert {k for k, v in letters.items() if v in digits} == {"S", "Z"}  # 5 and 2, as everywhere


def test_two_letter_prefix_is_never_cut_on_four_digits() -> None:
    d = open_display("max7219", mock=True, digits=4)
    assert isinstance(d, SevenSegmentDisplay)
    d.show(DisplayContent("Gerai 13", "AB012", 4, "MELAYANI"))
    assert _spelled(d) == "AB12"  # the leading zero goes, never a letter


def test_a_number_longer_than_the_digits_is_shown_in_two_pages() -> None:
    """AB1234 on 4 digits: ``AB`` then ``1234``, each for a page time (a thread turns them)."""
    d = _seven(4, page_seconds=0.05)
    try:
        d.show(DisplayContent("Gerai 13", "AB1234", 4, "MELAYANI"))
        seen: set[str] = set()
        wait_for(lambda: seen.add(_spelled(d)) or {"AB  ", "1234"} <= seen, 5, "both pages")
        assert seen <= {"AB  ", "1234"}, seen
        d.show(SERVING)  # a number that fits: one page, it stays
        assert wait_for(lambda: _spelled(d) == "A012", 2, "A012")
        assert all(_spelled(d) == "A012" for _ in range(20))
    finally:
        d.close()


def test_the_waiting_count_is_shown_whole_or_not_at_all() -> None:
    d = open_display("max7219", mock=True, digits=8)
    assert isinstance(d, SevenSegmentDisplay)
    d.show(DisplayContent("Gerai 13", "AB012", 45, "MELAYANI"))
    assert _spelled(d) == "AB012 45"
    d.show(DisplayContent("Gerai 13", "AB012", 123, "MELAYANI"))
    assert _spelled(d) == "AB012   "  # 3 digits do not fit beside AB012: none, rather than "12"
    d.show(DisplayContent("Gerai 5", "A012", 9999, "MELAYANI"))
    assert _spelled(d) == "A012    "  # no space left between them: not shown


TICKETS = st.builds(lambda p, n: p + n, st.text(string.ascii_uppercase, min_size=1, max_size=2),
                    st.text(string.digits, min_size=1, max_size=6))


@settings(max_examples=300, deadline=None)
@given(ticket=TICKETS, waiting=st.integers(0, 10**6), digits=st.sampled_from([4, 8]))
def test_seven_segment_pages_never_lose_a_letter_nor_cut_a_count(ticket: str, waiting: int, digits: int) -> None:
    from antre.hardware.display import Mode, seven_segment_pages

    pages = seven_segment_pages(DisplayContent("G", ticket, waiting, "MELAYANI", Mode.CALLING), digits)
    assert 1 <= len(pages) <= 2 and all(len(p) == digits for p in pages)
    prefix = ticket.rstrip(string.digits)
    seq = ticket[len(prefix):]
    heads = [p.split(" ")[0] if p.strip() else "" for p in pages]
    shown = "".join(heads)
    assert shown.startswith(prefix), (ticket, pages)  # every letter
    assert shown[len(prefix):].lstrip("0") == seq.lstrip("0") or (len(seq) > digits and  # digits, zeros aside
                                                                   shown[len(prefix):] == seq[-digits:])
    for page in pages:  # the count: whole, right-aligned, after a space; or absent
        tail = page[len(page.split(" ")[0]):].strip()
        assert tail in ("", str(waiting)), (ticket, waiting, pages)


def test_fit_number_is_the_micropython_nodes() -> None:
    """The Pi and the MicroPython node (firmware/antre_fw/segments.py) fit numbers alike."""
    from antre.hardware.display import fit_number

    import importlib.util

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("fw_segments", ROOT / "firmware" / "antre_fw" / "segments.py")
    assert spec is not None and spec.loader is not None
    fw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fw)
    assert fw.SEGMENTS == SEGMENTS
    for ticket in ("A012", "AB012", "AB1234", "A1234", "NP000123", "Z9", "XY000001"):
        for digits in (4, 8):
            for page in (0, 1):
                assert fit_number(ticket, digits, page) == fw.fit_number(ticket, digits, page), (ticket, digits)


def test_idle_paused_closed_offline_refused_each_look_different_on_seven_segments() -> None:
    """Idle and paused looked alike, and a refusal never appeared: every state differs, on 4 and 8 digits."""
    for digits in (4, 8):
        d = open_display("max7219", mock=True, digits=digits)
        assert isinstance(d, SevenSegmentDisplay)
        seen = {}
        for name, content in (
            ("idle", DisplayContent("G", None, 3, "SIAP")),
            ("paused", DisplayContent("G", None, 3, "ISTIRAHAT")),
            ("closed", DisplayContent("G", None, 0, "TUTUP")),
            ("offline", DisplayContent("G", "A012", 3, "OFFLINE")),
            ("waiting", DisplayContent("G", None, 0, "MENUNGGU DATA")),
            ("calling", DisplayContent("G", "A012", 3, "MELAYANI")),
            ("refused", DisplayContent("G", "A012", 3, "!Selesaikan A012 dulu")),
        ):
            d.show(content)
            seen[name] = tuple(d.segments())
        assert len(set(seen.values())) == len(seen), (digits, seen)


def test_seven_segment_mapping() -> None:
    assert segment_mapper("A012") == [0x77, 0x7E, 0x30, 0x6D]
    assert segment_mapper("8.") == [0xFF]
    assert seven_segment_text(SERVING, 8) == "A012   7"
    assert seven_segment_text(SERVING, 4) == "A012"
    assert seven_segment_text(DisplayContent("G", None, 0, "OFFLINE"), 4) == "OFF "
    assert seven_segment_text(DisplayContent("G", None, 3, "ISTIRAHAT"), 8) == "JEDA   3"
    d = open_display("max7219", mock=True, digits=8)
    assert isinstance(d, SevenSegmentDisplay)
    d.show(SERVING)
    assert d.segments() == [0x77, 0x7E, 0x30, 0x6D, 0, 0, 0, 0x70]
    assert d.test_pattern() is True  # luma's dummy device read back: every segment and point lit


# --------------------------------------------------------------------- dot matrix (citizens)


def _matrix(modules: int) -> object:
    from antre.hardware.matrix import MatrixDisplay

    d = open_display("max7219-matrix", mock=True, modules=modules)
    assert isinstance(d, MatrixDisplay)
    return d


def _matrix_frame(modules: int, content: DisplayContent) -> Image.Image:
    from antre.hardware.matrix import MatrixDisplay

    d = _matrix(modules)
    assert isinstance(d, MatrixDisplay)
    d.show(content)
    frame: Image.Image = d.device.image
    assert frame.size == (8 * modules, 8)
    return frame


@pytest.mark.parametrize("modules", [4, 8])
def test_matrix_shows_every_number_whole(modules: int) -> None:
    from antre.hardware.display import Mode

    from antre.hardware.matrix import MatrixDisplay

    d = _matrix(modules)
    assert isinstance(d, MatrixDisplay)
    for number in ("A012", "AB012", "NP1234", "AB123456"):
        content = DisplayContent("Gerai 13", number, 4, "MELAYANI", Mode.CALLING, "13")
        frame = d.render(content)
        wider = DisplayContent("Gerai 13", number, 4, "MELAYANI", Mode.CALLING, "")
        ink = d.render(wider).getbbox()
        assert ink is not None and ink[0] >= 0 and ink[2] <= 8 * modules
        # the number drawn alone on a long strip in the font the chain chose lights as many LEDs:
        # nothing was cut off
        from luma.core.legacy import text as legacy_text
        from PIL import ImageDraw

        font = d.fit_font(number, 8 * modules)
        assert font is not None, number
        strip = Image.new("1", (200, 8))
        legacy_text(ImageDraw.Draw(strip), (0, 0), number, fill="white", font=font)
        assert sum(strip.histogram()[1:]) == sum(d.render(wider).histogram()[1:]), number
        assert frame.getbbox() is not None


@pytest.mark.parametrize("modules", [4, 8])
def test_matrix_states_look_different_and_offline_hides_the_number(modules: int) -> None:
    from antre.hardware.display import Mode

    frames = {mode: _matrix_frame(modules, DisplayContent("Gerai 5", "A012", 3, "X", mode, "5"))
              for mode in Mode}
    for a in Mode:
        for b in Mode:
            if a < b:
                assert _changed(frames[a], frames[b]) is not None, (a, b)
    offline = [_matrix_frame(modules, DisplayContent("Gerai 5", n, 3, "OFFLINE", Mode.OFFLINE, "5"))
               for n in ("A012", "B345", None)]
    assert _changed(offline[0], offline[1]) is None and _changed(offline[0], offline[2]) is None
    # a staff notice is not the citizens': the frame is the state's
    assert _changed(frames[Mode.CALLING],
                    _matrix_frame(modules, DisplayContent("Gerai 5", "A012", 3, "!TIDAK TERKIRIM", Mode.CALLING,
                                                          "5"))) is None


def test_matrix_eight_modules_name_the_gerai() -> None:
    from antre.hardware.display import Mode

    a = _matrix_frame(8, DisplayContent("Gerai 5", "A012", 3, "MELAYANI", Mode.CALLING, "5"))
    b = _matrix_frame(8, DisplayContent("Gerai 7", "A012", 3, "MELAYANI", Mode.CALLING, "7"))
    box = _changed(a, b)
    assert box is not None and box[0] >= 48  # only the gerai's number, at the right end


def test_matrix_test_pattern_lights_every_led() -> None:
    from antre.hardware.matrix import MatrixDisplay

    d = _matrix(4)
    assert isinstance(d, MatrixDisplay)
    assert d.test_pattern() is True
    assert sum(d.device.image.histogram()[1:]) == 32 * 8


# ------------------------------------------------------------------------ HDMI (citizens)


@pytest.fixture
def sdl_dummy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")


def _screen_frame(content: DisplayContent) -> Image.Image:
    from antre.hardware.screen import GeraiScreen

    d = open_display("hdmi", mock=True, resolution="1280x720")
    assert isinstance(d, GeraiScreen)
    d.show(content)
    return d.snapshot()


def test_hdmi_states_differ_in_colour_and_shape(sdl_dummy: None) -> None:
    from antre.hardware.display import Mode

    frames = {mode: _screen_frame(DisplayContent("Gerai 5", "A012", 3, "X", mode, "5", "Dukcapil")) for mode in Mode}
    bands = {mode: f.getpixel((5, 700)) for mode, f in frames.items()}  # the band along the bottom
    assert len(set(bands.values())) == len(Mode), bands
    middles = {mode: f.crop((0, 130, 1280, 590)).convert("L").point(lambda v: 255 if v > 128 else 0).tobytes()
               for mode, f in frames.items()}
    assert len(set(middles.values())) == len(Mode)  # not only the colour: the middle's shapes differ too


def test_hdmi_offline_does_not_show_the_last_number(sdl_dummy: None) -> None:
    from antre.hardware.display import Mode

    a = _screen_frame(DisplayContent("Gerai 5", "A012", 3, "OFFLINE", Mode.OFFLINE))
    b = _screen_frame(DisplayContent("Gerai 5", "B345", 9, "OFFLINE", Mode.OFFLINE))
    assert _changed(a, b) is None


def test_hdmi_number_fills_the_screen_and_fits(sdl_dummy: None) -> None:
    from antre.hardware.display import Mode

    a = _screen_frame(DisplayContent("Gerai 13", "AB123456", 3, "MELAYANI", Mode.CALLING))
    b = _screen_frame(DisplayContent("Gerai 13", "CD987654", 3, "MELAYANI", Mode.CALLING))
    box = _changed(a, b)
    assert box is not None and box[0] > 0 and box[2] < 1280
    c = _screen_frame(DisplayContent("Gerai 5", "A012", 3, "MELAYANI", Mode.CALLING))
    d = _screen_frame(DisplayContent("Gerai 5", "B345", 3, "MELAYANI", Mode.CALLING))
    box = _changed(c, d)
    assert box is not None and box[3] - box[1] > 0.28 * 720  # a number over a quarter of the screen tall


def test_hdmi_window_thread_draws_on_sdl(sdl_dummy: None) -> None:
    """Not mock: the screen's own thread opens SDL's display (the dummy driver here) and draws."""
    from antre.hardware.screen import GeraiScreen

    screen = GeraiScreen((640, 360), window=True)
    try:
        assert screen.test_pattern() is None  # drawn; whether a monitor shows it, only a person can say
        screen.show(SERVING)
    finally:
        screen.close()
    assert os.environ["SDL_VIDEODRIVER"] == "dummy"


# ---------------------------------------------------------------------------- several displays


def test_a_group_shows_on_every_member_and_reports_a_failing_one() -> None:
    from antre.hardware.display import DisplayGroup

    oled, matrix = _oled(), _matrix(4)

    class Broken:
        kind = "broken"

        def show(self, content: DisplayContent) -> None:
            raise OSError("I2C: no acknowledgement")

        def test_pattern(self) -> bool | None:
            return None

        def close(self) -> None:
            pass

    group = DisplayGroup([oled, Broken(), matrix])  # type: ignore[list-item]
    with pytest.raises(OSError, match="no acknowledgement"):
        group.show(SERVING)
    assert oled.last == SERVING and matrix.last == SERVING  # type: ignore[attr-defined]
    assert group.test_pattern() is None  # one member cannot tell


def test_unknown_display_type() -> None:
    with pytest.raises(ValueError, match="unknown display type"):
        open_display("lcd1602", mock=True)
    assert open_display("none", mock=True) is None
    with pytest.raises(ValueError, match="4 or 8 modules"):
        open_display("max7219-matrix", mock=True, modules=5)


def test_pages_turn_on_their_own_thread_only_when_needed() -> None:
    before = {t.name for t in threading.enumerate()}
    d = _seven(8)
    d.show(SERVING)
    assert "seven-segment-pages" not in {t.name for t in threading.enumerate()} - before
    d.close()
