"""Deterministic linkage on trusted IDs.

A record's ID is *trusted* when it is valid, the birth date and sex coded in it agree with the
record's own birth date and sex (where the record has them; a partial birth date 1990-05 must be
a prefix), and the record's name agrees with the ID's anchor name (the same name, or the same
pinyin: homophone typing errors). The anchor name of an ID is the name most of its otherwise
consistent records carry, the household register breaking ties. A valid ID that fails these tests
is probably a relative's (parents' IDs on children's records are common): the record goes to the
probabilistic linkage with its ID set aside. Names confirmed by a record that states the full
birth date and sex coded in the ID rank first: a relative's records may outnumber the owner's.
"""

from __future__ import annotations

from canbao.registry.engine import Engine

_CONSISTENT = """
    r.id_valid
    AND (r.birth_date IS NULL
         OR substr(cast(r.id_birth AS varchar), 1, length(r.birth_date)) = r.birth_date)
    AND (r.sex IS NULL OR r.sex = r.id_sex)
"""


def build_anchors(eng: Engine, records: str = "person_records", out: str = "id_anchor") -> None:
    """``out(id18, anchor_name, anchor_pinyin, household_key)`` for the IDs of ``records``: an
    ID's anchor depends only on its own records, so an incremental build recomputes it for the
    IDs of new and superseded records alone. ``household_key``: the household of the ID's owner
    (from the household register), where a relative carrying that ID lives."""
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE {out} AS
        WITH counted AS (
            SELECT r.id18, r.name_norm, min(r.name_pinyin) AS name_pinyin,
                   min(r.kind_rank) AS best_rank, count(*) AS n,
                   -- a record that states the full birth date and the sex coded in the ID
                   max(CASE WHEN length(r.birth_date) = 10 AND r.sex IS NOT NULL
                            THEN 1 ELSE 0 END) AS confirmed
            FROM {records} r
            WHERE {_CONSISTENT} AND r.name_norm IS NOT NULL
            GROUP BY r.id18, r.name_norm
        ), ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY id18 ORDER BY confirmed DESC, n DESC, best_rank, name_norm) AS rn
            FROM counted
        ), anchors AS (
            SELECT id18, name_norm AS anchor_name, name_pinyin AS anchor_pinyin
            FROM ranked WHERE rn = 1
        ), households AS (
            SELECT r.id18, min(r.household_key) AS household_key
            FROM {records} r JOIN anchors a ON a.id18 = r.id18
            WHERE r.kind = 'population' AND r.household_key IS NOT NULL
              AND (r.name_norm = a.anchor_name OR r.name_pinyin = a.anchor_pinyin)
            GROUP BY r.id18
        )
        SELECT a.id18, a.anchor_name, a.anchor_pinyin, h.household_key
        FROM anchors a LEFT JOIN households h ON h.id18 = a.id18
        """
    )


def trusted_condition(r: str = "r", a: str = "a") -> str:
    """SQL: record ``r`` carries a trusted ID (``a``: its ID's row of ``id_anchor``). A record
    repair-linked to another ID (:mod:`canbao.registry.repair`) is not trusted even so."""
    return f"""
        ({_CONSISTENT.replace("r.", r + ".")}
         AND ({r}.name_norm IS NULL OR {a}.anchor_name IS NULL
              OR {r}.name_norm = {a}.anchor_name OR {r}.name_pinyin = {a}.anchor_pinyin))
    """
