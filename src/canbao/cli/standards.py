"""``canbao id check`` and ``canbao credit-code check``: JSON report per input."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from canbao.cli._app import app
from canbao.errors import UsageError
from canbao.standards import citizen_id, credit_code

id_app = typer.Typer(help="公民身份号码（citizen ID, GB 11643）。", no_args_is_help=True)
cc_app = typer.Typer(
    help="统一社会信用代码 / 组织机构代码（GB 32100 / GB 11714）。", no_args_is_help=True
)
app.add_typer(id_app, name="id")
app.add_typer(cc_app, name="credit-code")


def _inputs(values: list[str] | None) -> list[str]:
    if not values:
        raise UsageError(
            "请给出至少一个号码，或用 - 从标准输入逐行读取",
            "give at least one value, or - for stdin",
        )
    if values == ["-"]:
        data = sys.stdin.buffer.read().decode("utf-8", errors="replace")
        return data.splitlines()
    return values


# Characters that some readers treat as line breaks although JSON leaves them unescaped.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_line(obj: dict[str, object]) -> str:
    """One JSON object on exactly one line, whatever a line reader counts as a line break."""
    text = json.dumps(obj, ensure_ascii=False)
    for raw, escaped in _LINE_BREAKS.items():
        text = text.replace(raw, escaped)
    return text


def _emit(objs: list[dict[str, object]]) -> None:
    out = sys.stdout
    for obj in objs:
        out.write(json_line(obj) + "\n")
    out.flush()


@id_app.command("check")
def id_check(
    values: Annotated[list[str] | None, typer.Argument(help="号码；- 表示从标准输入读取")] = None,
) -> None:
    """Validate citizen ID numbers; one JSON object per input, in input order.

    Example: canbao id check 11010519491231002X 110105491231002
    """
    _emit([r.to_json_dict() for r in citizen_id.check_many(_inputs(values))])


@cc_app.command("check")
def cc_check(
    values: Annotated[list[str] | None, typer.Argument(help="代码；- 表示从标准输入读取")] = None,
) -> None:
    """Validate credit codes / organisation codes; one JSON object per input.

    Example: canbao credit-code check 91110000600037341L 600037341
    """
    _emit([r.to_json_dict() for r in credit_code.check_many(_inputs(values))])
