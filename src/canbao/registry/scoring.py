"""Score node pairs with the Splink model (full build: all pairs; incremental: new × all)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from splink import Linker

from canbao.registry import hotkeys, model
from canbao.registry.dialect import DUCKDB, Dialect
from canbao.registry.engine import Engine
from canbao.warehouse import skew

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


def _linker(eng: Engine, table: str, model_dir: Path | None) -> Linker:
    sdf = eng.splink_api().register(table)
    if model_dir is not None and (model_dir / MODEL_FILE).exists():
        saved = json.loads((model_dir / MODEL_FILE).read_text(encoding="utf-8"))
        if eng.name != "duckdb":
            saved = _for_dialect(saved, eng.dialect)
        linker = Linker(sdf, saved, log_level=logging.WARNING)
    else:
        linker = Linker(sdf, model.settings(eng.dialect), log_level=logging.WARNING)
    return linker


def _for_dialect(saved: dict[str, Any], d: Dialect) -> dict[str, Any]:
    """A saved (DuckDB-dialect) model for another engine: the trained parameters are kept, the
    SQL of every comparison level and blocking rule is the engine's spelling from the code."""
    fresh = model.settings(d).create_settings_dict(d.name)
    out = dict(saved)
    out["sql_dialect"] = d.name
    out["blocking_rules_to_generate_predictions"] = fresh["blocking_rules_to_generate_predictions"]
    comparisons = []
    for old, new in zip(saved["comparisons"], fresh["comparisons"], strict=True):
        levels = []
        for old_level, new_level in zip(
            old["comparison_levels"], new["comparison_levels"], strict=True
        ):
            levels.append({**old_level, "sql_condition": new_level["sql_condition"]})
        comparisons.append({**old, "comparison_levels": levels})
    out["comparisons"] = comparisons
    return out


def train(eng: Engine, model_dir: Path) -> None:
    """Estimate u by random sampling (seeded) and save the model and the name TF table.

    The saved model is always in DuckDB's dialect (a model trained on Spark can be used by a
    DuckDB build and vice versa: :func:`_for_dialect`)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    # the version file goes last: a training cut short (a killed build) leaves no current model
    (model_dir / VERSION_FILE).unlink(missing_ok=True)
    n = eng.scalar("SELECT count(*) FROM nodes")
    hotkeys.blocked_view(eng, "nodes", "nodes_blocked")
    linker = Linker(
        eng.splink_api().register("nodes_blocked"),
        model.settings(eng.dialect),
        log_level=logging.WARNING,
    )
    if n >= 2:
        linker.training.estimate_u_using_random_sampling(
            max_pairs=min(5e5, max(n * (n - 1) / 2, 1.0)), seed=SEED
        )
    settings = linker.misc.save_model_to_json()
    if eng.name != "duckdb":
        settings = _for_dialect(settings, DUCKDB)
    settings["probability_two_random_records_match"] = prior(eng)
    _write_atomic(model_dir / MODEL_FILE, json.dumps(settings, indent=1))
    eng.execute(
        """
        CREATE OR REPLACE TABLE tf_name AS
        SELECT name_norm, count(*)::DOUBLE / sum(count(*)) OVER () AS tf_name_norm
        FROM nodes WHERE name_norm IS NOT NULL GROUP BY name_norm ORDER BY name_norm
        """
    )
    tf_tmp = model_dir / f".tmp-{TF_FILE}"
    eng.write_parquet("tf_name", tf_tmp)
    os.replace(tf_tmp, model_dir / TF_FILE)
    _write_atomic(model_dir / VERSION_FILE, code_version())


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def code_version() -> str:
    """A digest of the model as written in code (comparisons, levels, m values, blocking)."""
    settings = model.settings().create_settings_dict("duckdb")
    text = json.dumps(settings, sort_keys=True, default=str) + hotkeys.code_text()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def model_is_current(model_dir: Path) -> bool:
    """True when a trained model exists and was trained from the model code now running."""
    version = model_dir / VERSION_FILE
    return (
        (model_dir / MODEL_FILE).exists()
        and version.exists()
        and version.read_text(encoding="utf-8").strip() == code_version()
    )


def prior(eng: Engine) -> float:
    """The prior probability that a compared pair matches.

    Only pairs with an unresolved node (B) are ever compared, and such a node is one person out
    of the city's N: the prior is 1/N, with N the number of trusted persons (at least 1,000, so
    that a tiny extract does not make every pair look likely).
    """
    n = eng.scalar("SELECT count(DISTINCT cluster_hint) FROM nodes WHERE node_type = 'A'")
    return 1.0 / max(int(n), 1000)


def _register_tf(linker: Linker, eng: Engine, model_dir: Path) -> None:
    eng.read_parquet("tf_lookup", [model_dir / TF_FILE])
    tf = linker._db_api.register("tf_lookup")
    linker.table_management.register_term_frequency_lookup(tf, "name_norm")


def _normalised(table: str) -> str:
    cols = ", ".join(c for c in PAIR_COLUMNS if not c.startswith("node_id"))
    return f"""
        SELECT least(node_id_l, node_id_r) AS node_id_l,
               greatest(node_id_l, node_id_r) AS node_id_r, {cols}
        FROM {table}
    """


def _run(eng: Engine, linker: Linker, threshold: float, kind: str, *tables: str) -> str | None:
    """Score pairs ``within`` one table or ``between`` two; returns the result table's name."""
    db_api = linker._db_api
    counts = [eng.scalar(f"SELECT count(*) FROM {t}") for t in tables]
    if min(counts) == 0 or (kind == "within" and counts[0] < 2):
        return None
    _guard(eng, tables, sum(counts))
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


_EQ = re.compile(r"^([lr])\.(\w+) = ([lr])\.(\w+)$")


def equality_keys(rule: str) -> tuple[list[str], list[str]] | None:
    """(l columns, r columns) of a blocking rule made of column equalities only, else None."""
    left: list[str] = []
    right: list[str] = []
    for part in rule.split(" AND "):
        m = _EQ.match(part.strip())
        if m is None or m.group(1) == m.group(3):
            return None
        a, b = (m.group(2), m.group(4)) if m.group(1) == "l" else (m.group(4), m.group(2))
        left.append(a)
        right.append(b)
    return left, right


def _guard(eng: Engine, tables: tuple[str, ...], inputs: int) -> None:
    """Stop before Splink joins on a key whose pairs would explode (canbao.warehouse.skew);
    the hot-key caps of canbao.registry.hotkeys keep every rule below the limit on real data."""
    pairs = [(tables[0], tables[-1])] + ([(tables[1], tables[0])] if len(tables) > 1 else [])
    for rule in model.BLOCKING_RULES:
        keys = equality_keys(rule)
        if keys is None:  # ID-digit rules: keyed by 14-15 ID digits, never hot
            continue
        total = 0
        last: skew.JoinEstimate | None = None
        for lt, rt in pairs:
            last = skew.estimate_join(eng, f"概率关联分块 {rule}", lt, rt, keys[0], keys[1])
            total += last.output_rows
        assert last is not None
        skew.check(
            skew.JoinEstimate(
                last.step, last.keys, inputs, 0, total, last.hot_left, last.hot_right, None
            ),
            inputs=inputs,
        )


_COLUMN = re.compile(r"\b([lr])\.(\w+)")
BLOCK_INPUTS = tuple(
    sorted({m.group(2) for r in model.BLOCKING_RULES for m in _COLUMN.finditer(r)})
)


def _count_rows(eng: Engine, table: str) -> int:
    return int(eng.scalar(f"SELECT count(*) FROM {table}"))


def _oriented(rule: str, left: str, right: str) -> str:
    """``rule`` with its ``l.`` side read from alias ``left`` and its ``r.`` side from ``right``."""
    return _COLUMN.sub(lambda m: f"{left if m.group(1) == 'l' else right}.{m.group(2)}", rule)


_SUBSTR = re.compile(r"substr\(([lr])\.(\w+), (\d+), (\d+)\)")
# the substrings the blocking rules compare, as columns of the narrow copies (computed once)
_SUBSTR_COLUMNS = tuple(
    sorted({m.group(2, 3, 4) for r in model.BLOCKING_RULES for m in _SUBSTR.finditer(r)})
)


def _substr_column(col: str, start: str, length: str) -> str:
    return f"{col}__{start}_{length}"


def _semi_conditions() -> list[str]:
    """Each blocking rule in both orientations (``b`` the big side, ``s`` the small side), with
    its substrings read from the narrow copies' columns; an orientation that repeats another
    (a symmetric rule) is kept once."""
    seen: set[tuple[tuple[str, ...], ...]] = set()
    out = []
    for rule in model.BLOCKING_RULES:
        plain = _SUBSTR.sub(lambda m: f"{m.group(1)}.{_substr_column(*m.group(2, 3, 4))}", rule)
        for sides in (("b", "s"), ("s", "b")):
            cond = _oriented(plain, *sides)
            terms = tuple(
                sorted(
                    tuple(sorted(t.strip() for t in term.split("=")))
                    for term in cond.split(" AND ")
                )
            )
            if terms not in seen:
                seen.add(terms)
                out.append(cond)
    return out


def _form_column(col: str, i: int) -> str:
    return f"{col}__f{i}"


# the capped blocking keys the rules read, and the forms each can take (hotkeys.BLOCK_FORMS)
_CAPPED = {
    c: [f for f in hotkeys.BLOCK_FORMS[c] if f is not None]
    for c in BLOCK_INPUTS
    if c in hotkeys.BLOCK_FORMS
}


def _raw_conditions() -> list[str]:
    """:func:`_semi_conditions` with each capped key of the big side ``b`` replaced by each
    form it can take (from the node's own columns, before any hot-key look-up): a node whose
    capped key meets the small side's then meets it in one of these. A superset, for the
    candidates of a blocked view computed from its raw nodes."""
    out: list[str] = []
    for cond in _semi_conditions():
        variants = [cond]
        for col, forms in _CAPPED.items():
            pattern = re.compile(rf"\bb\.{col}\b")
            variants = [
                pattern.sub(f"b.{_form_column(col, i)}", v)
                for v in variants
                for i in range(len(forms) if pattern.search(v) else 1)
            ]
        out.extend(v for v in variants if v not in out)
    return out


def _sides(cond: str) -> tuple[list[str], list[str]]:
    """A semi-join condition's terms as (big-side, small-side) expressions, term by term."""
    big: list[str] = []
    small: list[str] = []
    for term in cond.split(" AND "):
        lhs, rhs = (t.strip() for t in term.split("="))
        if lhs.startswith("s."):
            lhs, rhs = rhs, lhs
        big.append(lhs)
        small.append(rhs)
    return big, small


def _expression(ref: str) -> str:
    """A narrow-copy column of the big side (``b.<name>``) as an expression over the node's own
    columns (``b.``): a capped key's form, an ID substring, or the column itself."""
    name = ref.removeprefix("b.")
    for col, forms in _CAPPED.items():
        for i, form in enumerate(forms):
            if name == _form_column(col, i):
                return "(" + re.sub(r"\bn\.", "b.", form) + ")"
    for c, a, k in _SUBSTR_COLUMNS:
        if name == _substr_column(c, a, k):
            return f"substr(b.{c}, {a}, {k})"
    return f"b.{name}"


def _key(d: Dialect, exprs: list[str]) -> str:
    """The hash of a condition's (small) side, NULL when one of its values is (NULL meets
    nothing)."""
    known = " AND ".join(f"{e} IS NOT NULL" for e in exprs)
    return f"CASE WHEN {known} THEN {d.key_hash(*exprs)} END"


def candidates(eng: Engine, big: str, small: str, out: str, raw: str | None = None) -> str:
    """Table ``out``: the rows of ``big`` that some blocking rule pairs with a row of
    ``small``, either way round (a superset of the nodes Splink's blocking would join them
    to, so scoring ``small`` against ``out`` gives exactly the pairs of ``small`` × ``big``).
    Narrow copies of the blocking columns (and of the substrings the rules compare) are
    matched rule by rule (semi-joins on the small side), then the candidates' full rows are
    read once.

    When ``big`` is the blocked view (:func:`canbao.registry.hotkeys.blocked_view`) of the
    nodes of ``raw`` (a SELECT), the big side is matched on its raw nodes, each capped key in
    every form it can take (:func:`_raw_conditions`: no hot-key look-up over every node), and
    the capped keys are computed for the candidates only. Returns ``out``."""
    if not _candidate_ids(eng, big, small, out, raw):
        eng.execute(f"CREATE OR REPLACE TABLE {out} AS SELECT * FROM {big} LIMIT 0")
    elif raw is None:
        eng.execute(
            f"CREATE OR REPLACE TABLE {out} AS SELECT x.* FROM {big} x "
            f"WHERE x.node_id IN (SELECT node_id FROM {out}__ids)"
        )
    else:
        _blocked_rows(eng, out, f"SELECT * FROM ({raw}) x")
    _drop_parts(eng, out)
    return out


def candidates_of_raw(eng: Engine, jobs: list[tuple[str, str, str, str]], rows: str) -> None:
    """:func:`candidates` for several ``(big, small, out, raw)`` whose ``raw`` SELECTs each
    read rows of ``rows`` (a table or view of nodes): the candidates are found job by job, and
    their full rows read from ``rows`` in one pass for all jobs (a wide read of every node
    costs about the same however few it keeps)."""
    live = [job for job in jobs if _candidate_ids(eng, *job)]
    if live:
        ids = " UNION ALL ".join(f"SELECT node_id FROM {out}__ids" for _b, _s, out, _r in live)
        eng.execute(
            f"CREATE OR REPLACE TABLE _cand_rows AS SELECT * FROM {rows} WHERE node_id IN ({ids})"
        )
    for big, _small, out, _raw in jobs:
        if (big, _small, out, _raw) in live:
            _blocked_rows(eng, out, "SELECT * FROM _cand_rows x")
        else:
            eng.execute(f"CREATE OR REPLACE TABLE {out} AS SELECT * FROM {big} LIMIT 0")
        _drop_parts(eng, out)
    eng.execute("DROP TABLE IF EXISTS _cand_rows")


def _candidate_ids(eng: Engine, big: str, small: str, out: str, raw: str | None) -> bool:
    """Table ``{out}__ids``: the node ids of :func:`candidates`. False (and no table) when
    ``small`` is empty: nothing to pair with, no scan of the big side."""
    subs = "".join(
        f", substr({c}, {a}, {n}) AS {_substr_column(c, a, n)}" for c, a, n in _SUBSTR_COLUMNS
    )
    keep = ", ".join(("node_id", *BLOCK_INPUTS)) + subs
    eng.execute(f"CREATE OR REPLACE TABLE {out}__small AS SELECT {keep} FROM {small}")
    if _count_rows(eng, f"{out}__small") == 0:
        return False
    # each condition's two sides as one 64-bit key (a hash: equal values, equal keys), so
    # the big side's narrow copy is a node id and one integer per condition, not the
    # strings; a collision only adds a candidate
    sides = [_sides(c) for c in (_semi_conditions() if raw is None else _raw_conditions())]
    d = eng.dialect
    # the big side hashes NULLs too (no test per row): the small side's keys never hold
    # a NULL's hash, but as a collision, which only adds a candidate
    big_keys = ", ".join(
        d.key_hash(*[_expression(e) for e in b]) + f" AS k{i}" for i, (b, _s) in enumerate(sides)
    )
    source = big if raw is None else f"({raw})"
    eng.execute(
        f"CREATE OR REPLACE TABLE {out}__big AS SELECT b.node_id, {big_keys} FROM {source} b"
    )
    small_keys = ", ".join(_key(d, s) + f" AS k{i}" for i, (_b, s) in enumerate(sides))
    eng.execute(f"CREATE OR REPLACE TABLE {out}__keys AS SELECT {small_keys} FROM {out}__small s")
    ids = " UNION ".join(
        f"SELECT node_id FROM {out}__big WHERE k{i} IN (SELECT k{i} FROM {out}__keys)"
        for i in range(len(sides))
    )
    eng.execute(f"CREATE OR REPLACE TABLE {out}__ids AS {ids}")  # computed once
    eng.execute(f"DROP TABLE IF EXISTS {out}__big")
    return True


def _blocked_rows(eng: Engine, out: str, rows: str) -> None:
    """Table ``out``: the rows of ``rows`` (a SELECT with alias ``x``) among ``{out}__ids``,
    with their capped blocking keys."""
    eng.execute(
        f"CREATE OR REPLACE TABLE {out}__raw AS {rows} "
        f"WHERE x.node_id IN (SELECT node_id FROM {out}__ids)"
    )
    hotkeys.blocked_view(eng, f"{out}__raw", f"{out}__view")
    eng.execute(f"CREATE OR REPLACE TABLE {out} AS SELECT * FROM {out}__view")


def _drop_parts(eng: Engine, out: str) -> None:
    eng.drop(f"{out}__view")
    for part in ("big", "small", "keys", "ids", "raw"):
        eng.execute(f"DROP TABLE IF EXISTS {out}__{part}")


def _empty_pairs() -> str:
    def typ(c: str) -> str:
        if c.startswith(("match", "mw")):
            return "DOUBLE"
        return "INTEGER" if c.startswith("gamma") else "VARCHAR"

    cols = ", ".join(f"CAST(NULL AS {typ(c)}) AS {c}" for c in PAIR_COLUMNS)
    return f"SELECT {cols} LIMIT 0"


def score(
    eng: Engine,
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
    hotkeys.blocked_view(eng, "nodes", "nodes_blocked")
    linker = _linker(eng, "nodes_blocked", model_dir)
    _register_tf(linker, eng, model_dir)
    results: list[str | None] = []
    if new_nodes is None:
        eng.create_view("_b", "SELECT * FROM nodes_blocked WHERE node_type = 'B'")
        eng.create_view("_a", "SELECT * FROM nodes_blocked WHERE node_type = 'A'")
        results.append(_run(eng, linker, threshold, "between", "_b", "_a"))
        results.append(_run(eng, linker, threshold, "within", "_b"))
    else:
        assert old_nodes is not None
        hotkeys.blocked_view(eng, new_nodes, "_new_blocked")
        hotkeys.blocked_view(eng, old_nodes, "_old_blocked")
        for name, src, typ in (
            ("_nb", "_new_blocked", "B"),
            ("_na", "_new_blocked", "A"),
            ("_ob", "_old_blocked", "B"),
        ):
            eng.create_view(name, f"SELECT * FROM {src} WHERE node_type = '{typ}'")
        eng.create_view("_a", "SELECT * FROM nodes_blocked WHERE node_type = 'A'")
        # the nodes those blocked views are of (their keys computed again for candidates only)
        a_raw = "SELECT * FROM nodes WHERE node_type = 'A'"
        ob_raw = f"SELECT * FROM {old_nodes} WHERE node_type = 'B'"
        # the big sides cut to the nodes a blocking rule can pair with a new node: the same
        # pairs, without Splink blocking (and the guard estimating) every rule over all nodes
        # the old B nodes new A or new B nodes can pair with: one set for both (a superset
        # for each: one pass over the old nodes instead of two); both sets' rows in one read
        candidates_of_raw(
            eng, [("_a", "_nb", "_ca", a_raw), ("_ob", "_new_blocked", "_cob", ob_raw)], "nodes"
        )
        results.append(_run(eng, linker, threshold, "between", "_nb", "_ca"))
        old_b = "_cob"
        results.append(_run(eng, linker, threshold, "between", old_b, "_na"))
        results.append(_run(eng, linker, threshold, "within", "_nb"))
        results.append(_run(eng, linker, threshold, "between", "_nb", old_b))
    parts = [_normalised(t) for t in results if t is not None]
    if not parts:
        parts = [_empty_pairs()]
    eng.execute("CREATE OR REPLACE TABLE scored_pairs AS " + " UNION ALL ".join(parts))
