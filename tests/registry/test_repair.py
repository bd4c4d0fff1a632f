"""Repair links (issue 15): typos that break the birth date or the region as well as the check
character, and IDs that went through a number (Excel's display, a program's double).

The IDs are GB-example-style numbers built for the test, not personal data."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from canbao.registry import api, snapshot
from tests.registry.fixtures import Source, make_id

WU = make_id("360424", "19850716", 123)  # 吴磊 (M)
ZHANG = make_id("360425", "19760815", 234)  # 张丽 (F): 360425197608152348
LIU_M = make_id("360402", "19900101", 131)  # 刘洋 (M)
LIU_F = make_id("360402", "19900101", 134)  # 刘洋 (F): the same first 15 digits as LIU_M
CHEN = make_id("360426", "19910101", 7)  # 陈军 (M)

FLOAT_ZHANG = str(int(float(int(ZHANG))))  # a program's double read back: …152320
FLOAT_LIU = str(int(float(int(LIU_M))))


def _swap(value: str, i: int) -> str:
    return value[:i] + value[i + 1] + value[i] + value[i + 2 :]


def _sub(value: str, i: int, ch: str) -> str:
    return value[:i] + ch + value[i + 1 :]


DELIVERED = [
    # (id, numeric cell, name, sex, birth date, expected person, expected method)
    (_sub(WU, 6, "9"), False, "吴磊", None, None, WU, "check_character"),  # year 9985
    (_swap(WU, 10), False, "吴磊", "M", None, WU, "check_character"),  # month 70
    (_sub(CHEN, 0, "9"), False, "陈军", "M", "1991-01-01", CHEN, "check_character"),  # region 96
    (FLOAT_ZHANG, True, "张丽", "F", None, ZHANG, "excel_prefix"),
    ("3.60425197608152E+17", False, "张丽", None, None, ZHANG, "excel_prefix"),  # Excel CSV
    (FLOAT_LIU, True, "刘洋", "M", None, LIU_M, "excel_prefix"),  # the sex tells namesakes apart
    # not repaired: namesakes sharing the 15 digits, nothing to tell them apart
    (FLOAT_LIU, True, "刘洋", None, None, None, None),
    # not repaired: the stated birth date contradicts the only candidate
    (_sub(WU, 6, "9"), False, "吴磊", None, "1990-02-02", None, None),
]


def _source() -> Source:
    src = Source()
    people = [
        (WU, "吴磊", "M", "1985-07-16"),
        (ZHANG, "张丽", "F", "1976-08-15"),
        (LIU_M, "刘洋", "M", "1990-01-01"),
        (LIU_F, "刘洋", "F", "1990-01-01"),
        (CHEN, "陈军", "M", "1991-01-01"),
    ]
    src.add(
        "population",
        [
            {
                "id": i,
                "name": n,
                "sex": s,
                "birth_date": b,
                "household_id": f"H{k}",
                "county_code": i[:6],
            }
            for k, (i, n, s, b) in enumerate(people)
        ],  # fmt: skip
        "police_hukou",
        "p1",
    )
    src.add(
        "enrollment",
        [
            {
                "id": i,
                "id_numeric": num,
                "name": n,
                "sex": s,
                "birth_date": b,
                "scheme": "maternity",
            }
            for i, num, n, s, b, _, _ in DELIVERED
        ],  # fmt: skip
        "si_maternity",
        "m1",
    )
    return src


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("repair")
    api.build(data, source=_source())
    return data


def test_the_delivered_ids_are_the_damage_issue_15_describes() -> None:
    from canbao.standards import citizen_id

    errors = citizen_id.check_frame([d[0] for d in DELIVERED[:3]])["id_errors"].to_list()
    assert errors == [["birth_date", "checksum"]] * 2 + [["region", "checksum"]]
    assert FLOAT_ZHANG == "360425197608152320" and not FLOAT_ZHANG.endswith("000")


def test_repairs_link_and_propose_the_correction(built: Path) -> None:
    snap = snapshot.require_current(built)
    links = snap.scan("links").collect().filter(pl.col("source") == "si_maternity").sort("row")
    persons = snap.scan("persons").collect().select("person_key", "id18")
    got = links.join(persons, on="person_key", how="left").sort("row")
    corr = snap.scan("id_corrections").collect().filter(pl.col("source") == "si_maternity")
    proposed = dict(zip(corr["row"].to_list(), corr["proposed_id18"].to_list(), strict=True))
    methods = dict(zip(corr["row"].to_list(), corr["method"].to_list(), strict=True))
    for row, (_, _, _, _, _, person, method) in enumerate(DELIVERED, start=1):
        rec = got.row(row - 1, named=True)
        if person is None:
            assert rec["method"] not in ("check_character", "excel_prefix"), row
            continue
        assert (rec["method"], rec["id18"]) == (method, person), row
        assert (methods[row], proposed[row]) == (method, person), row


def test_ambiguous_numbers_are_not_guessed(built: Path) -> None:
    """Two namesakes born the same day share the 15 digits: a number without a stated sex
    links to neither by repair (the probabilistic linkage and the review queue decide)."""
    snap = snapshot.require_current(built)
    links = snap.scan("links").collect()
    persons = snap.scan("persons").collect().select("person_key", "id18")
    liu = links.join(persons, on="person_key").filter(pl.col("id18").is_in([LIU_M, LIU_F]))
    row7 = links.filter((pl.col("source") == "si_maternity") & (pl.col("row") == 7))
    assert row7["method"].item() != "excel_prefix"
    assert liu.filter(pl.col("source") == "si_maternity")["row"].to_list() in ([6], [6, 7])
