"""Reading and checking what a browser posts: bounded, strict, and never a crash.

Every form of the console is ``application/x-www-form-urlencoded`` and small.  The body is
read up to :data:`MAX_BODY` bytes (more is refused before it is read whole), must be UTF-8 and
well-formed, may hold at most :data:`MAX_FIELDS` fields, and each value is checked by the page
that uses it.  Every refusal is a :class:`FormError` whose text (Indonesian) is shown to the
person, with an HTTP status: 400 for a bad form, 413 for a huge one, 415 for another encoding.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Literal, overload

from starlette.requests import Request

MAX_BODY = 16 * 1024
MAX_FIELDS = 24
MAX_VALUE = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


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
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise FormError(f"Formulir terlalu besar (lebih dari {MAX_BODY // 1024} KiB)", 413)
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
            raise FormError(f"Isian terlalu panjang (paling banyak {MAX_VALUE} karakter)")
        fields.setdefault(key, value)
    return fields


def text(fields: dict[str, str], name: str, label: str, *, min_len: int = 0, max_len: int = 200,
         required: bool = False) -> str:
    """A one-line text field: trimmed, without control or invisible characters, within bounds."""
    value = fields.get(name, "")
    if _CONTROL.search(value):
        raise FormError(f"{label}: berisi karakter kendali atau tak terlihat")
    value = " ".join(value.split())
    if required and not value:
        raise FormError(f"{label} wajib diisi")
    if value and len(value) < min_len:
        raise FormError(f"{label}: paling sedikit {min_len} karakter")
    if len(value) > max_len:
        raise FormError(f"{label}: paling banyak {max_len} karakter")
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
def ticket_number(fields: dict[str, str], name: str, label: str) -> str: ...
@overload
def ticket_number(fields: dict[str, str], name: str, label: str, optional: Literal[True]) -> str | None: ...


def ticket_number(fields: dict[str, str], name: str, label: str, optional: bool = False) -> str | None:
    """A ticket number as staff type it (``a-12`` is ``A12``); blank is None when ``optional``."""
    value = fields.get(name, "").strip().upper().replace("-", "")
    if optional and not value:
        return None
    if not re.fullmatch(r"[A-Z]{1,2}[0-9]{1,6}", value):
        raise FormError(f"{label}: bukan nomor antrean (contoh A012)")
    return value
