"""``canbao remind …``: payment reminders by SMS — make a draft batch from the rules at an as-of
date (``--dry-run``: counts only), approve, cancel, send, record a recipient's refusal, read
delivery receipts and register employer contact numbers. The command line over
:mod:`canbao.notify` (the API the web page ``/reminders`` uses too); see docs/reminders.md.

Runs as the local operator or, with ``--as USER``, as that user of the store (who needs the
permission 提醒短信 ``reminders.manage``). Phones are shown masked.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from canbao.cli._app import DataDir, app, console, default_data_dir
from canbao.cli.cases import user_actor
from canbao.cli.store import DbUrl
from canbao.errors import DataError, UsageError
from canbao.notify import batches, contacts, receipts
from canbao.notify.config import MODE_LABELS
from canbao.notify.rules import REASONS
from canbao.store import Actor, Store, open_store, roles

remind_app = typer.Typer(
    help="缴费提醒短信：按规则生成提醒批次、审核、发送、登记拒收、核对回执（payment reminders）。"
    "生成批次：canbao remind --as-of 日期 [--dry-run]",
    invoke_without_command=True,
)
app.add_typer(remind_app, name="remind")

AsUser = Annotated[
    str | None,
    typer.Option("--as", help="以该用户身份办理（须有“提醒短信”权限）；默认为本机操作员"),
]
BatchId = Annotated[int, typer.Argument(help="提醒批次编号")]
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]


def _open(data_dir: Path | None, url: str | None, as_user: str | None) -> tuple[Path, Store, Actor]:
    dd = data_dir if data_dir is not None else default_data_dir()
    store = open_store(dd, url)
    try:
        actor = Actor.operator() if as_user is None else user_actor(store, as_user)
    except BaseException:
        store.dispose()
        raise
    return dd, store, actor


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise DataError(
            f"--as-of 日期无效：“{text}”（应为 YYYY-MM-DD）", f"bad date {text!r}"
        ) from None


def _print_counts(res: batches.BatchResult, dry_run: bool) -> None:
    head = "试算（未保存）" if dry_run else f"已生成待审核的提醒批次 {res.batch_id}"
    console.print(
        f"{head}：截至 {res.as_of}，{MODE_LABELS[res.mode]}模式，共 {res.total:,} 条。",
        markup=False,
    )
    table = Table(title="提醒短信")
    table.add_column("类别")
    table.add_column("条数", justify="right")
    for reason, label in REASONS.items():
        table.add_row(label, f"{res.reasons.get(reason, 0):,}")
    for key, label in batches.HELD.items():
        table.add_row(f"未生成：{label}", f"{res.held.get(key, 0):,}")
    console.print(table)
    if res.not_before is not None:
        local = res.not_before + dt.timedelta(hours=8)
        console.print(f"现在是免打扰时段，最早于 {local:%Y-%m-%d %H:%M} 发送。", markup=False)


@remind_app.callback()
def remind(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="按此日期（YYYY-MM-DD）运行提醒规则")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只试算条数，不保存")] = False,
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Make a draft reminder batch at ``--as-of`` (or, ``--dry-run``, count only)."""
    if ctx.invoked_subcommand is not None:
        return
    if as_of is None:
        console.print(ctx.get_help(), markup=False)
        raise UsageError("请用 --as-of 指定日期，或给出子命令", "--as-of or a command needed")
    dd, store, actor = _open(data_dir, database_url, as_user)
    try:
        res = batches.make_batch(store, dd, actor, _date(as_of), dry_run=dry_run)
    finally:
        store.dispose()
    if as_json:
        doc = {"batch_id": res.batch_id, "as_of": str(res.as_of), "mode": res.mode}
        typer.echo(json.dumps({**doc, **res.counts()}, ensure_ascii=False))
        return
    _print_counts(res, dry_run)


@remind_app.command("approve")
def remind_approve(
    batch: BatchId,
    as_user: AsUser = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Approve a draft batch (it may then be sent)."""
    _dd, store, actor = _open(data_dir, database_url, as_user)
    try:
        batches.approve(store, actor, batch)
    finally:
        store.dispose()
    console.print(f"已批准提醒批次 {batch}。发送：canbao remind send {batch}", markup=False)


@remind_app.command("cancel")
def remind_cancel(
    batch: BatchId,
    as_user: AsUser = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Cancel a draft or approved batch (its unsent messages are cancelled)."""
    _dd, store, actor = _open(data_dir, database_url, as_user)
    try:
        n = batches.cancel(store, actor, batch)
    finally:
        store.dispose()
    console.print(f"已取消提醒批次 {batch}，{n:,} 条未发送的短信已撤回。", markup=False)


@remind_app.command("send")
def remind_send(
    batch: BatchId,
    as_user: AsUser = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Send an approved batch's messages whose time has come, through the configured sender."""
    dd, store, actor = _open(data_dir, database_url, as_user)
    bar = Progress(
        TextColumn("发送提醒短信"), BarColumn(), MofNCompleteColumn(), console=console,
        transient=True,
    )  # fmt: skip
    task = bar.add_task("send", total=None)
    try:
        with bar:
            res = batches.send_batch(
                store, dd, actor, batch,
                progress=lambda i, n: bar.update(task, completed=i, total=n),
            )  # fmt: skip
    finally:
        store.dispose()
    state = "全部发出" if res.done else f"还有 {res.waiting:,} 条待发送（未到发送时间或非团队号码）"
    console.print(
        f"提醒批次 {batch}：发出 {res.sent:,} 条，失败 {res.failed:,} 条；{state}。", markup=False
    )


def _batch_row(b: Any) -> dict[str, Any]:
    return {
        "id": b.id, "as_of": str(b.as_of), "state": b.state,
        "state_label": batches.STATES.get(b.state, b.state), "mode": b.mode,
        "counts": b.counts, "created_by": b.created_by, "approved_by": b.approved_by,
    }  # fmt: skip


@remind_app.command("list")
def remind_list(
    as_user: AsUser = None,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """List the reminder batches, newest first."""
    _dd, store, actor = _open(data_dir, database_url, as_user)
    try:
        roles.require(actor.role, "reminders.manage", actor.name)
        found = [_batch_row(b) for b in batches.list_batches(store)]
    finally:
        store.dispose()
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False))
        return
    table = Table(title="提醒批次")
    for col in ("编号", "截至日期", "状态", "模式", "条数", "生成人", "批准人"):
        table.add_column(col)
    for b in found:
        table.add_row(
            str(b["id"]), b["as_of"], b["state_label"], MODE_LABELS.get(b["mode"], b["mode"]),
            f"{b['counts'].get('total', 0):,}", b["created_by"], b["approved_by"] or "",
        )  # fmt: skip
    console.print(table)


@remind_app.command("opt-out")
def remind_opt_out(
    person: Annotated[str | None, typer.Option("--person", help="个人标识（person_key）")] = None,
    employer: Annotated[
        str | None, typer.Option("--employer", help="单位标识（employer_key）")
    ] = None,
    undo: Annotated[bool, typer.Option("--undo", help="撤销拒收（恢复提醒）")] = False,
    note: Annotated[str, typer.Option("--note", help="说明（如来电日期）")] = "",
    as_user: AsUser = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Record that a person or employer refuses reminders (one-time codes still go)."""
    if (person is None) == (employer is None):
        raise UsageError("请用 --person 或 --employer 指定一个对象（二选一）", "one recipient")
    rtype, key = ("person", person) if person is not None else ("employer", str(employer))
    dd, store, actor = _open(data_dir, database_url, as_user)
    try:
        contacts.require_known(dd, rtype, key)
        contacts.set_opt_out(store, actor, rtype, key, opted_out=not undo, note=note)
    finally:
        store.dispose()
    what = "已恢复提醒" if undo else "已登记拒收提醒短信"
    console.print(f"{contacts.RECIPIENT_TYPES[rtype]} {key}：{what}。", markup=False)


@remind_app.command("receipts")
def remind_receipts(
    file: Annotated[Path, typer.Argument(help="服务商的状态回执（JSON，阿里云或腾讯云格式）")],
    as_json: JsonOpt = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    database_url: DbUrl = None,
) -> None:
    """Reconcile delivery receipts (Aliyun or Tencent JSON) with the outbox."""
    found, bad = receipts.read_file(file)
    dd = data_dir if data_dir is not None else default_data_dir()
    store = open_store(dd, database_url)
    try:
        res = receipts.reconcile(store, found)
    finally:
        store.dispose()
    if as_json:
        doc = {"delivered": res.delivered, "failed": res.failed, "unknown": res.unknown,
               "unreadable": bad}  # fmt: skip
        typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    console.print(
        f"回执 {len(found) + len(bad):,} 条：送达 {res.delivered:,}，失败 {res.failed:,}，"
        f"找不到对应短信 {len(res.unknown):,}，无法识别 {len(bad):,}。",
        markup=False,
    )
    if res.unknown:
        console.print("找不到对应短信的回执编号：" + "、".join(res.unknown[:20]), markup=False)
    if bad:
        console.print("无法识别的回执（第几条）：" + "、".join(map(str, bad[:20])), markup=False)


@remind_app.command("contacts")
def remind_contacts(
    file: Annotated[Path, typer.Argument(help="单位联系电话（CSV：统一社会信用代码,联系电话）")],
    data_dir: DataDir = None,  # type: ignore[assignment]
) -> None:
    """Register the employers' contact mobile numbers (replaces the previous list)."""
    dd = data_dir if data_dir is not None else default_data_dir()
    n = contacts.import_employer_contacts(dd, file)
    console.print(f"已登记 {n:,} 个单位的联系电话。", markup=False)
