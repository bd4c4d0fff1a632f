"""Audit findings (稽核发现): per person × scheme × month, what the employer declared and what
the audit found — headcount (a person not enrolled: declared base 0), base (a base reported
below the wage) and payment (contributions not paid in full on the base) — and the contributions
unpaid, from the contribution policy in force in that month:

``unpaid_fen = (found_base_fen − declared_base_fen) × total rate (bp) / 10,000``, half-up to
the fen (:func:`canbao.standards.money.div_half_up`, the one rounding helper), employer and
employee parts together (the employer withholds the employee's part, 社会保险法 art. 60). Work
injury needs the industry risk class (its rate is the employer's only).

Findings come from the auditors' sheet (xlsx or CSV, read by the ingest readers): every bad row
is reported at once with its cell and the reason in Chinese.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from canbao.collection.policy import BP, policy_for
from canbao.errors import CanbaoError, DataError, UsageError
from canbao.ingest.kinds import EMPLOYER_SCHEMES, SCHEME_LABELS_ZH, SCHEME_VALUES
from canbao.standards.money import div_half_up, fen_of

KINDS: dict[str, str] = {
    "headcount": "应参保未参保（人数）",
    "base": "少报缴费基数",
    "payment": "未足额缴费",
}
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "headcount": ("人数", "漏报人数", "未参保", "应参保未参保"),
    "base": ("基数", "缴费基数", "少报基数", "少报缴费基数"),
    "payment": ("缴费", "未足额缴费", "欠缴"),
}
COLUMNS: dict[str, tuple[str, ...]] = {
    "kind": ("类别", "问题类别", "稽核事项", "kind"),
    "person_key": ("人员编号", "个人编号", "人员主键", "person_key"),
    "person_name": ("姓名", "person_name"),
    "scheme": ("险种", "scheme"),
    "period": ("费款所属期", "所属期", "期间", "period"),
    "declared_base": ("申报基数", "申报缴费基数", "declared_base"),
    "found_base": ("核定基数", "稽核核定基数", "应缴基数", "found_base"),
    "risk_class": ("行业风险类别", "风险类别", "risk_class"),
    "note": ("备注", "说明", "note"),
}
REQUIRED = ("kind", "person_key", "scheme", "period", "declared_base", "found_base")
MAX_ERRORS = 50
_PERIOD = re.compile(r"^(\d{4})-?(\d{1,2})$")


@dataclass(frozen=True)
class Finding:
    """One finding as recorded (money in fen; ``rate_bp`` / ``unpaid_fen`` from the policy)."""

    kind: str
    person_key: str
    person_name: str
    scheme: str
    period: str  # YYYY-MM
    declared_base_fen: int
    found_base_fen: int
    risk_class: int | None = None
    note: str = ""
    rate_bp: int = 0
    unpaid_fen: int = 0

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    @property
    def scheme_label(self) -> str:
        return SCHEME_LABELS_ZH.get(self.scheme, self.scheme)


def period_start(period: str) -> dt.date:
    return dt.date(int(period[:4]), int(period[5:7]), 1)


def check_period(text: str) -> str:
    """``YYYY-MM`` (``YYYYMM`` and ``2017-1`` accepted)."""
    m = _PERIOD.match((text or "").strip())
    if not m or not 1 <= int(m[2]) <= 12:
        raise UsageError(
            f"费款所属期无效：“{text}”（应为 YYYY-MM，如 2017-03）", f"bad period {text!r}"
        )
    return f"{int(m[1]):04d}-{int(m[2]):02d}"


def assess(finding: Finding, region: str, policy_path: Path | None = None) -> Finding:
    """``finding`` with the rate and the unpaid contributions of its month's policy; a
    UsageError in Chinese when the finding cannot stand (no shortfall, bad scheme …)."""
    if finding.kind not in KINDS:
        raise UsageError(
            f"未知的稽核发现类别“{finding.kind}”（可用：{'、'.join(KINDS)}）",
            f"bad finding kind {finding.kind!r}",
        )
    if finding.scheme not in EMPLOYER_SCHEMES:
        raise UsageError(
            f"险种“{finding.scheme}”不是单位缴费险种", f"bad scheme {finding.scheme!r}"
        )
    period = check_period(finding.period)
    if finding.declared_base_fen < 0 or finding.found_base_fen <= finding.declared_base_fen:
        raise UsageError(
            "核定基数应大于申报基数（申报基数不能为负；应参保未参保的申报基数为 0）",
            "found base must exceed the declared base",
        )
    if finding.kind == "headcount" and finding.declared_base_fen != 0:
        raise UsageError("应参保未参保人员的申报基数应为 0", "headcount finding: declared base 0")
    if not finding.person_key.strip():
        raise UsageError("缺少人员编号", "person key required")
    policy = policy_for(region, period_start(period), policy_path)
    rate = policy.rate(finding.scheme, finding.risk_class).total_bp
    gap = finding.found_base_fen - finding.declared_base_fen
    return Finding(
        finding.kind, finding.person_key.strip(), finding.person_name.strip(), finding.scheme,
        period, finding.declared_base_fen, finding.found_base_fen, finding.risk_class,
        finding.note.strip(), rate, div_half_up(gap * rate, BP),
    )  # fmt: skip


def total_fen(findings: Iterable[Finding]) -> int:
    return sum(f.unpaid_fen for f in findings)


# --- the auditors' sheet --------------------------------------------------------------------


def _word(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def _lookup(words: Mapping[str, Iterable[str]]) -> dict[str, str]:
    return {_word(w): code for code, ws in words.items() for w in (code, *ws)}


_KIND = _lookup({k: (v, *KIND_WORDS[k]) for k, v in KINDS.items()})
_SCHEME = _lookup({s: (SCHEME_LABELS_ZH[s], *SCHEME_VALUES.get(s, ())) for s in EMPLOYER_SCHEMES})
_HEADER = {_word(w): field for field, ws in COLUMNS.items() for w in ws}


def _col_letters(idx: int) -> str:
    out = ""
    idx += 1
    while idx:
        idx, r = divmod(idx - 1, 26)
        out = chr(65 + r) + out
    return out


def _base_fen(text: str) -> int:
    clean = re.sub(r"[,，¥￥元\s]", "", text or "")
    try:
        value = Decimal(clean)
    except InvalidOperation:
        raise ValueError(text) from None
    return fen_of(value)


def read_findings(path: Path, region: str, policy_path: Path | None = None) -> list[Finding]:
    """The findings of the auditors' sheet (xlsx, xls or CSV; columns :data:`COLUMNS`, bases
    in yuan), each assessed (:func:`assess`). Every bad row is reported at once: a DataError
    whose message lists ``C5 险种无效：“养老金”`` lines (``details['cells']``)."""
    from canbao.ingest.readers import read_table

    known = [w for ws in COLUMNS.values() for w in ws]
    raw = read_table(Path(path), "declaration", known_headers=known)
    cols: dict[str, int] = {}
    for i, name in enumerate(raw.data.columns):
        field = _HEADER.get(_word(name))
        if field is not None and field not in cols:
            cols[field] = i
    missing = [COLUMNS[f][0] for f in REQUIRED if f not in cols]
    if missing:
        raise DataError(
            f"稽核发现表“{Path(path).name}”缺少列：{'、'.join(missing)}",
            f"findings sheet: missing columns {missing}",
        )
    out: list[Finding] = []
    errors: list[str] = []
    for n, row in enumerate(raw.data.iter_rows()):
        line = raw.header_row + 1 + n
        values = {f: (row[i] or "").strip() for f, i in cols.items()}
        if not any(values.values()):
            continue

        def cell(f: str, n_line: int = line) -> str:
            return f"{_col_letters(cols[f])}{n_line}"

        try:
            out.append(_row(values, region, policy_path))
        except _Bad as e:
            errors.append(f"{cell(e.field)} {e.reason}")
        except CanbaoError as e:
            errors.append(f"{cell('found_base')} {e.message_zh}")
    if errors:
        shown = "；".join(errors[:MAX_ERRORS])
        more = f"；另有 {len(errors) - MAX_ERRORS} 处" if len(errors) > MAX_ERRORS else ""
        raise DataError(
            f"稽核发现表“{Path(path).name}”有 {len(errors)} 处错误，未导入任何一行：{shown}{more}",
            f"{len(errors)} bad row(s) in the findings sheet",
            cells=",".join(e.split(" ", 1)[0] for e in errors[:MAX_ERRORS]),
        )
    if not out:
        raise DataError(f"稽核发现表“{Path(path).name}”没有数据行", "findings sheet: no rows")
    return out


class _Bad(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def _row(values: dict[str, str], region: str, policy_path: Path | None) -> Finding:
    kind = _KIND.get(_word(values.get("kind", "")))
    if kind is None:
        raise _Bad("kind", f"类别无效：“{values.get('kind', '')}”（人数、基数或缴费）")
    scheme = _SCHEME.get(_word(values.get("scheme", "")))
    if scheme is None:
        raise _Bad("scheme", f"险种无效：“{values.get('scheme', '')}”")
    if not values.get("person_key"):
        raise _Bad("person_key", "缺少人员编号")
    try:
        period = check_period(values.get("period", ""))
    except UsageError:
        raise _Bad(
            "period", f"费款所属期无效：“{values.get('period', '')}”（应为 YYYY-MM）"
        ) from None
    bases: dict[str, int] = {}
    for f in ("declared_base", "found_base"):
        try:
            bases[f] = _base_fen(values.get(f, "") or ("0" if f == "declared_base" else ""))
        except (ValueError, CanbaoError):
            raise _Bad(f, f"{COLUMNS[f][0]}不是金额：“{values.get(f, '')}”") from None
    risk: int | None = None
    if values.get("risk_class"):
        if not values["risk_class"].isdigit():
            raise _Bad("risk_class", f"行业风险类别应为 1–8：“{values['risk_class']}”")
        risk = int(values["risk_class"])
    finding = Finding(
        kind, values["person_key"], values.get("person_name", ""), scheme, period,
        bases["declared_base"], bases["found_base"], risk, values.get("note", ""),
    )  # fmt: skip
    try:
        return assess(finding, region, policy_path)
    except UsageError as e:
        field = (
            "risk_class" if scheme == "work_injury" and "风险类别" in e.message_zh else "found_base"
        )
        raise _Bad(field, e.message_zh) from None
