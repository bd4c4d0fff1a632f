"""The synthetic city's 附件1 (任务分解表): targets at the city's own size, derived from its truth.

A real 附件1 comes from the bureau; the synthetic city writes one that fits its few thousand
residents, so the demo's 通报 compares its own data with targets of the same scale. For every
plan unit of the region profile (a county; 市本级 and zones when the truth maps records to them)
and the whole city:

- ``enrolled.*`` — the truth's enrolment at the end of the year (distinct persons with an active
  record, by the record's county or pooling area; ``enrolled.medical`` = employee + resident
  medical), times the unit's factor;
- ``collected.*`` (not resident pension: no payments) — the year's amount due (应缴) of the
  unit's employers, times the unit's factor, in yuan rounded to 100;
- ``new_arrears_ratio.private`` / ``.public`` — a ceiling around the unit's true share of the
  year's amount due left unpaid at the year's end: the true share times a factor drawn in
  [0.8, 1.4], rounded to 0.5 % and at least 1 %;
- key-group targets (重点群体, :mod:`canbao.plan.key_groups`): the enrolment of 园区企业,
  民营私企 and 灵活就业 in employee pension and of 失地农民 and 村干部 in resident pension, times
  the unit's factor, for units with at least :data:`MIN_GROUP_BASE` such persons and the city.

The unit's factor is drawn once per unit in [0.90, 1.17] (seeded), with a ±2 % jitter per
indicator: at the end of the year some units are ahead of their targets and some behind, by
about −15 % to +10 % (completion ≈ 1 ÷ factor); the city's target is the sum of its parts.
Counts are rounded to 10 persons from 1,000 up. Clearance rates and subsidy growth get no target
(the data cannot answer them).

Written next to the extracts (``jihua/renwu_fenjie_<year>.xlsx``, the 附件1 layout of
:func:`canbao.plan.xlsx_io.write_template`, title marked 示例数据), with the bases and factors in
``truth/task_targets.csv``; the manifest names it under ``task_table``.
"""

from __future__ import annotations

import csv
import re
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import polars as pl

from canbao.plan import catalog, xlsx_io
from canbao.plan.model import Period, Plan, Target
from canbao.plan.units import CITY, plan_units
from canbao.profile import Profile, default_profile
from canbao.synth._rng import stream
from canbao.synth.config import SynthConfig
from canbao.synth.insurance import Reality

PATH = "jihua/renwu_fenjie_{year}.xlsx"
TRUTH = "truth/task_targets.csv"
SOURCE = "示例：合成城市真值推算"
FACTOR_RANGE = (0.90, 1.17)
JITTER = 0.02
MIN_GROUP_BASE = 5
ENROLLED = {
    "enrolled.employee_pension": ("employee_pension",),
    "enrolled.medical": ("employee_medical", "resident_medical"),
    "enrolled.work_injury": ("work_injury",),
    "enrolled.maternity": ("maternity",),
    "enrolled.unemployment": ("unemployment",),
    "enrolled.resident_pension": ("resident_pension",),
}
COLLECTED = {
    "employee_pension": "collected.employee_pension",
    "employee_medical": "collected.medical",
    "work_injury": "collected.work_injury",
    "maternity": "collected.maternity",
    "unemployment": "collected.unemployment",
}
ARREARS_GROUP = {
    "private": "private",
    "individual": "private",
    "state": "public",
    "collective": "public",
    "public_institution": "public",
}
GROUP_SCHEME = {
    "park": "employee_pension",
    "private": "employee_pension",
    "flexible_worker": "employee_pension",
    "land_expropriated": "resident_pension",
    "village_cadre": "resident_pension",
}


@dataclass(frozen=True)
class Base:
    """One target's truth: unit × indicator (× group) → base value (persons, fen or ratio)."""

    unit: str
    indicator: str
    group: str | None
    base: float


def _unit_of(frame: pl.DataFrame, area: dict[str, str]) -> pl.DataFrame:
    """``frame`` + ``unit``: its managing agency's unit (``agency_unit``) when the city has
    agencies, else its county or pooling area through the profile's area table."""
    key = pl.col("county_code")
    if "agency_unit" in frame.columns:
        key = pl.coalesce("agency_unit", "county_code")
    return frame.with_columns(
        unit=key.replace_strict(area, default=None, return_dtype=pl.Utf8)
    ).filter(pl.col("unit").is_not_null())


def _active(reality: Reality) -> pl.DataFrame:
    """Active records at the year's end with their agency (the employer's, else the county's)."""
    enr = reality.enrollments.filter(pl.col("status") == "active")
    cols = ["pid", "scheme", "county_code", "eid", "person_type"]
    if "agency_unit" in enr.columns:
        return enr.select(*cols, "agency_unit")
    if "agency_unit" in reality.employers.columns:
        ag = reality.employers.select("eid", "agency_unit")
        return enr.select(cols).join(ag, on="eid", how="left")
    return enr.select(cols)


def enrolment_bases(reality: Reality, area: dict[str, str]) -> list[Base]:
    per = (
        _unit_of(_active(reality), area).group_by("unit", "scheme").agg(n=pl.col("pid").n_unique())
    )
    out = []
    for ind, schemes in ENROLLED.items():
        sub = (
            per.filter(pl.col("scheme").is_in(list(schemes)))
            .group_by("unit")
            .agg(pl.col("n").sum())
        )
        out += [Base(u, ind, None, float(n)) for u, n in sub.iter_rows() if n]
    return out


def _payments(reality: Reality, area: dict[str, str], year: int) -> pl.DataFrame:
    agency = ["agency_unit"] if "agency_unit" in reality.employers.columns else []
    emp = reality.employers.select("eid", "county_code", "ownership", *agency)
    end = date(year, 12, 31)
    pay = reality.payments.join(emp, on="eid", how="left").with_columns(
        received=pl.when(pl.col("paid_date").is_not_null() & (pl.col("paid_date") <= end))
        .then(pl.col("paid"))
        .otherwise(0)
    )
    return _unit_of(pay, area)


def collection_bases(reality: Reality, area: dict[str, str], year: int) -> list[Base]:
    pay = _payments(reality, area, year)
    due = pay.filter(pl.col("scheme").is_in(list(COLLECTED))).group_by("unit", "scheme")
    out = [
        Base(u, COLLECTED[s], None, float(fen))
        for u, s, fen in due.agg(pl.col("due").sum()).iter_rows()
        if fen
    ]
    owed = (
        pay.with_columns(grp=pl.col("ownership").replace_strict(ARREARS_GROUP, default=None))
        .filter(pl.col("grp").is_not_null())
        .group_by("unit", "grp")
        .agg(due=pl.col("due").sum(), owed=(pl.col("due") - pl.col("received")).clip(0).sum())
    )
    city = owed.group_by("grp").agg(pl.col("due").sum(), pl.col("owed").sum())
    for u, g, d, o in owed.iter_rows():
        if d:
            out.append(Base(u, f"new_arrears_ratio.{g}", None, o / d))
    for g, d, o in city.iter_rows():
        if d:
            out.append(Base(CITY, f"new_arrears_ratio.{g}", None, o / d))
    return out


def group_bases(reality: Reality, area: dict[str, str], year: int) -> list[Base]:
    act = _active(reality)
    emp = reality.employers.select("eid", "park", "ownership")
    end = date(year, 12, 31)
    sp = reality.special.filter(
        (pl.col("start_date") <= end) & (pl.col("end_date").is_null() | (pl.col("end_date") > end))
    )
    with_emp = act.join(emp, on="eid", how="inner")
    members = {
        "park": with_emp.filter(pl.col("park")),
        "private": with_emp.filter(pl.col("ownership").is_in(["private", "individual"])),
        "flexible_worker": act.filter(pl.col("person_type").str.contains("灵活就业")),
        "land_expropriated": act.join(
            sp.filter(pl.col("group") == "land_expropriated").select("pid").unique(), on="pid"
        ),
        "village_cadre": act.join(
            sp.filter(pl.col("group") == "village_cadre").select("pid").unique(), on="pid"
        ),
    }
    out = []
    for g, frame in members.items():
        scheme = GROUP_SCHEME[g]
        per = (
            _unit_of(frame.filter(pl.col("scheme") == scheme), area)
            .group_by("unit")
            .agg(n=pl.col("pid").n_unique())
        )
        out += [Base(u, f"enrolled.{scheme}", g, float(n)) for u, n in per.iter_rows() if n]
    return out


def _round(value: float, measure: str) -> Decimal:
    v = Decimal(repr(value))
    if measure == "persons":
        step = Decimal(10) if v >= 1000 else Decimal(1)
    elif measure == "yuan":
        step = Decimal(100)
    else:
        step = Decimal("0.005")
    return (v / step).to_integral_value(ROUND_HALF_UP) * step


def _targets(
    bases: list[Base], factors: dict[str, float], rng: np.random.Generator, period: str
) -> tuple[list[Target], list[dict[str, object]]]:
    """Targets and their truth rows; the city's cumulative targets are the sums of the parts."""
    targets: list[Target] = []
    rows: list[dict[str, object]] = []
    sums: dict[tuple[str, str | None], float] = {}
    for b in sorted(bases, key=lambda b: (b.indicator, b.group or "", b.unit)):
        ratio = b.indicator.startswith("new_arrears_ratio.")
        if ratio:
            factor = float(rng.uniform(0.8, 1.4))
            value = max(Decimal("0.01"), _round(b.base * factor, "ratio"))
        else:
            factor = factors[b.unit] * float(rng.uniform(1 - JITTER, 1 + JITTER))
            raw = b.base * factor / (100 if b.indicator.startswith("collected.") else 1)
            key = (b.indicator, b.group)
            sums[key] = sums.get(key, 0.0) + raw
            if b.group is not None and b.base < MIN_GROUP_BASE:
                continue
            value = _round(raw, "yuan" if b.indicator.startswith("collected.") else "persons")
        targets.append(Target(b.unit, b.indicator, period, value, SOURCE, b.group))
        rows.append(_truth_row(b, factor, value))
    for (ind, group), total in sorted(sums.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        measure = "yuan" if ind.startswith("collected.") else "persons"
        value = _round(total, measure)
        targets.append(Target(CITY, ind, period, value, SOURCE, group))
        rows.append(_truth_row(Base(CITY, ind, group, float("nan")), float("nan"), value))
    return targets, rows


def _truth_row(b: Base, factor: float, value: Decimal) -> dict[str, object]:
    return {
        "unit": b.unit,
        "indicator": b.indicator,
        "group": b.group or "",
        "base": "" if b.base != b.base else (round(b.base, 6) if b.base < 1 else int(b.base)),
        "factor": "" if factor != factor else round(factor, 4),
        "target": str(value),
    }


def _deterministic(path: Path, year: int) -> None:
    """Same seed, same bytes: the workbook's dates (document properties, zip entries) are set to
    a fixed day of the plan year instead of the time of writing."""
    stamp = f"{year}-06-28T00:00:00Z"
    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    tmp = path.with_name(f".{path.name}.part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":
                text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp, data.decode("utf-8"))
                data = text.encode("utf-8")
            z.writestr(zipfile.ZipInfo(name, (year, 6, 28, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    tmp.replace(path)


def write_task_table(
    root: Path, cfg: SynthConfig, reality: Reality, profile: Profile | None = None
) -> dict[str, str]:
    """Write the 附件1 and its truth; returns the manifest's ``task_table`` entry."""
    profile = profile or default_profile()
    area = profile.area_units() | {u.code: u.code for u in plan_units(profile)}
    rng = stream(cfg.seed, "task_table")
    units = [u.code for u in plan_units(profile) if u.code != CITY]
    factors = {u: float(rng.uniform(*FACTOR_RANGE)) for u in units}
    bases = (
        enrolment_bases(reality, area)
        + collection_bases(reality, area, cfg.year)
        + group_bases(reality, area, cfg.year)
    )
    period = str(cfg.year)
    targets, rows = _targets(bases, factors, rng, period)
    plan = Plan(
        code=catalog.default_plan(profile) if profile.default_plan else f"{profile.name}-{period}",
        title=f"{period}年度{profile.city.name}社会保险扩面征缴任务分解表（示例数据）",
        period=Period(period, date(cfg.year, 1, 1), date(cfg.year, 12, 31), f"{period}年"),
        profile=profile,
    )
    plan, _, _ = plan.with_targets(targets)
    rel = PATH.format(year=cfg.year)
    title = xlsx_io.default_title(period, profile) + "（示例数据：由合成城市真值推算，非真实任务）"
    _deterministic(xlsx_io.write_template(root / rel, plan, title=title), cfg.year)
    truth = root / TRUTH
    truth.parent.mkdir(parents=True, exist_ok=True)
    with truth.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["unit", "indicator", "group", "base", "factor", "target"])
        w.writeheader()
        w.writerows(rows)
    return {"path": rel, "plan": plan.code, "period": period, "kind": "附件1 任务分解表"}
