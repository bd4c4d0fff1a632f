"""Small hand-filled workbooks (a plan's task tables, the subsidy register): read cell by cell
with openpyxl, so that errors can name the cell (``C7``), behind the extracts' size guard.

Guard (:mod:`canbao.ingest.excel`): the zip directory is checked (unpacked size, packing ratio),
a form may not unpack past :data:`FORM_MAX_UNPACKED` (a filled form is a few hundred KB), and
every part is inflated once with a counter before openpyxl sees it, so a directory that lies
about sizes is refused too. Only ``.xlsx`` / ``.xlsm``: an ``.xls`` must be saved as xlsx first.

:func:`find_header` locates the header row of a simple table (one header row under title rows)
by the header words of each wanted field.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet

from canbao.errors import DataError, InputFileError
from canbao.ingest.excel import _inflate, check_xlsx_size
from canbao.ingest.readers import check_file

FORM_MAX_UNPACKED = 64 * 1024**2
HEADER_SCAN_ROWS = 20


def norm(value: Any) -> str:
    """A cell as compared: text, NFKC (full-width brackets → ASCII), no whitespace."""
    if value is None:
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))


def addr(row: int, col: int) -> str:
    """``(7, 3)`` → ``C7``."""
    return f"{get_column_letter(col)}{row}"


def open_form(path: Path, sheet: str | None = None, *, what: str = "表格") -> Worksheet:
    """The sheet named ``sheet`` if the workbook has it, else its first sheet (values of
    formulas as last saved). ``what`` names the form in messages (任务分解表, 登记表 …)."""
    check_file(path)
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise InputFileError(
            f"{what}须为 .xlsx 文件：{path.name}（.xls 请用 Excel 另存为 .xlsx）",
            f"{what} must be an xlsx file, not {path.suffix!r}",
        )
    try:
        with path.open("rb") as f, zipfile.ZipFile(f) as zf:
            check_xlsx_size(path, zf)
            total = sum(i.file_size for i in zf.infolist())
            if total > FORM_MAX_UNPACKED:
                raise InputFileError(
                    f"{what}“{path.name}”解压后有 {total // 1024**2} MB，不像手工填写的表格"
                    f"（上限 {FORM_MAX_UNPACKED // 1024**2} MB）",
                    f"form unpacks to {total} bytes, over {FORM_MAX_UNPACKED}",
                )
            for info in zf.infolist():
                _inflate(f, path, info, keep=False)
        wb = load_workbook(path, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise InputFileError(
            f"无法作为 xlsx 读取：{path.name}", f"not a readable xlsx file: {type(e).__name__}"
        ) from e
    if sheet is not None and sheet in wb.sheetnames:
        return wb[sheet]
    return wb.worksheets[0]


def merged_value(ws: Worksheet, row: int, col: int) -> Any:
    """A cell's value, or the value of the merged range it lies in (its top-left cell)."""
    for rng in ws.merged_cells.ranges:
        if rng.min_row <= row <= rng.max_row and rng.min_col <= col <= rng.max_col:
            return ws.cell(row=rng.min_row, column=rng.min_col).value
    return ws.cell(row=row, column=col).value


def find_header(
    ws: Worksheet,
    fields: Mapping[str, Sequence[str]],
    required: Sequence[str],
    *,
    what: str,
    file_name: str,
) -> tuple[int, dict[str, int]]:
    """(header row, {field: column}) of the first row among the first
    :data:`HEADER_SCAN_ROWS` that names every ``required`` field. A header matches a field
    when, without whitespace and bracketed parts (``金额（万元）`` → ``金额``), it equals one of
    the field's words. A :class:`DataError` names the missing headers."""
    words = {f: {norm(w) for w in ws_} for f, ws_ in fields.items()}
    best: tuple[int, dict[str, int]] | None = None
    for r in range(1, min(ws.max_row, HEADER_SCAN_ROWS) + 1):
        found: dict[str, int] = {}
        for c in range(1, ws.max_column + 1):
            text = re.sub(r"\([^)]*\)", "", norm(merged_value(ws, r, c)))
            for f, ws_ in words.items():
                if f not in found and text in ws_:
                    found[f] = c
        if all(f in found for f in required):
            return r, found
        if found and (best is None or len(found) > len(best[1])):
            best = (r, found)
    missing = [f for f in required if best is None or f not in best[1]]
    shown = "、".join(f"“{fields[f][0]}”" for f in missing)
    raise DataError(
        f"{what}缺少表头 {shown}（{file_name}，前 {HEADER_SCAN_ROWS} 行中未找到）",
        f"header row lacks {missing}",
    )
