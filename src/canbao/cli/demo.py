"""``canbao demo``: run the whole pipeline as it stands on a synthetic city."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from canbao.cli._app import app, console
from canbao.demo import run_demo


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="演示输出目录（output directory）")] = Path(
        "demo-output"
    ),
    skew: Annotated[
        bool,
        typer.Option(
            "--skew",
            help="合成偏斜城市：超大单位、灵活就业集体账户、集体户、常见姓名（skewed city）",
        ),
    ] = False,
) -> None:
    """Build a synthetic Jiujiang and run every step; prints where to look."""
    result = run_demo(out, skew=skew)
    console.print("\n[bold green]演示完成（demo finished）[/]。请查看（where to look）：")
    for label, path in result.items():
        console.print(f"  • {label}: {path}", soft_wrap=True, markup=False)
