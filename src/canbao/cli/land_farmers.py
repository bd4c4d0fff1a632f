"""``canbao plan land-farmers template|import``: the plan's 附件3 (被征地农民参加基本养老保险
任务分解表)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from canbao.cli._app import DataDir, ProfileOpt, bound_profile, console, default_data_dir
from canbao.cli.plan import PlanOpt, plan_app
from canbao.plan import catalog, land_farmer_table
from canbao.plan.units import CITY

land_app = typer.Typer(
    help="附件3 被征地农民参加基本养老保险任务分解表：模板与导入（land-expropriated farmers' tasks）。",
    no_args_is_help=True,
)
plan_app.add_typer(land_app, name="land-farmers")


@land_app.command("template")
def template(
    out: Annotated[Path, typer.Option("--out", help="输出 xlsx 文件")],
    plan: Annotated[
        str | None, typer.Option("--plan", help="用该计划已有的附件3任务数预填（默认空表）")
    ] = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    profile: ProfileOpt = None,
) -> None:
    """Write the 附件3 template (one row per county unit and zone of the region profile).

    Example: canbao plan land-farmers template --out 附件3.xlsx
    """
    dd = data_dir if data_dir is not None else default_data_dir()
    prof = bound_profile(dd, profile)
    p = catalog.load(plan, dd, prof) if plan else None
    path = land_farmer_table.write_template(out, p, profile=prof)
    console.print(f"已生成被征地农民参保任务分解表模板：{path}", soft_wrap=True, markup=False)


@land_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="附件3 被征地农民参保任务分解表 xlsx")],
    plan: PlanOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    profile: ProfileOpt = None,
) -> None:
    """Import a filled 附件3 into a plan (replacing its previous 附件3 targets of that period);
    the plan is stored as <data-dir>/plans/<plan>.json.

    Example: canbao plan land-farmers import 附件3.xlsx
    """
    dd = data_dir if data_dir is not None else default_data_dir()
    s = land_farmer_table.import_table(file, dd, plan, bound_profile(dd, profile))
    parts = [t for t in s.table.targets if t.unit != CITY]
    city = next(t for t in s.table.targets if t.unit == CITY)
    how = "（各单位之和）" if s.table.city_summed else ""
    replaced = f"，替换原有任务数 {s.removed} 项" if s.removed else ""
    console.print(
        f"已导入被征地农民参保任务数：{len(parts)} 个单位，全市 {int(city.value):,} 人{how}，"
        f"期间 {s.table.period}{replaced} → {s.path}",
        soft_wrap=True,
        markup=False,
    )
