"""``canbao audit plan``: the risk-ranked audit targets (稽核计划) as xlsx.

The audit cases (``canbao audit case …``) are registered on :data:`audit_app` by their own
module."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from canbao.audit import targets, workbook
from canbao.audit.weights import load
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
)
from canbao.errors import UsageError
from canbao.standards import divisions
from canbao.standards.money import yuan_text
from canbao.store import Actor, audit_log, open_store, roles
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope

audit_app = typer.Typer(
    help="稽核：风险评分与稽核计划、稽核案件（audit: risk-ranked targets and audit cases）。",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")


def _register_cases() -> None:
    from canbao.cli.audit_cases import case_app

    audit_app.add_typer(case_app, name="case")


_register_cases()


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise UsageError(f"日期格式应为 YYYY-MM-DD：{text}", str(e)) from e


def _acting(data_dir: Path, as_user: str | None, profile: str | None) -> tuple[Actor, Scope]:
    """The operator (whole city), or the named user with their role and county scope."""
    if as_user is None:
        return Actor.operator(), OPERATOR
    from canbao.cli.cases import user_actor

    store = open_store(data_dir)
    try:
        actor = user_actor(store, as_user)
    finally:
        store.dispose()
    return actor, scope_for(actor, bound_profile(data_dir, profile))


@audit_app.command("plan")
def audit_plan_cmd(
    out: Annotated[Path, typer.Option("--out", help="输出文件（.xlsx；.csv 只含稽核对象）")],
    county: Annotated[
        str | None,
        typer.Option("--county", help="只列该区县（6 位行政区划代码或区县名称）"),
    ] = None,
    capacity: Annotated[
        int | None,
        typer.Option("--capacity", help="每名稽核人员每月可完成的稽核户数（按人员数和月数定户数）"),
    ] = None,
    auditors: Annotated[int, typer.Option("--auditors", help="每个区县的稽核人员数")] = 1,
    months: Annotated[int, typer.Option("--months", help="计划覆盖的月数")] = 1,
    top: Annotated[
        int | None, typer.Option("--top", help="每个区县列入的户数（优先于 --capacity）")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="统计日期 YYYY-MM-DD（默认数据截止日）")
    ] = None,
    weights: Annotated[
        Path | None, typer.Option("--weights", help="风险权重文件（TOML，默认内置）")
    ] = None,
    as_user: Annotated[
        str | None,
        typer.Option("--as", help="以该用户身份生成（其角色与区县范围生效）；默认为本机操作员"),
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """The audit plan: the highest-risk employers per county with their evidence.

    Example: canbao audit plan --capacity 4 --auditors 2 --out 稽核计划.xlsx
    Example: canbao audit plan --county 修水县 --top 30 --out 修水县稽核计划.xlsx
    """
    if out.suffix.lower() not in (".xlsx", ".csv"):
        raise UsageError(
            f"不支持的格式：{out.suffix}（可用 .xlsx / .csv）", f"unsupported {out.suffix!r}"
        )
    actor, scope = _acting(data_dir, as_user, profile)
    roles.require(actor.role, "audit.read", actor.name)
    w = load(weights)
    with console.status("正在计算稽核风险 (scoring employers)…") as status:

        def step(what: str) -> None:
            status.update(f"正在计算：{what}…")

        plan = targets.audit_plan(
            data_dir, scope, county=county, top=top, capacity=capacity, auditors=auditors,
            months=months, as_of=_date(as_of), weights_path=weights, engine=engine,
            spark_master=spark_master, step=step,
        )  # fmt: skip
        status.update("正在写出稽核计划…")
        written = workbook.write_plan(plan, w, out)
    audit_log.log_export(data_dir, actor, "audit_plan", written.path.name, plan.targets.height)
    table = Table("区县 (county)", "户数 (targets)", "涉及金额(元)", "最高风险分")
    by = plan.targets.group_by("county_code").agg(
        n=pl.len(), money=pl.col("money").sum(), top=pl.col("score").max()
    )
    for row in by.sort("county_code").iter_rows(named=True):
        name = divisions.name_of(row["county_code"]) or ""
        table.add_row(f"{row['county_code']} {name}", f"{row['n']:,}", yuan_text(int(row["money"])),
                      f"{row['top']:.1f}")  # fmt: skip
    console.print(table)
    console.print(
        f"已写出稽核计划：{written.path}（{plan.targets.height:,} 户；"
        f"每个区县至多 {plan.params['per_county']} 户；"
        f"未列入 {plan.excluded.height:,} 户，见“未列入”表）",
        markup=False,
    )
    for note in written.notes_zh():
        console.print(f"注意：{note}", markup=False)
