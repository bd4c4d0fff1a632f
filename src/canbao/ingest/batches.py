"""Ingest one file as one batch: read → map headers → normalise → validate → write Parquet and
the report into a temporary directory → rename into place. Nothing partial is ever visible."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from canbao.errors import CanbaoError, InputFileError, UsageError
from canbao.ingest import (
    headers,
    kinds,
    normalize,
    profiles,
    readers,
    redelivery,
    report,
    reuse,
    validate,
)  # fmt: skip
from canbao.warehouse import catalog
from canbao.warehouse.catalog import BatchInfo
from canbao.warehouse.datadir import DataLayout, slug
from canbao.warehouse.lock import writes_data_dir

log = logging.getLogger(__name__)
STEPS = ("读取文件", "识别表头", "标准化", "校验", "写入批次")
Progress = Callable[[int, str], None]  # (step index, label)

META_COLUMNS = ("batch_id", "source", "kind", "scheme", "as_of", "row")
SCHEME_KINDS = ("enrollment", "declaration", "payment", "arrears")


@dataclass
class IngestResult:
    batch: BatchInfo
    skipped: bool
    message_zh: str
    report: dict[str, Any] = field(default_factory=dict)
    report_paths: list[Path] = field(default_factory=list)
    as_of_given: bool = True  # False: the as-of date is the ingest date (see default_as_of)


def check_kind(kind: str, scheme: str | None) -> None:
    if kind not in kinds.KINDS:
        raise UsageError(
            f"未知的记录类型“{kind}”，可用："
            + "、".join(f"{k}（{kinds.KIND_LABELS_ZH[k]}）" for k in kinds.KINDS),
            f"unknown kind {kind!r}",
        )
    if scheme is not None and scheme not in kinds.SCHEMES:
        raise UsageError(
            f"未知的险种“{scheme}”，可用："
            + "、".join(f"{s}（{kinds.SCHEME_LABELS_ZH[s]}）" for s in kinds.SCHEMES),
            f"unknown scheme {scheme!r}",
        )
    if kind == "enrollment" and scheme is None:
        raise UsageError(
            "参保登记数据必须用 --scheme 指明险种（每个文件一个险种）",
            "kind enrollment needs --scheme",
        )
    if scheme is not None and kind not in SCHEME_KINDS:
        raise UsageError(
            f"记录类型“{kinds.KIND_LABELS_ZH[kind]}”不区分险种，请不要指定 --scheme",
            f"--scheme is only for {', '.join(SCHEME_KINDS)}",
        )


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_as_of(value: str | dt.date | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as e:
        raise UsageError(
            f"截止日期“{value}”格式不对，应为 YYYY-MM-DD", f"bad as-of date {value!r}"
        ) from e


def unexpected_error(path: Path, e: Exception) -> CanbaoError:
    """An error no reader foresaw, as a user sees it (in a manifest run, where one file's failure
    must not stop the others): Chinese first, the exception type for the maintainers (its text
    may quote a cell, so it goes only to the DEBUG log, with the traceback)."""
    log.debug("unexpected error ingesting %s", Path(path).name, exc_info=e)
    return CanbaoError(
        f"导入文件“{Path(path).name}”时发生意外错误（{type(e).__name__}），本文件未导入，"
        "其他文件不受影响；请把这条信息告知系统维护人员（CANBAO_LOG_LEVEL=DEBUG 可看到详情）",
        f"unexpected {type(e).__name__} (details at DEBUG log level)",
    )


AS_OF_DEFAULT_NOTE = (
    "未指定截止日期（--as-of），按导入日期 {day} 计；同一来源以后的文件须用 --as-of 注明截止日期"
)


def default_as_of(data_dir: Path, source: str, kind: str, scheme: str | None) -> dt.date:
    """The as-of date of a file given without one: the ingest date, but only for the first
    batch of its (source, kind, scheme). Once batches exist, the as-of date decides which batch
    supersedes which, so it must be stated (never guessed from a file date: a copied old file
    would become current)."""
    earlier = [
        b
        for b in catalog.list_batches(data_dir)
        if (b.source, b.kind, b.scheme) == (source, kind, scheme)
    ]
    if earlier:
        latest = max(b.as_of for b in earlier)
        raise UsageError(
            f"来源“{source}”的{kinds.KIND_LABELS_ZH.get(kind, kind)}数据已有 {len(earlier)} 个批次"
            f"（最新截止日期 {latest}）。新文件是否取代旧批次取决于截止日期，"
            "请用 --as-of YYYY-MM-DD 注明本文件数据的截止日期",
            f"--as-of is required: {source}/{kind} already has batches (latest as-of {latest})",
        )
    return dt.date.today()


def agency_resolver(data_dir: Path, notes: list[str]) -> normalize.AgencyResolver | None:
    """The region profile's resolver of 参保经办机构 / 统筹区 values (the data directory's
    profile, not recorded by ingest). A profile that cannot be read leaves the values as
    delivered, with a note: the agency is not worth failing an ingest for."""
    from canbao.profile import profile_for

    try:
        prof = profile_for(data_dir, remember=False).profile
    except CanbaoError as e:
        notes.append(f"无法读取地区配置，参保经办机构未核对，按原值保存：{e.message_zh}")
        return None

    def resolve(value: str) -> str | None:
        match = prof.resolve_agency(value)
        return match.key if match is not None else None

    return resolve


@writes_data_dir("ingest")
def ingest_file(
    data_dir: Path,
    path: Path,
    *,
    source: str,
    kind: str,
    scheme: str | None = None,
    as_of: str | dt.date | None = None,
    mapping: Mapping[str, str] | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    step: Progress = progress or (lambda _i, _s: None)
    if not source or not source.strip():
        raise UsageError("必须用 --source 指明数据来源（如 police_hukou）", "--source is required")
    source = source.strip()
    check_kind(kind, scheme)
    as_of_date = parse_as_of(as_of)
    overrides = dict(mapping or {})
    headers.check_overrides(kind, overrides)
    step(0, STEPS[0])
    path = Path(path)
    readers.file_format(path)
    readers.check_file(path)
    try:
        sha = sha256_of(path)
    except OSError as e:
        raise InputFileError(
            f"无法读取文件“{path.name}”：{type(e).__name__}", f"cannot read {path}: {e}"
        ) from e
    layout = DataLayout(data_dir)
    existing = catalog.find(data_dir, sha, source)
    if existing is not None:
        return IngestResult(
            existing,
            True,
            f"文件“{path.name}”已于 {existing.ingested_at} 导入（批次 {existing.batch_id}），内容未变，本次不重复导入",
        )
    as_of_given = as_of_date is not None
    if as_of_date is None:
        as_of_date = default_as_of(data_dir, source, kind, scheme)
    profile = profiles.load(data_dir, source, kind)
    raw = readers.read_table(
        path,
        kind,
        sheet=sheet,
        encoding_claim=encoding,
        known_headers=[*overrides, *profile],
    )
    notes = list(raw.notes)
    if not as_of_given:
        notes.append(AS_OF_DEFAULT_NOTE.format(day=as_of_date))
    if raw.data.height == 0:
        notes.append("文件只有表头，没有数据行：本批次为空（0 行）")

    step(1, STEPS[1])
    m = headers.map_columns(kind, raw.data.columns, overrides, profile, path.name)
    headers.require_identity(kind, m, raw.data.columns, path.name)
    notes.extend(headers.amount_notes(kind, m, raw.data.columns, path.name))
    notes.extend(headers.unit_notes(m))
    f2c = m.field_to_column()
    n = raw.data.height
    text = raw.data.select(
        pl.int_range(1, n + 1, dtype=pl.Int64).alias("row"),
        *[
            (pl.col(f2c[f.name]) if f.name in f2c else pl.lit(None, dtype=pl.Utf8)).alias(f.name)
            for f in kinds.FIELDS[kind]
        ],
    )
    numeric_id = raw.numeric_cells(f2c["id"]) if "id" in f2c else None
    if numeric_id is not None and numeric_id.any():
        notes.append(
            f"身份证号码列“{f2c['id']}”中有 {int(numeric_id.sum())} 个单元格被 Excel 存为数字，号码可能已损坏（标记为 excel_number）"
        )

    numeric_dates = {}  # and transaction numbers: a long one Excel stored as a number is lost
    for f, col in f2c.items():
        if f in normalize.DATE_FIELDS or f in ("birth_date", "txn_id"):
            mask = raw.numeric_cells(col)
            if mask is not None and mask.any():
                numeric_dates[f] = mask

    step(2, STEPS[2])
    agency = agency_resolver(data_dir, notes) if "agency_code" in f2c else None
    superseded = catalog.would_supersede(data_dir, source, kind, scheme, as_of_date, path.name)
    present = normalize.present_fields(text, kind)
    units = m.money_units()
    ctx = reuse.context(kind, scheme, present, _profile_digest(data_dir, f2c), units)
    flags: dict[str, pl.Series | None] = {"id": numeric_id, **numeric_dates}
    raw_digest = reuse.raw_digests(text, flags)
    same = [layout.batch(b.batch_id) / "records.parquet" for b in superseded or []]
    if not all(b.norm_context == ctx for b in superseded or []):
        same = []
    carried = reuse.carried_rows(text["row"], raw_digest, same) if same else None
    todo = ~text["row"].is_in(carried["row"].implode()) if carried is not None else None
    records = normalize.normalize(
        text if todo is None else text.filter(todo), kind, scheme=scheme,
        numeric_id=_part(numeric_id, todo), agency=agency, fields_present=present, money_units=units,
        numeric_cells={k: v for k, v in ((k, _part(v, todo)) for k, v in numeric_dates.items()) if v is not None},
    )  # fmt: skip
    if carried is not None and carried.height:
        cols = [*records.columns, *reuse.IDENTITY]
        records = pl.concat([records, carried.select(cols)], how="diagonal_relaxed").sort("row")
    records = records.with_columns(raw_digest=raw_digest)
    notes.extend(normalize.unrecognised_notes(text, records, kind))

    step(3, STEPS[3])
    reasons = validate.quarantine_reason(records, raw.data, kind, raw.extra_lines)
    ingested_at = dt.datetime.now().isoformat(timespec="seconds")
    batch_id = f"{slug(source)}-{as_of_date:%Y%m%d}-{sha[:12]}"
    meta = {
        "batch_id": pl.lit(batch_id),
        "source": pl.lit(source),
        "kind": pl.lit(kind),
        "as_of": pl.lit(as_of_date, dtype=pl.Date),
    }
    keep = reasons.is_null()
    everyone = reasons.null_count() == reasons.len()
    accepted = (records if everyone else records.filter(keep)).with_columns(**meta)
    order = [*META_COLUMNS, *[c for c in accepted.columns if c not in META_COLUMNS]]
    accepted = accepted.select(order)
    accepted, changes = redelivery.compare(
        accepted,
        kind,
        batch_id,
        [layout.batch(b.batch_id) / "records.parquet" for b in superseded or []],
    )
    quarantine = _quarantine_rows(raw, text["row"], reasons, keep, meta, scheme)
    info = BatchInfo(
        batch_id=batch_id,
        source=source,
        kind=kind,
        scheme=scheme,
        as_of=as_of_date,
        file_name=path.name,
        file_path=str(path.resolve()),
        sha256=sha,
        format=raw.format,
        rows=n,
        accepted=accepted.height,
        quarantined=quarantine.height,
        warned=int((accepted["warnings"].list.len() > 0).sum()),
        ingested_at=ingested_at,
        encoding=raw.encoding,
        delimiter=raw.delimiter,
        sheet=raw.sheet,
        header_row=raw.header_row,
        mapping=m.columns,
        as_of_given=as_of_given,
        changes=changes.to_json() if changes else None,
        norm_context=ctx,
    )
    assert info.accepted + info.quarantined == n  # every data row is accounted for
    batch_json = info.to_json()
    rep = report.build(
        batch=batch_json,
        raw=raw,
        mapping=m,
        records=records,
        reasons=reasons,
        text=text,
        notes=notes,
        changes=changes,
    )

    step(4, STEPS[4])
    gone = changes.gone if changes is not None else None
    final = _write_batch(layout, batch_id, accepted, quarantine, rep, batch_json, gone)
    if final is None:  # a concurrent ingest of the same file finished first
        return IngestResult(info, True, f"文件“{path.name}”已导入（批次 {batch_id}）")
    if overrides:
        profiles.save(data_dir, source, kind, overrides)
    msg = (
        f"已导入“{path.name}”：{n} 行，接收 {info.accepted} 行"
        f"（其中 {info.warned} 行有警告），隔离 {info.quarantined} 行；批次 {batch_id}"
    )
    if changes is not None:
        msg += "\n" + changes.summary_zh()
    if not as_of_given:
        msg += "\n注意：" + AS_OF_DEFAULT_NOTE.format(day=as_of_date)
    paths = [final / "report.json", final / "report.xlsx"]
    return IngestResult(info, False, msg, rep, paths, as_of_given)


def _part(mask: pl.Series | None, todo: pl.Series | None) -> pl.Series | None:
    return mask if mask is None or todo is None else mask.filter(todo)


def _profile_digest(data_dir: Path, f2c: Mapping[str, str]) -> str | None:
    """The region profile's digest where agency codes are resolved with it (else None)."""
    if "agency_code" not in f2c:
        return None
    from canbao.profile import profile_for

    try:
        return profile_for(data_dir, remember=False).profile.digest
    except CanbaoError:
        return "unreadable"


def _quarantine_rows(
    raw: readers.RawTable,
    rows: pl.Series,
    reasons: pl.Series,
    keep: pl.Series,
    meta: dict[str, pl.Expr],
    scheme: str | None,
) -> pl.DataFrame:
    """The quarantined rows: the batch's columns, the reason (code and Chinese), the original
    row verbatim as JSON and as its own columns (the whole line when it had too many fields)."""
    original = raw.data
    if raw.extra_lines is not None:  # keep the whole line of rows with too many fields
        original = original.with_columns(raw.extra_lines.alias("原始行"))
    q_rows = original.with_columns(row=rows, reason=reasons).filter(~keep)
    orig_cols = original.columns
    return q_rows.select(
        *[v.alias(k) for k, v in meta.items()],
        pl.lit(scheme, dtype=pl.Utf8).alias("scheme"),
        "row",
        "reason",
        pl.col("reason")
        .replace_strict(validate.QUARANTINE_REASONS, default=None, return_dtype=pl.Utf8)
        .alias("reason_zh"),
        (pl.struct(orig_cols).struct.json_encode() if orig_cols else pl.lit("{}")).alias(
            "original"
        ),
        *[
            pl.col(c).alias(
                c if c not in META_COLUMNS + ("reason", "reason_zh", "original") else f"{c}_原"
            )
            for c in orig_cols
        ],
    )


def _write_batch(
    layout: DataLayout,
    batch_id: str,
    accepted: pl.DataFrame,
    quarantine: pl.DataFrame,
    rep: dict[str, Any],
    batch_json: dict[str, Any],
    gone: pl.Series | None = None,
) -> Path | None:
    """Write the batch into a temporary folder and rename it into place (whole or not at all);
    None when the same batch appeared meanwhile. ``gone``: a re-delivery's superseded
    identities it does not carry on (:data:`redelivery.GONE_FILE`)."""
    layout.ensure()
    tmp = layout.new_tmp()
    try:
        accepted.write_parquet(tmp / "records.parquet", compression="zstd", compression_level=1)
        if gone is not None:
            gone.rename("rec_id").to_frame().write_parquet(tmp / redelivery.GONE_FILE)
        quarantine.write_parquet(
            tmp / "quarantine.parquet", compression="zstd", compression_level=1
        )
        report.write_json(rep, tmp / "report.json")
        report.write_xlsx(rep, tmp / "report.xlsx")
        (tmp / "batch.json").write_text(
            json.dumps(batch_json, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        final = layout.batch(batch_id)
        if final.exists():
            shutil.rmtree(tmp)
            return None
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
