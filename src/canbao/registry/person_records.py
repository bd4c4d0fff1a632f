"""Assemble every person-bearing ingested row into one table the linkage works on."""

from __future__ import annotations

import hashlib
import os
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


def cached_batches(source: RecordSource, cache_root: Path) -> list[Path]:
    """Derived records per batch, as Parquet files under ``cache_root`` (derived once per batch
    and reused by every later build: a monthly update derives only the new batches)."""
    cache_dir = cache_root / derivation_version()
    cache_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for kind in PERSON_KINDS:
        lf = source(kind)
        if lf is None:
            continue
        lf = _conform(lf, kind)
        for batch_id in sorted(lf.select("batch_id").unique().collect()["batch_id"].to_list()):
            path = cache_dir / f"{batch_id}.parquet"
            if not path.exists():
                derived = _derive(lf.filter(pl.col("batch_id") == batch_id).collect())
                tmp = path.with_suffix(".tmp")
                derived.write_parquet(tmp)
                os.replace(tmp, path)
            paths.append(path)
    return paths


def _derive(df: pl.DataFrame) -> pl.DataFrame:
    # Excel keeps 15 significant digits, rounded: the true first 15 digits are the shown ones
    # or, when Excel rounded up, one less. Scientific form 3.6040219900101E+17 drops trailing
    # zeros of the mantissa: pad back to 15 digits.
    norm = pl.col("id_norm")
    sci = norm.str.extract_groups(r"^([0-9])\.?([0-9]*)[Ee]\+?(17)$")
    sci_digits = pl.concat_str(sci.struct.field("1"), sci.struct.field("2"))
    exact = sci_digits.str.len_chars() >= 16  # a program's repr: 16-17 exact digits
    sci_prefix = sci_digits.str.pad_end(15, "0").str.slice(0, 15)
    decimal_prefix = norm.str.extract(r"^([0-9]{18})\.0*$", 1).str.slice(0, 15)
    zeros_prefix = pl.when(norm.str.contains(r"^[0-9]{15}000$")).then(norm.str.slice(0, 15))
    excel = pl.col("id_errors").list.contains("excel_number").fill_null(False)
    prefix = pl.coalesce(
        pl.when(excel).then(pl.coalesce(sci_prefix, decimal_prefix, zeros_prefix)),
        # a valid ID ending in 000 may be Excel damage that happens to pass the check
        pl.when(pl.col("id_valid").fill_null(False)).then(zeros_prefix),
    )
    rounded_down = (prefix.cast(pl.Int64, strict=False) - 1).cast(pl.Utf8).str.pad_start(15, "0")
    surname = names.surname_expr(pl.col("name_norm"))
    df = df.with_columns(
        rec_key=pl.concat_str("batch_id", pl.lit(":"), pl.col("row").cast(pl.Utf8)),
        kind_rank=pl.col("kind").replace_strict(KIND_PRIORITY, default=9, return_dtype=pl.Int32),
        id_prefix15=pl.when(prefix.str.len_chars() == 15).then(prefix),
        id_prefix15_alt=pl.when((prefix.str.len_chars() == 15) & ~exact.fill_null(False)).then(
            rounded_down
        ),
        excel_suspect=~excel & pl.col("id_valid").fill_null(False) & zeros_prefix.is_not_null(),
        surname=surname,
        household_key=pl.coalesce(
            pl.col("household_id"),
            pl.col("address").str.replace_all(r"\s", ""),
        ),
        birth=pl.col("birth_date_value"),
        checksum_only=(pl.col("id_errors").list.join(",") == "checksum").fill_null(False),
        phone_key=pl.col("phone").str.replace_all(r"[^0-9]", "").str.slice(-11),
        employer_org=pl.when(pl.col("cc_valid").fill_null(False)).then(pl.col("org_code")),
    )
    surname_py = names.surname_pinyin_series(df["name_norm"])
    pinyin = df["name_pinyin"]
    if pinyin.null_count() == df.height and df.height:
        pinyin = names.pinyin_key_series(df["name_norm"])
    return df.with_columns(surname_py=surname_py, name_pinyin=pinyin)
