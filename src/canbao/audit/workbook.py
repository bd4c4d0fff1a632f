"""The audit plan as people read it: an xlsx through the one safe writer
(:func:`canbao.outputs.write_workbook`) with Chinese headers, money as yuan text.

Sheets: 稽核对象 (the targets, ranked per county, with the score, the money at stake, the
ability to pay and the main reasons), 评分依据 (every contribution of every target: signal,
value, points — they add up to the score), 涉及金额 (per target, scheme and basis: months,
persons, base gap, amount), 未列入 (employers that would have been listed and why not) and
说明 (the parameters). No personal data: employers only.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from canbao import outputs
from canbao.audit.targets import AuditPlan
from canbao.audit.weights import Weights
from canbao.collection.api import yuan_column
from canbao.collection.exports import OWNERSHIP_ZH
from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.standards import divisions

TARGET_LABELS = {
    "county_code": "区县代码",
    "county_name": "区县",
    "rank": "序号",
    "employer_key": "单位主键",
    "credit_code": "统一社会信用代码",
    "employer_name": "单位名称",
    "ownership": "经济类型",
    "industry": "行业",
    "staff": "个税发薪人数(最多月)",
    "score": "风险分",
    "money": "涉及金额合计(元)",
    "money_under": "少报人数基数涉及金额(元)",
    "money_selective": "未参加险种涉及金额(元)",
    "months": "涉及月数",
    "persons": "涉及人数",
    "ability": "缴费能力",
    "ability_notes": "缴费能力依据",
    "reasons": "主要风险（得分）",
}
CONTRIBUTION_LABELS = {
    "employer_key": "单位主键",
    "employer_name": "单位名称",
    "signal_zh": "风险信号",
    "value": "信号值",
    "unit": "单位",
    "points": "得分",
}
MONEY_LABELS = {
    "employer_key": "单位主键",
    "employer_name": "单位名称",
    "scheme_zh": "险种",
    "basis_zh": "依据",
    "months": "月数",
    "persons": "人数",
    "first_period": "起始所属期",
    "last_period": "截止所属期",
    "base_gap": "少报或未申报的基数合计(元)",
    "amount": "应补缴费(元)",
}
EXCLUDED_LABELS = {
    "county_code": "区县代码",
    "employer_key": "单位主键",
    "credit_code": "统一社会信用代码",
    "employer_name": "单位名称",
    "score": "风险分",
    "money_under": "少报涉及金额(元)",
    "excluded_reason": "未列入原因",
}
BASIS_ZH = {"under_reporting": "少报人数或基数", "selective": "未参加该险种"}


def _county_name() -> pl.Expr:
    return (
        pl.col("county_code")
        .map_elements(lambda c: divisions.name_of(c) or "", return_dtype=pl.Utf8)
        .alias("county_name")
    )


def target_rows(plan: AuditPlan) -> pl.DataFrame:
    """The targets as the workbook shows them (money as yuan text)."""
    return plan.targets.with_columns(
        _county_name(),
        pl.col("ownership").replace(OWNERSHIP_ZH),
        *(yuan_column(c) for c in ("money", "money_under", "money_selective")),
    ).select(list(TARGET_LABELS))


def contribution_rows(plan: AuditPlan, w: Weights) -> pl.DataFrame:
    names = plan.targets.select("employer_key", "employer_name", "county_code", "rank")
    labels = {k: v.label for k, v in w.signals.items()}
    units = {k: v.unit for k, v in w.signals.items()}
    return (
        plan.contributions.join(names, on="employer_key")
        .sort(["county_code", "rank", "points"], descending=[False, False, True])
        .with_columns(
            pl.col("signal").replace_strict(labels, default=pl.col("signal")).alias("signal_zh"),
            pl.col("signal").replace_strict(units, default="").alias("unit"),
            pl.col("value").round(2),
        )
        .select(list(CONTRIBUTION_LABELS))
    )


def money_rows(plan: AuditPlan) -> pl.DataFrame:
    names = plan.targets.select("employer_key", "employer_name", "county_code", "rank")
    return (
        plan.money.join(names, on="employer_key")
        .sort(["county_code", "rank", "basis", "scheme"])
        .with_columns(
            pl.col("scheme").replace(SCHEME_LABELS_ZH).alias("scheme_zh"),
            pl.col("basis").replace(BASIS_ZH).alias("basis_zh"),
            yuan_column("base_gap"),
            yuan_column("amount"),
        )
        .select(list(MONEY_LABELS))
    )


def notes(plan: AuditPlan, w: Weights) -> pl.DataFrame:
    p = plan.params
    rows = [
        ("每个区县列入户数", str(p.get("per_county", ""))),
        ("最低风险分", str(p.get("min_score", ""))),
        ("区县", str(p.get("county") or "全部（按查看人范围）")),
        ("参与评分的单位数", str(p.get("employers", ""))),
        ("稽核对象数", str(plan.targets.height)),
        ("权重文件", str(p.get("weights", ""))),
        ("排除规则", f"近{w.plan.lookback_months}个月内已稽核的单位；"
                    "已移送劳动监察或申请强制执行的单位"),
        ("涉及金额", "少报人数基数：各月个税工资（按基数上下限）超过申报基数的部分 × 该险种费率"
                   "（单位+个人）；未参加险种：个税工资基数 × 该险种费率；按月四舍五入到分"),
    ]  # fmt: skip
    return pl.DataFrame(rows, schema={"item": pl.Utf8, "value": pl.Utf8}, orient="row")


def write_plan(plan: AuditPlan, w: Weights, out: Path) -> outputs.WriteSummary:
    """The plan as xlsx (or the targets alone as CSV) through the safe writer."""
    if out.suffix.lower() == ".csv":
        return outputs.write_csv(target_rows(plan), out)
    if out.suffix.lower() != ".xlsx":
        from canbao.errors import UsageError

        raise UsageError(f"稽核计划只能导出为 .xlsx 或 .csv：{out.name}", f"bad suffix {out}")
    labels = {**TARGET_LABELS, **CONTRIBUTION_LABELS, **MONEY_LABELS, **EXCLUDED_LABELS,
              "item": "项目", "value": "内容"}  # fmt: skip
    excluded = plan.excluded.with_columns(yuan_column("money_under"))
    sheets = {
        "稽核对象": target_rows(plan),
        "评分依据": contribution_rows(plan, w).rename({"value": "signal_value"}),
        "涉及金额": money_rows(plan),
        "未列入": excluded,
        "说明": notes(plan, w),
    }
    labels["signal_value"] = "信号值"
    return outputs.write_workbook(sheets, out, labels=labels)
