"""The Typer app and options shared by every command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from canbao import __version__
from canbao.profile import Profile, profile_for
from canbao.store.accounts import Actor
from canbao.warehouse.scope import Scope

console = Console(highlight=False)
console_err = Console(stderr=True, highlight=False)

app = typer.Typer(
    name="canbao",
    help="参保 Canbao：全民参保登记、扩面征缴与任务督导平台（universal social-insurance registration）。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"canbao {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="显示版本号并退出。"),
    ] = False,
) -> None:
    """参保 Canbao command line."""


DEFAULT_DATA_DIR = Path("canbao-data")
"""Default data directory; ``--data-dir`` or ``$CANBAO_DATA_DIR`` override it (Typer envvar)."""


def default_data_dir() -> Path:
    return Path(os.environ.get("CANBAO_DATA_DIR", str(DEFAULT_DATA_DIR)))


DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="CANBAO_DATA_DIR",
        help="数据目录（data directory; default ./canbao-data or $CANBAO_DATA_DIR）。",
    ),
]


# The region profile of the commands that name counties or plan units (plan, report, gaps).
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        envvar="CANBAO_PROFILE",
        help="地区配置：内置名称（如 canbao profile list 所列）或 .json/.toml 文件路径；"
        "默认为数据目录已记录的配置（region profile NAME|PATH）",
    ),
]


def bound_profile(data_dir: Path | None, requested: str | None) -> Profile:
    """The profile for ``data_dir`` (checked against the one it remembers; see
    :func:`canbao.profile.profile_for`); a note about a changed profile goes to stderr."""
    binding = profile_for(data_dir, requested)
    if binding.note:
        console_err.print(f"提示：{binding.note}", markup=False)
    return binding.profile


export_app = typer.Typer(help="导出数据（export registry data）。", no_args_is_help=True)
app.add_typer(export_app, name="export")

OutFile = Annotated[Path, typer.Option("--out", help="输出文件（.csv / .xlsx / .parquet）")]

# The compute engine of the set-based commands (canbao build, gaps, export coverage).
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        envvar="CANBAO_ENGINE",
        help="计算引擎：duckdb（默认）或 spark（engine; needs pip install 'canbao[spark]'）",
    ),
]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        envvar="CANBAO_SPARK_MASTER",
        help="Spark master：local[N] 或集群地址（default local[*]）",
    ),
]


# The command line is the local operator: the whole city (canbao.warehouse.scope); every read a
# command makes goes through this scope, and every export it writes is an audit-log entry.
OPERATOR = Scope.system("canbao command line", actor=Actor.operator().name)
