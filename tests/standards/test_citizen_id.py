from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canbao.standards import citizen_id as cid
from tests.strategies import valid_id15, valid_id18

TODAY = dt.date(2026, 11, 27)


# --- known answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["11010519491231002X", "360426199101010071", "36042119800101001" + "9"],
)
def test_published_vectors_are_valid(value: str) -> None:
    r = cid.check(value, today=TODAY)
    assert r.valid and r.errors == [] and r.id18 == value and r.format == "18"


def test_born_before_1890_is_rejected_even_with_a_good_check() -> None:
    # python-stdnum's doctest vector; our rule: no birth date before 1890
    assert cid.check("440524188001010014", today=TODAY).errors == ["birth_date"]


def test_gb11643_example_fields() -> None:
    r = cid.check("11010519491231002X", today=TODAY)
    assert (r.region_code, r.birth_date, r.sex) == ("110105", "1949-12-31", "F")
    assert r.region_name is not None and r.region_name.endswith("朝阳区")


def test_check_char_known_answer() -> None:
    assert cid.compute_check_char("11010519491231002") == "X"
    assert cid.compute_check_char("36042619910101007") == "1"


def test_15_to_18_known_answer() -> None:
    assert cid.upgrade_15("110105491231002") == "11010519491231002X"
    r = cid.check("110105491231002", today=TODAY)
    assert r.valid and r.format == "15" and r.id18 == "11010519491231002X"
    assert r.birth_date == "1949-12-31" and r.sex == "F"


def test_retired_jiujiang_codes_are_valid() -> None:
    for region, name in (("360421", "九江县"), ("360427", "星子县"), ("362621", "九江县")):
        body = f"{region}19800101001"
        r = cid.check(body + cid.compute_check_char(body), today=TODAY)
        assert r.valid, r
        assert r.region_name is not None and r.region_name.endswith(name)


def _with_check(body: str) -> str:
    return body + cid.compute_check_char(body)


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("", ["empty"]),
        ("   ", ["empty"]),
        (None, ["empty"]),
        ("36042619910101007", ["length"]),
        ("3604261991010100711", ["length"]),
        ("36042619910101007A", ["charset"]),
        ("3604261991X101007X", ["charset"]),
        ("36042619910101X", ["charset"]),
        ("3.60402199001011E+17", ["excel_number"]),
        ("3.60402199001011e17", ["excel_number"]),
        ("360402199001011234.0", ["excel_number"]),
        ("360402199001011000", ["excel_number"]),  # Excel kept 15 significant digits
        ("360426199101010072", ["checksum"]),
        (_with_check("99999919910101007"), ["region"]),
        (_with_check("36042619910230007"), ["birth_date"]),  # 30 February
        (_with_check("36042618891231007"), ["birth_date"]),  # before 1890
        (_with_check("36042620991231007"), ["birth_date"]),  # in the future
        ("999999910101007", ["region"]),
        ("360426911301007", ["birth_date"]),
    ],
)
def test_error_codes(value: str | None, errors: list[str]) -> None:
    r = cid.check(value, today=TODAY)
    assert r.errors == errors
    assert not r.valid and r.id18 is None
    assert set(r.errors) <= set(cid.ERROR_CODES)


def test_excel_float_value_is_damaged_not_fixed() -> None:
    r = cid.check(3.60402199001011e17, today=TODAY)
    assert r.errors == ["excel_number"] and r.candidates == [] and r.id18 is None


@pytest.mark.parametrize(
    "value",
    [
        " 360426199101010071 ",
        "360426 1991 0101 0071",
        "３６０４２６１９９１０１０１００７１",
        "360426\u30001991010100\u200b71",
    ],
)
def test_normalisation(value: str) -> None:
    r = cid.check(value, today=TODAY)
    assert r.valid and r.id18 == "360426199101010071"


def test_lowercase_x_is_stored_uppercase() -> None:
    assert cid.check("11010519491231002x", today=TODAY).id18 == "11010519491231002X"
    assert cid.check("11010519491231002ｘ", today=TODAY).id18 == "11010519491231002X"


def test_mask() -> None:
    assert cid.mask("360402199001011234") == "360402********1234"
    assert cid.mask("110105491231002") == "110105*****1002"
    assert cid.mask("") == ""
    masked = cid.check_frame(["360402199001011234", "", "12", "1234567"]).select(
        m=cid.mask_expr(pl.col("id_norm"))
    )
    assert masked["m"].to_list() == ["360402********1234", "", "12", "12*****"]


def test_candidates_only_for_checksum_errors() -> None:
    assert cid.check("360426199101010072", today=TODAY).candidates
    assert "360426199101010071" in cid.repair_candidates("360426199101010072", today=TODAY)
    # a bad region is not a checksum-only error: no candidates
    assert cid.check(_with_check("99999919910101007"), today=TODAY).candidates == []
    assert cid.check("360426199101010071", today=TODAY).candidates == []


def test_vectorised_path_matches_scalar_and_keeps_order() -> None:
    values = ["360426199101010071", None, "abc", "110105491231002", "360426199101010072"]
    frame = cid.check_frame(pl.Series(values, dtype=pl.Utf8), today=TODAY)
    assert frame.height == len(values)
    for row, value in zip(frame.iter_rows(named=True), values, strict=True):
        scalar = cid.check(value, today=TODAY)
        assert row["id_valid"] == scalar.valid
        assert list(row["id_errors"]) == scalar.errors
        assert row["id18"] == scalar.id18


# --- properties ------------------------------------------------------------------------------


@given(valid_id18())
def test_generated_ids_validate(value: str) -> None:
    assert cid.check(value, today=TODAY).valid


@settings(max_examples=60, deadline=None)
@given(valid_id18(), st.data())
def test_every_single_substitution_is_detected(value: str, data: st.DataObject) -> None:
    pos = data.draw(st.integers(0, 17))
    alphabet = "0123456789X" if pos == 17 else "0123456789"
    ch = data.draw(st.sampled_from([c for c in alphabet if c != value[pos]]))
    damaged = value[:pos] + ch + value[pos + 1 :]
    r = cid.check(damaged, today=TODAY)
    assert not r.valid
    # ending in 000 with a bad check is read as Excel's lost-digit damage
    assert "checksum" in r.errors or ("excel_number" in r.errors and damaged.endswith("000"))


def test_all_substitutions_and_transpositions_of_one_id_are_detected() -> None:
    value = "360421198001010019"
    damaged = []
    for pos in range(18):
        for ch in "0123456789X" if pos == 17 else "0123456789":
            if ch != value[pos]:
                damaged.append(value[:pos] + ch + value[pos + 1 :])
    for pos in range(17):
        if value[pos] != value[pos + 1]:
            damaged.append(value[:pos] + value[pos + 1] + value[pos] + value[pos + 2 :])
    frame = cid.check_frame(damaged, today=TODAY)
    assert not frame["id_valid"].any()


@settings(max_examples=60, deadline=None)
@given(valid_id18(), st.data())
def test_every_adjacent_transposition_is_detected(value: str, data: st.DataObject) -> None:
    positions = [i for i in range(17) if value[i] != value[i + 1]]
    if value[16] == "X" or (value[17] == "X"):
        positions = [i for i in positions if i < 16]
    pos = data.draw(st.sampled_from(positions))
    damaged = value[:pos] + value[pos + 1] + value[pos] + value[pos + 2 :]
    assert not cid.check(damaged, today=TODAY).valid


@settings(max_examples=40, deadline=None)
@given(valid_id18(), st.data())
def test_candidates_of_a_damaged_id_contain_the_original(value: str, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["substitution", "transposition"]))
    if kind == "substitution":
        pos = data.draw(st.integers(0, 17))
        alphabet = "0123456789X" if pos == 17 else "0123456789"
        ch = data.draw(st.sampled_from([c for c in alphabet if c != value[pos]]))
        damaged = value[:pos] + ch + value[pos + 1 :]
    else:
        positions = [i for i in range(17) if value[i] != value[i + 1]]
        pos = data.draw(st.sampled_from(positions))
        damaged = value[:pos] + value[pos + 1] + value[pos] + value[pos + 2 :]
    r = cid.check(damaged, today=TODAY)
    if r.errors != ["checksum"]:
        # the damage also broke the region or the date (then it is not checksum-only), or made it
        # look like Excel's 15-significant-digit damage (ends in 000): no candidates by design
        assert r.candidates == []
        return
    assert value in r.candidates
    assert all(cid.check(c, today=TODAY).valid for c in r.candidates)


@given(valid_id15())
def test_upgrade_of_15_digit_validates(value: str) -> None:
    r = cid.check(value, today=TODAY)
    assert r.valid and r.id18 == cid.upgrade_15(value)
    assert cid.check(r.id18, today=TODAY).valid


@given(st.text(max_size=40))
def test_any_text_gets_an_answer(value: str) -> None:
    r = cid.check(value, today=TODAY)
    assert r.valid == (r.errors == [])
    assert set(r.errors) <= set(cid.ERROR_CODES)


@given(valid_id18())
@settings(max_examples=40, deadline=None)
def test_repair_sources_are_exactly_the_ids_that_get_this_candidate(value: str) -> None:
    """repair_sources_frame inverts repair_candidates_frame: a delivered ID whose only error is
    the check character has ``value`` among its candidates iff it is one of value's sources."""
    sources = cid.repair_sources_frame([value])
    assert (sources["id18"] == value).all()
    assert sources["id_norm"].n_unique() == sources.height
    errors = cid.check_frame(sources["id_norm"], today=TODAY)["id_errors"].list.join(",")
    candidates = cid.repair_candidates_frame(sources["id_norm"], today=TODAY)["candidates"]
    gets_value = [value in c for c in candidates.to_list()]
    assert gets_value == (errors == "checksum").to_list()
    # and an ID one edit away with a good check character is never a source
    assert not cid.check_frame(sources["id_norm"], today=TODAY)["id_valid"].any()
