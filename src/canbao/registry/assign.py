"""From scored pairs to clusters: best-match assignment, the review queue, stored decisions.

Rules (one place):
- An unresolved record (B node) joins the trusted person (A) it matches best, if that match is at
  or above the upper threshold ``UPPER`` and no other trusted person is within ``MARGIN`` match weight of it
  (namesakes: same name and birthday, both trusted, are never guessed between: review), and
  neither the names nor the ID numbers (where both are present) differ entirely.
- Trusted persons never merge with each other: A–A pairs are never even scored.
- B nodes that join no trusted person are clustered among themselves (connected components over
  B–B pairs at or above the stricter ``UPPER_BB``) and get a surrogate key.
- Pairs between the lower and the upper threshold, and ambiguous best matches, go to the review
  queue with their evidence. A stored decision ("same" / "different") overrides the model in
  every later build.
"""

from __future__ import annotations

from splink.clustering import cluster_pairwise_predictions_at_threshold

from canbao.registry.engine import Engine

UPPER = 0.70  # B→A: join a trusted person (only if no other trusted person is close)
UPPER_BB = 0.99  # B–B: two records without a trusted ID are one person
LOWER = 0.50
MARGIN = 3.0  # match weight (log2 Bayes factor) a best match must lead the runner-up by
GAMMA_ELSE = 0  # Splink's comparison-vector value of a comparison's ELSE level


# intermediate tables, dropped by the build once the stage is done
WORK_TABLES = (
    "directed",
    "ba_best",
    "b_assigned",
    "bb_edges",
    "b_free",
    "bb_links",
    "b_components",
)


def assign(eng: Engine, pairs: str = "pairs", nodes: str = "nodes") -> None:
    """``node_cluster`` and ``review_items`` from the scored ``pairs`` between ``nodes``. A B
    node's cluster depends only on its own pairs, the decisions about it and (unassigned) its
    component over B–B pairs: an incremental build passes the pairs and nodes of the B–B
    closure of what changed."""
    d = eng.dialect
    pair_id = d.hash_hex("concat_ws('|', left_key, right_key)", 12)
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE directed AS
        -- B→A pairs, with the A side as its trusted ID (cluster)
        SELECT CASE WHEN nl.node_type = 'B' THEN p.node_id_l ELSE p.node_id_r END AS b_node,
               CASE WHEN nl.node_type = 'B' THEN nr.cluster_hint ELSE nl.cluster_hint END AS id18,
               p.match_weight, p.match_probability, p.gamma_id, p.gamma_name
        FROM {pairs} p
        JOIN {nodes} nl ON nl.node_id = p.node_id_l
        JOIN {nodes} nr ON nr.node_id = p.node_id_r
        WHERE nl.node_type <> nr.node_type
        """
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE ba_best AS
        WITH agg AS (
            SELECT x.b_node, x.id18, max(x.match_weight) AS mw, max(x.match_probability) AS prob,
                   arg_max(x.gamma_id, x.match_weight) AS gamma_id,
                   arg_max(x.gamma_name, x.match_weight) AS gamma_name,
                   max(CASE WHEN dec.decision = 'same' THEN 1 ELSE 0 END) AS forced,
                   max(CASE WHEN dec.decision = 'different' THEN 1 ELSE 0 END) AS refused
            FROM directed x
            LEFT JOIN decisions dec ON dec.left_key = x.b_node AND dec.right_key = 'A:' || x.id18
            GROUP BY x.b_node, x.id18
            UNION ALL
            -- a "same" decision counts even when the model did not score the pair
            SELECT dec.left_key, substr(dec.right_key, 3), 99.0, 1.0, -1, -1, 1, 0
            FROM decisions dec
            JOIN {nodes} n ON n.node_id = dec.left_key
            WHERE dec.decision = 'same' AND dec.right_key LIKE 'A:%'
              AND NOT EXISTS (SELECT 1 FROM directed x
                              WHERE x.b_node = dec.left_key AND 'A:' || x.id18 = dec.right_key)
        ), ranked AS (
            SELECT *,
                row_number() OVER w AS rk,
                lead(mw) OVER w AS next_mw,
                lead(prob) OVER w AS next_prob,
                lead(id18) OVER w AS next_id18
            FROM agg WHERE refused = 0
            WINDOW w AS (PARTITION BY b_node ORDER BY forced DESC, mw DESC, id18)
        )
        SELECT * FROM ranked WHERE rk = 1
        """
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE b_assigned AS
        SELECT b_node, id18, mw, prob, CASE WHEN forced = 1 THEN 'decision' ELSE 'model' END AS method
        FROM ba_best
        WHERE forced = 1
           OR (prob >= {UPPER} AND (next_prob IS NULL OR next_prob < {UPPER}
                                    OR mw - next_mw >= {MARGIN})
               -- never on a wholly different name or a clearly different ID number
               AND gamma_name <> {GAMMA_ELSE} AND gamma_id <> {GAMMA_ELSE})
        """
    )
    # B–B edges among the nodes that joined no trusted person
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE bb_edges AS
        SELECT p.node_id_l, p.node_id_r, p.match_weight, p.match_probability,
               dec.decision
        FROM {pairs} p
        JOIN {nodes} nl ON nl.node_id = p.node_id_l AND nl.node_type = 'B'
        JOIN {nodes} nr ON nr.node_id = p.node_id_r AND nr.node_type = 'B'
        LEFT JOIN decisions dec ON dec.left_key = p.node_id_l AND dec.right_key = p.node_id_r
        WHERE p.node_id_l NOT IN (SELECT b_node FROM b_assigned)
          AND p.node_id_r NOT IN (SELECT b_node FROM b_assigned)
        """
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE b_free AS
        SELECT node_id FROM {nodes}
        WHERE node_type = 'B' AND node_id NOT IN (SELECT b_node FROM b_assigned)
        """
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE bb_links AS
        SELECT node_id_l, node_id_r FROM bb_edges
        WHERE coalesce(decision, '') <> 'different'
          AND (decision = 'same' OR match_probability >= {UPPER_BB})
        """
    )
    _components(eng)
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE node_cluster AS
        SELECT node_id, 'I:' || cluster_hint AS cluster_id, 'trusted' AS method
        FROM {nodes} WHERE node_type = 'A'
        UNION ALL
        SELECT b_node, 'I:' || id18, method FROM b_assigned
        UNION ALL
        SELECT node_id, 'S:' || component, 'unresolved' FROM b_components
        """
    )
    # review queue: uncertain or ambiguous B→A, and uncertain B–B
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE review_items AS
        WITH items AS (
            SELECT b_node AS left_key, 'A:' || id18 AS right_key, mw, prob,
                   CASE WHEN prob >= {UPPER} THEN 'ambiguous' ELSE 'uncertain' END AS reason
            FROM ba_best
            WHERE forced = 0 AND b_node NOT IN (SELECT b_node FROM b_assigned) AND prob >= {LOWER}
            UNION ALL
            SELECT b_node, 'A:' || next_id18, next_mw, next_prob, 'ambiguous'
            FROM ba_best
            WHERE forced = 0 AND b_node NOT IN (SELECT b_node FROM b_assigned)
              AND prob >= {UPPER} AND next_prob >= {LOWER}
            UNION ALL
            SELECT node_id_l, node_id_r, match_weight, match_probability, 'uncertain'
            FROM bb_edges
            WHERE decision IS NULL AND match_probability < {UPPER_BB}
        )
        SELECT {pair_id} AS pair_id, * FROM items
        WHERE NOT EXISTS (SELECT 1 FROM decisions dec
                          WHERE dec.left_key = items.left_key AND dec.right_key = items.right_key)
        """
    )


def _components(eng: Engine) -> None:
    n_edges = eng.scalar("SELECT count(*) FROM bb_links")
    if n_edges == 0:
        eng.execute(
            "CREATE OR REPLACE TABLE b_components AS SELECT node_id, node_id AS component FROM b_free"
        )
        return
    db_api = eng.splink_api()
    clusters = cluster_pairwise_predictions_at_threshold(
        "b_free",
        "bb_links",
        db_api=db_api,
        node_id_column_name="node_id",
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE b_components AS
        SELECT node_id, min(node_id) OVER (PARTITION BY cluster_id) AS component
        FROM {clusters.physical_name}
        """
    )
