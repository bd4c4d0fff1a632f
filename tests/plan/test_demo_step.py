"""The plan's demo step on a small synthetic city: its own 附件1 imported, the 通报 computed from
the ingested data — every actual checked against the city's truth, nothing random."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from canbao.plan import catalog
from canbao.plan.demo import city_task_table, run_plan_demo
from canbao.plan.key_groups import key_group
from canbao.profile import load_profile
from canbao.registry import api
from tests.registry.city import ingest, make_city

SRC = Path(__file__).resolve().parents[2] / "src" / "canbao"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    out = tmp_path_factory.mktemp("plan-demo")
    city = make_city(out, persons=3000, seed=11)  # OUT/city, as the demo lays it out
    ingest(city, out / "data")
    api.build(out / "data")
    return out, run_plan_demo(out, pdf=False)


def _truth_active(out: Path) -> pl.DataFrame:
    e = pl.read_parquet(out / "city" / "truth" / "enrollments.parquet")
    return e.filter(pl.col("status") == "active")


def _unit_col(frame: pl.DataFrame) -> pl.Expr:
    """The record's plan unit in the truth: its managing agency's when the city has them."""
    return pl.col("agency_unit") if "agency_unit" in frame.columns else pl.col("county_code")


def _report(where: dict[str, str]) -> Path:
    return Path(next(v for k, v in where.items() if "月度通报 Excel" in k))


def _names() -> dict[str, str]:
    from canbao.plan.units import plan_units

    return {u.name: u.code for u in plan_units(load_profile())}


def test_the_city_task_table_is_imported_into_the_data_directory(
    demo: tuple[Path, dict[str, str]],
) -> None:
    out, where = demo
    found = city_task_table(out / "city")
    assert found is not None
    table, as_of = found
    assert as_of == dt.date(2017, 12, 31)  # the city's data date (manifest as_of)
    assert str(table) in where.values()
    plan = catalog.load("jiujiang-2017", out / "data")
    rows = list(
        csv.DictReader((out / "city" / "truth" / "task_targets.csv").open(encoding="utf-8"))
    )
    want = {(r["unit"], r["indicator"], r["group"] or None): Decimal(r["target"]) for r in rows}
    got = {
        t.key[:2] + (t.group,): t.value
        for t in plan.targets
        if t.ind.cumulative and t.indicator.startswith(("enrolled.", "collected."))
    }
    assert got == {k: v for k, v in want.items() if k[1].startswith(("enrolled.", "collected."))}
    # the real city's size targets are gone: the city's employee pension is the demo city's
    city_ep = plan.target("city", "enrolled.employee_pension")
    assert city_ep is not None and city_ep.value < 3000
    # rates the data cannot answer stay from the plan document
    assert plan.target("city", "clearance_rate.private") is not None
    assert {g.code for g in plan.key_groups} == {
        "park", "private", "flexible_worker", "land_expropriated", "village_cadre",
    }  # fmt: skip


def test_actuals_are_the_truths(demo: tuple[Path, dict[str, str]]) -> None:
    """Every unit's employee-pension enrolment in the 通报 equals the distinct persons of the
    truth with an active record there; so do the flexible workers' (a key group)."""
    out, where = demo
    wb = load_workbook(_report(where), data_only=True)
    codes = _names()
    got: dict[str, int] = {}
    for row in wb["完成情况明细"].iter_rows(min_row=4, values_only=True):
        if row[1] == "城镇职工基本养老保险参保人数" and isinstance(row[5], int | float):
            got[codes[str(row[0])]] = round(float(row[5]) * 10_000)  # shown in 万人
    active = _truth_active(out)
    ep = active.filter(pl.col("scheme") == "employee_pension")
    truth = dict(ep.group_by(_unit_col(ep).alias("u")).agg(pl.col("pid").n_unique()).iter_rows())
    truth["city"] = ep["pid"].n_unique()
    counties = {c.code for c in load_profile().counties}
    assert counties <= set(got)
    assert got == {u: n for u, n in truth.items() if u in got}
    assert got["360424"] == truth["360424"] > 0  # 修水县, computed independently

    groups: dict[tuple[str, str], int] = {}
    for row in wb["重点群体"].iter_rows(min_row=4, values_only=True):
        if row[0] and isinstance(row[4], int):
            groups[(str(row[0]), codes[str(row[1])])] = row[4]
    flex = ep.filter(pl.col("person_type").str.contains("灵活就业"))
    by_unit = flex.group_by(_unit_col(flex).alias("u")).agg(pl.col("pid").n_unique())
    want = dict(by_unit.iter_rows()) | {"city": flex["pid"].n_unique()}
    name = key_group("flexible_worker").name
    shown = {u: n for (g, u), n in groups.items() if g == name}
    assert shown and shown == {u: want[u] for u in shown}


def test_the_report_says_what_it_is(demo: tuple[Path, dict[str, str]]) -> None:
    out, where = demo
    html = Path(where["月度通报 HTML"]).read_text("utf-8")
    title = re.search(r"<h1>(.*?)</h1>", html)
    assert title is not None and "示例数据" in title.group(1)
    assert "完成数来源：参保登记库" in html and "征缴台账" in html
    assert "重点群体扩面目标完成情况" in html and "综合完成率" in html
    wb = load_workbook(_report(where), data_only=True)
    detail = list(wb["完成情况明细"].iter_rows(min_row=4, values_only=True))
    clearance = [r for r in detail if r[0] == "全市" and r[1] == "民营私营企业清欠率"]
    assert clearance and clearance[0][5] not in (None, "无数据")  # the ledger answers it now
    ranks = [r[0] for r in wb["综合排名"].iter_rows(min_row=4, values_only=True) if r[0]]
    assert len(ranks) >= 10  # ranked on computed actuals
    manifest = json.loads((out / "city" / "manifest.json").read_text("utf-8"))
    assert f"截至{2017}年12月31日" in html and manifest["as_of"] == "2017-12-31"


def test_no_random_actuals_remain() -> None:
    """The demo's 通报 draws nothing at random: no source names the former illustrative
    actuals, and neither the demo steps nor the path from actuals to the report import
    ``random``."""
    for path in SRC.rglob("*.py"):
        assert "illustrative_actuals" not in path.read_text("utf-8"), path
    plan = SRC / "plan"
    path_to_report = [
        *SRC.rglob("demo.py"),
        plan / "actuals.py",
        plan / "api.py",
        plan / "progress.py",
        *plan.joinpath("report").glob("*.py"),
    ]
    for path in path_to_report:
        text = path.read_text("utf-8")
        assert not re.search(r"^\s*(import random|from random )", text, re.M), path
        assert not re.search(r"default_rng|np\.random|numpy\.random", text), path
