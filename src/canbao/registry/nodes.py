"""Linkage nodes: what the probabilistic model compares.

- **A nodes** stand for trusted persons: the distinct (ID, name, county, household) variants of
  their trusted records. Their birth date and sex are the ones coded in the ID.
- **B nodes** are the records that are neither trusted nor repair-linked, grouped when all their
  compared fields are equal. A record carrying someone else's valid ID has that ID set aside and
  gets ``owner_household`` (where the ID's owner lives) instead.

A node's id is a digest of its type and fields, so the same data gives the same nodes in every
build: this is what lets an incremental update score only new nodes and still equal a rebuild.
"""

from __future__ import annotations

from canbao.registry.engine import Engine

NODE_FIELDS = (
    "id_norm",
    "id_prefix15",
    "id_prefix15_alt",
    "name_norm",
    "name_pinyin",
    "surname_py",
    "birth",
    "sex",
    "county_code",
    "household_key",
    "owner_household",
    "phone_key",
    "employer_org",
)


def build_nodes(eng: Engine) -> None:
    d = eng.dialect
    digest = d.hash_hex(
        "concat_ws('|', node_type, " + ", ".join(f"coalesce({c}, '~')" for c in NODE_FIELDS) + ")",
        24,
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE node_members AS
        WITH a_rec AS (
            SELECT r.rec_key, 'A' AS node_type, t.id18 AS cluster_hint,
                   t.id18 AS id_norm, CAST(NULL AS varchar) AS id_prefix15,
                   CAST(NULL AS varchar) AS id_prefix15_alt,
                   coalesce(r.name_norm, a.anchor_name) AS name_norm,
                   coalesce(r.name_pinyin, a.anchor_pinyin) AS name_pinyin,
                   r.surname_py,
                   {d.date_text("r.id_birth")} AS birth,
                   r.id_sex AS sex, r.county_code, r.household_key,
                   CAST(NULL AS varchar) AS owner_household, r.phone_key, r.employer_org
            FROM person_records r
            JOIN trusted t USING (rec_key)
            LEFT JOIN id_anchor a ON a.id18 = t.id18
        ), b_rec AS (
            SELECT r.rec_key, 'B' AS node_type, CAST(NULL AS varchar) AS cluster_hint,
                   CASE WHEN r.id_valid THEN NULL ELSE r.id_norm END AS id_norm,
                   r.id_prefix15, r.id_prefix15_alt,
                   r.name_norm, r.name_pinyin, r.surname_py,
                   CASE WHEN r.birth IS NOT NULL THEN {d.date_text("r.birth")}
                        WHEN NOT r.id_valid THEN {d.date_text("r.id_birth")} END AS birth,
                   CASE WHEN r.sex IS NOT NULL THEN r.sex
                        WHEN NOT r.id_valid THEN r.id_sex END AS sex,
                   r.county_code, r.household_key,
                   CASE WHEN r.id_valid THEN h.household_key END AS owner_household,
                   r.phone_key, r.employer_org
            FROM person_records r
            LEFT JOIN trusted t USING (rec_key)
            LEFT JOIN repair_links x ON x.rec_key = r.rec_key
            LEFT JOIN id_household h ON h.id18 = r.id18
            WHERE t.rec_key IS NULL AND x.rec_key IS NULL
        ), unioned AS (
            SELECT * FROM a_rec UNION ALL SELECT * FROM b_rec
        )
        SELECT *, {digest} AS node_id FROM unioned
        """
    )
    # node_id is a digest of the fields: one group per node, any member's values will do
    fields = ", ".join(f"min({c}) AS {c}" for c in NODE_FIELDS)
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE nodes AS
        SELECT node_id, min(node_type) AS node_type, min(cluster_hint) AS cluster_hint, {fields}
        FROM node_members
        GROUP BY node_id
        """
    )
    eng.execute(
        "CREATE OR REPLACE TABLE node_members AS SELECT rec_key, node_id, node_type FROM node_members"
    )
