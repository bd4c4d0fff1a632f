"""Shared openpyxl styling for the 附件1 template and the 通报 workbook."""

from __future__ import annotations

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.worksheet import Worksheet

FONT = "宋体"
THIN = Side(style="thin", color="808080")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
CODE_FILL = PatternFill("solid", fgColor="F2F2F2")
RED_FILL = PatternFill("solid", fgColor="FADBD8")
GREEN_FILL = PatternFill("solid", fgColor="E2EFDA")
TITLE_FONT = Font(name=FONT, bold=True, size=16)
BOLD = Font(name=FONT, bold=True)
PLAIN = Font(name=FONT)
GREY = Font(name=FONT, color="808080", size=9)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)


def header_cell(ws: Worksheet, row: int, col: int, value: object) -> None:
    c = ws.cell(row=row, column=col, value=value)
    c.font = BOLD
    c.fill = HEADER_FILL
    c.border = BORDER
    c.alignment = CENTER


def body_cell(
    ws: Worksheet, row: int, col: int, value: object, number_format: str | None = None
) -> None:
    c = ws.cell(row=row, column=col, value=value)
    c.font = PLAIN
    c.border = BORDER
    c.alignment = CENTER if not isinstance(value, str) or len(value) < 12 else LEFT
    if number_format:
        c.number_format = number_format


def border_range(ws: Worksheet, min_row: int, max_row: int, min_col: int, max_col: int) -> None:
    for r in range(min_row, max_row + 1):
        for c in range(min_col, max_col + 1):
            ws.cell(row=r, column=c).border = BORDER
