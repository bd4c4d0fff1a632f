"""Read a departmental extract into a table of text: every column as text (IDs never become
numbers), the header found under any title rows, fully empty rows dropped.

The result is a :class:`RawTable`. Data rows are numbered 1, 2, … in file order after the header
(title and header rows not counted, fully empty rows skipped); that number is the ``row`` of the
record or quarantine entry everywhere downstream.
"""

from __future__ import annotations

import csv
import io
import re
import struct
import sys
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from canbao.errors import InputFileError, UsageError
from canbao.ingest import encoding, headers

FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
           ".xls": "xls", ".parquet": "parquet"}  # fmt: skip
DELIMITERS = (",", "\t", ";", "|")
DELIMITER_LABELS = {",": "逗号", "\t": "制表符", ";": "分号", "|": "竖线"}


@dataclass
class RawTable:
    data: pl.DataFrame  # all Utf8, columns = header names, data rows only
    format: str
    header_row: int  # 1-based row/line of the (last) header row in the file
    title_rows: list[str] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)  # reader remarks for the report (Chinese)
    # For Excel: column name → Boolean Series (one per data row) "cell stored as a number".
    numeric_cells: Callable[[str], pl.Series | None] = lambda _c: None
    # CSV rows with more fields than the header: the whole line as delivered (else null).
    extra_lines: pl.Series | None = None


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"不支持的文件类型“{path.suffix}”（{path.name}），支持：csv、txt、xlsx、xls、parquet",
            f"unsupported file type {path.suffix!r}",
        )
    return fmt


def literal_path(path: Path) -> str:
    """``path`` as Polars must be given it: absolute (no ``~`` expansion, never a URL) and
    always read with ``glob=False`` (``data[12].csv`` is a file name, not a pattern)."""
    return str(Path(path).absolute())


def check_file(path: Path) -> None:
    try:
        if not path.exists():
            raise InputFileError(f"文件不存在：{path}", f"file not found: {path}")
        if not path.is_file():
            raise InputFileError(f"不是文件：{path}", f"not a regular file: {path}")
        if path.stat().st_size == 0:
            raise InputFileError(f"文件“{path.name}”是空文件", f"empty file: {path.name}")
    except (OSError, ValueError) as e:  # a name too long, a NUL in the name, no permission
        raise InputFileError(
            f"无法访问文件“{path.name}”：{type(e).__name__}", f"cannot access {path}: {e}"
        ) from e


def _strip_empty(df: pl.DataFrame) -> pl.DataFrame:
    """Trim cells, blank → null, drop rows where every cell is empty."""
    cols = [c for c in df.columns if c != "_i"]  # _i: a row index carried along
    if not cols:
        return df
    # one expression over many columns (not one per column: a file may have 10,000)
    df = df.with_columns(pl.col(cols).cast(pl.Utf8))
    # trim only the columns that need it (most do not; trimming copies every string)
    ws = r"^[ \t\r\n\u3000\ufeff]|[ \t\r\n\u3000\ufeff]$|^$"
    dirty = df.select(pl.col(cols).str.contains(ws).any()).row(0)
    todo = [c for c, d in zip(cols, dirty, strict=True) if d]
    if todo:
        df = df.with_columns(pl.col(todo).str.strip_chars(" \t\r\n\u3000\ufeff").replace("", None))
    return df.filter(~pl.all_horizontal(pl.col(cols).is_null()))


# --- CSV ------------------------------------------------------------------------------------


def _allow_huge_fields() -> None:
    """The csv module refuses fields over 128 KB by default; a 5 MB cell is data, not an error."""
    if csv.field_size_limit() < 1 << 30:
        csv.field_size_limit(min(sys.maxsize, (1 << 31) - 1))


def sniff_delimiter(lines: list[str]) -> str:
    """The candidate that splits the most-split line into the most fields, preferring the one
    whose count is the same on the following lines."""
    _allow_huge_fields()
    best, best_key = ",", (-1, -1)
    for d in DELIMITERS:
        counts = [len(next(csv.reader([ln], delimiter=d))) - 1 for ln in lines if ln.strip()]
        if not counts:
            continue
        top = max(counts)
        consistent = sum(1 for c in counts if c == top)
        key = (consistent if top > 0 else 0, top)
        if key > best_key:
            best, best_key = d, key
    return best


class _NeedsLinewise(Exception):
    """The fast (Polars) read is not trustworthy for this file: read it line by line."""


def read_csv(
    path: Path, kind: str, claim: str | None = None, known_headers: Collection[str] = ()
) -> RawTable:
    _allow_huge_fields()
    with path.open("rb") as f:
        head = f.read(256_004)
    encoding.refuse_utf16(head, path.name)
    if encoding.looks_binary(head[:8192]):
        raise InputFileError(
            f"文件“{path.name}”不是文本文件（可能是 Excel 或其他二进制文件，请检查扩展名）",
            "binary content in a text file",
        )
    enc = encoding.detect_file(path, claim)
    bom = len(encoding.BOM_UTF8) if enc == "utf-8-sig" else 0
    size = path.stat().st_size
    gb_text = ""
    if enc.startswith("utf-8"):
        text = head[bom : bom + 256_000].decode("utf-8", errors="ignore")  # the head only
        whole = size - bom <= 256_000
    else:
        gb_text = encoding.decode_gb18030(path.read_bytes(), claim, path.name)
        text = gb_text[:256_000]
        whole = len(gb_text) <= 256_000
    if whole and not text.strip():
        raise InputFileError(f"文件“{path.name}”没有内容", f"no content: {path.name}")
    head_lines = re.findall(r"[^\n]*\n|[^\n]+$", text)[:60]
    if len(head_lines) > 1 and not whole:
        head_lines = head_lines[:-1]  # the last may be cut
    delim = sniff_delimiter([ln.rstrip("\r\n") for ln in head_lines[:30]])
    parsed = [next(csv.reader([ln.rstrip("\r\n")], delimiter=delim), []) for ln in head_lines]
    rows: list[list[str | None]] = [[c if c.strip() else None for c in r] for r in parsed]
    h = headers.locate_header(rows, kind, extra=known_headers)
    names = list(rows[h]) if h < len(rows) else []
    while names and names[-1] is None:
        names.pop()
    skip = h + 1
    sub = headers.compose_two_row_header(names, rows[h + 1], kind) if h + 1 < len(rows) else None
    if sub is not None:
        names, skip = list(sub), h + 2
    cols = headers.finalize_names(names, path.name)
    # Polars reads from the last header line on (has_header=True: the header sets the number
    # of columns, so short rows are padded with nulls); columns are then renamed to ``cols``.
    before = "".join(head_lines[: skip - 1])
    head_text = before + (head_lines[skip - 1] if skip - 1 < len(head_lines) else "")
    source: Path | bytes
    if enc.startswith("utf-8"):  # Polars reads the file itself
        source = path
        has_body = size - bom - len(head_text.encode("utf-8")) > 0
    else:
        source = gb_text[len(before) :].encode("utf-8")
        has_body = len(gb_text) > len(head_text)
        del gb_text
    notes: list[str] = []
    if not cols:
        raise InputFileError(f"文件“{path.name}”找不到表头行", "no header row found")
    if not has_body:
        df = pl.DataFrame({c: pl.Series([], dtype=pl.Utf8) for c in cols})
    else:
        try:
            df = _read_body_polars(source, skip, delim, len(cols), notes)
        except (pl.exceptions.PolarsError, _NeedsLinewise):
            # Quotes Polars cannot parse (a stray quote inside a field, an unclosed quote) or
            # a quoted field that swallowed whole lines: the csv module, line by line, reads
            # stray quotes as text and names the line of a quote that is really broken.
            notes.clear()
            lines = _text_lines(source, enc, skip)
            df = _read_body_linewise(lines, skip, delim, cols, path.name, notes)
        got = df.columns  # as the file has them: select by position (a name may be "*")
        df = df.select(
            [pl.nth(i).alias(c) for i, c in enumerate(cols) if i < len(got)]
            + [pl.lit(None, dtype=pl.Utf8).alias(c) for c in cols[len(got) :]]
            + ([pl.col(_EXTRA)] if _EXTRA in got else [])
        )
    title = [" ".join(c for c in r if c) for r in rows[:h] if any(r)]
    df = _strip_empty(df)
    extra_lines = None
    if _EXTRA in df.columns:
        extra_lines = df[_EXTRA]
        df = df.drop(_EXTRA)
    return RawTable(
        data=df,
        extra_lines=extra_lines,
        format="csv",
        header_row=skip,
        title_rows=title,
        encoding=enc,
        delimiter=delim,
        notes=notes,
    )


# The working column of lines with too many fields: a name no header can have (a NUL byte is
# refused in text files).
_EXTRA = "\x00extra"
_EXTRA_NOTE = "部分行的字段数多于表头（可能是未加引号的分隔符），这些行已隔离（extra_fields）"


def _read_body_polars(
    source: Path | bytes, skip: int, delim: str, width: int, notes: list[str]
) -> pl.DataFrame:
    """The data rows (and the header line) read by Polars; raises PolarsError or
    :class:`_NeedsLinewise` when only a line-by-line read can be trusted."""
    common: dict[str, object] = dict(
        has_header=True, separator=delim, infer_schema=False, quote_char='"', glob=False
    )
    if isinstance(source, Path):
        common["skip_lines"] = skip - 1

    def src() -> str | io.BytesIO:
        return literal_path(source) if isinstance(source, Path) else io.BytesIO(source)

    try:
        df = pl.read_csv(src(), **common)  # type: ignore[arg-type]
    except pl.exceptions.NoDataError:  # only blank lines after the header
        return pl.DataFrame(schema={f"c{i}": pl.Utf8 for i in range(width)})
    except pl.exceptions.ComputeError:
        df = pl.read_csv(src(), truncate_ragged_lines=True, **common)  # type: ignore[arg-type]
        extra = _extra_field_lines(src(), common, delim, df.width)
        if extra is not None and extra.len() == df.height:
            df = df.with_columns(**{_EXTRA: extra})
            notes.append(_EXTRA_NOTE)
        else:
            raise _NeedsLinewise from None  # rows cannot be matched to lines: go line by line
    if _swallowed_lines(df, delim, width):
        raise _NeedsLinewise
    return df


def _swallowed_lines(df: pl.DataFrame, delim: str, width: int) -> bool:
    """Some quoted cell spans a line break followed by a line with as many delimiters as a whole
    row: most likely an unclosed quote that swallowed the following rows."""
    if not [c for c in df.columns if c != _EXTRA]:
        return False
    pat = rf"\n(?:[^\n]*?{re.escape(delim)}){{{max(1, width - 1)}}}"
    hits = df.select(pl.exclude(_EXTRA).str.contains(pat).any()).row(0)
    return any(hits)


def _text_lines(source: Path | bytes, enc: str, skip: int) -> Iterator[str]:
    """The text from file line ``skip`` (the last header line) on, as lines split at ``\\n``
    (line ends kept), streamed."""
    stream: io.TextIOBase
    if isinstance(source, Path):
        codec = "utf-8-sig" if enc == "utf-8-sig" else "utf-8"
        stream = open(source, encoding=codec, newline="")
        to_skip = skip - 1
    else:
        stream = io.TextIOWrapper(io.BytesIO(source), encoding="utf-8", newline="")
        to_skip = 0
    with stream:
        rest = ""
        while chunk := stream.read(1 << 20):
            parts = (rest + chunk).split("\n")
            rest = parts.pop()
            for p in parts:
                if to_skip:
                    to_skip -= 1
                    continue
                yield p + "\n"
        if rest and not to_skip:
            yield rest


def _quote_error(name: str, first: int, last: int, e: csv.Error) -> InputFileError:
    if "end of data" in str(e):
        zh = (
            f'文件“{name}”第 {first} 行有一个引号（"）没有闭合，此后到文件末尾的内容都成了同一个字段，'
            "无法可靠地拆分各列。请在该行补上或删去引号后重新导入"
        )
    else:
        zh = (
            f'文件“{name}”第 {first} 行的引号不规范（引号括起的内容后面紧跟着其他字符，如 "张三"丰），'
            "无法可靠地拆分各列。请修正该行后重新导入"
        )
    return InputFileError(zh, f"bad quoting on line {first}: {e}", line=first, last_line=last)


def _read_body_linewise(
    lines: Iterator[str], first_line: int, delim: str, cols: list[str], name: str, notes: list[str]
) -> pl.DataFrame:
    """The header record and data rows by the csv module (strict quoting): a quote inside an
    unquoted field is text; a broken quote is an :class:`InputFileError` naming its line."""
    width = len(cols)
    need = max(1, width - 1)
    consumed = first_line - 1
    raw: list[str] = []

    def feed() -> Iterator[str]:
        nonlocal consumed
        for ln in lines:
            consumed += 1
            raw.append(ln)
            yield ln

    reader = csv.reader(feed(), delimiter=delim, quotechar='"', strict=True)
    schema = {c: pl.Utf8 for c in cols}
    frames: list[pl.DataFrame] = []
    data: list[list[str | None]] = [[] for _ in cols]
    extra: list[str | None] = []
    any_extra = False

    def flush() -> None:
        if extra:
            frame = pl.DataFrame(dict(zip(cols, data, strict=True)), schema=schema)
            frames.append(frame.with_columns(pl.Series(_EXTRA, extra, dtype=pl.Utf8)))
            for col in data:
                col.clear()
            extra.clear()

    start = consumed + 1
    try:
        next(reader, None)  # the header line
        while True:
            raw.clear()
            start = consumed + 1
            row = next(reader, None)
            if row is None:
                break
            if not row:  # a blank line
                continue
            if consumed > start:  # a quoted field with line breaks
                for v in row:
                    if "\n" in v and any(s.count(delim) >= need for s in v.split("\n")[1:]):
                        raise InputFileError(
                            f"文件“{name}”第 {start}–{consumed} 行被引号连成了一个字段（其中有整行的分隔符，"
                            f"很可能是第 {start} 行的引号没有闭合），无法可靠地拆分各列。请修正该行的引号后重新导入",
                            f"a quoted field spans lines {start}-{consumed} (unclosed quote?)",
                            line=start,
                        )
            if len(row) > width:
                extra.append("".join(raw).rstrip("\r\n"))
                any_extra = True
            else:
                extra.append(None)
            for j in range(width):
                data[j].append(row[j] if j < len(row) else None)
            if len(extra) >= 100_000:
                flush()
    except csv.Error as e:
        raise _quote_error(name, start, consumed, e) from e
    flush()
    if not frames:
        return pl.DataFrame(schema=schema)
    df = pl.concat(frames)
    if any_extra:
        notes.append(_EXTRA_NOTE)
        return df
    return df.drop(_EXTRA)


def _extra_field_lines(
    src: str | io.BytesIO, common: dict[str, object], delim: str, width: int
) -> pl.Series | None:
    """Per data row, the raw line when it has more fields than the header (else null).

    Reads the same bytes again as whole lines (one row per line, like the CSV read when no
    field holds a quoted line break); lines with quotes are split by the csv module."""
    skip = common.get("skip_lines", 0)
    try:
        lines = pl.read_csv(
            src,
            has_header=True,
            separator="\x1f",
            quote_char=None,
            infer_schema=False,
            skip_lines=skip if isinstance(skip, int) else 0,
            glob=False,
        ).to_series(0)
    except pl.exceptions.PolarsError:
        return None
    n = lines.str.count_matches(delim, literal=True) + 1
    quoted = lines.str.contains('"', literal=True).fill_null(False)
    if quoted.any():
        idx = quoted.arg_true()
        counts = [len(next(csv.reader([v or ""], delimiter=delim), [])) for v in lines.gather(idx)]
        n = n.scatter(idx, pl.Series(counts, dtype=n.dtype))
    return pl.select(pl.when(n > width).then(lines)).to_series().rename(_EXTRA)


# --- Parquet ----------------------------------------------------------------------------------


def read_parquet(path: Path, kind: str) -> RawTable:
    try:
        df = pl.read_parquet(literal_path(path), glob=False)
    except (pl.exceptions.PolarsError, OSError) as e:
        raise InputFileError(
            f"文件“{path.name}”不是有效的 Parquet 文件或已损坏",
            f"cannot read parquet: {type(e).__name__}",
        ) from e
    nested = [c for c, t in df.schema.items() if t.is_nested() or t == pl.Object]
    if nested:
        raise InputFileError(
            f"Parquet 文件“{path.name}”中的列 {headers.shorten(nested)} 是嵌套类型（列表/结构），"
            "无法作为表格导入",
            f"nested columns: {', '.join(nested[:20])}",
        )
    df.columns = headers.finalize_names(df.columns, path.name)  # safe names, by position
    floats = {c for c, t in df.schema.items() if t.is_float()}
    text = df.with_columns(pl.all().cast(pl.Utf8))
    keep = _strip_empty(text.with_row_index("_i"))
    data = keep.drop("_i")
    idx = keep["_i"]

    def numeric(col: str) -> pl.Series | None:
        if col not in floats:
            return None
        return df[col].gather(idx).is_not_null()

    return RawTable(data=data, format="parquet", header_row=0, numeric_cells=numeric)


# --- the one entry ----------------------------------------------------------------------------

# What a reader may raise on a damaged or hostile file (Polars, the csv and zip modules, XML,
# struct unpacking in xlrd…): each becomes an InputFileError naming the file, never a traceback.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    pl.exceptions.PolarsError,
    OSError,
    UnicodeError,
    csv.Error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    ET.ParseError,
    zlib.error,
    EOFError,
    struct.error,
    ValueError,
    IndexError,
    KeyError,
    NotImplementedError,
    RuntimeError,
    AssertionError,
)
_FORMAT_LABELS = {"csv": "CSV/文本", "xlsx": "Excel（xlsx）", "xls": "Excel（xls）",
                  "parquet": "Parquet"}  # fmt: skip


def read_table(
    path: Path,
    kind: str,
    *,
    sheet: str | None = None,
    encoding_claim: str | None = None,
    known_headers: Collection[str] = (),
) -> RawTable:
    """Read any supported extract (chosen by extension, Excel also by content). ``known_headers``:
    column names the caller will map explicitly (``--map``), recognised as header cells too.

    The one reader entry: the path is only ever the named file (never a glob pattern), and
    anything a reader raises on a bad file becomes an :class:`InputFileError` naming it."""
    path = Path(path)
    fmt = file_format(path)
    check_file(path)
    try:
        return _read(path, fmt, kind, sheet, encoding_claim, known_headers)
    except PermissionError as e:
        raise InputFileError(
            f"没有权限读取文件“{path.name}”", f"permission denied: {path.name}"
        ) from e
    except MemoryError as e:
        raise InputFileError(
            f"文件“{path.name}”太大，读取时内存不足；请拆分文件后再导入",
            f"out of memory reading {path.name}",
        ) from e
    except _READ_ERRORS as e:
        # Polars quotes the offending cell in its messages: never show it (personal data)
        text = "" if isinstance(e, pl.exceptions.PolarsError) else str(e).strip()
        first = text.splitlines()[0][:200] if text else ""
        raise InputFileError(
            f"文件“{path.name}”无法按{_FORMAT_LABELS[fmt]}格式读取，可能已损坏或格式不符",
            f"cannot read {fmt}: {type(e).__name__}: {first}",
        ) from e


def _read(
    path: Path,
    fmt: str,
    kind: str,
    sheet: str | None,
    encoding_claim: str | None,
    known_headers: Collection[str],
) -> RawTable:
    if fmt == "csv":
        return read_csv(path, kind, encoding_claim, known_headers)
    if fmt == "parquet":
        return read_parquet(path, kind)
    from canbao.ingest import excel

    with path.open("rb") as f:
        magic = f.read(8)
    if magic.startswith(b"PK\x03\x04"):  # an xlsx, whatever its extension says
        return excel.read_xlsx(path, kind, sheet, known_headers)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):  # an OLE file: xls (or an encrypted xlsx)
        return excel.read_xls(path, kind, sheet, known_headers)
    raise InputFileError(
        f"文件“{path.name}”不是 Excel 文件（内容既不是 xlsx 也不是 xls，可能是改了扩展名的其他文件）",
        "neither a zip (xlsx) nor an OLE (xls) file",
    )
