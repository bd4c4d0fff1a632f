"""The audit documents in Chinese (.docx): the 社会保险稽核通知书 (the notice, 3 days before the
visit) and the 社会保险稽核意见书 (the findings, the contributions to pay, the rectification
deadline), from editable Word templates by the collection documents' machinery
(:mod:`canbao.collection.documents`: docxtpl, Jinja2 placeholders, the bureau's own template
``DATA/templates/<name>.docx`` overriding the built-in one; the built-in ones are made in code).

Placeholders: ``bureau``, ``city``, ``title``, ``document_no``, ``employer_name``,
``credit_code``, ``matters``, ``periods``, ``visit_date``, ``auditors``, ``date``,
``legal_basis``; the opinion adds ``visited_date``, ``findings`` (rows: ``seq``, ``kind``,
``person``, ``scheme``, ``period``, ``declared``, ``found``, ``amount``), ``count``,
``amount`` / ``amount_upper``, ``rectify_by``, ``note``, ``overdue``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from canbao.audit.cases import CONCLUSIONS, AuditCaseView
from canbao.collection import documents
from canbao.collection.dunning import append_export
from canbao.errors import NotFoundError, UsageError
from canbao.profile import Profile
from canbao.store import Store
from canbao.warehouse.scope import Scope

TEMPLATES: dict[str, str] = {
    "audit_notice": "社会保险稽核通知书",
    "audit_opinion": "社会保险稽核意见书",
}
RULES = "《社会保险稽核办法》（劳动和社会保障部令第16号）"
LEGAL_BASIS: dict[str, str] = {
    "audit_notice": f"《中华人民共和国社会保险法》第五十九条和{RULES}第七条",
    "audit_opinion": f"《中华人民共和国社会保险法》第六十二条、第六十三条、第八十六条和{RULES}第八条、第九条",
}

_TO = "{{ employer_name }}（统一社会信用代码：{{ credit_code }}）："
_BODIES: dict[str, list[str]] = {
    "audit_notice": [
        "#{{ bureau }}",
        "#{{ title }}",
        "={{ document_no }}",
        _TO,
        ">依据{{ legal_basis }}的规定，本局定于{{ visit_date }}派稽核人员"
        "{% if auditors %}（{{ auditors }}）{% endif %}到你单位，对你单位{{ periods }}的"
        "{{ matters }}进行稽核。",
        ">请你单位届时提供以下资料：营业执照、职工名册、劳动合同、工资发放明细（工资表）、"
        "考勤记录、财务会计账簿及凭证、社会保险费申报和缴纳凭证，以及与稽核事项有关的其他资料，"
        "并指定专人配合。",
        ">被稽核单位应当如实提供资料，不得拒绝检查、谎报、瞒报。",
        ">特此通知。",
        "]{{ bureau }}",
        "]{{ date }}",
    ],
    "audit_opinion": [
        "#{{ bureau }}",
        "#{{ title }}",
        "={{ document_no }}",
        _TO,
        ">本局稽核人员于{{ visited_date }}对你单位{{ periods }}的{{ matters }}进行了稽核。"
        "经稽核，你单位存在以下问题（共{{ count }}项）：",
        "@findings",
        ">以上应补缴社会保险费合计{{ amount }}元（大写：人民币{{ amount_upper }}）。依据"
        "{{ legal_basis }}的规定，请你单位于{{ rectify_by }}前补报缴费基数、为应参保人员办理参保"
        "登记并补缴上述社会保险费；滞纳金自欠缴之日起按日加收万分之五，由经办机构另行核定。",
        ">逾期不整改的，本局将依法责令限期缴纳或者补足，并提请劳动保障行政部门依法处理。",
        ">你单位如对本意见有异议，可以自收到本意见书之日起六十日内依法申请行政复议，或者六个月内"
        "依法向人民法院提起行政诉讼。",
        ">{% if note %}说明：{{ note }}{% endif %}",
        "]{{ bureau }}",
        "]{{ date }}",
    ],
}
_FINDING_ROWS = (
    ("序号", "问题类别", "人员", "险种", "所属期", "申报基数（元）", "核定基数（元）", "应补缴（元）"),
    ("{%tr for f in findings %}", "", "", "", "", "", "", ""),
    ("{{ f.seq }}", "{{ f.kind }}", "{{ f.person }}", "{{ f.scheme }}", "{{ f.period }}",
     "{{ f.declared }}", "{{ f.found }}", "{{ f.amount }}"),
    ("{%tr endfor %}", "", "", "", "", "", "", ""),
)  # fmt: skip


@cache
def default_template(name: str) -> bytes:
    """The built-in template ``name`` as .docx bytes."""
    if name not in TEMPLATES:
        raise KeyError(name)
    return documents.build_template(tuple(_BODIES[name]), {"findings": _FINDING_ROWS})


def write_templates(target: Path, *, force: bool = False) -> list[tuple[Path, bool]]:
    """The built-in templates in ``target`` (``DATA/templates``) for the bureau to edit."""
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for name in TEMPLATES:
        p = target / f"{name}.docx"
        if p.exists() and not force:
            out.append((p, False))
            continue
        p.write_bytes(default_template(name))
        out.append((p, True))
    return out


def _periods(c: AuditCaseView) -> str:
    if c.period_from == c.period_to:
        return documents.periods_text([c.period_from])
    return documents.periods_text([c.period_from]) + "至" + documents.periods_text([c.period_to])


def context(name: str, c: AuditCaseView, profile: Profile) -> dict[str, Any]:
    """The placeholders of ``name`` for case ``c`` (its findings with the names it holds)."""
    day = c.notice_on if name == "audit_notice" else c.finished_on
    no = c.notice_no if name == "audit_notice" else c.opinion_no
    year = day.year if day is not None else profile.year
    out: dict[str, Any] = {
        "bureau": profile.letterhead.issuer,
        "city": profile.city.name,
        "title": TEMPLATES[name],
        "document_no": no or f"{profile.letterhead.document_prefix}〔{year}〕　　号",
        "employer_name": c.employer_name,
        "credit_code": c.credit_code or "（未登记）",
        "matters": c.matters_label,
        "periods": _periods(c),
        "visit_date": documents.date_zh(c.visit_on),
        "auditors": "、".join(c.auditors),
        "date": documents.date_zh(day),
        "legal_basis": LEGAL_BASIS[name],
    }
    if name == "audit_opinion":
        out.update(
            visited_date=documents.date_zh(c.visited_on),
            findings=[
                {
                    "seq": f.seq,
                    "kind": f.kind_label,
                    "scheme": f.scheme_label,
                    "person": f"{f.person_name}（{f.person_key}）"
                    if f.person_name
                    else f.person_key,
                    "period": documents.periods_text([f.period]),
                    "declared": documents.yuan(f.declared_base_fen),
                    "found": documents.yuan(f.found_base_fen),
                    "amount": documents.yuan(f.unpaid_fen),
                }
                for f in c.findings
            ],  # fmt: skip
            count=len(c.findings),
            amount=documents.yuan(c.unpaid_fen),
            amount_upper=documents.yuan_upper(c.unpaid_fen),
            rectify_by=documents.date_zh(c.rectify_by),
            note=c.conclusion_note,
            overdue=c.overdue(c.finished_on) if c.finished_on else False,
        )
    return out


def file_name(name: str, c: AuditCaseView) -> str:
    return documents.safe_file_name(f"{TEMPLATES[name]}-{c.employer_name}-{c.id}") + ".docx"


def document(
    store: Store,
    scope: Scope,
    profile: Profile,
    case_id: int,
    which: str,
    out_dir: Path,
    *,
    data_dir: Path | None = None,
) -> Path:
    """Write the notice (``which`` ``notice``) or the opinion (``opinion``) of a case to
    ``out_dir``; the opinion needs a finished case. The full view and the export are audit-log
    entries."""
    from canbao.audit.cases import get_case

    name = {"notice": "audit_notice", "opinion": "audit_opinion"}.get(which)
    if name is None:
        raise UsageError(
            f"文书应为 notice（{TEMPLATES['audit_notice']}）或 opinion（{TEMPLATES['audit_opinion']}）",
            f"bad document {which!r}",
        )
    c = get_case(store, scope, case_id)
    if name == "audit_opinion" and c.finished_on is None:
        raise NotFoundError(
            f"稽核案件 #{case_id} 尚未作出稽核结论，没有{CONCLUSIONS['opinion']}",
            "no opinion before the case is finished",
        )
    target = file_name(name, c)
    out = documents.render(
        name, context(name, c, profile), Path(out_dir) / target, data_dir,
        builtin=default_template(name),
    )  # fmt: skip
    append_export(store, scope, "audit_document", target)
    return out
