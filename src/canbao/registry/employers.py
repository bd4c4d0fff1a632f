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

from canbao.registry import record_cache, survivorship
from canbao.registry.employer_records import GONE_SQL
from canbao.registry.engine import Engine
from canbao.registry.snapshot_layers import merged_sql

# intermediate tables, dropped by the build once the stage is done
WORK_TABLES = (
    "employer_records_raw",
    "org_only_codes",
    "employer_records",
    "employer_variants",
    "employer_name_index",
    "employer_variant_cluster",
    "employer_groups",
    "ev_moved",
    "er_new",
    "er_dropped",
)


def link(eng: Engine) -> None:
    """Link every employer record (``employer_records``) to a master employer: ``employers``,
    ``employer_vkeys`` and ``employer_links``."""
    masters(eng)
    links(eng)


def masters(eng: Engine) -> None:
    """``employers`` and ``employer_vkeys`` (each variant's master employer and how it was
    linked) from ``employer_records``. The linking rules see only a record's *variant*: they
    run once per distinct variant, not once per record (the tax file repeats each employer for
    every employee and month), and the master's fields are aggregated per variant before per
    employer."""
    d = eng.dialect
    ekey_o = "'E' || " + d.hash_hex("'canbao-employer:' || substr(cluster_id, 3)", 15)
    ekey_n = "'N' || " + d.hash_hex("'canbao-employer-name:' || substr(cluster_id, 3)", 15)
    eng.execute(
        """
        CREATE OR REPLACE TABLE employer_variants AS
        SELECT vkey, min(link_org) AS link_org, min(employer_name_key) AS employer_name_key,
               min(county_code) AS county_code, min(credit_code) AS credit_code
        FROM employer_records GROUP BY vkey
        """
    )
    # the coded employers' names per county, and city-wide (county NULL). Not GROUPING SETS: a
    # variant without county would give a per-county row with county NULL too, and a record of
    # that name linked twice
    eng.execute(
        """
        CREATE OR REPLACE TABLE employer_name_index AS
        WITH coded AS (
            SELECT * FROM employer_variants
            WHERE link_org IS NOT NULL AND employer_name_key IS NOT NULL
        )
        SELECT employer_name_key, county_code, min(link_org) AS link_org,
               count(DISTINCT link_org) AS n_org
        FROM coded WHERE county_code IS NOT NULL
        GROUP BY employer_name_key, county_code
        UNION ALL
        SELECT employer_name_key, CAST(NULL AS VARCHAR) AS county_code,
               min(link_org) AS link_org, count(DISTINCT link_org) AS n_org
        FROM coded GROUP BY employer_name_key
        """
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employer_variant_cluster AS
        WITH coded AS (
            SELECT vkey, 'O:' || link_org AS cluster_id, 'code' AS method
            FROM employer_variants WHERE link_org IS NOT NULL
        ), by_county AS (
            SELECT r.vkey, 'O:' || i.link_org AS cluster_id, 'name_county' AS method
            FROM employer_variants r
            JOIN employer_name_index i
              ON i.employer_name_key = r.employer_name_key AND i.county_code = r.county_code
            WHERE r.link_org IS NULL AND i.n_org = 1
        ), by_name AS (
            SELECT r.vkey, 'O:' || i.link_org AS cluster_id, 'name' AS method
            FROM employer_variants r
            JOIN employer_name_index i
              ON i.employer_name_key = r.employer_name_key AND i.county_code IS NULL
            WHERE r.link_org IS NULL AND i.n_org = 1
              AND r.vkey NOT IN (SELECT vkey FROM by_county)
        ), linked AS (
            SELECT * FROM coded UNION ALL SELECT * FROM by_county UNION ALL SELECT * FROM by_name
        ), rest AS (
            SELECT r.vkey,
                   'N:' || coalesce(r.employer_name_key, r.credit_code, '') || '|'
                        || coalesce(r.county_code, '') AS cluster_id,
                   'surrogate' AS method
            FROM employer_variants r WHERE r.vkey NOT IN (SELECT vkey FROM linked)
        ), allc AS (SELECT * FROM linked UNION ALL SELECT * FROM rest)
        SELECT vkey, cluster_id, method,
               CASE WHEN cluster_id LIKE 'O:%' THEN {ekey_o} ELSE {ekey_n} END AS employer_key
        FROM allc
        """
    )
    order_key = survivorship.pick_order(d)
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employer_groups AS
        SELECT r.vkey, r.source, r.employer_name_norm,
               CASE WHEN r.kind = 'employer' THEN 0 ELSE 1 END AS rank_kind,
               count(*) AS n, max(r.as_of) AS latest,
               min(CASE WHEN r.cc_valid AND length(r.credit_code) = 18 THEN {order_key} END)
                   AS cc_pick
        FROM employer_records r LEFT JOIN source_order so ON so.source = r.source
        GROUP BY 1, 2, 3, 4
        """
    )
    picks = ",\n".join(
        f"arg_min({f}, {order_key}) FILTER (WHERE {f} IS NOT NULL) AS {f}"
        for f in ("ownership", "industry", "risk_class", "county_code", "park",
                  "registered_date", "status")
    )  # fmt: skip
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employers AS
        WITH g AS (
            SELECT g.*, c.employer_key, v.link_org, v.credit_code
            FROM employer_groups g
            JOIN employer_variant_cluster c USING (vkey)
            JOIN employer_variants v USING (vkey)
        ), names AS (
            SELECT employer_key, employer_name_norm, min(rank_kind) AS rank_kind,
                   sum(n) AS n, max(latest) AS latest
            FROM g WHERE employer_name_norm IS NOT NULL
            GROUP BY employer_key, employer_name_norm
        ), name_pick AS (
            SELECT employer_key, arg_min(employer_name_norm, rk) AS name FROM (
                SELECT *, row_number() OVER (PARTITION BY employer_key
                    ORDER BY rank_kind, latest DESC, n DESC, employer_name_norm) AS rk
                FROM names) GROUP BY employer_key
        ), registry AS (
            -- the employer registries' records (few): the fields only they describe
            SELECT c.employer_key, {picks},
                   bool_or(r.si_number IS NOT NULL) AS si_registered
            FROM employer_records r
            JOIN employer_variant_cluster c USING (vkey)
            LEFT JOIN source_order so ON so.source = r.source
            WHERE r.kind = 'employer'
            GROUP BY c.employer_key
        ), agg AS (
            SELECT employer_key,
                   arg_min(credit_code, cc_pick) FILTER (WHERE cc_pick IS NOT NULL)
                       AS credit_code,
                   min(link_org) AS org_code,
                   {d.sorted_set("source")} AS sources,
                   CAST(sum(n) AS BIGINT) AS n_records
            FROM g GROUP BY employer_key
        )
        SELECT a.employer_key, a.credit_code, a.org_code, np.name,
               x.ownership, x.industry, x.risk_class, x.county_code, x.park,
               x.registered_date, x.status,
               coalesce(x.si_registered, false) AS si_registered,
               a.sources, a.n_records
        FROM agg a
        LEFT JOIN name_pick np USING (employer_key)
        LEFT JOIN registry x USING (employer_key)
        ORDER BY a.employer_key
        """
    )
    eng.execute(
        "CREATE OR REPLACE TABLE employer_vkeys AS "
        "SELECT vkey, employer_key, method FROM employer_variant_cluster"
    )


_LINK = 'r.source, r."row", c.employer_key, r.batch_id, r.kind, c.method'
LINK_COLUMNS = ("source", "row", "employer_key", "batch_id", "kind", "method")


def links(eng: Engine) -> None:
    """``employer_links``: every record's master employer (its variant's)."""
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employer_links AS
        SELECT {_LINK} FROM employer_records r JOIN employer_variant_cluster c USING (vkey)
        """
    )


def link_changes(
    eng: Engine,
    added: list[record_cache.Entry],
    removed: list[record_cache.Entry],
    prev_links: str,
    prev_vkeys: str,
) -> None:
    """``employer_links__rows`` / ``__gone`` (:mod:`canbao.registry.snapshot_layers`) and the
    merged view ``employer_links``, once :func:`masters` has run: the links of the previous
    build (``prev_links``, its variants' ``prev_vkeys``) updated by what changed since. The
    cache entries ``added`` and ``removed`` are the employer batches that came and went.

    A record's link is its variant's, so only these rows change: the records of the added
    batches' own parts (a re-delivery's carried records are the superseded batch's, already
    linked), the records whose variant links elsewhere now (another employer or method: a
    name that became ambiguous, a code that appeared) and the records no batch carries any
    more (gone)."""
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE ev_moved AS
        SELECT n.vkey FROM employer_variant_cluster n
        LEFT JOIN {prev_vkeys} o ON o.vkey = n.vkey
        WHERE o.vkey IS NULL OR o.employer_key <> n.employer_key OR o.method <> n.method
        """
    )
    own = [e.own for e in added if e.own]
    fresh = "SELECT * FROM employer_records WHERE false"
    if own:
        eng.parquet_view("er_new", [p for parts in own for p in parts])
        fresh = "SELECT * FROM er_new"
    cols = 'source, "row", batch_id, kind, vkey'
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employer_links__rows AS
        WITH r AS (
            SELECT {cols} FROM ({fresh}) AS f
            UNION
            SELECT {cols} FROM employer_records
            WHERE vkey IN (SELECT vkey FROM ev_moved)
        )
        SELECT {_LINK} FROM r JOIN employer_variant_cluster c USING (vkey)
        """
    )
    record_cache.dropped(eng, "er_dropped", removed, added, GONE_SQL)
    eng.execute(
        """
        CREATE OR REPLACE TABLE employer_links__gone AS
        SELECT batch_id, "row" FROM er_dropped
        UNION SELECT batch_id, "row" FROM employer_links__rows
        """
    )
    eng.create_view(
        "employer_links",
        merged_sql(
            prev_links,
            "employer_links__rows",
            "employer_links__gone",
            ("batch_id", "row"),
            LINK_COLUMNS,
        ),
    )
