"""``canbao ledger export``, ``canbao arrears`` and ``canbao kpi``: the contribution ledger, the
collectors' arrears list and the collection KPIs (money as yuan text with two decimals)."""

from __future__ import annotations

import datetime as dt
import json
import re
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
    SparkMasterOpt,
    app,
    console,
)
from canbao.collection import api
from canbao.collection.exports import arrears_labels, arrears_text, ledger_text
from canbao.collection.ledger import region_policy
from canbao.errors import UsageError
from canbao.store import Actor, audit_log

ledger_app = typer.Typer(help="征缴台账（contribution ledger）。", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def as_of_date(text: str, option: str = "--as-of") -> dt.date:
    """A strict YYYY-MM-DD date; anything else is a UsageError (exit 2) in Chinese."""
    value = text.strip()
    try:
        if _ISO_DATE.fullmatch(value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise UsageError(
        f"{option} 日期无效：“{text[:40]}”（应为 YYYY-MM-DD，如 2017-12-31）",
        f"{option}: not a YYYY-MM-DD date: {text[:40]!r}",
    )


@ledger_app.command("export")
def export_ledger(
    as_of: Annotated[str, typer.Option("--as-of", help="统计日期 YYYY-MM-DD")],
    out: Annotated[Path, typer.Option("--out", help="输出文件（.csv）")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """One row per master employer × scheme × period: employer_key,credit_code,employer_name,
    county_code,ownership,scheme,period,due_date,due,paid,balance,late_fee,estimated (yuan).

    Example: canbao ledger export --as-of 2017-12-31 --out 征缴台账.csv
    """
    if out.suffix.lower() != ".csv":
        raise UsageError("征缴台账导出须为 .csv", f"ledger export writes csv, not {out.suffix!r}")
    day = as_of_date(as_of)
    with console.status("正在生成征缴台账 (building the ledger)…"):
        frame = api.ledger(data_dir, OPERATOR, day, engine=engine, spark_master=spark_master)
    written = outputs.write_csv(ledger_text(frame), out)
    audit_log.log_export(data_dir, Actor.operator(), "ledger", out.name, frame.height)
    console.print(f"已导出征缴台账 {frame.height:,} 行到 {written.path}（exported）", markup=False)


@app.command("arrears")
def arrears_cmd(
    as_of: Annotated[str, typer.Option("--as-of", help="统计日期 YYYY-MM-DD")],
    out: Annotated[Path, typer.Option("--out", help="输出文件（.xlsx / .csv）")],
    county: Annotated[
        str | None,
        typer.Option("--county", help="只导出该区县（6 位行政区划代码或区县名称）"),
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """The collectors' work list: employers in arrears with ageing, late fee and priority.

    Example: canbao arrears --as-of 2017-12-31 --county 360402 --out 欠费单位.xlsx
    """
    if out.suffix.lower() not in (".xlsx", ".csv"):
        raise UsageError(
            f"不支持的清单格式：{out.suffix}（可用 .xlsx / .csv）",
            f"unsupported format {out.suffix!r}",
        )
    day = as_of_date(as_of)
    with console.status("正在生成欠费单位清单 (building the arrears list)…"):
        frame = api.arrears(
            data_dir, OPERATOR, day, county, engine=engine, spark_master=spark_master
        )
    written = outputs.write_table(
        arrears_text(frame, out.suffix.lower() == ".xlsx"),
        out,
        labels=arrears_labels(region_policy(data_dir, day)),
        sheet="欠费单位",
        parquet=False,
    )
    audit_log.log_export(data_dir, Actor.operator(), "arrears", out.name, frame.height)
    console.print(f"已写出欠费单位清单 {frame.height:,} 家到 {written.path}", markup=False)
    for note in written.notes_zh():
        console.print(f"注意：{note}", markup=False)


@app.command("kpi")
def kpi_cmd(
    year: Annotated[int, typer.Option("--year", help="年度，如 2017")],
    as_of: Annotated[str, typer.Option("--as-of", help="统计日期 YYYY-MM-DD")],
    as_json: Annotated[
        bool, typer.Option("--json", help="输出 JSON 列表 [{unit, indicator, value}]")
    ] = False,
    by: Annotated[
        str, typer.Option("--by", help="汇总口径：unit（计划单位，默认）或 county（区县）")
    ] = "unit",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Collection KPIs of a year: collected.*, new_arrears_ratio.*, clearance_rate.* per unit.

    Example: canbao kpi --year 2017 --as-of 2017-12-31 --json
    """
    if by not in ("unit", "county"):
        raise UsageError(f"--by 应为 unit 或 county：{by}", f"bad --by {by!r}")
    day = as_of_date(as_of)
    frame = api.kpis(
        data_dir, OPERATOR, year, day, by="county" if by == "county" else "unit",
        engine=engine, spark_master=spark_master,
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(frame.select("unit", "indicator", "value").to_dicts(),
                              ensure_ascii=False))  # fmt: skip
        return
    table = Table("单位 (unit)", "指标 (indicator)", "值 (value)")
    for unit, indicator, value in frame.select("unit", "indicator", "value").iter_rows():
        table.add_row(unit, indicator, value)
    console.print(table)
