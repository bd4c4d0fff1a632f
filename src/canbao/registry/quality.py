"""Linkage quality against ground truth (the synthetic city, or a hand-labelled sample).

Pairwise precision and recall: a *pair* is two records the registry puts in one person
(predicted) or that truly belong to one person (true). Per error type the measure is
record-centred: for the records carrying that damage, the share of their predicted partners that
are true partners (precision) and of their true partners that were found (recall).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl


def _pairs(n: pl.Expr) -> pl.Expr:
    return (n * (n - 1) / 2).cast(pl.Float64)


def evaluate(
    predicted: pl.DataFrame,
    truth: pl.DataFrame,
    damage: pl.DataFrame | None = None,
    groups: dict[str, pl.DataFrame] | None = None,
) -> dict[str, dict[str, float]]:
    """``predicted``: source,row,key · ``truth``: source,row,pid · ``damage``: source,row,kinds
    (``;``-separated) · ``groups``: name → frame of ``pid`` (e.g. persons with a namesake)."""
    j = truth.select("source", "row", pl.col("pid").cast(pl.Utf8)).join(
        predicted.select("source", "row", pl.col("key").cast(pl.Utf8)),
        on=["source", "row"],
        how="left",
    )
    # a record the registry did not link at all is its own singleton
    j = j.with_columns(
        key=pl.coalesce("key", pl.concat_str(pl.lit("~"), "source", pl.lit(":"), "row"))
    )
    j = j.with_columns(
        n_pred=pl.len().over("key"),
        n_true=pl.len().over("pid"),
        n_int=pl.len().over("key", "pid"),
    )
    tp = j.group_by("key", "pid").agg(pl.len().alias("n")).select(_pairs(pl.col("n")).sum()).item()
    pp = j.group_by("key").agg(pl.len().alias("n")).select(_pairs(pl.col("n")).sum()).item()
    tt = j.group_by("pid").agg(pl.len().alias("n")).select(_pairs(pl.col("n")).sum()).item()
    out: dict[str, dict[str, float]] = {
        "all": {
            "records": float(j.height),
            "precision": tp / pp if pp else 1.0,
            "recall": tp / tt if tt else 1.0,
        }
    }

    def centred(sub: pl.DataFrame) -> dict[str, float]:
        s = sub.select(
            i=(pl.col("n_int") - 1).sum(),
            p=(pl.col("n_pred") - 1).sum(),
            t=(pl.col("n_true") - 1).sum(),
        ).row(0)
        i, p, t = (float(x or 0) for x in s)
        return {
            "records": float(sub.height),
            "precision": i / p if p else 1.0,
            "recall": i / t if t else 1.0,
        }

    if damage is not None and damage.height:
        d = damage.with_columns(kind=pl.col("kinds").str.split(";")).explode("kind")
        dj = j.join(d.select("source", "row", "kind"), on=["source", "row"])
        for kind in sorted(dj["kind"].unique().to_list()):
            out[kind] = centred(dj.filter(pl.col("kind") == kind))
    for name, pids in (groups or {}).items():
        sub = j.join(pids.select(pl.col("pid").cast(pl.Utf8)).unique(), on="pid")
        out[name] = centred(sub)
    return out


def synthetic_groups(truth_dir: Path) -> dict[str, pl.DataFrame]:
    """Persons with a namesake (same name and birth date) and twins, from the synthetic truth."""
    persons = pl.read_parquet((truth_dir / "persons.parquet").absolute(), glob=False)
    namesakes = persons.filter(pl.len().over("name", "birth_date") > 1).select("pid")
    twins = persons.filter(pl.col("twin_of").is_not_null()).select("pid")
    twin_partners = persons.filter(pl.col("twin_of").is_not_null()).select(
        pl.col("twin_of").alias("pid")
    )
    return {"namesakes": namesakes, "twins": pl.concat([twins, twin_partners]).unique()}


def evaluate_synthetic(links: pl.DataFrame, city_dir: Path) -> dict[str, dict[str, float]]:
    truth_dir = city_dir / "truth"
    truth = pl.read_csv(
        (truth_dir / "links.csv").absolute(), glob=False, schema_overrides={"source": pl.Utf8}
    )
    damage = pl.read_csv(
        (truth_dir / "damage.csv").absolute(), glob=False, schema_overrides={"kinds": pl.Utf8}
    )
    pred = links.select("source", "row", pl.col("person_key").alias("key"))
    return evaluate(pred, truth, damage, synthetic_groups(truth_dir))
