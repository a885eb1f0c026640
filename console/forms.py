"""Reading and checking what a browser posts: bounded, strict, and never a crash.

Every form of the console is ``application/x-www-form-urlencoded`` and small.  The body is
read up to :data:`MAX_BODY` bytes (more is refused before it is read whole), must be UTF-8 and
well-formed, may hold at most :data:`MAX_FIELDS` fields, and each value is checked by the page
that uses it.  Every refusal is a :class:`FormError` whose text (Indonesian) is shown to the
person, with an HTTP status: 400 for a bad form, 413 for a huge one, 415 for another encoding.

Free text (:func:`text`) is normalised (NFC: an ``e`` and a combining accent become ``é``), loses
the invisible format characters a copy and paste brings (soft hyphens, zero-width spaces and
joiners, word joiners, tag characters, Hangul fillers, blank Braille), and is refused with
control characters or runs of combining marks.  A *reason* must hold letters or digits a person can
read; a text shown on the lobby screen (a pause reason, a stop reason, the lobby message) may hold
only characters the lobby's font draws (:data:`LOBBY_RANGES`: Latin with its accents, Greek,
Cyrillic and the usual punctuation), never an emoji or CJK that would come out as empty boxes.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from typing import TYPE_CHECKING, Literal, overload

from starlette.requests import ClientDisconnect, Request

if TYPE_CHECKING:
    from antre.central.config import SiteConfig

MAX_BODY = 16 * 1024
MAX_FIELDS = 24
#: no field of any form is longer (each text field has its own, smaller limit, said by :func:`text`)
MAX_VALUE = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
#: invisible characters that are letters or symbols by category but show nothing (fillers, blank Braille)
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e\u17b4\u17b5\u2062\u2063\u2064")
#: combining marks in a row beyond this are refused ("Zalgo" text)
MAX_MARKS = 2
#: what the lobby screen's font (pygame's bundled FreeSansBold, :mod:`antre.lobby.screen`) draws, as
#: code point ranges read from its character map (tests/test_console_forms.py reads the font again):
#: Basic Latin, Latin-1, Latin Extended-A, Romanian commas, Greek, Cyrillic, and the punctuation of
#: General Punctuation it has (dashes, quotes, bullet, ellipsis, per mille, guillemets), euro, trade mark
LOBBY_RANGES: tuple[tuple[int, int], ...] = (
    (0x20, 0x7E), (0xA1, 0xAC), (0xAE, 0x17F), (0x218, 0x21B), (0x386, 0x386), (0x388, 0x38A), (0x38C, 0x38C),
    (0x38E, 0x38F), (0x391, 0x3A1), (0x3A3, 0x3CE), (0x400, 0x45F), (0x490, 0x4C4), (0x2013, 0x2014), (0x2018, 0x201A),
    (0x201C, 0x201E), (0x2020, 0x2022), (0x2026, 0x2026), (0x2030, 0x2030), (0x2039, 0x203A), (0x20AC, 0x20AC),
    (0x2122, 0x2122),
)


class FormError(Exception):
    """A form refused, with the text the person reads and the HTTP status."""

    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a posted form (first value of each name), or :class:`FormError`."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise FormError("Formulir harus dikirim sebagai application/x-www-form-urlencoded", 415)
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > MAX_BODY:
                raise FormError(f"Formulir terlalu besar (lebih dari {MAX_BODY // 1024} KiB)", 413)
        except ValueError:
            raise FormError("Panjang formulir tidak valid") from None
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise FormError(f"Formulir terlalu besar (lebih dari {MAX_BODY // 1024} KiB)", 413)
    except ClientDisconnect:
        raise FormError("Formulir tidak terkirim utuh (sambungan terputus)") from None
    try:
        text = bytes(body).decode("utf-8")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                                       max_num_fields=MAX_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise FormError("Formulir berisi teks yang bukan UTF-8") from None
    except ValueError:
        raise FormError(f"Formulir berisi terlalu banyak isian (paling banyak {MAX_FIELDS})") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if len(key) > 64 or len(value) > MAX_VALUE:
            raise FormError("Isian formulir terlalu panjang")
        fields.setdefault(key, value)
    return fields


def _invisible(ch: str) -> bool:
    """A character that shows nothing: a format character (soft hyphen, zero-width space or joiner,
    word joiner, direction marks, tag characters) or a blank-looking letter (fillers, blank Braille)."""
    return unicodedata.category(ch) == "Cf" or ch in _BLANK_LOOKING


def lobby_can_draw(ch: str) -> bool:
    """Does the lobby screen's font have this character (:data:`LOBBY_RANGES`)?"""
    code = ord(ch)
    return any(low <= code <= high for low, high in LOBBY_RANGES)


def text(fields: dict[str, str], name: str, label: str, *, min_len: int = 0, max_len: int = 200,
         required: bool = False, reason: bool = False, lobby: bool = False) -> str:
    """A one-line text field: normalised (NFC), invisible characters dropped, spaces collapsed, within
    bounds; refused with control characters or a run of combining marks.  ``reason``: it must hold a
    letter or a digit.  ``lobby``: it is shown on the lobby screen, so only characters its font draws."""
    value = fields.get(name, "")
    if _CONTROL.search(value):
        raise FormError(f"{label}: berisi karakter kendali atau tak terlihat")
    value = unicodedata.normalize("NFC", value)
    value = "".join(ch for ch in value if not _invisible(ch))
    marks = 0
    for ch in value:
        marks = marks + 1 if unicodedata.combining(ch) else 0
        if marks > MAX_MARKS:
            raise FormError(f"{label}: berisi tumpukan tanda diakritik; tulis dengan huruf biasa")
    value = " ".join(value.split())
    if required and not value:
        raise FormError(f"{label} wajib diisi")
    if value and len(value) < min_len:
        raise FormError(f"{label}: paling sedikit {min_len} karakter")
    if len(value) > max_len:
        raise FormError(f"{label}: paling banyak {max_len} karakter")
    if reason and value and not any(unicodedata.category(ch)[0] in "LN" for ch in value):
        raise FormError(f"{label}: tulis dengan huruf atau angka yang terbaca")
    if lobby:
        bad = [ch for ch in dict.fromkeys(value) if not lobby_can_draw(ch)]
        if bad:
            shown = ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in bad[:3])
            raise FormError(f"{label}: layar lobi tidak dapat menampilkan {shown}. Pakai huruf Latin, angka dan "
                            "tanda baca biasa (tanpa emoji).")
    return value


def choice(fields: dict[str, str], name: str, label: str, allowed: list[str] | tuple[str, ...] | set[str]) -> str:
    value = fields.get(name, "")
    if value not in allowed:
        raise FormError(f"{label}: pilihan tidak dikenal")
    return value


def number(fields: dict[str, str], name: str, label: str, *, low: int, high: int,
           optional: bool = False) -> int | None:
    value = fields.get(name, "").strip()
    if not value and optional:
        return None
    if not re.fullmatch(r"[0-9]{1,7}", value):
        raise FormError(f"{label}: isi dengan angka {low} sampai {high}")
    n = int(value)
    if not low <= n <= high:
        raise FormError(f"{label}: isi dengan angka {low} sampai {high}")
    return n


@overload
def ticket_number(fields: dict[str, str], name: str, label: str, *, config: SiteConfig | None = None) -> str: ...
@overload
def ticket_number(fields: dict[str, str], name: str, label: str, optional: Literal[True], *,
                  config: SiteConfig | None = None) -> str | None: ...


def ticket_number(fields: dict[str, str], name: str, label: str, optional: bool = False, *,
                  config: SiteConfig | None = None) -> str | None:
    """A ticket number as staff type it (``a-12`` is ``A12``); blank is None when ``optional``.  With
    the site's ``config`` the digits are padded as the site prints them (``A3`` is ``A003``)."""
    value = fields.get(name, "").strip().upper().replace("-", "").replace(" ", "")
    if optional and not value:
        return None
    match = re.fullmatch(r"([A-Z]{1,2})([0-9]{1,6})", value)
    if match is None:
        raise FormError(f"{label}: bukan nomor antrean (contoh A012)")
    service = config.service_by_prefix(match[1]) if config is not None else None
    if service is not None:
        value = f"{match[1]}{int(match[2]):0{service.padding}d}"
    return value
