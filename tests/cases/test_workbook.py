"""The Excel round trip (canbao.cases.workbook): the exported form (drop-downs read back by
openpyxl, hidden key and version, nothing unmasked), a returned workbook with every kind of bad
row reported by cell and reason, and a second import that changes nothing — on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from canbao import cases, xlsx_bulk
from canbao.cases import outcomes
from canbao.errors import InputFileError, PermissionDenied
from canbao.store import Store
from canbao.store.models import AuditEntry, Case, CaseEvent
from tests.cases.conftest import SYSTEM, People, case_of, make_lists, person_id

D = dt.date


def _hidden(ws: Any) -> set[int]:
    out: set[int] = set()
    for dim in ws.column_dimensions.values():
        if dim.hidden:
            out |= set(range(dim.min, dim.max + 1))
    return out


def _export(store: Store, people: People, tmp_path: Path) -> Path:
    lists = make_lists({people.here: range(1, 7), people.there: [1, 2]})
    cases.open_cases(store, SYSTEM, lists, "b1")
    out = tmp_path / "cases.xlsx"
    summary = cases.export_workbook(store, people.scope(people.county_here), people.here, None, out)
    assert summary.rows == 6 + 6 + 6
    return out


@pytest.fixture(params=["xlsxwriter", "bulk"])
def sheets(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the safe writer writes a sheet: cell by cell, and the long sheets' bulk path
    (forced here for every sheet)."""
    if request.param == "bulk":
        monkeypatch.setattr(xlsx_bulk, "BULK_ROWS", 1)
    return str(request.param)


def test_the_exported_form(store: Store, people: People, tmp_path: Path, sheets: str) -> None:
    out = _export(store, people, tmp_path)
    wb = load_workbook(out)
    assert wb.sheetnames == ["应保未保（医疗）", "应保未保（养老）", "未参保登记单位"]
    kinds = {"应保未保（医疗）": "uninsured_medical", "应保未保（养老）": "uninsured_pension",
             "未参保登记单位": "unregistered_employer"}  # fmt: skip
    text = []
    for ws in wb.worksheets:
        header = [c.value for c in ws[1]]
        for label in (
            "案件编号",
            "处理结果",
            "结果日期",
            "情况说明",
            "有效期至",
            "备注",
            "案件标识",
            "版本",
        ):
            assert label in header, (ws.title, label)
        outcome_col = header.index("处理结果") + 1
        (dv,) = ws.data_validations.dataValidation
        assert dv.type == "list" and dv.showErrorMessage
        assert dv.formula1 == '"' + ",".join(outcomes.labels(kinds[ws.title])) + '"'
        col = ws.cell(1, outcome_col).column_letter
        assert str(dv.sqref) == f"{col}2:{col}{ws.max_row}"
        assert _hidden(ws) == {header.index("案件标识") + 1, header.index("版本") + 1}
        keys = [ws.cell(r, header.index("案件标识") + 1).value for r in range(2, ws.max_row + 1)]
        assert all(k.startswith(kinds[ws.title] + "/") for k in keys)
        assert {ws.cell(r, header.index("版本") + 1).value for r in range(2, ws.max_row + 1)} == {1}
        text += [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    joined = " ".join(text)
    assert not re.search(r"\d{18}", joined) and person_id(people.here, 1) not in joined
    assert f"{people.here}********0011" in joined and "139****0001" in joined
    assert people.there not in joined  # another county's cases are not in this county's form
    with store.sessions() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "export")).scalar_one()
    assert entry.actor == "li_county" and entry.detail["rows"] == 18
    with pytest.raises(PermissionDenied):
        cases.export_workbook(store, people.scope(people.county_here), people.there, None, out)


def _fill(path: Path, store: Store, people: People) -> tuple[Path, dict[str, tuple[str, str]]]:
    """Fill the form as a county office might, with one bad row of every kind; the expected
    rejections: key → (cell, words)."""
    wb = load_workbook(path)
    expected: dict[str, tuple[str, str]] = {}

    def cols(ws: Any) -> dict[str, str]:
        return {c.value: c.column_letter for c in ws[1]}

    def put(ws: Any, row: int, **values: object) -> str:
        c = cols(ws)
        for label, value in values.items():
            ws[f"{c[label]}{row}"] = value
        return str(ws[f"{c['案件标识']}{row}"].value)

    med, pen, emp = wb["应保未保（医疗）"], wb["应保未保（养老）"], wb["未参保登记单位"]
    cm, cp = cols(med), cols(pen)
    put(med, 2, 处理结果="已参保", 结果日期=D(2018, 1, 5), 情况说明="城乡居民医疗")
    put(med, 3, 处理结果="在校学生", 有效期至="2019-07-01", 证明材料="学籍证明")
    k = put(med, 4, 处理结果="已退休")
    expected[k] = (f"{cm['处理结果']}4", "未知的处理结果“已退休”")
    k = put(med, 5, 处理结果="已参保", 情况说明="职工医疗")
    expected[k] = (f"{cm['结果日期']}5", "须填写日期")
    k = put(med, 6, 处理结果="已死亡", 结果日期="2018-13-01")
    expected[k] = (f"{cm['结果日期']}6", "不是有效日期")
    k = put(med, 7, 处理结果="已迁出", 结果日期=D(2018, 1, 3))  # closed after the export:
    cases.resolve(store, people.admin, SYSTEM, case_of(store, k).id, "联系不上")
    expected[k] = (f"{cm['处理结果']}7", "案件已办结")
    k = put(pen, 2, 处理结果="拒绝参保")  # assigned after the export: stale
    cases.assign(store, people.admin, SYSTEM, case_of(store, k).id, team="甲镇")
    expected[k] = (f"{cp['处理结果']}2", "导出后已被修改（导出时版本 1，当前版本 2）")
    other = f"uninsured_pension/P{people.there}-1/pension"  # a case of another county
    put(pen, 3, 处理结果="联系不上", 案件标识=other)
    expected[other] = (f"{cp['处理结果']}3", "属于其他区县")
    k = put(pen, 4, 处理结果="已在外地参保")
    expected[k] = (f"{cp['情况说明']}4", "须写明参保地")
    dup = str(med[f"{cm['案件标识']}2"].value)  # the first row's case again
    put(pen, 5, 处理结果="联系不上", 案件标识=dup)
    expected["dup"] = (f"{cp['处理结果']}5", "出现多次")
    put(pen, 6, 处理结果="联系不上", 案件标识="nonsense/1/")
    expected["nonsense/1/"] = (f"{cp['处理结果']}6", "没有该案件")
    put(pen, 7, 处理结果="联系不上", 版本="abc")
    expected[str(pen[f"{cp['案件标识']}7"].value)] = (f"{cp['版本']}7", "版本号无效")
    put(emp, 2, 处理结果="单位已登记", 结果日期=D(2018, 1, 4))
    out = path.with_name("returned.xlsx")
    wb.save(out)
    return out, expected


def _snapshot(store: Store) -> tuple[list[tuple[object, ...]], int]:
    with store.sessions() as s:
        rows = s.execute(select(Case.case_key, Case.state, Case.outcome, Case.version)
                         .order_by(Case.case_key)).all()  # fmt: skip
        events = s.execute(select(func.count()).select_from(CaseEvent)).scalar_one()
    return [tuple(r) for r in rows], int(events)


def test_a_returned_workbook(store: Store, people: People, tmp_path: Path, sheets: str) -> None:
    out = _export(store, people, tmp_path)
    returned, expected = _fill(out, store, people)
    me, sc = people.county_here, people.scope(people.county_here)
    r = cases.import_workbook(store, me, sc, returned)
    got = {x.case_key: (x.cell, x.reason_zh) for x in r.rejected}
    dup_key = next(k for k, (cell, why) in got.items() if "出现多次" in why)
    expected[dup_key] = expected.pop("dup")
    assert set(got) == set(expected)
    for key, (cell, words) in expected.items():
        assert got[key][0] == cell and words in got[key][1], (key, got[key])
    assert len(r.applied) == 3 and r.skipped == 0 and r.blank == 18 - 3 - len(expected)
    applied = {
        case_of(store, k).case_key: case_of(store, k)
        for k in (f"uninsured_medical/P{people.here}-{i}/medical" for i in range(1, 7))
    }
    done = [c for c in applied.values() if c.state == "resolved" and c.resolved_by == "li_county"]
    assert {c.outcome for c in done} == {"enrolled", "student"}
    student = next(c for c in done if c.outcome == "student")
    assert (student.expires_on, student.evidence) == (D(2019, 7, 1), "学籍证明")
    assert all(e.detail.get("via") == "workbook" for c in done for e in c.events)
    # the same workbook again: nothing changes; the applied rows are skipped, not errors
    before = _snapshot(store)
    again = cases.import_workbook(store, me, sc, returned)
    assert again.applied == [] and again.skipped == 3
    assert {x.case_key for x in again.rejected} == set(expected)
    assert _snapshot(store) == before


def test_not_a_case_workbook(store: Store, people: People, tmp_path: Path) -> None:
    bad = tmp_path / "x.xlsx"
    bad.write_bytes(b"not a workbook")
    with pytest.raises(InputFileError, match="不是有效的 .xlsx"):
        cases.import_workbook(store, people.admin, SYSTEM, bad)
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["姓名", "处理结果"])
    wb.save(bad)
    with pytest.raises(InputFileError, match="缺少“案件标识”"):
        cases.import_workbook(store, people.admin, SYSTEM, bad)
