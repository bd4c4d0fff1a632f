"""Hand-filled forms (task tables, the subsidy register): the size guard and the header search."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from canbao.errors import DataError, InputFileError
from canbao.ingest import forms


def test_a_form_that_unpacks_too_big_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    wb = Workbook()
    wb.active.append(["单位名称", "任务数"])
    wb.save(path)
    half = forms.FORM_MAX_UNPACKED // 2 + 1  # each part below the zip-bomb rule's part size
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in (1, 2):
            zf.writestr(f"xl/media/padding{i}.bin", b"\0" * half)
    with pytest.raises(
        InputFileError, match="任务分解表“big.xlsx”解压后有 64 MB，不像手工填写的表格"
    ):
        forms.open_form(path, what="任务分解表")
    # a workbook of the extracts' size guard is refused before that: a zip bomb
    bomb = tmp_path / "bomb.xlsx"
    wb.save(bomb)
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/media/padding.bin", b"\0" * (forms.FORM_MAX_UNPACKED + 1))
    with pytest.raises(InputFileError, match="压缩炸弹"):
        forms.open_form(bomb)


def test_header_found_under_titles_with_merged_cells(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["2017年度任务分解表"])
    ws.append(["说明：单位为人"])
    ws.append(["单位名称", "参保任务数（人）", None])
    ws.append(["柴桑区", 10, None])
    ws.merge_cells("B3:C3")
    path = tmp_path / "f.xlsx"
    wb.save(path)
    sheet = forms.open_form(path)
    fields = {"name": ("单位名称",), "task": ("参保任务数", "任务数"), "note": ("备注",)}
    row, cols = forms.find_header(sheet, fields, ("name", "task"), what="表", file_name="f.xlsx")
    assert row == 3 and cols == {"name": 1, "task": 2}
    assert forms.merged_value(sheet, 3, 3) == "参保任务数（人）"
    with pytest.raises(DataError, match="缺少表头 “备注”"):
        forms.find_header(sheet, fields, ("name", "note"), what="表", file_name="f.xlsx")
