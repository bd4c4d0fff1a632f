"""``canbao plan subsidies template|import|list``: the 争资 register (subsidy funds received)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from canbao.cli._app import DataDir, ProfileOpt, bound_profile, console, default_data_dir
from canbao.cli.plan import plan_app
from canbao.collection import subsidy_workbook
from canbao.collection.subsidies import (
    LEVEL_ZH,
    SCHEME_ZH,
    load_receipts,
    register_path,
    yuan_text,
)

subsidy_app = typer.Typer(
    help="争资登记簿：争取的上级社会保险补助资金到账登记（subsidy funds received）。",
    no_args_is_help=True,
)
plan_app.add_typer(subsidy_app, name="subsidies")


def _dd(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else default_data_dir()


@subsidy_app.command("template")
def template(
    out: Annotated[Path, typer.Option("--out", help="输出 xlsx 文件")],
    data_dir: DataDir = None,  # type: ignore[assignment]
    profile: ProfileOpt = None,
) -> None:
    """Write an empty register workbook (文号, 来源, 级别, 险种, 金额, 到账日期, 单位, 备注).

    Example: canbao plan subsidies template --out 补助资金到账登记.xlsx
    """
    prof = bound_profile(_dd(data_dir), profile)
    path = subsidy_workbook.write_template(out, prof)
    console.print(f"已生成补助资金到账登记表模板：{path}", soft_wrap=True, markup=False)


@subsidy_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="补助资金到账登记表 xlsx")],
    replace: Annotated[
        bool, typer.Option("--replace", help="文号已登记但内容不同时，以本表更正")
    ] = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    profile: ProfileOpt = None,
) -> None:
    """Import receipts into the register <data-dir>/subsidies/register.json (the same
    workbook twice changes nothing).

    Example: canbao plan subsidies import 补助资金到账登记.xlsx
    """
    dd = _dd(data_dir)
    s = subsidy_workbook.import_workbook(file, dd, bound_profile(dd, profile), replace=replace)
    console.print(
        f"已导入争资登记：新增 {s.added} 条，更正 {s.replaced} 条，已存在 {s.unchanged} 条；"
        f"登记簿共 {s.total} 条 → {s.path}",
        soft_wrap=True,
        markup=False,
    )


@subsidy_app.command("list")
def list_cmd(
    data_dir: DataDir = None,  # type: ignore[assignment]
    profile: ProfileOpt = None,
) -> None:
    """List the register's receipts (amounts in yuan) and the total per year.

    Example: canbao plan subsidies list
    """
    dd = _dd(data_dir)
    prof = bound_profile(dd, profile)
    receipts = load_receipts(dd, prof)
    if not receipts:
        console.print(
            f"争资登记簿为空（{register_path(dd)}）；用 canbao plan subsidies import 导入",
            soft_wrap=True,
            markup=False,
        )
        return
    names = {c.code: c.name for c in prof.counties} | {u.code: u.name for u in prof.units}
    table = Table("到账日期", "文号", "来源", "级别", "险种", "单位", "金额（元）")
    years: dict[int, int] = {}
    for r in receipts:
        cells = (
            r.received_on.isoformat(), r.document_no, r.source, LEVEL_ZH[r.level],
            SCHEME_ZH[r.scheme], names.get(r.unit or "", "全市"), yuan_text(r.amount_fen),
        )  # fmt: skip
        table.add_row(*(escape(c) for c in cells))
        years[r.received_on.year] = years.get(r.received_on.year, 0) + r.amount_fen
    console.print(table)
    for year, fen in sorted(years.items()):
        console.print(f"{year}年合计：{yuan_text(fen)} 元", markup=False)
