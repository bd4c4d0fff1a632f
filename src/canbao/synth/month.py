"""The synthetic city's next month: a share of residents newly in resident medical insurance,
as the social-security agency would deliver it (ID, name, county), for incremental updates."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def new_enrolment_extract(city: Path, out: Path, share: float = 0.01, seed: int = 3) -> Path:
    """Write a CSV extract of ``share`` of the city's residents (from its truth) to ``out``."""
    persons = pl.read_parquet((city / "truth" / "persons.parquet").absolute(), glob=False).sample(
        fraction=share, seed=seed
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    persons.select(
        pl.col("id18").alias("公民身份号码"),
        pl.col("name").alias("姓名"),
        pl.col("county_code").alias("参保地区划"),
    ).write_csv(out)
    return out
