"""``canbao build``, ``canbao review`` and ``canbao export links|persons|employers|corrections``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table

from canbao import cases
from canbao.cli._app import (
    DEFAULT_DATA_DIR,
    OPERATOR,
    DataDir,
    EngineOpt,
    OutFile,
    SparkMasterOpt,
    app,
    console,
    export_app,
)
from canbao.cli.store import DbUrl
from canbao.registry import api, corrections
from canbao.standards import masking
from canbao.store import Actor, audit_log, open_store

REVEALED_FIELDS = ("id18", "phone", "address", "birth_date")  # in full in `export persons`
REASONS_ZH = api.VALUE_LABELS_ZH["reason"]  # why a pair is in the review queue, in words

review_app = typer.Typer(
    help="人工复核疑似同一人（review uncertain pairs）。", no_args_is_help=True
)
app.add_typer(review_app, name="review")


@app.command("build")
def build_cmd(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    full: Annotated[bool, typer.Option("--full", help="全量重建（rebuild every pair）")] = False,
    retrain: Annotated[
        bool, typer.Option("--retrain", help="重新训练概率模型（retrain the model）")
    ] = False,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Build the registry from the current batches, then publish the contribution ledger at the
    data's as-of date (both incremental unless --full).

    Example: canbao build --data-dir canbao-data
    Example: canbao build --engine spark --spark-master local[4]
    """
    with console.status("正在建立登记库 (building the registry)…") as status:
        result = api.build(
            data_dir,
            full=full,
            retrain=retrain,
            progress=lambda m: status.update(m),
            engine=engine,
            spark_master=spark_master,
        )
    mode = "全量 (full)" if result.mode == "full" else "增量 (incremental)"
    console.print(f"[bold green]登记库已更新[/]（{mode}）：build {result.build_id}")
    table = Table("项目 (item)", "数量 (count)")
    labels = {
        "person_records": "人员记录 (person records)",
        "persons": "主人员 (master persons)",
        "review_items": "待复核 (to review)",
        "id_corrections": "建议更正身份证号 (proposed ID corrections)",
        "employers": "主单位 (master employers)",
        "enrollments": "参保记录 (enrolment records)",
    }
    for key, label in labels.items():
        table.add_row(label, f"{result.counts.get(key, 0):,}")
    console.print(table)
    console.print(f"用时 (seconds): {sum(result.seconds.values()):.1f}")
    from canbao.collection import published

    with console.status("正在生成征缴台账 (publishing the contribution ledger)…"):
        ledger = published.publish(data_dir, engine=engine, spark_master=spark_master, full=full)
    if ledger is not None:
        if ledger.mode == "incremental":
            how = f"增量：重算 {ledger.touched or 0:,} 行 (incremental)"
        else:
            how = f"全量：{ledger.reason_zh} (full: {ledger.reason})"
        console.print(
            f"征缴台账已随本次构建发布：截至 {ledger.as_of}，{ledger.rows:,} 行，{how}"
            f"（{ledger.seconds:.1f} 秒）(ledger published)",
            markup=False,
        )


@review_app.command("list")
def review_list(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    limit: Annotated[int, typer.Option("--limit", help="最多显示条数")] = 20,
    out: Annotated[str, typer.Option("--out", help="同时导出到文件 (.csv/.xlsx)")] = "",
) -> None:
    """List uncertain pairs with their evidence (IDs masked, birth dates as years, names
    masked on the terminal; the --out file keeps names for the reviewer)."""
    items = api.review_items(data_dir, OPERATOR)
    if out:
        _export(items, Path(out), data_dir, "review_items")
    if items.height == 0:
        console.print("复核队列为空（nothing to review）。")
        return
    table = Table(title="待复核的记录对（左右两条是否同一人）")
    table.add_column("编号", no_wrap=True, min_width=12)
    table.add_column("原因", no_wrap=True)
    table.add_column("概率", no_wrap=True)
    table.add_column("姓名 左/右（脱敏）")
    table.add_column("证件号 左/右（脱敏）")
    table.add_column("出生年 左/右")
    table.add_column("出生日期比对")
    shown = items.head(limit).with_columns(
        masking.mask_name_expr(pl.col(c)).alias(c) for c in ("left_name", "right_name")
    )
    for r in shown.iter_rows(named=True):
        cells = (
            r["pair_id"],
            REASONS_ZH.get(r["reason"], r["reason"]),
            f"{r['match_probability']:.3f}",
            f"{r['left_name'] or '—'} / {r['right_name'] or '—'}",
            f"{r['left_id'] or '—'} / {r['right_id'] or '—'}",
            f"{r['left_birth'] or '—'} / {r['right_birth'] or '—'}",
            r["birth_match"] or "—",
        )
        table.add_row(*(escape(c) for c in cells))
    console.print(table)
    console.print(
        f"共 {items.height} 条待复核（open items）。用 canbao review decide 编号 same|different 作出决定。"
    )


@review_app.command("decide")
def review_decide(
    pair_id: Annotated[str, typer.Argument(help="复核编号 (pair_id)")],
    decision: Annotated[str, typer.Argument(help="same（同一人）或 different（不同人）")],
    note: Annotated[str, typer.Option("--note", help="备注")] = "",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DbUrl = None,
) -> None:
    """Decide a pair; every later build respects the decision. When the pair is a review
    case (``canbao cases open``), the case is resolved with it (same record, same audit)."""
    store = open_store(data_dir, database_url)
    try:
        case = cases.decide_pair(store, Actor.operator(), OPERATOR, data_dir, pair_id, decision,
                                 note)  # fmt: skip
    finally:
        store.dispose()
    console.print(
        f"已记录决定（recorded）：{pair_id} → {decision}；下次 canbao build 生效。", markup=False
    )
    if case is not None:
        console.print(f"复核案件 #{case.id} 已办结：{case.outcome_label}。", markup=False)


def _export(df: pl.DataFrame, out: Path, data_dir: Path, what: str) -> None:
    summary = api.export_table(df, out)
    fields = REVEALED_FIELDS if what == "persons" else ()
    audit_log.log_export(data_dir, Actor.operator(), what, summary.path.name, df.height, fields)
    console.print(f"已导出 {df.height:,} 行到 {summary.path}（exported）", markup=False)
    for note in summary.notes_zh():
        console.print(f"注意：{note}", markup=False)


@export_app.command("links")
def export_links(out: OutFile, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """source,row,person_key for every ingested person-bearing record."""
    _export(
        api.links(data_dir, OPERATOR).select("source", "row", "person_key"), out, data_dir, "links"
    )


@export_app.command("persons")
def export_persons(out: OutFile, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Master person records (.csv, .xlsx or .parquet), full IDs, phones and addresses for the
    data team (the reveal and the export are audit-logged)."""
    _export(api.persons(data_dir, OPERATOR, reveal=True), out, data_dir, "persons")


@export_app.command("employers")
def export_employers(out: OutFile, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Master employer records."""
    _export(api.employers(data_dir, OPERATOR), out, data_dir, "employers")


@export_app.command("corrections")
def export_corrections(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="输出目录（每个数据来源一个 .xlsx）或 .xlsx 文件（每个数据来源一个工作表）",
        ),
    ],
    source: Annotated[
        str | None, typer.Option("--source", help="只导出该数据来源（如 police_hukou）")
    ] = None,
    preview: Annotated[
        int, typer.Option("--preview", min=0, help="终端预览条数（已脱敏；0 不预览）")
    ] = 5,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Proposed ID and name corrections, per source department, to send back to it.

    The files carry the full proposed values (to be sent only to the department that delivered
    the data); the terminal shows everything masked.

    Example: canbao export corrections --out 更正建议/
    Example: canbao export corrections --source police_hukou --out 户籍-更正建议.xlsx
    """
    corrections.output_kind(out)  # a wrong --out fails before any work
    with console.status("正在整理更正建议 (collecting corrections)…") as status:
        result = corrections.collect(data_dir, source)
        status.update("正在写出 (writing)…")
        written = corrections.write(result, out)
    counts = result.counts()
    total = sum(a + b for a, b in counts.values())
    audit_log.log_export(data_dir, Actor.operator(), "corrections", out.name, total, ("id18",))
    place = "工作表 (sheet)" if corrections.output_kind(out) == "file" else "文件 (file)"
    table = Table("数据来源 (source)", "身份证号 (IDs)", "姓名 (names)", place)
    for src, (n_id, n_name) in counts.items():
        where = written.where.get(src, "—（无需更正）")
        table.add_row(escape(src), f"{n_id:,}", f"{n_name:,}", escape(where))
    console.print(table)
    others = len(set(result.sources) - set(counts)) if source is None else 0
    if others:
        console.print(f"其余 {others} 个有人员记录的数据来源无需更正。", markup=False)
    shown = corrections.staff_table(result).head(preview)
    if preview and shown.height:
        sample = Table(title=f"预览前 {shown.height} 条（已脱敏）")
        for col in ("source", "row", "item", "delivered", "proposed", "basis"):
            wide = col in ("delivered", "proposed")  # a masked ID is shown whole (20 chars)
            sample.add_column(
                corrections.COLUMN_LABELS_ZH[col],
                no_wrap=wide,
                min_width=20 if wide else None,
                overflow="fold",
            )
        for r in shown.iter_rows(named=True):
            cells = (r["source"], str(r["row"]), r["item"], r["delivered"], r["proposed"],
                     r["basis"])  # fmt: skip
            sample.add_row(*(escape(masking.mask_text(c or "")) for c in cells))
        console.print(sample)
    total = sum(a + b for a, b in counts.values())
    if not written.where:
        console.print("没有需要更正的记录，未写出文件（nothing to correct）。", markup=False)
        return
    console.print(
        f"已写出 {total:,} 条更正建议到 {written.root}（exported）。"
        "文件含个人信息，仅限发送给数据提供部门。",
        markup=False,
        soft_wrap=True,
    )
    for summary in written.summaries:
        for note in summary.notes_zh():
            console.print(f"注意：{note}", markup=False)
