"""``canbao portal …``: the self-service area's staff commands — issue an employer's
self-service password (printed once; changed at the first sign-in), revoke it, revoke a printed
certificate. Run as a user of the store with ``--as USER`` (needs ``portal.manage``; a county
user only for employers of their counties) or as the local operator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from canbao.cli._app import DataDir, app, console
from canbao.cli.cases import AsUser, _dd, user_actor
from canbao.cli.store import DbUrl
from canbao.selfservice import certificates, employer_credentials
from canbao.store import Actor, open_store, roles

portal_app = typer.Typer(
    help="自助服务：发放和作废单位自助查询密码、作废证明（self-service portal）。",
    no_args_is_help=True,
)
app.add_typer(portal_app, name="portal")
CreditCode = Annotated[str, typer.Argument(help="统一社会信用代码（18位）")]


@portal_app.command("issue-password")
def issue_password(
    credit_code: CreditCode,
    as_user: AsUser = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """为单位发放自助查询密码（只显示这一次；单位首次登录须修改）。

    Example: canbao portal issue-password 91360400MA35XXXXXX --as li_city
    """
    dd: Path = _dd(data_dir)
    store = open_store(dd, database_url)
    try:
        actor = Actor.operator() if as_user is None else user_actor(store, as_user)
        emp, password = employer_credentials.issue(store, dd, actor, credit_code)
    finally:
        store.dispose()
    console.print(f"单位：{escape(emp.name)}（{emp.credit_code}）")
    console.print("自助查询初始密码（只显示这一次，请当面或密封交给单位；首次登录须修改）：")
    typer.echo(password)


@portal_app.command("revoke")
def revoke(
    credit_code: CreditCode,
    as_user: AsUser = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """作废单位的自助查询密码（并结束其已登录的会话）。"""
    store = open_store(_dd(data_dir), database_url)
    try:
        actor = Actor.operator() if as_user is None else user_actor(store, as_user)
        done = employer_credentials.revoke(store, actor, credit_code)
    finally:
        store.dispose()
    console.print("已作废。" if done else "该单位没有有效的自助查询密码，无需作废。")


@portal_app.command("revoke-certificate")
def revoke_certificate(
    serial: Annotated[str, typer.Argument(help="证明的流水号")],
    as_user: AsUser = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """作废一份参保缴费情况证明（此后核验答复“无法核验”）。"""
    store = open_store(_dd(data_dir), database_url)
    try:
        actor = Actor.operator() if as_user is None else user_actor(store, as_user)
        roles.require(actor.role, "portal.manage", actor.name)
        done = certificates.revoke(store, serial, actor.name)
    finally:
        store.dispose()
    console.print("已作废。" if done else "没有这份证明，或已作废。")
