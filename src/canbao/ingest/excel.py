"""Excel readers (xlsx via fastexcel/calamine, xls via xlrd): first or named sheet, header row
found under title rows, merged cells filled (a two-row header, a title spanning columns, an
employer name merged down several rows), every cell read as text.

Numeric cells in an ID column are what Excel does to a citizen ID typed without a leading
apostrophe: the number keeps 15 significant digits and the rest is lost. The xlsx reader looks at
the cell *type* in the sheet XML (fastexcel hands back text and cannot tell), so ingest can mark
those values damaged (``excel_number``) instead of trusting them.

Size guard: an xlsx is a zip, and memory grows with the *unpacked* size. Before anything is
parsed, the zip directory is checked (total unpacked size against ``CANBAO_MAX_XLSX_UNPACKED``,
default 2 GB; a part over 50 MB packed more than 100:1 is a zip bomb, real sheets pack 5–20:1),
then every part the reader will parse is inflated once with a counter, so a directory that lies
about sizes is caught too.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import fastexcel
import polars as pl
import xlrd

from canbao.errors import InputFileError, NotFoundError, UsageError
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


# --- size guard (zip bombs) -----------------------------------------------------------------

MAX_UNPACKED_ENV = "CANBAO_MAX_XLSX_UNPACKED"
DEFAULT_MAX_UNPACKED = 2 * 1024**3
MAX_RATIO = 100  # unpacked : packed, for a part of at least RATIO_MIN_PART unpacked bytes
RATIO_MIN_PART = 50 * 1024**2
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3,
          "gb": 1024**3}  # fmt: skip


def max_unpacked() -> int:
    """The unpacked-size limit of a workbook: ``$CANBAO_MAX_XLSX_UNPACKED`` (bytes, or with a
    unit: ``500M``, ``4G``), default 2 GB."""
    text = os.environ.get(MAX_UNPACKED_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_UNPACKED
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", text)
    if not m or m.group(2).lower() not in _UNITS or float(m.group(1)) <= 0:
        raise UsageError(
            f"环境变量 {MAX_UNPACKED_ENV} 的值“{text}”无效，应为字节数或带单位的大小（如 500M、4G）",
            f"bad {MAX_UNPACKED_ENV}={text!r}",
        )
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _size(n: int) -> str:
    if n >= 10 * 1024**2:
        return f"{n / 1024**2:,.0f} MB"
    if n >= 1024**2:
        return f"{n / 1024**2:.1f} MB"
    return f"{max(n, 1) / 1024:.0f} KB"


def check_xlsx_size(path: Path, zf: zipfile.ZipFile) -> None:
    """Refuse a workbook whose zip directory says it unpacks past the limit, or holds a large
    part packed more than :data:`MAX_RATIO`:1 (a zip bomb)."""
    infos = zf.infolist()
    total = sum(i.file_size for i in infos)
    limit = max_unpacked()
    if total > limit:
        raise InputFileError(
            f"Excel 文件“{path.name}”解压后有 {_size(total)}，超过上限 {_size(limit)}"
            f"（可用环境变量 {MAX_UNPACKED_ENV} 调高，如 4G）。请拆分文件或另存为 CSV 后再导入",
            f"workbook unpacks to {total} bytes, over the limit of {limit}",
            unpacked=total,
            limit=limit,
        )
    for i in infos:
        if i.file_size >= RATIO_MIN_PART and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            ratio = i.file_size // max(i.compress_size, 1)
            raise InputFileError(
                f"Excel 文件“{path.name}”中的“{i.filename}”压缩比异常：{_size(i.compress_size)} "
                f"解压后有 {_size(i.file_size)}（约 {ratio}:1，正常的表格不超过 {MAX_RATIO}:1），"
                "疑似恶意构造的压缩包（“压缩炸弹”），拒绝读取",
                f"part {i.filename} packs {ratio}:1 (over {MAX_RATIO}:1): zip bomb",
                ratio=ratio,
            )


def _inflate(f: BinaryIO, path: Path, info: zipfile.ZipInfo, keep: bool) -> bytearray:
    """One part's bytes, inflated with a counter: more bytes than the directory declares (a
    directory that lies to pass :func:`check_xlsx_size`) is refused before they are produced.
    The buffer is allocated once at the declared size (no second copy of a big sheet).
    ``keep=False`` only checks (and returns an empty buffer)."""
    f.seek(info.header_offset)
    head = f.read(30)
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header of {info.filename}")
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    f.seek(info.header_offset + 30 + name_len + extra_len)
    out = bytearray(info.file_size if keep else 0)
    n, crc = 0, 0

    def take(piece: bytes) -> None:
        nonlocal n, crc
        if n + len(piece) > info.file_size:
            raise InputFileError(
                f"Excel 文件“{path.name}”已损坏或被篡改：“{info.filename}”解压后的大小超过了压缩包记录的 "
                f"{info.file_size} 字节，拒绝读取",
                f"part {info.filename} inflates past its declared size {info.file_size}",
            )
        if keep:
            out[n : n + len(piece)] = piece
        n += len(piece)
        crc = zlib.crc32(piece, crc)

    if info.compress_type == zipfile.ZIP_STORED:
        left = info.compress_size
        while left > 0 and (piece := f.read(min(left, 1 << 22))):
            left -= len(piece)
            take(piece)
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        d = zlib.decompressobj(-15)
        left, buf = info.compress_size, b""
        while not d.eof:
            if not buf:
                buf = f.read(min(left, 1 << 20)) if left > 0 else b""
                if not buf:
                    break
                left -= len(buf)
            take(d.decompress(buf, 1 << 22))
            buf = d.unconsumed_tail
    else:
        raise InputFileError(
            f"Excel 文件“{path.name}”使用了不支持的压缩方式（{info.compress_type}），请用 Excel 另存后再导入",
            f"unsupported zip compression method {info.compress_type}",
        )
    if n != info.file_size or crc != info.CRC:
        raise zipfile.BadZipFile(f"{info.filename}: size or CRC does not match the directory")
    return out


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


def _sheet_xml_path(wb: ET.Element, rels: ET.Element, index: int) -> str:
    sheets = wb.find(f"{_NS_MAIN}sheets")
    if sheets is None:
        raise KeyError("sheets")
    rid = list(sheets)[index].get(f"{_NS_REL}id")
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


def _first_valued_row(xml: bytes | bytearray) -> int:
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


def _guarded_parts(path: Path, sheet: str | None) -> tuple[str, bytearray]:
    """Size guard, then the chosen sheet's name and XML. Every part the reader parses is
    inflated once with a counter (other sheets and media are never read)."""
    with path.open("rb") as f, zipfile.ZipFile(f) as zf:
        check_xlsx_size(path, zf)
        infos = {i.filename: i for i in zf.infolist()}
        wb_info = infos.get("xl/workbook.xml")
        rels_info = infos.get("xl/_rels/workbook.xml.rels")
        if wb_info is None or rels_info is None:
            raise KeyError("xl/workbook.xml")
        wb = ET.fromstring(bytes(_inflate(f, path, wb_info, keep=True)))
        sheets = wb.find(f"{_NS_MAIN}sheets")
        names = [s.get("name", "") for s in (sheets if sheets is not None else [])]
        idx = _pick_sheet(path, names, sheet)
        sheet_path = _sheet_xml_path(
            wb, ET.fromstring(bytes(_inflate(f, path, rels_info, keep=True))), idx
        )
        if sheet_path not in infos:
            raise KeyError(sheet_path)
        for name, info in infos.items():
            if name == sheet_path or name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
                continue
            if name.endswith((".xml", ".rels")) and not name.startswith("xl/worksheets/sheet"):
                _inflate(f, path, info, keep=False)
        return names[idx], _inflate(f, path, infos[sheet_path], keep=True)


def read_xlsx(
    path: Path, kind: str, sheet: str | None = None, known_headers: Collection[str] = ()
) -> RawTable:
    try:
        sheet_name, xml = _guarded_parts(path, sheet)
        # calamine picks its parser by extension: an xlsx named .xls is handed over as bytes
        xlsx_named = path.suffix.lower() in (".xlsx", ".xlsm")
        reader = fastexcel.read_excel(str(path.absolute()) if xlsx_named else path.read_bytes())
        loaded = reader.load_sheet(sheet_name, header_row=None, dtypes="string")
        grid = loaded.to_polars()
        col_offs = [c.absolute_index for c in loaded.available_columns()]
    except fastexcel.FastExcelError as e:
        raise _bad_excel(path, e) from e
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError, IndexError, EOFError,
            zlib.error, struct.error, ValueError, NotImplementedError, RuntimeError) as e:  # fmt: skip
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
        sheet_name,
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


_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


def read_xls(
    path: Path, kind: str, sheet: str | None = None, known_headers: Collection[str] = ()
) -> RawTable:
    with path.open("rb") as f:
        if _ENCRYPTED in f.read(1 << 20):  # an xlsx with an open password is an OLE file
            raise InputFileError(
                f"Excel 文件“{path.name}”设置了打开密码（已加密），请在 Excel 中去掉密码后再导入",
                "password-protected workbook",
            )
    try:
        book = xlrd.open_workbook(str(path.absolute()), formatting_info=True, on_demand=True)
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
    except (xlrd.XLRDError, xlrd.compdoc.CompDocError, OSError, AssertionError, IndexError,
            ValueError, KeyError, struct.error, EOFError, TypeError) as e:  # fmt: skip
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
