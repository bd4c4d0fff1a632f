"""The one rounding helper: known answers worked by hand, and properties against references."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao.errors import DataError, UsageError
from canbao.ingest.normalize import parse_money
from canbao.standards.money import (
    div_half_up,
    fen_of,
    parse_yuan,
    ratio,
    round_half_up,
    yuan_of,
    yuan_text,
)

D = Decimal


@pytest.mark.parametrize(
    ("numer", "denom", "expected"),
    [
        (5, 2, 3),  # 2.5 → 3: a half goes up
        (-5, 2, -3),  # −2.5 → −3: away from zero
        (7, 4, 2),  # 1.75 → 2
        (5, 4, 1),  # 1.25 → 1
        (4999, 10000, 0),  # 0.4999 → 0
        (5000, 10000, 1),  # 0.5 → 1
        (-4999, 10000, 0),
        (3, -2, -2),  # −1.5 → −2 (a negative denominator)
        (0, 7, 0),
        (10**30 + 5, 10, 10**29 + 1),  # exact for any size
    ],
)
def test_div_half_up_known(numer: int, denom: int, expected: int) -> None:
    assert div_half_up(numer, denom) == expected


def test_div_half_up_refuses_zero() -> None:
    with pytest.raises(UsageError, match="除数不能为零"):
        div_half_up(1, 0)


@given(st.integers(-(10**20), 10**20), st.integers(1, 10**9))
def test_div_half_up_is_nearest_with_halves_away_from_zero(n: int, d: int) -> None:
    # reference: floor(|n|/d + 1/2) with the sign of n
    ref = math.floor(Fraction(abs(n), d) + Fraction(1, 2))
    assert div_half_up(n, d) == (ref if n >= 0 else -ref)
    assert abs(Fraction(n, d) - div_half_up(n, d)) <= Fraction(1, 2)


@pytest.mark.parametrize(
    ("value", "quantum", "expected"),
    [
        ("0.74795", "0.0001", "0.7480"),  # the exponent of the quantum is kept
        ("0.74785", "0.0001", "0.7479"),  # half-up, not half-even (which gives 0.7478)
        ("-2.5", "1", "-3"),
        ("2.4999", "1", "2"),
        ("7.5", "5", "10"),  # 7.5 / 5 = 1.5 → 2 steps of 5
        ("7", "5", "5"),  # 1.4 steps → 1
        ("123.455", "0.01", "123.46"),
        ("-0.04", "0.1", "0.0"),  # no negative zero
    ],
)
def test_round_half_up_known(value: str, quantum: str, expected: str) -> None:
    got = round_half_up(D(value), D(quantum))
    assert str(got) == expected


def test_round_half_up_refuses_bad_input() -> None:
    with pytest.raises(DataError):
        round_half_up(D("NaN"), D("0.01"))
    with pytest.raises(UsageError):
        round_half_up(D("1"), D("0"))


@given(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12),
    st.integers(0, 8),
)
def test_round_half_up_matches_decimal_quantize(value: Decimal, places: int) -> None:
    quantum = D(1).scaleb(-places)
    want = value.quantize(quantum, rounding=ROUND_HALF_UP)
    got = round_half_up(value, quantum)
    assert got == want
    assert got.as_tuple().exponent == -places


def test_ratio_known() -> None:
    assert ratio(1, 3, D("0.0001")) == D("0.3333")
    assert ratio(2, 3, D("0.0001")) == D("0.6667")
    assert ratio(-1, 8, D("0.01")) == D("-0.13")  # −0.125 → −0.13 (away from zero)
    assert str(ratio(0, 3, D("0.000001"))) == "0.000000"
    assert ratio(5, 0, D("0.01")) is None  # no ratio, never a division by zero


def test_fen_of_known() -> None:
    assert fen_of(D("12.345")) == 1235  # 1234.5 fen → 1235
    assert fen_of(D("12.344")) == 1234
    assert fen_of(D("-0.005")) == -1
    assert fen_of(3) == 300
    assert fen_of("¥1,234.5") == 123450
    with pytest.raises(DataError):
        fen_of(D("Infinity"))
    with pytest.raises(UsageError):
        fen_of(1.5)  # type: ignore[arg-type]  # a float is refused, not guessed at


def test_yuan_text_known() -> None:
    assert yuan_text(123450) == "1234.50"
    assert yuan_text(-300) == "-3.00"
    assert yuan_text(5) == "0.05"
    assert yuan_text(-5) == "-0.05"
    assert yuan_text(0) == "0.00"
    assert yuan_text(123456789, thousands=True) == "1,234,567.89"
    assert yuan_of(123450) == D("1234.50") and str(yuan_of(-5)) == "-0.05"


@given(st.integers(-(10**15), 10**15))
def test_yuan_text_round_trips(fen: int) -> None:
    assert parse_yuan(yuan_text(fen)) == fen
    assert parse_yuan(yuan_text(fen, thousands=True)) == fen
    assert yuan_of(fen) * 100 == fen


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1,234.5", 123450),
        ("¥12", 1200),
        ("￥12元", 1200),
        (" 12.345 ", 1235),  # half-up beyond two decimals
        ("12.344999", 1234),
        ("-0.125", -13),
        ("+5", 500),
        ("12.", 1200),
        ("１２３．４５", 12345),  # full-width digits and point
        ("1 234", 123400),  # spaces inside are ignored, as parse_money does
    ],
)
def test_parse_yuan_known(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    "text", ["", "   ", "abc", "1.2.3", "NaN", "nan", "inf", "1e5", ".5", "12-", "9" * 16, "元"]
)
def test_parse_yuan_refuses_with_chinese_message(text: str) -> None:
    with pytest.raises(DataError, match="金额"):
        parse_yuan(text)


_CHARS = "0123456789０１２３４５６７８９.．,，¥￥元+-－ \u3000\taeN"
_amounts = st.one_of(
    st.text(alphabet=_CHARS, max_size=14),
    st.from_regex(r"[+-]?[0-9]{1,17}(\.[0-9]{0,6})?", fullmatch=True),
    st.builds(
        lambda sign, whole, frac, deco: f"{deco[0]}{sign}{whole:,}{frac}{deco[1]}",
        st.sampled_from(["", "-", "+"]),
        st.integers(0, 10**14),
        st.sampled_from(["", ".", ".5", ".05", ".005", ".0049", ".125", ".995"]),
        st.sampled_from([("", ""), ("¥", ""), ("", "元"), (" ", " "), ("￥", " 元")]),
    ),
    st.sampled_from(["NaN", "Infinity", "-0", "0.005", "-0.005", "1e3", "0x10", "١٢"]),
)


@given(st.lists(_amounts, min_size=1, max_size=40))
def test_parse_yuan_agrees_with_parse_money(texts: list[str]) -> None:
    frame = pl.DataFrame({"x": texts}, schema={"x": pl.Utf8})
    vectorised = frame.select(fen=parse_money(pl.col("x")))["fen"].to_list()
    for text, want in zip(texts, vectorised, strict=True):
        if want is None:
            with pytest.raises(DataError):
                parse_yuan(text)
        else:
            assert parse_yuan(text) == want, text


@given(st.lists(st.from_regex(r"[+-]?[0-9]{1,11}(\.[0-9]{0,9})?", fullmatch=True), min_size=1))
def test_parse_money_in_other_units_is_the_exact_amount_rounded_once(texts: list[str]) -> None:
    frame = pl.DataFrame({"x": texts}, schema={"x": pl.Utf8})
    for per_unit in (1, 100, 100_000, 1_000_000):
        got = frame.select(fen=parse_money(pl.col("x"), per_unit))["fen"].to_list()
        for text, fen in zip(texts, got, strict=True):
            exact = D(text) * per_unit  # fen, exactly
            want = int(exact.to_integral_value(rounding="ROUND_HALF_UP"))
            assert fen == want, (text, per_unit)
