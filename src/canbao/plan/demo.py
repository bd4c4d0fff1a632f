"""The plan's demo step: template, a synthetic 附件1, illustrative actuals and the 通报."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from canbao import outputs
from canbao.plan import api, catalog, sample, xlsx_io
from canbao.plan.actuals import FileActuals
from canbao.plan.model import Plan
from canbao.profile import CITY, CITY_LEVEL, default_profile

DEMO_AS_OF = date(2017, 9, 30)


def run_plan_demo(out: Path, *, pdf: bool = True) -> dict[str, str]:
    """Writes under ``out/plan/``; returns "where to look" lines."""
    base = out / "plan"
    base.mkdir(parents=True, exist_ok=True)
    where: dict[str, str] = {}
    template = xlsx_io.write_template(base / "任务分解表-模板.xlsx")
    where["附件1 任务分解表空白模板 (task table template)"] = str(template)

    profile = default_profile()
    plan_code = catalog.default_plan(profile)
    shipped = catalog.shipped(plan_code, profile)
    split, _, _ = shipped.with_targets(sample.synthetic_task_table(shipped))
    # the synthetic 附件1 holds only the county rows, as a county-level task table would
    counties = Plan(
        code=split.code,
        title=split.title,
        period=split.period,
        targets=tuple(t for t in split.targets if t.unit not in (CITY, CITY_LEVEL)),
        profile=profile,
    )
    table = xlsx_io.write_template(
        base / "任务分解表-示例数据.xlsx",
        counties,
        title=xlsx_io.default_title(split.period.code, profile)
        + "（示例数据：按人口比例拆分，非真实任务）",
    )
    data_dir = base / "data"
    summary = api.import_task_table(table, data_dir, plan_code, profile)
    where["示例任务分解表（合成，已导入）(synthetic 附件1, imported)"] = str(table)
    where["导入后的计划 (stored plan JSON)"] = str(summary.path)

    actuals = sample.illustrative_actuals(summary.plan, DEMO_AS_OF)
    actuals_csv = base / "完成数-示例数据.csv"
    outputs.write_csv(
        actuals.rename(
            {"unit": "单位", "indicator": "指标", "value": "完成数", "as_of": "截至日期"}
        ),
        actuals_csv,
    )
    where["示例完成数（合成）(illustrative actuals CSV)"] = str(actuals_csv)
    files = api.make_report(
        summary.plan,
        DEMO_AS_OF,
        base / "通报",
        actuals=FileActuals(actuals_csv, "示例数据"),
        illustrative=True,
        pdf=pdf,
    )
    where["月度通报 Excel (monthly report xlsx)"] = str(files.xlsx)
    where["月度通报 HTML"] = str(files.html)
    if files.pdf:
        where["月度通报 PDF"] = str(files.pdf)
    elif files.pdf_error is not None:
        where["月度通报 PDF（未生成 not generated）"] = files.pdf_error.message_zh
    return where
