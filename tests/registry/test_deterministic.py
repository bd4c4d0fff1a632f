"""Registry guarantees that do not depend on the probabilistic model's calibration."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from canbao.registry import api, snapshot
from canbao.standards import citizen_id
from tests.registry.fixtures import Source, make_id, share_key_secret
from tests.scopes import SYSTEM

A = make_id("360402", "19800101", 11)  # 王伟, household H1
B = make_id("360402", "19800101", 13)  # 王伟, namesake (same name and birthday), household H2
C = make_id("360421", "19550505", 22)  # 李娜, retired code 九江县
KID = make_id("360402", "20050606", 31)  # 王小明, A's son, household H1
TWIN1 = make_id("360427", "19900303", 41)  # 陈思远 (retired code 星子县)
TWIN2 = make_id("360427", "19900303", 43)  # 陈思齐, twin brother, same household
OLD = "360402" + "491231" + "022"  # 15-digit, female


def _check_only_typo(value: str) -> str:
    """A copy of ``value`` whose only fault is the check character."""
    for ch in "0123456789X":
        if ch != value[-1]:
            return value[:-1] + ch
    raise AssertionError


def _source() -> Source:
    src = Source()
    pop = [
        {"id": A, "name": "王伟", "sex": "M", "birth_date": "1980-01-01", "household_id": "H1"},
        {"id": B, "name": "王伟", "sex": "M", "birth_date": "1980-01-01", "household_id": "H2"},
        {"id": C, "name": "李  娜", "sex": "F", "birth_date": "1955-05-05", "household_id": "H3"},
        {"id": KID, "name": "王小明", "sex": "M", "birth_date": "2005-06-06", "household_id": "H1"},
        {
            "id": TWIN1,
            "name": "陈思远",
            "sex": "M",
            "birth_date": "1990-03-03",
            "household_id": "H4",
        },
        {
            "id": TWIN2,
            "name": "陈思齐",
            "sex": "M",
            "birth_date": "1990-03-03",
            "household_id": "H4",
        },
        {"id": OLD, "name": "赵老", "sex": "F", "birth_date": "1949-12-31", "household_id": "H5"},
    ]
    for r in pop:
        r["county_code"] = "360402"
    src.add("population", pop, "police_hukou", "b1")
    src.add(
        "enrollment",
        [
            {"id": A, "name": "王伟", "scheme": "employee_pension"},
            {"id": B.lower(), "name": "王 伟", "scheme": "employee_pension"},
            {"id": _check_only_typo(C), "name": "李娜", "scheme": "employee_pension"},
            {"id": A, "name": "王小明", "scheme": "employee_pension"},  # carries father's ID
            {"id": TWIN1, "name": "陳思遠", "scheme": "employee_pension"},  # traditional
            {"id": TWIN2, "name": "陈思齐", "scheme": "employee_pension"},
            {"id": citizen_id.upgrade_15(OLD), "name": "赵老", "scheme": "employee_pension"},
            {"id": C[:15] + "000", "name": "李娜", "scheme": "employee_pension"},  # Excel
        ],
        "si_employee_pension",
        "b2",
    )
    return src


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("reg")
    api.build(data, source=_source())
    return data


def _keys(data: Path) -> dict[tuple[str, int], str]:
    return {
        (r["source"], r["row"]): r["person_key"]
        for r in api.links(data, SYSTEM).iter_rows(named=True)
    }


def test_trusted_ids_link_deterministically(built: Path) -> None:
    k = _keys(built)
    assert k[("police_hukou", 1)] == k[("si_employee_pension", 1)]  # A
    assert k[("police_hukou", 2)] == k[("si_employee_pension", 2)]  # B, lowercase/space
    assert k[("police_hukou", 5)] == k[("si_employee_pension", 5)]  # traditional name
    assert k[("police_hukou", 7)] == k[("si_employee_pension", 7)]  # 15-digit form


def test_namesakes_and_twins_stay_apart(built: Path) -> None:
    k = _keys(built)
    assert k[("police_hukou", 1)] != k[("police_hukou", 2)]
    assert k[("police_hukou", 5)] != k[("police_hukou", 6)]
    assert len(set(k.values())) >= 7


def test_relatives_id_is_not_merged_into_its_owner(built: Path) -> None:
    k = _keys(built)
    assert k[("si_employee_pension", 4)] != k[("police_hukou", 1)]


def test_check_character_typo_is_repaired_and_correction_proposed(built: Path) -> None:
    k = _keys(built)
    assert k[("si_employee_pension", 3)] == k[("police_hukou", 3)]
    corr = snapshot.require_current(built).scan("id_corrections").collect()
    row = corr.filter((pl.col("source") == "si_employee_pension") & (pl.col("row") == 3))
    assert row.height == 1
    assert row["proposed_id18"][0] == C and row["method"][0] == "check_character"


def test_excel_damaged_id_links_on_surviving_digits(built: Path) -> None:
    k = _keys(built)
    assert k[("si_employee_pension", 8)] == k[("police_hukou", 3)]


def test_master_record_survivorship(built: Path) -> None:
    persons = api.persons(built, SYSTEM, reveal=True)
    assert persons.height == len(set(_keys(built).values()))
    c = persons.filter(pl.col("id18") == C).row(0, named=True)
    assert c["name"] == "李娜" and c["sex"] == "F" and str(c["birth_date"]) == "1955-05-05"
    assert c["n_records"] == 3


def test_links_cover_every_record(built: Path) -> None:
    links = api.links(built, SYSTEM)
    assert links.height == 7 + 8
    assert links["person_key"].null_count() == 0


def test_person_keys_are_stable_across_rebuilds(built: Path, tmp_path: Path) -> None:
    before = _keys(built)
    share_key_secret(built, tmp_path)
    api.build(tmp_path, source=_source())
    assert _keys(tmp_path) == before


def test_snapshot_published_atomically(built: Path) -> None:
    snap = snapshot.require_current(built)
    assert snap.path.is_dir() and (snap.path / "build.json").exists()
    assert not list(snap.path.parent.glob(".tmp-*"))


def test_no_build_gives_a_clear_error(tmp_path: Path) -> None:
    from canbao.errors import StateError

    with pytest.raises(StateError, match="canbao build"):
        api.links(tmp_path, SYSTEM)


def test_big_batches_are_derived_in_parts(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from canbao.registry import person_records

    monkeypatch.setattr(person_records, "CHUNK_ROWS", 3)  # 7 and 8 rows → 3 parts each
    share_key_secret(built, tmp_path)
    api.build(tmp_path, source=_source())
    parts = list((tmp_path / "registry" / "cache").rglob("part-*.parquet"))
    assert len(parts) == 6
    assert _keys(tmp_path) == _keys(built)
