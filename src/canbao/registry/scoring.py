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


def _run(
    con: duckdb.DuckDBPyConnection, linker: Linker, threshold: float, kind: str, *tables: str
) -> str | None:
    """Score pairs ``within`` one table or ``between`` two; returns the result table's name."""
    db_api = linker._db_api
    counts = [con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables]
    if min(counts) == 0 or (kind == "within" and counts[0] < 2):
        return None
    regs = [db_api.register(t, table_name=f"__{kind}_{'_'.join(tables)}_{t}") for t in tables]
    if kind == "within":
        sdf = linker.inference.predict_within(
            regs[0], threshold_match_probability=threshold, warning_mode="never"
        )
    else:
        sdf = linker.inference.predict_between(
            regs[0], regs[1], threshold_match_probability=threshold, warning_mode="never"
        )
    return str(sdf.physical_name)


def _empty_pairs() -> str:
    def typ(c: str) -> str:
        if c.startswith(("match", "mw")):
            return "DOUBLE"
        return "INTEGER" if c.startswith("gamma") else "VARCHAR"

    cols = ", ".join(f"CAST(NULL AS {typ(c)}) AS {c}" for c in PAIR_COLUMNS)
    return f"SELECT {cols} LIMIT 0"


def score(
    con: duckdb.DuckDBPyConnection,
    model_dir: Path,
    threshold: float,
    new_nodes: str | None = None,
    old_nodes: str | None = None,
) -> None:
    """Create table ``scored_pairs``.

    Unresolved nodes (B) are scored against trusted nodes (A) with ``predict_between`` and among
    themselves with ``predict_within``; A–A pairs are never generated. With ``new_nodes`` and
    ``old_nodes`` only pairs involving a new node are scored:
    new B × all A, old B × new A, new B × new B and new B × old B — together with the previous
    build's pairs this is exactly the full build's pair set.
    """
    linker = _linker(con, "nodes", model_dir)
    _register_tf(linker, con, model_dir)
    results: list[str | None] = []
    if new_nodes is None:
        con.execute("CREATE OR REPLACE TABLE _b AS SELECT * FROM nodes WHERE node_type = 'B'")
        con.execute("CREATE OR REPLACE TABLE _a AS SELECT * FROM nodes WHERE node_type = 'A'")
        results.append(_run(con, linker, threshold, "between", "_b", "_a"))
        results.append(_run(con, linker, threshold, "within", "_b"))
    else:
        assert old_nodes is not None
        for name, src, typ in (
            ("_nb", new_nodes, "B"),
            ("_na", new_nodes, "A"),
            ("_ob", old_nodes, "B"),
        ):
            con.execute(
                f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {src} WHERE node_type = '{typ}'"
            )
        con.execute("CREATE OR REPLACE TABLE _a AS SELECT * FROM nodes WHERE node_type = 'A'")
        results.append(_run(con, linker, threshold, "between", "_nb", "_a"))
        results.append(_run(con, linker, threshold, "between", "_ob", "_na"))
        results.append(_run(con, linker, threshold, "within", "_nb"))
        results.append(_run(con, linker, threshold, "between", "_nb", "_ob"))
    parts = [_normalised(t) for t in results if t is not None]
    if not parts:
        parts = [_empty_pairs()]
    con.execute("CREATE OR REPLACE TABLE scored_pairs AS " + " UNION ALL ".join(parts))
