"""Deterministic repair links and the ID corrections they propose.

- An ID that fails its check character -- whatever else the same typo broke: the birth date
  (month 13, day 92), the region -- has one-edit repair candidates
  (:func:`canbao.standards.citizen_id.repair_candidates_frame`; ``check_failed`` of
  :mod:`canbao.registry.person_records`). Method ``check_character``.
- An ID that went through a number (``excel_number``: Excel's display, a program's double) or a
  valid-looking ID ending in 000 kept only its first 15 digits, which are P or P - 1
  (:func:`canbao.standards.citizen_id.excel_prefixes`); every trusted ID starting with either is
  a candidate. Method ``excel_prefix``.

A candidate *agrees* when it is a trusted ID whose anchor name (or its pinyin) is the record's
name, and the sex and birth date the record states (where it states them) are those coded in
the candidate -- the test a valid ID passes to be trusted (:mod:`canbao.registry.trust`). If
exactly one candidate agrees, the record links to that person and the candidate is proposed as
the correction (``id_corrections``). Several agreeing candidates (namesakes born the same day
in the same county, sharing 15 digits or one edit apart) are not guessed between: the record
stays unresolved and goes to the probabilistic linkage, where such pairs land in the review
queue.
"""

from __future__ import annotations

import polars as pl

from canbao.registry.engine import Engine
from canbao.standards import citizen_id


def build_candidates(eng: Engine, records: str = "person_records") -> None:
    """``id_candidates(rec_key, candidate)`` for the records of ``records`` whose ID fails its
    check character."""
    todo = eng.fetch(f"SELECT rec_key, id_norm FROM {records} WHERE check_failed")
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


def _agrees(r: str = "r", t: str = "t") -> str:
    """SQL: trusted ID ``t.id18`` (with its anchor) agrees with record ``r``: the same name or
    pinyin, and no contradiction with the sex or (partial) birth date the record states."""
    coded_birth = (
        f"substr({t}.id18, 7, 4) || '-' || substr({t}.id18, 11, 2) || '-' || "
        f"substr({t}.id18, 13, 2)"
    )
    coded_sex = f"CASE WHEN CAST(substr({t}.id18, 17, 1) AS INT) % 2 = 1 THEN 'M' ELSE 'F' END"
    return f"""
        ({r}.name_norm = {t}.anchor_name OR {r}.name_pinyin = {t}.anchor_pinyin)
        AND ({r}.sex IS NULL OR {r}.sex = {coded_sex})
        AND ({r}.birth_date IS NULL
             OR substr({coded_birth}, 1, length({r}.birth_date)) = {r}.birth_date)
    """


def build_repair_links(
    eng: Engine, records: str = "person_records", anchors: str = "id_anchor"
) -> None:
    """``repair_links(rec_key, id18, method)``: the records with exactly one agreeing
    candidate; ``repair_ambiguous``: those with several. Repair links take precedence over
    trust: a valid-looking ID ending in 000 that is Excel damage of another trusted person's ID
    (same 15 leading digits, same name) links there.

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
            WHERE {_agrees()}
        ), prefixes AS (
            -- P, or P - 1 where the 15th digit was rounded up (two equi-joins, no OR)
            SELECT rec_key, id18, excel_suspect, name_norm, name_pinyin, sex, birth_date,
                   id_prefix15 AS prefix FROM {records} WHERE id_prefix15 IS NOT NULL
            UNION ALL
            SELECT rec_key, id18, excel_suspect, name_norm, name_pinyin, sex, birth_date,
                   id_prefix15_alt FROM {records} WHERE id_prefix15_alt IS NOT NULL
        ), trusted_prefix AS (
            SELECT *, substr(id18, 1, 15) AS prefix FROM trusted_ids
        ), by_prefix AS (
            SELECT r.rec_key, t.id18, 'excel_prefix' AS method
            FROM prefixes r
            JOIN trusted_prefix t USING (prefix)
            WHERE {_agrees()}
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
