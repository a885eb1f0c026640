"""What the console accepts in its forms: texts the lobby can draw and a person can read, ticket
numbers as staff type them, a printer port that is a serial port, and refusals in Indonesian that
show no file paths."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antre.console import bundles
from antre.console.forms import LOBBY_RANGES, FormError, lobby_can_draw, text, ticket_number
from antre.sim.sitefiles import SiteFiles
from tests.harness import free_port


def _cmap(path: Path) -> set[int]:
    """The code points of a TrueType font's Unicode character map (format 4, platform 3)."""
    data = path.read_bytes()
    tables = {}
    for i in range(struct.unpack(">H", data[4:6])[0]):
        tag, _, offset, _ = struct.unpack(">4sIII", data[12 + 16 * i:28 + 16 * i])
        tables[tag] = offset
    base = tables[b"cmap"]
    for i in range(struct.unpack(">H", data[base + 2:base + 4])[0]):
        platform, _, sub = struct.unpack(">HHI", data[base + 4 + 8 * i:base + 12 + 8 * i])
        at = base + sub
        if platform != 3 or struct.unpack(">H", data[at:at + 2])[0] != 4:
            continue
        seg2 = struct.unpack(">H", data[at + 6:at + 8])[0]
        n = seg2 // 2
        ends = struct.unpack(f">{n}H", data[at + 14:at + 14 + seg2])
        starts = struct.unpack(f">{n}H", data[at + 16 + seg2:at + 16 + 2 * seg2])
        deltas = struct.unpack(f">{n}h", data[at + 16 + 2 * seg2:at + 16 + 3 * seg2])
        roff_at = at + 16 + 3 * seg2
        roffs = struct.unpack(f">{n}H", data[roff_at:roff_at + seg2])
        found = set()
        for k, (start, end, delta, roff) in enumerate(zip(starts, ends, deltas, roffs)):
            for c in range(start, end + 1):
                if c == 0xFFFF:
                    continue
                if roff == 0:
                    glyph = (c + delta) & 0xFFFF
                else:
                    g_at = roff_at + 2 * k + roff + 2 * (c - start)
                    glyph = struct.unpack(">H", data[g_at:g_at + 2])[0]
                    glyph = (glyph + delta) & 0xFFFF if glyph else 0
                if glyph:
                    found.add(c)
        return found
    raise AssertionError(f"{path}: no Unicode character map")


def test_every_character_a_lobby_text_may_hold_is_in_the_lobby_font() -> None:
    """:data:`LOBBY_RANGES` is read from the font lobby/screen.py draws with (pygame's FreeSansBold)."""
    pygame = pytest.importorskip("pygame")
    font = Path(pygame.__file__).parent / "freesansbold.ttf"
    cmap = _cmap(font)
    allowed = {c for low, high in LOBBY_RANGES for c in range(low, high + 1)}
    assert allowed <= cmap, sorted(hex(c) for c in allowed - cmap)[:20]
    # Indonesian text and punctuation, and what the font does not have
    for ch in "AaZz09 .,;:!?-()/'\"%&@éÉ–—“”‘’…€":
        assert lobby_can_draw(ch), ch
    for ch in "😀中ㅤ⠀\u0301\u00ad":
        assert not lobby_can_draw(ch), ch


@pytest.mark.parametrize(("value", "words"), [
    ("😀😀😀 sholat", "layar lobi tidak dapat menampilkan 😀 (U+1F600)"),
    ("休息中", "layar lobi tidak dapat menampilkan"),
    ("\u3164\u3164\u3164", "wajib diisi"),  # Hangul fillers: nothing to read
    ("\u2800\u2800\u2800", "wajib diisi"),  # blank Braille
    ("\u2060\u2060\u2060", "wajib diisi"),  # word joiners
    ("\U000e0041\U000e0042\U000e0043", "wajib diisi"),  # tag characters
    ("\ufffc\ufffc\ufffc", "huruf atau angka"),  # object replacement: no letter
    ("...", "huruf atau angka"),
    ("Z\u0336\u0337\u0338\u0336 rapat", "tumpukan tanda diakritik"),
    ("a\x00b", "karakter kendali"),
])
def test_lobby_reasons_a_person_cannot_read_are_refused(value: str, words: str) -> None:
    with pytest.raises(FormError) as refused:
        text({"reason": value}, "reason", "Alasan istirahat", min_len=3, required=True, reason=True, lobby=True)
    assert words in refused.value.text


def test_texts_are_normalised_and_lose_invisible_characters() -> None:
    # e + combining acute is é (the font has é, not the combining mark); soft hyphen and zero-width space go
    assert text({"t": "caf\u0065\u0301 ab\u00adc\u200b"}, "t", "Pesan", lobby=True) == "café abc"
    assert text({"t": "  sholat \u00a0 jumat "}, "t", "Pesan", lobby=True) == "sholat jumat"
    # a note that never reaches the lobby may hold other scripts, but no invisible padding
    assert text({"t": "berkas 中文 ok\u2060"}, "t", "Catatan") == "berkas 中文 ok"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_an_accepted_lobby_text_is_drawable_and_visible(value: str) -> None:
    try:
        out = text({"t": value}, "t", "Pesan lobi", max_len=200, lobby=True, reason=True, required=True)
    except FormError as exc:
        assert exc.text and exc.status == 400
        return
    assert out and out == out.strip() and all(lobby_can_draw(ch) for ch in out)
    assert any(ch.isalnum() for ch in out)


def test_a_too_long_field_names_its_own_limit() -> None:
    with pytest.raises(FormError) as refused:
        text({"reason": "x" * 300}, "reason", "Alasan istirahat", max_len=200)
    assert refused.value.text == "Alasan istirahat: paling banyak 200 karakter"


@pytest.fixture
def site(tmp_path: Path) -> SiteFiles:
    return SiteFiles(tmp_path, free_port())


@pytest.mark.parametrize(("typed", "number"), [("A3", "A003"), ("a-3", "A003"), ("a 12", "A012"), ("A0003", "A003"),
                                               ("A1234", "A1234"), ("Z9", "Z9")])
def test_typed_numbers_are_padded_as_the_site_prints_them(site: SiteFiles, typed: str, number: str) -> None:
    assert site.config.service_by_prefix("A") is not None and site.config.service_by_prefix("Z") is None
    assert ticket_number({"t": typed}, "t", "Nomor antrean", config=site.config) == number


@pytest.mark.parametrize("port", ["/dev/../../etc/shadow", "/dev/serial/by-id/../../../etc/shadow", "/dev/sda",
                                  "/dev/ttyUSB0/../../x", "/etc/passwd", "/dev/tty", "/dev/ttyS0\n[broker]"])
def test_a_printer_port_must_be_a_serial_port(site: SiteFiles, port: str) -> None:
    with pytest.raises(FormError) as refused:
        bundles.parse_request(site.config, {"device": "gerai:g1", "printer": port})
    assert "Port printer" in refused.value.text


@pytest.mark.parametrize("port", ["/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0", "/dev/ttyUSB0", "/dev/ttyACM1",
                                  "/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0"])
def test_serial_ports_are_accepted(site: SiteFiles, port: str) -> None:
    assert bundles.parse_request(site.config, {"device": "gerai:g1", "printer": port}).printer == port


@pytest.mark.parametrize(("buttons", "words"), [("x:99:call_next", "pin GPIO 99 tidak ada"),
                                                ("x:17:reboot", "perintah reboot tidak dikenal")])
def test_bundle_refusals_are_indonesian_without_paths(site: SiteFiles, buttons: str, words: str) -> None:
    with pytest.raises(FormError) as refused:
        bundles.parse_request(site.config, {"device": "gerai:g1", "buttons": buttons})
    assert words in refused.value.text and "/tmp" not in refused.value.text and "expected" not in refused.value.text
