"""Likely owners of records without ID (registry.owners): the rule, review items, decisions, and
the same table from an incremental and a full build."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from canbao.cli import run
from canbao.registry import api, snapshot
from tests.registry.fixtures import Source, make_id, share_key_secret
from tests.scopes import SYSTEM

COUNTY = "360402"
EMPLOYER = "91110000600037341L"
ZHANG = make_id(COUNTY, "19600202", 15)  # 张三丰 (M): no medical of his own
ZHANG_ELSEWHERE = make_id("360403", "19600202", 17)  # 张三丰, a namesake in another county
QIAN = make_id(COUNTY, "19450303", 26)  # 钱多多 (F): died in June
ZHOU = make_id(COUNTY, "19880808", 33)  # 周杰 (M): works for EMPLOYER, resident medical
WU = make_id(COUNTY, "19700101", 45)  # 吴用 (M): a record with another birth month is not his


def city() -> Source:
    """Three records without ID, each with one likely owner (by name, county and birth month;
    by pinyin in the county; by name at the employer), and one whose birth month rules the
    namesake out."""
    src = Source()
    pop = [
        {"id": ZHANG, "name": "张三丰", "sex": "M", "birth_date": "1960-02-02", "household_id": "H1",
         "county_code": COUNTY},
        {"id": ZHANG_ELSEWHERE, "name": "张三丰", "sex": "M", "birth_date": "1960-02-02",
         "household_id": "H2", "county_code": "360403"},
        {"id": QIAN, "name": "钱多多", "sex": "F", "birth_date": "1945-03-03", "household_id": "H3",
         "county_code": COUNTY},
        {"id": ZHOU, "name": "周杰", "sex": "M", "birth_date": "1988-08-08", "household_id": "H4",
         "county_code": COUNTY},
        {"id": WU, "name": "吴用", "sex": "M", "birth_date": "1970-01-01", "household_id": "H5",
         "county_code": COUNTY},
    ]  # fmt: skip
    src.add("population", pop, "police_hukou", "b1")
    src.add(
        "death",
        [{"id": QIAN, "name": "钱多多", "death_date": dt.date(2017, 6, 30)}],
        "civil_death",
        "b2",
    )
    src.add(
        "enrollment",
        [
            {"id": ZHANG, "name": "张三丰", "scheme": "resident_pension"},
            {"id": ZHANG_ELSEWHERE, "name": "张三丰", "scheme": "resident_medical"},
            {"id": QIAN, "name": "钱多多", "scheme": "resident_medical"},
            {"id": ZHOU, "name": "周杰", "scheme": "resident_medical"},
            {"id": WU, "name": "吴用", "scheme": "resident_pension"},
        ],
        "si_resident",
        "b3",
    )
    src.add(
        "employment",
        [
            {"id": ZHOU, "name": "周杰", "credit_code": EMPLOYER, "employer_name": "长江公司",
             "period": f"2017-{m:02d}", "wage": 5000}
            for m in (10, 11, 12)
        ],
        "tax_iit",
        "b4",
    )  # fmt: skip
    src.add(
        "enrollment",
        [
            # row 1: his medical insurance, delivered without ID (name, county, birth month)
            {"id": None, "name": "张三丰", "county_code": COUNTY, "birth_date": "1960-02",
             "scheme": "resident_medical"},
            # row 2: her pension, still paid, under a homophone of her name (no birth date)
            {"id": None, "name": "钱朵朵", "county_code": COUNTY, "scheme": "resident_pension"},
            # row 3: the employer enrolled him with a broken ID (name at the employer only)
            {"id": None, "name": "周杰", "credit_code": EMPLOYER, "employer_name": "长江公司",
             "scheme": "employee_medical"},
            # row 4: a namesake's record: another birth month
            {"id": None, "name": "吴用", "county_code": COUNTY, "birth_date": "1971-05",
             "scheme": "resident_medical"},
        ],
        "si_no_id",
        "b5",
    )  # fmt: skip
    return src


RECORDS = {1: ZHANG, 2: QIAN, 3: ZHOU}  # si_no_id row → its one likely owner


def owners(data: Path) -> pl.DataFrame:
    """Likely owners by record (si_no_id row) and candidate ID."""
    snap = snapshot.require_current(data)
    links = snap.scan("links").collect().filter(pl.col("source") == "si_no_id")
    persons = snap.scan("persons").collect().select("person_key", "id18")
    return (
        snap.scan("likely_owners")
        .collect()
        .join(links.select("row", other_key="person_key"), on="other_key")
        .join(persons, on="person_key")
        .sort("row", "id18")
    )


def review(data: Path) -> pl.DataFrame:
    return snapshot.require_current(data).scan("review_items").collect()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("owners")
    api.build(data, source=city())
    return data


def test_records_without_id_stay_unresolved(built: Path) -> None:
    """The model leaves these records alone (else there is nothing to test)."""
    links = api.links(built, SYSTEM).filter(pl.col("source") == "si_no_id")
    assert links.height == 4
    assert links["method"].to_list() == ["unresolved"] * 4
    assert links["person_key"].str.starts_with("S").all()


def test_the_rule(built: Path) -> None:
    o = owners(built)
    assert dict(zip(o["row"], o["id18"], strict=True)) == RECORDS  # not the other county's
    by_row = {r["row"]: r for r in o.iter_rows(named=True)}
    assert (by_row[1]["same_name"], by_row[1]["birth_known"], by_row[1]["same_employer"]) == (
        1,
        1,
        0,
    )
    assert (by_row[2]["same_name"], by_row[2]["birth_known"]) == (0, 0)  # pinyin only
    assert by_row[3]["same_employer"] == 1 and by_row[3]["same_name"] == 1
    assert set(o["right_key"]) == {"A:" + i for i in RECORDS.values()}
    # left_key: the record's node, the key of its cluster
    b_cluster = snapshot.require_current(built).scan("b_cluster").collect()
    assert set(o["left_key"]) <= set(b_cluster["node_id"])


def test_pairs_are_in_the_review_queue(built: Path, tmp_path: Path) -> None:
    items = review(built).filter(pl.col("reason") == "likely_owner")
    o = owners(built)
    assert set(zip(items["left_key"], items["right_key"], strict=True)) == set(
        zip(o["left_key"], o["right_key"], strict=True)
    )
    everything = review(built)
    assert everything["pair_id"].n_unique() == everything.height  # never a pair twice
    assert items["prob"].null_count() == 0
    shown = api.review_items(built, SYSTEM).filter(pl.col("reason") == "likely_owner")
    assert shown.height == items.height and shown["left_name"].null_count() == 0
    # the reviewer's workbook says what kind of pair it is
    out = tmp_path / "review.xlsx"
    api.export_table(shown, out)
    sheet = openpyxl.load_workbook(out, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    column = rows[0].index("原因")
    assert {r[column] for r in rows[1:]} == {"无证件号记录的可能本人"}


def test_the_review_list_names_the_reason(
    built: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert run(["review", "list", "--data-dir", str(built)]) == 0
    out = capsys.readouterr().out
    assert out.count("无证件号记录的可能本人") == review(built)["reason"].eq("likely_owner").sum()


def _pair_id(data: Path, id18: str) -> str:
    items = review(data).filter(
        (pl.col("reason") == "likely_owner") & (pl.col("right_key") == "A:" + id18)
    )
    assert items.height == 1
    return str(items["pair_id"][0])


def test_decisions_are_respected_and_incremental_equals_full(tmp_path: Path) -> None:
    inc = tmp_path / "inc"
    api.build(inc, source=city())
    api.decide(inc, _pair_id(inc, ZHANG), "different")
    api.decide(inc, _pair_id(inc, QIAN), "same")
    result = api.build(inc, source=city())
    assert result.mode == "incremental"
    o = owners(inc)
    # "different": no longer a candidate, nor a review item
    assert set(o["id18"]) == {ZHOU}
    assert not review(inc)["right_key"].is_in(["A:" + ZHANG, "A:" + QIAN]).any()
    # "same": the record is linked to her
    keys = {
        (r["source"], r["row"]): r["person_key"]
        for r in api.links(inc, SYSTEM).iter_rows(named=True)
    }
    assert keys[("si_no_id", 2)] == keys[("police_hukou", 3)]
    # a full build with the same decisions gives the same tables
    full = tmp_path / "full"
    shutil.copytree(inc / "registry" / "model", full / "registry" / "model")
    shutil.copy2(inc / "store.sqlite3", full / "store.sqlite3")  # the decisions live in the store
    share_key_secret(inc, full)
    assert api.build(full, source=city(), full=True).mode == "full"
    for table, key in (
        ("likely_owners", ["other_key", "person_key"]),
        ("review_items", ["pair_id"]),
        ("links", ["source", "row"]),
    ):
        a = snapshot.require_current(inc).scan(table).collect().sort(key)
        b = snapshot.require_current(full).scan(table).collect().sort(key)
        assert a.drop("batch_id", strict=False).equals(b.drop("batch_id", strict=False)), table
