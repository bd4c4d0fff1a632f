"""``canbao gaps`` (work lists) and ``canbao export coverage`` (one row per master person)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from canbao import outputs
from canbao.cli._app import (
    DEFAULT_DATA_DIR,
    OPERATOR,
    DataDir,
    EngineOpt,
    ProfileOpt,
    SparkMasterOpt,
    app,
    bound_profile,
    console,
    export_app,
)
from canbao.coverage import api
from canbao.coverage.worklist import LIST_TITLES_ZH
from canbao.errors import UsageError
from canbao.store import Actor, audit_log


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise UsageError(f"日期格式应为 YYYY-MM-DD：{text}", str(e)) from e


@app.command("gaps")
def gaps_cmd(
    out: Annotated[Path, typer.Option("--out", help="输出文件（.xlsx / .csv）")],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="清单类型：uninsured | duplicates | deceased | employers | land_farmers（默认全部）",
        ),
    ] = None,
    county: Annotated[
        str | None,
        typer.Option(
            "--county",
            help="只导出该区县（6 位行政区划代码或地区配置中的区县名称，须是数据中的区县）",
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="统计日期 YYYY-MM-DD（默认数据截止日）")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="参保政策参数文件（JSON，默认内置）")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Gap work lists for county staff (IDs and phones masked).

    Example: canbao gaps --kind uninsured --county <区县代码或名称> --out 应保未保.xlsx
    Example: canbao gaps --engine spark --spark-master local[4] --out gaps.xlsx
    """
    if out.suffix.lower() not in (".xlsx", ".csv"):
        raise UsageError(
            f"不支持的清单格式：{out.suffix}（可用 .xlsx / .csv）",
            f"unsupported format {out.suffix!r}",
        )
    prof = bound_profile(data_dir, profile) if county is not None or profile else None
    with console.status("正在比对参保状态 (analysing coverage)…"):
        lists = api.gap_lists(
            data_dir,
            OPERATOR,
            kind,
            county,
            _date(as_of),
            policy,
            engine=engine,
            spark_master=spark_master,
            profile=prof,
        )
        written = api.write_gap_lists(lists, out)
    rows = sum(frame.height for frame in lists.values())
    audit_log.log_export(data_dir, Actor.operator(), "gaps", written.path.name, rows)
    table = Table("清单 (list)", "条数 (rows)")
    for key, frame in lists.items():
        table.add_row(LIST_TITLES_ZH.get(key, key), f"{frame.height:,}")
    console.print(table)
    console.print(f"已写出工作清单：{written.path}（证件号、电话已脱敏）", markup=False)
    for note in written.notes_zh():
        console.print(f"注意：{note}", markup=False)


@export_app.command("coverage")
def export_coverage(
    out: Annotated[Path, typer.Option("--out", help="输出文件（.csv）")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="统计日期 YYYY-MM-DD")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """One row per master person: person_key,id18,name,county_code,schemes,flags (full IDs).

    Example: canbao export coverage --engine spark --out coverage.csv
    """
    if out.suffix.lower() != ".csv":
        raise UsageError("参保状态导出须为 .csv", f"export coverage writes csv, not {out.suffix!r}")
    df = api.coverage_export(
        data_dir, OPERATOR, _date(as_of), engine=engine, spark_master=spark_master
    )
    outputs.write_csv(df, out)
    audit_log.log_export(data_dir, Actor.operator(), "coverage", out.name, df.height, ("id18",))
    console.print(f"已导出 {df.height:,} 人的参保状态到 {out}（exported）", markup=False)
