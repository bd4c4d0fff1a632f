"""Assemble every person-bearing ingested row into one table the linkage works on."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path

import polars as pl

from canbao.ingest.kinds import PERSON_KINDS
from canbao.standards import names

RecordSource = Callable[[str], pl.LazyFrame | None]
"""kind → the accepted canonical records of the current batches of that kind (or None)."""

# Priority of sources for survivorship and anchor names: lower is more authoritative.
KIND_PRIORITY = {"population": 1, "death": 2, "special_group": 3, "enrollment": 4, "employment": 5}

COLUMNS: dict[str, pl.DataType] = {
    "batch_id": pl.Utf8(),
    "source": pl.Utf8(),
    "kind": pl.Utf8(),
    "scheme": pl.Utf8(),
    "as_of": pl.Date(),
    "row": pl.Int64(),
    "id_norm": pl.Utf8(),
    "id18": pl.Utf8(),
    "id_valid": pl.Boolean(),
    "id_errors": pl.List(pl.Utf8()),
    "id_birth": pl.Date(),
    "id_sex": pl.Utf8(),
    "name_norm": pl.Utf8(),
    "name_pinyin": pl.Utf8(),
    "sex": pl.Utf8(),
    "birth_date": pl.Utf8(),
    "birth_date_value": pl.Date(),
    "county_code": pl.Utf8(),
    "township": pl.Utf8(),
    "address": pl.Utf8(),
    "household_id": pl.Utf8(),
    "phone": pl.Utf8(),
    "death_date": pl.Date(),
    "org_code": pl.Utf8(),
    "cc_valid": pl.Boolean(),
}


def _conform(lf: pl.LazyFrame, kind: str) -> pl.LazyFrame:
    schema = lf.collect_schema()
    exprs = []
    for name, dtype in COLUMNS.items():
        if name == "kind":
            exprs.append(pl.lit(kind).alias("kind"))
        elif name in schema:
            exprs.append(pl.col(name).cast(dtype, strict=False))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return lf.select(exprs)


def assemble(source: RecordSource) -> pl.DataFrame:
    """One row per accepted person-bearing record with the derived linkage fields."""
    frames = []
    for kind in PERSON_KINDS:
        lf = source(kind)
        if lf is not None:
            frames.append(_conform(lf, kind))
    if not frames:
        return _derive(pl.DataFrame(schema=COLUMNS))
    return _derive(pl.concat(frames, how="vertical").collect())


@cache
def derivation_version() -> str:
    """A digest of the code that derives the linkage fields: a cache made by other code is
    never reused."""
    import canbao.registry.person_records as me
    from canbao.standards import citizen_id

    digest = hashlib.sha256()
    for module in (me, names, citizen_id):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:12]


CHUNK_ROWS = 2_000_000  # derive a big batch in slices, so memory stays bounded


BatchDeriver = Callable[[str, str, Path], bool]
"""(batch_id, kind, directory) → True when it wrote the batch's derived parts there itself
(e.g. on Spark's executors), False to let Polars derive it here."""


def empty_derived(kind: str) -> pl.DataFrame:
    """The derived frame's schema (no rows)."""
    return _derive(_conform(pl.LazyFrame(schema=COLUMNS), kind).collect())


def derive_frame(df: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Derive one slice of a batch's canonical records (the function executors run)."""
    return _derive(_conform(df.lazy(), kind).collect())


def cached_batches(
    source: RecordSource, cache_root: Path, derive: BatchDeriver | None = None
) -> list[Path]:
    """Derived records per batch, as Parquet files under ``cache_root`` (derived once per batch
    and reused by every later build: a monthly update derives only the new batches). A batch is
    a directory of parts of at most :data:`CHUNK_ROWS` rows, renamed into place when complete;
    ``derive`` may write the parts instead (the Spark engine derives on its executors)."""
    cache_dir = cache_root / derivation_version()
    cache_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for kind in PERSON_KINDS:
        lf = source(kind)
        if lf is None:
            continue
        lf = _conform(lf, kind)
        counts = lf.group_by("batch_id").agg(pl.len().alias("n")).collect().sort("batch_id")
        for batch_id, n in counts.iter_rows():
            final = cache_dir / str(batch_id)
            if not final.is_dir():
                # a name of its own: another process deriving the same batch never touches it
                tmp = cache_dir / f".tmp-{batch_id}-{uuid.uuid4().hex[:12]}"
                if derive is None or not derive(str(batch_id), kind, tmp):
                    tmp.mkdir()
                    batch = lf.filter(pl.col("batch_id") == batch_id)
                    for i, offset in enumerate(range(0, max(int(n), 1), CHUNK_ROWS)):
                        part = _derive(batch.slice(offset, CHUNK_ROWS).collect())
                        part.write_parquet(tmp / f"part-{i:05d}.parquet")
                try:
                    os.replace(tmp, final)
                except OSError:
                    if not final.is_dir():
                        raise
                    shutil.rmtree(tmp)  # cached meanwhile by another process: same content
            paths.extend(sorted(final.glob("part-*.parquet")))
    return paths


def _derive(df: pl.DataFrame) -> pl.DataFrame:
    """The linkage fields, computed in stages (each stage materialises its columns, so no
    expression is evaluated twice)."""
    c = pl.col
    norm = c("id_norm")
    # Excel keeps 15 significant digits, rounded: the true first 15 digits are the shown ones
    # or, when Excel rounded up, one less. Scientific form 3.6040219900101E+17 drops trailing
    # zeros of the mantissa: pad back to 15 digits.
    df = df.with_columns(
        _excel=c("id_errors").list.contains("excel_number").fill_null(False),
        _zeros=pl.when(norm.str.contains(r"^[0-9]{15}000$")).then(norm.str.slice(0, 15)),
        _sci=norm.str.extract_groups(r"^([0-9])\.?([0-9]*)[Ee]\+?(17)$"),
        _decimal=norm.str.extract(r"^([0-9]{18})\.0*$", 1).str.slice(0, 15),
    )
    df = df.with_columns(
        _sci_digits=pl.concat_str(c("_sci").struct.field("1"), c("_sci").struct.field("2"))
    )
    df = df.with_columns(
        _prefix=pl.coalesce(
            pl.when(c("_excel")).then(
                pl.coalesce(
                    c("_sci_digits").str.pad_end(15, "0").str.slice(0, 15),
                    c("_decimal"),
                    c("_zeros"),
                )
            ),
            # a valid ID ending in 000 may be Excel damage that happens to pass the check
            pl.when(c("id_valid").fill_null(False)).then(c("_zeros")),
        ),
        # a program's repr has 16-17 exact digits: no rounding to undo
        _exact=(c("_sci_digits").str.len_chars() >= 16).fill_null(False),
    )
    df = df.with_columns(
        rec_key=pl.concat_str("batch_id", pl.lit(":"), c("row").cast(pl.Utf8)),
        kind_rank=c("kind").replace_strict(KIND_PRIORITY, default=9, return_dtype=pl.Int32),
        id_prefix15=pl.when(c("_prefix").str.len_chars() == 15).then(c("_prefix")),
        id_prefix15_alt=pl.when((c("_prefix").str.len_chars() == 15) & ~c("_exact")).then(
            (c("_prefix").cast(pl.Int64, strict=False) - 1).cast(pl.Utf8).str.pad_start(15, "0")
        ),
        excel_suspect=~c("_excel") & c("id_valid").fill_null(False) & c("_zeros").is_not_null(),
        surname=names.surname_expr(c("name_norm")),
        household_key=pl.coalesce(
            c("household_id"),
            c("address").str.replace_many([" ", "\u3000", "\t"], ["", "", ""]),
        ),
        birth=c("birth_date_value"),
        checksum_only=(
            (c("id_errors").list.len() == 1) & (c("id_errors").list.first() == "checksum")
        ).fill_null(False),
        phone_key=c("phone").str.replace_all(r"[^0-9]", "").str.slice(-11),
        employer_org=pl.when(c("cc_valid").fill_null(False)).then(c("org_code")),
    ).drop("_excel", "_zeros", "_sci", "_decimal", "_sci_digits", "_prefix", "_exact")
    surname_py = names.surname_pinyin_series(df["name_norm"])
    pinyin = df["name_pinyin"]
    if pinyin.null_count() == df.height and df.height:
        pinyin = names.pinyin_key_series(df["name_norm"])
    return df.with_columns(surname_py=surname_py, name_pinyin=pinyin)
