"""A minimal, fast xlsx writer: one sheet, inline strings and numbers, built with Polars.

xlsxwriter/openpyxl write cell by cell in Python, which is too slow for registry-sized
extracts; the sheet XML here is assembled column-wise. Output opens in Excel/WPS and reads with
fastexcel (calamine) and openpyxl. Deterministic: fixed zip timestamps, no creation time.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import polars as pl

_CT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)


def _workbook(sheet: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{_esc(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _esc_expr(e: pl.Expr) -> pl.Expr:
    return (
        e.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def col_letter(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def write_xlsx(
    path: Path,
    table: pl.DataFrame,
    numeric: dict[str, np.ndarray],
    title_rows: tuple[str, ...] = (),
    sheet: str = "Sheet1",
) -> None:
    """Write ``table`` (text columns) below ``title_rows``; ``numeric`` marks number cells."""
    first = len(title_rows) + 2  # Excel row of the first data row
    parts: list[str] = []
    for i, title in enumerate(title_rows):
        parts.append(
            f'<row r="{i + 1}"><c r="A{i + 1}" t="inlineStr"><is><t xml:space="preserve">{_esc(title)}</t></is></c></row>'
        )
    hr = len(title_rows) + 1
    cells = "".join(
        f'<c r="{col_letter(j)}{hr}" t="inlineStr"><is><t>{_esc(h)}</t></is></c>'
        for j, h in enumerate(table.columns)
    )
    parts.append(f'<row r="{hr}">{cells}</row>')
    header_xml = "".join(parts)
    n = table.height
    rownum = pl.int_range(first, first + n, dtype=pl.Int64).cast(pl.Utf8)
    exprs = []
    for j, h in enumerate(table.columns):
        ref = pl.concat_str(pl.lit(f'<c r="{col_letter(j)}'), pl.col("_r"))
        text = pl.concat_str(
            ref,
            pl.lit('" t="inlineStr"><is><t xml:space="preserve">'),
            _esc_expr(pl.col(h)),
            pl.lit("</t></is></c>"),
        )
        num = pl.concat_str(ref, pl.lit('"><v>'), pl.col(h), pl.lit("</v></c>"))
        mask = numeric.get(h)
        empty = pl.col(h).is_null() | (pl.col(h) == "")
        if mask is not None and mask.any():
            e = pl.when(empty).then(pl.lit("")).when(pl.Series(mask)).then(num).otherwise(text)
        else:
            e = pl.when(empty).then(pl.lit("")).otherwise(text)
        exprs.append(e)
    rows = table.with_columns(_r=rownum).select(
        pl.concat_str(
            pl.lit('<row r="'), pl.col("_r"), pl.lit('">'), *exprs, pl.lit("</row>")
        ).alias("x")
    )["x"]
    ncols = max(len(table.columns), 1)
    last = f"{col_letter(ncols - 1)}{first + n - 1 if n else hr}"
    head = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:{last}"/><sheetData>'
    )
    body = rows.str.join("").item() if n else ""
    sheet_xml = head + header_xml + body + "</sheetData></worksheet>"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in (
            ("[Content_Types].xml", _CT),
            ("_rels/.rels", _RELS),
            ("xl/workbook.xml", _workbook(sheet)),
            ("xl/_rels/workbook.xml.rels", _WB_RELS),
            ("xl/worksheets/sheet1.xml", sheet_xml),
        ):
            info = zipfile.ZipInfo(name, date_time=(2018, 1, 8, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data.encode("utf-8"), compresslevel=1)
