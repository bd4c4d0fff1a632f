"""The nodes an incremental build scores new nodes against: every node some blocking rule pairs
with a new one, either way round — the same set as matching every rule as written."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canbao.registry import model, scoring
from canbao.registry.engine import DuckDBEngine

# IDs sharing the first 14 or 15 digits, or digits 7-18 (another county), or nothing
IDS = [
    "360402199001011234",
    "360402199001011235",
    "360402199001015678",
    "360403199001011234",
    "110105194912310021",
]


def _sparse(*values: str) -> st.SearchStrategy[str | None]:
    """Mostly null (as on real nodes), so most big nodes meet the small ones by one rule only."""
    return st.sampled_from([None] * 4 + list(values))


NODE = st.fixed_dictionaries(
    {
        "name_norm": _sparse("甲", "乙"),
        "name_pinyin": _sparse("jia", "yi"),
        "birth": _sparse("1990-01-01", "1990-01-02"),
        "name_county_block": _sparse("甲|360402"),
        "hh_block": _sparse("h1", "h2"),
        "owner_hh_block": _sparse("h1", "h2"),
        "surname_py": st.sampled_from(["zhang", "li"]),
        "id_norm": st.sampled_from(IDS),
        "id_prefix15": _sparse(*(i[:15] for i in IDS)),
        "id_prefix15_alt": _sparse(*(i[:15] for i in IDS)),
        "phone_block": _sparse("13800000000"),
        "employer_block": _sparse("e1|zhang"),
    }
)


def _frame(rows: list[dict[str, str | None]], prefix: str) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={c: pl.Utf8 for c in NODE_COLUMNS})
    return frame.with_row_index("i").select(
        (pl.lit(prefix) + pl.col("i").cast(pl.Utf8)).alias("node_id"), *NODE_COLUMNS
    )


NODE_COLUMNS = [
    "name_norm", "name_pinyin", "birth", "name_county_block", "hh_block", "owner_hh_block",
    "surname_py", "id_norm", "id_prefix15", "id_prefix15_alt", "phone_block", "employer_block",
]  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(big=st.lists(NODE, min_size=1, max_size=25), small=st.lists(NODE, min_size=1, max_size=4))
def test_candidates_are_the_nodes_some_rule_pairs_with(
    tmp_path: Path, big: list[dict[str, str | None]], small: list[dict[str, str | None]]
) -> None:
    assert set(scoring.BLOCK_INPUTS) <= set(NODE_COLUMNS)
    with DuckDBEngine(data_dir=tmp_path) as eng:
        eng.create_table_from_arrow("big", _frame(big, "b").to_arrow())
        eng.create_table_from_arrow("small", _frame(small, "s").to_arrow())
        scoring.candidates(eng, "big", "small", "cand")
        got = set(eng.fetch("SELECT node_id FROM cand")["node_id"].to_list())
        # every rule as written, both ways round
        want: set[str] = set()
        for rule in model.BLOCKING_RULES:
            for sides in (("b", "s"), ("s", "b")):
                cond = scoring._oriented(rule, *sides)
                found = eng.fetch(f"SELECT DISTINCT b.node_id FROM big b JOIN small s ON {cond}")[
                    "node_id"
                ].to_list()
                want.update(found)
        assert got == want
        assert set(eng.fetch("SELECT * FROM cand").columns) == {"node_id", *NODE_COLUMNS}
