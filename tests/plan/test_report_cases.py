"""The 通报's 入户核查进度 section (canbao.plan.report.cases): the case figures per plan unit and
the uninsured split, worked by hand from a few cases in the store (SQLite and PostgreSQL); the
section says 尚无核查个案 plainly for a data directory without cases, and is absent without one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from canbao import cases
from canbao.plan import catalog
from canbao.plan.actuals import FrameActuals
from canbao.plan.api import make_report
from canbao.plan.report import cases as section
from canbao.store import Actor, Store, open_store
from tests.cases.conftest import SYSTEM, case_of, make_lists
from tests.store.conftest import backend, store  # noqa: F401 - fixtures for this module

AS_OF = dt.date(2017, 9, 30)
LIANXI, XUNYANG, UNKNOWN = "360402", "360403", "369999"  # 濂溪区, 浔阳区, a code of no unit
OP = Actor("root_admin", "admin")


def _actuals() -> FrameActuals:
    frame = pl.DataFrame({"unit": ["360402"], "indicator": ["enrolled.employee_pension"],
                          "value": ["1000"]})  # fmt: skip
    return FrameActuals(frame, "测试")


def _work(db: Store) -> None:
    """21 cases (濂溪区 4 persons × 2 gaps + 4 employers; 浔阳区 2 × 2 + 2; code 369999 1 × 2 + 1);
    in 濂溪区 person 1: 已参保 (medical) and 已在外地参保 (pension), person 2 pension 拒绝参保,
    employer 1 单位已登记, person 3 medical visited; the next build drops person 1 and
    employer 1 from the lists."""
    cases.open_cases(db, SYSTEM, make_lists({LIANXI: range(1, 5), XUNYANG: [1, 2], UNKNOWN: [1]}),
                     "b1")  # fmt: skip

    def key(kind: str, who: str, scheme: str) -> int:
        return case_of(db, f"{kind}/{who}/{scheme}").id

    p = f"P{LIANXI}"
    cases.resolve(db, OP, SYSTEM, key("uninsured_medical", f"{p}-1", "medical"), "已参保",
                  on=dt.date(2017, 9, 1), reason="城乡居民医疗")  # fmt: skip
    cases.resolve(db, OP, SYSTEM, key("uninsured_pension", f"{p}-1", "pension"), "已在外地参保",
                  reason="浙江省")  # fmt: skip
    cases.resolve(db, OP, SYSTEM, key("uninsured_pension", f"{p}-2", "pension"), "拒绝参保")
    cases.resolve(db, OP, SYSTEM, key("unregistered_employer", f"E{LIANXI}-1", ""), "单位已登记",
                  on=dt.date(2017, 9, 2))  # fmt: skip
    cases.contact(db, OP, SYSTEM, key("uninsured_medical", f"{p}-3", "medical"))
    cases.open_cases(db, SYSTEM, make_lists({LIANXI: range(2, 5), XUNYANG: [1, 2], UNKNOWN: [1]}),
                     "b2")  # fmt: skip


def _rows(path: Path) -> dict[str, tuple[object, ...]]:
    ws = load_workbook(path)[section.SHEET]
    assert [c.value for c in ws[3]] == list(section.HEADERS)
    return {str(r[0]): tuple(r[1:]) for r in ws.iter_rows(min_row=4, values_only=True) if r[1]
            is not None}  # fmt: skip


def test_the_section_from_the_store(store: Store, tmp_path: Path) -> None:  # noqa: F811
    _work(store)
    plan = catalog.shipped("jiujiang-2017")
    files = make_report(plan, AS_OF, tmp_path, actuals=_actuals(), pdf=False, cases_store=store)
    wb = load_workbook(files.xlsx)
    assert wb.sheetnames.index(section.SHEET) == wb.sheetnames.index("指标口径") - 1
    rows = _rows(files.xlsx)
    # opened, open, worked, resolved, confirmed, gone, overdue; listed, unexplained, awaiting,
    # explained, enrolment confirmed; 办结率
    assert rows["濂溪区"][:12] == (12, 8, 5, 4, 2, 0, 0, 6, 5, 0, 1, 1)
    assert rows["濂溪区"][12] == pytest.approx(4 / 12)
    assert rows["浔阳区"][:12] == (6, 6, 0, 0, 0, 0, 0, 4, 4, 0, 0, 0)
    assert rows["全市"][:12] == (21, 17, 5, 4, 2, 0, 0, 12, 11, 0, 1, 1)  # 369999: 全市 only
    assert rows["柴桑区"][:12] == (0,) * 12 and rows["柴桑区"][12] == "—"  # ranked, no cases
    assert list(rows)[:3] == ["全市", "濂溪区", "浔阳区"]  # report order
    html = files.html.read_text(encoding="utf-8")
    assert "<h2>入户核查进度</h2>" in html and section.NONE not in html
    assert (
        "全市扩面核查个案累计开案21个，已入户核查（联系、登记结果或上报）5个，已办结4个"
        "（其中经下一期数据确认2个），办结率19.0%；待办17个，其中超过30天未办结0个。"
    ) in html
    assert (
        "最新应保未保清单（养老、医疗合计）12人次：尚未核实11人次，已登记参保待数据确认0人次，"
        "已说明原因（在外地参保、在校学生等，单列，不计为已参保）1人次；另经数据确认已参保1人次。"
    ) in html
    assert "办结率较低" not in html  # two units with cases: no ranking of them
    text = [str(c) for row in wb["通报"].iter_rows(values_only=True) for c in row if c]
    assert "入户核查进度" in text


def test_the_units_resolving_least_are_named(store: Store, tmp_path: Path) -> None:  # noqa: F811
    counties = ["360402", "360403", "360404", "360423", "360424"]  # 濂溪 浔阳 柴桑 武宁 修水
    cases.open_cases(store, SYSTEM, make_lists({c: [1] for c in counties}), "b1")
    for c in counties[:2]:  # 濂溪区 and 浔阳区 resolve all three of their cases
        for v in cases.list_cases(store, SYSTEM, county=c, limit=None):
            cases.resolve(store, OP, SYSTEM, v.id, "联系不上")
    figures = section.read_figures(catalog.shipped("jiujiang-2017"), store)
    para = section.paragraph(figures)
    assert para is not None and para.heading == "入户核查进度"
    assert "办结率较低的有柴桑区（0.0%）、武宁县（0.0%）、修水县（0.0%），" in para.text
    # only units below the city's rate are named: one of five behind names one
    for v in cases.list_cases(store, SYSTEM, open_only=True, limit=None):
        if v.county_code in counties[2:4]:
            cases.resolve(store, OP, SYSTEM, v.id, "联系不上")
    para = section.paragraph(section.read_figures(catalog.shipped("jiujiang-2017"), store))
    assert para is not None and "办结率较低的有修水县（0.0%），" in para.text


def test_no_cases_is_said_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CANBAO_DATABASE_URL", raising=False)
    plan = catalog.shipped("jiujiang-2017")
    data = tmp_path / "data"
    data.mkdir()
    for label in ("no store", "an empty store"):
        files = make_report(plan, AS_OF, tmp_path / label, actuals=_actuals(), data_dir=data,
                            pdf=False)  # fmt: skip
        ws = load_workbook(files.xlsx)[section.SHEET]
        assert ws["A4"].value == section.NONE_TEXT, label
        html = files.html.read_text(encoding="utf-8")
        assert "<h2>入户核查进度</h2>" in html and "入户核查进度。</b>尚无核查个案：" in html
        assert not (data / "store.sqlite3").exists() or label == "an empty store"
        open_store(data).dispose()  # the second round: a store without cases


def test_no_data_directory_no_section(tmp_path: Path) -> None:
    files = make_report(catalog.shipped("jiujiang-2017"), AS_OF, tmp_path, actuals=_actuals(),
                        pdf=False)  # fmt: skip
    assert section.SHEET not in load_workbook(files.xlsx).sheetnames
    assert "入户核查进度" not in files.html.read_text(encoding="utf-8")
