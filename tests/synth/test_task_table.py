"""The synthetic city's 附件1: targets at its own size, derived from its truth, with spread."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import polars as pl
from openpyxl import load_workbook

from canbao.plan import xlsx_io
from canbao.plan.units import plan_units
from canbao.profile import load_profile
from canbao.synth.task_table import FACTOR_RANGE, JITTER, MIN_GROUP_BASE
from tests.synth.conftest import manifest


def _rows(city: Path) -> list[dict[str, str]]:
    with (city / "truth" / "task_targets.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_manifest_names_the_task_table_and_it_imports(city: Path) -> None:
    entry = manifest(city)["task_table"]
    assert entry["plan"] == load_profile().default_plan and entry["period"] == "2017"
    path = city / entry["path"]
    assert path.is_file() and path.parent.name == "jihua"
    assert "示例数据" in str(load_workbook(path)["任务分解表"]["A1"].value)
    res = xlsx_io.read_targets(path, units=plan_units(load_profile()))
    assert res.period == "2017"
    want = {
        (r["unit"], r["indicator"], r["group"] or None): Decimal(r["target"]) for r in _rows(city)
    }
    assert {(t.unit, t.indicator, t.group): t.value for t in res.targets} == want


def test_enrolment_targets_come_from_the_truth_with_spread(city: Path) -> None:
    """Each unit's employee-pension target is its truth enrolment at the year's end (computed
    here from truth/enrollments.parquet) times its factor; units are ahead and behind."""
    e = pl.read_parquet(city / "truth" / "enrollments.parquet")
    unit = pl.col("agency_unit") if "agency_unit" in e.columns else pl.col("county_code")
    ep = e.filter((pl.col("status") == "active") & (pl.col("scheme") == "employee_pension"))
    truth = dict(ep.group_by(unit.alias("u")).agg(pl.col("pid").n_unique()).iter_rows())
    rows = [r for r in _rows(city) if r["indicator"] == "enrolled.employee_pension"]
    own = {r["unit"]: r for r in rows if not r["group"] and r["unit"] != "city"}
    assert {c.code for c in load_profile().counties} <= set(own)
    lo, hi = FACTOR_RANGE[0] * (1 - JITTER), FACTOR_RANGE[1] * (1 + JITTER)
    completion = []
    for u, r in own.items():
        assert int(r["base"]) == truth[u], u
        factor, target = float(r["factor"]), Decimal(r["target"])
        assert lo <= factor <= hi
        step = 10 if truth[u] * factor >= 1000 else 1
        assert abs(float(target) - truth[u] * factor) <= step / 2 + 1e-9
        completion.append(truth[u] / float(target))
    assert min(completion) < 0.95 and max(completion) > 1.05  # some behind, some ahead
    assert 0.84 <= min(completion) and max(completion) <= 1.13
    city_target = next(Decimal(r["target"]) for r in rows if r["unit"] == "city" and not r["group"])
    parts = sum(Decimal(r["target"]) for r in own.values())
    assert abs(city_target - parts) <= 10 * len(own)  # the city's target is the sum of the parts


def test_only_what_the_data_can_answer(city: Path) -> None:
    rows = _rows(city)
    inds = {r["indicator"] for r in rows}
    assert not {i for i in inds if i.startswith(("clearance_rate.", "subsidy_growth"))}
    assert "collected.resident_pension" not in inds  # no payments for resident pension
    assert {"collected.employee_pension", "new_arrears_ratio.private"} <= inds
    grouped = [r for r in rows if r["group"]]
    assert {r["group"] for r in grouped if r["unit"] == "city"} == {
        "park", "private", "flexible_worker", "land_expropriated", "village_cadre",
    }  # fmt: skip
    assert all(r["indicator"].startswith("enrolled.") for r in grouped)
    assert all(int(r["base"]) >= MIN_GROUP_BASE for r in grouped if r["unit"] != "city")
    ratios = [Decimal(r["target"]) for r in rows if r["indicator"].startswith("new_arrears")]
    assert ratios and all(Decimal("0.01") <= v < 1 and v % Decimal("0.005") == 0 for v in ratios)
