"""The ledger and the arrears list as people and other tools read them: money as yuan text with
exactly two decimals, dates ISO, ``estimated`` true/false, Chinese column labels for workbooks.
One place for the command line, the demo and the web workspace."""

from __future__ import annotations

import polars as pl

from canbao.collection import api
from canbao.collection.policy import ContributionPolicy
from canbao.ingest.kinds import OWNERSHIP, SCHEME_LABELS_ZH

LEDGER_MONEY = ("due", "paid", "balance", "late_fee")
ARREARS_LABELS = {
    "county_code": "区县代码",
    "employer_key": "单位主键",
    "credit_code": "统一社会信用代码",
    "employer_name": "单位名称",
    "ownership": "经济类型",
    "priority": "优先级",
    "schemes": "欠费险种",
    "arrears": "欠费金额(元)",
    "oldest_period": "最早欠费所属期",
    "days_past_due": "最长逾期天数",
    "ageing": "账龄",
    "periods": "欠费期数",
    "estimated_periods": "其中按110%核定期数",
    "late_fee": "滞纳金(元)",
    "credit": "多缴金额(元)",
    "agreement_status": "协议状态",
    "dunning_state": "催缴状态",
}
OWNERSHIP_ZH = {code: words[0] for code, words in OWNERSHIP.items()}


def arrears_labels(policy: ContributionPolicy) -> dict[str, str]:
    """Column labels of the arrears workbook, the ageing buckets' from the policy."""
    labels = dict(ARREARS_LABELS)
    labels.update({f"owed_{i + 1}": f"欠费{b.label}(元)" for i, b in enumerate(policy.ageing)})
    return labels


def ledger_text(frame: pl.DataFrame) -> pl.DataFrame:
    """The ledger as the export writes it: yuan text, ISO dates, estimated true/false."""
    return frame.select(api.LEDGER_EXPORT_COLUMNS).with_columns(
        *(api.yuan_column(c) for c in LEDGER_MONEY),
        pl.col("due_date").cast(pl.Utf8),
        pl.when(pl.col("estimated"))
        .then(pl.lit("true"))
        .otherwise(pl.lit("false"))
        .alias("estimated"),
    )


def arrears_text(frame: pl.DataFrame, people: bool) -> pl.DataFrame:
    """Money as yuan text; for a workbook (``people``) schemes and ownership in Chinese."""
    owed = [c for c in frame.columns if c.startswith("owed_")]
    out = frame.with_columns(
        *(api.yuan_column(c) for c in ("arrears", "late_fee", "credit", *owed))
    )
    if not people:
        return out
    schemes = pl.col("schemes")
    for code, label in SCHEME_LABELS_ZH.items():
        schemes = schemes.str.replace_all(code, label, literal=True)
    return out.with_columns(schemes, pl.col("ownership").replace(OWNERSHIP_ZH))
