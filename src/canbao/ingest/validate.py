"""Which rows are quarantined and why; the codes of row warnings.

Quarantine is for rows nothing downstream can use. Everything that could still be a person or an
employer is *accepted* with warnings, because the registry links imperfect rows probabilistically:
a row with an invalid ID but a name, or a name but no ID, is accepted.
"""

from __future__ import annotations

import polars as pl

from canbao.ingest import kinds

QUARANTINE_REASONS = {
    "extra_fields": "字段数多于表头（可能含未加引号的分隔符），各列可能错位",
    "repeated_header": "表头在数据中重复出现（分页导出），不是数据行",
    "summary_row": "合计/制表人等说明行，不是数据行",
    "no_identity": "既没有可用的身份证号码，也没有姓名",
    "no_employer": "既没有统一社会信用代码/组织机构代码，也没有单位名称",
    "period_invalid": "缺少或无法识别费款所属期",
    "amount_invalid": "缺少或无法识别欠费金额",
    "amount_negative": "欠费金额为负数（欠费明细只列欠缴的金额）",
}
WARNINGS = {
    "id_missing": "缺少身份证号码",
    "id_invalid": "身份证号码无效（见 id_errors）",
    "name_missing": "缺少姓名",
    "birth_date_invalid": "出生日期无法识别",
    "birth_date_mismatch": "出生日期与身份证号码不一致",
    "sex_invalid": "性别无法识别",
    "sex_mismatch": "性别与身份证号码不一致",
    "credit_code_invalid": "统一社会信用代码/组织机构代码无效",
    "employer_missing": "缺少单位信息",
    "period_invalid": "费款所属期无法识别",
    "status_invalid": "参保状态无法识别",
    "scheme_invalid": "险种无法识别",
    "county_code_invalid": "行政区划代码无效",
    "ownership_invalid": "经济类型无法识别",
    "group_invalid": "人员类别无法识别",
    "benefit_invalid": "待遇状态无法识别（已置空，原值见 benefit_raw）",
    "park_invalid": "园区企业标志无法识别（已置空，原值见 park_raw）",
    "agency_code_unknown": "参保经办机构不在地区配置中（已保留原值，按行政区划计入区县）",
    "txn_id_invalid": "缴费流水号无法识别（如被 Excel 改成科学计数法），已置空，按记录内容去重",
    "txn_id_excel_number": "缴费流水号被 Excel 存为数字，超过 15 位的号码已失真，已置空，按记录内容去重",
    "arrears_as_of_invalid": "截止日期无法识别",
}
# kinds whose rows the contribution ledger places by 费款所属期: useless without one
PERIOD_KINDS = ("declaration", "payment", "arrears")
_SUMMARY_RE = (
    r"^(合计|总计|小计|共计|制表|填表|审核|复核|负责人|单位负责人|经办人|备注|说明|注[:：])"
)


def warning_label(code: str) -> str:
    if code in WARNINGS:
        return WARNINGS[code]
    field, _, what = code.rpartition("_")
    label = {"invalid": "无法识别", "partial": "只有年月（按当月1日计）"}.get(what, what)
    return f"{field} {label}"


def quarantine_reason(
    records: pl.DataFrame, original: pl.DataFrame, kind: str, extra_lines: pl.Series | None = None
) -> pl.Series:
    """One reason code (or null = accepted) per row; same row order as ``records``."""
    first_cell = (
        pl.coalesce([pl.col(c) for c in original.columns]) if original.width else pl.lit(None)
    )
    summary_text = original.select(
        first_cell.str.contains(_SUMMARY_RE).fill_null(False)
    ).to_series()
    conds: list[tuple[str, pl.Expr]] = []
    if extra_lines is not None:
        conds.append(("extra_fields", pl.lit(extra_lines.is_not_null())))
    if original.width >= 2:
        # a header line repeated inside the data (paged exports): most cells equal their header
        same = original.select(
            pl.sum_horizontal([(pl.col(c) == c).fill_null(False) for c in original.columns])
        ).to_series()
        filled = original.select(pl.sum_horizontal(pl.all().is_not_null())).to_series()
        conds.append(("repeated_header", pl.lit((same * 2 >= filled) & (same >= 2))))
    if kind in kinds.PERSON_KINDS:
        usable_id = (
            pl.col("id_norm").is_not_null()
            & ~pl.col("id_errors")
            .list.eval(pl.element().is_in(["empty", "length", "charset"]))
            .list.any()
        )
        name_summary = pl.col("name_norm").str.contains(_SUMMARY_RE).fill_null(False)
        conds.append(("summary_row", (pl.lit(summary_text) | name_summary) & ~usable_id))
        conds.append(("no_identity", ~usable_id & pl.col("name_norm").is_null()))
    else:
        has_code = pl.col("credit_code").is_not_null() | pl.col("org_code").is_not_null()
        name_summary = pl.col("employer_name_norm").str.contains(_SUMMARY_RE).fill_null(False)
        valid_code = pl.col("cc_valid").fill_null(False)
        conds.append(("summary_row", (pl.lit(summary_text) | name_summary) & ~valid_code))
        conds.append(("no_employer", ~has_code & pl.col("employer_name_norm").is_null()))
    if kind in PERIOD_KINDS:
        conds.append(("period_invalid", pl.col("period").is_null()))
    if kind == "arrears":
        conds.append(("amount_invalid", pl.col("amount").is_null()))
        conds.append(("amount_negative", pl.col("amount") < 0))
    expr: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    for code, cond in reversed(conds):
        expr = pl.when(cond).then(pl.lit(code)).otherwise(expr)
    return records.select(expr.alias("reason")).to_series()
