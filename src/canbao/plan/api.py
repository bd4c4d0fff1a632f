"""Python API behind ``canbao plan …`` and ``canbao report`` (the CLI is a thin layer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from canbao.plan import catalog, xlsx_io
from canbao.plan.actuals import (
    ActualsMap,
    ActualsSource,
    GroupActualsMap,
    default_actuals_source,
    normalize_all,
)
from canbao.plan.indicators import indicator
from canbao.plan.model import Period, Plan
from canbao.plan.progress import compute_progress
from canbao.plan.report import ReportFiles, build_report, write_report
from canbao.plan.report import cases as case_section
from canbao.plan.report import subsidies as subsidy_section
from canbao.plan.units import plan_units
from canbao.profile import Profile, profile_for, remember
from canbao.store import Store
from canbao.warehouse.lock import writes_data_dir


def targets_json(plan: Plan) -> list[dict[str, object]]:
    """[{"unit", "indicator", "value", "period"[, "group"]}]: value in base measure (persons,
    yuan, fraction) as a JSON number (integers for persons/yuan when whole); ``group`` (a key
    group's code) only on key-group targets."""
    out: list[dict[str, object]] = []
    for t in plan.targets:
        v = t.value
        value: object = int(v) if v == v.to_integral_value() else float(v)
        row: dict[str, object] = {
            "unit": t.unit,
            "indicator": t.indicator,
            "value": value,
            "period": t.period,
        }
        if t.group is not None:
            row["group"] = t.group
        out.append(row)
    return out


@dataclass(frozen=True)
class ImportSummary:
    path: Path
    plan: Plan
    n_targets: int
    added: int
    replaced: int
    units: tuple[str, ...]
    period: str


@writes_data_dir("plan")
def import_task_table(
    xlsx: Path,
    data_dir: Path,
    plan_code: str | None = None,
    profile: Profile | None = None,
) -> ImportSummary:
    """Merge a 附件1 xlsx into the plan (stored or shipped; a new plan if neither) and store it.

    ``profile`` defaults to the data directory's (:func:`canbao.profile.profile_for`), and
    ``plan_code`` to the profile's default plan; the data directory then remembers the profile."""
    if profile is None:
        profile = profile_for(data_dir).profile
    plan_code = plan_code or catalog.default_plan(profile)
    if catalog.exists(plan_code, data_dir):
        base = catalog.load(plan_code, data_dir, profile)
    else:  # a new plan made of the sheet alone (the profile's units, calendar-year period)
        period = xlsx_io.read_targets(xlsx, units=plan_units(profile)).period
        year = int(period) if period.isdigit() else date.today().year
        base = Plan(
            code=plan_code,
            title=f"{plan_code}（由任务分解表导入）",
            period=Period(str(year), date(year, 1, 1), date(year, 12, 31), f"{year}年"),
            profile=profile,
        )
    merged, result, added, replaced = xlsx_io.import_into(base, xlsx)
    path = catalog.save(merged, data_dir)
    remember(data_dir, profile)
    return ImportSummary(
        path, merged, len(result.targets), added, replaced, result.units, result.period
    )


def make_report(
    plan: Plan,
    as_of: date,
    out_dir: Path,
    *,
    actuals: ActualsSource | None = None,
    data_dir: Path | None = None,
    illustrative: bool = False,
    pdf: bool = True,
    cases_store: Store | None = None,
) -> ReportFiles:
    """The 通报 of ``plan`` at ``as_of`` in ``out_dir``. With ``data_dir`` (or ``cases_store``,
    e.g. a PostgreSQL store) it has the 入户核查进度 section from the store's cases
    (:mod:`canbao.plan.report.cases`)."""
    source = actuals or default_actuals_source(data_dir, plan.profile)
    amap: ActualsMap = {}
    gmap: GroupActualsMap = {}
    label = ""
    if source is not None:
        amap, gmap = normalize_all(source.actuals(plan, as_of), as_of, source.label, plan.units)
        label = source.label
    progress = compute_progress(plan, amap, as_of, actuals_label=label, group_actuals=gmap)
    amounts = subsidy_section.amounts_for(plan, as_of, data_dir)  # the 争资 section's table
    figures = case_section.figures_for(plan, data_dir, store=cases_store)
    data = build_report(plan, progress, illustrative=illustrative, subsidy_amounts=amounts,
                        case_figures=figures)  # fmt: skip
    return write_report(data, out_dir, pdf=pdf)


def indicator_name(code: str) -> str:
    return indicator(code).name
