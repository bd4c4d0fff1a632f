from __future__ import annotations

import datetime as dt

import numpy as np
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


def test_candidates_for_every_check_character_failure() -> None:
    assert cid.check("360426199101010072", today=TODAY).candidates
    assert "360426199101010071" in cid.repair_candidates("360426199101010072", today=TODAY)
    # a bad region under a right check character is not a repair case: no candidates
    assert cid.check(_with_check("99999919910101007"), today=TODAY).candidates == []
    assert cid.check("360426199101010071", today=TODAY).candidates == []
    assert cid.check("36042619910101007", today=TODAY).candidates == []  # 17 characters


def test_date_typo_known_answer() -> None:
    """Issue 15: a typo in the birth-date digits breaks the date and the check character; the
    obvious repair is the only candidate (GB-example-style numbers, not personal data)."""
    r = cid.check("360424918507161235", today=TODAY)
    assert r.errors == ["birth_date", "checksum"]
    assert r.candidates == ["360424198507161235"]
    assert cid.check("360424198507161235", today=TODAY).valid
    # month 21 (a typo in the month), a swap that makes month 00, an X typed into the body
    assert "360426199101010071" in cid.repair_candidates("360426199121010071", today=TODAY)
    assert "360426199101010071" in cid.repair_candidates("360426199100110071", today=TODAY)
    assert "11010519491231002X" in cid.repair_candidates("1101051949123100X2", today=TODAY)
    # a typo in the region code: the region and the check fail together
    assert "360426199101010071" in cid.repair_candidates("960426199101010071", today=TODAY)


def test_fails_check_char() -> None:
    values = pl.Series(
        ["360426199101010072", "360426199101010071", "360424918507161235", "1101051949123100X2",
         "360402199001011000", "3.60402199001011E+17", "36042619910101007", None, ""]
    )  # fmt: skip
    assert cid.fails_check_char(values).to_list() == [
        True, False, True, True, True, False, False, False, False
    ]  # fmt: skip


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


def _one_edit_damage(value: str, data: st.DataObject, positions: int = 18) -> str:
    """One substitution (a digit; X too at the check position) or one adjacent transposition of
    two different characters, within the first ``positions`` characters."""
    swaps = [i for i in range(positions - 1) if value[i] != value[i + 1]]
    if data.draw(st.booleans()) or not swaps:
        pos = data.draw(st.integers(0, positions - 1))
        alphabet = "0123456789X" if pos == 17 else "0123456789"
        ch = data.draw(st.sampled_from([c for c in alphabet if c != value[pos]]))
        return value[:pos] + ch + value[pos + 1 :]
    pos = data.draw(st.sampled_from(swaps))
    return value[:pos] + value[pos + 1] + value[pos] + value[pos + 2 :]


@settings(max_examples=150, deadline=None)
@given(valid_id18(), st.data())
def test_candidates_of_a_damaged_id_contain_the_original(value: str, data: st.DataObject) -> None:
    """Every substitution and adjacent transposition in positions 1-17, including those that
    break the birth date or the region too: the original is among the candidates, and every
    candidate is a valid ID."""
    damaged = _one_edit_damage(value, data, positions=17)
    assert cid.fails_check_char(pl.Series([damaged])).item()  # GB 11643 detects every one
    r = cid.check(damaged, today=TODAY)
    assert value in r.candidates, (cid.mask(damaged), r.errors)
    assert all(cid.check(c, today=TODAY).valid for c in r.candidates)


@settings(max_examples=100, deadline=None)
@given(valid_id18(), st.data())
def test_candidates_of_a_damaged_check_position_contain_the_original(
    value: str, data: st.DataObject
) -> None:
    """Position 18 too: a wrong check character, or the check character swapped into the body."""
    damaged = _one_edit_damage(value, data, positions=18)
    assert value in cid.repair_candidates(damaged, today=TODAY)


def test_candidates_of_every_edit_of_one_id_in_one_vectorised_call() -> None:
    """The whole neighbourhood of one ID, in one call (the registry's path): every damaged
    value gets the original, whatever else broke (34 of them break the date, 9 the region)."""
    value = "360424198507161235"
    damaged = []
    for pos in range(18):
        for ch in "0123456789X" if pos == 17 else "0123456789":
            if ch != value[pos]:
                damaged.append(value[:pos] + ch + value[pos + 1 :])
    for pos in range(17):
        if value[pos] != value[pos + 1]:
            damaged.append(value[:pos] + value[pos + 1] + value[pos] + value[pos + 2 :])
    frame = cid.repair_candidates_frame(damaged, today=TODAY)
    assert frame["id_norm"].to_list() == damaged
    assert all(value in c for c in frame["candidates"].to_list())
    errors = cid.check_frame(damaged, today=TODAY)["id_errors"]
    assert errors.list.contains("birth_date").sum() > 20
    assert errors.list.contains("region").sum() > 5


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
    """repair_sources_frame inverts repair_candidates_frame: every one-edit variant of ``value``
    that fails its check character has ``value`` among its candidates, and is a source."""
    sources = cid.repair_sources_frame([value])
    assert (sources["id18"] == value).all()
    assert sources["id_norm"].n_unique() == sources.height
    assert cid.fails_check_char(sources["id_norm"]).all()
    candidates = cid.repair_candidates_frame(sources["id_norm"], today=TODAY)["candidates"]
    assert all(value in c for c in candidates.to_list())
    # every substitution and adjacent transposition of a valid ID fails its check (GB 11643)
    swaps = sum(value[i] != value[i + 1] for i in range(17))
    assert sources.height == 17 * 10 + 10 + swaps


# --- numeric cells ---------------------------------------------------------------------------


def _prefixes(values: list[str]) -> list[tuple[str | None, str | None]]:
    out = pl.DataFrame({"v": values}, schema={"v": pl.Utf8}).select(
        cid.excel_prefixes(pl.col("v")).alias("x")
    )
    return [(r["id_prefix15"], r["id_prefix15_alt"]) for r in out["x"].to_list()]


def test_excel_prefixes_known_answers() -> None:
    p, alt = "360425197608152", "360425197608151"
    spellings = [
        "360425197608152000",  # typed into Excel, shown with trailing zeros
        "3.60425197608152E+17",  # Excel's scientific display
        "360425197608152320",  # a program's double, read back as its exact integer
        "3.604251976081523e+17",  # the double's repr
        "3.6042519760815232e17",  # Polars' spelling of it
        "360425197608152320.0",
    ]
    assert _prefixes(spellings) == [(p, alt)] * len(spellings)
    # the 16th digit rounds the 15th half up: …5xx → one more
    assert _prefixes(["360425197608152548", "3.60425197608153E+17"]) == [("360425197608153", p)] * 2
    # not a number of 18 integer digits: no prefix
    assert (
        _prefixes(["3.6E+16", "36042519760815", "abc", "", "360425197608152X"])
        == [(None, None)] * 5
    )


def _excel_display(v: float) -> str:
    return f"{v:.14E}"  # 15 significant digits


@settings(max_examples=300, deadline=None)
@given(valid_id18().filter(lambda v: not v.endswith("X")), st.data())
def test_excel_prefixes_keep_the_true_15_digits(value: str, data: st.DataObject) -> None:
    """Whatever spelling a numeric cell arrives in, the true first 15 digits are P or P - 1."""
    as_double = float(int(value))
    spelling = data.draw(
        st.sampled_from(
            [
                str(int(as_double)),  # a program's double, read back exactly (xlsx, xls)
                repr(as_double),
                f"{int(as_double)}.0",
                _excel_display(float(int(value))),  # Excel keeps 15 digits, rounded
                _excel_display(float(int(value))).replace("E+17", "E17"),
                value[:15] + "000",  # Excel's digits replaced by zeros
                str(int(float(value[:15] + "000"))),  # …and read back as a double
                str(int(float(_excel_display(as_double)))),  # Excel's display, as a double
            ]
        )
    )
    ((p, alt),) = _prefixes([spelling])
    assert p is not None and alt is not None
    assert value[:15] in (p, alt), (cid.mask(value), spelling[:3])
    assert int(p) - int(alt) == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="0123456789X", min_size=18, max_size=18), min_size=1, max_size=8))
def test_right_check_variants_are_the_one_edit_variants_with_a_right_check(
    values: list[str],
) -> None:
    """The arithmetic shortcut of repair_candidates_frame builds exactly the one-edit variants
    (the rule of _one_edit) whose check character is right, X anywhere included."""
    base = cid._matrix(values)
    own, var = cid._right_check_variants(base)
    fast = {(int(o), bytes(v)) for o, v in zip(own, var, strict=True)}
    rows = np.arange(len(values))
    slow = set()
    for v, changed in cid._one_edit(base):
        keep = changed & cid._checksum_ok(v)
        slow |= {(int(o), bytes(x)) for o, x in zip(rows[keep], v[keep], strict=True)}
    assert fast == slow
