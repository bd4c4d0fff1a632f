"""``canbao plan show|import|template|list`` and ``canbao report`` (the monthly 通报)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from canbao.cli._app import (
    DataDir,
    ProfileOpt,
    app,
    bound_profile,
    console,
    console_err,
    default_data_dir,
)
from canbao.errors import UsageError
from canbao.plan import api, catalog, xlsx_io
from canbao.plan.actuals import FileActuals, default_actuals_source
from canbao.plan.indicators import indicator

plan_app = typer.Typer(
    help="扩面征缴工作方案：目标任务、督导组、实施阶段（plan targets, groups, phases）。",
    no_args_is_help=True,
)
app.add_typer(plan_app, name="plan")

PlanOpt = Annotated[
    str | None,
    typer.Option("--plan", help="计划名称（plan code）；默认为地区配置的默认计划"),
]


def _dd(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else default_data_dir()


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"日期格式应为 YYYY-MM-DD：{text}", f"bad date {text!r}, expected YYYY-MM-DD"
        ) from None


@plan_app.command("show")
def show(
    plan: PlanOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON 目标清单")] = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    profile: ProfileOpt = None,
) -> None:
    """Show a plan: targets, groups and phases (--json: [{unit, indicator, value, period}]).

    Example: canbao plan show --json
    """
    dd = _dd(data_dir)
    prof = bound_profile(dd, profile)
    p = catalog.load(plan or catalog.default_plan(prof), dd, prof)
    if as_json:
        sys.stdout.write(json.dumps(api.targets_json(p), ensure_ascii=False, indent=1) + "\n")
        return
    head = escape(f"（{p.code}，{p.period.label or p.period.code}）")
    console.print(f"[bold]{escape(p.title)}[/]{head}")
    doc = p.document
    if doc:
        console.print(
            f"{doc.get('issuer', '')} {doc.get('document_no', '')} {doc.get('issued_on', '')}",
            markup=False,
        )
    console.print(f"\n[bold]目标任务[/]（{len(p.targets)} 项）")
    from canbao.plan import fmt
    from canbao.plan.key_groups import key_group

    for t in p.targets:
        ind = indicator(t.indicator)
        cmp = "≥" if ind.direction == "minimum" else "≤"
        grp = f"[{key_group(t.group).name}]" if t.group else ""
        shown = f"{int(t.value):,}人" if t.group else fmt.value(ind, t.value)  # small counts
        console.print(
            f"  {p.unit(t.unit).name:<8} {grp}{ind.name:<24} {cmp} {shown}",
            soft_wrap=True,
            markup=False,
        )
    if p.leadership:
        ld = p.leadership
        console.print(
            f"\n[bold]{escape(ld.name)}[/]"
            + escape(
                f"：组长 {ld.head}；常务副组长 {ld.executive_deputy or '—'}；"
                f"副组长 {'、'.join(ld.deputies)}；成员 {'、'.join(ld.members)}"
            ),
            soft_wrap=True,
        )
    for g in (*p.work_groups, *p.supervision_groups):
        units = f"；负责 {'、'.join(p.unit(u).name for u in g.units)}" if g.units else ""
        console.print(
            f"  {g.name}：组长 {g.leader}；成员 {'、'.join(g.members)}；联络人 {g.contact}{units}",
            soft_wrap=True,
            markup=False,
        )
    if p.phases:
        console.print("\n[bold]实施步骤[/]")
        for ph in p.phases:
            console.print(f"  {ph.name}：{ph.start} 至 {ph.end}", markup=False)


@plan_app.command("list")
def list_plans(data_dir: DataDir = None) -> None:  # type: ignore[assignment]
    """List shipped and stored plans."""
    dd = _dd(data_dir)
    stored = (
        sorted(p.stem for p in (dd / "plans").glob("*.json")) if (dd / "plans").is_dir() else []
    )
    for code in sorted(set(catalog.shipped_codes()) | set(stored)):
        where = "数据目录" if code in stored else "内置示例"
        console.print(f"{code}\t{where}", markup=False)


@plan_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="附件1 任务分解表 xlsx")],
    plan: PlanOpt = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    profile: ProfileOpt = None,
) -> None:
    """Import a 附件1 task-decomposition table (units × indicators, 万人/亿元/万元/%) into a plan.

    The merged plan is stored as <data-dir>/plans/<plan>.json and shadows the shipped one; the
    data directory remembers the region profile.
    Example: canbao plan import 附件1.xlsx --plan <计划名称>
    """
    dd = _dd(data_dir)
    s = api.import_task_table(file, dd, plan, bound_profile(dd, profile))
    console.print(
        f"已导入 {s.n_targets} 项目标（新增 {s.added}，修改 {s.replaced}），"
        f"{len(s.units)} 个单位，期间 {s.period} → {s.path}",
        soft_wrap=True,
        markup=False,
    )


@plan_app.command("template")
def template(
    out: Annotated[Path, typer.Option("--out", help="输出 xlsx 文件")],
    plan: Annotated[
        str | None, typer.Option("--plan", help="用该计划已有目标预填（默认空表）")
    ] = None,
    data_dir: DataDir = None,  # type: ignore[assignment]
    profile: ProfileOpt = None,
) -> None:
    """Write an empty 附件1 template (or one pre-filled with a plan's targets); the units are
    the region profile's.

    Example: canbao plan template --out 任务分解表.xlsx
    """
    dd = _dd(data_dir)
    prof = bound_profile(dd, profile)
    p = catalog.load(plan, dd, prof) if plan else None
    path = xlsx_io.write_template(out, p, profile=prof)
    console.print(f"已生成任务分解表模板：{path}", soft_wrap=True, markup=False)


@app.command("report")
def report(
    as_of: Annotated[str, typer.Option("--as-of", help="截至日期 YYYY-MM-DD")],
    out: Annotated[Path, typer.Option("--out", help="输出目录")],
    plan: PlanOpt = None,
    actuals: Annotated[
        Path | None,
        typer.Option(
            "--actuals", help="实际完成数 csv/xlsx（列：单位、指标、完成数；或附件1格式）"
        ),
    ] = None,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="不生成 PDF")] = False,
    illustrative: Annotated[
        bool, typer.Option("--illustrative", help="标题注明“示例数据”（合成城市的任务与数据）")
    ] = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    profile: ProfileOpt = None,
) -> None:
    """Write the monthly 通报 (xlsx, HTML, PDF) with progress, ranking and narrative.

    Example: canbao report --as-of 2017-09-30 --out 通报/ --actuals 完成数.csv
    """
    day = _date(as_of)
    dd = _dd(data_dir)
    prof = bound_profile(dd, profile)
    p = catalog.load(plan or catalog.default_plan(prof), dd, prof)
    source = FileActuals(actuals) if actuals else default_actuals_source(dd, prof)
    if source is None:
        console_err.print(
            "提示：未提供实际完成数（--actuals），参保、征缴数据尚未接入；通报只列示目标与时间进度。"
        )
    files = api.make_report(
        p, day, out, actuals=source, data_dir=dd, illustrative=illustrative, pdf=not no_pdf
    )
    console.print(f"Excel：{files.xlsx}\nHTML：{files.html}", soft_wrap=True, markup=False)
    if files.pdf:
        console.print(f"PDF：{files.pdf}", soft_wrap=True, markup=False)
    if files.pdf_error is not None:
        raise files.pdf_error
