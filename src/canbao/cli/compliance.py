"""``canbao compliance show`` (an employer's standing as the compliance API gives it, audit-logged
like an API call) and ``canbao credit-listing add|withdraw|list`` (formal 严重失信 listings,
decided by staff with ``credit.list``): the command line over :mod:`canbao.compliance`.

The commands run as the local operator or, with ``--as USER``, as that user of the store (their
role and county scope apply; the audit log names them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from canbao.cli._app import DataDir, ProfileOpt, app, console
from canbao.cli.cases import AsUser, JsonOpt, _Ctx, _date, _echo_json
from canbao.cli.store import DbUrl
from canbao.compliance import api, listings
from canbao.compliance.standing import STANDINGS
from canbao.errors import CanbaoError, PermissionDenied
from canbao.store import roles

compliance_app = typer.Typer(
    help="单位参保缴费情况（供其他部门查询的合规状态，不含个人信息）。", no_args_is_help=True
)
listing_app = typer.Typer(
    help="社会保险领域严重失信人名单：列入（须引用法律依据）、撤销、查询。", no_args_is_help=True
)
app.add_typer(compliance_app, name="compliance")
app.add_typer(listing_app, name="credit-listing")

Purpose = Annotated[str, typer.Option("--purpose", help="查询用途（记入审计日志）")]


@compliance_app.command("show")
def compliance_show(
    credit_code: Annotated[str, typer.Argument(help="统一社会信用代码")],
    purpose: Purpose = "命令行查询",
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """An employer's standing by credit code (what the compliance API answers).

    Example: canbao compliance show 91360424329622753F --json
    """
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        roles.require(ctx.actor.role, api.ACTION, ctx.actor.name)
        got = api.show(ctx.data_dir, ctx.store, ctx.actor, ctx.scope, credit_code, purpose)
    if as_json:
        typer.echo(got.model_dump_json())
        return
    listed = got.credit_listing
    rows = [
        ("单位名称", got.employer_name),
        ("统一社会信用代码", got.credit_code),
        ("社会保险登记", "已登记" if got.registered else "未登记"),
        ("参保险种", "、".join(got.scheme_labels) or "—"),
        ("欠费状态", got.arrears_status_label),
        ("欠费金额区间", got.arrears_band_label),
        ("最早欠费所属期", got.oldest_period or "—"),
        ("欠费月数", str(got.months_in_arrears)),
        ("缴费协议", got.agreement_status_label or "—"),
        ("催缴与强制执行", got.enforcement_status_label or "—"),
        ("严重失信名单", "已列入" if listed.listed else "未列入"),
        *[
            (f"  列入情形 {i + 1}", f"{e.ground_label}；依据：{e.legal_basis}；"
                                   f"文号：{e.decision_no}；{e.listed_on}～{e.listed_until or '—'}")
            for i, e in enumerate(listed.entries)
        ],
        ("数据截止日期", got.as_of.isoformat()),
        ("请求编号", got.request_id),
    ]  # fmt: skip
    for k, v in rows:
        console.print(f"{k}：{escape(v)}")


@listing_app.command("add")
def listing_add(
    credit_code: Annotated[str, typer.Argument(help="统一社会信用代码")],
    ground: Annotated[
        str,
        typer.Option("--ground", help="列入情形代码：" + " | ".join(listings.grounds())),
    ],
    decision_no: Annotated[str, typer.Option("--decision-no", help="列入决定书文号")],
    listed_on: Annotated[str, typer.Option("--on", help="列入日期 YYYY-MM-DD")],
    until: Annotated[str | None, typer.Option("--until", help="列入截止日期 YYYY-MM-DD")] = None,
    legal_basis: Annotated[
        str, typer.Option("--legal-basis", help="法律依据（默认为列入情形的条款）")
    ] = "",
    note: Annotated[str, typer.Option("--note", help="事实与说明")] = "",
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """List an employer as 严重失信 (staff decision, legal ground cited).

    Example: canbao credit-listing add 91360424329622753F --ground unregistered_after_penalty
    --decision-no 九人社失信〔2018〕1号 --on 2018-03-01 --until 2021-02-28 --as city_li
    """
    on = _date(listed_on, "--on")
    assert on is not None
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        key = _employer_key(ctx.data_dir, credit_code)
        got = listings.list_employer(
            ctx.store, ctx.actor, credit_code, ground, legal_basis, decision_no, on,
            _date(until, "--until"), note, employer_key=key,
        )  # fmt: skip
    if as_json:
        _echo_json(got.__dict__)
        return
    console.print(f"已列入严重失信人名单：记录 #{got.id}，{escape(got.credit_code)}，"
                  f"{escape(got.ground_label)}")  # fmt: skip


def _employer_key(data_dir: Path, credit_code: str) -> str:
    """The master employer of the code in the current build, '' when the registry has none."""
    try:
        index = STANDINGS.current(data_dir)
    except CanbaoError:  # no build or no ledger yet: the listing stands on its own
        return ""
    entry = index.get(listings.valid_code(credit_code))
    return entry.employer_key if entry else ""


@listing_app.command("withdraw")
def listing_withdraw(
    listing_id: Annotated[int, typer.Argument(help="名单记录编号")],
    note: Annotated[str, typer.Option("--note", help="撤销理由（如信用修复、决定被撤销）")],
    as_user: AsUser = None,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Withdraw a listing before its term, with the reason."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        got = listings.withdraw(ctx.store, ctx.actor, listing_id, note)
    console.print(f"已撤销名单记录 #{got.id}（{escape(got.credit_code)}）。")


@listing_app.command("list")
def listing_list(
    credit_code: Annotated[str | None, typer.Option("--code", help="只看该单位")] = None,
    active: Annotated[str | None, typer.Option("--active-on", help="只看该日有效的")] = None,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """The listings (all, one employer's, or those active on a day)."""
    with _Ctx(data_dir, database_url, as_user, profile) as ctx:
        if not (roles.can(ctx.actor.role, "credit.list") or roles.can(ctx.actor.role, api.ACTION)):
            raise PermissionDenied("没有查看严重失信名单的权限", "may not read listings")
        found = listings.listings(ctx.store, credit_code, active_on=_date(active, "--active-on"))
    if as_json:
        for x in found:
            _echo_json(x.__dict__)
        return
    table = Table(title="社会保险领域严重失信人名单")
    for col in ("编号", "统一社会信用代码", "列入情形", "文号", "列入日期", "截止日期", "状态"):
        table.add_column(col)
    for x in found:
        table.add_row(
            str(x.id), x.credit_code, escape(x.ground_label[:24]), escape(x.decision_no),
            x.listed_on.isoformat(), x.listed_until.isoformat() if x.listed_until else "—",
            f"已撤销（{escape(x.removal_note)}）" if x.removed_at else "有效",
        )  # fmt: skip
    console.print(table)
