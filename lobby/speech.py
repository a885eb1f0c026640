"""Indonesian announcement text and its clip list: pure logic.

"A012" at gerai 5 is said "Nomor antrean a dua belas, silakan menuju gerai
lima": the prefix letters by their Indonesian names, the number as a number
without its padding zeros, the gerai by its number (or by its own name clip
when it is not called "Gerai <number>").  A text-to-speech engine given "A012"
would say "empat puluh dua"-like nonsense, so numbers are always spelled out
here first.

An announcement is a list of clips, each followed by a pause: the pauses are
what makes concatenated words sound like a sentence (a short breath between
the letters and the number, a longer one before "silakan menuju").  A lobby
speaks in one of two forms:

* ``full``: chime, ("panggilan ulang"), "nomor antrean", the number (twice
  when the zone asks), "silakan menuju gerai N", then the zone's agency or
  service name when its template says so;
* ``short``, when calls queue up: the number and "gerai N" only (no chime
  unless the previous announcement was a full one), about a third of the time;
* ``compact``, when even the short form would leave the last queued call
  unsaid for too long: the number and the gerai's number ("a dua belas, lima").

In both short forms the calls of one gerai waiting together are said together
("a dua belas, a tiga belas, gerai lima").

Which agency or service name is said is the zone's template (``announce_with``
of a ``[[lobby]]``, as SiolaQ's zones do); their clip texts come from the site
file, where an abbreviation has its spoken form (``spoken = "a te er be pe en"``
for ATR/BPN).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

ONES = ("nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan")

LETTERS: dict[str, str] = {
    "A": "a", "B": "be", "C": "ce", "D": "de", "E": "e", "F": "ef", "G": "ge", "H": "ha", "I": "i",
    "J": "je", "K": "ka", "L": "el", "M": "em", "N": "en", "O": "o", "P": "pe", "Q": "ki", "R": "er",
    "S": "es", "T": "te", "U": "u", "V": "fe", "W": "we", "X": "eks", "Y": "ye", "Z": "zet",
}

#: Every word clip a voice pack has: the number words and fixed phrases.
NUMBER_WORDS = ONES + ("sepuluh", "sebelas", "belas", "puluh", "seratus", "ratus", "seribu", "ribu")
PHRASES = {"chime": "", "nomor_antrean": "nomor antrean", "silakan_menuju": "silakan menuju", "gerai": "gerai",
           "panggilan_ulang": "panggilan ulang"}

Form = Literal["full", "short", "compact"]
Template = Literal["none", "agency", "service"]

#: Pauses (seconds of silence after a clip) that make the words one sentence.
AFTER_CHIME = 0.35
AFTER_RECALL = 0.30
AFTER_NOMOR = 0.10
BETWEEN_LETTERS = 0.05
AFTER_LETTERS = 0.08
BETWEEN_NUMBER_WORDS = 0.03
BEFORE_REPEAT = 0.45
BEFORE_SILAKAN = 0.60  # the longest: the number is said, now where to go
AFTER_SILAKAN = 0.08
AFTER_GERAI = 0.05
BEFORE_NAME = 0.35
SHORT_BEFORE_GERAI = 0.30
BETWEEN_TICKETS = 0.30

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


def numbers_vocabulary(highest: int) -> set[str]:
    """The number words needed to say every number from 1 to ``highest``."""
    words: set[str] = set()
    # from 2000 on no new word appears (every word of 1..2000 is in, "ribu" at 2000)
    for n in range(1, min(highest, 2000) + 1):
        words.update(number_words(n))
    return words


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


def slug(text: str) -> str:
    """A clip name part from a name or id: "ATR/BPN" -> "atr_bpn"."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def gerai_clip(gerai: str) -> str:
    return f"gerai_{slug(gerai)}"


def agency_clip(agency: str) -> str:
    return f"agency_{slug(agency)}"


def service_clip(service: str) -> str:
    return f"service_{slug(service)}"


def needs_spoken_form(text: str) -> bool:
    """Would a voice read ``text`` badly as written?  Abbreviations (two capitals in a row,
    a slash, digits) need a ``spoken`` form in the site file: "ATR/BPN", "KTP-el", "PBB-P2"."""
    return bool(re.search(r"[A-Z]{2}|/|[0-9]", text))


def said_as(text: str) -> str:
    """What a synthesizer is given for a name without a spoken form."""
    return " ".join(re.sub(r"[^0-9a-zA-Z']+", " ", text).lower().split())


@dataclass(frozen=True)
class Names:
    """The spoken names a lobby may need: gerai, agencies and services (clip name -> text to say)."""

    #: gerai id -> its number, when its name is "Gerai <number>" (said "gerai" + the number)
    gerai_numbers: Mapping[str, int] = field(default_factory=dict)
    #: gerai id -> the words of its own name, for gerai with another name ("loket prioritas")
    gerai_names: Mapping[str, str] = field(default_factory=dict)
    #: gerai id -> its agency id
    gerai_agency: Mapping[str, str] = field(default_factory=dict)
    agencies: Mapping[str, str] = field(default_factory=dict)  # agency id -> spoken text
    services: Mapping[str, str] = field(default_factory=dict)  # service id -> spoken text


@dataclass(frozen=True)
class VoiceTemplate:
    """A zone's way of speaking (the ``[[lobby]]``'s ``announce_with`` and ``repeat_number``)."""

    announce_with: Template = "none"
    repeat_number: bool = False


@dataclass(frozen=True)
class Announcement:
    """What is said, word by word, and the clips a voice pack plays with the silence after each."""

    words: list[str]
    clips: list[str]
    pauses: list[float]
    form: Form = "full"
    #: (index of the first clip, ticket) of every ticket said, in order
    marks: list[tuple[int, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.words)


class _Builder:
    def __init__(self) -> None:
        self.words: list[str] = []
        self.clips: list[str] = []
        self.pauses: list[float] = []
        self.marks: list[tuple[int, str]] = []

    def add(self, clip: str, words: Iterable[str], pause: float) -> None:
        self.clips.append(clip)
        self.pauses.append(pause)
        self.words.extend(words)

    def breath(self, pause: float) -> None:
        """Make the silence after the last clip at least ``pause``."""
        if self.pauses:
            self.pauses[-1] = max(self.pauses[-1], pause)

    def ticket(self, ticket: str) -> None:
        letters, number = split_ticket(ticket)
        self.marks.append((len(self.clips), ticket))
        for i, name in enumerate(letters):
            self.add(f"letter_{name}", [name], BETWEEN_LETTERS if i < len(letters) - 1 else AFTER_LETTERS)
        for word in number:
            self.add(word, [word], BETWEEN_NUMBER_WORDS)

    def gerai(self, gerai: str, gerai_number: int | None, gerai_name: str, names: Names | None,
              word: bool = True) -> None:
        number = gerai_number
        if names is not None and gerai in names.gerai_names:
            number = None
        elif number is not None and not is_numbered(gerai_name, number):
            number = None
        if number is not None:
            if word:
                self.add("gerai", ["gerai"], AFTER_GERAI)
            for w in number_words(number):
                self.add(w, [w], BETWEEN_NUMBER_WORDS)
        else:
            spoken = names.gerai_names.get(gerai) if names is not None else None
            self.add(gerai_clip(gerai), (spoken or said_as(gerai_name)).split(), BETWEEN_NUMBER_WORDS)

    def done(self, form: Form) -> Announcement:
        if self.pauses:
            self.pauses[-1] = 0.0
        return Announcement(self.words, self.clips, self.pauses, form, self.marks)


def is_numbered(name: str, number: int) -> bool:
    """Is a gerai called "Gerai <its number>" (said "gerai" and the number)?"""
    return re.fullmatch(rf"gerai\s*0*{number}", name.strip().lower()) is not None


def announcement(ticket: str, gerai_number: int | None, gerai_name: str = "", agency: str | None = None,
                 recall: bool = False, *, gerai: str = "", service: str = "", names: Names | None = None,
                 template: VoiceTemplate | None = None, form: Form = "full", chime: bool = True,
                 also: Sequence[str] = ()) -> Announcement:
    """The words and clips of one call (in the short forms, with ``also``: more tickets called to the
    same gerai, said one after the other before it: "a dua belas, a tiga belas, gerai lima").

    ``agency`` (a name) is said at the end, as before templates existed; with ``template``
    and ``names`` the zone's template decides (the gerai's agency or the call's service).
    """
    template = template or VoiceTemplate()
    b = _Builder()
    if form in ("short", "compact"):
        if chime:
            b.add("chime", [], AFTER_CHIME)
        b.ticket(ticket)
        for other in also:
            b.breath(BETWEEN_TICKETS)
            b.ticket(other)
        b.breath(SHORT_BEFORE_GERAI)
        b.gerai(gerai, gerai_number, gerai_name, names, word=form == "short")  # compact: "a dua belas, lima"
        return b.done(form)
    b.add("chime", [], AFTER_CHIME)
    if recall:
        b.add("panggilan_ulang", ["panggilan", "ulang"], AFTER_RECALL)
    b.add("nomor_antrean", ["nomor", "antrean"], AFTER_NOMOR)
    b.ticket(ticket)
    if template.repeat_number:
        b.breath(BEFORE_REPEAT)
        b.ticket(ticket)
    b.breath(BEFORE_SILAKAN)
    b.add("silakan_menuju", ["silakan", "menuju"], AFTER_SILAKAN)
    b.gerai(gerai, gerai_number, gerai_name, names)
    if agency:
        b.breath(BEFORE_NAME)
        b.add(agency_clip(agency), said_as(agency).split(), 0.0)
    elif names is not None and template.announce_with == "agency" and gerai in names.gerai_agency:
        aid = names.gerai_agency[gerai]
        b.breath(BEFORE_NAME)
        b.add(agency_clip(aid), names.agencies.get(aid, aid).split(), 0.0)
    elif names is not None and template.announce_with == "service" and service:
        b.breath(BEFORE_NAME)
        b.add(service_clip(service), names.services.get(service, service).split(), 0.0)
    return b.done("full")


def clip_texts(agencies: Iterable[str] = ()) -> dict[str, str]:
    """The clips every pack has (phrases, number words, letters) and their texts; ``agencies``
    (names) adds a clip for each, said as written."""
    texts = {name: text for name, text in PHRASES.items()}
    texts.update({w: w for w in NUMBER_WORDS})
    texts.update({f"letter_{name}": name for name in LETTERS.values()})
    texts.update({agency_clip(a): said_as(a) for a in agencies})
    return texts
