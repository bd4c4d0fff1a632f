"""Long sheets for :mod:`canbao.outputs`: the cells of a sheet built as OOXML by Polars, a column
at a time, instead of one Python call per cell.

xlsxwriter spends about 15 µs of Python per cell, so a county's 200,000-row work list (5 million
cells) took minutes. For a sheet of at least :data:`BULK_ROWS` rows the safe writer lets
xlsxwriter write everything but the data — the header row and its format, column widths, frozen
header, filter, drop-downs, hidden columns, styles — and then streams the data rows into that
sheet's XML (:func:`splice`), built here set-wise:

- text is an inline string (``t="inlineStr"``, ``xml:space="preserve"``), never a formula; XML's
  ``& < >`` escaped; control characters written as Excel's ``_xHHHH_`` escapes and a literal
  ``_xHHHH_`` protected as ``_x005F_xHHHH_`` — exactly as xlsxwriter does, so openpyxl, Excel and
  WPS read back the same text;
- integers and finite floats are numbers; booleans are booleans; dates and datetimes are Excel
  serial numbers with the ``yyyy-mm-dd`` / ``yyyy-mm-dd hh:mm:ss`` formats polars uses; null, an
  empty string, NaN and infinities are empty cells; any other type is written as its text.

The cut to Excel's cell limit and the split at its row limit happen before, in
:mod:`canbao.outputs`, for both paths.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from queue import Empty, Full, Queue

import polars as pl
from xlsxwriter.utility import xl_col_to_name

BULK_ROWS = 1_000  # sheets at least this long take the bulk path
CHUNK = 25_000  # rows built and compressed at a time
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_CONTROL = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20))]
_EPOCH = dt.datetime(1899, 12, 30)  # Excel's day 0


def _escaped(frame: pl.DataFrame, column: str, text: pl.Expr) -> pl.Expr:
    if _has(frame, column, r"[\x00-\x08\x0b-\x1f\x{fffe}\x{ffff}]|_x[0-9a-fA-F]{4}_"):
        text = text.str.replace_all(r"(_x[0-9a-fA-F]{4}_)", "_x005F${1}")
        for ch in _CONTROL:
            text = text.str.replace_all(ch, f"_x{ord(ch):04X}_", literal=True)
        text = text.str.replace_all("\ufffe", "_xFFFE_", literal=True)
        text = text.str.replace_all("\uffff", "_xFFFF_", literal=True)
    if not _has(frame, column, "[&<>]"):
        return text
    return (
        text.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def plain(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with only the types a cell holds: text, integers, floats (a decimal becomes
    one), booleans, dates and datetimes; a duration, time, category, struct, binary or all-null
    column becomes its text (durations as ISO 8601, structs as JSON)."""
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.Utf8 or dtype == pl.Boolean or dtype == pl.Date:
            continue
        if dtype.is_integer() or dtype.is_float() or isinstance(dtype, pl.Datetime):
            continue
        if dtype.is_decimal():
            out.append(col.cast(pl.Float64))
        elif isinstance(dtype, pl.Duration):
            out.append(col.dt.to_string("iso"))
        elif isinstance(dtype, pl.Struct):
            out.append(col.struct.json_encode())
        elif dtype == pl.Binary:
            out.append(col.bin.encode("hex"))
        else:
            out.append(col.cast(pl.Utf8))
    return frame.with_columns(out) if out else frame


def _has(frame: pl.DataFrame, column: str, pattern: str) -> bool:
    return bool(frame.select(pl.col(column).cast(pl.Utf8).str.contains(pattern).any()).item())


def _cell(
    frame: pl.DataFrame, column: str, index: int, row: pl.Expr, styles: Mapping[str, int]
) -> pl.Expr:
    """One column's cells: ``<c r="B7" …>…</c>``, or "" where the cell stays empty."""
    dtype = frame.schema[column]
    col = pl.col(column)
    ref = [pl.lit(f'<c r="{xl_col_to_name(index)}'), row]
    if dtype == pl.Boolean:
        value, attr = col.cast(pl.Int8).cast(pl.Utf8), '" t="b"><v>'
        tail = "</v></c>"
    elif dtype.is_integer():
        value, attr, tail = col.cast(pl.Utf8), '"><v>', "</v></c>"
    elif dtype.is_float():
        finite = pl.when(col.is_finite()).then(col)
        value, attr, tail = finite.cast(pl.Utf8), '"><v>', "</v></c>"
    elif dtype == pl.Date:
        days = (col - pl.lit(_EPOCH.date())).dt.total_days()
        value, attr = days.cast(pl.Utf8), f'" s="{styles["date"]}"><v>'
        tail = "</v></c>"
    elif isinstance(dtype, pl.Datetime):
        naive = col.dt.replace_time_zone(None) if dtype.time_zone else col
        micros = (naive - pl.lit(_EPOCH)).dt.total_microseconds()
        value = (micros.cast(pl.Float64) / 86_400_000_000).cast(pl.Utf8)
        attr, tail = f'" s="{styles["datetime"]}"><v>', "</v></c>"
    else:
        text = col.cast(pl.Utf8)
        text = pl.when(text != "").then(text)
        value = _escaped(frame, column, text)
        attr, tail = '" t="inlineStr"><is><t xml:space="preserve">', "</t></is></c>"
    return pl.concat_str([*ref, pl.lit(attr), value, pl.lit(tail)]).fill_null("")


def rows_xml(frame: pl.DataFrame, styles: Mapping[str, int], first_row: int = 2) -> Iterator[bytes]:
    """The ``<row>`` elements of ``frame`` (sheet row ``first_row`` on, 1-based), in chunks."""
    for offset in range(0, frame.height, CHUNK):
        part = frame.slice(offset, CHUNK)
        start = first_row + offset
        row = pl.int_range(start, start + part.height, dtype=pl.Int64).cast(pl.Utf8)
        cells = [_cell(part, c, i, pl.col("__row"), styles) for i, c in enumerate(part.columns)]
        xml = part.with_columns(row.alias("__row")).select(
            pl.concat_str(
                [pl.lit('<row r="'), pl.col("__row"), pl.lit('">'), *cells, pl.lit("</row>")]
            )
        )
        buf = io.BytesIO()  # one row a line (whitespace between elements), never quoted
        xml.write_csv(buf, include_header=False, quote_style="never")
        yield buf.getvalue()


def splice(
    path: Path, sheets: Sequence[tuple[int, pl.DataFrame]], styles: Mapping[str, int]
) -> None:
    """Rewrite the xlsx at ``path`` with each (worksheet index, frame)'s rows streamed into that
    sheet after its header row, and its ``<dimension>`` set to the full range."""
    todo = {f"xl/worksheets/sheet{i + 1}.xml": frame for i, frame in sheets}
    out = path.with_name(path.name + ".bulk")
    try:
        with (
            zipfile.ZipFile(path) as zin,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout,
        ):
            for info in zin.infolist():
                data = zin.read(info.filename)
                frame = todo.get(info.filename)
                if frame is None:
                    zout.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
                    continue
                head, sep, tail = data.decode("utf-8").partition("</sheetData>")
                if not sep:
                    raise ValueError(f"{info.filename}: no sheetData")
                last = f"{xl_col_to_name(max(frame.width - 1, 0))}{frame.height + 1}"
                head = _dimension(head, last)
                with zout.open(info.filename, "w", force_zip64=True) as f:
                    f.write(head.encode("utf-8"))
                    for chunk in _ahead(rows_xml(frame, styles)):
                        f.write(chunk)
                    f.write((sep + tail).encode("utf-8"))
        out.replace(path)
    finally:
        out.unlink(missing_ok=True)


def _dimension(head: str, last: str) -> str:
    start = head.find("<dimension ref=")
    if start < 0:
        return head
    end = head.index("/>", start)
    return f'{head[:start]}<dimension ref="A1:{last}"{head[end:]}'


def _ahead(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks``, the next one built on a thread while the caller compresses this one (Polars
    and zlib both release the GIL). A caller that stops early stops the builder too."""
    queue: Queue[tuple[bytes | None, BaseException | None]] = Queue(maxsize=2)
    stop = threading.Event()

    def build() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        queue.put((chunk, None), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put((None, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            queue.put((None, exc))

    worker = threading.Thread(target=build, name="xlsx-rows", daemon=True)
    worker.start()
    try:
        while True:
            chunk, exc = queue.get()
            if exc is not None:
                raise exc
            if chunk is None:
                break
            yield chunk
    finally:
        stop.set()
        while worker.is_alive():
            try:
                queue.get(timeout=0.1)
            except Empty:
                continue
        worker.join()
