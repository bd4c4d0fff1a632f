"""``canbao audit case …`` (the Typer app ``case_app``, invoked directly): open, record from a
CSV sheet, finish, show, list, the documents; bad sheet rows reported by cell."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from canbao.cli.audit_cases import case_app
from canbao.errors import DataError, UsageError
from canbao.profile import default_profile

RUN = CliRunner()


def _run(data: Path, *args: str) -> Result:
    return RUN.invoke(case_app, [*args, "--data-dir", str(data)])


def test_a_case_from_notice_to_documents(tmp_path: Path) -> None:
    data = tmp_path / "data"
    county = default_profile().counties[0].code
    r = _run(data, "open", "91360402MA35L7X001", "--name", "某某机械制造有限公司", "--county",
             county, "--notice-on", "2017-06-01", "--visit-on", "2017-06-05", "--from",
             "2017-01", "--to", "2017-05", "--auditor", "何稽核", "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    case = json.loads(r.output)
    assert case["state"] == "noticed" and case["id"] == 1
    sheet = tmp_path / "findings.csv"
    sheet.write_text(
        "类别,人员编号,姓名,险种,费款所属期,申报基数,核定基数\n"
        "基数,P1,张三丰,养老保险,2017-03,3000,4000\n",
        encoding="utf-8",
    )
    r = _run(data, "record", "1", "--visited-on", "2017-06-05", "--findings", str(sheet),
             "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["opinion_due"] == "2017-06-19" and doc["unpaid_fen"] == 27_000
    r = _run(data, "finish", "1", "--on", "2017-06-16", "--rectify-by", "2017-07-16")
    assert r.exit_code == 0, r.output
    assert "稽核意见书：2017-06-16" in r.output and "应补缴合计 270.00 元" in r.output
    r = _run(data, "list", "--json")
    assert r.exit_code == 0 and "张三丰" not in r.output
    assert [(c["state_label"], c["unpaid_fen"]) for c in json.loads(r.output)] == [
        ("已作出稽核结论", 27_000)
    ]
    r = _run(data, "show", "1")
    assert r.exit_code == 0 and "张三丰" in r.output
    for which in ("notice", "opinion"):
        r = _run(data, "document", "1", which, "--out", str(tmp_path / "docs"))
        assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "docs").glob("*.docx"))) == 2
    r = _run(data, "rectify", "1", "--on", "2017-07-10")
    assert r.exit_code == 0 and "已整改" in r.output


def test_errors_in_chinese(tmp_path: Path) -> None:
    data = tmp_path / "data"
    county = default_profile().counties[0].code
    r = _run(data, "open", "E1", "--name", "某单位", "--county", county, "--notice-on",
             "2017-06-01", "--visit-on", "2017-06-02", "--from", "2017-01", "--to", "2017-05")  # fmt: skip
    assert isinstance(r.exception, UsageError) and "3 日前" in r.exception.message_zh
    r = _run(data, "open", "E1", "--name", "某单位", "--county", county, "--notice-on",
             "2017-06-01", "--visit-on", "2017-06-05", "--from", "2017-01", "--to", "2017-05")  # fmt: skip
    assert r.exit_code == 0, r.output
    sheet = tmp_path / "bad.csv"
    sheet.write_text(
        "类别,人员编号,姓名,险种,费款所属期,申报基数,核定基数\n基数,P1,张三丰,养老金,2017-03,3000,4000\n",
        encoding="utf-8",
    )
    r = _run(data, "record", "1", "--visited-on", "2017-06-05", "--findings", str(sheet))
    assert isinstance(r.exception, DataError) and "D2 险种无效" in r.exception.message_zh
