"""Indonesian announcement text and its clip list: pure logic.

"A012" at gerai 5 is said "Nomor antrean a dua belas, silakan menuju gerai
lima": the prefix letters by their Indonesian names, the number as a number
without its padding zeros, the gerai by its number (or a name clip).  A
text-to-speech engine given "A012" would say "empat puluh dua"-like nonsense,
so numbers are always spelled out here first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ONES = ("nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan")

LETTERS: dict[str, str] = {
    "A": "a", "B": "be", "C": "ce", "D": "de", "E": "e", "F": "ef", "G": "ge", "H": "ha", "I": "i",
    "J": "je", "K": "ka", "L": "el", "M": "em", "N": "en", "O": "o", "P": "pe", "Q": "ki", "R": "er",
    "S": "es", "T": "te", "U": "u", "V": "ve", "W": "we", "X": "eks", "Y": "ye", "Z": "zet",
}

#: Every word clip a voice pack has: the number words and fixed phrases.
NUMBER_WORDS = ONES + ("sepuluh", "sebelas", "belas", "puluh", "seratus", "ratus", "seribu", "ribu")
PHRASES = {"chime": "", "nomor_antrean": "nomor antrean", "silakan_menuju": "silakan menuju", "gerai": "gerai",
           "panggilan_ulang": "panggilan ulang"}

_TICKET_RE = re.compile(r"^([A-Z]{1,2})-?([0-9]{1,6})$")


def number_words(n: int) -> list[str]:
    """0 <= n <= 999,999 in Indonesian words: 12 -> ["dua", "belas"], 1100 -> ["seribu", "seratus"]."""
    if not 0 <= n <= 999_999:
        raise ValueError(f"{n} is outside 0..999999")
    if n < 10:
        return [ONES[n]]
    return _words(n)


def _words(n: int) -> list[str]:
    if n == 0:
        return []
    if n < 10:
        return [ONES[n]]
    if n == 10:
        return ["sepuluh"]
    if n == 11:
        return ["sebelas"]
    if n < 20:
        return [ONES[n - 10], "belas"]
    if n < 100:
        return [ONES[n // 10], "puluh"] + _words(n % 10)
    if n < 200:
        return ["seratus"] + _words(n - 100)
    if n < 1000:
        return [ONES[n // 100], "ratus"] + _words(n % 100)
    if n < 2000:
        return ["seribu"] + _words(n - 1000)
    return _words(n // 1000) + ["ribu"] + _words(n % 1000)


def split_ticket(ticket: str) -> tuple[list[str], list[str]]:
    """"A012" -> (["a"], ["dua", "belas"]): letter names and number words."""
    match = _TICKET_RE.match(ticket.strip().upper())
    if not match:
        raise ValueError(f"{ticket!r} is not a ticket number like A012")
    letters, digits = match.groups()
    return [LETTERS[c] for c in letters], number_words(int(digits))


def spell_ticket(ticket: str) -> list[str]:
    """"A012" -> ["a", "dua", "belas"]."""
    letters, number = split_ticket(ticket)
    return letters + number


@dataclass(frozen=True)
class Announcement:
    words: list[str]  # what is said, word by word
    clips: list[str]  # the clip names a voice pack plays, in order

    @property
    def text(self) -> str:
        return " ".join(self.words)


def announcement(ticket: str, gerai_number: int | None, gerai_name: str = "", agency: str | None = None,
                 recall: bool = False) -> Announcement:
    """The words and clips of a call: chime, (recall), number, gerai, optional agency."""
    letters, number = split_ticket(ticket)
    words: list[str] = []
    clips: list[str] = ["chime"]
    if recall:
        words += ["panggilan", "ulang"]
        clips.append("panggilan_ulang")
    words += ["nomor", "antrean"] + letters + number
    clips += ["nomor_antrean"] + [f"letter_{w}" for w in letters] + number
    words += ["silakan", "menuju", "gerai"]
    clips += ["silakan_menuju", "gerai"]
    if gerai_number is not None:
        gw = number_words(gerai_number)
        words += gw
        clips += gw
    else:
        words += gerai_name.lower().split()
        clips.append(f"name_{_slug(gerai_name)}")
    if agency:
        words += agency.lower().split()
        clips.append(f"agency_{_slug(agency)}")
    return Announcement(words, clips)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def clip_texts(agencies: list[str] = ()) -> dict[str, str]:  # type: ignore[assignment]
    """Every clip of a voice pack and the text a synthesizer (or a speaker) records for it."""
    texts = {name: text for name, text in PHRASES.items()}
    texts.update({w: w for w in NUMBER_WORDS})
    texts.update({f"letter_{name}": name for name in LETTERS.values()})
    texts.update({f"agency_{_slug(a)}": a for a in agencies})
    return texts
