"""Damage kinds: each does what real extracts show, at the configured rate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from canbao.standards import citizen_id, names
from canbao.synth.config import ID_DAMAGE, NAME_DAMAGE, NO_DAMAGE, DamageRates, SynthConfig
from canbao.synth.damage import (
    DAMAGE_KINDS,
    bit,
    bits_to_text,
    damage_dates,
    damage_ids,
    damage_names,
    homophone_table,
    render_dates,
)
from canbao.synth.population import build_population

TODAY = dt.date(2017, 12, 31)


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    return build_population(SynthConfig(persons=60_000, seed=3))


def _only(kind: str, rate: float) -> DamageRates:
    return NO_DAMAGE.__class__(**{**NO_DAMAGE.to_dict(), kind: rate})


def _within(k: int, n: int, p: float) -> bool:
    sigma = (n * p * (1 - p)) ** 0.5
    return abs(k - n * p) <= 4.5 * sigma + 1


XLSX_ONLY = ("id_float_cell",)


@pytest.mark.parametrize("kind", ID_DAMAGE)
def test_id_damage_rate_and_effect(people: pl.DataFrame, kind: str) -> None:
    rng = np.random.default_rng(1)
    ids = people["id18"]
    rel = people["id18"].shift(1)
    rate = 0.3 if kind == "id_lowercase_x" else 0.05
    xlsx = kind in XLSX_ONLY
    out, bits, numeric = damage_ids(rng, ids, rel, _only(kind, rate), xlsx=xlsx)
    hit = (bits & bit(kind)) != 0
    assert not (bits & ~np.uint32(bit(kind))).any()
    assert (numeric == (hit if kind in ("id_float_cell",) else False)).all()
    eligible = {
        "id_15_digit": ids.str.slice(6, 2) == "19",
        "id_lowercase_x": ids.str.ends_with("X"),
        "id_excel_number": ~ids.str.ends_with("X"),
        "id_relative": rel.is_not_null(),
        "id_float_cell": ~ids.str.ends_with("X"),
    }.get(kind, pl.Series([True] * ids.len())).to_numpy()
    assert not (hit & ~eligible).any()
    n_el = int(eligible.sum())
    if kind == "id_transposition":  # equal neighbours everywhere is impossible in practice
        assert _within(int(hit.sum()), n_el, rate) or int(hit.sum()) > 0.97 * n_el * rate
    elif kind == "id_float_cell":  # a double that is exact, or ends in 000, is no such case
        assert 0.95 * n_el * rate < int(hit.sum()) <= n_el * rate + 4.5 * (n_el * rate) ** 0.5
    else:
        assert _within(int(hit.sum()), n_el, rate), (int(hit.sum()), n_el)
    changed = (out != ids).fill_null(True).to_numpy()
    assert (changed == hit).all()  # damage always changes the value, clean rows are untouched
    got = out.filter(pl.Series(hit))
    true = ids.filter(pl.Series(hit))
    check = citizen_id.check_frame(got, today=TODAY)
    if kind == "id_15_digit":
        assert (check["id_format"] == "15").all() and (check["id18"] == true).all()
    elif kind in ("id_typo", "id_transposition"):
        # the check character catches every single-digit typo and adjacent transposition
        assert not check["id_valid"].any()
    elif kind == "id_date_typo":
        # one edit inside the birth-date digits: the date and the check character both fail
        # (an ID ending in 000 is read as Excel damage first, 1 in 1,000)
        errors = check["id_errors"].list.join(",")
        assert ((errors == "birth_date,checksum") | got.str.ends_with("000")).all()
        assert citizen_id.fails_check_char(got).all()
        assert (
            (got.str.slice(0, 6) + got.str.slice(14, 4))
            == (true.str.slice(0, 6) + true.str.slice(14, 4))
        ).all()
        dist = [
            sum(a != b for a, b in zip(g, t, strict=True)) for g, t in zip(got, true, strict=True)
        ]
        assert set(dist) <= {1, 2}
        # and the repair rule finds the true ID among the candidates of every one
        sample = got.head(300)
        cands = citizen_id.repair_candidates_frame(sample, today=TODAY)["candidates"].to_list()
        assert all(t in c for t, c in zip(true.head(300).to_list(), cands, strict=True))
    elif kind == "id_float_cell":
        # the double's exact integer: 18 digits, not …000, the first 15 digits survive
        assert got.str.contains(r"^[0-9]{18}$").all() and not got.str.ends_with("000").any()
        assert (got.cast(pl.Float64) == true.cast(pl.Float64)).all()
        p = pl.DataFrame({"v": got}).select(citizen_id.excel_prefixes(pl.col("v")).alias("x"))
        p = p.unnest("x")
        assert (
            (p["id_prefix15"] == true.str.slice(0, 15))
            | (p["id_prefix15_alt"] == true.str.slice(0, 15))
        ).all()
    elif kind in ("id_lowercase_x", "id_spaces_fullwidth"):
        assert (check["id18"] == true).all() and check["id_valid"].all()
    elif kind == "id_excel_number":
        sci = got.str.contains("E+17", literal=True)
        assert (sci | got.str.ends_with("000")).all()
        assert check.filter(sci.to_numpy())["id_errors"].list.contains("excel_number").all()
        # "…000" looks valid when the lost check character happened to be 0 (1 in 11)
        lost = check.filter(~sci.to_numpy())
        assert float(lost["id_valid"].mean()) < 0.2
    elif kind == "id_missing":
        assert got.is_null().all()
    elif kind == "id_relative":
        assert check["id_valid"].all() and (got != true).all()


def test_excel_numbers_in_xlsx_are_numeric_cells(people: pl.DataFrame) -> None:
    """Typed into Excel: the cell keeps 15 significant digits (rounded). Written by a program:
    the cell is the double nearest the ID."""
    rng = np.random.default_rng(2)
    out, bits, numeric = damage_ids(
        rng, people["id18"], None, _only("id_excel_number", 0.1), xlsx=True
    )
    assert numeric.sum() == ((bits & bit("id_excel_number")) != 0).sum() > 0
    vals = out.filter(pl.Series(numeric))
    true = people["id18"].filter(pl.Series(numeric))
    assert vals.str.contains(r"^[1-9]\.[0-9]{14}E\+17$").all()
    # 15 digits of the ID read as a double (within 32): the first 15 digits or one more
    as_int = [int(Decimal(v)) for v in vals.to_list()]
    assert all(v % 1000 == 0 for v in as_int)
    assert all(
        v // 1000 - int(t[:15]) in (0, 1) for v, t in zip(as_int, true.to_list(), strict=True)
    )
    out, bits, numeric = damage_ids(
        rng, people["id18"], None, _only("id_float_cell", 0.1), xlsx=True
    )
    assert numeric.sum() == ((bits & bit("id_float_cell")) != 0).sum() > 0
    vals = out.filter(pl.Series(numeric)).cast(pl.Float64)
    true = people["id18"].filter(pl.Series(numeric)).cast(pl.Float64)
    assert (vals == true).all()
    # CSV extracts have no cell types: no float cells there
    _, bits, numeric = damage_ids(
        rng, people["id18"], None, _only("id_float_cell", 0.1), xlsx=False
    )
    assert not bits.any() and not numeric.any()


@pytest.mark.parametrize("kind", NAME_DAMAGE)
def test_name_damage_rate_and_effect(people: pl.DataFrame, kind: str) -> None:
    rng = np.random.default_rng(4)
    src = people["name"]
    out, bits = damage_names(rng, src, _only(kind, 0.1))
    hit = (bits & bit(kind)) != 0
    assert ((out != src).to_numpy() == hit).all()
    got, true = out.filter(pl.Series(hit)), src.filter(pl.Series(hit))
    if kind == "name_padding":
        assert _within(int(hit.sum()), src.len(), 0.1)
        assert (names.person_name_series(got) == true).all()
    elif kind == "name_traditional":
        eligible = int(hit.sum())
        assert eligible > 0.03 * src.len()  # most names have a convertible character
        assert (names.person_name_series(got) == true).all()
    else:
        assert (names.pinyin_key_series(got) == names.pinyin_key_series(true)).all()
        assert (got.str.len_chars() == true.str.len_chars()).all()


def test_homophone_table_is_symmetric_and_toneless() -> None:
    table = homophone_table()
    assert "铭" in table["明"] and "明" in table["铭"]
    for ch, alts in list(table.items())[:200]:
        for a in alts:
            assert ch in table[a]


def test_no_damage_means_clean_values(people: pl.DataFrame) -> None:
    rng = np.random.default_rng(5)
    out, bits, _ = damage_ids(rng, people["id18"], None, NO_DAMAGE, xlsx=False)
    assert (out == people["id18"]).all() and not bits.any()
    out2, bits2 = damage_names(rng, people["name"], NO_DAMAGE)
    assert (out2 == people["name"]).all() and not bits2.any()


def test_date_styles_known_answers() -> None:
    d = pl.Series("d", [dt.date(2017, 6, 28), None])
    assert render_dates(d, "compact").to_list() == ["20170628", None]
    assert render_dates(d, "iso").to_list() == ["2017-06-28", None]
    assert render_dates(d, "slash").to_list() == ["2017/6/28", None]
    assert render_dates(d, "cn").to_list() == ["2017年6月28日", None]
    assert render_dates(d, "serial").to_list() == ["42914", None]  # Excel's serial for 2017-06-28
    assert render_dates(d, "ym").to_list() == ["2017-06", None]


def test_date_format_damage_rate() -> None:
    rng = np.random.default_rng(6)
    d = pl.Series("d", [dt.date(2017, 1, 1) + dt.timedelta(days=i % 365) for i in range(50_000)])
    text, bits, serial = damage_dates(rng, d, "iso", 0.04)
    hit = (bits & bit("date_format")) != 0
    assert _within(int(hit.sum()), 50_000, 0.04)
    assert (text.filter(pl.Series(~hit)).str.contains(r"^\d{4}-\d{2}-\d{2}$")).all()
    assert not text.filter(pl.Series(hit)).str.contains(r"^\d{4}-\d{2}-\d{2}$").any()


def test_bits_to_text_round_trip() -> None:
    b = np.array([0, bit("id_typo") | bit("name_padding"), bit("duplicate_row")], dtype=np.uint32)
    assert bits_to_text(b).tolist() == ["", "id_typo;name_padding", "duplicate_row"]
    assert len(DAMAGE_KINDS) <= 32


def test_rates_from_dict_validates() -> None:
    from canbao.errors import UsageError

    assert DamageRates.from_dict({"id_typo": 0.5}).id_typo == 0.5
    with pytest.raises(UsageError):
        DamageRates.from_dict({"id_tyop": 0.5})
    with pytest.raises(UsageError):
        DamageRates.from_dict({"id_typo": 2})
