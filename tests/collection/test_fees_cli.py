"""``canbao fees late``: the CLI contract (JSON, yuan with two decimals, exit 1 on bad input)."""

from __future__ import annotations

import json
import re

import pytest

from canbao.cli import run


def _late(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["fees", "late", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("amount", "due", "paid", "rule", "days", "fee"),
    [
        # 1,000.00 yuan due 28 Feb, paid 10 April: 31 + 10 = 41 days × 0.50 yuan = 20.50
        ("1000", "2017-02-28", "2017-04-10", None, 41, "20.50"),
        ("1000", "2017-02-28", "2017-02-28", None, 0, "0.00"),  # on the due date: nothing
        ("1000", "2017-02-28", "2017-02-01", None, 0, "0.00"),  # early: nothing
        ("1000", "2017-02-28", "2017-03-01", None, 1, "0.50"),  # one day late: one day
        # 1,234.50 × 0.0005 = 0.61725 → 0.62 (half-up once); separators and ¥ are accepted
        ("¥1,234.5", "2017-02-28", "2017-03-01", None, 1, "0.62"),
        ("10", "2017-02-28", "2017-03-01", None, 1, "0.01"),  # 0.005 yuan → 0.01
        ("9.99", "2017-02-28", "2017-03-01", None, 1, "0.00"),  # 0.004995 yuan → 0.00
        # 1 March – 9 April = 40 days × 0.50 = 20.00 (the day before posting ends the count)
        ("1000", "2017-02-28", "2017-04-10", "second_month_start", 40, "20.00"),
        # 100,000.00 over a leap year's 366 days: 100,000 × 0.0005 × 366 = 18,300.00
        ("100000.00", "2016-01-31", "2017-01-31", None, 366, "18300.00"),
    ],
)
def test_late_fee_known(
    capsys: pytest.CaptureFixture[str],
    amount: str,
    due: str,
    paid: str,
    rule: str | None,
    days: int,
    fee: str,
) -> None:
    args = ["--amount", amount, "--due", due, "--paid", paid]
    code, out, err = _late(capsys, *args, *(["--rule", rule] if rule else []))
    assert (code, err) == (0, "")
    assert json.loads(out) == {"days": days, "late_fee": fee}
    assert out.count("\n") == 1  # one JSON line


@pytest.mark.parametrize("amount", ["abc", "1.2.3", "", "NaN", "1e3", "-5", "12,34.5.6"])
def test_bad_amount_exits_1_in_chinese(capsys: pytest.CaptureFixture[str], amount: str) -> None:
    code, out, err = _late(
        capsys, "--amount", amount, "--due", "2017-02-28", "--paid", "2017-03-01"
    )
    assert (code, out) == (1, "")
    assert "金额" in err


@pytest.mark.parametrize("bad", ["2017-02-30", "2017/02/28", "20170228", "2017-2-28", "x", ""])
def test_bad_date_exits_1_in_chinese(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    for args in (["--due", bad, "--paid", "2017-03-01"], ["--due", "2017-02-28", "--paid", bad]):
        code, out, err = _late(capsys, "--amount", "100", *args)
        assert (code, out) == (1, "")
        assert re.search(r"--(due|paid) 日期无效", err)


def test_unknown_rule_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _late(
        capsys, "--amount", "1", "--due", "2017-02-28", "--paid", "2017-03-01", "--rule", "x"
    )
    assert (code, out) == (2, "")
    assert "计息天数规则" in err
