"""``canbao ingest`` and ``canbao batches``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from canbao.cli._app import DEFAULT_DATA_DIR, DataDir, app, console, console_err
from canbao.errors import CanbaoError, UsageError
from canbao.ingest import batches as ingest_batches
from canbao.ingest import headers, kinds, manifest, report
from canbao.ingest.api import batches_frame
from canbao.warehouse.lock import writes_data_dir


def _ingest_one(
    data_dir: Path,
    path: Path,
    progress: Progress,
    *,
    source: str,
    kind: str,
    scheme: str | None,
    as_of: str | None,
    mapping: dict[str, str],
    sheet: str | None,
    encoding: str | None,
) -> ingest_batches.IngestResult:
    task = progress.add_task(path.name, total=len(ingest_batches.STEPS), step="")

    def step(i: int, label: str) -> None:
        progress.update(task, completed=i, step=label)

    try:
        res = ingest_batches.ingest_file(
            data_dir,
            path,
            source=source,
            kind=kind,
            scheme=scheme,
            as_of=as_of,
            mapping=mapping,
            sheet=sheet,
            encoding=encoding,
            progress=step,
        )
    finally:
        progress.update(task, completed=len(ingest_batches.STEPS), step="完成")
    return res


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.fields[step]}"),
        TimeElapsedColumn(),
        console=console,
    )


@app.command("ingest")
def ingest_cmd(
    path: Annotated[Path, typer.Argument(help="要导入的文件，或含 manifest.json 的目录。")],
    source: Annotated[
        str | None, typer.Option("--source", help="数据来源（如 police_hukou）。")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="记录类型：" + ", ".join(kinds.KINDS))
    ] = None,
    scheme: Annotated[
        str | None, typer.Option("--scheme", help="险种：" + ", ".join(kinds.SCHEMES))
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="数据截止日期 YYYY-MM-DD。")] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="列名=字段，可重复；字段为 - 表示忽略该列。")
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Excel 工作表名（默认第一个）。")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="文本编码声明：utf-8、gb18030、gbk…")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """导入部门数据文件（ingest a departmental extract, or DIR/manifest.json）。"""
    if path.is_dir():
        if source or kind or scheme or map_ or sheet or encoding:
            raise UsageError(
                "导入目录时从 manifest.json 读取来源、类型等信息，请不要再指定 --source/--kind 等选项",
                "options other than --data-dir/--as-of are not allowed with a directory",
            )
        _ingest_dir(data_dir, path, as_of)
        return
    if not source or not kind:
        raise UsageError(
            "导入单个文件时必须指定 --source 和 --kind",
            "--source and --kind are required for a file",
        )
    mapping = headers.parse_map_args(map_ or [])
    try:
        with _progress() as progress:
            res = _ingest_one(
                data_dir, path, progress, source=source, kind=kind, scheme=scheme, as_of=as_of,
                mapping=mapping, sheet=sheet, encoding=encoding,
            )  # fmt: skip
    except CanbaoError:
        raise
    except Exception as e:  # noqa: BLE001 (no traceback reaches a user; details at DEBUG)
        raise ingest_batches.unexpected_error(path, e) from e
    console.print(res.message_zh, markup=False)
    if not res.skipped:
        report.render(res.report, console)
        console.print("校验报告：" + "，".join(str(p) for p in res.report_paths), markup=False)


@writes_data_dir("ingest")  # once for the whole directory
def _ingest_dir(data_dir: Path, directory: Path, as_of: str | None) -> None:
    man = manifest.load(directory)
    results: list[tuple[manifest.ManifestFile, ingest_batches.IngestResult | CanbaoError]] = []
    with _progress() as progress:
        for f in man.files:
            try:
                res = _ingest_one(
                    data_dir, f.path, progress, source=f.source, kind=f.kind, scheme=f.scheme,
                    as_of=as_of or f.as_of, mapping=f.map, sheet=f.sheet, encoding=f.encoding,
                )  # fmt: skip
                results.append((f, res))
            except CanbaoError as e:
                results.append((f, e))
            except Exception as e:  # noqa: BLE001 (one file's failure never stops the others)
                results.append((f, ingest_batches.unexpected_error(f.path, e)))
    t = Table(title=escape(f"导入 {directory}（{len(man.files)} 个文件）"))
    for col in ("文件", "来源", "类型", "数据行", "接收", "隔离", "结果"):
        t.add_column(col, justify="right" if col in ("数据行", "接收", "隔离") else "left")
    failed = 0
    details: list[str] = []  # whole messages below the table (a table cell would cut them)
    for f, r in results:
        rel = (
            str(f.path.relative_to(directory)) if f.path.is_relative_to(directory) else str(f.path)
        )
        label = kinds.KIND_LABELS_ZH.get(f.kind, f.kind)
        if isinstance(r, CanbaoError):
            failed += 1
            t.add_row(escape(rel), escape(f.source), label, "", "", "", "[red]失败（见下）[/]")
            details.append(f"失败：{rel}：{r.render()}")
        else:
            b = r.batch
            status = "已导入过，跳过" if r.skipped else "已导入"
            t.add_row(
                escape(rel), escape(f.source), label, str(b.rows), str(b.accepted),
                str(b.quarantined), status,
            )  # fmt: skip
            if not r.skipped and not r.as_of_given:
                note = ingest_batches.AS_OF_DEFAULT_NOTE.format(day=b.as_of)
                details.append(f"注意：{rel}：{note}")
    console.print(t)
    for line in details:
        console.print(line, markup=False)
    console.print(f"校验报告：{data_dir / 'batches'}/<批次>/report.xlsx", markup=False)
    if failed:
        console_err.print(f"[bold red]错误：[/]{failed} 个文件导入失败（{failed} file(s) failed）")
        raise typer.Exit(1)


@app.command("batches")
def batches_cmd(
    kind: Annotated[str | None, typer.Option("--kind", help="只看某类记录。")] = None,
    current: Annotated[bool, typer.Option("--current", help="只列出当前有效批次。")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出。")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """列出已导入的批次（list ingested batches）。"""
    df = batches_frame(data_dir)
    if kind:
        ingest_batches.check_kind(kind, None)
        df = df.filter(df["kind"] == kind)
    if current:
        df = df.filter(df["current"])
    if as_json:
        typer.echo(json.dumps(df.to_dicts(), ensure_ascii=False, default=str, indent=2))
        return
    if df.height == 0:
        console.print(f"数据目录“{data_dir}”中还没有批次", markup=False)
        return
    t = Table(title=escape(f"批次（{data_dir}）"))
    for col in (
        "批次",
        "来源",
        "类型",
        "险种",
        "截止日期",
        "文件",
        "数据行",
        "接收",
        "隔离",
        "状态",
    ):
        t.add_column(col)
    for r in df.iter_rows(named=True):
        t.add_row(
            escape(r["batch_id"]), escape(r["source"]), kinds.KIND_LABELS_ZH.get(r["kind"], r["kind"]),
            kinds.SCHEME_LABELS_ZH.get(r["scheme"] or "", ""),
            str(r["as_of"]) + ("" if r["as_of_given"] else "（按导入日期）"), escape(r["file_name"]),
            str(r["rows"]), str(r["accepted"]), str(r["quarantined"]),
            "当前" if r["current"] else f"已被 {r['superseded_by']} 取代",
        )  # fmt: skip
    console.print(t)
