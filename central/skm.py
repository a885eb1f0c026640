"""Survei Kepuasan Masyarakat (SKM) by Permen PANRB 14/2017: the nine elements, the index and its bands.

Pure arithmetic on answers: no MQTT, no web, no clock.  The central records each answer as a
``survey_answered`` event; reports (the console's SKM page and its exports) read them back and
compute here.

The regulation (Lampiran, "Pengolahan Data Survei"), and what antre does with it:

* Every element is scored 1-4 by each respondent (the four answer labels of each question are
  the regulation's sample questionnaire's, :data:`ELEMENTS`).
* **NRR per element** = total of that element's scores / respondents who answered it.  antre's
  form requires all nine answers, so every element has the same respondents.
* **NRR tertimbang** = NRR x weight.  The regulation defines the weight as "jumlah bobot /
  jumlah unsur" = 1/9 and writes it, rounded, as 0,11 in its example; spreadsheets commonly use
  0,111.  Both roundings push a perfect score below 100 (99.00 / 99.90) and an all-1 score below
  the scale's own floor of 25 (24.75 / 24.975), outside the 25-100 range the regulation states
  for the converted index.  antre uses the exact 1/9 (:data:`WEIGHT`), so the converted index
  spans exactly 25-100; a report that used 0,111 shows at most 0.1 point less.
* **IKM unit** = sum of the weighted NRR (1.00-4.00); **konversi** = IKM x 25 (25-100).
* Everything is computed with exact fractions; rounding happens only for display (NRR to 2
  decimals, NRR tertimbang and IKM to 3) and once for the band: the converted value is rounded
  half-up to 2 decimals (the precision in which the regulation writes its intervals), then
  classified: A 88.31-100.00 (Sangat Baik), B 76.61-88.30 (Baik), C 65.00-76.60 (Kurang Baik),
  D 25.00-64.99 (Tidak Baik).  After that rounding the four intervals leave no gap (a raw
  88.305 is 88.31, band A).
* **Required sample** (Krejcie & Morgan 1970, the table the regulation refers to):
  s = X^2 N P(1-P) / (d^2 (N-1) + X^2 P(1-P)) with X^2 = 3.841, P = 0.5, d = 0.05, N the
  period's visitors (served tickets).  antre rounds s up (a minimum cannot be met by a fraction
  of a respondent); the published table rounds to the nearest, so for a few N (e.g. 15: 14.47)
  it says one fewer.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction


@dataclass(frozen=True)
class Element:
    """One element (unsur) of the survey: its code, name, the question and the labels of scores 1-4."""

    code: str
    name: str
    question: str
    labels: tuple[str, str, str, str]


#: The nine elements of Permen PANRB 14/2017 in the regulation's order (U1-U9), with the question and
#: the four answers of its sample questionnaire (score 1 to 4).  The sample questionnaire asks
#: about sarana dan prasarana before penanganan pengaduan; antre keeps the order of the elements.
ELEMENTS: tuple[Element, ...] = (
    Element("U1", "Persyaratan",
            "Bagaimana pendapat Saudara tentang kesesuaian persyaratan pelayanan dengan jenis pelayanannya?",
            ("Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai")),
    Element("U2", "Sistem, mekanisme, dan prosedur",
            "Bagaimana pemahaman Saudara tentang kemudahan prosedur pelayanan di unit ini?",
            ("Tidak mudah", "Kurang mudah", "Mudah", "Sangat mudah")),
    Element("U3", "Waktu penyelesaian",
            "Bagaimana pendapat Saudara tentang kecepatan waktu dalam memberikan pelayanan?",
            ("Tidak cepat", "Kurang cepat", "Cepat", "Sangat cepat")),
    Element("U4", "Biaya/tarif",
            "Bagaimana pendapat Saudara tentang kewajaran biaya/tarif dalam pelayanan?",
            ("Sangat mahal", "Cukup mahal", "Murah", "Gratis")),
    Element("U5", "Produk spesifikasi jenis pelayanan",
            "Bagaimana pendapat Saudara tentang kesesuaian produk pelayanan antara yang tercantum dalam "
            "standar pelayanan dengan hasil yang diberikan?",
            ("Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai")),
    Element("U6", "Kompetensi pelaksana",
            "Bagaimana pendapat Saudara tentang kompetensi/kemampuan petugas dalam pelayanan?",
            ("Tidak kompeten", "Kurang kompeten", "Kompeten", "Sangat kompeten")),
    Element("U7", "Perilaku pelaksana",
            "Bagaimana pendapat Saudara tentang perilaku petugas dalam pelayanan terkait kesopanan dan keramahan?",
            ("Tidak sopan dan ramah", "Kurang sopan dan ramah", "Sopan dan ramah", "Sangat sopan dan ramah")),
    Element("U8", "Penanganan pengaduan, saran, dan masukan",
            "Bagaimana pendapat Saudara tentang penanganan pengaduan pengguna layanan?",
            ("Tidak ada", "Ada tetapi tidak berfungsi", "Berfungsi kurang maksimal", "Dikelola dengan baik")),
    Element("U9", "Sarana dan prasarana",
            "Bagaimana pendapat Saudara tentang kualitas sarana dan prasarana?",
            ("Buruk", "Cukup", "Baik", "Sangat baik")),
)
N_ELEMENTS = len(ELEMENTS)
#: The weight of each element: jumlah bobot / jumlah unsur (see the module docstring).
WEIGHT = Fraction(1, N_ELEMENTS)
#: The factor from the unit index (1-4) to the converted index (25-100).
CONVERSION = 25

#: The optional respondent profile of the usual SKM questionnaire, as codes and their labels.
#: No name, no phone number, no identity number: nothing that identifies a person.
AGE_BANDS: dict[str, str] = {"u20": "< 20 tahun", "20-29": "20-29 tahun", "30-39": "30-39 tahun",
                             "40-49": "40-49 tahun", "50-59": "50-59 tahun", "60+": "60 tahun ke atas"}
SEXES: dict[str, str] = {"l": "Laki-laki", "p": "Perempuan"}
EDUCATION: dict[str, str] = {"sd": "SD ke bawah", "smp": "SMP", "sma": "SMA/SMK", "diploma": "D1-D3",
                             "s1": "D4/S1", "s2": "S2", "s3": "S3"}
OCCUPATIONS: dict[str, str] = {"pns": "PNS", "tni": "TNI", "polri": "POLRI", "swasta": "Pegawai swasta",
                               "wirausaha": "Wirausaha", "pelajar": "Pelajar/Mahasiswa", "lainnya": "Lainnya"}
PROFILE_FIELDS: dict[str, tuple[str, dict[str, str]]] = {
    "age": ("Umur", AGE_BANDS), "sex": ("Jenis kelamin", SEXES), "education": ("Pendidikan terakhir", EDUCATION),
    "occupation": ("Pekerjaan utama", OCCUPATIONS),
}
NOT_GIVEN = "Tidak diisi"


@dataclass(frozen=True)
class Band:
    """A quality band (mutu pelayanan) and the unit's performance (kinerja unit pelayanan)."""

    letter: str
    name: str
    low: Decimal  #: lowest converted value of the band (2 decimals)
    high: Decimal


BANDS: tuple[Band, ...] = (
    Band("A", "Sangat Baik", Decimal("88.31"), Decimal("100.00")),
    Band("B", "Baik", Decimal("76.61"), Decimal("88.30")),
    Band("C", "Kurang Baik", Decimal("65.00"), Decimal("76.60")),
    Band("D", "Tidak Baik", Decimal("25.00"), Decimal("64.99")),
)

#: Krejcie & Morgan's constants: chi-square for 1 degree of freedom at 95 %, the population
#: proportion and the margin of error.
CHI_SQUARE = Fraction("3.841")
PROPORTION = Fraction(1, 2)
MARGIN = Fraction(1, 20)


class SkmError(ValueError):
    """Scores that are not an SKM answer (not nine, or not 1-4)."""


def check_scores(scores: Sequence[int]) -> tuple[int, ...]:
    """The nine scores of one respondent, each 1-4; raises :class:`SkmError`."""
    if len(scores) != N_ELEMENTS:
        raise SkmError(f"{len(scores)} scores; an SKM answer has {N_ELEMENTS}")
    for i, s in enumerate(scores):
        if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= 4:
            raise SkmError(f"{ELEMENTS[i].code}: score {s!r} is not 1-4")
    return tuple(scores)


def round_half_up(value: Fraction, places: int) -> Decimal:
    """``value`` rounded half-up (away from zero for these positive values) to ``places`` decimals."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def band_of(converted: Decimal) -> Band:
    """The band of a converted index (already rounded to 2 decimals; see the module docstring)."""
    for band in BANDS:
        if converted >= band.low:
            return band
    return BANDS[-1]  # (below 25 cannot come from scores of 1-4)


def required_sample(population: int) -> int:
    """Krejcie & Morgan's sample size for ``population`` visitors, rounded up (0 for none)."""
    if population < 0:
        raise ValueError("a population cannot be negative")
    if population == 0:
        return 0
    pq = PROPORTION * (1 - PROPORTION)
    s = CHI_SQUARE * population * pq / (MARGIN * MARGIN * (population - 1) + CHI_SQUARE * pq)
    return math.ceil(s)


@dataclass(frozen=True)
class Index:
    """The SKM of a set of answers (exact values; ``None`` fields when nobody answered)."""

    respondents: int
    totals: tuple[int, ...]  #: sum of the scores per element
    nrr: tuple[Fraction, ...]  #: per element, total / respondents
    weighted: tuple[Fraction, ...]  #: per element, NRR x 1/9
    ikm: Fraction | None  #: the unit's index, 1-4
    converted: Decimal | None  #: IKM x 25, rounded half-up to 2 decimals
    band: Band | None

    @property
    def ikm_exact_converted(self) -> Fraction | None:
        return None if self.ikm is None else self.ikm * CONVERSION


def compute(answers: Iterable[Sequence[int]]) -> Index:
    """The index of ``answers`` (each nine scores 1-4); raises :class:`SkmError` for a bad one."""
    totals = [0] * N_ELEMENTS
    n = 0
    for scores in answers:
        for i, s in enumerate(check_scores(scores)):
            totals[i] += s
        n += 1
    if n == 0:
        return Index(0, tuple(totals), (), (), None, None, None)
    nrr = tuple(Fraction(t, n) for t in totals)
    weighted = tuple(v * WEIGHT for v in nrr)
    ikm = sum(weighted, Fraction(0))
    converted = round_half_up(ikm * CONVERSION, 2)
    return Index(n, tuple(totals), nrr, weighted, ikm, converted, band_of(converted))


# ---------------------------------------------------------------------- reports


@dataclass(frozen=True)
class Answer:
    """One respondent's answer as reports read it (no personal identifier)."""

    day: str  #: ISO date of the ticket's day (the visit)
    ts: float  #: when it was answered
    service: str
    scores: tuple[int, ...]
    age: str | None = None
    sex: str | None = None
    education: str | None = None
    occupation: str | None = None
    suggestion: str = ""
    channel: str = "phone"


@dataclass(frozen=True)
class Unit:
    """The SKM of one unit (the site, an agency or a service) for a period."""

    key: str  #: "" for the site, an agency id or a service id
    name: str
    index: Index
    visitors: int  #: served tickets in the period (the population N)
    required: int  #: Krejcie & Morgan's sample for N

    @property
    def enough(self) -> bool:
        """Did enough citizens answer for the period's visitor count?"""
        return self.index.respondents >= self.required


@dataclass
class Summary:
    """A period's SKM: the whole unit, per agency, per service, the profile and the suggestions."""

    total: Unit
    agencies: list[Unit] = field(default_factory=list)
    services: list[Unit] = field(default_factory=list)
    #: field -> label -> count (every label listed, "Tidak diisi" last)
    profile: dict[str, dict[str, int]] = field(default_factory=dict)
    suggestions: list[Answer] = field(default_factory=list)


def profile_counts(answers: Sequence[Answer]) -> dict[str, dict[str, int]]:
    """Respondents per answer of each profile field (every option listed, unanswered last)."""
    out: dict[str, dict[str, int]] = {}
    for name, (_, options) in PROFILE_FIELDS.items():
        counts = Counter(getattr(a, name) for a in answers)
        row = {label: counts.get(code, 0) for code, label in options.items()}
        row[NOT_GIVEN] = sum(v for k, v in counts.items() if k not in options)
        out[name] = row
    return out


def summarize(answers: Sequence[Answer], visitors: Mapping[str, int], service_agency: Mapping[str, str],
              names: Mapping[str, str], unit_name: str) -> Summary:
    """The SKM of ``answers`` for the whole unit, each agency and each service.

    ``visitors``: served tickets per service in the period; ``service_agency``: each service's
    agency; ``names``: display names of agencies and services.  Agencies and services are listed
    in the order of ``service_agency`` (the site file's), those without visitors nor answers left out.
    """
    by_service: dict[str, list[Answer]] = {}
    for a in answers:
        by_service.setdefault(a.service, []).append(a)

    def unit(key: str, name: str, group: Sequence[Answer], n: int) -> Unit:
        return Unit(key, name, compute(a.scores for a in group), n, required_sample(n))

    services: list[Unit] = []
    agency_answers: dict[str, list[Answer]] = {}
    agency_visitors: dict[str, int] = {}
    for sid, aid in service_agency.items():
        group = by_service.get(sid, [])
        n = visitors.get(sid, 0)
        agency_answers.setdefault(aid, []).extend(group)
        agency_visitors[aid] = agency_visitors.get(aid, 0) + n
        if group or n:
            services.append(unit(sid, names.get(sid, sid), group, n))
    agencies = [unit(aid, names.get(aid, aid), agency_answers[aid], agency_visitors[aid])
                for aid in agency_answers if agency_answers[aid] or agency_visitors[aid]]
    # answers of a service the site file no longer lists still count for the whole unit
    total = unit("", unit_name, answers, sum(visitors.values()))
    suggestions = sorted((a for a in answers if a.suggestion.strip()), key=lambda a: a.ts, reverse=True)
    return Summary(total, agencies, services, profile_counts(answers), suggestions)


def fmt(value: Fraction | Decimal | None, places: int) -> str:
    """A value for display, rounded half-up, Indonesian decimal comma (``3,21``); ``-`` for none."""
    if value is None:
        return "-"
    dec = value if isinstance(value, Decimal) else round_half_up(value, places)
    return f"{dec:.{places}f}".replace(".", ",")
