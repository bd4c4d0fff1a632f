"""Coverage and compliance on a small synthetic city, against its ground truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from canbao.cli import run
from canbao.coverage import api, quality
from canbao.coverage.actuals import CoverageActuals
from canbao.errors import UsageError
from canbao.ingest import api as ingest_api
from canbao.plan.actuals import default_actuals_source
from canbao.registry import api as registry
from canbao.registry import snapshot
from tests.registry.city import ingest, make_city
from tests.scopes import SYSTEM

GAP_KINDS = (
    "uninsured_pension",
    "uninsured_medical",
    "duplicate_medical",
    "duplicate_area",
    "deceased_enrolled",
    "unregistered_employers",
    "under_reporters",
)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_city(tmp_path_factory.mktemp("cov-city"), persons=8000, seed=11)


@pytest.fixture(scope="module")
def built(city: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("cov-data")
    ingest(city, data)
    registry.build(data)
    return data


@pytest.fixture(scope="module")
def analysis(built: Path) -> api.Analysis:
    return api.analyse(built, SYSTEM)


def _copied_declarations(built: Path, city: Path) -> pl.DataFrame:
    """(eid, scheme) of the declaration rows the synthetic city repeated as an exact copy (an
    export glitch, truth/damage.csv ``duplicate_row``)."""
    damage = pl.read_csv(city / "truth" / "damage.csv", schema_overrides={"row": pl.Int64})
    elinks = pl.read_csv(city / "truth" / "employer_links.csv", schema_overrides={"row": pl.Int64})
    decl = ingest_api.current_records(built, "declaration").select("source", "row", "scheme")
    return (
        damage.filter(pl.col("kinds").str.contains("duplicate_row"))
        .join(elinks, on=["source", "row"])
        .join(decl.collect(), on=["source", "row"])
        .select("eid", "scheme")
        .unique()
    )


def test_quality_against_truth(built: Path, city: Path, analysis: api.Analysis) -> None:
    q = api.evaluate(built, city, SYSTEM, analysis)
    for kind in GAP_KINDS:
        assert q[kind]["true"] > 0, kind
        assert q[kind]["precision"] >= 0.99, (kind, q[kind])
        if kind != "under_reporters":
            assert q[kind]["recall"] >= 0.99, (kind, q[kind])
    # the synthetic data hold no employee+resident pension or same-area duplicates
    assert q["duplicate_other"]["found"] == 0
    # Every declaration row counts (two identical rows can be two genuine declarations), so the
    # city's exact copies of a declaration row count twice and may hide that employer's
    # under-reporting: every under-reporter missed is one whose declaration was copied, and
    # recall over the others stays >= 0.99.
    emap = quality.employer_map(
        snapshot.require_current(built).scan("employer_links").collect(), city
    )
    found = analysis.frames["under_reporters"].join(emap, on="employer_key").select("eid", "scheme")
    truth = pl.read_csv(city / "truth" / "under_reporters.csv").select("eid", "scheme")
    missed = truth.join(found, on=["eid", "scheme"], how="anti")
    copied = _copied_declarations(built, city)
    assert missed.join(copied, on=["eid", "scheme"], how="anti").height == 0, missed
    clean = truth.join(copied, on=["eid", "scheme"], how="anti")
    hit = clean.join(found, on=["eid", "scheme"], how="semi")
    assert hit.height >= 0.99 * clean.height > 0


def test_export_one_row_per_person(built: Path, analysis: api.Analysis, tmp_path: Path) -> None:
    out = tmp_path / "coverage.csv"
    assert run(["export", "coverage", "--out", str(out), "--data-dir", str(built)]) == 0
    df = pl.read_csv(out, infer_schema_length=0)
    assert df.columns == ["person_key", "id18", "name", "county_code", "schemes", "flags"]
    persons = registry.persons(built, SYSTEM, reveal=True)
    assert df.height == persons.height and df["person_key"].n_unique() == df.height
    flags = set(df["flags"].drop_nulls().str.split(";").explode().to_list()) - {""}
    assert flags <= set(api.FLAGS) and {"uninsured_pension", "deceased_enrolled"} <= flags
    # flags agree with the lists
    unins = analysis.frames["uninsured"].filter(pl.col("pension_gap") == 1)["person_key"]
    flagged = df.filter(pl.col("flags").fill_null("").str.contains("uninsured_pension"))
    assert set(flagged["person_key"]) == set(unins)
    # nobody with an active pension is flagged uninsured for pension
    both = flagged.filter(pl.col("schemes").fill_null("").str.contains("pension"))
    assert both.height == 0


def test_gap_workbook_masked_chinese_frozen(built: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "gaps.xlsx"
    assert run(["gaps", "--kind", "uninsured", "--out", str(out), "--data-dir", str(built)]) == 0
    printed = capsys.readouterr().out
    ids = registry.persons(built, SYSTEM, reveal=True)["id18"].drop_nulls()
    assert not any(i in printed for i in ids.head(200).to_list())
    wb = load_workbook(out, read_only=False)
    assert "应保未保人员" in wb.sheetnames
    ws = wb["应保未保人员"]
    header = [c.value for c in ws[1]]
    assert "公民身份号码" in header and "原因推测" in header and "优先级" in header
    assert ws.freeze_panes == "A2"
    col = header.index("公民身份号码")
    values = [r[col] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert values and all(v is None or "*" in v for v in values)
    counties = [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
    known = [c for c in counties if c is not None]
    assert counties[: len(known)] == sorted(known)  # by county, unknown county last


def test_county_filter_and_csv(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "gaps.csv"
    code = "360424"
    assert run(["gaps", "--county", code, "--out", str(out), "--data-dir", str(built)]) == 0
    df = pl.read_csv(out, infer_schema_length=0)
    assert df.height > 0 and set(df["county_code"].drop_nulls()) == {code}
    assert not df["id18"].drop_nulls().str.contains(r"^\d{17}[\dX]$").any()


def test_bad_kind_is_usage_error(built: Path, tmp_path: Path) -> None:
    assert (
        run(["gaps", "--kind", "nope", "--out", str(tmp_path / "x.xlsx"), "--data-dir", str(built)])
        == 2
    )
    assert run(["gaps", "--out", str(tmp_path / "x.pdf"), "--data-dir", str(built)]) == 2


def test_statistics_consistent(analysis: api.Analysis) -> None:
    e = analysis.enrolled
    months = sorted(e["month"].unique())
    assert months[0] == "2017-01" and months[-1] == "2017-12"
    # city rows count each person once: never more than the sum of the counties
    city = e.filter(pl.col("county_code") == "city").rename({"enrolled": "city"})
    counties = (
        e.filter(pl.col("county_code") != "city")
        .group_by("scheme", "month")
        .agg(total=pl.col("enrolled").sum())
    )
    j = city.join(counties, on=["scheme", "month"])
    assert j.height > 0 and (j["city"] <= j["total"]).all()
    r = analysis.rates.filter(pl.col("county_code") == "city", pl.col("month") == "2017-12")
    assert 0.5 < r["pension_rate"][0] < 1 and 0.5 < r["medical_rate"][0] <= 1
    # December enrolment equals the as-of status
    dec = e.filter(pl.col("county_code") == "city", pl.col("month") == "2017-12")
    assert dec.height == 7


def test_actuals_seam(built: Path, analysis: api.Analysis, tmp_path: Path) -> None:
    found = default_actuals_source(built)
    sources = getattr(found, "sources", (found,))  # other modules may add their own sources
    src = next(s for s in sources if isinstance(s, CoverageActuals))
    assert default_actuals_source(tmp_path / "empty") is None
    frame = src.actuals(None, dt.date(2017, 12, 31))
    assert set(frame["indicator"]) == {
        "enrolled.employee_pension", "enrolled.medical", "enrolled.work_injury",
        "enrolled.maternity", "enrolled.unemployment", "enrolled.resident_pension",
    }  # fmt: skip
    city = dict(frame.filter(pl.col("unit") == "city").select("indicator", "value").iter_rows())
    dec = analysis.enrolled.filter(pl.col("county_code") == "city", pl.col("month") == "2017-12")
    by = dict(dec.select("scheme", "enrolled").iter_rows())
    assert int(city["enrolled.employee_pension"]) == by["employee_pension"]
    assert int(city["enrolled.medical"]) == by["employee_medical"] + by["resident_medical"]
    assert "360424" in set(frame["unit"])


def test_actuals_follow_the_unit_table(built: Path) -> None:
    """Units come from the region profile's area table (here a hand-made one): a county's
    retired codes count for it, a code the table maps elsewhere counts there, the city counts
    every record."""
    day = dt.date(2017, 12, 31)
    base = CoverageActuals(built, agencies={}).actuals(None, day)
    moved = CoverageActuals(
        built, units={"360424": "devzone", "360402": "360402"}, agencies={}
    ).actuals(None, day)
    assert set(moved["unit"]) == {"city", "devzone", "360402"}

    def values(frame: pl.DataFrame, unit: str) -> dict[str, str]:
        return dict(frame.filter(pl.col("unit") == unit).select("indicator", "value").iter_rows())

    assert values(moved, "devzone") == values(base, "360424")
    assert values(moved, "360402") == values(base, "360402")
    assert values(moved, "city") == values(base, "city")


def test_city_level_and_zone_enrolment_match_the_truth(built: Path, city: Path) -> None:
    """Every unit's enrolled.* equals the truth's distinct persons with an active record, by the
    record's managing agency (truth/enrollments.parquet ``agency_unit``: 市本级, the zone, else
    the county): 市本级 and 开发区 get the same actuals the counties get, and a record managed by
    them no longer counts for its county."""
    from canbao.coverage.actuals import INDICATOR_SCHEMES

    day = dt.date(2017, 12, 31)
    got = {
        (r["unit"], r["indicator"]): int(r["value"])
        for r in CoverageActuals(built).actuals(None, day).iter_rows(named=True)
    }
    active = pl.read_parquet(city / "truth" / "enrollments.parquet").filter(
        pl.col("status") == "active"
    )
    per = active.group_by("agency_unit", "scheme").agg(n=pl.col("pid").n_unique())
    expected: dict[tuple[str, str], int] = {}
    for ind, schemes in INDICATOR_SCHEMES.items():
        for unit, n in (
            per.filter(pl.col("scheme").is_in(schemes))
            .group_by("agency_unit")
            .agg(pl.col("n").sum())
            .iter_rows()
        ):
            expected[(unit, ind)] = n
    assert {u for u, _ in expected} >= {"city_level", "devzone"}
    assert expected[("city_level", "enrolled.employee_pension")] > 0
    assert expected[("devzone", "enrolled.work_injury")] > 0
    assert {k: v for k, v in got.items() if k[0] != "city"} == expected
    # the city counts each person once, whichever agency manages them
    for ind, schemes in INDICATOR_SCHEMES.items():
        by_scheme = active.filter(pl.col("scheme").is_in(schemes)).group_by("scheme")
        assert got[("city", ind)] == by_scheme.agg(pl.col("pid").n_unique())["pid"].sum(), ind


def test_county_by_name(built: Path) -> None:
    by_code = api.gap_lists(built, SYSTEM, kind="deceased", county="360424")
    for name in ("修水县", "修水", " 修水县 "):
        by_name = api.gap_lists(built, SYSTEM, kind="deceased", county=name)
        assert {k: v.height for k, v in by_name.items()} == {
            k: v.height for k, v in by_code.items()
        }
    with pytest.raises(UsageError, match="不存在"):
        api.gap_lists(built, SYSTEM, kind="deceased", county="火星县")


def test_monthly_counts_equal_status_at_each_month_end(built: Path) -> None:
    """The linear range counting equals the status rule evaluated at every month end."""
    import calendar

    from canbao.coverage import stats
    from canbao.coverage.status import record_status_sql

    with api.session(built, SYSTEM) as s:
        fast = stats.enrolled(s)
        for m in range(1, s.as_of.month):
            day = dt.date(s.as_of.year, m, calendar.monthrange(s.as_of.year, m)[1])
            slow = s.frame(
                f"""
                SELECT county_code, scheme, count(DISTINCT person_key) AS n FROM enrollments
                WHERE ({record_status_sql(f"DATE '{day.isoformat()}'")}) = 'active'
                GROUP BY county_code, scheme
                """
            )
            month = fast.filter(
                pl.col("month") == f"{day.year:04d}-{m:02d}", pl.col("county_code") != "city"
            )
            j = slow.join(
                month, on=["county_code", "scheme"], how="full", coalesce=True, nulls_equal=True
            )
            assert j.height > 0
            assert (j["n"].fill_null(0) == j["enrolled"].fill_null(0)).all(), m


def test_report_uses_registry_actuals(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "tongbao"
    args = ["report", "--plan", "jiujiang-2017", "--as-of", "2017-12-31", "--out", str(out)]
    assert run([*args, "--no-pdf", "--data-dir", str(built)]) == 0
    xlsx = next(out.glob("*.xlsx"))
    wb = load_workbook(xlsx, read_only=True)
    text = " ".join(
        str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if c
    )
    assert "参保登记库" in text
