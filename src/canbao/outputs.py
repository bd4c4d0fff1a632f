"""The one safe writer for every table Canbao hands to a person: xlsx, CSV and Parquet.

Every export, work list and report workbook goes through here, so these rules hold everywhere:

- **No live formulas.** Workbooks are written with xlsxwriter's ``strings_to_formulas``,
  ``strings_to_urls`` and ``strings_to_numbers`` off: a name such as ``=HYPERLINK(…)`` is a text
  cell, never a formula or a link. In CSV, which Excel opens by guessing, a text value that starts
  with ``= + - @``, a tab or a carriage return (or their full-width forms ``＝ ＋ － ＠``) gets a
  leading apostrophe (OWASP's CSV-injection rule), unless the whole value is a plain number such
  as ``-12.50`` (a number is never evaluated as a formula). :func:`neutralise_expr` is the rule.
- **No silent cuts.** An Excel cell holds at most 32,767 characters and a sheet 1,048,576 rows.
  Longer cells are cut with a visible marker and counted; longer lists continue on further sheets
  (``清单(2)``). The caller gets a :class:`WriteSummary` and the CLI says what happened.
- **Legal sheet names.** ``[]:*?/\\`` are replaced and names cut to 31 characters, unique per book.
- **Forms.** A workbook people fill in and send back (:func:`write_workbook` with ``dropdowns``
  and ``hidden``) gets in-cell drop-down lists (data validation, at most
  :data:`VALIDATION_LIST_MAX` characters) and hidden columns (keys the program reads back).

Masking is the caller's job (``standards.citizen_id.mask_expr`` and friends): this module writes
what it is given, safely.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from canbao import xlsx_bulk
from canbao.errors import UsageError

EXCEL_CELL_MAX = 32_767
EXCEL_MAX_ROWS = 1_048_576
SHEET_NAME_MAX = 31
CUT_MARK = "…【已截断】"
# What Excel (or LibreOffice, WPS) may take as the start of a formula when it opens a CSV.
FORMULA_START = "=+-@\t\r＝＋－＠"
_PLAIN_NUMBER = r"^[+\-]?(\d+(\.\d*)?|\.\d+)([eE][+\-]?\d+)?$"
WORKBOOK_OPTIONS: dict[str, Any] = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
HEADER_FORMAT: dict[str, Any] = {"bold": True, "bg_color": "#DDEBF7"}
VALIDATION_LIST_MAX = 255  # Excel: the characters of an in-cell drop-down list


@dataclass
class WriteSummary:
    """What a write did: rows written, cells cut to Excel's limit, sheets (with continuations)."""

    path: Path
    rows: int = 0
    cut_cells: int = 0
    sheets: list[str] = field(default_factory=list)
    continued: dict[str, int] = field(default_factory=dict)  # list title → number of sheets

    def notes_zh(self) -> list[str]:
        """Chinese remarks for the terminal (empty when nothing unusual happened)."""
        out = []
        if self.cut_cells:
            out.append(
                f"有 {self.cut_cells:,} 个单元格超过 Excel 单元格上限（{EXCEL_CELL_MAX:,} 字符），"
                f"已截断并标注“{CUT_MARK}”；完整内容请导出为 .csv"
            )
        for title, n in self.continued.items():
            out.append(
                f"“{title}”超过 Excel 单表行数上限，已分为 {n} 个工作表（{title}、{title}(2)…）"
            )
        return out


# --- the rule -----------------------------------------------------------------------------


def neutralise_expr(expr: pl.Expr) -> pl.Expr:
    """A text column with every formula-like value prefixed by an apostrophe (CSV rule)."""
    s = expr.cast(pl.Utf8)
    first = s.str.slice(0, 1)
    risky = first.is_in(list(FORMULA_START)) & ~s.str.contains(_PLAIN_NUMBER)
    return pl.when(risky).then(pl.lit("'") + s).otherwise(s)


def _flatten(df: pl.DataFrame) -> pl.DataFrame:
    """List columns joined by ``;`` (CSV and xlsx have no lists)."""
    lists = [c for c, t in df.schema.items() if isinstance(t, pl.List)]
    if not lists:
        return df
    return df.with_columns(pl.col(c).cast(pl.List(pl.Utf8)).list.join(";") for c in lists)


def csv_safe(df: pl.DataFrame) -> pl.DataFrame:
    """Every text cell neutralised (see :func:`neutralise_expr`); headers too."""
    df = _flatten(df)
    text = [c for c, t in df.schema.items() if t == pl.Utf8 or t == pl.Categorical]
    if text:
        df = df.with_columns(neutralise_expr(pl.col(c)).alias(c) for c in text)
    renames = {c: _neutralise_text(c) for c in df.columns if _neutralise_text(c) != c}
    return df.rename(renames) if renames else df


def _neutralise_text(value: str) -> str:
    return pl.select(neutralise_expr(pl.lit(value))).item()


def _cut_long(df: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    text = [c for c, t in df.schema.items() if t == pl.Utf8]
    if not text or df.height == 0:
        return df, 0
    limit = EXCEL_CELL_MAX - len(CUT_MARK)
    # a cell's length in UTF-16 units is what Excel counts; characters ≤ that, so test bytes first
    long = df.select((pl.col(c).str.len_bytes() > EXCEL_CELL_MAX).sum().alias(c) for c in text).row(
        0
    )
    todo = [c for c, n in zip(text, long, strict=True) if n]
    if not todo:
        return df, 0
    counts = df.select((pl.col(c).str.len_chars() > EXCEL_CELL_MAX).sum() for c in todo).row(0)
    cut = df.with_columns(
        pl.when(pl.col(c).str.len_chars() > EXCEL_CELL_MAX)
        .then(pl.col(c).str.slice(0, limit) + pl.lit(CUT_MARK))
        .otherwise(pl.col(c))
        .alias(c)
        for c in todo
    )
    return cut, int(sum(counts))


def sheet_name(title: str, taken: set[str]) -> str:
    """A legal, unique Excel sheet name for ``title`` (added to ``taken``)."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip("'") or "Sheet"
    name = clean[:SHEET_NAME_MAX]
    n = 2
    while name.lower() in {t.lower() for t in taken}:
        suffix = f"({n})"
        name = clean[: SHEET_NAME_MAX - len(suffix)] + suffix
        n += 1
    taken.add(name)
    return name


# --- writers ------------------------------------------------------------------------------


def _suffix(path: Path, allowed: tuple[str, ...]) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise UsageError(
            f"不支持的导出格式：{path.suffix or '（无扩展名）'}（可用 {' / '.join(allowed)}）",
            f"unsupported output format {path.suffix!r}",
        )
    return suffix


def _prepare(path: Path) -> Path:
    if path.exists() and path.is_dir():
        raise UsageError(f"输出路径“{path}”是一个目录，请给出文件名", f"{path} is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _publish(tmp: Path, path: Path) -> None:
    os.replace(tmp, path)  # a reader never sees half a file; a crash leaves the old one


def write_csv(df: pl.DataFrame, path: Path) -> WriteSummary:
    """UTF-8 CSV (no BOM), every text cell neutralised, written whole or not at all."""
    _prepare(path)
    tmp = path.with_name(f".{path.name}.part")
    try:
        csv_safe(df).write_csv(tmp)
        _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return WriteSummary(path, rows=df.height)


def write_workbook(
    sheets: Mapping[str, pl.DataFrame],
    path: Path,
    *,
    labels: Mapping[str, str] | None = None,
    header_format: Mapping[str, Any] | None = None,
    freeze_header: bool = True,
    autofit: bool = True,
    dropdowns: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    hidden: Sequence[str] = (),
) -> WriteSummary:
    """One xlsx, a sheet per frame (title → frame). ``labels`` renames columns for people
    (Chinese headers); a frame whose labels would collide keeps its own column names.

    A form to fill in: ``dropdowns`` gives, per sheet title, columns (by their names before
    ``labels``) whose cells get a drop-down list of allowed values (Excel refuses other values);
    ``hidden`` names columns to hide (in every sheet)."""
    _prepare(path)
    form = _Form(dropdowns or {}, tuple(hidden))
    for title, columns in form.dropdowns.items():
        for column, values in columns.items():
            if len(",".join(values)) > VALIDATION_LIST_MAX or any("," in v for v in values):
                raise ValueError(f"drop-down {title}/{column}: too long or holds a comma")
    summary = WriteSummary(path)
    taken: set[str] = set()
    tmp = path.with_name(f".{path.name}.part")
    # xlsxwriter's own temp files (cell data) beside the output, never in a shared $TMPDIR
    parts = path.with_name(f".{path.name}.parts")
    try:
        parts.mkdir(exist_ok=True)
        options = {**WORKBOOK_OPTIONS, "tmpdir": str(parts)}
        bulk = _Bulk()
        with xlsxwriter.Workbook(str(tmp), options) as wb:
            for title, frame in sheets.items():
                _write_sheet(wb, title, frame, labels or {}, header_format, freeze_header,
                             autofit, taken, summary, form, bulk)  # fmt: skip
        if bulk.sheets:
            xlsx_bulk.splice(tmp, bulk.sheets, bulk.style_indices())
        _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(parts, ignore_errors=True)
    return summary


def _write_sheet(
    wb: xlsxwriter.Workbook,
    title: str,
    frame: pl.DataFrame,
    labels: Mapping[str, str],
    header_format: Mapping[str, Any] | None,
    freeze_header: bool,
    autofit: bool,
    taken: set[str],
    summary: WriteSummary,
    form: _Form | None = None,
    bulk: _Bulk | None = None,
) -> None:
    flat = _flatten(frame)
    labelled = flat.rename({c: labels[c] for c in flat.columns if c in labels})
    if len(set(labelled.columns)) < len(labelled.columns):
        labelled = flat
    names = dict(zip(flat.columns, labelled.columns, strict=True))  # own name → shown name
    labelled, cut = _cut_long(labelled)
    floats = [c for c, t in labelled.schema.items() if t.is_float()]
    if floats:  # NaN and infinities are no number a spreadsheet holds: empty cells
        labelled = labelled.with_columns(pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c)
                                         for c in floats)  # fmt: skip
    summary.cut_cells += cut
    summary.rows += labelled.height
    per_sheet = EXCEL_MAX_ROWS - 1
    parts = max(1, -(-labelled.height // per_sheet))
    if parts > 1:
        summary.continued[title] = parts
    for i in range(parts):
        name = sheet_name(title if i == 0 else f"{title}({i + 1})", taken)
        summary.sheets.append(name)
        part = labelled.slice(i * per_sheet, per_sheet)
        if bulk is not None and part.height >= xlsx_bulk.BULK_ROWS:
            bulk.add(wb, name, part, dict(header_format or HEADER_FORMAT), freeze_header, autofit)
        else:
            part.write_excel(
                wb,
                worksheet=name,
                autofit=autofit,
                freeze_panes=(1, 0) if freeze_header else None,
                header_format=dict(header_format or HEADER_FORMAT),
            )
        if form is not None:
            rows = min(per_sheet, labelled.height - i * per_sheet)
            form.apply(wb.get_worksheet_by_name(name), title, names, labelled.columns, rows)


@dataclass
class _Bulk:
    """Long sheets whose data rows :mod:`canbao.xlsx_bulk` streams in after xlsxwriter has
    written the rest of the workbook (header, widths, filter, form)."""

    sheets: list[tuple[int, pl.DataFrame]] = field(default_factory=list)
    formats: dict[str, Any] = field(default_factory=dict)  # "date" / "datetime" → Format

    def add(
        self, wb: xlsxwriter.Workbook, name: str, part: pl.DataFrame, header: dict[str, Any],
        freeze_header: bool, autofit: bool,
    ) -> None:  # fmt: skip
        part = xlsx_bulk.plain(part)
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, part.columns, wb.add_format(header))
        if freeze_header:
            ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, part.height, max(part.width - 1, 0))
        widths = _widths(part) if autofit else [None] * part.width
        for i, (dtype, width) in enumerate(zip(part.dtypes, widths, strict=True)):
            kind = "date" if dtype == pl.Date else "datetime" if dtype == pl.Datetime else None
            fmt = None
            if kind is not None:
                number = xlsx_bulk.DATE_FORMAT if kind == "date" else xlsx_bulk.DATETIME_FORMAT
                fmt = self.formats.setdefault(kind, wb.add_format({"num_format": number}))
            if width is not None or fmt is not None:
                ws.set_column(i, i, width, fmt)
        self.sheets.append((ws.index, part))

    def style_indices(self) -> dict[str, int]:
        """The styles the date columns got (known once the workbook is closed)."""
        return {kind: int(fmt.xf_index) for kind, fmt in self.formats.items()}


def _widths(part: pl.DataFrame) -> list[float]:
    """Column widths in characters: the wider of the header and the 95th percentile of the
    values, a CJK character counting two (its UTF-8 bytes plus one, halved); 10 to 60 (room to
    write in an empty column of a form)."""

    def width(expr: pl.Expr) -> pl.Expr:
        text = expr.cast(pl.Utf8)
        return (text.str.len_bytes() + text.str.len_chars()) / 2

    values = part.select(width(pl.col(c)).quantile(0.95).alias(c) for c in part.columns).row(0)
    heads = [(len(c.encode()) + len(c)) / 2 for c in part.columns]
    return [min(60.0, max(10.0, h + 2, (v or 0.0) + 2)) for h, v in zip(heads, values, strict=True)]


@dataclass(frozen=True)
class _Form:
    """Drop-downs and hidden columns of a form (see :func:`write_workbook`)."""

    dropdowns: Mapping[str, Mapping[str, Sequence[str]]]
    hidden: tuple[str, ...]

    def apply(
        self, ws: Any, title: str, names: Mapping[str, str], shown: Sequence[str], rows: int
    ) -> None:
        position = {c: shown.index(names[c]) for c in names}
        for column in self.hidden:
            if column in position:
                ws.set_column(position[column], position[column], None, None, {"hidden": True})
        for column, values in self.dropdowns.get(title, {}).items():
            if column not in position:
                continue
            col = position[column]
            ws.data_validation(
                1, col, max(rows, 1), col,
                {"validate": "list", "source": list(values), "error_type": "stop",
                 "error_title": "无效的值", "error_message": "请从下拉列表中选择"},
            )  # fmt: skip


def write_table(
    df: pl.DataFrame,
    path: Path,
    *,
    labels: Mapping[str, str] | None = None,
    sheet: str = "数据",
    parquet: bool = True,
) -> WriteSummary:
    """One frame as .csv, .xlsx (Chinese headers from ``labels``) or .parquet, by extension."""
    allowed = (".csv", ".xlsx", ".parquet") if parquet else (".csv", ".xlsx")
    suffix = _suffix(path, allowed)
    if suffix == ".csv":
        return write_csv(df, path)
    if suffix == ".xlsx":
        return write_workbook({sheet: df}, path, labels=labels)
    _prepare(path)
    tmp = path.with_name(f".{path.name}.part")
    try:
        df.write_parquet(tmp)  # typed columns: nothing to neutralise, no spreadsheet opens it
        _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return WriteSummary(path, rows=df.height)


def save_openpyxl(wb: Any, path: Path) -> Path:
    """Save a styled openpyxl workbook (the 通报, the 附件1 template) safely: openpyxl stores a
    text starting with ``=`` as a formula, so every such cell is turned back into text; text
    over Excel's cell limit is cut with the marker; the file appears whole or not at all."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" and isinstance(cell.value, str):
                    cell.data_type = "s"
                if isinstance(cell.value, str) and len(cell.value) > EXCEL_CELL_MAX:
                    cell.value = cell.value[: EXCEL_CELL_MAX - len(CUT_MARK)] + CUT_MARK
    _prepare(path)
    tmp = path.with_name(f".{path.name}.part")
    try:
        wb.save(tmp)
        _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
