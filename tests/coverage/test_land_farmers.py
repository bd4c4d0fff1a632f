"""被征地农民 on a small synthetic city, against its truth: the 附件3 actuals, the work list of
land-expropriated farmers without pension, the CLI and the 通报 section from the data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from canbao.cli import run
from canbao.coverage import api, land_farmers, quality
from canbao.plan import land_farmer_table
from canbao.plan.actuals import CombinedActuals, default_actuals_source
from canbao.profile import load_profile
from canbao.registry import api as registry
from canbao.registry import snapshot
from tests.registry.city import ingest, make_city
from tests.scopes import SYSTEM

YEAR_END = dt.date(2017, 12, 31)
# the extracts the land farmers' figures need: who the farmers are, who is alive, who has pension
SOURCES = {"police_hukou", "civil_deaths", "land_expropriated", "si_employee_pension",
           "si_resident_pension"}  # fmt: skip


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_city(tmp_path_factory.mktemp("lf-city"), persons=8000, seed=11)


@pytest.fixture(scope="module")
def built(city: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("lf-data")
    ingest(city, data, only=SOURCES)
    registry.build(data)
    return data


def _age(day: dt.date) -> pl.Expr:
    b = pl.col("birth_date")
    later = (b.dt.month() * 100 + b.dt.day()) > day.month * 100 + day.day
    return pl.lit(day.year) - b.dt.year() - later.cast(pl.Int32)


def truth(city: Path, day: dt.date) -> pl.DataFrame:
    """The truth's land-expropriated farmers on ``day`` (``pid, county_code, pension, gap``).
    The land department's list carries no end date, so neither does this."""
    t = city / "truth"
    groups = pl.read_parquet(t / "special_groups.parquet").filter(
        pl.col("group") == "land_expropriated", pl.col("start_date") <= day
    )
    persons = pl.read_parquet(t / "persons.parquet").select(
        "pid", "county_code", "death_date", "hukou_status", "birth_date"
    )
    pension = (
        pl.read_parquet(t / "enrollments.parquet")
        .filter(
            pl.col("status") == "active",
            pl.col("scheme").is_in(["employee_pension", "resident_pension"]),
        )
        .select("pid")
        .unique()
        .with_columns(pension=pl.lit(1))
    )
    return (
        groups.select("pid")
        .unique()
        .join(persons, on="pid")
        .join(pension, on="pid", how="left")
        .with_columns(pl.col("pension").fill_null(0))
        .with_columns(
            gap=(pl.col("pension") == 0)
            & pl.col("death_date").is_null()
            & (pl.col("hukou_status") != "迁出")
            & (_age(day) >= 16)
        )
    )


def test_actuals_match_the_truth(built: Path, city: Path) -> None:
    t = truth(city, YEAR_END)
    want = dict(t.group_by("county_code").agg(pl.col("pension").sum()).iter_rows())
    assert len(want) >= 3 and t.height >= 50
    frame = land_farmers.LandFarmerActuals(built).actuals(None, YEAR_END)
    assert set(frame["indicator"]) == {"land_farmer.pension"}
    got = {u: int(v) for u, v in frame.select("unit", "value").iter_rows()}
    assert set(got) == {*want, "city"}
    for county, n in want.items():
        assert abs(got[county] - n) <= 1, (county, got[county], n)
    assert abs(got["city"] - int(t["pension"].sum())) <= 1
    assert got["city"] == sum(v for u, v in got.items() if u != "city")


def test_who_is_a_land_farmer_on_a_date(built: Path, city: Path) -> None:
    """A farmer counts from the list's 认定日期 on: mid-year, those certified later are not
    land farmers yet."""
    mid = dt.date(2017, 6, 30)
    with api.session(built, SYSTEM, mid) as s:
        by_area = land_farmers.counts_by_area(s)
    want = truth(city, mid)
    assert want.height < truth(city, YEAR_END).height  # some are certified in the second half
    assert abs(int(by_area["farmers"].sum()) - want.height) <= 1


def test_unit_table_decides_the_unit(built: Path) -> None:
    base = land_farmers.LandFarmerActuals(built).actuals(None, YEAR_END)
    moved = land_farmers.LandFarmerActuals(built, units={"360402": "devzone"}).actuals(
        None, YEAR_END
    )

    def values(frame: pl.DataFrame) -> dict[str, str]:
        return dict(frame.select("unit", "value").iter_rows())

    assert set(values(moved)) == {"devzone", "city"}
    assert values(moved)["devzone"] == values(base)["360402"]
    assert values(moved)["city"] == values(base)["city"]


def test_work_list_against_the_truth(built: Path, city: Path) -> None:
    lists = api.gap_lists(built, SYSTEM, kind="land_farmers")
    assert list(lists) == ["land_farmers_uninsured"]
    found = lists["land_farmers_uninsured"]
    snap = snapshot.require_current(built)
    pm = quality.person_map(snap.scan("links").collect(), city)
    got = set(found.join(pm, on="person_key")["pid"])
    want = set(truth(city, YEAR_END).filter("gap")["pid"])
    assert len(want) >= 10
    hit = len(got & want)
    assert hit >= 0.95 * len(got) and hit >= 0.95 * len(want), (len(got), len(want), hit)
    assert set(found["priority"]) <= {1, 2, 3} and found["reason"].str.contains("被征地农民").all()
    assert (found["age"] >= 16).all() and found["land_since"].is_not_null().all()


def test_cli_gap_list_masked(built: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "land.xlsx"
    args = ["gaps", "--kind", "land_farmers", "--county", "柴桑区", "--out", str(out)]
    assert run([*args, "--data-dir", str(built)]) == 0
    printed = capsys.readouterr().out
    assert "被征地农民未参养老" in printed
    ids = registry.persons(built, SYSTEM, reveal=True)["id18"].drop_nulls().to_list()
    assert not any(i in printed for i in ids)
    ws = load_workbook(out)["被征地农民未参养老"]
    header = [c.value for c in ws[1]]
    assert {"公民身份号码", "原因推测", "优先级", "被征地农民认定日期"} <= set(header)
    col = header.index("公民身份号码")
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows and all(r[col] is None or "*" in r[col] for r in rows)
    assert {r[0] for r in rows} == {"360404"} and ws.freeze_panes == "A2"


def test_report_from_the_data_directory(built: Path, city: Path, tmp_path: Path) -> None:
    """附件3 imported into the data directory; the 通报 measures it from the registry."""
    t = truth(city, YEAR_END)
    tasks = {u: int(n) for u, n in t.group_by("county_code").len().iter_rows()}
    a3 = land_farmer_table.write_template(tmp_path / "a3.xlsx", profile=load_profile(),
                                          values=tasks)  # fmt: skip
    assert run(["plan", "land-farmers", "import", str(a3), "--data-dir", str(built)]) == 0
    source = default_actuals_source(built)
    assert isinstance(source, CombinedActuals)
    assert any(isinstance(s, land_farmers.LandFarmerActuals) for s in source.sources)
    out = tmp_path / "tongbao"
    args = ["report", "--as-of", "2017-12-31", "--out", str(out), "--no-pdf"]
    assert run([*args, "--data-dir", str(built)]) == 0
    ws = load_workbook(next(out.glob("*.xlsx")))["被征地农民参保"]
    city_row = next(ws.iter_rows(min_row=4, max_row=4, values_only=True))
    enrolled = land_farmers.LandFarmerActuals(built).actuals(None, YEAR_END)
    want = int(enrolled.filter(pl.col("unit") == "city")["value"][0])
    assert city_row[:3] == ("全市", t.height, want)
    assert city_row[3] == pytest.approx(want / t.height, abs=1e-4)
