"""Work lists for county staff: masked IDs and phones, Chinese headers, frozen header row,
sorted by county, township, segment and priority; written as xlsx (one sheet per list) or csv
(all lists in one table with a ``list`` column)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from canbao import outputs
from canbao.coverage.segments import SEGMENTS_ZH
from canbao.errors import UsageError
from canbao.ingest.kinds import OWNERSHIP, SCHEME_LABELS_ZH
from canbao.standards import masking
from canbao.standards.divisions import name_of

LIST_TITLES_ZH = {
    "uninsured": "应保未保人员",
    "missing_employee_pension": "有工资未参职工养老",
    "identity_to_verify": "身份待核实",
    "presumed_students": "推定在校学生",
    "duplicates": "重复参保",
    "deceased": "死亡仍参保",
    "unregistered_employers": "未参保登记单位",
    "under_reporters": "少报人数或基数单位",
    "headcount_months": "人数基数按月比对",
    "selective_employers": "选择性参保单位",
    "land_farmers_uninsured": "被征地农民未参养老",
}

COLUMNS_ZH = {
    "list": "清单",
    "county_code": "区县代码",
    "county_name": "区县",
    "township": "乡镇(街道)",
    "segment": "人群类别",
    "priority": "优先级",
    "gap": "缺口",
    "reason": "原因推测",
    "person_key": "人员主键",
    "other_person_key": "疑似同一人主键",
    "id18": "公民身份号码",
    "name": "姓名",
    "sex": "性别",
    "age": "年龄",
    "age_band": "年龄段",
    "address": "住址",
    "phone": "联系电话",
    "employer_key": "单位主键",
    "employer_name": "单位名称",
    "employer_credit_code": "统一社会信用代码",
    "employer_county": "单位所在区县",
    "credit_code": "统一社会信用代码",
    "last_period": "最近个税所属期",
    "pension_gap": "养老缺口",
    "medical_gap": "医疗缺口",
    "duplicate_kind": "重复类型",
    "kind": "类型代码",
    "schemes": "险种",
    "counties": "参保地",
    "n_records": "记录数",
    "scheme": "险种",
    "scheme_county": "参保地",
    "death_date": "死亡日期",
    "receiving": "领取待遇",
    "staff": "最多月工资人数",
    "person_months": "个税人月数",
    "tax_months": "个税月数",
    "first_period": "最早所属期",
    "wages": "工资总额(元)",
    "declared_months": "申报月数",
    "in_business_registry": "市场主体登记",
    "ownership": "经济类型",
    "tax_person_months": "个税人月数",
    "declared_person_months": "申报人月数",
    "tax_base": "个税工资基数(元)",
    "declared_base": "申报基数(元)",
    "months_short": "少报月数",
    "max_gap": "单月最多少报人数",
    "under_kind": "少报类型",
    "period": "所属期",
    "tax_headcount": "个税人数",
    "declared_headcount": "申报人数",
    "base_gap": "基数差额(元)",
    "n_schemes": "申报险种数",
    "declared_schemes": "已申报险种",
    "missing_schemes": "未申报险种",
    "land_since": "被征地农民认定日期",
}

MONEY_COLUMNS = ("wages", "tax_base", "declared_base", "base_gap")
PERSON_SORT = ("county_code", "township", "segment", "priority")


def present(df: pl.DataFrame) -> pl.DataFrame:
    """Mask personal numbers, add county and segment names, sort for field work."""
    out = df
    out = masking.mask_frame(out)
    if "segment" in out.columns:
        out = out.with_columns(pl.col("segment").replace(SEGMENTS_ZH))
    if "sex" in out.columns:
        out = out.with_columns(pl.col("sex").replace({"M": "男", "F": "女"}))
    if "ownership" in out.columns:
        owned = {k: v[0] for k, v in OWNERSHIP.items()}
        out = out.with_columns(pl.col("ownership").replace(owned))
    if "scheme" in out.columns:
        out = out.with_columns(pl.col("scheme").replace(SCHEME_LABELS_ZH))
    for c in ("schemes", "declared_schemes"):  # code lists joined by ; or |
        if c in out.columns:
            words = (
                pl.col(c)
                .str.split(";")
                .list.eval(
                    pl.element()
                    .str.split("|")
                    .list.eval(pl.element().replace(SCHEME_LABELS_ZH))
                    .list.join("+")
                )
            )
            out = out.with_columns(words.list.join("；").alias(c))
    if "county_code" in out.columns:
        codes = out["county_code"].drop_nulls().unique().to_list()
        names = {c: name_of(c) or c for c in codes if c != "city"}
        out = out.with_columns(
            county_name=pl.col("county_code").replace_strict(names, default=None)
        )
    for c in MONEY_COLUMNS:  # fen → yuan text with two decimals (exact, no float)
        if c in out.columns and out.schema[c].is_numeric():
            v = pl.col(c).cast(pl.Int64)
            out = out.with_columns(
                pl.concat_str(
                    pl.when(v < 0).then(pl.lit("-")).otherwise(pl.lit("")),
                    (v.abs() // 100).cast(pl.Utf8),
                    pl.lit("."),
                    (v.abs() % 100).cast(pl.Utf8).str.zfill(2),
                ).alias(c)
            )
    keys = [c for c in PERSON_SORT if c in out.columns]
    if keys:
        out = out.sort(keys, nulls_last=True)
    front = [
        c
        for c in ("county_code", "county_name", "township", "segment", "priority")
        if c in out.columns
    ]
    return out.select(front + [c for c in out.columns if c not in front])


def write(lists: dict[str, pl.DataFrame], out: Path) -> outputs.WriteSummary:
    """Write the lists: xlsx (a sheet per list, Chinese headers, frozen header) or csv (one
    table with a ``list`` column), through the safe writer (no formulas, no silent cuts)."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise UsageError(
            f"不支持的清单格式：{out.suffix}（可用 .xlsx / .csv）",
            f"unsupported work-list format {out.suffix!r}",
        )
    shown = {k: present(v) for k, v in lists.items()}
    if suffix == ".csv":
        frames = [
            v.with_columns(pl.lit(k).alias("list")).select(["list", *v.columns])
            for k, v in shown.items()
        ]
        both = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        return outputs.write_csv(both, out)
    sheets = {LIST_TITLES_ZH.get(key, key): frame for key, frame in shown.items()}
    return outputs.write_workbook(sheets, out, labels=COLUMNS_ZH)
