"""A re-delivered row whose delivered text is unchanged is not normalised again.

Normalising a row (names to simplified characters and pinyin, ID checks, dates, codes) depends
only on the row's canonical text, the cells Excel stored as numbers, which fields the file has
at all, the batch's kind and scheme, the region profile's agencies and the code. So when a
batch supersedes batches ingested under the same **context** (:func:`context`: kind, scheme,
fields present, profile where agencies are resolved, and a digest of the normalisation code),
a row whose **raw digest** (:func:`raw_digests`: the canonical text and the number flags)
equals one of their accepted rows takes that row's normalised values, and its record identity
(:mod:`canbao.ingest.redelivery`), instead of being normalised: a month's full re-delivery
costs reading, hashing and the changed rows. Duplicate rows pair one to one; a row quarantined
before is not among the accepted rows and is always normalised again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from canbao.ingest import redelivery

IDENTITY = ("rec_id", "rec_as_of", "row_digest")


@cache
def code_version() -> str:
    """A digest of the code a row's normalised values come from."""
    import canbao.ingest.kinds as kinds_module
    import canbao.ingest.normalize as normalize_module
    import canbao.standards as standards

    digest = hashlib.sha256()
    files = [Path(str(normalize_module.__file__)), Path(str(kinds_module.__file__))]
    root = Path(str(standards.__file__)).parent
    kept = (".py", ".json", ".toml", ".csv", ".txt")
    files += sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in kept)
    for f in files:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


def context(
    kind: str,
    scheme: str | None,
    present: set[str],
    profile: str | None,
    money_units: Mapping[str, int] | None = None,
) -> str:
    """Names what normalisation depends on besides a row's own text (``profile``: the region
    profile's digest where agency codes are resolved, else None; ``money_units``: the amount
    fields whose header names a unit other than 元)."""
    parts = [code_version(), kind, scheme or "", ",".join(sorted(present)), profile or ""]
    if money_units:
        parts.append(",".join(f"{f}={u}" for f, u in sorted(money_units.items())))
    text = "|".join(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def raw_digests(text: pl.DataFrame, flags: Mapping[str, pl.Series | None]) -> pl.Series:
    """md5 of each row's canonical text and number flags (``text``: ``row`` and one Utf8
    column per field, in file order)."""
    frame = text.drop("row").with_columns(
        pl.Series(f"excel_number_{name}", mask) for name, mask in flags.items() if mask is not None
    )
    con = duckdb.connect()
    try:
        con.register("t", frame.to_arrow())
        out = con.sql(f"SELECT {redelivery.digest_sql(frame.columns)} AS raw_digest FROM t").pl()
    finally:
        con.close()
    return out["raw_digest"]


def carried_rows(rows: pl.Series, digests: pl.Series, old_paths: list[Path]) -> pl.DataFrame:
    """The accepted rows of ``old_paths`` (``records.parquet`` of superseded batches of the same
    context) whose raw digest a new row repeats, with that new row's number in ``row`` and
    their normalised values and identity; paired one to one in row order."""
    new = pl.DataFrame({"row": rows, "raw_digest": digests}).with_columns(
        i=pl.int_range(pl.len()).over("raw_digest")
    )
    # pair on the narrow columns (files in catalog order, rows in file order), then fetch the
    # paired rows whole
    keys = (
        pl.scan_parquet(old_paths)
        .select("batch_id", "row", "raw_digest")
        .with_columns(i=pl.int_range(pl.len()).over("raw_digest"))
        .join(new.lazy(), on=["raw_digest", "i"], how="inner", suffix="_new")
        .select("batch_id", "row", "row_new")
    )
    whole = pl.scan_parquet(old_paths).join(keys, on=["batch_id", "row"], how="inner")
    return whole.drop("row").rename({"row_new": "row"}).collect()
