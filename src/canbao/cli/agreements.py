"""``canbao agreements …`` (缓缴、分期缴纳协议) and ``canbao dunning …`` (催缴到强制执行): the
command line over :mod:`canbao.collection.agreements` and :mod:`canbao.collection.dunning`.

The command line acts as the local operator (role admin, logged as ``system:<os user>``, the
whole city). An employer is named by its unified credit code or its employer key
(``--employer``) and looked up in the registry snapshot (name, credit code, county); one the
registry does not know (or no registry yet) needs ``--name`` and ``--county``. Money is typed
and printed in yuan with two decimals; dates are YYYY-MM-DD.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table

from canbao.cli._app import DataDir, ProfileOpt, app, bound_profile, console, default_data_dir
from canbao.cli.store import DbUrl
from canbao.collection import agreements as agr
from canbao.collection import documents
from canbao.collection import dunning as dun
from canbao.collection.dunning import Employer
from canbao.errors import DataError, NotFoundError, StateError, UsageError
from canbao.ingest.kinds import EMPLOYER_SCHEMES
from canbao.standards.money import parse_yuan, yuan_text
from canbao.store import Actor, Store, open_store
from canbao.warehouse.scope import Scope

agreements_app = typer.Typer(
    help="缓缴、分期缴纳协议：拟定、批准、核对分期缴款、文书（deferral and instalment "
    "agreements）。",
    no_args_is_help=True,
)
dunning_app = typer.Typer(
    help="催缴到强制执行：催缴通知、上门催缴、责令限期缴纳、移送劳动监察、申请强制执行及文书"
    "（dunning to enforcement）。",
    no_args_is_help=True,
)
app.add_typer(agreements_app, name="agreements")
app.add_typer(dunning_app, name="dunning")

EmployerOpt = Annotated[
    str, typer.Option("--employer", help="单位的统一社会信用代码或单位标识（employer_key）")
]
NameOpt = Annotated[str | None, typer.Option("--name", help="单位名称（登记库中没有该单位时必填）")]
CountyOpt = Annotated[
    str | None, typer.Option("--county", help="单位所在区县代码（登记库中没有该单位时必填）")
]
SchemeOpt = Annotated[
    list[str], typer.Option("--scheme", help="险种代码（可多次）：" + "、".join(EMPLOYER_SCHEMES))
]
PeriodOpt = Annotated[list[str] | None, typer.Option("--period", help="所属期 YYYY-MM（可多次）")]
VersionOpt = Annotated[
    int | None,
    typer.Option("--version", help="读取时的版本号（乐观锁：他人已修改则拒绝保存）"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
OutDir = Annotated[Path, typer.Option("--out", help="文书输出目录（默认当前目录）")]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _dd(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else default_data_dir()


def _store(data_dir: Path | None, url: str | None) -> Store:
    return open_store(_dd(data_dir), url)


def _who() -> tuple[Actor, Scope]:
    op = Actor.operator()
    return op, Scope.system("命令行操作员（canbao agreements / dunning）", actor=op.name)


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        if _ISO_DATE.fullmatch(text.strip()):
            return dt.date.fromisoformat(text.strip())
    except ValueError:
        pass
    raise DataError(
        f"{option} 日期无效：“{text}”（应为 YYYY-MM-DD，如 2017-02-28）",
        f"{option}: not a YYYY-MM-DD date: {text!r}",
    )


def _fen(text: str | None) -> int | None:
    return None if text is None else parse_yuan(text)


def _registry_row(data_dir: Path, ident: str, scope: Scope) -> dict[str, Any] | None:
    from canbao.registry import api

    try:
        frame = api.employers(data_dir, scope)
    except StateError:
        return None  # no registry yet: the caller names the employer itself
    key = ident.strip()
    hits = frame.filter(
        (pl.col("employer_key") == key) | (pl.col("credit_code") == key.upper())
    ).to_dicts()
    return hits[0] if hits else None


def _employer(
    data_dir: Path, ident: str, name: str | None, county: str | None, scope: Scope
) -> Employer:
    row = _registry_row(data_dir, ident, scope)
    if row is not None:
        known = row.get("county_code")
        if county and known and county != known:
            raise UsageError(
                f"单位“{row.get('name')}”在登记库中属区县 {known}，与 --county {county} 不符",
                "county differs from the registry",
            )
        return Employer(
            str(row["employer_key"]), name or str(row.get("name") or ""),
            str(row.get("credit_code") or ""), known or county,
        )  # fmt: skip
    if not name:
        raise NotFoundError(
            f"登记库中没有统一社会信用代码或单位标识为“{ident}”的单位；登记库未建立或没有该单位时，"
            "请用 --name 和 --county 给出单位名称和所在区县",
            f"employer {ident!r} not in the registry",
        )
    code = ident.strip().upper()
    credit = code if len(code) == 18 else ""
    return Employer(ident.strip(), name, credit, county)


def _key_of(data_dir: Path, ident: str | None, scope: Scope) -> str | None:
    if ident is None:
        return None
    row = _registry_row(data_dir, ident, scope)
    return str(row["employer_key"]) if row is not None else ident.strip()


def _echo_json(doc: object) -> None:
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))


def _iso(d: dt.date | dt.datetime | None) -> str | None:
    return d.isoformat() if d is not None else None


# --- agreements -----------------------------------------------------------------------------


def _agreement_json(a: agr.AgreementView) -> dict[str, Any]:
    return {
        "id": a.id, "employer_key": a.employer_key, "credit_code": a.credit_code,
        "employer_name": a.employer_name, "county_code": a.county_code,
        "schemes": list(a.schemes), "periods": list(a.periods), "kind": a.kind,
        "principal": yuan_text(a.principal_fen), "paid": yuan_text(a.paid_fen),
        "start_date": _iso(a.start_date), "end_date": _iso(a.end_date),
        "grace_days": a.grace_days, "guarantee_note": a.guarantee_note, "reason": a.reason,
        "status": a.status, "status_label": a.status_label, "case_id": a.case_id,
        "created_by": a.created_by, "created_at": _iso(a.created_at),
        "approved_by": a.approved_by, "approved_on": _iso(a.approved_on),
        "closed_on": _iso(a.closed_on), "close_reason": a.close_reason,
        "checked_on": _iso(a.checked_on), "version": a.version,
        "instalments": [
            {"seq": i.seq, "due_date": i.due_date.isoformat(), "amount": yuan_text(i.amount_fen),
             "paid": yuan_text(i.paid_fen), "paid_on": _iso(i.paid_on)}
            for i in a.instalments
        ],
    }  # fmt: skip


def _show_agreement(a: agr.AgreementView) -> None:
    console.print(
        f"协议 #{a.id}（{agr.KINDS[a.kind]}，{a.status_label}，版本 {a.version}）："
        f"{escape(a.employer_name)} {a.credit_code}；{documents.schemes_text(a.schemes)}；"
        f"金额 {yuan_text(a.principal_fen)} 元，已缴 {yuan_text(a.paid_fen)} 元"
        + (f"；催缴案件 #{a.case_id}" if a.case_id else ""),
        soft_wrap=True,
    )
    if a.close_reason:
        console.print(f"终止原因：{escape(a.close_reason)}（{a.closed_on}）", soft_wrap=True)
    table = Table()
    for col in ("期次", "缴纳期限", "金额（元）", "已缴（元）", "缴清日期"):
        table.add_column(col)
    for i in a.instalments:
        table.add_row(
            str(i.seq), i.due_date.isoformat(), yuan_text(i.amount_fen), yuan_text(i.paid_fen),
            _iso(i.paid_on) or "—",
        )  # fmt: skip
    console.print(table)


@agreements_app.command("add")
def agreements_add(
    employer: EmployerOpt,
    scheme: SchemeOpt,
    kind: Annotated[str, typer.Option("--kind", help="deferral（缓缴）或 instalment（分期缴纳）")],
    principal: Annotated[str, typer.Option("--principal", help="协议金额（元），如 12000.00")],
    guarantee: Annotated[str, typer.Option("--guarantee", help="担保情况（必填）")],
    reason: Annotated[str, typer.Option("--reason", help="申请原因")] = "",
    period: PeriodOpt = None,
    instalments: Annotated[int | None, typer.Option("--instalments", help="分期期数")] = None,
    first_due: Annotated[
        str | None, typer.Option("--first-due", help="首期缴纳期限 YYYY-MM-DD（之后每月同日）")
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="缓缴起始日期 YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--end", help="缓缴截止日期 YYYY-MM-DD")] = None,
    grace_days: Annotated[int, typer.Option("--grace-days", help="每期宽限天数")] = 0,
    case: Annotated[int | None, typer.Option("--case", help="所属催缴案件编号")] = None,
    name: NameOpt = None,
    county: CountyOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Propose a deferral or instalment agreement (status proposed, awaiting approval).

    Example: canbao agreements add --employer 91360400MA35XXXXXX --scheme employee_pension
    --kind instalment --principal 12000.00 --instalments 6 --first-due 2017-07-31
    --guarantee "法定代表人连带责任保证"
    """
    op, scope = _who()
    dd = _dd(data_dir)
    who = _employer(dd, employer, name, county, scope)
    store = _store(data_dir, database_url)
    try:
        a = agr.propose(
            store, op, scope, who, scheme, kind, parse_yuan(principal), guarantee_note=guarantee,
            reason=reason, periods=period or [], instalments=instalments,
            first_due=_date(first_due, "--first-due"), start=_date(start, "--start"),
            end=_date(end, "--end"), grace_days=grace_days, case_id=case,
        )  # fmt: skip
    finally:
        store.dispose()
    if as_json:
        _echo_json(_agreement_json(a))
        return
    console.print(f"已拟定协议 #{a.id}，待批准（canbao agreements approve {a.id}）。")
    _show_agreement(a)


@agreements_app.command("approve")
def agreements_approve(
    agreement_id: Annotated[int, typer.Argument(help="协议编号")],
    on: Annotated[str | None, typer.Option("--on", help="批准（生效）日期，默认今天")] = None,
    note: Annotated[str, typer.Option("--note", help="说明")] = "",
    version: VersionOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Approve a proposed agreement; its dunning case moves to 协议履行中."""
    op, scope = _who()
    store = _store(data_dir, database_url)
    try:
        a = agr.approve(
            store, op, scope, agreement_id, on=_date(on, "--on"), note=note, version=version
        )
    finally:
        store.dispose()
    console.print(f"已批准协议 #{a.id}（{a.approved_on}起生效）。")


@agreements_app.command("cancel")
def agreements_cancel(
    agreement_id: Annotated[int, typer.Argument(help="协议编号")],
    reason: Annotated[str, typer.Option("--reason", help="撤销原因（必填）")],
    on: Annotated[str | None, typer.Option("--on", help="撤销日期，默认今天")] = None,
    version: VersionOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Cancel an agreement (an approved one: its dunning case resumes)."""
    op, scope = _who()
    store = _store(data_dir, database_url)
    try:
        a = agr.cancel(
            store, op, scope, agreement_id, reason=reason, on=_date(on, "--on"), version=version
        )
    finally:
        store.dispose()
    console.print(f"已撤销协议 #{a.id}。")


def _payments(items: list[str]) -> list[tuple[dt.date, int]]:
    out = []
    for item in items:
        day, sep, amount = item.partition("=")
        if not sep:
            raise DataError(
                f"--paid 应写作 日期=金额，如 2017-07-31=2000.00，而不是“{item}”",
                f"bad --paid {item!r}",
            )
        d = _date(day, "--paid")
        assert d is not None
        out.append((d, parse_yuan(amount)))
    return out


@agreements_app.command("check")
def agreements_check(
    agreement_id: Annotated[int, typer.Argument(help="协议编号")],
    as_of: Annotated[str, typer.Option("--as-of", help="核对截至日期 YYYY-MM-DD")],
    paid: Annotated[
        list[str] | None,
        typer.Option("--paid", help="收到的缴款：日期=金额（元），可多次，如 2017-07-31=2000.00"),
    ] = None,
    version: VersionOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Record the instalment payments received and check the agreement as of a date: a missed
    instalment (past due + grace) breaches it and dunning resumes; paid in full completes it."""
    op, scope = _who()
    day = _date(as_of, "--as-of")
    assert day is not None
    store = _store(data_dir, database_url)
    try:
        r = agr.check(store, op, scope, agreement_id, _payments(paid or []), day, version=version)
    finally:
        store.dispose()
    doc = {
        "id": r.agreement_id, "status": r.status, "as_of": r.as_of.isoformat(),
        "paid": yuan_text(r.paid_fen), "due": yuan_text(r.due_fen), "missed": list(r.missed),
        "breached_on": _iso(r.breached_on), "completed_on": _iso(r.completed_on),
        "case_id": r.case_id, "changed": r.changed,
    }  # fmt: skip
    if as_json:
        _echo_json(doc)
        return
    label = agr.STATUS_LABELS[r.status]
    console.print(
        f"协议 #{r.agreement_id}：截至 {r.as_of} 应缴 {doc['due']} 元，已缴 {doc['paid']} 元；"
        f"{label}"
        + (f"（{r.breached_on} 违约，第 {'、'.join(map(str, r.missed))} 期未足额缴纳）"
           if r.breached_on else "")
        + (f"；催缴案件 #{r.case_id} 已更新" if r.case_id else ""),
        soft_wrap=True,
    )  # fmt: skip


@agreements_app.command("check-all")
def agreements_check_all(
    as_of: Annotated[str, typer.Option("--as-of", help="核对截至日期 YYYY-MM-DD")],
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Check every approved agreement against the payments in the data (the contribution
    ledger's de-duplicated payments): a missed instalment breaches it and dunning resumes;
    paid in full completes it. Run it after each month's payment extract.

    Example: canbao agreements check-all --as-of 2017-12-31
    """
    from canbao.collection.agreement_checks import check_agreements

    op, scope = _who()
    day = _date(as_of, "--as-of")
    assert day is not None
    results = check_agreements(_dd(data_dir), op, scope, day, database_url=database_url)
    docs = [
        {"id": r.agreement_id, "status": r.status, "paid": yuan_text(r.paid_fen),
         "due": yuan_text(r.due_fen), "missed": list(r.missed),
         "breached_on": _iso(r.breached_on), "completed_on": _iso(r.completed_on),
         "changed": r.changed}
        for r in results
    ]  # fmt: skip
    if as_json:
        _echo_json(docs)
        return
    if not results:
        console.print("没有履行中的协议（no approved agreement）", markup=False)
    for r in results:
        console.print(
            f"协议 #{r.agreement_id}：截至 {day} 应缴 {yuan_text(r.due_fen)} 元，"
            f"已缴 {yuan_text(r.paid_fen)} 元；{agr.STATUS_LABELS[r.status]}"
            + ("（本次更新）" if r.changed else ""),
            markup=False,
        )


@agreements_app.command("list")
def agreements_list(
    employer: Annotated[str | None, typer.Option("--employer", help="只看该单位")] = None,
    status: Annotated[str | None, typer.Option("--status", help="只看该状态")] = None,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """List agreements (status, amounts, schedule progress)."""
    _op, scope = _who()
    key = _key_of(_dd(data_dir), employer, scope)
    store = _store(data_dir, database_url)
    try:
        rows = agr.agreements(store, scope, employer_key=key, status=status)
    finally:
        store.dispose()
    if as_json:
        _echo_json([_agreement_json(a) for a in rows])
        return
    table = Table(title="缓缴、分期缴纳协议")
    for col in (
        "编号",
        "单位",
        "信用代码",
        "险种",
        "类型",
        "金额（元）",
        "已缴（元）",
        "状态",
        "案件",
    ):
        table.add_column(col)
    for a in rows:
        table.add_row(
            str(a.id), escape(a.employer_name), a.credit_code, documents.schemes_text(a.schemes),
            agr.KINDS[a.kind], yuan_text(a.principal_fen), yuan_text(a.paid_fen), a.status_label,
            str(a.case_id or "—"),
        )  # fmt: skip
    console.print(table)


@agreements_app.command("show")
def agreements_show(
    agreement_id: Annotated[int, typer.Argument(help="协议编号")],
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Show one agreement and its schedule."""
    _op, scope = _who()
    store = _store(data_dir, database_url)
    try:
        a = agr.get(store, scope, agreement_id)
    finally:
        store.dispose()
    if as_json:
        _echo_json(_agreement_json(a))
    else:
        _show_agreement(a)


@agreements_app.command("document")
def agreements_document(
    agreement_id: Annotated[int, typer.Argument(help="协议编号")],
    out: OutDir = Path("."),
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
    profile: ProfileOpt = None,
) -> None:
    """Write the agreement as a Word document (template DATA/templates/agreement.docx if the
    bureau has one)."""
    _op, scope = _who()
    dd = _dd(data_dir)
    prof = bound_profile(dd, profile)
    store = _store(data_dir, database_url)
    try:
        path = agr.document(store, scope, prof, agreement_id, out, data_dir=dd)
    finally:
        store.dispose()
    console.print(f"已生成协议文书：{path}", soft_wrap=True, markup=False)


@agreements_app.command("deferrals")
def agreements_deferrals(
    employer: EmployerOpt,
    scheme: Annotated[str | None, typer.Option("--scheme", help="只看该险种")] = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Print (JSON) the day ranges an approved deferral of the employer covers (no late fee)."""
    _op, scope = _who()
    key = _key_of(_dd(data_dir), employer, scope)
    assert key is not None
    store = _store(data_dir, database_url)
    try:
        spans = agr.deferral_periods(store, scope, key, scheme)
    finally:
        store.dispose()
    _echo_json([{"start": a.isoformat(), "end": b.isoformat()} for a, b in spans])


# --- dunning --------------------------------------------------------------------------------


def _case_json(c: dun.CaseView) -> dict[str, Any]:
    return {
        "id": c.id, "employer_key": c.employer_key, "credit_code": c.credit_code,
        "employer_name": c.employer_name, "county_code": c.county_code,
        "schemes": list(c.schemes), "periods": list(c.periods),
        "amount": yuan_text(c.amount_fen), "state": c.state, "state_label": c.state_label,
        "next_steps": c.next_steps, "opened_by": c.opened_by, "opened_at": _iso(c.opened_at),
        "version": c.version,
        "steps": [
            {"seq": s.seq, "kind": s.kind, "label": dun.STEP_LABELS[s.kind],
             "from_state": s.from_state, "to_state": s.to_state, "on": s.taken_on.isoformat(),
             "deadline": _iso(s.deadline), "amount": yuan_text(s.amount_fen),
             "late_fee": yuan_text(s.late_fee_fen) if s.late_fee_fen is not None else None,
             "note": s.note, "doc_no": s.doc_no, "document": s.document,
             "agreement_id": s.agreement_id, "recorded_by": s.recorded_by}
            for s in c.steps
        ],
    }  # fmt: skip


def _show_case(c: dun.CaseView) -> None:
    nxt = "、".join(f"{dun.STEP_LABELS[k]}（{k}）" for k in c.next_steps) or "无（已结案）"
    console.print(
        f"催缴案件 #{c.id}（{c.state_label}，版本 {c.version}）：{escape(c.employer_name)} "
        f"{c.credit_code}；{documents.schemes_text(c.schemes)} "
        f"{documents.periods_text(c.periods)}；欠费 {yuan_text(c.amount_fen)} 元。下一步可：{nxt}",
        soft_wrap=True,
    )
    table = Table()
    for col in ("#", "日期", "步骤", "状态", "期限", "说明", "文书", "登记人"):
        table.add_column(col)
    for s in c.steps:
        table.add_row(
            str(s.seq), s.taken_on.isoformat(), dun.STEP_LABELS[s.kind],
            dun.STATE_LABELS[s.to_state], _iso(s.deadline) or "", escape(s.note),
            escape(s.document), escape(s.recorded_by),
        )  # fmt: skip
    console.print(table)


@dunning_app.command("start")
def dunning_start(
    employer: EmployerOpt,
    scheme: SchemeOpt,
    amount: Annotated[str, typer.Option("--amount", help="欠费金额（元）")],
    period: PeriodOpt = None,
    on: Annotated[str | None, typer.Option("--on", help="催缴通知日期，默认今天")] = None,
    deadline: Annotated[
        str | None, typer.Option("--deadline", help="通知中的缴纳期限 YYYY-MM-DD")
    ] = None,
    late_fee: Annotated[
        str | None, typer.Option("--late-fee", help="截至通知日的滞纳金（元）")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="说明")] = "",
    doc_no: Annotated[str, typer.Option("--doc-no", help="文号")] = "",
    name: NameOpt = None,
    county: CountyOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Open a dunning case with its notice (催缴通知).

    Example: canbao dunning start --employer 91360400MA35XXXXXX --scheme employee_pension
    --amount 36000.00 --period 2017-01 --period 2017-02
    """
    op, scope = _who()
    who = _employer(_dd(data_dir), employer, name, county, scope)
    store = _store(data_dir, database_url)
    try:
        c = dun.start(
            store, op, scope, who, scheme, parse_yuan(amount), periods=period or [],
            on=_date(on, "--on"), deadline=_date(deadline, "--deadline"), note=note,
            late_fee_fen=_fen(late_fee), doc_no=doc_no,
        )  # fmt: skip
    finally:
        store.dispose()
    if as_json:
        _echo_json(_case_json(c))
        return
    console.print(f"已立催缴案件 #{c.id} 并登记催缴通知。")
    _show_case(c)


@dunning_app.command("step")
def dunning_step(
    case_id: Annotated[int, typer.Argument(help="催缴案件编号")],
    kind: Annotated[
        str,
        typer.Argument(
            help="步骤：visit（上门催缴）、order（责令限期缴纳决定）、referral（移送劳动监察）、"
            "enforcement（申请强制执行）、paid（已缴清）、withdraw（撤销）"
        ),
    ],
    on: Annotated[str | None, typer.Option("--on", help="步骤日期，默认今天")] = None,
    deadline: Annotated[
        str | None, typer.Option("--deadline", help="缴纳期限 YYYY-MM-DD（责令限期缴纳决定必填）")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="情况说明（上门催缴、撤销必填）")] = "",
    amount: Annotated[str | None, typer.Option("--amount", help="本步骤的欠费金额（元）")] = None,
    late_fee: Annotated[str | None, typer.Option("--late-fee", help="滞纳金（元）")] = None,
    doc_no: Annotated[str, typer.Option("--doc-no", help="文号")] = "",
    document: Annotated[str, typer.Option("--document", help="文书文件名（默认自动命名）")] = "",
    version: VersionOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Record the next step of a dunning case (refused, with the allowed steps, if the law
    does not allow it now)."""
    op, scope = _who()
    store = _store(data_dir, database_url)
    try:
        c = dun.step(
            store, op, scope, case_id, kind, on=_date(on, "--on"),
            deadline=_date(deadline, "--deadline"), note=note, amount_fen=_fen(amount),
            late_fee_fen=_fen(late_fee), doc_no=doc_no, document=document, version=version,
        )  # fmt: skip
    finally:
        store.dispose()
    if as_json:
        _echo_json(_case_json(c))
        return
    console.print(f"已登记：{dun.STEP_LABELS[kind]}；案件 #{c.id} 现为“{c.state_label}”。")


@dunning_app.command("list")
def dunning_list(
    employer: Annotated[str | None, typer.Option("--employer", help="只看该单位")] = None,
    state: Annotated[str | None, typer.Option("--state", help="只看该状态")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="只看未结案件")] = False,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """List dunning cases."""
    _op, scope = _who()
    key = _key_of(_dd(data_dir), employer, scope)
    store = _store(data_dir, database_url)
    try:
        rows = dun.cases(store, scope, employer_key=key, state=state, open_only=open_only)
    finally:
        store.dispose()
    if as_json:
        _echo_json([_case_json(c) for c in rows])
        return
    table = Table(title="催缴案件")
    for col in ("编号", "单位", "信用代码", "险种", "欠费（元）", "状态", "最近步骤"):
        table.add_column(col)
    for c in rows:
        last = c.steps[-1] if c.steps else None
        table.add_row(
            str(c.id), escape(c.employer_name), c.credit_code, documents.schemes_text(c.schemes),
            yuan_text(c.amount_fen), c.state_label,
            f"{last.taken_on} {dun.STEP_LABELS[last.kind]}" if last else "—",
        )  # fmt: skip
    console.print(table)


@dunning_app.command("show")
def dunning_show(
    case_id: Annotated[int, typer.Argument(help="催缴案件编号")],
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Show a dunning case, its steps and the steps allowed next."""
    _op, scope = _who()
    store = _store(data_dir, database_url)
    try:
        c = dun.get(store, scope, case_id)
    finally:
        store.dispose()
    if as_json:
        _echo_json(_case_json(c))
    else:
        _show_case(c)


@dunning_app.command("document")
def dunning_document(
    case_id: Annotated[int, typer.Argument(help="催缴案件编号")],
    seq: Annotated[int | None, typer.Option("--seq", help="步骤序号（默认最近一份文书）")] = None,
    out: OutDir = Path("."),
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
    profile: ProfileOpt = None,
) -> None:
    """Write a step's document (催缴通知书, 责令限期缴纳决定书, 移送函, 强制执行申请书) as Word."""
    _op, scope = _who()
    dd = _dd(data_dir)
    prof = bound_profile(dd, profile)
    store = _store(data_dir, database_url)
    try:
        path = dun.document(store, scope, prof, case_id, out, seq=seq, data_dir=dd)
    finally:
        store.dispose()
    console.print(f"已生成文书：{path}", soft_wrap=True, markup=False)


@dunning_app.command("templates")
def dunning_templates(
    out: Annotated[
        Path | None, typer.Option("--out", help="输出目录（默认 数据目录/templates）")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="覆盖已有的模板")] = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
) -> None:
    """Write the built-in document templates for the bureau to edit in Word; templates in
    DATA/templates are used instead of the built-in ones."""
    target = out if out is not None else _dd(data_dir) / documents.TEMPLATE_DIR
    for path, written in documents.write_templates(target, force=force):
        what = "已写出" if written else "已存在，未覆盖（--force 覆盖）"
        console.print(f"{what}：{path}", soft_wrap=True, markup=False)
