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

from canbao.registry import trust
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


def build_nodes(
    eng: Engine,
    records: str = "person_records",
    repair_links: str = "repair_links",
    members: str = "node_members",
    nodes: str = "nodes",
    anchors: str = "id_anchor",
) -> None:
    """``node_members`` (every record that is not repair-linked: its node, node type and, for a
    trusted record, its ID as ``cluster_hint``) and ``nodes``. One pass over the records: trust
    (:func:`canbao.registry.trust.trusted_condition`) is decided here, per record."""
    d = eng.dialect
    digest = d.hash_hex(
        "concat_ws('|', node_type, " + ", ".join(f"coalesce({c}, '~')" for c in NODE_FIELDS) + ")",
        24,
    )
    a_ = "r.node_type = 'A'"
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE {members} AS
        WITH typed AS (
            SELECT r.*, a.anchor_name, a.anchor_pinyin, a.household_key AS id_owner_household,
                   CASE WHEN {trust.trusted_condition("r", "a")} THEN 'A' ELSE 'B' END
                       AS node_type
            FROM {records} r
            LEFT JOIN {anchors} a ON a.id18 = r.id18
            WHERE r.rec_key NOT IN (SELECT rec_key FROM {repair_links})
        ), fielded AS (
            SELECT r.rec_key, r.node_type,
                   CASE WHEN {a_} THEN r.id18 END AS cluster_hint,
                   CASE WHEN {a_} THEN r.id18
                        WHEN r.id_valid THEN NULL ELSE r.id_norm END AS id_norm,
                   CASE WHEN {a_} THEN NULL ELSE r.id_prefix15 END AS id_prefix15,
                   CASE WHEN {a_} THEN NULL ELSE r.id_prefix15_alt END AS id_prefix15_alt,
                   CASE WHEN {a_} THEN coalesce(r.name_norm, r.anchor_name)
                        ELSE r.name_norm END AS name_norm,
                   CASE WHEN {a_} THEN coalesce(r.name_pinyin, r.anchor_pinyin)
                        ELSE r.name_pinyin END AS name_pinyin,
                   r.surname_py,
                   CASE WHEN {a_} THEN {d.date_text("r.id_birth")}
                        WHEN r.birth IS NOT NULL THEN {d.date_text("r.birth")}
                        WHEN NOT r.id_valid THEN {d.date_text("r.id_birth")} END AS birth,
                   CASE WHEN {a_} THEN r.id_sex
                        WHEN r.sex IS NOT NULL THEN r.sex
                        WHEN NOT r.id_valid THEN r.id_sex END AS sex,
                   r.county_code, r.household_key,
                   CASE WHEN r.node_type = 'B' AND r.id_valid THEN r.id_owner_household END
                       AS owner_household,
                   r.phone_key, r.employer_org
            FROM typed r
        )
        SELECT *, {digest} AS node_id FROM fielded
        """
    )
    # node_id is a digest of the fields: one group per node, any member's values will do
    fields = ", ".join(f"any_value({c}) AS {c}" for c in NODE_FIELDS)
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE {nodes} AS
        SELECT node_id, any_value(node_type) AS node_type,
               any_value(cluster_hint) AS cluster_hint, {fields}
        FROM {members}
        GROUP BY node_id
        """
    )
    eng.execute(
        f"CREATE OR REPLACE TABLE {members} AS "
        f"SELECT rec_key, node_id, node_type, cluster_hint FROM {members}"
    )
