"""Employer linkage and master employers.

- Records with a valid unified social credit code or organisation code link on the organisation
  code (positions 9–17 of a credit code are the legacy organisation code: 五证合一 links old and
  new registrations).
- Records with no valid code link on the normalised name (legal-form suffix removed) within the
  county, or on the name alone where it is unique among coded employers; otherwise they form a
  surrogate employer per (name, county).
- Master employer fields come from the employer registries (newest extract first): name,
  ownership type, industry, work-injury risk class, county, park flag, registration date,
  status; ``si_registered`` says whether the social-insurance employer registry knows it.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from canbao.ingest.kinds import EMPLOYER_KINDS
from canbao.registry import survivorship
from canbao.registry.engine import Engine
from canbao.standards import credit_code

EMPLOYER_COLUMNS: dict[str, pl.DataType] = {
    "batch_id": pl.Utf8(),
    "source": pl.Utf8(),
    "kind": pl.Utf8(),
    "as_of": pl.Date(),
    "row": pl.Int64(),
    "credit_code": pl.Utf8(),
    "cc_valid": pl.Boolean(),
    "org_code": pl.Utf8(),
    "employer_name_norm": pl.Utf8(),
    "employer_name_key": pl.Utf8(),
    "county_code": pl.Utf8(),
    "ownership": pl.Utf8(),
    "industry": pl.Utf8(),
    "risk_class": pl.Utf8(),
    "park": pl.Utf8(),
    "registered_date": pl.Date(),
    "status": pl.Utf8(),
    "si_number": pl.Utf8(),
}


def assemble(source: Callable[[str], pl.LazyFrame | None]) -> pl.DataFrame:
    frames = []
    for kind in EMPLOYER_KINDS:
        lf = source(kind)
        if lf is None:
            continue
        schema = lf.collect_schema()
        if "employer_name_norm" not in schema and "credit_code" not in schema:
            continue
        exprs = []
        for name, dtype in EMPLOYER_COLUMNS.items():
            if name == "kind":
                exprs.append(pl.lit(kind).alias(name))
            elif (
                name
                in (
                    "county_code",
                    "ownership",
                    "industry",
                    "risk_class",
                    "park",
                    "registered_date",
                    "status",
                    "si_number",
                )
                and kind != "employer"
            ):
                # these describe the employer only in the employer registries
                exprs.append(pl.lit(None, dtype=dtype).alias(name))
            elif name in schema:
                exprs.append(pl.col(name).cast(dtype, strict=False))
            else:
                exprs.append(pl.lit(None, dtype=dtype).alias(name))
        frames.append(lf.select(exprs))
    if not frames:
        return pl.DataFrame(schema=EMPLOYER_COLUMNS)
    df = pl.concat(frames).collect()
    # A legacy record may carry only an organisation code (no credit code): a code that passes
    # its own GB 11714 check counts as valid for linking (cc_valid covers the credit code only).
    org_only = pl.col("credit_code").is_null() & pl.col("org_code").is_not_null()
    org_check = credit_code.check_frame(df["org_code"])
    org_ok = (org_check["cc_valid"] & (org_check["cc_kind"] == "org_code")).fill_null(False)
    df = df.with_columns(
        cc_valid=pl.when(org_only).then(org_ok).otherwise(pl.col("cc_valid")),
        org_code=pl.when(org_only).then(org_check["cc_norm"]).otherwise(pl.col("org_code")),
    )
    return df.filter(
        pl.col("employer_name_norm").is_not_null()
        | pl.col("credit_code").is_not_null()
        | pl.col("org_code").is_not_null()
    )


def build(eng: Engine) -> None:
    d = eng.dialect
    ekey_o = "'E' || " + d.hash_hex("'canbao-employer:' || substr(cluster_id, 3)", 15)
    ekey_n = "'N' || " + d.hash_hex("'canbao-employer-name:' || substr(cluster_id, 3)", 15)
    order_key = survivorship.pick_order(d)
    eng.execute(
        """
        CREATE OR REPLACE TABLE employer_records AS
        SELECT *, batch_id || ':' || CAST("row" AS varchar) AS rec_key,
               CASE WHEN cc_valid AND length(org_code) = 9 THEN org_code END AS link_org
        FROM employer_records_raw
        """
    )
    eng.execute(
        """
        CREATE OR REPLACE TABLE employer_name_index AS
        SELECT employer_name_key, county_code, min(link_org) AS link_org,
               count(DISTINCT link_org) AS n_org
        FROM employer_records
        WHERE link_org IS NOT NULL AND employer_name_key IS NOT NULL
        GROUP BY GROUPING SETS ((employer_name_key, county_code), (employer_name_key))
        """
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employer_record_cluster AS
        WITH coded AS (
            SELECT rec_key, 'O:' || link_org AS cluster_id, 'code' AS method
            FROM employer_records WHERE link_org IS NOT NULL
        ), by_county AS (
            SELECT r.rec_key, 'O:' || i.link_org AS cluster_id, 'name_county' AS method
            FROM employer_records r
            JOIN employer_name_index i
              ON i.employer_name_key = r.employer_name_key AND i.county_code = r.county_code
            WHERE r.link_org IS NULL AND i.n_org = 1
        ), by_name AS (
            SELECT r.rec_key, 'O:' || i.link_org AS cluster_id, 'name' AS method
            FROM employer_records r
            JOIN employer_name_index i
              ON i.employer_name_key = r.employer_name_key AND i.county_code IS NULL
            WHERE r.link_org IS NULL AND i.n_org = 1
              AND r.rec_key NOT IN (SELECT rec_key FROM by_county)
        ), linked AS (
            SELECT * FROM coded UNION ALL SELECT * FROM by_county UNION ALL SELECT * FROM by_name
        ), rest AS (
            SELECT r.rec_key,
                   'N:' || coalesce(r.employer_name_key, r.credit_code, '') || '|'
                        || coalesce(r.county_code, '') AS cluster_id,
                   'surrogate' AS method
            FROM employer_records r WHERE r.rec_key NOT IN (SELECT rec_key FROM linked)
        ), allc AS (SELECT * FROM linked UNION ALL SELECT * FROM rest)
        SELECT rec_key, cluster_id, method,
               CASE WHEN cluster_id LIKE 'O:%' THEN {ekey_o} ELSE {ekey_n} END AS employer_key
        FROM allc
        """
    )
    picks = ",\n".join(
        f"arg_min({f}, {order_key}) FILTER (WHERE {f} IS NOT NULL AND kind = 'employer') AS {f}"
        for f in ("ownership", "industry", "risk_class", "county_code", "park",
                  "registered_date", "status")
    )  # fmt: skip
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employers AS
        WITH er AS (
            SELECT r.*, c.employer_key, c.cluster_id
            FROM employer_records r JOIN employer_record_cluster c USING (rec_key)
        ), names AS (
            SELECT employer_key, employer_name_norm,
                   min(CASE WHEN kind = 'employer' THEN 0 ELSE 1 END) AS rank_kind,
                   count(*) AS n, max(as_of) AS latest
            FROM er WHERE employer_name_norm IS NOT NULL
            GROUP BY employer_key, employer_name_norm
        ), name_pick AS (
            SELECT employer_key, arg_min(employer_name_norm, rk) AS name FROM (
                SELECT *, row_number() OVER (PARTITION BY employer_key
                    ORDER BY rank_kind, latest DESC, n DESC, employer_name_norm) AS rk
                FROM names) GROUP BY employer_key
        )
        SELECT er.employer_key,
               arg_min(er.credit_code, {order_key})
                   FILTER (WHERE er.cc_valid AND length(er.credit_code) = 18) AS credit_code,
               min(er.link_org) AS org_code,
               min(np.name) AS name,
               {picks},
               bool_or(er.kind = 'employer' AND er.si_number IS NOT NULL) AS si_registered,
               {d.sorted_set("er.source")} AS sources,
               count(*) AS n_records
        FROM er LEFT JOIN name_pick np USING (employer_key)
        GROUP BY er.employer_key
        ORDER BY er.employer_key
        """
    )
    eng.execute(
        """
        CREATE OR REPLACE TABLE employer_links AS
        SELECT r.source, r."row", c.employer_key, r.batch_id, r.kind, c.method
        FROM employer_records r JOIN employer_record_cluster c USING (rec_key)
        """
    )
