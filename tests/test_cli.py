from __future__ import annotations

import io
import json
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canbao.cli import run

ID_KEYS = {
    "input", "valid", "format", "id18", "region_code", "region_name",
    "birth_date", "sex", "errors", "candidates",
}  # fmt: skip
CC_KEYS = {"input", "valid", "kind", "code", "org_code", "region_code", "errors"}


def _run(args: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None):
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8")
    try:
        code = run(args)
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--version"], capsys)
    assert code == 0 and out.startswith("canbao ")
    code, out, _ = _run(["--help"], capsys)
    assert code == 0 and "id" in out and "credit-code" in out


def test_id_check_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["id", "check", "11010519491231002X", "bad", "110105491231002"], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["input"] for r in rows] == ["11010519491231002X", "bad", "110105491231002"]
    assert all(set(r) == ID_KEYS for r in rows)
    assert rows[0]["valid"] is True and rows[1]["valid"] is False
    assert rows[2]["format"] == "15" and rows[2]["id18"] == "11010519491231002X"


def test_id_check_lists_repairs_of_a_date_typo(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15: a typo in the birth-date digits breaks the date and the check character; the
    repair is still a candidate (GB-example-style numbers, not personal data)."""
    code, out, _ = _run(["id", "check", "360424918507161235"], capsys)
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and set(row) == ID_KEYS and row["valid"] is False
    assert row["errors"] == ["birth_date", "checksum"]
    assert row["candidates"] == ["360424198507161235"]


def test_id_check_stdin(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["id", "check", "-"], capsys, stdin="11010519491231002X\n\nabc\n")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["input"] for r in rows] == ["11010519491231002X", "", "abc"]
    assert rows[1]["errors"] == ["empty"]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["id", "check"], capsys)
    assert code == 2 and "号码" in err
    code, _, _ = _run(["credit-code", "check", "--bogus"], capsys)
    assert code == 2
    code, _, _ = _run(["no-such-command"], capsys)
    assert code == 2


def test_credit_code_check_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["credit-code", "check", "91110000600037341L", "600037341", "x"], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and all(set(r) == CC_KEYS for r in rows)
    assert [r["kind"] for r in rows] == ["uscc", "org_code", None]
    assert rows[0]["org_code"] == "600037341"


_ANY = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(_ANY, min_size=1, max_size=5))
def test_unicode_fuzz_argv(values: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    for command, keys in ((["id", "check"], ID_KEYS), (["credit-code", "check"], CC_KEYS)):
        code, out, _ = _run([*command, "--", *values], capsys)
        assert code == 0
        rows = [json.loads(line) for line in out.splitlines()]
        assert len(rows) == len(values)
        assert all(set(r) == keys for r in rows)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.text(st.characters(exclude_categories=("Cs",)), max_size=80), min_size=1, max_size=5
    )
)
def test_unicode_fuzz_stdin(values: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    text = "\n".join(values)
    expected = len(text.splitlines())
    code, out, _ = _run(["id", "check", "-"], capsys, stdin=text)
    assert code == 0 and len(out.splitlines()) == expected
