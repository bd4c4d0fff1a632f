"""Score node pairs with the Splink model (full build: all pairs; incremental: new × all)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
from splink import DuckDBAPI, Linker

from canbao.registry import model

MODEL_FILE = "person_model.json"
TF_FILE = "tf_name_norm.parquet"
SEED = 20170628

PAIR_COLUMNS = (
    "node_id_l",
    "node_id_r",
    "match_weight",
    "match_probability",
    "gamma_id",
    "gamma_name",
    "gamma_birth",
    "gamma_sex",
    "gamma_county",
    "gamma_household",
    "mw_id",
    "mw_name",
    "mw_tf_adj_name",
    "mw_birth",
    "mw_sex",
    "mw_county",
    "mw_household",
)

logging.getLogger("splink").setLevel(logging.WARNING)


def _linker(con: duckdb.DuckDBPyConnection, table: str, model_dir: Path | None) -> Linker:
    db_api = DuckDBAPI(connection=con)
    sdf = db_api.register(table)
    if model_dir is not None and (model_dir / MODEL_FILE).exists():
        linker = Linker(sdf, str(model_dir / MODEL_FILE), log_level=logging.WARNING)
    else:
        linker = Linker(sdf, model.settings(), log_level=logging.WARNING)
    return linker


def train(con: duckdb.DuckDBPyConnection, model_dir: Path) -> None:
    """Estimate u by random sampling (seeded) and save the model and the name TF table."""
    model_dir.mkdir(parents=True, exist_ok=True)
    n = con.execute("SELECT count(*) FROM nodes").fetchall()[0][0]
    linker = Linker(
        DuckDBAPI(connection=con).register("nodes"), model.settings(), log_level=logging.WARNING
    )
    if n >= 2:
        linker.training.estimate_u_using_random_sampling(
            max_pairs=min(2e6, max(n * (n - 1) / 2, 1.0)), seed=SEED, min_count_per_level=None
        )
    settings = linker.misc.save_model_to_json()
    settings["probability_two_random_records_match"] = prior(con)
    (model_dir / MODEL_FILE).write_text(json.dumps(settings, indent=1), encoding="utf-8")
    con.execute(
        f"""
        COPY (
            SELECT name_norm, count(*)::DOUBLE / sum(count(*)) OVER () AS tf_name_norm
            FROM nodes WHERE name_norm IS NOT NULL GROUP BY name_norm ORDER BY name_norm
        ) TO '{model_dir / TF_FILE}' (FORMAT parquet)
        """
    )


def prior(con: duckdb.DuckDBPyConnection) -> float:
    """The prior match probability of two random nodes: each unresolved node (B) is expected to
    have one true match among all nodes."""
    n, b = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE node_type = 'B') FROM nodes"
    ).fetchall()[0]
    pairs = max(n * (n - 1) / 2, 1.0)
    return float(min(max(b, 1) / pairs, 0.5))


def _register_tf(linker: Linker, con: duckdb.DuckDBPyConnection, model_dir: Path) -> None:
    con.execute(
        f"CREATE OR REPLACE TABLE tf_lookup AS SELECT * FROM read_parquet('{model_dir / TF_FILE}')"
    )
    tf = linker._db_api.register("tf_lookup")
    linker.table_management.register_term_frequency_lookup(tf, "name_norm")


def _normalised(table: str) -> str:
    cols = ", ".join(c for c in PAIR_COLUMNS if not c.startswith("node_id"))
    return f"""
        SELECT least(node_id_l, node_id_r) AS node_id_l,
               greatest(node_id_l, node_id_r) AS node_id_r, {cols}
        FROM {table}
    """


def score(
    con: duckdb.DuckDBPyConnection,
    model_dir: Path,
    threshold: float,
    new_nodes: str | None = None,
    old_nodes: str | None = None,
) -> None:
    """Create table ``scored_pairs``. With ``new_nodes``/``old_nodes`` score only pairs that
    involve a new node (new × old and new × new); otherwise score every blocked pair."""
    linker = _linker(con, "nodes", model_dir)
    _register_tf(linker, con, model_dir)
    db_api = linker._db_api
    if new_nodes is None:
        sdf = linker.inference.predict_within(
            db_api.register("nodes", table_name="__all_nodes"),
            threshold_match_probability=threshold,
            warning_mode="never",
        )
        con.execute(f"CREATE OR REPLACE TABLE scored_pairs AS {_normalised(sdf.physical_name)}")
        return
    assert old_nodes is not None
    within = linker.inference.predict_within(
        db_api.register(new_nodes, table_name="__new_nodes"),
        threshold_match_probability=threshold,
        warning_mode="never",
    )
    between = linker.inference.predict_between(
        db_api.register(new_nodes, table_name="__new_nodes_l"),
        db_api.register(old_nodes, table_name="__old_nodes_r"),
        threshold_match_probability=threshold,
        warning_mode="never",
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE scored_pairs AS
        {_normalised(within.physical_name)} UNION ALL {_normalised(between.physical_name)}
        """
    )
