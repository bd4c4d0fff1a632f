"""The store's commands: ``canbao db``, ``users``, ``keys``, ``audit-log``, ``backup``,
``restore``. The command line acts as the local operator (role admin, logged as
``system:<os user>``)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from canbao.cli._app import DataDir, app, console, default_data_dir
from canbao.errors import UsageError
from canbao.profile import profile_for
from canbao.store import Actor, Store, accounts, audit_log, open_store, roles
from canbao.store import backup as backups
from canbao.store.db import ENV_URL, head_revision, shown_url
from canbao.store.models import utcnow

DbUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar=ENV_URL,
        help="数据库地址（SQLAlchemy URL，如 postgresql+psycopg://用户:密码@主机/库）；"
        "默认为数据目录中的 store.sqlite3",
    ),
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="从标准输入读取密码（第一行）")
]

db_app = typer.Typer(help="应用数据库（store）：结构版本与升级。", no_args_is_help=True)
users_app = typer.Typer(help="用户与角色（users and roles）。", no_args_is_help=True)
keys_app = typer.Typer(help="其他部门的接口密钥（API keys）。", no_args_is_help=True)
log_app = typer.Typer(help="个人信息访问与操作审计日志（audit log）。", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(log_app, name="audit-log")


def _dd(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else default_data_dir()


def _store(data_dir: Path | None, url: str | None, upgrade: bool | None = None) -> Store:
    return open_store(_dd(data_dir), url, upgrade=upgrade)


def _password(stdin: bool) -> str:
    if not stdin:
        raise UsageError(
            "请用 --password-stdin 从标准输入给出密码（不在命令行上写密码）",
            "use --password-stdin",
        )
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DbUrl = None) -> None:  # type: ignore[assignment]
    """Bring the database schema to this program's version (Alembic migrations)."""
    store = _store(data_dir, database_url, upgrade=True)
    console.print(f"数据库 {escape(store.shown)} 已是最新结构版本 {head_revision()}。")
    store.dispose()


@db_app.command("current")
def db_current(data_dir: DataDir = None, database_url: DbUrl = None) -> None:  # type: ignore[assignment]
    """Show the database's schema version and the program's."""
    store = _store(data_dir, database_url, upgrade=False)
    doc = {"database": shown_url(store.url), "revision": store.revision(), "head": head_revision()}
    typer.echo(json.dumps(doc, ensure_ascii=False))
    store.dispose()


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option("--role", help="角色：" + ", ".join(roles.ROLES))],
    county: Annotated[list[str] | None, typer.Option("--county", help="区县代码（可多次）")] = None,
    display_name: Annotated[str, typer.Option("--display-name", help="姓名（显示用）")] = "",
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Create a user (password from standard input)."""
    password = _password(password_stdin)
    known = [c.code for c in profile_for(_dd(data_dir), remember=False).profile.counties]
    store = _store(data_dir, database_url)
    accounts.add_user(
        store, Actor.operator(), name, role, password, county or [], display_name, known
    )
    console.print(f"已创建用户 {escape(name)}（{roles.ROLES[role]}）。")
    store.dispose()


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """List users (no password hashes)."""
    store = _store(data_dir, database_url)
    users = accounts.list_users(store)
    store.dispose()
    rows = [
        {
            "name": u.name,
            "display_name": u.display_name,
            "role": u.role,
            "counties": list(u.counties),
            "disabled": u.disabled,
            "locked": u.locked_until is not None and u.locked_until > utcnow(),
            "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
        }
        for u in users
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title="用户")
    for col in ("用户名", "姓名", "角色", "区县", "状态", "最近登录(UTC)"):
        table.add_column(col)
    for r in rows:
        state = "停用" if r["disabled"] else ("锁定" if r["locked"] else "正常")
        table.add_row(
            escape(str(r["name"])), escape(str(r["display_name"])),
            roles.ROLES.get(str(r["role"]), str(r["role"])), "、".join(r["counties"]),  # type: ignore[arg-type]
            state, str(r["last_login_at"] or "—"),
        )  # fmt: skip
    console.print(table)


@users_app.command("disable")
def users_disable(name: str, data_dir: DataDir = None, database_url: DbUrl = None) -> None:  # type: ignore[assignment]
    """Disable a user (they can no longer sign in; their history stays)."""
    store = _store(data_dir, database_url)
    accounts.disable_user(store, Actor.operator(), name)
    store.dispose()
    console.print(f"已停用用户 {escape(name)}。")


@users_app.command("passwd")
def users_passwd(
    name: str,
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Set a user's password (from standard input); unlocks the account."""
    password = _password(password_stdin)
    store = _store(data_dir, database_url)
    accounts.set_password(store, Actor.operator(), name, password)
    store.dispose()
    console.print(f"已修改用户 {escape(name)} 的密码。")


@keys_app.command("add")
def keys_add(
    name: str,
    purpose: Annotated[
        str,
        typer.Option(
            "--purpose",
            help="该部门查询的用途和依据（如“劳务派遣行政许可审批”），记入每次调用的审计日志",
        ),
    ],
    role: Annotated[str, typer.Option("--role", help="角色（只能是 department）")] = "department",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="接口权限范围，可重复（默认 compliance:read：查询单位参保缴费情况）",
        ),
    ] = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Create an API key for another department; the key is printed once.

    Example: canbao keys add hrss_dispatch --purpose 劳务派遣行政许可审批 --scope compliance:read
    """
    if not purpose.strip():
        raise UsageError("须用 --purpose 写明该部门查询的用途", "--purpose is required")
    store = _store(data_dir, database_url)
    try:
        _row, key = accounts.add_key(
            store, Actor.operator(), name, role,
            scopes=scope or list(accounts.DEFAULT_SCOPES), purpose=purpose,
        )  # fmt: skip
    finally:
        store.dispose()
    typer.echo(key)
    typer.echo("（密钥只显示这一次，请妥善转交；系统只保存其摘要）", err=True)


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """List API keys (names, prefixes, scopes and purposes; never the keys)."""
    store = _store(data_dir, database_url)
    keys = accounts.list_keys(store)
    store.dispose()
    if as_json:
        for k in keys:
            doc = {
                "name": k.name, "role": k.role, "prefix": k.prefix, "scopes": k.scopes,
                "purpose": k.purpose, "created_at": k.created_at.isoformat(),
                "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                "revoked": k.revoked_at is not None,
            }  # fmt: skip
            typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    table = Table(title="接口密钥")
    for col in ("名称", "角色", "前缀", "权限范围", "用途", "创建", "最近使用", "状态"):
        table.add_column(col)
    for k in keys:
        table.add_row(
            escape(k.name), k.role, k.prefix + "…", escape(",".join(k.scopes or [])),
            escape(k.purpose or "—"), k.created_at.isoformat(),
            k.last_used_at.isoformat() if k.last_used_at else "—",
            "已吊销" if k.revoked_at else "有效",
        )  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(name: str, data_dir: DataDir = None, database_url: DbUrl = None) -> None:  # type: ignore[assignment]
    """Revoke an API key."""
    store = _store(data_dir, database_url)
    accounts.revoke_key(store, Actor.operator(), name)
    store.dispose()
    console.print(f"已吊销接口密钥 {escape(name)}。")


@log_app.command("verify")
def log_verify(data_dir: DataDir = None, database_url: DbUrl = None) -> None:  # type: ignore[assignment]
    """Check the audit log's chain: every entry unchanged, none missing."""
    store = _store(data_dir, database_url)
    checked, problems = audit_log.verify(store)
    last, digest = audit_log.head(store)
    store.dispose()
    if problems:
        for p in problems[:50]:
            console.print(f"[red]✗[/] {escape(p.message_zh)}")
        console.print(f"审计日志校验未通过：共 {checked} 条，发现 {len(problems)} 处问题。")
        raise typer.Exit(1)
    console.print(f"审计日志校验通过：共 {checked} 条，末条 #{last}，摘要 {digest[:16]}…")


@log_app.command("show")
def log_show(
    user: Annotated[str | None, typer.Option("--user", help="只看该用户")] = None,
    since: Annotated[str | None, typer.Option("--since", help="起始日期 YYYY-MM-DD（UTC）")] = None,
    action: Annotated[str | None, typer.Option("--action", help="只看该操作，如 login")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Show the latest audit-log entries (administrators)."""
    start = None
    if since:
        try:
            start = dt.datetime.fromisoformat(since)
        except ValueError as e:
            raise UsageError(f"--since 应为日期 YYYY-MM-DD，而不是 {since!r}", str(e)) from e
    store = _store(data_dir, database_url)
    rows = audit_log.entries(store, actor=user, since=start, action=action, limit=limit)
    store.dispose()
    out = [
        {
            "id": e.id, "at": e.at.isoformat(), "actor": e.actor, "role": e.role,
            "action": e.action, "object_type": e.object_type, "object_keys": e.object_keys,
            "fields": e.fields, "client": e.client,
        }
        for e in rows
    ]  # fmt: skip
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    table = Table(title="审计日志（最新在前，时间为 UTC）")
    for col in ("#", "时间", "用户", "角色", "操作", "对象", "显示字段", "来源"):
        table.add_column(col)
    for r in out:
        table.add_row(
            str(r["id"]), str(r["at"]), escape(str(r["actor"])), str(r["role"]),
            str(r["action"]), escape(f"{r['object_type']} {','.join(r['object_keys'])}"),  # type: ignore[arg-type]
            ",".join(r["fields"]), escape(str(r["client"])),  # type: ignore[arg-type]
        )  # fmt: skip
    console.print(table)


@app.command("backup")
def backup_cmd(
    out: Annotated[Path, typer.Option("--out", help="备份文件（.zip）")],
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Back up the store and the data directory's pointers and small state files."""
    store = _store(data_dir, database_url)
    summary = backups.backup(store, _dd(data_dir), out)
    store.dispose()
    rows = "，".join(f"{k} {v}" for k, v in summary.rows.items())
    console.print(
        f"已备份到 {escape(str(summary.path))}：{rows}；数据目录文件 {len(summary.files)} 个。"
    )


@app.command("restore")
def restore_cmd(
    file: Path,
    replace: Annotated[bool, typer.Option("--replace", help="覆盖目标数据库中已有的数据")] = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Restore a backup into the store (empty, or --replace) and the data directory."""
    store = _store(data_dir, database_url)
    try:
        summary = backups.restore(store, file, _dd(data_dir), replace=replace)
    finally:
        store.dispose()
    rows = "，".join(f"{k} {v}" for k, v in summary.rows.items())
    console.print(f"已恢复：{rows}；数据目录文件 {len(summary.files)} 个。审计日志校验通过。")
    for s in summary.skipped:
        console.print(f"提示：{escape(s)}")
