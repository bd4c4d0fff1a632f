"""``canbao audit case …``: audit cases (稽核案件) — open with the notice, record the on-site audit
and its findings (from the auditors' xlsx/CSV sheet), finish with the result or the 稽核意见书,
rectification, the documents: the command line over :mod:`canbao.audit.cases`.

``case_app`` is mounted under ``canbao audit`` as ``case``. Every command runs as the local
operator or, with ``--as USER``, as that user of the store (their role and county scope apply),
as ``canbao cases`` does. Dates are YYYY-MM-DD.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from canbao.audit import cases as audit_cases
from canbao.audit import documents as audit_documents
from canbao.audit.cases import AuditCaseView
from canbao.audit.findings import read_findings
from canbao.cli._app import DataDir, ProfileOpt, bound_profile, console
from canbao.cli.agreements import _employer
from canbao.cli.cases import AsUser, JsonOpt, VersionOpt, _Ctx, _date, _dd, _echo_json
from canbao.cli.store import DbUrl
from canbao.collection.documents import yuan

case_app = typer.Typer(
    help="稽核案件：发出稽核通知、登记现场稽核和稽核发现、作出稽核结论或稽核意见书、整改、文书"
    "（audit cases）。",
    no_args_is_help=True,
)

CaseId = Annotated[int, typer.Argument(help="稽核案件编号")]
NoteOpt = Annotated[str, typer.Option("--note", help="说明")]


def _day(text: str, option: str) -> Any:
    out = _date(text, option)
    assert out is not None
    return out


def _case_json(c: AuditCaseView) -> dict[str, Any]:
    doc = {k: v for k, v in c.__dict__.items() if k not in ("findings", "events")}
    doc.update(state_label=c.state_label, conclusion_label=c.conclusion_label,
               deadline=c.deadline, next_steps=c.next_steps)  # fmt: skip
    doc["findings"] = [dict(f.__dict__, kind_label=f.kind_label) for f in c.findings]
    doc["events"] = [e.__dict__ for e in c.events]
    return doc


def _show(c: AuditCaseView) -> None:
    console.print(
        f"稽核案件 #{c.id}（{c.state_label}，版本 {c.version}）：{c.county_code or ''} "
        f"{c.employer_name}（{c.credit_code or c.employer_key}）",
        markup=False,
    )
    console.print(
        f"  稽核事项：{c.matters_label}；所属期 {c.period_from} 至 {c.period_to}；"
        f"通知 {c.notice_on}，稽核 {c.visit_on}"
        + (f"（实际 {c.visited_on}）" if c.visited_on else ""),
        markup=False,
    )
    if c.result_due:
        console.print(
            f"  结论期限：{c.result_due}（5个工作日）；稽核意见书期限：{c.opinion_due}（10个工作日）",
            markup=False,
        )
    if c.finished_on:
        console.print(
            f"  {c.conclusion_label}：{c.finished_on}；整改期限 {c.rectify_by or '—'}"
            + (f"；已整改 {c.rectified_on}" if c.rectified_on else ""),
            markup=False,
        )
    if c.deadline and c.overdue(audit_cases_today()):
        console.print("  已逾期", markup=False)
    for f in c.findings:
        console.print(
            f"  {f.seq}. {f.kind_label} {f.person_name or ''}（{f.person_key}）{f.scheme_label} "
            f"{f.period}：申报 {yuan(f.declared_base_fen)}，核定 {yuan(f.found_base_fen)}，"
            f"应补缴 {yuan(f.unpaid_fen)} 元",
            markup=False,
        )
    if c.findings:
        console.print(f"  应补缴合计 {yuan(c.unpaid_fen)} 元", markup=False)
    console.print(f"  可以进行的下一步：{'、'.join(c.next_steps) or '无'}", markup=False)
    for e in c.events:
        console.print(
            f"  {e.at:%Y-%m-%d %H:%M} {e.actor} {e.action}: {e.from_state or '—'} → {e.to_state}",
            markup=False,
        )


def audit_cases_today() -> Any:
    from canbao.cases.lifecycle import today

    return today()


def _done(c: AuditCaseView, as_json: bool) -> None:
    if as_json:
        _echo_json(_case_json(c))
    else:
        _show(c)


@case_app.command("open")
def case_open(
    employer: Annotated[str, typer.Argument(help="单位统一社会信用代码或单位主键")],
    notice_on: Annotated[str, typer.Option("--notice-on", help="稽核通知日期")],
    visit_on: Annotated[str, typer.Option("--visit-on", help="实施稽核日期（通知后至少3日）")],
    period_from: Annotated[str, typer.Option("--from", help="稽核所属期起 YYYY-MM")],
    period_to: Annotated[str, typer.Option("--to", help="稽核所属期止 YYYY-MM")],
    matter: Annotated[
        list[str] | None, typer.Option("--matter", help="稽核事项：headcount|base|payment，可多个")
    ] = None,
    auditor: Annotated[list[str] | None, typer.Option("--auditor", help="稽核人员，可多个")] = None,
    notice_no: Annotated[str, typer.Option("--notice-no", help="通知书文号")] = "",
    name: Annotated[str | None, typer.Option("--name", help="单位名称（登记库中没有时）")] = None,
    county: Annotated[
        str | None, typer.Option("--county", help="区县代码（登记库中没有时）")
    ] = None,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Open an audit case with its notice (at least 3 days before the visit)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        who = _employer(ctx.data_dir, employer, name, county, ctx.scope)
        c = audit_cases.open_case(
            ctx.store, ctx.actor, ctx.scope, who, notice_on=_day(notice_on, "--notice-on"),
            visit_on=_day(visit_on, "--visit-on"), period_from=period_from, period_to=period_to,
            matters=matter or (), auditors=auditor or (), notice_no=notice_no,
        )  # fmt: skip
    _done(c, as_json)


@case_app.command("record")
def case_record(
    case_id: CaseId,
    visited_on: Annotated[str, typer.Option("--visited-on", help="现场稽核日期")],
    findings: Annotated[
        Path | None, typer.Option("--findings", help="稽核发现表（xlsx/CSV），无发现时省略")
    ] = None,
    note: NoteOpt = "",
    version: VersionOpt = None,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Record the on-site audit and its findings (they replace any recorded before); the
    deadlines of the result and of the 稽核意见书 follow on the working-day calendar."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        region = bound_profile(ctx.data_dir, profile).policy_region
        found = read_findings(findings, region) if findings is not None else []
        c = audit_cases.record(
            ctx.store, ctx.actor, ctx.scope, case_id, visited_on=_day(visited_on, "--visited-on"),
            findings=found, note=note, version=version,
            calendar=audit_cases.calendar_for(ctx.data_dir),
        )  # fmt: skip
    _done(c, as_json)


@case_app.command("finish")
def case_finish(
    case_id: CaseId,
    on: Annotated[str, typer.Option("--on", help="作出结论的日期")],
    conclusion: Annotated[
        str, typer.Option("--conclusion", help="opinion（稽核意见书）或 result（稽核结论告知）")
    ] = "opinion",
    rectify_by: Annotated[str | None, typer.Option("--rectify-by", help="整改期限")] = None,
    opinion_no: Annotated[str, typer.Option("--opinion-no", help="意见书文号")] = "",
    note: NoteOpt = "",
    version: VersionOpt = None,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """The result or the 稽核意见书: from that day the findings are supplementary assessments in
    the ledger (with late fees from each month's due date)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        c = audit_cases.finish(
            ctx.store, ctx.actor, ctx.scope, case_id, on=_day(on, "--on"), conclusion=conclusion,
            rectify_by=_date(rectify_by, "--rectify-by"), note=note, opinion_no=opinion_no,
            version=version,
        )  # fmt: skip
    _done(c, as_json)


@case_app.command("rectify")
def case_rectify(
    case_id: CaseId,
    on: Annotated[str, typer.Option("--on", help="整改完成日期")],
    note: NoteOpt = "",
    version: VersionOpt = None,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """The employer rectified (补报、补缴)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        c = audit_cases.rectify(ctx.store, ctx.actor, ctx.scope, case_id, on=_day(on, "--on"),
                                note=note, version=version)  # fmt: skip
    _done(c, as_json)


@case_app.command("cancel")
def case_cancel(
    case_id: CaseId,
    reason: Annotated[str, typer.Option("--reason", help="撤销原因")],
    version: VersionOpt = None,
    as_user: AsUser = None,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Withdraw the notice before the visit."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        audit_cases.cancel(ctx.store, ctx.actor, ctx.scope, case_id, reason=reason,
                           version=version)  # fmt: skip
    console.print(f"已撤销稽核案件 #{case_id}。", markup=False)


@case_app.command("show")
def case_show(
    case_id: CaseId,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """One case with its findings and steps (an audit-log entry: names are shown)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        c = audit_cases.get_case(ctx.store, ctx.scope, case_id)
    _done(c, as_json)


@case_app.command("list")
def case_list(
    county: Annotated[str | None, typer.Option("--county", help="区县代码")] = None,
    state: Annotated[str | None, typer.Option("--state", help="状态代码")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="只列未结的案件")] = False,
    limit: Annotated[int, typer.Option("--limit", help="最多列出多少个")] = 200,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """List audit cases in scope, newest first (no names of persons)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        found = audit_cases.list_cases(ctx.store, ctx.scope, county=county, state=state,
                                       open_only=open_only, limit=limit)  # fmt: skip
    if as_json:
        _echo_json([_case_json(c) for c in found])
        return
    today = audit_cases_today()
    table = Table(title=f"稽核案件（{len(found)} 个）")
    for col in ("编号", "区县", "单位", "状态", "稽核日期", "期限", "发现", "应补缴（元）", "版本"):
        table.add_column(col)
    for c in found:
        due = f"{c.deadline or ''}" + ("（逾期）" if c.overdue(today) else "")
        table.add_row(
            str(c.id), c.county_code or "", c.employer_name, c.state_label,
            str(c.visited_on or c.visit_on), due, str(c.finding_count), yuan(c.unpaid_fen),
            str(c.version),
        )  # fmt: skip
    console.print(table)


@case_app.command("document")
def case_document(
    case_id: CaseId,
    which: Annotated[str, typer.Argument(help="notice（稽核通知书）或 opinion（稽核意见书）")],
    out: Annotated[Path, typer.Option("--out", help="输出目录")] = Path("."),
    as_user: AsUser = None,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Write the 稽核通知书 or the 稽核意见书 (.docx, from the bureau's template if it has one)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        prof = bound_profile(ctx.data_dir, profile)
        path = audit_documents.document(ctx.store, ctx.scope, prof, case_id, which, out,
                                        data_dir=ctx.data_dir)  # fmt: skip
    console.print(f"已生成：{path}", markup=False)


@case_app.command("templates")
def case_templates(
    force: Annotated[bool, typer.Option("--force", help="覆盖已有的模板")] = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
) -> None:
    """Write the built-in document templates to DATA/templates for the bureau to edit."""
    target = _dd(data_dir) / "templates"
    for path, written in audit_documents.write_templates(target, force=force):
        console.print(f"{'已写出' if written else '已存在（未覆盖）'}：{path}", markup=False)


__all__ = ["case_app"]
