"""Excel readers (xlsx via fastexcel/calamine, xls via xlrd): first or named sheet, header row
found under title rows, merged cells filled (a two-row header, a title spanning columns, an
employer name merged down several rows), every cell read as text.

Numeric cells in an ID column are what Excel does to a citizen ID typed without a leading
apostrophe: the number keeps 15 significant digits and the rest is lost. The xlsx reader looks at
the cell *type* in the sheet XML (fastexcel hands back text and cannot tell), so ingest can mark
those values damaged (``excel_number``) instead of trusting them.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath

import fastexcel
import polars as pl
import xlrd

from canbao.errors import InputFileError, NotFoundError
from canbao.ingest import headers
from canbao.ingest.readers import RawTable, _strip_empty

Merge = tuple[int, int, int, int]  # first row, first col, last row, last col (0-based, inclusive)
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _col_letters(idx: int) -> str:
    s = ""
    idx += 1
    while idx:
        idx, r = divmod(idx - 1, 26)
        s = chr(65 + r) + s
    return s


def _ref(ref: str) -> tuple[int, int]:
    m = re.match(r"([A-Z]+)(\d+)", ref)
    if not m:
        return 0, 0
    return int(m.group(2)) - 1, _col_index(m.group(1))


def _bad_excel(path: Path, e: BaseException) -> InputFileError:
    return InputFileError(
        f"文件“{path.name}”不是有效的 Excel 文件或已损坏（可能下载/拷贝不完整）",
        f"cannot read Excel file: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
    )


def _pick_sheet(path: Path, names: Sequence[str], sheet: str | None) -> int:
    if sheet is None:
        if not names:
            raise InputFileError(f"文件“{path.name}”没有工作表", "workbook has no sheets")
        return 0
    if sheet in names:
        return list(names).index(sheet)
    raise NotFoundError(
        f"文件“{path.name}”中没有名为“{sheet}”的工作表；现有工作表：" + "、".join(names),
        f"sheet {sheet!r} not found",
    )


def _build(
    path: Path,
    kind: str,
    fmt: str,
    sheet_name: str,
    grid: list[list[str | None]] | pl.DataFrame,
    merges: list[Merge],
    row_off: int,
    col_offs: list[int],
    numeric_lookup: object,
    known_headers: Collection[str] = (),
) -> RawTable:
    """Shared part: header detection and merged cells on a grid (list of rows or DataFrame)."""
    if isinstance(grid, pl.DataFrame):
        df = grid
    else:
        width = max((len(r) for r in grid), default=0)
        df = pl.DataFrame(
            {f"c{j}": [r[j] if j < len(r) else None for r in grid] for j in range(width)},
            schema={f"c{j}": pl.Utf8 for j in range(width)},
        )
    df = df.rename({c: f"c{j}" for j, c in enumerate(df.columns)})
    if df.height == 0 or df.width == 0:
        raise InputFileError(f"文件“{path.name}”的工作表“{sheet_name}”是空的", "empty sheet")
    col_pos = {off: j for j, off in enumerate(col_offs)}
    # merged ranges → grid coordinates
    local: list[Merge] = []
    for r0, c0, r1, c1 in merges:
        if c0 not in col_pos and c1 < min(col_offs, default=0):
            continue
        lr0, lr1 = r0 - row_off, r1 - row_off
        lc0 = col_pos.get(c0, max(0, c0 - col_offs[0]))
        lc1 = min(df.width - 1, lc0 + (c1 - c0))
        if lr1 < 0 or lr0 >= df.height:
            continue
        local.append((max(lr0, 0), lc0, min(lr1, df.height - 1), lc1))
    head_n = min(df.height, 40)
    head = [list(r) for r in df.head(head_n).iter_rows()]
    for r0, c0, r1, c1 in local:  # fill merged header cells with their top-left value
        if r0 >= head_n:
            continue
        v = head[r0][c0]
        for r in range(r0, min(r1, head_n - 1) + 1):
            for c in range(c0, c1 + 1):
                head[r][c] = v
    h = headers.locate_header(head, kind, extra=known_headers)
    names: list[str | None] = list(head[h])
    skip = h + 1
    if h + 1 < len(head):
        spans_two = any(r0 <= h < r1 for r0, _c0, r1, _c1 in local)
        sub = headers.compose_two_row_header(names, head[h + 1], kind)
        if sub is not None or spans_two:
            names = list(sub) if sub is not None else names
            skip = h + 2
    title = [" ".join(dict.fromkeys(c for c in r if c)) for r in head[:h] if any(r)]
    body = df.slice(skip).with_row_index("_i", offset=skip)
    # merged cells inside the data (an employer name merged down its employees)
    data_merges = [m for m in local if m[0] >= skip and (m[2] > m[0] or m[3] > m[1])]
    if data_merges:
        cols = {c: body[c].to_list() for c in body.columns if c != "_i"}
        for r0, c0, r1, c1 in data_merges:
            v = cols[f"c{c0}"][r0 - skip]
            for c in range(c0, c1 + 1):
                for r in range(r0, r1 + 1):
                    cols[f"c{c}"][r - skip] = v
        body = pl.DataFrame(
            {"_i": body["_i"], **cols}, schema={"_i": pl.UInt32, **{c: pl.Utf8 for c in cols}}
        )
    # drop columns with neither a header nor any data
    keep = [
        j
        for j in range(df.width)
        if names[j] not in (None, "") or body[f"c{j}"].null_count() < body.height
    ]
    final = headers.finalize_names([names[j] for j in keep], path.name)
    body = body.select("_i", *[pl.col(f"c{j}").alias(n) for j, n in zip(keep, final, strict=True)])
    body = _strip_empty(body).with_columns(pl.col("_i").cast(pl.Int64))
    grid_rows = body["_i"]
    abs_col = {n: col_offs[j] for j, n in zip(keep, final, strict=True)}

    def numeric(col: str) -> pl.Series | None:
        if col not in abs_col:
            return None
        rows = numeric_lookup(abs_col[col])  # type: ignore[operator]
        if rows is None:
            return None
        return (grid_rows + row_off).is_in(rows.implode()).rename(col)

    return RawTable(
        data=body.drop("_i"),
        format=fmt,
        header_row=row_off + skip,
        title_rows=title,
        sheet=sheet_name,
        numeric_cells=numeric,
    )


# --- xlsx -----------------------------------------------------------------------------------


def _sheet_xml_path(zf: zipfile.ZipFile, index: int) -> str:
    wb = ET.fromstring(zf.read("xl/workbook.xml"))
    sheets = wb.find(f"{_NS_MAIN}sheets")
    if sheets is None:
        raise KeyError("sheets")
    rid = list(sheets)[index].get(f"{_NS_REL}id")
    rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    for rel in rels.iter(f"{_NS_PKG}Relationship"):
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            if target.startswith("/"):
                return target.lstrip("/")
            return str(PurePosixPath("xl") / target)
    raise KeyError(rid)


_CELL_RE = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_R_RE = re.compile(rb'\br="([A-Z]+)(\d+)"')
_T_RE = re.compile(rb'\bt="(\w+)"')
_MERGE_RE = re.compile(rb'<mergeCell\b[^>]*\bref="([A-Z]+\d+):([A-Z]+\d+)"')


def _first_valued_row(xml: bytes) -> int:
    """0-based sheet row of the first cell that holds a value (calamine starts its range there)."""
    best = None
    for m in _CELL_RE.finditer(xml, 0, min(len(xml), 2_000_000)):
        content = m.group(2)
        if not content or (b"<v" not in content and b"<is" not in content):
            continue
        r = _R_RE.search(m.group(1))
        if r:
            row = int(r.group(2)) - 1
            best = row if best is None else min(best, row)
            if best is not None and row > best + 1:
                break
    return best or 0


def read_xlsx(
    path: Path, kind: str, sheet: str | None = None, known_headers: Collection[str] = ()
) -> RawTable:
    try:
        reader = fastexcel.read_excel(str(path))
        idx = _pick_sheet(path, reader.sheet_names, sheet)
        loaded = reader.load_sheet(idx, header_row=None, dtypes="string")
        grid = loaded.to_polars()
        col_offs = [c.absolute_index for c in loaded.available_columns()]
        zf = zipfile.ZipFile(path)
        xml = zf.read(_sheet_xml_path(zf, idx))
    except fastexcel.FastExcelError as e:
        raise _bad_excel(path, e) from e
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError, IndexError) as e:
        raise _bad_excel(path, e) from e
    merges = [(*_ref(a.decode()), *_ref(b.decode())) for a, b in _MERGE_RE.findall(xml)]
    merges = [(r0, c0, r1, c1) for r0, c0, r1, c1 in merges]
    row_off = _first_valued_row(xml)

    def numeric_rows(abs_col: int) -> pl.Series:
        letters = _col_letters(abs_col).encode()
        pat = re.compile(rb'<c r="' + letters + rb'(\d+)"([^>]*?)(/?)>')
        rows = [
            int(r) - 1
            for r, attrs, closed in pat.findall(xml)
            if not closed and (b't="' not in attrs or b't="n"' in attrs)
        ]
        return pl.Series(rows, dtype=pl.Int64)

    return _build(
        path,
        kind,
        "xlsx",
        reader.sheet_names[idx],
        grid,
        merges,
        row_off,
        col_offs,
        numeric_rows,
        known_headers,
    )


# --- xls ------------------------------------------------------------------------------------


def _xls_text(cell: xlrd.sheet.Cell, datemode: int) -> str | None:
    t, v = cell.ctype, cell.value
    if t in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if t == xlrd.XL_CELL_NUMBER:
        return str(int(v)) if float(v).is_integer() else repr(v)
    if t == xlrd.XL_CELL_DATE:
        d = xlrd.xldate_as_datetime(v, datemode)
        return d.date().isoformat() if d.time() == dt.time(0) else d.isoformat(sep=" ")
    if t == xlrd.XL_CELL_BOOLEAN:
        return "TRUE" if v else "FALSE"
    if t == xlrd.XL_CELL_ERROR:
        return None
    return str(v)


def read_xls(
    path: Path, kind: str, sheet: str | None = None, known_headers: Collection[str] = ()
) -> RawTable:
    try:
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
        idx = _pick_sheet(path, book.sheet_names(), sheet)
        sh = book.sheet_by_index(idx)
        grid = [
            [_xls_text(sh.cell(r, c), book.datemode) for c in range(sh.ncols)]
            for r in range(sh.nrows)
        ]
        numeric = {
            c: pl.Series(
                [r for r in range(sh.nrows) if sh.cell_type(r, c) == xlrd.XL_CELL_NUMBER],
                dtype=pl.Int64,
            )
            for c in range(sh.ncols)
        }
        merges = [(r0, c0, r1 - 1, c1 - 1) for r0, r1, c0, c1 in sh.merged_cells]
    except (xlrd.XLRDError, OSError, AssertionError, IndexError, ValueError, KeyError) as e:
        raise _bad_excel(path, e) from e
    return _build(
        path,
        kind,
        "xls",
        book.sheet_names()[idx],
        grid,
        merges,
        0,
        list(range(sh.ncols)),
        numeric.get,
        known_headers,
    )
