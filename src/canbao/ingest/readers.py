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
from collections.abc import Callable, Collection
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


def check_file(path: Path) -> None:
    if not path.exists():
        raise InputFileError(f"文件不存在：{path}", f"file not found: {path}")
    if not path.is_file():
        raise InputFileError(f"不是文件：{path}", f"not a regular file: {path}")
    if path.stat().st_size == 0:
        raise InputFileError(f"文件“{path.name}”是空文件", f"empty file: {path.name}")


def _strip_empty(df: pl.DataFrame) -> pl.DataFrame:
    """Trim cells, blank → null, drop rows where every cell is empty."""
    cols = [c for c in df.columns if c != "_i"]  # _i: a row index carried along
    if not cols:
        return df
    df = df.with_columns(pl.col(c).cast(pl.Utf8) for c in cols)
    # trim only the columns that need it (most do not; trimming copies every string)
    ws = r"^[ \t\r\n\u3000\ufeff]|[ \t\r\n\u3000\ufeff]$|^$"
    dirty = df.select(pl.col(c).str.contains(ws).any() for c in cols).row(0)
    todo = [c for c, d in zip(cols, dirty, strict=True) if d]
    if todo:
        df = df.with_columns(
            pl.col(c).str.strip_chars(" \t\r\n\u3000\ufeff").replace("", None) for c in todo
        )
    return df.filter(~pl.all_horizontal(pl.col(cols).is_null()))


# --- CSV ------------------------------------------------------------------------------------


def sniff_delimiter(lines: list[str]) -> str:
    """The candidate that splits the most-split line into the most fields, preferring the one
    whose count is the same on the following lines."""
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


def read_csv(
    path: Path, kind: str, claim: str | None = None, known_headers: Collection[str] = ()
) -> RawTable:
    with path.open("rb") as f:
        head = f.read(256_004)
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
    common: dict[str, object] = dict(
        has_header=True, separator=delim, infer_schema=False, quote_char='"'
    )
    if source is path:
        common["skip_lines"] = skip - 1
    if not has_body:
        df = pl.DataFrame({c: pl.Series([], dtype=pl.Utf8) for c in cols})
    else:
        src = source if isinstance(source, Path) else io.BytesIO(source)
        try:
            df = pl.read_csv(src, **common)  # type: ignore[arg-type]
        except pl.exceptions.NoDataError:  # only blank lines after the header
            df = pl.DataFrame({c: pl.Series([], dtype=pl.Utf8) for c in cols})
        except pl.exceptions.ComputeError:
            if not isinstance(source, Path):
                src = io.BytesIO(source)
            df = pl.read_csv(src, truncate_ragged_lines=True, **common)  # type: ignore[arg-type]
            if not isinstance(source, Path):
                src = io.BytesIO(source)
            extra = _extra_field_lines(src, common, delim, df.width)
            if extra is not None and extra.len() == df.height:
                df = df.with_columns(_extra=extra)
                notes.append(
                    "部分行的字段数多于表头（可能是未加引号的分隔符），这些行已隔离（extra_fields）"
                )
            else:
                notes.append("部分行的字段数多于表头，多出的字段未读取（ragged lines truncated）")
        got = df.columns
        df = df.select(
            [pl.col(got[i]).alias(c) for i, c in enumerate(cols) if i < len(got)]
            + [pl.lit(None, dtype=pl.Utf8).alias(c) for c in cols[len(got) :]]
            + ([pl.col("_extra")] if "_extra" in got else [])
        )
    title = [" ".join(c for c in r if c) for r in rows[:h] if any(r)]
    df = _strip_empty(df)
    extra_lines = None
    if "_extra" in df.columns:
        extra_lines = df["_extra"]
        df = df.drop("_extra")
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


def _extra_field_lines(
    src: Path | io.BytesIO, common: dict[str, object], delim: str, width: int
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
        ).to_series(0)
    except pl.exceptions.PolarsError:
        return None
    n = lines.str.count_matches(delim, literal=True) + 1
    quoted = lines.str.contains('"', literal=True).fill_null(False)
    if quoted.any():
        idx = quoted.arg_true()
        counts = [len(next(csv.reader([v or ""], delimiter=delim), [])) for v in lines.gather(idx)]
        n = n.scatter(idx, pl.Series(counts, dtype=n.dtype))
    return pl.select(pl.when(n > width).then(lines)).to_series().rename("_extra")


# --- Parquet ----------------------------------------------------------------------------------


def read_parquet(path: Path, kind: str) -> RawTable:
    try:
        df = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as e:
        raise InputFileError(
            f"文件“{path.name}”不是有效的 Parquet 文件或已损坏", f"cannot read parquet: {e}"
        ) from e
    floats = {c for c, t in df.schema.items() if t.is_float()}
    headers.finalize_names(df.columns, path.name)
    text = df.with_columns(pl.all().cast(pl.Utf8))
    keep = _strip_empty(text.with_row_index("_i"))
    data = keep.drop("_i")
    idx = keep["_i"]

    def numeric(col: str) -> pl.Series | None:
        if col not in floats:
            return None
        return df[col].gather(idx).is_not_null()

    return RawTable(data=data, format="parquet", header_row=0, numeric_cells=numeric)


def read_table(
    path: Path,
    kind: str,
    *,
    sheet: str | None = None,
    encoding_claim: str | None = None,
    known_headers: Collection[str] = (),
) -> RawTable:
    """Read any supported extract (chosen by extension). ``known_headers``: column names the
    caller will map explicitly (``--map``), recognised as header cells too."""
    fmt = file_format(path)
    check_file(path)
    if fmt == "csv":
        return read_csv(path, kind, encoding_claim, known_headers)
    if fmt == "parquet":
        return read_parquet(path, kind)
    from canbao.ingest import excel

    if fmt == "xlsx":
        return excel.read_xlsx(path, kind, sheet, known_headers)
    return excel.read_xls(path, kind, sheet, known_headers)
