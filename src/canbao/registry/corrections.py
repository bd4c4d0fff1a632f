"""Corrections to send back to the departments that hold the wrong data (纠正错误信息).

:func:`collect` reads the current registry snapshot and returns, per source department, the rows
whose ID number (and, where the registry is sure, whose name) should be corrected; :func:`write`
writes them through the safe writer (:mod:`canbao.outputs`), one workbook per source or one
workbook with a sheet per source. The CLI (``canbao export corrections``) is a thin face.

**ID corrections** are the registry's ``id_corrections`` table (a record linked to a trusted ID
whose delivered ID is invalid, is a valid number of someone else — a relative's, or a typo that
passes the check — or is a valid 15-digit number): every one is listed, with the link method in words (依据) and the
evidence (证据): name and birth date against the proposed ID, and what was wrong with the
delivered number. A method this module does not know is shown as it is.

**Name corrections** (the conservative rule). A delivered name is proposed for correction only
when all of these hold:

1. the record is linked *deterministically* (:data:`DETERMINISTIC_METHODS`: its own valid,
   trusted ID, or an ID repaired by check character or Excel prefix) — never a model link;
2. its normalised name differs from the ID's anchor name (the registry's name of the person).
   Normalisation (NFKC, spaces, middle dots, traditional → simplified) is not a correction:
   张 三 / 張三 / 张三 are the same name;
3. the two names read the same (same toneless pinyin key), have the same length and differ in
   exactly one character: a homophone or a variant character that normalisation does not fold;
4. the anchor name is carried by deterministically linked records of at least two sources, and of
   more sources than the delivered name. When sources disagree evenly (one department against one
   other), or the delivered name has as much support, nothing is proposed: the anchor itself may be
   the error (a household register with a typo, or a single confirmed record).

**Row numbers** (行号) are ingest's: data rows of the delivered file counted from 1 after the
header (title rows above the header and the header row itself not counted, wholly empty rows
skipped). The 批次 sheet gives the file name and the header's line, so a department can find a row.

**Personal data.** The department's file carries what it needs to correct its row: the full
proposed value (to key it in), batch, file and row, and the delivered value masked (they have it
in their own file). :func:`staff_view` masks the proposed value too (terminal, previews).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from canbao import outputs
from canbao.errors import ResourceError, UsageError
from canbao.registry import snapshot
from canbao.standards import masking

ITEM_ID = "身份证号"
ITEM_NAME = "姓名"
NOTICE_ZH = "含个人信息，仅限发送给数据提供部门。"

# Link methods of ``links`` / ``id_corrections`` in words (依据). A method not listed here is
# shown as it is (the registry may gain methods).
METHOD_LABELS_ZH: dict[str, str] = {
    "check_character": "校验位修复",
    "excel_prefix": "Excel数字截断恢复",
    "model": "概率模型匹配",
    "decision": "人工复核确认",
    "trusted": "身份证号有效",
    "unresolved": "未关联到可信号码",
}
UPGRADE_15_ZH = "15位升18位"
OTHER_PERSON_ZH = "（原号码为有效号码，但与本人的姓名、出生日期等登记信息不符）"
NAME_BASIS_ZH = "同音字或异体字"

# Evidence of the link method (证据); a method without an entry adds nothing.
METHOD_EVIDENCE_ZH: dict[str, str] = {
    "check_character": "与原号码仅差一位，唯一候选",
    "excel_prefix": "前15位一致，唯一候选",
    "model": "概率模型判定为同一人",
    "decision": "经人工复核确认为同一人",
    "trusted": "身份证号有效且与登记姓名相符",
}
# What was wrong with the delivered number (short forms of citizen_id.ERROR_LABELS_ZH).
ID_ERROR_SHORT_ZH: dict[str, str] = {
    "empty": "为空",
    "length": "位数不对",
    "charset": "含非法字符",
    "excel_number": "被Excel存为数字",
    "region": "地址码不存在",
    "birth_date": "出生日期无效",
    "checksum": "校验码错误",
}

DETERMINISTIC_METHODS = frozenset({"trusted", "check_character", "excel_prefix"})
"""Links that do not depend on the model: only these may propose a name correction."""

COLUMNS: dict[str, pl.DataType] = {
    "source": pl.Utf8(),
    "batch_id": pl.Utf8(),
    "file_name": pl.Utf8(),
    "row": pl.Int64(),
    "delivered": pl.Utf8(),
    "proposed": pl.Utf8(),
    "item": pl.Utf8(),
    "basis": pl.Utf8(),
    "evidence": pl.Utf8(),
}
COLUMN_LABELS_ZH: dict[str, str] = {
    "source": "数据来源",
    "batch_id": "批次",
    "file_name": "原文件",
    "row": "行号",
    "delivered": "原值",
    "proposed": "建议值",
    "item": "更正项目",
    "basis": "依据",
    "evidence": "证据",
    "as_of": "数据截止日期",
    "header_row": "表头所在行",
    "rows": "数据行数",
}
BATCH_COLUMNS: dict[str, pl.DataType] = {
    "source": pl.Utf8(),
    "batch_id": pl.Utf8(),
    "file_name": pl.Utf8(),
    "as_of": pl.Date(),
    "header_row": pl.Int64(),
    "rows": pl.Int64(),
}
MAIN_SHEET = "更正清单"
NOTES_SHEET = "说明"
BATCH_SHEET = "批次"
FILE_SUFFIX = "-更正建议.xlsx"
_TABLE_SUFFIXES = (".csv", ".xls", ".xlsm", ".parquet", ".json", ".txt", ".tsv")


@dataclass(frozen=True)
class Corrections:
    """The corrections of one snapshot: ``frames`` (source → rows for that department, columns
    :data:`COLUMNS`: delivered value masked, proposed value in full), the ``batches`` they refer
    to, and every source with person records (``sources``)."""

    build_id: str
    frames: dict[str, pl.DataFrame]
    batches: pl.DataFrame
    sources: tuple[str, ...]
    only: str | None = None  # the --source asked for

    def counts(self) -> dict[str, tuple[int, int]]:
        """source → (ID corrections, name corrections)."""
        out = {}
        for src, df in self.frames.items():
            n_id = int((df["item"] == ITEM_ID).sum())
            out[src] = (n_id, df.height - n_id)
        return out


@dataclass
class Written:
    """What :func:`write` wrote: the safe writer's summaries, the output (``root``: the directory
    or the workbook) and, per source, where its rows are in it (file name or sheet name)."""

    root: Path
    summaries: list[outputs.WriteSummary] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)


# --- collect ------------------------------------------------------------------------------


def collect(data_dir: Path, source: str | None = None) -> Corrections:
    """The corrections of the current snapshot, per source (only ``source`` when given)."""
    from canbao.ingest import api as ingest_api

    snap = snapshot.require_current(data_dir)
    links = snap.scan("links")
    sources = tuple(
        sorted(links.select(pl.col("source").unique()).collect()["source"].drop_nulls())
    )
    if source is not None and source not in sources:
        listed = "、".join(sources) if sources else "（无）"
        raise UsageError(
            f"未知的数据来源“{source}”。登记库中有人员记录的数据来源：{listed}",
            f"unknown source {source!r}",
        )
    corr = snap.scan("id_corrections")
    anchors = snap.scan("id_anchor").select("id18", "anchor_name", "anchor_pinyin")
    mine = corr if source is None else corr.filter(pl.col("source") == source)
    id_rows = _id_rows(mine, links, anchors)
    name_rows = _name_rows(snap, corr, links, anchors, source)
    rows = pl.concat([id_rows, name_rows], how="vertical")
    rows = ingest_api.current_rows(data_dir, rows)  # the rows of the files as delivered now
    batches = _batches(data_dir)
    rows = (
        rows.join(batches.select("batch_id", "file_name"), on="batch_id", how="left")
        .select(list(COLUMNS))
        .sort("source", "batch_id", "row", "item", descending=[False, False, False, True])
    )
    frames = {str(k[0]): df for k, df in rows.partition_by("source", as_dict=True).items()}
    if source is not None:
        frames.setdefault(source, pl.DataFrame(schema=COLUMNS))
    frames = dict(sorted(frames.items()))
    used = batches.filter(pl.col("batch_id").is_in(rows["batch_id"].unique().implode()))
    return Corrections(snap.build_id, frames, used.sort("source", "batch_id"), sources, source)


def _proposed_birth(id18: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        id18.str.slice(6, 4), pl.lit("-"), id18.str.slice(10, 2), pl.lit("-"), id18.str.slice(12, 2)
    )


def _id_rows(corr: pl.LazyFrame, links: pl.LazyFrame, anchors: pl.LazyFrame) -> pl.DataFrame:
    c = pl.col
    df = (
        corr.join(
            links.select("batch_id", "row", "name_pinyin", "birth_date"),
            on=["batch_id", "row"],
            how="left",
        )
        .join(anchors.rename({"id18": "proposed_id18"}), on="proposed_id18", how="left")
        .collect()
    )
    delivered, proposed = c("id_as_delivered"), c("proposed_id18")
    upgrade_15 = delivered.str.contains(r"^[0-9]{15}$") & (
        proposed.str.slice(0, 17)
        == pl.concat_str(delivered.str.slice(0, 6), pl.lit("19"), delivered.str.slice(6, 9))
    )
    name = (
        pl.when(c("name_norm").is_null())
        .then(pl.lit("未填姓名"))
        .when(c("anchor_name").is_null())
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(c("name_norm") == c("anchor_name"))
        .then(pl.lit("姓名一致"))
        .when(c("name_pinyin") == c("anchor_pinyin"))
        .then(pl.lit("姓名同音"))
        .otherwise(pl.lit("姓名不一致"))
    )
    born, coded = c("birth_date"), _proposed_birth(proposed)
    birth = (
        pl.when(born.is_null())
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(born == coded)
        .then(pl.lit("出生日期一致"))
        .when((born.str.len_chars() == 7) & coded.str.starts_with(born))
        .then(pl.lit("出生年月一致"))
        .otherwise(pl.lit("出生日期不一致"))
    )
    how = c("method").replace_strict(METHOD_EVIDENCE_ZH, default=None, return_dtype=pl.Utf8)
    errors = c("id_errors").list.eval(pl.element().replace(ID_ERROR_SHORT_ZH)).list.join("、")
    errors = (
        pl.when(errors != "")
        .then(pl.concat_str(pl.lit("（原号码"), errors, pl.lit("）")))
        .when(~upgrade_15)
        .then(pl.lit(OTHER_PERSON_ZH))
    )
    evidence = pl.concat_str(
        pl.concat_str([name, birth, how], separator="，", ignore_nulls=True),
        errors.fill_null(""),
    )
    return df.select(
        "source",
        "batch_id",
        "row",
        masking.mask_id_expr(delivered).alias("delivered"),
        proposed.alias("proposed"),
        pl.lit(ITEM_ID).alias("item"),
        pl.when(upgrade_15)
        .then(pl.lit(UPGRADE_15_ZH))
        .otherwise(c("method").replace(METHOD_LABELS_ZH))
        .alias("basis"),
        evidence.alias("evidence"),
    )


def _name_rows(
    snap: snapshot.Snapshot,
    corr: pl.LazyFrame,
    links: pl.LazyFrame,
    anchors: pl.LazyFrame,
    source: str | None,
) -> pl.DataFrame:
    """Name corrections by the rule of the module docstring (one row per record); ``corr`` is
    every source's (the support of a name counts all sources), ``source`` limits the rows."""
    c = pl.col
    det = list(DETERMINISTIC_METHODS)
    link_cols = links.select("rec_key", "source", "batch_id", "row", "kind", "name_pinyin")
    variant = (
        (c("name_norm") != c("anchor_name"))
        & (c("name_pinyin") == c("anchor_pinyin"))
        & (c("name_norm").str.len_chars() == c("anchor_name").str.len_chars())
    )
    # Trusted records carry their node's name (an A node's name is its records' own, or the
    # anchor where they have none: records without a name, name_pinyin null, are left out).
    # Candidates are found on the nodes (few) before any record is touched.
    a_nodes = (
        snap.scan("nodes")
        .filter(c("node_type") == "A")
        .select("node_id", c("cluster_hint").alias("id18"), "name_norm", "name_pinyin")
    )
    members = snap.scan("node_members").filter(c("node_type") == "A").select("rec_key", "node_id")
    odd_nodes = (
        a_nodes.join(anchors, on="id18").filter(variant).select("node_id", "id18", "name_norm")
    )
    trusted = (
        members.join(odd_nodes, on="node_id")
        .join(link_cols, on="rec_key")
        .filter(c("name_pinyin").is_not_null())
        .select(
            "source", "batch_id", "row", "id18", "name_norm", "name_pinyin",
            pl.lit("trusted").alias("method"),
        )
    )  # fmt: skip
    repaired = (
        corr.filter(c("method").is_in(det) & c("name_norm").is_not_null())
        .join(links.select("batch_id", "row", "name_pinyin"), on=["batch_id", "row"])
        .filter(c("name_pinyin").is_not_null())
        .select(
            "source", "batch_id", "row", c("proposed_id18").alias("id18"), "name_norm",
            "name_pinyin", "method",
        )
    )  # fmt: skip
    own = pl.concat([trusted, repaired], how="vertical")
    if source is not None:
        own = own.filter(c("source") == source)
    cand = own.join(anchors, on="id18").filter(variant).collect()
    if cand.height:
        width = int(cand["anchor_name"].str.len_chars().max() or 0)  # type: ignore[arg-type]
        differ = pl.sum_horizontal(
            (c("name_norm").str.slice(i, 1) != c("anchor_name").str.slice(i, 1)).cast(pl.Int32)
            for i in range(width)
        )
        cand = cand.filter(differ == 1)
    if cand.height == 0:
        return pl.DataFrame(schema={k: COLUMNS[k] for k in _ROW_COLUMNS})
    # support: the sources whose deterministically linked records carry each name of these IDs
    ids = cand.select("id18").unique().lazy()
    id_nodes = a_nodes.join(ids, on="id18", how="semi").select("node_id", "id18", "name_norm")
    everyone = pl.concat(
        [
            members.join(id_nodes, on="node_id")
            .join(link_cols, on="rec_key")
            .filter(c("name_pinyin").is_not_null())
            .select("source", "id18", "name_norm", "kind"),
            corr.filter(c("method").is_in(det) & c("name_norm").is_not_null())
            .join(ids, left_on="proposed_id18", right_on="id18", how="semi")
            .join(links.select("batch_id", "row", "kind"), on=["batch_id", "row"], how="left")
            .select("source", c("proposed_id18").alias("id18"), "name_norm", "kind"),
        ],
        how="vertical",
    )
    support = (
        everyone.group_by("id18", "name_norm")
        .agg(
            n_sources=c("source").n_unique(),
            household=(c("kind") == "population").any(),
        )
        .collect()
    )
    anchor_support = support.rename(
        {"name_norm": "anchor_name", "n_sources": "n_anchor", "household": "hh_anchor"}
    )
    own_support = support.select("id18", "name_norm", c("n_sources").alias("n_delivered"))
    sure = (
        cand.join(anchor_support, on=["id18", "anchor_name"], how="left")
        .join(own_support, on=["id18", "name_norm"], how="left")
        .filter(
            (c("n_anchor").fill_null(0) >= 2)
            & (c("n_anchor").fill_null(0) > c("n_delivered").fill_null(1))
        )
    )
    link = c("method").replace_strict(
        {
            "trusted": "身份证号有效",
            "check_character": "身份证号经校验位修复",
            "excel_prefix": "身份证号经Excel截断恢复",
        },
        default=c("method"),
        return_dtype=pl.Utf8,
    )
    evidence = pl.concat_str(
        link,
        pl.lit("，读音相同、仅一字不同，"),
        c("n_anchor").cast(pl.Utf8),
        pl.lit("个数据来源"),
        pl.when(c("hh_anchor")).then(pl.lit("（含户籍）")).otherwise(pl.lit("")),
        pl.lit("登记为建议姓名"),
    )
    return sure.select(
        "source",
        "batch_id",
        "row",
        masking.mask_name_expr(c("name_norm")).alias("delivered"),
        c("anchor_name").alias("proposed"),
        pl.lit(ITEM_NAME).alias("item"),
        pl.lit(NAME_BASIS_ZH).alias("basis"),
        evidence.alias("evidence"),
    )


_ROW_COLUMNS = ("source", "batch_id", "row", "delivered", "proposed", "item", "basis", "evidence")


def _batches(data_dir: Path) -> pl.DataFrame:
    """The ingest catalog's file name, as-of date and header line of every batch."""
    from canbao.ingest import api as ingest_api

    rows = [
        {
            "source": b.source,
            "batch_id": b.batch_id,
            "file_name": b.file_name,
            "as_of": b.as_of,
            "header_row": b.header_row,
            "rows": b.rows,
        }
        for b in ingest_api.batches(data_dir)
    ]
    return pl.DataFrame(rows, schema=BATCH_COLUMNS)


# --- views and notes ----------------------------------------------------------------------


def staff_view(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` as staff may see it (terminal, previews): the proposed value masked too."""
    proposed = (
        pl.when(pl.col("item") == ITEM_ID)
        .then(masking.mask_id_expr(pl.col("proposed")))
        .otherwise(masking.mask_name_expr(pl.col("proposed")))
    )
    return frame.with_columns(proposed.alias("proposed"))


def staff_table(result: Corrections) -> pl.DataFrame:
    """Every source's rows in one frame, masked for staff."""
    frames = list(result.frames.values())
    if not frames:
        return pl.DataFrame(schema=COLUMNS)
    return staff_view(pl.concat(frames, how="vertical"))


def notes(result: Corrections, source: str | None = None) -> pl.DataFrame:
    """The 说明 sheet: who may receive the file and how to read it."""
    whom = f"数据来源“{source}”" if source else "各数据来源"
    lines = [
        NOTICE_ZH,
        f"本文件列出{whom}报送数据中建议更正的身份证号码和姓名，"
        f"由参保登记库（版本 {result.build_id}）生成。请核实后在本部门系统中更正，"
        "并在下次报送时使用更正后的数据。",
        "批次：登记库导入该文件时的批次编号；原文件：报送的文件名（文件名、数据截止日期和表头所在行"
        "见“批次”工作表）。",
        "行号：报送文件中数据行的序号，从表头下的第一条数据记为第 1 行；表头行及表头上方的标题行"
        "不计入，整行空白的行不计入。没有空白行时，该行在 Excel 中的行号 = 表头所在行 + 行号。",
        "原值：报送的身份证号码（已去除空格、全角转半角）或姓名，已部分隐去，请对照本部门原文件。",
        "建议值：建议更正为的完整身份证号码或姓名，请核实后录入。",
        "更正项目：身份证号 或 姓名。",
        "依据：校验位修复——原号码校验码不符，与它只差一位（或相邻两位颠倒）的有效号码中"
        "只有一个属于同名的人；Excel数字截断恢复——号码被 Excel 存成数字，末几位已丢失，"
        "按保留的前15位找到唯一同名的有效号码；概率模型匹配——按姓名、出生日期、性别、住址等"
        "综合比对判定为同一人；人工复核确认——经工作人员复核确认；15位升18位——旧15位号码"
        "换为18位号码。其他方式按登记库原样显示。",
        "证据：姓名、出生日期与建议号码的比对，以及原号码存在的问题。",
        "姓名更正（从严）：仅当记录与身份证号的关联是确定的（号码有效，或经校验位修复、Excel截断恢复），"
        "报送的姓名与该号码的登记姓名读音相同、字数相同且只差一个字（同音字或异体字），并且登记姓名"
        "得到至少两个数据来源、且多于报送姓名的数据来源支持时，才建议更正；仅空格、全角、繁简写法的"
        "差别不作为姓名更正。",
    ]
    return pl.DataFrame({NOTES_SHEET: lines})


# --- write --------------------------------------------------------------------------------


def output_kind(out: Path) -> str:
    """``"file"`` for a .xlsx path (one workbook, a sheet per source), ``"dir"`` otherwise (a
    workbook per source); other table formats are refused."""
    suffix = out.suffix.lower()
    if suffix == ".xlsx":
        return "file"
    if suffix in _TABLE_SUFFIXES:
        raise UsageError(
            f"更正建议只能导出为 .xlsx 文件或目录，不支持 {out.suffix}",
            f"export corrections writes a directory or an .xlsx file, not {out.suffix!r}",
        )
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"输出路径“{out}”已存在且不是目录（请给出目录或 .xlsx 文件）",
            f"{out} exists and is not a directory",
        )
    return "dir"


def _writable_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:
        raise UsageError(
            f"无法写入“{path}”：该路径已存在且不是目录", f"{path} is not a directory"
        ) from e
    except OSError as e:
        raise ResourceError(
            f"无法写入“{path}”：{e.strerror or type(e).__name__}（请检查路径和权限）",
            f"cannot create {path}: {e}",
        ) from e
    if not os.access(path, os.W_OK | os.X_OK):
        raise ResourceError(f"无法写入“{path}”：没有写权限", f"directory {path} is not writable")


def file_name(source: str) -> str:
    """The workbook of one source in directory mode: ``<source>-更正建议.xlsx``."""
    stem = re.sub(r'[\x00-\x1f<>:"/\\|?*]', "_", source).strip(" .") or "source"
    return stem + FILE_SUFFIX


def write(result: Corrections, out: Path) -> Written:
    """Write ``result``: ``out`` a directory → ``<source>-更正建议.xlsx`` per source with rows
    (and for the asked source even without); ``out`` a .xlsx → one workbook, a sheet per source.
    Every workbook starts with the 说明 sheet and ends with the 批次 sheet."""
    kind = output_kind(out)
    written = Written(out)
    if kind == "file":
        _writable_dir(out.parent)
        sheets: dict[str, pl.DataFrame] = {NOTES_SHEET: notes(result, result.only)}
        sheets.update(
            (src, df) for src, df in result.frames.items() if df.height or src == result.only
        )
        sheets[BATCH_SHEET] = result.batches
        written.summaries.append(outputs.write_workbook(sheets, out, labels=COLUMN_LABELS_ZH))
        taken: set[str] = set()  # the names the writer gave the sheets (same rule, same order)
        names = {title: outputs.sheet_name(title, taken) for title in sheets}
        for src in list(sheets)[1:-1]:
            written.where[src] = names[src]
        return written
    _writable_dir(out)
    files: set[str] = set()
    for src, df in result.frames.items():
        if df.height == 0 and src != result.only:
            continue
        name = file_name(src)
        while name.lower() in files:  # two sources with the same file-safe name
            name = name.removesuffix(FILE_SUFFIX) + "_" + FILE_SUFFIX
        files.add(name.lower())
        book: Mapping[str, pl.DataFrame] = {
            NOTES_SHEET: notes(result, src),
            MAIN_SHEET: df,
            BATCH_SHEET: result.batches.filter(pl.col("source") == src),
        }
        summary = outputs.write_workbook(book, out / name, labels=COLUMN_LABELS_ZH)
        written.summaries.append(summary)
        written.where[src] = name
    return written


__all__ = [
    "COLUMNS",
    "COLUMN_LABELS_ZH",
    "Corrections",
    "DETERMINISTIC_METHODS",
    "METHOD_LABELS_ZH",
    "Written",
    "collect",
    "notes",
    "staff_table",
    "staff_view",
    "write",
]
