"""The Excel round trip, the way county offices work: export a county's open cases as a
workbook, fill in the outcomes in the field, send it back (:func:`export_workbook`,
:func:`import_workbook`).

**The workbook.** One sheet per case kind; a row per open case (masked: IDs keep first 6 and last
4, phones first 3 and last 4; names and addresses stay, for visiting), sorted by township and
priority; then the columns to fill in: 处理结果 (a drop-down of the kind's coded outcomes,
:mod:`canbao.cases.outcomes`), 结果日期, 情况说明 (where / why / which record), 证明材料, 有效期至,
备注; and two hidden columns the program reads back: 案件标识 (the case key) and 版本 (the
version exported). Written by the one safe writer (:func:`canbao.outputs.write_workbook`); the
export is an audit-log entry.

**The return.** Columns are found by their headers (moving them is harmless). A row with no
outcome is left alone. A row with one is applied as :func:`canbao.cases.lifecycle.resolve` would
(same checks, event and audit entry) unless it is rejected — with its cell (``F12``) and reason:
no such case, a case of another county, unknown outcome, bad or missing date / words / expiry,
case already closed, stale version (changed since the export), the same case twice. A row whose
outcome is already recorded identically is skipped, not an error: re-importing a workbook
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Text, cast, select, update

from canbao import outputs
from canbao.cases import effects, outcomes
from canbao.cases.kinds import KINDS, SUBJECT_FIELDS, check_kind
from canbao.cases.lifecycle import (
    CASES,
    OPEN,
    RESOLVED,
    STATE_LABELS,
    TRANSITIONS,
    apply_step,
    check_outcome,
    in_scope,
    outcome_changes,
)
from canbao.coverage import worklist
from canbao.errors import InputFileError, NotFoundError, UsageError
from canbao.registry import api as registry_api
from canbao.store import Actor, Store, audit_log, roles
from canbao.store.audit_log import Event, append
from canbao.store.models import Case
from canbao.warehouse.scope import Scope

# the form's columns: own name → header
INPUTS: dict[str, str] = {
    "outcome": "处理结果",
    "outcome_date": "结果日期",
    "outcome_reason": "情况说明",
    "evidence": "证明材料",
    "expires_on": "有效期至",
    "outcome_note": "备注",
}
HIDDEN: dict[str, str] = {"case_key": "案件标识", "version": "版本"}
LABELS: dict[str, str] = {
    **worklist.COLUMNS_ZH,
    **{
        k: v
        for k, v in registry_api.COLUMN_LABELS_ZH.items()
        if k.startswith(("left_", "right_")) or k in ("match_probability", "birth_match")
    },
    "scheme_label": "险种",
    "arrears_yuan": "欠费金额（元）",
    "late_fee_yuan": "滞纳金（元）",
    "oldest_period": "最早欠费所属期",
    "days_past_due": "逾期天数",
    "ageing": "账龄",
    "periods": "欠费期数",
    "agreement_status": "协议状态",
    "dunning_state": "催缴状态",
    "employer_credit_code": "单位统一社会信用代码",
    "case_id": "案件编号",
    "kind_label": "案件类型",
    "state_label": "状态",
    "assignee": "经办人",
    "team": "乡镇工作组",
    **INPUTS,
    **HIDDEN,
}
KEY_CHUNK = 500
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


# --- export ---------------------------------------------------------------------------------


def _open_rows(store: Store, scope: Scope, county: str, kind: str | None) -> pl.DataFrame:
    head = {"case_id": pl.Int64, "case_key": pl.Utf8, "kind": pl.Utf8, "county_code": pl.Utf8,
            "township": pl.Utf8, "priority": pl.Int64, "state": pl.Utf8, "assignee": pl.Utf8,
            "team": pl.Utf8, "version": pl.Int64, "subject": pl.Utf8}  # fmt: skip
    q = select(
        Case.id, Case.case_key, Case.kind, Case.county_code, Case.township, Case.priority,
        Case.state, Case.assignee, Case.team, Case.version, cast(Case.subject, Text),
    ).where(in_scope(scope), Case.county_code == county, Case.state.in_(sorted(OPEN)))  # fmt: skip
    if kind is not None:
        q = q.where(Case.kind == kind)
    with store.sessions() as s:
        # Core, not the ORM: plain tuples, several times faster on a county of 300,000 cases
        rows = (
            s.connection()
            .execute(q.order_by(Case.kind, Case.township, Case.priority, Case.id))
            .all()
        )
    base = pl.DataFrame(rows, schema=head, orient="row")
    subjects = _subjects(base["subject"]).drop(list(head), strict=False)
    return pl.concat([base.drop("subject"), subjects], how="horizontal")


def _subjects(texts: pl.Series) -> pl.DataFrame:
    """The stored subjects (JSON text) as columns of :data:`SUBJECT_FIELDS` that hold a value,
    decoded set-wise; a subject whose values are not all plain (never one a list wrote) is
    decoded row by row."""
    try:
        decoded = (
            texts.fill_null("{}")
            .str.json_decode(pl.Struct({f: pl.Utf8 for f in SUBJECT_FIELDS}))
            .struct.unnest()
        )
    except pl.exceptions.ComputeError:
        dicts = [json.loads(t or "{}") for t in texts.to_list()]
        decoded = pl.DataFrame(
            {f: [None if d.get(f) is None else str(d[f]) for d in dicts] for f in SUBJECT_FIELDS},
            schema=dict.fromkeys(SUBJECT_FIELDS, pl.Utf8),
        )
    counts = decoded.null_count().row(0)
    return decoded.select(c for c, n in zip(decoded.columns, counts, strict=True)
                          if n < decoded.height)  # fmt: skip


def _sheet(frame: pl.DataFrame) -> pl.DataFrame:
    empty = [
        c for c in frame.columns if c in SUBJECT_FIELDS and frame[c].null_count() == frame.height
    ]
    shown = worklist.present(
        frame.drop("kind", *empty)
    )  # masks again (defence in depth), names counties
    front = ["case_id", "county_code", "county_name", "township", "priority"]
    tail = ["state_label", "assignee", "team", *INPUTS, *HIDDEN]
    shown = shown.with_columns(
        pl.col("state").replace_strict(STATE_LABELS, default=None).alias("state_label"),
        *(pl.lit(None, pl.Utf8).alias(c) for c in INPUTS),
    )
    middle = [c for c in shown.columns if c not in (*front, *tail, "state")]
    return shown.select([c for c in (*front, *middle, *tail) if c in shown.columns])


def export_workbook(
    store: Store, scope: Scope, county: str, kind: str | None, out: Path
) -> outputs.WriteSummary:
    """Write the open cases of ``county`` (of ``kind``, or every kind) to ``out`` (.xlsx) as a
    form to fill in (see the module docstring). An ``export`` audit-log entry."""
    roles.require(scope.role, "export.personal", scope.actor)
    scope.require_personal()
    scope.require_county(county)
    if out.suffix.lower() != ".xlsx":
        raise UsageError(
            f"案件工作簿须为 .xlsx 文件，而不是“{out.name}”", "cases export: .xlsx only"
        )
    if kind is not None:
        check_kind(kind, listed=True)
    rows = _open_rows(store, scope, county, kind)
    kinds = [kind] if kind is not None else sorted(set(rows["kind"].to_list()))
    sheets, dropdowns = {}, {}
    for k in kinds:
        title = KINDS[k].label
        sheets[title] = _sheet(rows.filter(pl.col("kind") == k))
        dropdowns[title] = {"outcome": outcomes.labels(k)}
    if not sheets:  # nothing open: an empty form says so rather than no file
        sheets["无待办案件"] = pl.DataFrame({"note": ["该区县没有待办案件"]})
    summary = outputs.write_workbook(
        sheets, out, labels=LABELS, dropdowns=dropdowns, hidden=tuple(HIDDEN)
    )
    audit_log.log(
        store,
        Event(scope.actor, scope.role, "export", "cases", (out.name,), ("name", "address"),
              scope.client, {"rows": rows.height, "county": county, "kind": kind or ""}),
    )  # fmt: skip
    return summary


# --- import ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    sheet: str
    cell: str
    case_key: str
    reason_zh: str


@dataclass
class ImportResult:
    applied: list[int] = field(default_factory=list)  # case ids resolved
    skipped: int = 0  # outcome already recorded identically
    blank: int = 0  # rows with no outcome filled in
    rejected: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    sheet: str
    row: int
    cols: dict[str, int]  # own name → column index (0-based)
    values: dict[str, Any]

    def cell(self, name: str) -> str:
        from openpyxl.utils import get_column_letter

        col = self.cols.get(name, self.cols["outcome"])
        return f"{get_column_letter(col + 1)}{self.row}"

    def text(self, name: str) -> str:
        value = self.values.get(name)
        return "" if value is None else str(value).strip()


class _Bad(Exception):
    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason


def _rows(path: Path) -> Iterator[_Row]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file: one Chinese message
        raise InputFileError(
            f"无法读取工作簿“{path.name}”：不是有效的 .xlsx 文件", f"unreadable workbook: {e}"
        ) from e
    wanted = {**HIDDEN, **INPUTS}
    found = False
    try:
        for ws in wb.worksheets:
            it = ws.iter_rows(values_only=True)
            header = next(it, None) or ()
            at = {str(h).strip(): i for i, h in enumerate(header) if h is not None}
            cols = {name: at[label] for name, label in wanted.items() if label in at}
            if not {"case_key", "version", "outcome"} <= set(cols):
                continue
            found = True
            for n, values in enumerate(it, start=2):
                got = {k: (values[i] if i < len(values) else None) for k, i in cols.items()}
                yield _Row(ws.title, n, cols, got)
    finally:
        wb.close()
    if not found:
        raise InputFileError(
            f"“{path.name}”不是案件导出的工作簿（缺少“案件标识”“版本”“处理结果”列）",
            "no case sheet in the workbook",
        )


def _date(row: _Row, name: str) -> dt.date | None:
    value = row.values.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    m = _DATE.match(str(value).strip())
    try:
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        pass
    raise _Bad(name, f"“{INPUTS[name]}”不是有效日期：“{value}”（应为 YYYY-MM-DD）")


def _version(row: _Row) -> int:
    value = row.values.get("version")
    try:
        if isinstance(value, bool) or value is None:
            raise ValueError
        return int(str(value).strip().removesuffix(".0"))
    except ValueError as e:
        raise _Bad("version", f"版本号无效：“{value}”（请勿改动隐藏列）") from e


def _same(case: Case, code: str, fields: dict[str, Any]) -> bool:
    """Is this outcome already the case's standing outcome, word for word?"""
    return case.state in RESOLVED and case.outcome == code and all(
        getattr(case, k) == v for k, v in fields.items()
    )  # fmt: skip


def _check(
    case: Case | None, row: _Row, scope: Scope, data_dir: Path | None
) -> tuple[Case, str, dict[str, Any]] | None:
    """The case, outcome code and fields of a filled-in row; None when it is already recorded;
    :class:`_Bad` when it must be rejected."""
    if case is None:
        raise _Bad("outcome", "没有该案件（案件标识无效，请勿改动隐藏列）")
    if not scope.allows(case.county_code):
        raise _Bad(
            "outcome", f"该案件属于其他区县（{case.county_code or '未知'}），不在您的负责范围内"
        )
    try:
        code = outcomes.code_of(case.kind, row.text("outcome"))
    except UsageError as e:
        raise _Bad("outcome", e.message_zh) from e
    on, expires = _date(row, "outcome_date"), _date(row, "expires_on")
    fields = {
        "outcome_date": on, "outcome_reason": row.text("outcome_reason"),
        "evidence": row.text("evidence"), "expires_on": expires,
        "outcome_note": row.text("outcome_note"),
    }  # fmt: skip
    if _same(case, code, fields):
        return None
    if "resolve" not in TRANSITIONS.get(case.state, {}):
        raise _Bad("outcome", f"案件已办结（{STATE_LABELS[case.state]}），如需更改请先重新打开")
    version = _version(row)
    if version != case.version:
        raise _Bad(
            "outcome",
            f"该案件在导出后已被修改（导出时版本 {version}，当前版本 {case.version}），"
            "请重新导出后填写",
        )
    try:
        check_outcome(case.kind, code, on, row.text("outcome_reason"), expires)
        effects.check(case.kind, code, data_dir)
    except UsageError as e:
        where = {"date": "outcome_date", "reason": "outcome_reason", "expiry": "expires_on"}
        raise _Bad(where.get(str(e.details.get("field")), "outcome"), e.message_zh) from e
    return case, code, fields


def _load(session: Any, keys: list[str]) -> dict[str, Case]:
    if session.get_bind().dialect.name == "sqlite":  # take the write lock before reading
        session.execute(update(CASES).where(Case.id == -1).values(id=Case.id))
    found: dict[str, Case] = {}
    for i in range(0, len(keys), KEY_CHUNK):
        q = select(Case).where(Case.case_key.in_(keys[i : i + KEY_CHUNK])).with_for_update()
        found.update((c.case_key, c) for c in session.execute(q).scalars())
    return found


def import_workbook(
    store: Store, actor: Actor, scope: Scope, path: Path, *, data_dir: Path | None = None
) -> ImportResult:
    """Apply the outcomes filled into a returned workbook (see the module docstring), in one
    transaction; every rejected row comes back with its cell and reason. ``data_dir``: needed
    for a review pair's 同一人 / 不同人 (recorded in the registry too: :mod:`.effects`)."""
    roles.require(actor.role, "case.work", actor.name)
    effects.prepare(store, data_dir)
    result = ImportResult()
    filled = []
    for row in _rows(Path(path)):
        if row.text("outcome"):
            filled.append(row)
        else:
            result.blank += 1
    seen: set[str] = set()
    with store.transaction() as s:
        cases = _load(s, sorted({r.text("case_key") for r in filled}))
        for row in filled:
            key = row.text("case_key")
            try:
                if key in seen:
                    raise _Bad("outcome", "同一案件在工作簿中出现多次，只采用第一次")
                seen.add(key)
                checked = _check(cases.get(key), row, scope, data_dir)
                if checked is None:
                    result.skipped += 1
                    continue
                case, code, fields = checked
                changes = outcome_changes(
                    actor, code, fields["outcome_date"], fields["outcome_reason"],
                    fields["outcome_note"], fields["evidence"], fields["expires_on"],
                )  # fmt: skip
                note = changes["outcome_reason"] or changes["outcome_note"]
                try:  # the registry's decision of a review pair (nothing added when refused)
                    done = effects.apply(s, actor, case, code, note, data_dir)
                except NotFoundError as e:
                    raise _Bad("outcome", e.message_zh) from e
            except _Bad as bad:
                result.rejected.append(Rejection(row.sheet, row.cell(bad.name), key, bad.reason))
                continue
            detail = {"outcome": code, "outcome_date": fields["outcome_date"],
                      "outcome_reason": changes["outcome_reason"],
                      "expires_on": fields["expires_on"], "via": "workbook", **done}  # fmt: skip
            apply_step(s, actor, case, "resolve", case.version, detail, changes)
            result.applied.append(case.id)
        append(s, [actor.event("cases.import", "workbook", [Path(path).name],
                               applied=len(result.applied), skipped=result.skipped,
                               rejected=len(result.rejected))])  # fmt: skip
    return result
