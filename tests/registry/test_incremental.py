"""Incremental updates equal a full rebuild; review decisions are respected by later builds."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl

from canbao.registry import api, snapshot
from tests.registry import test_deterministic as base
from tests.registry.fixtures import Source, make_id, share_key_secret
from tests.scopes import SYSTEM

NEW = make_id("360483", "19770707", 52)  # 周敏 (F), new in month 2


def _month2(src: Source) -> Source:
    src.add(
        "enrollment",
        [
            {"id": NEW, "name": "周敏", "scheme": "resident_medical"},
            {"id": None, "name": "周敏", "birth_date": "1977-07-07", "scheme": "resident_medical"},
            {"id": base.C, "name": "李娜", "scheme": "resident_medical"},
            {
                "id": None,
                "name": "王小明",
                "birth_date": "2005-06-06",
                "scheme": "resident_medical",
            },
        ],
        "si_resident_medical",
        "b3",
    )
    src.add(
        "population",
        [{"id": NEW, "name": "周敏", "sex": "F", "birth_date": "1977-07-07", "household_id": "H9"}],
        "police_hukou_2",
        "b4",
    )
    return src


def _tables(data: Path) -> dict[str, pl.DataFrame]:
    snap = snapshot.require_current(data)
    out = {}
    for t, key in (
        ("links", ["source", "row"]),
        ("persons", ["person_key"]),
        ("pairs", ["node_id_l", "node_id_r"]),
        ("review_items", ["pair_id"]),
        ("nodes", ["node_id"]),
        ("likely_owners", ["other_key", "person_key"]),
    ):
        out[t] = snap.scan(t).collect().sort(key)
    return out


def test_incremental_equals_full_rebuild(tmp_path: Path) -> None:
    inc = tmp_path / "inc"
    api.build(inc, source=base._source())
    result = api.build(inc, source=_month2(base._source()))
    assert result.mode == "incremental"
    full = tmp_path / "full"
    shutil.copytree(inc / "registry" / "model", full / "registry" / "model")
    share_key_secret(inc, full)
    result_full = api.build(full, source=_month2(base._source()), full=True)
    assert result_full.mode == "full"
    a, b = _tables(inc), _tables(full)
    for t in a:
        assert a[t].drop("batch_id", strict=False).equals(b[t].drop("batch_id", strict=False)), t
    keys = {(r["source"], r["row"]): r["person_key"] for r in a["links"].iter_rows(named=True)}
    assert keys[("si_resident_medical", 1)] == keys[("police_hukou_2", 1)]
    assert keys[("si_resident_medical", 3)] == keys[("police_hukou", 3)]


def test_incremental_scores_only_new_nodes(tmp_path: Path) -> None:
    api.build(tmp_path, source=base._source())
    n_before = snapshot.require_current(tmp_path).scan("nodes").collect().height
    result = api.build(tmp_path, source=_month2(base._source()))
    info = snapshot.require_current(tmp_path).info
    assert result.mode == "incremental" and info["previous"] is not None
    assert result.counts["nodes"] > n_before


EMPLOYER = "91110000600037341L"


def _with_namesake_query() -> Source:
    src = _month2(base._source())
    # the two namesakes (same name and birthday) work for the same employer
    src.add(
        "employment",
        [
            {"id": who, "name": "王伟", "credit_code": EMPLOYER, "employer_name": "长江公司",
             "period": f"2017-{m:02d}"}
            for who in (base.A, base.B)
            for m in (1, 2, 3)
        ],
        "tax_iit",
        "b6",
    )  # fmt: skip
    # no ID, their name, birthday, sex, county and employer: the model must not guess
    src.add(
        "special_group",
        [
            {
                "id": None,
                "name": "王伟",
                "birth_date": "1980-01-01",
                "sex": "M",
                "county_code": "360402",
                "credit_code": EMPLOYER,
                "employer_name": "长江公司",
            }
        ],
        "civil_low_income",
        "b5",
    )
    return src


def test_namesake_query_is_not_guessed(tmp_path: Path) -> None:
    api.build(tmp_path, source=_with_namesake_query())
    keys = {
        (r["source"], r["row"]): r["person_key"]
        for r in api.links(tmp_path, SYSTEM).iter_rows(named=True)
    }
    assert keys[("civil_low_income", 1)] not in (
        keys[("police_hukou", 1)],
        keys[("police_hukou", 2)],
    )
    assert keys[("police_hukou", 1)] != keys[("police_hukou", 2)]


def test_enrolled_as_of_counts_records_without_status_or_dates(tmp_path: Path) -> None:
    """Enrolment records without status or dates count from their extract's as-of date."""
    api.build(tmp_path, source=base._source())
    enrolled = snapshot.require_current(tmp_path).scan("enrollments").collect()
    assert enrolled["status"].null_count() == enrolled.height  # the fixture states no status
    day = enrolled["as_of"].max()
    assert api.enrolled_as_of(tmp_path, day, SYSTEM).height == enrolled.height
    assert api.enrolled_as_of(tmp_path, day - dt.timedelta(days=1), SYSTEM).height == 0
    assert api.enrolled_as_of(tmp_path, day, SYSTEM, scheme="no_such_scheme").height == 0


LATE = make_id("360402", "19850505", 72)  # 孙丽 (F): her own record arrives only in month 3


def _month_a(src: Source) -> Source:
    typo = base._check_only_typo(LATE)
    src.add(
        "enrollment", [{"id": typo, "name": "孙丽", "scheme": "resident_medical"}], "si_rm", "b5"
    )
    return src


def _month_b(src: Source) -> Source:
    person = {"id": LATE, "name": "孙丽", "sex": "F", "birth_date": "1985-05-05"}
    src.add("population", [{**person, "household_id": "H7"}], "police_hukou_3", "b6")
    return src


def test_a_new_anchor_repairs_an_older_typo_incrementally(tmp_path: Path) -> None:
    """Month 2 brings a record whose ID has a wrong check character and no trusted owner yet;
    month 3 brings the owner: the incremental build must find the old record through the
    inverse candidate rule and link it, as a full rebuild does."""
    inc = tmp_path / "inc"
    api.build(inc, source=base._source())
    api.build(inc, source=_month_a(base._source()))
    result = api.build(inc, source=_month_b(_month_a(base._source())))
    assert result.mode == "incremental"
    assert snapshot.require_current(inc).info["incremental"]["changed_anchors"] >= 1
    full = tmp_path / "full"
    shutil.copytree(inc / "registry" / "model", full / "registry" / "model")
    share_key_secret(inc, full)
    api.build(full, source=_month_b(_month_a(base._source())), full=True)
    a, b = _tables(inc), _tables(full)
    for t in a:
        assert a[t].drop("batch_id", strict=False).equals(b[t].drop("batch_id", strict=False)), t
    links = a["links"]
    typo = links.filter(pl.col("source") == "si_rm").row(0, named=True)
    owner = links.filter(pl.col("source") == "police_hukou_3").row(0, named=True)
    assert typo["person_key"] == owner["person_key"]
    assert typo["method"] == "check_character"


LATE_DATE = make_id("360424", "19850716", 123)  # 吴磊 (M)
LATE_FLOAT = make_id("360425", "19760815", 234)  # 张丽 (F)


def _month_c(src: Source) -> Source:
    """A typo that broke the birth date (year 9985) and a program's double (…152320), before
    their owners are known."""
    rows = [
        {"id": LATE_DATE[:6] + "9" + LATE_DATE[7:], "name": "吴磊", "scheme": "maternity"},
        {"id": str(int(float(int(LATE_FLOAT)))), "id_numeric": True, "name": "张丽",
         "scheme": "maternity"},
    ]  # fmt: skip
    src.add("enrollment", rows, "si_mat", "b7")
    return src


def _month_d(src: Source) -> Source:
    src.add(
        "population",
        [
            {"id": LATE_DATE, "name": "吴磊", "sex": "M", "birth_date": "1985-07-16"},
            {"id": LATE_FLOAT, "name": "张丽", "sex": "F", "birth_date": "1976-08-15"},
        ],
        "police_hukou_4",
        "b8",
    )
    return src


def test_new_anchors_repair_older_date_typos_and_numbers_incrementally(tmp_path: Path) -> None:
    """Issue 15's two forms through the incremental path: the owners arrive a month after the
    damaged records; the update finds them (inverse candidates, prefixes) as a rebuild does."""
    inc = tmp_path / "inc"
    api.build(inc, source=base._source())
    api.build(inc, source=_month_c(base._source()))
    result = api.build(inc, source=_month_d(_month_c(base._source())))
    assert result.mode == "incremental"
    full = tmp_path / "full"
    shutil.copytree(inc / "registry" / "model", full / "registry" / "model")
    share_key_secret(inc, full)
    api.build(full, source=_month_d(_month_c(base._source())), full=True)
    a, b = _tables(inc), _tables(full)
    for t in a:
        assert a[t].drop("batch_id", strict=False).equals(b[t].drop("batch_id", strict=False)), t
    links = a["links"]
    damaged = links.filter(pl.col("source") == "si_mat").sort("row")
    owners = links.filter(pl.col("source") == "police_hukou_4").sort("row")
    assert damaged["person_key"].to_list() == owners["person_key"].to_list()
    assert damaged["method"].to_list() == ["check_character", "excel_prefix"]
    corr = snapshot.require_current(inc).scan("id_corrections").collect()
    corr = corr.filter(pl.col("source") == "si_mat").sort("row")
    assert corr["proposed_id18"].to_list() == [LATE_DATE, LATE_FLOAT]


def _with_staff(src: Source) -> Source:
    """Enrolments naming their employer by name only (no code): a surrogate employer."""
    src.add(
        "enrollment",
        [
            {"id": base.A, "name": "王伟", "scheme": "employee_medical",
             "employer_name": "九江星河机械有限公司"},
            {"id": base.C, "name": "李娜", "scheme": "employee_medical",
             "employer_name": "九江星河机械有限公司"},
        ],
        "si_employee_medical",
        "e1",
    )  # fmt: skip
    return src


def _registered(src: Source) -> Source:
    """The business registry names that employer with its credit code: the enrolments' name
    now links to the coded employer, though no person record changed."""
    from canbao.standards import credit_code

    code = credit_code.make_uscc("9", "1", "360402", "MA35X001")
    src.add(
        "employer",
        [{"employer_name": "九江星河机械有限公司", "credit_code": code, "county_code": "360402"}],
        "aic_registry",
        "r1",
    )
    return src


def test_employers_linked_again_move_unchanged_enrolments(tmp_path: Path) -> None:
    inc = tmp_path / "inc"
    api.build(inc, source=_with_staff(base._source()))
    before = snapshot.require_current(inc).scan("enrollments").collect()
    result = api.build(inc, source=_registered(_with_staff(base._source())))
    assert result.mode == "incremental"
    snap = snapshot.require_current(inc)
    stats = snap.info["incremental"]
    assert stats["employers_rebuilt"] and stats["records_relinked"] == 0
    assert snap.layers("enrollments") is not None  # updated, not rewritten
    full = tmp_path / "full"
    shutil.copytree(inc / "registry" / "model", full / "registry" / "model")
    share_key_secret(inc, full)
    api.build(full, source=_registered(_with_staff(base._source())), full=True)
    other = snapshot.require_current(full)
    for table, key in (
        ("enrollments", ["batch_id", "row"]),
        ("employer_links", ["batch_id", "row"]),
        ("employers", ["employer_key"]),
    ):
        assert snap.scan(table).collect().sort(key).equals(other.scan(table).collect().sort(key))
    after = snap.scan("enrollments").collect()
    moved = after.filter(pl.col("batch_id") == "e1")["employer_key"].unique().to_list()
    was = before.filter(pl.col("batch_id") == "e1")["employer_key"].unique().to_list()
    assert len(moved) == 1 and moved[0].startswith("E") and was[0].startswith("N")
    # the other enrolments kept their rows
    keep = pl.col("batch_id") != "e1"
    assert (
        after.filter(keep)
        .sort("batch_id", "row")
        .equals(before.filter(keep).sort("batch_id", "row"))
    )
