"""Ground truth in ``DIR/truth/``: links, damage, the true entities and the gap lists.

Definitions (as of the last day of the year):

- ``uninsured.csv``: residents alive and not moved out, with ``pension_gap`` (aged 16+, not a
  student, no active employee or resident pension record) and/or ``medical_gap`` (no active
  employee or resident medical record).
- ``duplicate_enrollments.csv``: a person active in employee *and* resident medical
  (``cross_scheme``), or active in one resident scheme in two counties (``two_counties``).
- ``deceased_enrolled.csv``: a person who died during the year with a record still active.
- ``unregistered_employers.csv``: employers paying wages (tax file) but not registered with
  social insurance.
- ``under_reporters.csv``: per employer and scheme, declared person-months below the true
  staff (``headcount``) and/or declared base below the true base (``base``).
- ``arrears.csv``: per employer, scheme and month, paid < due at the end of the year.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from canbao.synth.config import DAMAGE_KINDS
from canbao.synth.damage import bits_to_text, money
from canbao.synth.insurance import Reality, _mask
from canbao.synth.render import Rendered

_PQ: dict[str, Any] = {"compression": "lz4", "statistics": False, "row_group_size": 250_000}


class TruthWriter:
    """Appends links/damage of every rendered extract as it is written."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "truth"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._links = (self.dir / "links.csv").open("wb")
        self._elinks = (self.dir / "employer_links.csv").open("wb")
        self._damage = (self.dir / "damage.csv").open("wb")
        self._links.write(b"source,row,pid\n")
        self._elinks.write(b"source,row,eid\n")
        self._damage.write(b"source,row,kinds\n")
        self.counts: dict[str, dict[str, int]] = {}

    def add(self, r: Rendered) -> None:
        n = r.rows
        src = r.spec.source
        offset = self.counts[src]["rows"] if r.part else 0
        row = np.arange(offset + 1, offset + n + 1, dtype=np.int64)
        if r.pid is not None:
            pl.DataFrame({"source": [src] * n, "row": row, "pid": r.pid}).write_csv(
                self._links, include_header=False
            )
        if r.eid is not None:
            m = r.eid > 0
            pl.DataFrame(
                {"source": [src] * int(m.sum()), "row": row[m], "eid": r.eid[m]}
            ).write_csv(self._elinks, include_header=False)
        d = r.bits != 0
        text = bits_to_text(r.bits[d])
        pl.DataFrame(
            {
                "source": [src] * int(d.sum()),
                "row": row[d],
                "kinds": pl.Series(text.tolist(), dtype=pl.Utf8),
            }
        ).write_csv(self._damage, include_header=False)
        counts = self.counts[src] if r.part else {"rows": 0}
        counts["rows"] += n
        for i, k in enumerate(DAMAGE_KINDS):
            c = int(((r.bits >> i) & 1).sum())
            if c:
                counts[k] = counts.get(k, 0) + c
        self.counts[src] = counts

    def close(self) -> None:
        for f in (self._links, self._elinks, self._damage):
            f.close()


def write_gaps(
    root: Path,
    year: int,
    persons: pl.DataFrame,
    reality: Reality,
    students: pl.Series | None = None,
) -> dict[str, int]:
    d = root / "truth"
    enr = reality.enrollments
    active = enr.filter(pl.col("status") == "active")
    alive = persons.select("pid", "county_code", "age", "death_date", "hukou_status").filter(
        pl.col("death_date").is_null() & (pl.col("hukou_status") != "迁出")
    )
    pension = active.filter(pl.col("scheme").is_in(["employee_pension", "resident_pension"]))[
        "pid"
    ].unique()
    medical = active.filter(pl.col("scheme").is_in(["employee_medical", "resident_medical"]))[
        "pid"
    ].unique()
    student = reality.students
    n = persons.height
    has_pension = _mask(n, pension.to_numpy())
    has_medical = _mask(n, medical.to_numpy())
    is_student = _mask(n, student.to_numpy())
    idx = alive["pid"].to_numpy() - 1
    unins = (
        alive.select("pid", "county_code", "age")
        .with_columns(
            pension_gap=(pl.col("age") >= 16) & pl.Series(~has_pension[idx] & ~is_student[idx]),
            medical_gap=pl.Series(~has_medical[idx]),
        )
        .filter(pl.col("pension_gap") | pl.col("medical_gap"))
        .sort("pid")
    )
    unins.write_csv(d / "uninsured.csv")

    em_active = _mask(n, active.filter(pl.col("scheme") == "employee_medical")["pid"].to_numpy())
    rm_active = active.filter(pl.col("scheme") == "resident_medical")
    both = em_active[rm_active["pid"].to_numpy() - 1]
    cross = (
        rm_active.filter(pl.Series(both))
        .group_by("pid")
        .agg(counties=pl.col("county_code").unique().sort().str.join("|"))
        .select(
            "pid",
            pl.lit("cross_scheme").alias("kind"),
            pl.lit("employee_medical|resident_medical").alias("schemes"),
            "counties",
        )
    )
    res = active.filter(pl.col("scheme").is_in(["resident_medical", "resident_pension"]))
    same = (pl.col("pid") == pl.col("pid").shift(1)) & (
        pl.col("scheme") == pl.col("scheme").shift(1)
    )
    res = res.sort("scheme", "pid").filter(same.fill_null(False) | same.shift(-1).fill_null(False))
    two = (
        res.group_by("pid", "scheme")
        .agg(
            n=pl.col("county_code").n_unique(),
            counties=pl.col("county_code").unique().sort().str.join("|"),
        )
        .filter(pl.col("n") > 1)
    )
    two = two.select(
        "pid", pl.lit("two_counties").alias("kind"), pl.col("scheme").alias("schemes"), "counties"
    )
    dups = pl.concat([cross, two]).sort("pid", "kind", "schemes")
    dups.write_csv(d / "duplicate_enrollments.csv")

    dec = active.join(persons.select("pid", "death_date"), on="pid").filter(
        pl.col("death_date").is_not_null()
    )
    dec = (
        dec.select("pid", "scheme", "county_code", "death_date")
        .unique()
        .sort("pid", "scheme", "county_code")
    )
    dec.write_csv(d / "deceased_enrolled.csv")

    emp = reality.employers
    staff = reality.spells.group_by("eid").agg(
        staff=pl.col("pid").n_unique(),
        person_months=(pl.col("end_month") - pl.col("start_month") + 1).sum(),
    )
    unreg = (
        emp.filter(~pl.col("registered"))
        .join(staff, on="eid")
        .select("eid", "credit_code", "name", "county_code", "staff", "person_months")
        .sort("eid")
    )
    unreg.write_csv(d / "unregistered_employers.csv")

    de = reality.declarations.group_by("eid", "scheme").agg(
        true_person_months=pl.col("true_headcount").sum(),
        declared_person_months=pl.col("headcount").sum(),
        true_base=pl.col("true_base").sum(),
        declared_base=pl.col("base").sum(),
    )
    de = (
        de.with_columns(
            h=pl.col("declared_person_months") < pl.col("true_person_months"),
            b=pl.col("declared_base") < pl.col("true_base"),
        )
        .filter(pl.col("h") | pl.col("b"))
        .with_columns(
            kind=pl.when(pl.col("h") & pl.col("b"))
            .then(pl.lit("headcount+base"))
            .when("h")
            .then(pl.lit("headcount"))
            .otherwise(pl.lit("base")),
            true_base=money(pl.col("true_base")),
            declared_base=money(pl.col("declared_base")),
        )
        .select(
            "eid",
            "scheme",
            "kind",
            "true_person_months",
            "declared_person_months",
            "true_base",
            "declared_base",
        )
        .sort("eid", "scheme")
    )
    de.write_csv(d / "under_reporters.csv")

    ar = (
        reality.payments.filter(pl.col("due") > pl.col("paid"))
        .select(
            "eid",
            "scheme",
            pl.concat_str(pl.lit(f"{year}-"), pl.col("month").cast(pl.Utf8).str.zfill(2)).alias(
                "period"
            ),
            money(pl.col("due")).alias("due"),
            money(pl.col("paid")).alias("paid"),
            money(pl.col("due") - pl.col("paid")).alias("arrears"),
        )
        .sort("eid", "scheme", "period")
    )
    ar.write_csv(d / "arrears.csv")

    persons.drop("age").write_parquet(d / "persons.parquet", **_PQ)
    emp.drop("size_weight", "wage_factor").write_parquet(d / "employers.parquet", **_PQ)
    enr.write_parquet(d / "enrollments.parquet", **_PQ)
    reality.spells.select(
        "spell_id",
        "pid",
        "eid",
        "start_month",
        "end_month",
        "wage",
        "registered",
        "omitted",
        "true_base",
        "declared_base",
    ).write_parquet(d / "employment.parquet", **_PQ)
    reality.special.write_parquet(d / "special_groups.parquet", **_PQ)
    return {
        "uninsured": unins.height, "duplicate_enrollments": dups.height, "deceased_enrolled": dec.height,
        "unregistered_employers": unreg.height, "under_reporters": de.height, "arrears": ar.height,
    }  # fmt: skip
