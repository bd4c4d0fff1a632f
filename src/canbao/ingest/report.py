"""The validation report of one ingested file: counts by reason and warning, examples with masked
IDs and names, the header mapping. Written as JSON and xlsx, shown as a Rich table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from canbao import outputs
from canbao.ingest import headers, kinds, redelivery, validate
from canbao.ingest.headers import Mapping_
from canbao.ingest.readers import DELIMITER_LABELS, RawTable
from canbao.standards import citizen_id, masking

EXAMPLES_PER_CODE = 5
_SENSITIVE = {"birth_date", "phone", "address", "name", "id", "legal_rep"}


def _example_rows(
    frame: pl.DataFrame, field: str | None, text: pl.DataFrame, limit: int
) -> list[dict[str, Any]]:
    rows = frame.head(limit)
    out = []
    tx = text.filter(pl.col("row").is_in(rows["row"].implode()))
    by_row = {r["row"]: r for r in tx.iter_rows(named=True)}
    for r in rows.iter_rows(named=True):
        t = by_row.get(r["row"], {})
        ex: dict[str, Any] = {"row": r["row"]}
        if "id" in t:
            ex["id"] = citizen_id.mask(t.get("id"))
        if "name" in t:
            ex["name"] = masking.mask_name(t.get("name"))
        if "credit_code" in t and t.get("credit_code"):
            ex["credit_code"] = t.get("credit_code")
        if "employer_name" in t and t.get("employer_name"):
            ex["employer_name"] = t.get("employer_name")
        if field and field in t:
            ex["value"] = "（已隐藏）" if field in _SENSITIVE else t.get(field)
        out.append(ex)
    return out


def _field_of(code: str, kind: str) -> str | None:
    names = {f.name for f in kinds.FIELDS[kind]}
    for suffix in ("_invalid", "_partial", "_mismatch", "_unknown"):
        if code.endswith(suffix) and code[: -len(suffix)] in names:
            return code[: -len(suffix)]
    if code.startswith("id_"):
        return "id"
    if code == "credit_code_invalid":
        return "credit_code"
    return None


def build(
    *,
    batch: dict[str, Any],
    raw: RawTable,
    mapping: Mapping_,
    records: pl.DataFrame,
    reasons: pl.Series,
    text: pl.DataFrame,
    notes: list[str],
    changes: redelivery.Changes | None = None,
) -> dict[str, Any]:
    kind = batch["kind"]
    frame = records.select("row", "warnings").with_columns(reason=reasons)
    q = frame.filter(pl.col("reason").is_not_null())
    a = frame.filter(pl.col("reason").is_null())
    q_counts = q.group_by("reason").len().sort("len", descending=True)
    w = a.select("row", "warnings").explode("warnings").drop_nulls("warnings")
    w_counts = w.group_by("warnings").len().sort("len", descending=True)
    quarantine = [
        {
            "reason": r,
            "label_zh": validate.QUARANTINE_REASONS.get(r, r),
            "count": n,
            "examples": _example_rows(
                q.filter(pl.col("reason") == r), None, text, EXAMPLES_PER_CODE
            ),
        }
        for r, n in q_counts.iter_rows()
    ]
    warnings = [
        {
            "code": c,
            "label_zh": validate.warning_label(c),
            "count": n,
            "examples": _example_rows(
                w.filter(pl.col("warnings") == c), _field_of(c, kind), text, EXAMPLES_PER_CODE
            ),
        }
        for c, n in w_counts.iter_rows()
    ]
    id_errors: list[dict[str, Any]] = []
    if "id_errors" in records.columns:
        e = records.filter(reasons.is_null()).select(pl.col("id_errors").explode().drop_nulls())
        for code, n in e.group_by("id_errors").len().sort("len", descending=True).iter_rows():
            id_errors.append(
                {"code": code, "label_zh": citizen_id.ERROR_LABELS_ZH.get(code, code), "count": n}
            )
    return {
        "batch": batch,
        "reader": {
            "format": raw.format,
            "encoding": raw.encoding,
            "delimiter": DELIMITER_LABELS.get(raw.delimiter or "", raw.delimiter),
            "sheet": raw.sheet,
            "header_row": raw.header_row,
            "title_rows": raw.title_rows,
        },
        "counts": {
            "rows": frame.height,
            "accepted": a.height,
            "quarantined": q.height,
            "accepted_with_warnings": int(w["row"].n_unique()) if w.height else 0,
        },
        "mapping": [
            {
                "column": c,
                "field": f,
                "label_zh": _label(kind, f),
                "explicit": c in mapping.overridden,
            }
            for c, f in mapping.columns.items()
        ],
        "unmapped_columns": mapping.unmapped,
        "shadowed_columns": [{"column": c, "field": f} for c, f in mapping.shadowed],
        "missing_fields": [
            f.name for f in kinds.FIELDS[kind] if f.name not in set(mapping.columns.values())
        ],
        "quarantine": quarantine,
        "warnings": warnings,
        "id_errors": id_errors,
        "notes": notes,
        "changes": changes.to_json() if changes is not None else None,
    }


def _label(kind: str, field: str) -> str:
    for f in kinds.FIELDS[kind]:
        if f.name == field:
            return f.label_zh
    return field


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def write_xlsx(report: dict[str, Any], path: Path) -> None:
    """The report as a workbook for the data team (through the safe writer: a column name or
    value from the file such as ``=HYPERLINK(…)`` stays text)."""
    b, c = report["batch"], report["counts"]
    summary: list[tuple[str, str]] = [
        ("批次", b["batch_id"]), ("文件", b["file_name"]), ("来源", b["source"]),
        ("记录类型", kinds.KIND_LABELS_ZH.get(b["kind"], b["kind"])),
        ("险种", kinds.SCHEME_LABELS_ZH.get(b["scheme"] or "", "")), ("截止日期", b["as_of"]),
        ("SHA-256", b["sha256"]), ("数据行数", c["rows"]), ("接收", c["accepted"]),
        ("隔离", c["quarantined"]), ("接收但有警告", c["accepted_with_warnings"]),
        ("格式", report["reader"]["format"]), ("编码", report["reader"]["encoding"] or ""),
        ("表头所在行", report["reader"]["header_row"]),
    ]  # fmt: skip
    summary += [("说明", n) for n in report["notes"]]
    issues = [("隔离", q["reason"], q["label_zh"], q["count"]) for q in report["quarantine"]]
    issues += [("警告", w["code"], w["label_zh"], w["count"]) for w in report["warnings"]]
    issues += [
        ("身份证号码问题", e["code"], e["label_zh"], e["count"]) for e in report["id_errors"]
    ]
    examples = [
        (item.get("reason") or item.get("code"), ex["row"], ex.get("id", ""), ex.get("name", ""),
         ex.get("employer_name") or ex.get("credit_code") or "", ex.get("value", ""))
        for item in [*report["quarantine"], *report["warnings"]]
        for ex in item["examples"]
    ]  # fmt: skip
    mapping = [
        (m["column"], m["field"], m["label_zh"], "是" if m["explicit"] else "")
        for m in report["mapping"]
    ]
    mapping += [(col, "", "未识别（未导入）", "") for col in report["unmapped_columns"]]
    mapping += [
        (s["column"], "", f"与已映射列重复（{s['field']}），未导入", "")
        for s in report["shadowed_columns"]
    ]

    def frame(rows: list[tuple[Any, ...]], cols: list[str]) -> pl.DataFrame:
        text = [[None if v is None else str(v) for v in r] for r in rows]
        return pl.DataFrame(text, schema={c: pl.Utf8 for c in cols}, orient="row")

    sheets: dict[str, pl.DataFrame] = {}
    ch = report.get("changes")
    if ch:
        summary += [
            ("与上一批比较", ", ".join(ch["base"])), ("未变", ch["unchanged"]),
            ("新增", ch["added"]), ("变更", ch["changed"]), ("删除", ch["removed"]),
        ]  # fmt: skip
        by_county = [
            (county or "（无区县）", v["added"], v["changed"], v["removed"])
            for county, v in sorted(ch["by_county"].items())
        ]
        sheets["与上一批比较"] = frame(by_county, list(redelivery.label_columns().values()))
    outputs.write_workbook(
        {
            "汇总": frame(summary, ["项目", "内容"]),
            "隔离与警告": frame(issues, ["类别", "代码", "说明", "行数"]),
            "示例": frame(
                examples, ["代码", "行号", "身份证号码（脱敏）", "姓名（脱敏）", "单位", "原值"]
            ),
            "列映射": frame(mapping, ["文件列名", "字段", "字段含义", "手工指定"]),
            **sheets,
        },
        path,
    )


def render(report: dict[str, Any], console: Console) -> None:
    b, c = report["batch"], report["counts"]
    t = Table(
        title=escape(
            f"校验报告 {b['file_name']}（{kinds.KIND_LABELS_ZH.get(b['kind'], b['kind'])}）"
        )
    )
    t.add_column("项目")
    t.add_column("代码")
    t.add_column("行数", justify="right")
    t.add_column("示例（行号）")
    t.add_row("数据行", "", str(c["rows"]), "")
    t.add_row("接收", "", str(c["accepted"]), "")
    t.add_row("隔离", "", str(c["quarantined"]), "")
    ch = report.get("changes")
    if ch:
        for what, label in (("added", "新增"), ("changed", "变更"), ("removed", "删除")):
            counties = sorted(ch["by_county"].items(), key=lambda kv: -kv[1][what])
            top = ", ".join(f"{k or '无区县'} {v[what]}" for k, v in counties[:3] if v[what])
            t.add_row(f"与上一批比较：{label}", "", str(ch[what]), escape(top))
        t.add_row("与上一批比较：未变", "", str(ch["unchanged"]), "")
    for q in report["quarantine"]:
        rows = ", ".join(str(e["row"]) for e in q["examples"])
        t.add_row(escape(f"  隔离：{q['label_zh']}"), escape(q["reason"]), str(q["count"]), rows)
    for w in report["warnings"]:
        rows = ", ".join(str(e["row"]) for e in w["examples"])
        t.add_row(escape(f"  警告：{w['label_zh']}"), escape(w["code"]), str(w["count"]), rows)
    console.print(t)
    if report["unmapped_columns"]:
        console.print(
            "未识别的列（未导入）：" + headers.shorten(report["unmapped_columns"]), markup=False
        )
    for note in report["notes"]:
        console.print("说明：" + note, markup=False)
