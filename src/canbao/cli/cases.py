"""``canbao cases …``: work lists that close — open cases from the current build's gap lists,
list, show, assign, contact, resolve, escalate, reopen, the Excel round trip and progress: the
command line over :mod:`canbao.cases` (the API the web workspace uses too).

Every command runs as the local operator (role admin, the whole city, logged as
``system:<os user>``) or, with ``--as USER``, as that user of the store: their role and county
scope apply and the audit log names them (its client field says the command line ran it, and
by which OS user). Dates are YYYY-MM-DD.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from canbao import cases, outputs
from canbao.cases import lifecycle
from canbao.cases import lists as case_lists
from canbao.cases.progress import LABELS_ZH as PROGRESS_ZH
from canbao.cli._app import (
    OPERATOR,
    DataDir,
    EngineOpt,
    ProfileOpt,
    SparkMasterOpt,
    app,
    bound_profile,
    console,
    default_data_dir,
)
from canbao.cli.store import DbUrl
from canbao.errors import AuthError, DataError
from canbao.profile import Profile
from canbao.registry import snapshot
from canbao.standards.masking import mask_name
from canbao.store import Actor, Store, open_store
from canbao.store.models import User
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope

cases_app = typer.Typer(
    help="扩面个案：由工作清单开案、分派、登记联系和处理结果、Excel 回填、数据核验与进度"
    "（cases from the work lists）。",
    no_args_is_help=True,
)
app.add_typer(cases_app, name="cases")

AsUser = Annotated[
    str | None,
    typer.Option("--as", help="以该用户身份办理（其角色与区县范围生效）；默认为本机操作员"),
]
VersionOpt = Annotated[
    int | None, typer.Option("--version", help="读取时的版本号（乐观锁：他人已修改则拒绝保存）")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
CaseId = Annotated[int, typer.Argument(help="案件编号")]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _dd(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else default_data_dir()


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        if _ISO_DATE.fullmatch(text.strip()):
            return dt.date.fromisoformat(text.strip())
    except ValueError:
        pass
    raise DataError(
        f"{option} 日期无效：“{text}”（应为 YYYY-MM-DD，如 2018-01-31）",
        f"{option}: not a YYYY-MM-DD date: {text!r}",
    )


class _Ctx:
    """The open store and who is acting (closed by :meth:`close`, or as a ``with`` block)."""

    def __init__(
        self, data_dir: Path | None, url: str | None, as_user: str | None, profile: str | None
    ) -> None:
        self.data_dir = _dd(data_dir)
        self.store: Store = open_store(self.data_dir, url)
        self.profile: Profile | None = None
        try:
            self.actor: Actor
            self.scope: Scope
            if as_user is None:
                self.actor, self.scope = Actor.operator(), OPERATOR
            else:
                self.profile = bound_profile(self.data_dir, profile)
                self.actor = self._user(as_user)
                self.scope = scope_for(self.actor, self.profile)
        except BaseException:
            self.store.dispose()
            raise

    def _user(self, name: str) -> Actor:
        return user_actor(self.store, name)

    def close(self) -> None:
        self.store.dispose()

    def __enter__(self) -> _Ctx:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def user_actor(store: Store, name: str) -> Actor:
    """The active user ``name`` of the store acting from the command line (``--as``); the audit
    log's client field names the OS user."""
    with store.sessions() as s:
        user = s.execute(select(User).where(User.name == name)).scalar_one_or_none()
        found = None if user is None or user.disabled else (user.name, user.role, user.counties)
    if found is None:
        raise AuthError(f"没有可用的用户“{name}”（--as）", f"no active user {name!r}")
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(found[0], found[1], tuple(found[2]), f"cli:{who}")


def _echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, ensure_ascii=False, default=str))


def _case_json(c: lifecycle.CaseView) -> dict[str, Any]:
    doc = {k: v for k, v in c.__dict__.items() if k != "events"}
    doc.update(kind_label=c.kind_label, state_label=c.state_label, outcome_label=c.outcome_label)
    doc["events"] = [e.__dict__ for e in c.events]
    return doc


def _who_name(c: lifecycle.CaseView) -> str:
    if c.subject_type == "pair":  # a review pair: both names, masked
        names = (str(c.subject.get(k) or "") for k in ("left_name", "right_name"))
        return " / ".join(mask_name(n) or "—" for n in names)
    name = str(c.subject.get("name") or c.subject.get("employer_name") or "")
    return mask_name(name) if c.subject_type == "person" else name


@cases_app.command("open")
def cases_open(
    lists: Annotated[
        str | None,
        typer.Option(
            "--lists",
            help="只用这类清单开案："
            + " | ".join(case_lists.CHOICES)
            + "（review：登记库待复核记录对；arrears：欠费单位，按险种）",
        ),
    ] = None,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Open cases from the current build's work lists — the gap lists, the registry's review
    queue and the arrears per employer and scheme — and carry the known ones; cases whose row
    left the lists are verified by the data (gone / confirmed / reopened)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        build = snapshot.require_current(ctx.data_dir).build_id
        with console.status("正在计算工作清单 (computing the work lists)…") as status:
            frames = cases.work_lists(
                ctx.data_dir, ctx.scope, ctx.store, lists, engine=engine, spark_master=spark_master
            )
            rows = sum(f.height for f in frames.values())
            status.update(f"正在开案、延续并核验 {rows:,} 行清单 (opening and carrying cases)…")
            r = cases.open_cases(ctx.store, ctx.scope, frames, build)
    if as_json:
        _echo_json(r.__dict__)
        return
    console.print(
        f"登记库版本 {r.build_id}：清单中 {r.rows:,} 个案件，新开 {r.new:,}，延续 {r.carried:,}；"
        f"已不在清单 {r.gone:,}，数据确认 {r.confirmed:,}，重新打开 {r.reopened + r.expired:,}"
        f"（其中结果到期 {r.expired:,}）。",
        markup=False,
    )


@cases_app.command("list")
def cases_list(
    county: Annotated[str | None, typer.Option("--county", help="区县代码")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="案件类型代码")] = None,
    state: Annotated[str | None, typer.Option("--state", help="状态代码")] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help="经办人用户名")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="只列未办结的案件")] = False,
    limit: Annotated[int, typer.Option("--limit", help="最多列出多少个")] = 200,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """List cases (names masked on the terminal, no addresses), most urgent first."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        found = cases.list_cases(
            ctx.store, ctx.scope, county=county, kind=kind, state=state, assignee=assignee,
            open_only=open_only, limit=limit,
        )  # fmt: skip
    if as_json:
        _echo_json([_case_json(c) for c in found])
        return
    table = Table(title=f"案件（{len(found)} 个）")
    for col in ("编号", "区县", "乡镇", "类型", "对象", "状态", "经办人", "结果", "版本"):
        table.add_column(col)
    for c in found:
        table.add_row(
            str(c.id), c.county_code or "", escape(c.township or ""), c.kind_label,
            escape(_who_name(c)), c.state_label, escape(c.assignee or c.team or ""),
            c.outcome_label, str(c.version),
        )  # fmt: skip
    console.print(table)


@cases_app.command("show")
def cases_show(
    case_id: CaseId,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """One case with its history (an audit-log entry: the address is shown)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        c = cases.get_case(ctx.store, ctx.scope, case_id)
    if as_json:
        _echo_json(_case_json(c))
        return
    _show(c)


def _show(c: lifecycle.CaseView) -> None:
    console.print(
        f"案件 #{c.id}（{c.kind_label}，{c.state_label}，版本 {c.version}）：{c.county_code or ''} "
        f"{c.township or ''}  {_who_name(c)}  {c.subject.get('id18') or c.subject_key}",
        markup=False,
    )
    if c.subject.get("address"):
        console.print(f"  住址：{c.subject['address']}", markup=False)
    if c.assignee or c.team:
        console.print(f"  经办：{c.assignee or ''} {c.team or ''}".rstrip(), markup=False)
    if c.outcome:
        console.print(
            f"  结果：{c.outcome_label} {c.outcome_date or ''} {c.outcome_reason}".rstrip(),
            markup=False,
        )
    console.print(f"  可以进行的下一步：{'、'.join(c.next_steps) or '无'}", markup=False)
    for e in c.events:
        console.print(
            f"  {e.at:%Y-%m-%d %H:%M} {e.actor} {e.action}: {e.from_state} → {e.to_state}"
            + (f"（{e.build}）" if e.build else ""),
            markup=False,
        )


@cases_app.command("assign")
def cases_assign(
    case_ids: Annotated[list[int], typer.Argument(help="案件编号（可多个）")],
    user: Annotated[str | None, typer.Option("--user", help="经办人用户名")] = None,
    team: Annotated[str | None, typer.Option("--team", help="乡镇工作组")] = None,
    note: Annotated[str, typer.Option("--note", help="说明")] = "",
    version: VersionOpt = None,
    as_user: AsUser = None,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Assign cases to a user and/or a township team (``--version`` with one case only)."""
    if version is not None and len(case_ids) != 1:
        raise DataError("--version 只能与一个案件编号一起使用", "--version with one case only")
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        for cid in case_ids:
            cases.assign(
                ctx.store, ctx.actor, ctx.scope, cid, user=user, team=team, note=note,
                version=version, profile=ctx.profile,
            )  # fmt: skip
    console.print(f"已分派 {len(case_ids)} 个案件给 {escape(user or team or '')}。")


@cases_app.command("contact")
def cases_contact(
    case_id: CaseId,
    on: Annotated[str | None, typer.Option("--on", help="联系日期，默认今天")] = None,
    note: Annotated[str, typer.Option("--note", help="联系情况")] = "",
    version: VersionOpt = None,
    as_user: AsUser = None,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Record a contact (visit, call)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        c = cases.contact(
            ctx.store, ctx.actor, ctx.scope, case_id, on=_date(on, "--on"), note=note,
            version=version,
        )  # fmt: skip
    console.print(f"已登记案件 #{c.id} 的联系情况（版本 {c.version}）。")


@cases_app.command("resolve")
def cases_resolve(
    case_id: CaseId,
    outcome: Annotated[
        str, typer.Option("--outcome", help="处理结果（中文名称或代码，如 已参保 / enrolled）")
    ],
    on: Annotated[str | None, typer.Option("--on", help="结果日期 YYYY-MM-DD")] = None,
    reason: Annotated[
        str, typer.Option("--reason", help="情况说明：参保地、原因、停保的记录…")
    ] = "",
    note: Annotated[str, typer.Option("--note", help="备注")] = "",
    evidence: Annotated[str, typer.Option("--evidence", help="证明材料")] = "",
    expires: Annotated[
        str | None, typer.Option("--expires", help="有效期至（在校学生：预计毕业日期）")
    ] = None,
    version: VersionOpt = None,
    as_user: AsUser = None,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Record a case's outcome."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        c = cases.resolve(
            ctx.store, ctx.actor, ctx.scope, case_id, outcome, on=_date(on, "--on"),
            reason=reason, note=note, evidence=evidence, expires_on=_date(expires, "--expires"),
            version=version, data_dir=ctx.data_dir,
        )  # fmt: skip
    console.print(f"已办结案件 #{c.id}：{c.outcome_label}（版本 {c.version}）。", markup=False)


@cases_app.command("escalate")
def cases_escalate(
    case_id: CaseId,
    reason: Annotated[str, typer.Option("--reason", help="上报原因")],
    version: VersionOpt = None,
    as_user: AsUser = None,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Hand a case up (city bureau, labour inspection)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        c = cases.escalate(ctx.store, ctx.actor, ctx.scope, case_id, reason=reason, version=version)
    console.print(f"已上报案件 #{c.id}（版本 {c.version}）。")


@cases_app.command("reopen")
def cases_reopen(
    case_id: CaseId,
    reason: Annotated[str, typer.Option("--reason", help="重新打开的原因")],
    version: VersionOpt = None,
    as_user: AsUser = None,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Open a closed case again."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        c = cases.reopen(ctx.store, ctx.actor, ctx.scope, case_id, reason=reason, version=version)
    console.print(f"已重新打开案件 #{c.id}（版本 {c.version}）。")


@cases_app.command("export")
def cases_export(
    county: Annotated[str, typer.Option("--county", help="区县代码或名称")],
    out: Annotated[Path, typer.Option("--out", help="输出文件（.xlsx）")],
    kind: Annotated[str | None, typer.Option("--kind", help="案件类型代码（默认全部）")] = None,
    as_user: AsUser = None,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Write a county's open cases as a workbook to fill in (outcome drop-downs)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        code = county.strip()
        if not re.fullmatch(r"\d{6}", code):
            named = (ctx.profile or bound_profile(ctx.data_dir, profile)).resolve_county(code)
            code = named.code if named is not None else code
        with console.status("正在导出待办案件 (writing the workbook)…"):
            summary = cases.export_workbook(ctx.store, ctx.scope, code, kind, out)
    console.print(f"已导出 {summary.rows:,} 个待办案件到 {escape(str(summary.path))}。")
    for line in summary.notes_zh():
        console.print(line, markup=False)


@cases_app.command("import")
def cases_import(
    path: Annotated[Path, typer.Argument(help="回填的工作簿（.xlsx）")],
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Apply the outcomes of a returned workbook; every rejected row is listed with its cell."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        r = cases.import_workbook(ctx.store, ctx.actor, ctx.scope, path, data_dir=ctx.data_dir)
    if as_json:
        _echo_json({"applied": len(r.applied), "skipped": r.skipped, "blank": r.blank,
                    "rejected": [x.__dict__ for x in r.rejected]})  # fmt: skip
        return
    console.print(
        f"已登记 {len(r.applied):,} 个案件的处理结果；已登记过相同结果而跳过 {r.skipped:,} 行；"
        f"未填写 {r.blank:,} 行；退回 {len(r.rejected):,} 行。",
        markup=False,
    )
    for x in r.rejected:
        console.print(f"  {x.sheet}!{x.cell}：{x.reason_zh}", markup=False)


@cases_app.command("progress")
def cases_progress(
    sla_days: Annotated[int, typer.Option("--sla-days", help="办理时限（天），超过即为逾期")] = 30,
    out: Annotated[Path | None, typer.Option("--out", help="输出文件（.xlsx / .csv）")] = None,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Progress per county, township, kind and assignee (counts only, nothing personal)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        p = cases.progress(ctx.store, ctx.scope, sla_days=sla_days)
    if out is not None:
        if out.suffix.lower() == ".csv":
            outputs.write_csv(p.summary, out)
        else:
            outputs.write_workbook(
                {"办理进度": p.summary, "处理结果": p.outcomes, "应保未保核实": p.uninsured},
                out, labels=PROGRESS_ZH,
            )  # fmt: skip
        console.print(f"已写出 {escape(str(out))}。")
        return
    if as_json:
        _echo_json({"summary": p.summary.to_dicts(), "outcomes": p.outcomes.to_dicts(),
                    "uninsured": p.uninsured.to_dicts()})  # fmt: skip
        return
    cols = ("opened", "open", "worked", "resolved", "confirmed", "gone", "overdue")
    by_county = p.summary.group_by("county_code").agg(pl.col(cols).sum()).sort("county_code")
    table = Table(title=f"扩面个案办理进度（时限 {sla_days} 天）")
    table.add_column("区县")
    for c in cols:
        table.add_column(PROGRESS_ZH[c], justify="right")
    for row in by_county.iter_rows(named=True):
        table.add_row(str(row["county_code"] or ""), *(f"{row[c]:,}" for c in cols))
    console.print(table)


__all__ = ["cases_app"]
