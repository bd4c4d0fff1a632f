"""Incremental registry update: recompute only what new and superseded batches can change.

A full build's result depends on each record through a few narrow channels, and each step below
follows one of them (the same SQL as the full build, run on the affected rows only):

1. **Anchors.** An ID's anchor (name, pinyin, owner's household) depends only on the records
   carrying that ID: recomputed for the IDs of added and superseded records (``aid``); the IDs
   whose anchor really changed are ``changed_ids``.
2. **Nodes.** A record's node depends on the record, its own ID's anchor and, for repair links,
   the anchors of its check-character candidates and Excel prefixes: recomputed for the added
   records and the records whose ID, candidate or prefix is in ``changed_ids`` (``r1``). Nodes
   left without members are dropped; nodes not seen before are new.
3. **Pairs.** A pair's score depends only on its two nodes: new nodes are scored against all
   nodes (:func:`canbao.registry.scoring.score`), pairs of dropped nodes removed.
4. **Clusters.** A B node's cluster depends on its own pairs, the decisions about it and, when
   it joins no trusted person, its component over B–B pairs: assignment reruns on the B–B
   closure (``c_b``) of the B nodes with a pair added or removed (new nodes, old nodes scored
   against new ones, neighbours of dropped nodes) and the nodes of changed decisions.
5. **Records and persons.** Links change only for ``r1`` and the members of ``c_b``; a master
   record only for the persons those records left or joined, and for IDs whose anchor changed.
6. **Employers** are reused while the employer-bearing batches are unchanged; else they are
   linked again from every employer record's cached fields
   (:func:`canbao.registry.employer_records.read_records`: only new batches are read). **Enrolments**
   (:func:`enrollments`) of relinked records are computed again; the other records' rows keep
   theirs, with the new employer where their employer link changed.

Large tables are published as layers (:mod:`canbao.registry.snapshot`): for each, the engine
holds ``<table>__rows`` (current rows of changed keys) and ``<table>__gone`` (changed or removed
keys). ``tests/registry/test_incremental.py`` proves the result equals a full rebuild.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from canbao.registry import (
    assign,
    hotkeys,
    nodes,
    record_cache,
    repair,
    scoring,
    survivorship,
    trust,
)
from canbao.registry.engine import Engine, sql_string
from canbao.registry.snapshot import Snapshot
from canbao.standards import citizen_id

# layered tables this update produces __rows/__gone for
CHANGED = (
    "id_anchor",
    "node_members",
    "nodes",
    "pairs",
    "b_cluster",
    "links",
    "persons",
    "id_corrections",
)
PREV = {
    "id_anchor": "p_anchor",
    "node_members": "p_members",
    "nodes": "p_nodes",
    "pairs": "p_pairs",
    "b_cluster": "p_bcl",
    "links": "p_links",
    "persons": "p_persons",
    "id_corrections": "p_corr",
    "review_items": "p_review",
    "decisions": "p_decisions",
    "enrollments": "p_enroll",
    "employer_links": "p_elinks",
    "employer_vkeys": "p_evkeys",
}


@dataclass
class Delta:
    """What changed in the inputs since the previous snapshot."""

    added: list[str]  # person-bearing batches (as delivered) not in the previous build
    removed: list[str]  # batches the previous build used that are gone (superseded)
    removed_entries: list[record_cache.Entry]  # their derived records (the derivation cache)
    employers_changed: bool
    added_entries: list[record_cache.Entry] = field(default_factory=list)  # the added batches'
    # the identities' batches (canbao.ingest.identity.as_origin) the previous build did not
    # have: their records are the new ones (a re-delivery's unchanged rows keep older ones)
    added_origins: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)


# the columns each step reads of the records it selects (a narrower scan of 22M records)
_NODE_COLUMNS = (
    "id18, id_birth, id_sex, check_failed, excel_suspect, id_prefix15, "
    "id_prefix15_alt, surname_py, sex, birth, county_code, household_key, phone_key, employer_org"
)
_LINK_COLUMNS = (
    'rec_key, batch_id, source, "row", kind, scheme, id_norm, id18, id_valid, id_errors, name_norm, '
    "name_pinyin, birth_date"
)
_ANCHOR_COLUMNS = (
    "id18, name_norm, name_pinyin, kind_rank, birth_date, sex, id_valid, id_birth, id_sex, "
    "kind, household_key"
)
_MASTER_COLUMNS = (
    'rec_key, source, "row", kind_rank, as_of, name_norm, birth, sex, death_date, county_code, '
    "township, address, household_id, phone"
)


def _union(*columns: str) -> str:
    return ", ".join(dict.fromkeys(c.strip() for cols in columns for c in cols.split(",")))


# the columns of the records relinked or of a recomputed person (one read serves both)
_RELINK_COLUMNS = _union(_LINK_COLUMNS, _MASTER_COLUMNS)
_ALL_COLUMNS = _union(_ANCHOR_COLUMNS, _NODE_COLUMNS, _LINK_COLUMNS, _MASTER_COLUMNS)


def _records(eng: Engine, out: str, columns: str, keys: str) -> None:
    """``out``: these columns of the records whose ``rec_key`` is in table ``keys``. Most are
    in ``touched`` (read once); the rest are read from their batches only (the batch ids as
    constants let the scan skip every other batch's files)."""
    eng.execute(
        f"CREATE OR REPLACE TABLE {out}__a AS SELECT {columns} FROM touched "
        f"WHERE rec_key IN (SELECT rec_key FROM {keys})"
    )
    eng.execute(
        f"CREATE OR REPLACE TABLE {out}__missing AS SELECT rec_key FROM {keys} "
        f"WHERE rec_key NOT IN (SELECT rec_key FROM {out}__a)"
    )
    batches = eng.fetch(
        f"SELECT DISTINCT regexp_extract(rec_key, '^(.*):[0-9]+$', 1) AS b FROM {out}__missing"
    )["b"].to_list()
    if not batches:
        eng.execute(f"CREATE OR REPLACE TABLE {out} AS SELECT * FROM {out}__a")
        return
    consts = ", ".join(_literal(b) for b in batches)
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE {out} AS
        SELECT * FROM {out}__a
        UNION ALL
        SELECT {columns} FROM person_records
        WHERE batch_id IN ({consts}) AND rec_key IN (SELECT rec_key FROM {out}__missing)
        """
    )


def _literal(text: str) -> str:
    return sql_string(text)


def _keys_table(eng: Engine, name: str, values: list[str], column: str = "batch_id") -> None:
    eng.create_table_from_arrow(name, pa.table({column: pa.array(values, pa.string())}))


def _count(eng: Engine, table: str) -> int:
    return int(eng.scalar(f"SELECT count(*) FROM {table}"))


def _merged(eng: Engine, name: str, prev: str, gone: str, rows: str, keys: tuple[str, ...]) -> None:
    """View ``name``: the previous rows whose key is not in ``gone`` (distinct keys), plus
    ``rows``."""
    on = " AND ".join(f'g."{k}" = p."{k}"' for k in keys)
    sql = (
        f'SELECT p.* FROM {prev} p LEFT JOIN {gone} g ON {on} WHERE g."{keys[0]}" IS NULL '
        f"UNION ALL SELECT * FROM {rows}"
    )
    eng.create_view(name, sql)


def _removed_records(eng: Engine, delta: Delta) -> None:
    """Table ``removed_records`` (``rec_key``, ``id18``): the records of the superseded batches
    that no added batch carries on (a re-delivery's unchanged rows are the same records)."""
    record_cache.dropped(eng, "removed_records", delta.removed_entries, delta.added_entries)


def update(
    eng: Engine,
    prev: Snapshot,
    delta: Delta,
    model_dir: Path,
    say: Callable[[str], None],
) -> list[str]:
    """Run the incremental update; returns the layered tables it changed. Afterwards the engine
    holds the merged views ``nodes``, ``pairs``, ``links``, ``persons`` … and full tables
    ``review_items`` and ``decisions``. The caller then settles the employer tables (reused,
    or linked again when ``employers_changed``) and calls :func:`enrollments`."""
    d = eng.dialect
    for table, alias in PREV.items():
        prev.register(eng, table, alias)
    # the new records' batches as constants: the scan then skips every other batch's files
    # (their batch_id statistics), instead of reading every record to test it
    added = (
        "batch_id IN (" + ", ".join(_literal(b) for b in delta.added_origins) + ")"
        if delta.added_origins
        else "false"
    )
    _removed_records(eng, delta)

    # 1. anchors of the IDs of added and superseded records
    say("增量：重算受影响身份证号的锚点 (anchors of affected IDs)")
    removed_ids = "UNION SELECT id18 FROM removed_records"
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE aid AS
        SELECT id18 FROM (SELECT id18 FROM person_records WHERE {added} {removed_ids}) x
        WHERE id18 IS NOT NULL GROUP BY id18
        """
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE touched AS
        SELECT {_ALL_COLUMNS} FROM person_records
        WHERE {added} OR check_failed OR id_prefix15 IS NOT NULL OR id_prefix15_alt IS NOT NULL
           OR id18 IN (SELECT id18 FROM aid)
        """
    )
    eng.execute(
        f"CREATE OR REPLACE TABLE aid_records AS SELECT {_ANCHOR_COLUMNS} FROM touched "
        "WHERE id18 IN (SELECT id18 FROM aid)"
    )
    trust.build_anchors(eng, "aid_records", "id_anchor__rows")
    eng.execute("CREATE OR REPLACE TABLE id_anchor__gone AS SELECT id18 FROM aid")
    eng.execute(
        """
        CREATE OR REPLACE TABLE changed_ids AS
        SELECT a.id18 FROM aid a
        LEFT JOIN id_anchor__rows n ON n.id18 = a.id18
        LEFT JOIN (SELECT * FROM p_anchor WHERE id18 IN (SELECT id18 FROM aid)) o
               ON o.id18 = a.id18
        WHERE NOT (n.id18 IS NULL AND o.id18 IS NULL)
          AND NOT coalesce(n.anchor_name = o.anchor_name
                           AND n.anchor_pinyin IS NOT DISTINCT FROM o.anchor_pinyin
                           AND n.household_key IS NOT DISTINCT FROM o.household_key, false)
        """
    )
    _merged(eng, "id_anchor", "p_anchor", "id_anchor__gone", "id_anchor__rows", ("id18",))

    # 2. records whose node may change: added ones, and those whose ID, check-character
    # candidate or Excel prefix is an ID whose anchor changed
    say("增量：重算受影响记录的节点 (nodes of affected records)")
    # delivered IDs whose check-character candidates include a changed ID (the inverse of the
    # candidate rule: no candidates are generated for the city's other records)
    changed_list = eng.fetch("SELECT id18 FROM changed_ids")["id18"]
    eng.create_table_from_arrow(
        "candidate_sources", citizen_id.repair_sources_frame(changed_list).to_arrow()
    )
    prefix = "(SELECT substr(id18, 1, 15) FROM changed_ids)"
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE r1_keys AS
        SELECT rec_key FROM (
            SELECT rec_key FROM touched WHERE {added}
            UNION ALL SELECT rec_key FROM touched WHERE id18 IN (SELECT id18 FROM changed_ids)
            UNION ALL SELECT rec_key FROM touched WHERE id_prefix15 IN {prefix}
            UNION ALL SELECT rec_key FROM touched WHERE id_prefix15_alt IN {prefix}
            UNION ALL SELECT rec_key FROM touched
                WHERE check_failed AND id_norm IN (SELECT id_norm FROM candidate_sources)
        ) k GROUP BY rec_key
        """
    )
    eng.execute(
        f"CREATE OR REPLACE TABLE r1 AS SELECT {_NODE_COLUMNS}, {_LINK_COLUMNS} "
        "FROM touched WHERE rec_key IN (SELECT rec_key FROM r1_keys)"
    )
    repair.build_candidates(eng, "r1")
    repair.build_repair_links(eng, "r1", "id_anchor")
    nodes.build_nodes(eng, "r1", "repair_links", "node_members__rows", "r1_nodes", "id_anchor")
    eng.execute(
        """
        CREATE OR REPLACE TABLE gone_recs AS
        SELECT rec_key FROM r1_keys UNION SELECT rec_key FROM removed_records
        """
    )
    eng.create_view("node_members__gone", "SELECT rec_key FROM gone_recs")
    _merged(
        eng, "node_members", "p_members", "node_members__gone", "node_members__rows", ("rec_key",)
    )
    # nodes that lost members and have none left; nodes never seen before
    eng.execute(
        """
        CREATE OR REPLACE TABLE dn_candidates AS
        SELECT node_id FROM p_members WHERE rec_key IN (SELECT rec_key FROM gone_recs)
        GROUP BY node_id
        """
    )
    eng.execute(
        """
        CREATE OR REPLACE TABLE nodes__gone AS
        SELECT node_id FROM dn_candidates
        WHERE node_id NOT IN (
            SELECT node_id FROM node_members
            WHERE node_id IN (SELECT node_id FROM dn_candidates))
        """
    )
    # the previous nodes among them found by a semi join on the few (the hash table is built
    # on them, not on every previous node)
    eng.execute(
        "CREATE OR REPLACE TABLE nodes__rows AS SELECT * FROM r1_nodes WHERE node_id NOT IN ("
        "SELECT node_id FROM p_nodes WHERE node_id IN (SELECT node_id FROM r1_nodes))"
    )
    _merged(eng, "nodes", "p_nodes", "nodes__gone", "nodes__rows", ("node_id",))
    rescore, n_flipped = "nodes__rows", 0
    if prev.has(hotkeys.TABLE):
        prev.register(eng, hotkeys.TABLE, "p_hot")
        hot = hotkeys.update(eng, "p_hot", "p_nodes", "nodes__gone", "nodes__rows")
        carriers = "hot_carriers"  # the nodes (whole) carrying a value whose count changed
    else:  # a snapshot from before the hot set was kept: counted over every node again
        hot = hotkeys.build(eng)
        hotkeys.build(eng, "p_nodes", "p_hot")
        carriers = "nodes"
    if hot != prev.info.get("hot_keys"):
        # a value crossed its threshold: the nodes carrying it are scored again with their new
        # capped keys (their old pairs go)
        n_flipped = hotkeys.flipped_nodes(eng, "p_hot", carriers)
        say(f"增量：高频键有变化，重算 {n_flipped} 个节点的关联 (hot keys changed)")
        eng.execute(
            "CREATE OR REPLACE TABLE rescore AS SELECT * FROM nodes__rows UNION ALL "
            f"SELECT * FROM {carriers} WHERE node_id IN (SELECT node_id FROM hot_flipped) "
            "AND node_id NOT IN (SELECT node_id FROM nodes__rows)"
        )
        rescore = "rescore"
    else:
        eng.execute(
            "CREATE OR REPLACE TABLE hot_flipped AS SELECT node_id FROM nodes__rows LIMIT 0"
        )
    eng.drop("hot_carriers")

    # 3. pairs: new nodes scored against all nodes; pairs of dropped nodes removed
    n_new = _count(eng, rescore)
    say(f"增量：概率关联，仅新增 {n_new} 个节点 (incremental scoring)")
    if n_new:
        eng.create_view(
            "old_nodes",
            f"SELECT * FROM nodes WHERE node_id NOT IN (SELECT node_id FROM {rescore})",
        )
        scoring.score(eng, model_dir, assign.LOWER, rescore, "old_nodes")
        cols = ", ".join(scoring.PAIR_COLUMNS)
        eng.execute(f"CREATE OR REPLACE TABLE pairs__rows AS SELECT {cols} FROM scored_pairs")
    else:
        eng.execute("CREATE OR REPLACE TABLE pairs__rows AS SELECT * FROM p_pairs LIMIT 0")
    gone_nodes = "(SELECT node_id FROM nodes__gone UNION ALL SELECT node_id FROM hot_flipped)"
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE pairs__gone AS
        SELECT node_id_l, node_id_r FROM p_pairs
        WHERE node_id_l IN {gone_nodes} OR node_id_r IN {gone_nodes}
        """
    )
    _merged(eng, "pairs", "p_pairs", "pairs__gone", "pairs__rows", ("node_id_l", "node_id_r"))

    # 4. assignment on the B–B closure of what changed
    say("增量：重新分配受影响的节点 (assignment of affected nodes)")
    eng.execute(
        """
        CREATE OR REPLACE TABLE decisions_changed AS
        SELECT left_key, right_key FROM (
            SELECT * FROM (SELECT left_key, right_key, decision FROM decisions
                           EXCEPT SELECT left_key, right_key, decision FROM p_decisions) x1
            UNION ALL
            SELECT * FROM (SELECT left_key, right_key, decision FROM p_decisions
                           EXCEPT SELECT left_key, right_key, decision FROM decisions) x2
        ) x
        """
    )
    # the current B nodes: the previous ones not dropped, and the new ones (a node's type is
    # part of its digest: it never changes)
    eng.create_view(
        "b_ids",
        "SELECT node_id FROM p_bcl WHERE node_id NOT IN (SELECT node_id FROM nodes__gone) "
        "UNION ALL SELECT node_id FROM nodes__rows WHERE node_type = 'B'",
    )
    eng.execute(
        """
        CREATE OR REPLACE TABLE c_b AS
        SELECT node_id FROM b_ids WHERE node_id IN (
            SELECT node_id FROM nodes__rows
            UNION ALL SELECT node_id_l FROM pairs__rows
            UNION ALL SELECT node_id_r FROM pairs__rows
            UNION ALL SELECT node_id_l FROM pairs__gone
            UNION ALL SELECT node_id_r FROM pairs__gone
            UNION ALL SELECT left_key FROM decisions_changed
            UNION ALL SELECT right_key FROM decisions_changed)
        """
    )
    while True:
        eng.execute(
            """
            CREATE OR REPLACE TABLE c_pairs AS
            SELECT * FROM pairs WHERE node_id_l IN (SELECT node_id FROM c_b)
            UNION ALL
            SELECT * FROM pairs WHERE node_id_r IN (SELECT node_id FROM c_b)
                                  AND node_id_l NOT IN (SELECT node_id FROM c_b)
            """
        )
        eng.execute(
            """
            CREATE OR REPLACE TABLE c_grown AS
            SELECT node_id FROM b_ids WHERE node_id IN (
                SELECT x FROM (SELECT node_id_l AS x FROM c_pairs
                               UNION ALL SELECT node_id_r FROM c_pairs) e
                WHERE x NOT IN (SELECT node_id FROM c_b))
            """
        )
        if not _count(eng, "c_grown"):
            break
        eng.execute(
            "CREATE OR REPLACE TABLE c_b AS "
            "SELECT node_id FROM c_b UNION ALL SELECT node_id FROM c_grown"
        )
    eng.execute(
        """
        CREATE OR REPLACE TABLE c_nodes AS
        SELECT * FROM nodes WHERE node_id IN (
            SELECT node_id_l FROM c_pairs UNION ALL SELECT node_id_r FROM c_pairs
            UNION ALL SELECT node_id FROM c_b)
        """
    )
    assign.assign(eng, "c_pairs", "c_nodes")
    eng.execute(
        "CREATE OR REPLACE TABLE b_cluster__rows AS SELECT node_id, cluster_id, method "
        "FROM node_cluster WHERE node_id IN (SELECT node_id FROM c_b)"
    )
    eng.execute(
        "CREATE OR REPLACE TABLE b_cluster__gone AS "
        "SELECT node_id FROM c_b UNION SELECT node_id FROM nodes__gone"
    )
    _merged(eng, "b_cluster", "p_bcl", "b_cluster__gone", "b_cluster__rows", ("node_id",))
    eng.execute(
        """
        CREATE OR REPLACE TABLE review_new AS
        SELECT * FROM p_review WHERE left_key NOT IN (SELECT node_id FROM b_cluster__gone)
        UNION ALL SELECT * FROM review_items
        """
    )
    eng.execute("CREATE OR REPLACE TABLE review_items AS SELECT * FROM review_new")

    # 5. records whose person may change, and the persons they left or joined
    say("增量：更新记录归属与主记录 (links and master records)")
    eng.execute(
        "CREATE OR REPLACE TABLE cb_members AS SELECT * FROM node_members "
        "WHERE node_id IN (SELECT node_id FROM c_b)"
    )
    eng.execute(
        "CREATE OR REPLACE TABLE rc_keys AS "
        "SELECT rec_key FROM r1_keys UNION SELECT rec_key FROM cb_members"
    )
    eng.execute(
        "CREATE OR REPLACE TABLE rc_members AS SELECT * FROM node_members__rows "
        "UNION ALL SELECT * FROM cb_members WHERE rec_key NOT IN (SELECT rec_key FROM r1_keys)"
    )
    survivorship.record_clusters(eng, "rc_members", "repair_links", "b_cluster", "rc_cluster")
    eng.execute(
        "CREATE OR REPLACE TABLE links__gone AS "
        "SELECT rec_key FROM gone_recs UNION SELECT rec_key FROM rc_keys"
    )
    pkey = survivorship.person_key_of_id(d, "id18")
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE persons__gone AS
        SELECT person_key FROM (
            SELECT person_key FROM p_links WHERE rec_key IN (SELECT rec_key FROM links__gone)
            UNION ALL SELECT person_key FROM rc_cluster
            UNION ALL SELECT {pkey} FROM changed_ids
        ) x GROUP BY person_key
        """
    )
    eng.execute(
        """
        CREATE OR REPLACE TABLE pk_cluster AS
        SELECT rec_key, person_key, id18 FROM rc_cluster
        WHERE person_key IN (SELECT person_key FROM persons__gone)
        UNION ALL
        SELECT l.rec_key, l.person_key, p.id18
        FROM (SELECT rec_key, person_key FROM p_links
              WHERE person_key IN (SELECT person_key FROM persons__gone)
                AND rec_key NOT IN (SELECT rec_key FROM links__gone)) l
        LEFT JOIN (SELECT person_key, id18 FROM p_persons
                   WHERE person_key IN (SELECT person_key FROM persons__gone)) p
               ON p.person_key = l.person_key
        """
    )
    # the records relinked (beyond r1) and those of the persons recomputed: read in one pass
    eng.execute(
        """
        CREATE OR REPLACE TABLE rc_read AS
        SELECT rec_key FROM rc_keys WHERE rec_key NOT IN (SELECT rec_key FROM r1_keys)
        UNION SELECT rec_key FROM pk_cluster
        """
    )
    _records(eng, "rc_read_recs", _RELINK_COLUMNS, "rc_read")
    eng.execute(
        f"CREATE OR REPLACE TABLE rc_recs AS SELECT {_LINK_COLUMNS} FROM r1 "
        f"UNION ALL SELECT {_LINK_COLUMNS} FROM rc_read_recs "
        "WHERE rec_key IN (SELECT rec_key FROM rc_keys) "
        "AND rec_key NOT IN (SELECT rec_key FROM r1_keys)"
    )
    survivorship.links_of(eng, "rc_recs", "rc_cluster", "links__rows")
    _merged(eng, "links", "p_links", "links__gone", "links__rows", ("rec_key",))
    survivorship.corrections_of(eng, "rc_recs", "rc_cluster", "id_corrections__rows")
    eng.execute(
        """
        CREATE OR REPLACE TABLE id_corrections__gone AS
        SELECT batch_id, "row" FROM rc_recs
        UNION SELECT batch_id, "row" FROM p_links
            WHERE rec_key IN (SELECT rec_key FROM removed_records)
        """
    )
    _merged(
        eng,
        "id_corrections",
        "p_corr",
        "id_corrections__gone",
        "id_corrections__rows",
        ("batch_id", "row"),
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE pk_records AS
        SELECT {_MASTER_COLUMNS} FROM rc_read_recs
        WHERE rec_key IN (SELECT rec_key FROM pk_cluster)
        """
    )
    survivorship.source_order(eng, "person_records")
    survivorship.persons_of(eng, "pk_records", "pk_cluster", "id_anchor", "persons__rows")
    _merged(eng, "persons", "p_persons", "persons__gone", "persons__rows", ("person_key",))
    delta.stats = {
        "records_added": int(eng.scalar(f"SELECT count(*) FROM touched WHERE {added}")),
        "records_removed": _count(eng, "removed_records"),
        "affected_ids": _count(eng, "aid"),
        "changed_anchors": _count(eng, "changed_ids"),
        "records_renoded": _count(eng, "r1_keys"),
        "new_nodes": _count(eng, "nodes__rows"),
        "hot_key_nodes_rescored": n_flipped,
        "dropped_nodes": _count(eng, "nodes__gone"),
        "closure_b_nodes": _count(eng, "c_b"),
        "records_relinked": _count(eng, "rc_keys"),
        "persons_recomputed": _count(eng, "persons__gone"),
    }
    return list(CHANGED)


def enrollments(
    eng: Engine,
    read_enrollments: Callable[[list[str]], None],
    employers_changed: bool,
    links_layered: bool = False,
) -> None:
    """``enrollments__rows`` / ``__gone`` and the merged view ``enrollments``, once the
    employer tables are settled (reused: ``p_elinks`` is ``employer_links``). An enrolment row
    depends on its record, its person and its record's employer link: the relinked records'
    rows are computed again (and those of removed records go); when the employers were linked
    again, the other records whose employer link changed keep their row with the new
    employer. ``links_layered``: the employer links were updated, not made afresh (only the
    keys in ``employer_links__gone`` can have changed: their rows are in ``__rows``)."""
    keys = eng.fetch("SELECT rec_key FROM rc_recs WHERE kind = 'enrollment'")
    read_enrollments(keys["rec_key"].to_list())
    survivorship.enrollments_of(
        eng, "enrollment_records", "rc_cluster", "employer_links", "enrollments__fresh"
    )
    if not employers_changed:
        eng.create_view("enrollments__rows", "SELECT * FROM enrollments__fresh")
        eng.create_view("enrollments__gone", 'SELECT batch_id, "row" FROM id_corrections__gone')
    else:
        # enrolment records whose employer link is not what it was (new, other, or none)
        new, old = "SELECT * FROM employer_links", "SELECT * FROM p_elinks"
        if links_layered:
            new = "SELECT * FROM employer_links__rows"
            old = (
                "SELECT p.* FROM p_elinks p JOIN employer_links__gone g "
                'ON g.batch_id = p.batch_id AND g."row" = p."row"'
            )
        eng.execute(
            f"""
            CREATE OR REPLACE TABLE el_changed AS
            SELECT coalesce(n.batch_id, o.batch_id) AS batch_id,
                   coalesce(n."row", o."row") AS "row", n.employer_key
            FROM (SELECT batch_id, "row", employer_key FROM ({new}) AS x
                  WHERE kind = 'enrollment') n
            FULL OUTER JOIN (SELECT batch_id, "row", employer_key FROM ({old}) AS y
                             WHERE kind = 'enrollment') o
              ON o.batch_id = n.batch_id AND o."row" = n."row"
            WHERE n.employer_key IS DISTINCT FROM o.employer_key
               OR (n.batch_id IS NULL) <> (o.batch_id IS NULL)
            """
        )
        eng.execute(
            """
            CREATE OR REPLACE TABLE enrollments__moved AS
            SELECT p.person_key, p.scheme, p.status, p.start_date, p.end_date, p.county_code,
                   c.employer_key, p.person_type, p.base, p.benefit, p.source, p."row",
                   p.batch_id, p.as_of
            FROM p_enroll p
            JOIN el_changed c ON c.batch_id = p.batch_id AND c."row" = p."row"
            LEFT JOIN id_corrections__gone g ON g.batch_id = p.batch_id AND g."row" = p."row"
            WHERE g.batch_id IS NULL
            """
        )
        eng.create_view(
            "enrollments__rows",
            "SELECT * FROM enrollments__fresh UNION ALL SELECT * FROM enrollments__moved",
        )
        eng.create_view(
            "enrollments__gone",
            'SELECT batch_id, "row" FROM id_corrections__gone '
            'UNION SELECT batch_id, "row" FROM el_changed',
        )
    _merged(
        eng,
        "enrollments",
        "p_enroll",
        "enrollments__gone",
        "enrollments__rows",
        ("batch_id", "row"),
    )
