"""The SKM arithmetic (Permen PANRB 14/2017) from the formula, by hand, and the ticket page's token.

Every expected figure below is worked out in the comments from the formula itself (NRR = total /
respondents, IKM = sum of NRR x 1/9, konversi = IKM x 25, Krejcie & Morgan's s), not taken from
a worked example.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antre.central import skm
from antre.central.ticketkey import TicketKey, kiosk_url, ticket_url, well_formed

ALL = [[4] * 9, [3] * 9, [2, 3, 4, 1, 2, 3, 4, 1, 2]]


def test_three_respondents_by_hand() -> None:
    # totals per element: U1 4+3+2=9, U2 4+3+3=10, U3 4+3+4=11, U4 4+3+1=8, U5 4+3+2=9,
    # U6 4+3+3=10, U7 4+3+4=11, U8 4+3+1=8, U9 4+3+2=9  (sum 85)
    # NRR = total/3: 3, 10/3, 11/3, 8/3, 3, 10/3, 11/3, 8/3, 3
    # IKM = sum(NRR)/9 = (85/3)/9 = 85/27 = 3.1481...; konversi = 85/27*25 = 2125/27 = 78.7037... -> 78.70, B
    index = skm.compute(ALL)
    assert index.respondents == 3
    assert index.totals == (9, 10, 11, 8, 9, 10, 11, 8, 9)
    assert index.nrr == tuple(Fraction(t, 3) for t in (9, 10, 11, 8, 9, 10, 11, 8, 9))
    assert index.weighted[1] == Fraction(10, 27)  # NRR U2 10/3 x 1/9
    assert index.ikm == Fraction(85, 27)
    assert index.converted == Decimal("78.70")
    assert index.band is not None and (index.band.letter, index.band.name) == ("B", "Baik")
    # what the page shows: NRR to 2 decimals, weighted and IKM to 3, decimal comma
    assert [skm.fmt(v, 2) for v in index.nrr[:4]] == ["3,00", "3,33", "3,67", "2,67"]
    assert [skm.fmt(v, 3) for v in index.weighted[:4]] == ["0,333", "0,370", "0,407", "0,296"]
    assert skm.fmt(index.ikm, 3) == "3,148"


def test_the_extremes_are_exactly_25_and_100() -> None:
    # all 4: NRR 4 each, IKM 9 x 4/9 = 4, x25 = 100.00 (A); all 1: IKM 1, 25.00 (D).  With 0.111
    # these would be 99.90 and 24.975: the exact 1/9 keeps the regulation's 25-100 range.
    top, bottom = skm.compute([[4] * 9]), skm.compute([[1] * 9])
    assert (top.ikm, top.converted, top.band and top.band.letter) == (4, Decimal("100.00"), "A")
    assert (bottom.ikm, bottom.converted, bottom.band and bottom.band.letter) == (1, Decimal("25.00"), "D")
    assert skm.WEIGHT == Fraction(1, 9)


def _population(n: int, high: list[int], high_count: int, low: list[int]) -> list[list[int]]:
    return [high] * high_count + [low] * (n - high_count)


@pytest.mark.parametrize(("high", "high_count", "low", "converted", "band"), [
    # A/B: 25*S/(9*5000) = 88.305 exactly when S = 158949 = 3949 x 32 + 1051 x 31 -> half-up 88.31, A
    ([4, 4, 4, 4, 4, 3, 3, 3, 3], 3949, [4, 4, 4, 4, 3, 3, 3, 3, 3], "88.31", "A"),
    # one respondent fewer at 32: S = 158948 -> 88.30444 -> 88.30, B
    ([4, 4, 4, 4, 4, 3, 3, 3, 3], 3948, [4, 4, 4, 4, 3, 3, 3, 3, 3], "88.30", "B"),
    # B/C: S = 137889 = 2889 x 28 + 2111 x 27 -> 25*S/45000 = 76.605 -> 76.61, B
    ([4, 3, 3, 3, 3, 3, 3, 3, 3], 2889, [3] * 9, "76.61", "B"),
    ([4, 3, 3, 3, 3, 3, 3, 3, 3], 2888, [3] * 9, "76.60", "C"),
    # C/D: S = 116991 = 1991 x 24 + 3009 x 23 -> 64.995 -> 65.00, C; one fewer -> 64.99, D
    ([3, 3, 3, 3, 3, 3, 2, 2, 2], 1991, [3, 3, 3, 3, 3, 2, 2, 2, 2], "65.00", "C"),
    ([3, 3, 3, 3, 3, 3, 2, 2, 2], 1990, [3, 3, 3, 3, 3, 2, 2, 2, 2], "64.99", "D"),
])
def test_band_boundaries_round_half_up_to_two_decimals(high: list[int], high_count: int, low: list[int],
                                                       converted: str, band: str) -> None:
    index = skm.compute(_population(5000, high, high_count, low))
    assert index.converted == Decimal(converted)
    assert index.band is not None and index.band.letter == band


@pytest.mark.parametrize(("population", "sample"), [
    # s = 3.841*N*0.25 / (0.0025*(N-1) + 3.841*0.25), rounded up
    (0, 0),
    (1, 1),  # 0.96025 / 0.96025 = 1
    (15, 15),  # 14.40375 / 0.99525 = 14.47 (the table says 14: it rounds to the nearest)
    (100, 80),  # 96.025 / 1.20775 = 79.51
    (1000, 278),  # 960.25 / 3.45775 = 277.71
    (55000, 382),  # 52813.75 / 138.45775 = 381.44 (a year of MPP Kota Kupang)
    (1_000_000, 384),  # 960250 / 2500.95775 = 383.96
])
def test_krejcie_morgan_by_hand(population: int, sample: int) -> None:
    assert skm.required_sample(population) == sample


def test_no_answer_is_no_index_and_bad_answers_are_refused() -> None:
    empty = skm.compute([])
    assert (empty.respondents, empty.ikm, empty.converted, empty.band) == (0, None, None, None)
    for bad in ([4] * 8, [4] * 10, [0] + [4] * 8, [5] + [4] * 8, [True] + [4] * 8, ["4"] * 9):
        with pytest.raises(skm.SkmError):
            skm.compute([bad])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        skm.required_sample(-1)


def test_summary_per_agency_and_service_with_visitors() -> None:
    answers = [skm.Answer(day="2024-05-02", ts=float(i), service=s, scores=tuple(sc), age=age,
                          suggestion=text)
               for i, (s, sc, age, text) in enumerate([
                   ("ktp", [4] * 9, "30-39", "Cepat sekali"), ("ktp", [3] * 9, None, ""),
                   ("npwp", [2] * 9, "60+", "=HYPERLINK(\"x\")")])]
    summary = skm.summarize(answers, {"ktp": 100, "kk": 5, "npwp": 10},
                            {"ktp": "dukcapil", "kk": "dukcapil", "npwp": "pajak"},
                            {"dukcapil": "Dukcapil", "pajak": "Pajak", "ktp": "KTP-el", "kk": "KK", "npwp": "NPWP"},
                            "MPP Uji")
    total = summary.total
    # all: totals 9*(4+3+2) = 81 -> IKM 81/27 = 3 -> 75.00 (C); N 115 -> s = 110.6 -> 89? by hand:
    # 3.841*115*0.25 = 110.42875; 0.0025*114 + 0.96025 = 1.24525; 88.68 -> 89
    assert (total.index.ikm, total.index.converted, total.visitors, total.required) == (3, Decimal("75.00"), 115, 89)
    assert not total.enough
    by = {u.key: u for u in summary.agencies}
    assert by["dukcapil"].index.respondents == 2 and by["dukcapil"].visitors == 105
    assert by["dukcapil"].index.converted == Decimal("87.50")  # (4+3)/2 = 3.5 -> 87.50, B
    assert by["pajak"].index.converted == Decimal("50.00")  # 2 -> 50.00, D
    services = {u.key: u for u in summary.services}
    assert services["kk"].index.respondents == 0 and services["kk"].visitors == 5 and services["kk"].index.band is None
    assert summary.profile["age"]["30-39 tahun"] == 1 and summary.profile["age"][skm.NOT_GIVEN] == 1
    assert summary.profile["sex"][skm.NOT_GIVEN] == 3
    assert [a.suggestion for a in summary.suggestions] == ["=HYPERLINK(\"x\")", "Cepat sekali"]  # newest first


# ---------------------------------------------------------------------------- invariants

answer = st.lists(st.integers(min_value=1, max_value=4), min_size=9, max_size=9)


@settings(max_examples=300, deadline=None)
@given(st.lists(answer, min_size=1, max_size=60))
def test_every_complete_set_of_answers_is_within_25_and_100(answers: list[list[int]]) -> None:
    index = skm.compute(answers)
    assert index.ikm is not None and index.converted is not None and index.band is not None
    assert 1 <= index.ikm <= 4
    assert Decimal("25.00") <= index.converted <= Decimal("100.00")
    assert all(1 <= v <= 4 for v in index.nrr)
    assert index.band.low <= index.converted <= index.band.high  # no gap between the bands after rounding
    assert skm.compute(list(reversed(answers))) == index  # the order of respondents does not matter


@settings(max_examples=300, deadline=None)
@given(st.lists(answer, min_size=1, max_size=30), st.integers(min_value=0), st.integers(min_value=0, max_value=8))
def test_a_better_score_never_lowers_the_index(answers: list[list[int]], who: int, element: int) -> None:
    before = skm.compute(answers)
    better = [list(a) for a in answers]
    row = better[who % len(better)]
    row[element] = min(4, row[element] + 1)
    after = skm.compute(better)
    assert after.ikm is not None and before.ikm is not None and after.ikm >= before.ikm
    order = "DCBA"
    assert after.band is not None and before.band is not None
    assert order.index(after.band.letter) >= order.index(before.band.letter)


@given(st.integers(min_value=2500, max_value=10000), st.integers(min_value=2500, max_value=10000))
def test_bands_are_monotone_in_the_converted_value(a: int, b: int) -> None:
    low, high = sorted((Decimal(a) / 100, Decimal(b) / 100))
    order = "DCBA"
    assert order.index(skm.band_of(low).letter) <= order.index(skm.band_of(high).letter)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=10**7))
def test_the_sample_grows_with_the_population_and_never_exceeds_it(n: int) -> None:
    # the limit as N grows is X^2 P(1-P) / d^2 = 3.841 * 0.25 / 0.0025 = 384.1: rounded up, 385 at most
    s = skm.required_sample(n)
    assert s <= n and s <= 385 and skm.required_sample(n + 1) >= s


# ---------------------------------------------------------------------------- the ticket page's token

KEY = TicketKey("a-site-secret-of-at-least-32-characters", "kupang")


def test_a_token_is_120_bits_url_safe_and_checks_its_ticket_only() -> None:
    token = KEY.token("20231117-A012")
    assert well_formed(token) and len(token) == 20  # 15 bytes of HMAC-SHA256 in base64url
    assert KEY.check("20231117-A012", token)
    assert not KEY.check("20231117-A013", token)
    assert not KEY.check("20231118-A012", token)  # the same number another day
    assert not KEY.check("20231117-A012", token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not KEY.check("20231117-A012", "")
    assert not KEY.check("20231117-A012", "ä" * 20)  # never raises on whatever a browser sends
    other_site = TicketKey("a-site-secret-of-at-least-32-characters", "soe")
    other_key = TicketKey("another-site-secret-of-32-characters!", "kupang")
    assert other_site.token("20231117-A012") != token and other_key.token("20231117-A012") != token
    tokens = {KEY.token(f"20231117-A{i:03d}") for i in range(1000)}
    assert len(tokens) == 1000
    assert ticket_url("http://10.0.0.2:8480/", "20231117-A012", token) == f"http://10.0.0.2:8480/t/20231117-A012?k={token}"
    with pytest.raises(ValueError):
        TicketKey("short", "kupang")


def test_a_survey_tablet_link_is_its_own_and_expires() -> None:
    until = dt.date(2024, 6, 30)
    token = KEY.kiosk_token(until)
    assert token != KEY.token("2024-06-30")  # another domain: a tablet link is no ticket token
    assert KEY.check_kiosk(until, token, today=dt.date(2024, 6, 30))
    assert not KEY.check_kiosk(until, token, today=dt.date(2024, 7, 1))  # expired
    assert not KEY.check_kiosk(dt.date(2024, 7, 31), token, today=dt.date(2024, 6, 1))  # the date is signed
    assert kiosk_url("http://x", until, token) == f"http://x/t/kiosk?until=2024-06-30&k={token}"


def test_the_public_pages_limits_per_address() -> None:
    from antre.console.ticket import PublicGate

    gate = PublicGate(per_minute=5, bad_tokens=3, streams_total=4, streams_per_address=2)
    assert [gate.allow("10.0.0.7", 100.0 + i) for i in range(6)] == [True] * 5 + [False]
    assert gate.allow("10.0.0.7", 170.0)  # a minute later
    assert gate.allow("10.0.0.8", 100.0)  # another phone is not affected
    for i in range(3):
        gate.wrong_token("10.0.0.9", 100.0 + i)
    assert not gate.allow("10.0.0.9", 110.0) and gate.allow("10.0.0.9", 702.0)  # refused for 10 minutes
    assert gate.open_stream("a") and gate.open_stream("a") and not gate.open_stream("a")
    assert gate.open_stream("b") and gate.open_stream("c") and not gate.open_stream("d")  # 4 in all
    gate.close_stream("a")
    assert gate.open_stream("d") and gate.streams == {"a": 1, "b": 1, "c": 1, "d": 1}
