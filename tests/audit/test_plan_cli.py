"""``canbao audit plan``: the xlsx is the API's plan with Chinese headers; a county limits it;
a user without ``audit.read`` is refused; a county outside the data is a usage error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from canbao.audit import targets
from canbao.cli import run
from canbao.profile import default_profile
from canbao.registry import api as registry
from canbao.store import Actor, accounts, open_store
from tests.registry.city import ingest, make_city
from tests.scopes import SYSTEM

PASSWORD = "Jihe2017gongzuo"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    city = make_city(tmp_path_factory.mktemp("audit-cli-city"), persons=3000, seed=11)
    out = tmp_path_factory.mktemp("audit-cli-data")
    ingest(city, out)
    registry.build(out)
    store = open_store(out)
    try:
        here = default_profile().counties[0].code
        accounts.add_user(store, Actor.operator(), "cli_county", "county_staff", PASSWORD, [here])
        accounts.add_user(store, Actor.operator(), "cli_auditor", "auditor", PASSWORD, [here])
    finally:
        store.dispose()
    return out


def _rows(path: Path, sheet: str) -> list[tuple[object, ...]]:
    return list(load_workbook(path, read_only=True)[sheet].iter_rows(values_only=True))


def test_the_workbook_is_the_plan(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "稽核计划.xlsx"
    assert run(["audit", "plan", "--data-dir", str(data), "--top", "3", "--out", str(out)]) == 0
    want = targets.audit_plan(data, SYSTEM, top=3)
    rows = _rows(out, "稽核对象")
    header = rows[0]
    assert {"风险分", "涉及金额合计(元)", "缴费能力", "主要风险（得分）"} <= set(header)
    assert [r[header.index("单位主键")] for r in rows[1:]] == want.targets["employer_key"].to_list()
    assert {r[header.index("序号")] for r in rows[1:]} <= {1, 2, 3}
    points = _rows(out, "评分依据")
    assert len(points) - 1 == want.contributions.height


def test_a_posted_auditor_gets_the_county(data: Path, tmp_path: Path) -> None:
    here = default_profile().counties[0].code
    out = tmp_path / "p.xlsx"
    args = ["audit", "plan", "--data-dir", str(data), "--as", "cli_auditor", "--out", str(out)]
    assert run(args) == 0
    rows = _rows(out, "稽核对象")
    header = rows[0]
    assert {r[header.index("区县代码")] for r in rows[1:]} <= {here}


def test_refusals(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.xlsx"
    base = ["audit", "plan", "--data-dir", str(data), "--out", str(out)]
    assert run([*base, "--as", "cli_county"]) != 0
    assert "没有权限" in capsys.readouterr().err
    assert run([*base, "--county", "999999"]) == 2
    assert "区县代码 999999 不存在" in capsys.readouterr().err
    assert run([*base, "--top", "0"]) == 2
    assert not out.exists()


def test_an_employer_with_an_audit_case_is_left_out(data: Path) -> None:
    """The plan reads the audit cases: the first target, once a case is opened on it, is listed
    under 未列入 and not planned again."""
    from canbao.audit import cases
    from canbao.collection.dunning import Employer

    before = targets.audit_plan(data, SYSTEM, top=1)
    first = before.targets.row(0, named=True)
    store = open_store(data)
    try:
        cases.open_case(
            store, Actor.operator(), SYSTEM,
            Employer(first["employer_key"], first["employer_name"], first["credit_code"] or "",
                     first["county_code"]),
            notice_on=dt.date(2017, 11, 1), visit_on=dt.date(2017, 11, 6),
            period_from="2017-01", period_to="2017-10", auditors=["何稽核"],
        )  # fmt: skip
    finally:
        store.dispose()
    after = targets.audit_plan(data, SYSTEM, top=1)
    assert first["employer_key"] not in set(after.targets["employer_key"])
    left = after.excluded.filter(pl.col("employer_key") == first["employer_key"])
    assert left["excluded_reason"].item().startswith("近12个月内已稽核")
    # the caller's own set replaces the store's
    again = targets.audit_plan(data, SYSTEM, top=1, recently_audited=set())
    assert again.targets["employer_key"].to_list() == before.targets["employer_key"].to_list()
