"""The plan's demo step: the 附件1 template, the synthetic city's own 附件1 imported into the
demo's data directory, and the 通报 with actuals computed from the ingested data.

The synthetic city writes a 附件1 at its own size (:mod:`canbao.synth.task_table`, named in its
manifest under ``task_table``). The step stores the profile's plan document (leadership, groups,
phases, the rate targets, which do not depend on the city's size) without its city-size targets
(enrolment and collection: the real city's, a hundred times the demo's), imports the synthetic
附件1 into it, and reports as of the city's data date with the actuals of the data directory
(:func:`canbao.plan.actuals.default_actuals_source`): nothing is drawn at random. Targets the
data cannot answer (clearance rates, …) show 无数据.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

from canbao.plan import api, catalog, sample_annexes, xlsx_io
from canbao.plan.model import Plan
from canbao.profile import profile_for
from canbao.registry import snapshot


def city_task_table(city: Path) -> tuple[Path, date] | None:
    """The synthetic city's 附件1 and the date of its data (the manifest's ``as_of``)."""
    manifest = city / "manifest.json"
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text(encoding="utf-8"))
    entry = data.get("task_table")
    if not isinstance(entry, dict) or not data.get("as_of"):
        return None
    path = city / str(entry["path"])
    return (path, date.fromisoformat(str(data["as_of"]))) if path.is_file() else None


def without_size_targets(plan: Plan) -> Plan:
    """The plan with its targets of enrolment and collection removed (counts and money are the
    real city's); its rates, groups, phases and document stay."""
    return replace(plan, targets=tuple(t for t in plan.targets if not t.ind.cumulative))


def run_plan_demo(out: Path, *, pdf: bool = True) -> dict[str, str]:
    """Writes under ``out/plan/`` and stores the plan in ``out/data`` (the data directory the
    earlier steps built); returns "where to look" lines."""
    base = out / "plan"
    base.mkdir(parents=True, exist_ok=True)
    where: dict[str, str] = {}
    template = xlsx_io.write_template(base / "任务分解表-模板.xlsx")
    where["附件1 任务分解表空白模板 (task table template)"] = str(template)

    data_dir = out / "data"
    task = city_task_table(out / "city")
    if task is None or snapshot.current(data_dir) is None:
        return where  # no synthetic city or no registry: nothing to report on
    table, as_of = task
    profile = profile_for(data_dir).profile
    plan_code = catalog.default_plan(profile)
    catalog.save(without_size_targets(catalog.shipped(plan_code, profile)), data_dir)
    summary = api.import_task_table(table, data_dir, plan_code, profile)
    where["合成城市的任务分解表（按其规模由真值推算，已导入）(synthetic 附件1, imported)"] = str(
        table
    )
    where["导入后的计划 (stored plan JSON)"] = str(summary.path)
    # 附件3 and the 争资 register, synthetic from the city's truth, imported into the same data
    # directory: the plan then has its 附件3 targets, and the 通报 reads the register from
    # make_report's data_dir (keep the two the same directory)
    annexes = sample_annexes.import_demo_annexes(out / "city", base, data_dir, plan_code, profile)
    where.update(annexes.where)
    summary = replace(summary, plan=annexes.plan)

    # actuals from the data directory: enrolment, key groups, collection (nothing random)
    files = api.make_report(
        summary.plan, as_of, base / "通报", data_dir=data_dir, illustrative=True, pdf=pdf
    )
    where["月度通报 Excel，完成数由导入数据计算 (monthly report xlsx, computed actuals)"] = str(
        files.xlsx
    )
    where["月度通报 HTML"] = str(files.html)
    if files.pdf:
        where["月度通报 PDF"] = str(files.pdf)
    elif files.pdf_error is not None:
        where["月度通报 PDF（未生成 not generated）"] = files.pdf_error.message_zh
    return where
