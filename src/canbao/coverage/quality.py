"""Quality of the gap lists against the synthetic city's ground truth (``DIR/truth/``).

Master persons are mapped to true persons through the links: each person key to the true person
most of its records belong to (the registry's own linkage errors therefore count against the
lists, as they would in the field). Employers likewise through ``employer_links``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl


def _pr(found: pl.DataFrame, truth: pl.DataFrame, on: list[str]) -> dict[str, float | int]:
    f = found.select(on).unique()
    t = truth.select(on).unique()
    tp = f.join(t, on=on, how="semi").height
    return {
        "found": f.height,
        "true": t.height,
        "tp": tp,
        "precision": round(tp / f.height, 4) if f.height else 1.0,
        "recall": round(tp / t.height, 4) if t.height else 1.0,
    }


def person_map(links: pl.DataFrame, city: Path) -> pl.DataFrame:
    """person_key → pid (the true person most of the key's records belong to)."""
    truth = pl.read_csv(
        (city / "truth" / "links.csv").absolute(), glob=False, schema_overrides={"row": pl.Int64}
    )
    j = links.select("source", "row", "person_key").join(truth, on=["source", "row"])
    return (
        j.group_by("person_key", "pid")
        .len()
        .sort("len", "pid", descending=[True, False])
        .unique("person_key", keep="first")
        .select("person_key", "pid")
    )


def employer_map(employer_links: pl.DataFrame, city: Path) -> pl.DataFrame:
    truth = pl.read_csv(
        (city / "truth" / "employer_links.csv").absolute(),
        glob=False,
        schema_overrides={"row": pl.Int64},
    )
    j = employer_links.select("source", "row", "employer_key").join(truth, on=["source", "row"])
    return (
        j.group_by("employer_key", "eid")
        .len()
        .sort("len", "eid", descending=[True, False])
        .unique("employer_key", keep="first")
        .select("employer_key", "eid")
    )


def evaluate(
    city: Path,
    links: pl.DataFrame,
    employer_links: pl.DataFrame,
    uninsured: pl.DataFrame,
    presumed_students: pl.DataFrame,
    duplicates: pl.DataFrame,
    deceased: pl.DataFrame,
    unregistered: pl.DataFrame,
    under_reporters: pl.DataFrame,
) -> dict[str, dict[str, float | int]]:
    """Precision and recall per gap kind. Inputs are the analysis frames keyed by person_key /
    employer_key (see :mod:`canbao.coverage.api`)."""
    t = city / "truth"
    pm = person_map(links, city)
    em = employer_map(employer_links, city)
    out: dict[str, dict[str, float | int]] = {}

    tu = pl.read_csv((t / "uninsured.csv").absolute(), glob=False)
    u = uninsured.join(pm, on="person_key")
    # Scope: a resident who appears in no extract at all cannot be found by any method, and the
    # synthetic city's students are a hidden random draw with no trace in any extract: the
    # people the lists hold back as presumed students are excluded from the pension comparison.
    seen = pm.select("pid").unique()
    students = presumed_students.join(pm, on="person_key").select("pid").unique()
    for gap, name in (("pension_gap", "uninsured_pension"), ("medical_gap", "uninsured_medical")):
        found = u.filter(pl.col(gap) == 1)
        truth = tu.filter(pl.col(gap))
        full = _pr(found, truth, ["pid"])
        obs_truth = truth.join(seen, on="pid", how="semi")
        if gap == "pension_gap":
            obs_truth = obs_truth.join(students, on="pid", how="anti")
        scoped = _pr(found, obs_truth, ["pid"])
        scoped["recall_all_truth"] = full["recall"]
        scoped["true_all"] = full["true"]
        scoped["not_in_any_extract"] = truth.join(seen, on="pid", how="anti").height
        if gap == "pension_gap":
            scoped["presumed_students"] = truth.join(students, on="pid", how="semi").height
        out[name] = scoped

    td = pl.read_csv((t / "duplicate_enrollments.csv").absolute(), glob=False)
    d = duplicates.join(pm, on="person_key")
    out["duplicate_medical"] = _pr(
        d.filter(pl.col("kind") == "duplicate_medical"),
        td.filter(pl.col("kind") == "cross_scheme"),
        ["pid"],
    )
    out["duplicate_area"] = _pr(
        d.filter(pl.col("kind") == "duplicate_area").rename({"schemes": "scheme"}),
        td.filter(pl.col("kind") == "two_counties").rename({"schemes": "scheme"}),
        ["pid", "scheme"],
    )
    out["duplicate_other"] = {
        "found": d.filter(pl.col("kind").is_in(["duplicate_pension", "duplicate_record"])).height,
        "true": 0,
    }

    tdec = pl.read_csv((t / "deceased_enrolled.csv").absolute(), glob=False)
    # Scope: a death no extract reports (hukou not cancelled and not on the civil-affairs list)
    # cannot be found by any method.
    truth_links = pl.read_csv(
        (t / "links.csv").absolute(), glob=False, schema_overrides={"row": pl.Int64}
    )
    reported = pl.concat(
        [
            truth_links.filter(pl.col("source") == "civil_deaths").select("pid"),
            pl.read_parquet(
                (t / "persons.parquet").absolute(),
                glob=False,
                columns=["pid", "hukou_status", "in_hukou"],
            )
            .filter((pl.col("hukou_status") == "死亡") & pl.col("in_hukou"))
            .select("pid"),
        ]
    ).unique()
    found_dec = deceased.join(pm, on="person_key")
    full = _pr(found_dec, tdec, ["pid", "scheme"])
    scoped = _pr(found_dec, tdec.join(reported, on="pid", how="semi"), ["pid", "scheme"])
    scoped["recall_all_truth"] = full["recall"]
    scoped["true_all"] = full["true"]
    scoped["death_not_reported"] = tdec.join(reported, on="pid", how="anti").height
    out["deceased_enrolled"] = scoped

    tun = pl.read_csv((t / "unregistered_employers.csv").absolute(), glob=False)
    out["unregistered_employers"] = _pr(unregistered.join(em, on="employer_key"), tun, ["eid"])

    tur = pl.read_csv((t / "under_reporters.csv").absolute(), glob=False)
    ur = under_reporters.join(em, on="employer_key")
    out["under_reporters"] = _pr(ur, tur, ["eid", "scheme"])
    out["under_reporters_headcount"] = _pr(
        ur.filter(pl.col("kind").str.contains("headcount")),
        tur.filter(pl.col("kind").str.contains("headcount")),
        ["eid", "scheme"],
    )
    out["under_reporters_base"] = _pr(
        ur.filter(pl.col("kind").str.contains("base")),
        tur.filter(pl.col("kind").str.contains("base")),
        ["eid", "scheme"],
    )
    return out
