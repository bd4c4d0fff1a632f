"""The ingest interface for everything downstream (registry, coverage, Spark jobs).

- :func:`ingest` / :func:`ingest_manifest`: load files into batches.
- :func:`batches`, :func:`current_batches`: the batch catalog as a Polars DataFrame.
- :func:`current_records`: accepted canonical rows of the current batches of a kind (LazyFrame).
- :func:`current_quarantine`: quarantined rows of the current batches (original row as JSON).

See docs/ingest.md for the columns.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from canbao.errors import CanbaoError, UsageError
from canbao.ingest import kinds, manifest, normalize
from canbao.ingest.batches import META_COLUMNS, IngestResult, ingest_file, unexpected_error
from canbao.warehouse import catalog
from canbao.warehouse.catalog import BatchInfo
from canbao.warehouse.datadir import DataLayout

__all__ = [
    "IngestResult",
    "ingest_manifest",
    "BatchInfo",
    "batches",
    "batches_frame",
    "current_batches",
    "current_quarantine",
    "current_records",
    "ingest_file",
    "record_schema",
]

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "batch_id": pl.Utf8(),
    "source": pl.Utf8(),
    "kind": pl.Utf8(),
    "scheme": pl.Utf8(),
    "as_of": pl.Date(),
    "row": pl.Int64(),
    "reason": pl.Utf8(),
    "reason_zh": pl.Utf8(),
    "original": pl.Utf8(),
}


def record_schema(kind: str) -> dict[str, pl.DataType]:
    """The columns (and dtypes) of :func:`current_records` for ``kind``."""
    _check_kind(kind)
    body = normalize.record_schema(kind)
    meta: dict[str, pl.DataType] = {
        "batch_id": pl.Utf8(),
        "source": pl.Utf8(),
        "kind": pl.Utf8(),
        "scheme": pl.Utf8(),
        "as_of": pl.Date(),
        "row": pl.Int64(),
        # the record's identity: the batch row (and its as-of date) where this content first
        # arrived (canbao.ingest.redelivery); null in batches ingested before it existed
        "rec_id": pl.Utf8(),
        "rec_as_of": pl.Date(),
    }
    return meta | {k: v for k, v in body.items() if k not in META_COLUMNS}


def _check_kind(kind: str) -> None:
    if kind not in kinds.KINDS:
        raise UsageError(f"未知的记录类型“{kind}”", f"unknown kind {kind!r}")


def batches(data_dir: Path) -> list[BatchInfo]:
    """Every batch (current and superseded), oldest ingest first."""
    return catalog.list_batches(Path(data_dir))


def current_batches(data_dir: Path, kind: str | None = None) -> list[BatchInfo]:
    """The batches a build uses: not superseded, optionally of one kind."""
    if kind is not None:
        _check_kind(kind)
    return [b for b in batches(data_dir) if b.current and (kind is None or b.kind == kind)]


def batches_frame(data_dir: Path) -> pl.DataFrame:
    """:func:`batches` as a DataFrame (with ``current`` and ``superseded_by``)."""
    return catalog.batches_frame(batches(data_dir))


def _paths(data_dir: Path, kind: str, scheme: str | None, name: str) -> list[str]:
    layout = DataLayout(Path(data_dir))
    return [  # absolute: Polars must never expand a leading ~ of a relative data directory
        str((layout.batch(b.batch_id) / name).absolute())
        for b in catalog.list_batches(Path(data_dir))
        if b.current
        and b.kind == kind
        and (scheme is None or b.scheme == scheme or kind != "enrollment")
    ]


def current_records(data_dir: Path, kind: str, scheme: str | None = None) -> pl.LazyFrame:
    """Accepted rows of the current batches of ``kind`` (optionally one scheme)."""
    schema = record_schema(kind)
    paths = _paths(data_dir, kind, scheme, "records.parquet")
    if not paths:
        return pl.LazyFrame(schema=schema)
    # batches written by an older version may lack newer columns: they read as null
    # glob=False: the data directory's path may hold [ * ? (never a pattern)
    lf = pl.scan_parquet(
        paths, schema=schema, missing_columns="insert", extra_columns="ignore", glob=False
    ).select(list(schema))
    if scheme is not None:
        lf = lf.filter(pl.col("scheme") == scheme)
    return lf


def current_rows(data_dir: Path, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (with ``batch_id`` and ``row`` naming records by their identity, as the
    registry does: :func:`canbao.ingest.identity.as_origin`) with each record's ``batch_id``
    and ``row`` in the current file instead: a re-delivered record unchanged since an older
    batch is named by its row in the file that carries it now (exports that send rows back to
    a department name the file it has)."""
    if frame.is_empty():
        return frame
    carried = [
        lf.select("batch_id", "row", "rec_id").filter(
            ~pl.col("rec_id").str.starts_with(pl.col("batch_id") + ":")
        )
        for kind in kinds.KINDS
        if _paths(data_dir, kind, None, "records.parquet")
        for lf in [current_records(data_dir, kind)]
    ]
    if not carried:
        return frame
    where = (
        pl.concat(carried)
        .select(
            pl.col("rec_id").str.extract(r"^(.*):[0-9]+$", 1).alias("batch_id"),
            pl.col("rec_id").str.extract(r":([0-9]+)$", 1).cast(pl.Int64).alias("row"),
            pl.col("batch_id").alias("_batch"),
            pl.col("row").alias("_row"),
        )
        .collect()
    )
    if where.is_empty():
        return frame
    order = frame.columns
    return (
        frame.join(where, on=["batch_id", "row"], how="left", maintain_order="left")
        .with_columns(batch_id=pl.coalesce("_batch", "batch_id"), row=pl.coalesce("_row", "row"))
        .select(order)
    )


def current_quarantine(data_dir: Path, kind: str | None = None) -> pl.LazyFrame:
    """Quarantined rows of current batches: meta columns, reason, and ``original`` (JSON text of
    the row as delivered, header → cell text)."""
    kinds_ = [kind] if kind else list(kinds.KINDS)
    paths = [p for k in kinds_ for p in _paths(data_dir, k, None, "quarantine.parquet")]
    if not paths:
        return pl.LazyFrame(schema=QUARANTINE_SCHEMA)
    frames = [pl.scan_parquet(p, glob=False).select(list(QUARANTINE_SCHEMA)) for p in paths]
    return pl.concat(frames, how="vertical_relaxed")


def ingest_manifest(
    data_dir: Path, directory: Path, *, as_of: str | None = None
) -> list[tuple[manifest.ManifestFile, IngestResult | CanbaoError]]:
    """Ingest every file of ``directory/manifest.json``; one file's failure does not stop the
    others (each result is the batch or the error, in manifest order). The manifest itself is
    checked first: a bad manifest raises :class:`DataError` and nothing is ingested."""
    results: list[tuple[manifest.ManifestFile, IngestResult | CanbaoError]] = []
    for f in manifest.load(Path(directory)).files:
        res: IngestResult | CanbaoError
        try:
            res = ingest_file(
                Path(data_dir), f.path, source=f.source, kind=f.kind, scheme=f.scheme,
                as_of=as_of or f.as_of, mapping=f.map, sheet=f.sheet, encoding=f.encoding,
            )  # fmt: skip
        except CanbaoError as e:
            res = e
        except Exception as e:  # noqa: BLE001 (one file's failure never stops the others)
            res = unexpected_error(f.path, e)
        results.append((f, res))
    return results
