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
    serve: Annotated[
        bool,
        typer.Option("--serve", help="完成后启动工作台网站（then serve the web workspace）"),
    ] = False,
    host: Annotated[str, typer.Option("--host", help="网站监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="网站端口")] = 8000,
) -> None:
    """Build a synthetic Jiujiang and run every step; prints where to look."""
    result = run_demo(out, skew=skew)
    console.print("\n[bold green]演示完成（demo finished）[/]。请查看（where to look）：")
    for label, path in result.items():
        console.print(f"  • {label}: {path}", soft_wrap=True, markup=False)
    if serve:
        _serve(out, host, port)


def _serve(out: Path, host: str, port: int) -> None:
    from canbao.cli.serve import serve as serve_command

    accounts = out / "store" / "demo-accounts.txt"
    console.print(f"\n工作台网址（web workspace）：http://{host}:{port}/", markup=False)
    if accounts.exists():
        console.print("演示账号（demo users, one per role）：", markup=False)
        for line in accounts.read_text(encoding="utf-8").splitlines()[1:]:
            console.print(f"  {line}", markup=False, soft_wrap=True)
    console.print("不启动网站：CANBAO_NO_SERVE=1 make demo", markup=False)
    serve_command(data_dir=out / "data", host=host, port=port)
