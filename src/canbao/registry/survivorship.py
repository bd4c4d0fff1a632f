"""Record → person, person keys, and the master person record (survivorship).

Survivorship, per field, in one place:
- name: the ID's anchor name for a trusted ID; otherwise the household register's name, then
  the most frequent name, then the most recent extract.
- birth date and sex: those coded in a trusted ID; otherwise the household register's, then
  the record's own.
- county, township, address, household, phone: the household register first, then the other
  sources by :data:`canbao.registry.person_records.KIND_PRIORITY`, newest extract first.
- date of death: the death list (earliest date recorded).

Person key: ``P`` + a digest of the trusted ID (the same every build), or ``S`` + a digest of the
smallest node of a cluster without any trusted ID.
"""

from __future__ import annotations

from canbao.registry import keys
from canbao.registry.dialect import Dialect
from canbao.registry.engine import Engine

FIELD_PRIORITY_FIELDS = ("county_code", "township", "address", "household_id", "phone")


def record_clusters(
    eng: Engine,
    members: str = "node_members",
    repair_links: str = "repair_links",
    node_cluster: str = "node_cluster",
    out: str = "record_cluster",
) -> None:
    d = eng.dialect
    pkey_id = person_key_of_id(d, "substr(cluster_id, 3)")
    pkey_s = person_key_of_surrogate(d, "substr(cluster_id, 3)")
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE {out} AS
        WITH rc AS (
            SELECT rec_key, 'I:' || cluster_hint AS cluster_id, 'trusted' AS method
            FROM {members} WHERE node_type = 'A'
            UNION ALL
            SELECT rec_key, 'I:' || id18, method FROM {repair_links}
            UNION ALL
            SELECT m.rec_key, c.cluster_id, c.method
            FROM {members} m JOIN {node_cluster} c USING (node_id)
            WHERE m.node_type = 'B'
        )
        SELECT rec_key, cluster_id, method,
               CASE WHEN cluster_id LIKE 'I:%' THEN substr(cluster_id, 3) END AS id18,
               CASE WHEN cluster_id LIKE 'I:%' THEN {pkey_id} ELSE {pkey_s} END AS person_key
        FROM rc
        """
    )


def person_key_of_id(d: Dialect, id18: str) -> str:
    """SQL: the person key of the person whose trusted ID is ``id18``: a keyed digest (the
    secret of :mod:`canbao.registry.keys`, in the one-row table ``key_secret``), so that a key
    shown beside a masked ID cannot be turned back into the ID."""
    return "'P' || " + d.hash_hex(f"(SELECT secret FROM {keys.TABLE}) || ':' || {id18}", 15)


def person_key_of_surrogate(d: Dialect, component: str) -> str:
    """SQL: the person key of the cluster without a trusted ID whose smallest node is
    ``component`` (the ``S:`` cluster id of :mod:`canbao.registry.assign`, without its prefix)."""
    return "'S' || " + d.hash_hex(f"'canbao-surrogate:' || {component}", 15)


def source_order(eng: Engine, *tables: str) -> None:
    """``source_order(source, source_ord)``: the sources of ``tables`` numbered in name order
    (the tie-break of :func:`pick_order`; two sources keep their relative order whatever other
    sources exist)."""
    union = " UNION ".join(f"SELECT DISTINCT source FROM {t}" for t in tables)
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE source_order AS
        SELECT source, row_number() OVER (ORDER BY source) AS source_ord
        FROM ({union}) s WHERE source IS NOT NULL
        """
    )


def pick_order(d: Dialect, rank: str | None = None, source_ord: str = "so.source_ord") -> str:
    """The order in which a field's values are picked (smallest first): the source's rank, then
    the newest extract, then -- so that every build, on every engine, picks the same value --
    the source (its place in :func:`source_order`, joined as ``so``) and row. One BIGINT (rank:
    4 bits, extract date: 16, source: 11, row: 32), so ``arg_min`` over it is cheap and
    deterministic."""
    days = f"least(greatest(coalesce({d.epoch_days('as_of')}, 0), 0), 65535)"
    parts = [
        f"CAST(least(coalesce({rank}, 15), 15) AS BIGINT) * {1 << 59}" if rank else "0",
        f"CAST(65535 - {days} AS BIGINT) * {1 << 43}",
        f"CAST(least(coalesce({source_ord}, 2047), 2047) AS BIGINT) * {1 << 32}",
        f'least(coalesce(CAST("row" AS BIGINT), 0), {(1 << 32) - 1})',
    ]
    return "(" + " + ".join(parts) + ")"


def masters(eng: Engine) -> None:
    """``persons``, ``links`` and ``id_corrections`` from ``record_cluster``."""
    persons_of(eng)
    links_of(eng)
    corrections_of(eng)


def persons_of(
    eng: Engine,
    records: str = "person_records",
    record_cluster: str = "record_cluster",
    anchors: str = "id_anchor",
    out: str = "persons",
) -> None:
    """The master records of the persons in ``record_cluster`` (all their records)."""
    d = eng.dialect
    order_key = pick_order(d, "kind_rank")
    picks = ",\n".join(
        f"arg_min({f}, pick) FILTER (WHERE {f} IS NOT NULL) AS {f}" for f in FIELD_PRIORITY_FIELDS
    )
    # what survivorship reads of each record (the links and corrections join the records again,
    # for their own few columns: narrower than one wide copy of every record)
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE rc_records AS
        SELECT c.person_key, c.id18 AS key_id18, r.source, r.kind_rank, r.as_of, r.name_norm,
               r.birth, r.sex, r.death_date, r.county_code, r.township, r.address,
               r.household_id, r.phone, {order_key} AS pick
        FROM {records} r JOIN {record_cluster} c USING (rec_key)
        LEFT JOIN source_order so ON so.source = r.source
        """
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE {out} AS
        WITH names AS (
            SELECT person_key, name_norm, min(kind_rank) AS best_rank, count(*) AS n,
                   max(as_of) AS latest
            FROM rc_records WHERE name_norm IS NOT NULL GROUP BY person_key, name_norm
        ), name_pick AS (
            SELECT person_key, arg_min(name_norm, rk) AS name_pick FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY person_key ORDER BY best_rank, n DESC, latest DESC, name_norm
                ) AS rk FROM names) GROUP BY person_key
        ), fields AS (
            SELECT person_key,
                   min(key_id18) AS id18,
                   arg_min(birth, kind_rank) FILTER (WHERE birth IS NOT NULL) AS birth_rec,
                   arg_min(sex, kind_rank) FILTER (WHERE sex IS NOT NULL) AS sex_rec,
                   min(death_date) AS death_date,
                   {picks},
                   count(*) AS n_records,
                   {d.sorted_set("source")} AS sources
            FROM rc_records GROUP BY person_key
        )
        SELECT f.person_key, f.id18,
               coalesce(a.anchor_name, np.name_pick) AS name,
               CASE WHEN f.id18 IS NOT NULL THEN
                   {d.parse_date_text("substr(f.id18, 7, 8)")} ELSE f.birth_rec END
                   AS birth_date,
               CASE WHEN f.id18 IS NULL THEN f.sex_rec
                    WHEN CAST(substr(f.id18, 17, 1) AS INTEGER) % 2 = 1 THEN 'M' ELSE 'F' END
                   AS sex,
               f.county_code, f.township, f.address, f.household_id, f.phone, f.death_date,
               CASE WHEN f.id18 IS NOT NULL THEN 'trusted' ELSE 'none' END AS id_status,
               f.n_records, f.sources
        FROM fields f
        LEFT JOIN {anchors} a ON a.id18 = f.id18
        LEFT JOIN name_pick np ON np.person_key = f.person_key
        """
    )


def links_of(
    eng: Engine,
    records: str = "person_records",
    record_cluster: str = "record_cluster",
    out: str = "links",
) -> None:
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE {out} AS
        SELECT r.source, r."row", c.person_key, r.batch_id, r.kind, r.scheme, c.method,
               r.rec_key, r.name_pinyin, r.birth_date
        FROM {records} r JOIN {record_cluster} c USING (rec_key)
        """
    )


def corrections_of(
    eng: Engine,
    records: str = "person_records",
    record_cluster: str = "record_cluster",
    out: str = "id_corrections",
) -> None:
    """``id_corrections``: every record linked to a trusted ID (``c.id18``) whose delivered ID
    should be changed to it: an invalid ID (a typo, an Excel number), a valid ID of someone else
    (a relative's, or a typo that happens to pass the check) linked here by the model or a
    decision, and a valid 15-digit ID (the 18-digit form replaces it)."""
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE {out} AS
        SELECT r.source, r."row", r.batch_id, c.person_key, r.id_norm AS id_as_delivered,
               c.id18 AS proposed_id18, c.method, r.id_errors, r.name_norm
        FROM {records} r JOIN {record_cluster} c USING (rec_key)
        WHERE c.id18 IS NOT NULL AND r.id_norm IS NOT NULL
          AND (NOT coalesce(r.id_valid, false) OR r.id18 <> c.id18 OR length(r.id_norm) = 15)
        """
    )


def enrollments_of(
    eng: Engine,
    records: str = "enrollment_records",
    record_cluster: str = "record_cluster",
    employer_links: str = "employer_links",
    out: str = "enrollments",
) -> None:
    """Enrolment history: each enrolment record with its person and (if any) employer."""
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE {out} AS
        SELECT c.person_key, e.scheme, e.status, e.start_date, e.end_date, e.county_code,
               el.employer_key, e.person_type, e.base, e.benefit, e.source, e."row",
               e.batch_id, e.as_of
        FROM {records} e
        JOIN {record_cluster} c ON c.rec_key = e.batch_id || ':' || CAST(e."row" AS varchar)
        LEFT JOIN {employer_links} el ON el.batch_id = e.batch_id AND el."row" = e."row"
        """
    )
