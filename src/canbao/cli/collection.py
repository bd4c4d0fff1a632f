"""``canbao fees late``: the late fee (滞纳金) on an amount paid after its due date."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated

import typer

from canbao.cli._app import app
from canbao.collection.late_fees import DAY_RULES, DEFAULT_DAY_RULE, late_days, late_fee_fen
from canbao.errors import DataError
from canbao.standards.money import parse_yuan, yuan_text

fees_app = typer.Typer(help="滞纳金等费用计算（late fees）。", no_args_is_help=True)
app.add_typer(fees_app, name="fees")

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _date(text: str, option: str) -> dt.date:
    """A strict YYYY-MM-DD date; anything else is a DataError (exit 1)."""
    try:
        if _ISO_DATE.fullmatch(text.strip()):
            return dt.date.fromisoformat(text.strip())
    except ValueError:
        pass
    raise DataError(
        f"{option} 日期无效：“{text}”（应为 YYYY-MM-DD，如 2017-02-28）",
        f"{option}: not a YYYY-MM-DD date: {text!r}",
    )


@fees_app.command("late")
def late(
    amount: Annotated[str, typer.Option("--amount", help="欠缴金额（元），如 1000.00")],
    due: Annotated[str, typer.Option("--due", help="缴费截止日期 YYYY-MM-DD")],
    paid: Annotated[str, typer.Option("--paid", help="缴纳（到账）日期 YYYY-MM-DD")],
    rule: Annotated[
        str,
        typer.Option(
            "--rule", help=f"计息天数规则：{'、'.join(DAY_RULES)}（默认 {DEFAULT_DAY_RULE}）"
        ),
    ] = DEFAULT_DAY_RULE,
) -> None:
    """Print the late fee as JSON {"days": N, "late_fee": "0.00"} (yuan, two decimals) at 5 per
    10,000 per day; under the default rule days = paid − due (paying on the due date costs
    nothing). Bad amounts or dates exit 1.

    Example: canbao fees late --amount 1000 --due 2017-02-28 --paid 2017-04-10
    """
    principal = parse_yuan(amount)
    if principal < 0:
        raise DataError(f"欠缴金额不能为负：{amount}", f"negative amount {amount!r}")
    days = late_days(_date(due, "--due"), _date(paid, "--paid"), rule)
    fee = late_fee_fen(principal, days)
    typer.echo(json.dumps({"days": days, "late_fee": yuan_text(fee)}, ensure_ascii=False))
