"""The nodes an incremental build scores new nodes against: every node some blocking rule pairs
with a new one, either way round — the same set as matching every rule as written."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canbao.registry import model, scoring
from canbao.registry.engine import DuckDBEngine

IDS = ["360402199001011234", "360402199001011235", "360402199001021234", "110105194912310021"]
TEXT = st.sampled_from(["甲", "乙", None])
NODE = st.fixed_dictionaries(
    {
        "name_norm": TEXT,
        "name_pinyin": st.sampled_from(["jia", "yi", None]),
        "birth": st.sampled_from(["1990-01-01", "1990-01-02", None]),
        "name_county_block": TEXT,
        "hh_block": st.sampled_from(["h1", "h2", None]),
        "owner_hh_block": st.sampled_from(["h1", "h2", None]),
        "surname_py": st.sampled_from(["zhang", "li", None]),
        "id_norm": st.sampled_from([*IDS, None]),
        "id_prefix15": st.sampled_from([i[:15] for i in IDS] + [None]),
        "id_prefix15_alt": st.sampled_from([i[:15] for i in IDS] + [None]),
        "phone_block": st.sampled_from(["13800000000", None]),
        "employer_block": st.sampled_from(["e1|zhang", None]),
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
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
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
