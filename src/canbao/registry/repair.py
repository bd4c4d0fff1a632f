"""Deterministic repair links and the ID corrections they propose.

- An ID invalid only through its check character has one-edit repair candidates
  (:func:`canbao.standards.citizen_id.repair_candidates_frame`). If exactly one candidate is a
  trusted ID whose anchor name agrees with the record's name, the record links to that person
  and the candidate is proposed as the correction.
- An ID that went through Excel kept its first 15 significant digits: if exactly one trusted ID
  starts with them and its anchor name agrees, the record links to it.

Several agreeing candidates (e.g. two namesakes one edit apart) are not guessed between: the pair
goes to the review queue.
"""

from __future__ import annotations

import polars as pl

from canbao.registry.engine import Engine
from canbao.standards import citizen_id


def build_candidates(eng: Engine, records: str = "person_records") -> None:
    """``id_candidates(rec_key, candidate)`` for the records of ``records`` whose ID is invalid
    only through its check character."""
    todo = eng.fetch(f"SELECT rec_key, id_norm FROM {records} WHERE checksum_only")
    if todo.height:
        cands = citizen_id.repair_candidates_frame(todo["id_norm"])
        frame = todo.select("rec_key").with_columns(candidates=cands["candidates"])
    else:
        frame = pl.DataFrame(schema={"rec_key": pl.Utf8, "candidates": pl.List(pl.Utf8)})
    eng.create_table_from_arrow("_cands", frame.to_arrow())
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE id_candidates AS
        SELECT rec_key, {eng.dialect.explode("candidates")} AS candidate FROM _cands
        """
    )


def build_repair_links(
    eng: Engine, records: str = "person_records", anchors: str = "id_anchor"
) -> None:
    """Repair links take precedence over trust: a valid-looking ID ending in 000 that is Excel
    damage of another trusted person's ID (same 15 leading digits, same name) links there.

    The trusted IDs are those of ``id_anchor`` (an ID's anchor name comes from one of its
    trusted records)."""
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE repair_hits AS
        WITH trusted_ids AS (
            SELECT id18, anchor_name, anchor_pinyin FROM {anchors}
        ), by_candidate AS (
            SELECT c.rec_key, t.id18, 'check_character' AS method
            FROM id_candidates c
            JOIN {records} r USING (rec_key)
            JOIN trusted_ids t ON t.id18 = c.candidate
            WHERE r.name_norm = t.anchor_name OR r.name_pinyin = t.anchor_pinyin
        ), prefixes AS (
            -- the shown 15 digits, or one less where Excel rounded up (two equi-joins, no OR)
            SELECT rec_key, id18, excel_suspect, name_norm, name_pinyin,
                   id_prefix15 AS prefix FROM {records} WHERE id_prefix15 IS NOT NULL
            UNION ALL
            SELECT rec_key, id18, excel_suspect, name_norm, name_pinyin,
                   id_prefix15_alt FROM {records} WHERE id_prefix15_alt IS NOT NULL
        ), trusted_prefix AS (
            SELECT *, substr(id18, 1, 15) AS prefix FROM trusted_ids
        ), by_prefix AS (
            SELECT r.rec_key, t.id18, 'excel_prefix' AS method
            FROM prefixes r
            JOIN trusted_prefix t USING (prefix)
            WHERE (r.name_norm = t.anchor_name OR r.name_pinyin = t.anchor_pinyin)
              -- a valid-looking ID ending in 000 moves only to another person's ID
              AND (NOT r.excel_suspect OR t.id18 <> r.id18)
        )
        SELECT * FROM by_candidate UNION ALL SELECT * FROM by_prefix
        """
    )
    eng.execute(
        """
        CREATE OR REPLACE TABLE repair_links AS
        SELECT rec_key, min(id18) AS id18, min(method) AS method
        FROM repair_hits GROUP BY rec_key HAVING count(DISTINCT id18) = 1
        """
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE repair_ambiguous AS
        SELECT rec_key, {eng.dialect.sorted_set("id18")} AS id18s
        FROM repair_hits GROUP BY rec_key HAVING count(DISTINCT id18) > 1
        """
    )
