"""Score node pairs with the Splink model (full build: all pairs; incremental: new × all)."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import duckdb
from splink import DuckDBAPI, Linker

from canbao.registry import model

MODEL_FILE = "person_model.json"
VERSION_FILE = "model_code_version.txt"
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
    "gamma_phone",
    "gamma_employer",
    "mw_id",
    "mw_name",
    "mw_tf_adj_name",
    "mw_birth",
    "mw_sex",
    "mw_county",
    "mw_household",
    "mw_phone",
    "mw_employer",
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
            max_pairs=min(5e5, max(n * (n - 1) / 2, 1.0)), seed=SEED
        )
    settings = linker.misc.save_model_to_json()
    (model_dir / VERSION_FILE).write_text(code_version(), encoding="utf-8")
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


def code_version() -> str:
    """A digest of the model as written in code (comparisons, levels, m values, blocking)."""
    settings = model.settings().create_settings_dict("duckdb")
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def model_is_current(model_dir: Path) -> bool:
    """True when a trained model exists and was trained from the model code now running."""
    version = model_dir / VERSION_FILE
    return (
        (model_dir / MODEL_FILE).exists()
        and version.exists()
        and version.read_text(encoding="utf-8").strip() == code_version()
    )


def prior(con: duckdb.DuckDBPyConnection) -> float:
    """The prior probability that a compared pair matches.

    Only pairs with an unresolved node (B) are ever compared, and such a node is one person out
    of the city's N: the prior is 1/N, with N the number of trusted persons (at least 1,000, so
    that a tiny extract does not make every pair look likely).
    """
    n = con.execute(
        "SELECT count(DISTINCT cluster_hint) FROM nodes WHERE node_type = 'A'"
    ).fetchall()[0][0]
    return 1.0 / max(int(n), 1000)


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
