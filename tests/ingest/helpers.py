"""Small fixture writers for ingest tests (files are made in tmp_path)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from canbao.standards import citizen_id

# Valid IDs built from the check rule (fictional people).
ID_A = "11010519491231002X"
ID_B = "360402199001010014"[:17] + citizen_id.compute_check_char("36040219900101001")
ID_C = "36042619850312002" + citizen_id.compute_check_char("36042619850312002")


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8", sep: str = ",") -> Path:
    text = "\n".join(sep.join(cells) for cells in (ln.split(",") for ln in lines)) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


def population_lines() -> list[str]:
    return [
        "姓名,公民身份号码,性别,出生年月,住址",
        f"张三,{ID_A},女,1949-12,浔阳区甘棠街1号",
        f"李四,{ID_B},男,1990年1月1日,濂溪区",
        f"王五,{ID_C},女,19850312,德安县",
    ]


def write_xlsx_titled(path: Path, numeric_id: bool = False) -> Path:
    """Two title rows (one merged across all columns) above a two-row merged header."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "参保人员"
    ws["A1"] = "九江市城镇职工基本养老保险参保人员名单"
    ws.merge_cells("A1:E1")
    ws["A2"] = "填报单位：九江市社保局"
    ws["A3"] = "姓名"
    ws.merge_cells("A3:A4")
    ws["B3"] = "身份证号码"
    ws.merge_cells("B3:B4")
    ws["C3"] = "缴费信息"
    ws.merge_cells("C3:D3")
    ws["C4"] = "缴费基数"
    ws["D4"] = "参保日期"
    ws["E3"] = "参保状态"
    ws.merge_cells("E3:E4")
    rows = [
        ("张三", ID_A, "3000.50", "2015-01-01", "参保缴费"),
        ("李四", ID_B, 4200, "2016/3/1", "暂停缴费"),
        ("王五", ID_C, "1,234.5", None, None),
    ]
    for i, r in enumerate(rows, start=5):
        ws.cell(i, 1, r[0])
        ws.cell(i, 2, int(r[1]) if numeric_id and r[1].isdigit() else r[1])
        ws.cell(i, 3, r[2])
        ws.cell(i, 4, r[3])
        ws.cell(i, 5, r[4])
    wb.save(path)
    return path
