"""The nodes an incremental build scores new nodes against: every node some blocking rule pairs
with a new one, either way round — the same set as matching every rule as written."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, example, given, settings
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


RAW_COLUMNS = [
    "name_norm", "name_pinyin", "birth", "county_code", "household_key", "owner_household",
    "surname_py", "id_norm", "id_prefix15", "id_prefix15_alt", "phone_key", "employer_org",
]  # fmt: skip

RAW_NODE = st.fixed_dictionaries(
    {
        "name_norm": _sparse("甲", "乙"),
        "name_pinyin": _sparse("jia", "yi"),
        "birth": _sparse("1990-01-01", "1990-01-02"),  # one year: name + county + year meets
        "county_code": _sparse("360402", "360403"),
        "household_key": _sparse("h1", "h2"),
        "owner_household": _sparse("h1", "h2"),
        "surname_py": st.sampled_from(["zhang", "li"]),
        "id_norm": st.sampled_from(IDS),
        "id_prefix15": _sparse(*(i[:15] for i in IDS)),
        "id_prefix15_alt": _sparse(*(i[:15] for i in IDS)),
        "phone_key": _sparse("13800000000"),
        "employer_org": _sparse("e1", "e2"),
    }
)
HOT_VALUES = st.lists(
    st.sampled_from(
        [("household", "h1"), ("phone", "13800000000"), ("employer", "e1"),
         ("name_county", "甲|360402")]
    ),
    unique=True,
)  # fmt: skip


def _raw(rows: list[dict[str, str | None]], prefix: str) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={c: pl.Utf8 for c in RAW_COLUMNS})
    return frame.with_row_index("i").select(
        (pl.lit(prefix) + pl.col("i").cast(pl.Utf8)).alias("node_id"), *RAW_COLUMNS
    )


def _paired(eng: DuckDBEngine, big: str, small: str) -> set[str]:
    """The nodes of ``big`` every rule as written pairs with a node of ``small``, either way
    round (one query)."""
    joins = " UNION ".join(
        f"SELECT b.node_id FROM {big} b JOIN {small} s ON {scoring._oriented(rule, *sides)}"
        for rule in model.BLOCKING_RULES
        for sides in (("b", "s"), ("s", "b"))
    )
    return set(eng.fetch(joins)["node_id"].to_list())


def _node(**values: str) -> dict[str, str | None]:
    return {c: values.get(c) for c in RAW_COLUMNS}


# met on a hot value's form only: the same pinyin at a hot employer, the same name, county and
# birth year in a hot name + county (other rules do not pair them)
_EMPLOYER = (
    [_node(surname_py="zhang", id_norm=IDS[0], employer_org="e1", name_pinyin="jia")],
    [_node(surname_py="li", id_norm=IDS[4], employer_org="e1", name_pinyin="jia")],
    [("employer", "e1")],
)
_NAME_COUNTY = (
    [_node(surname_py="zhang", id_norm=IDS[0], name_norm="甲", county_code="360402",
           birth="1990-01-01")],
    [_node(surname_py="li", id_norm=IDS[4], name_norm="甲", county_code="360402",
           birth="1990-01-02")],
    [("name_county", "甲|360402")],
)  # fmt: skip


@example(*_EMPLOYER)
@example(*_NAME_COUNTY)
@given(
    big=st.lists(RAW_NODE, min_size=1, max_size=25),
    small=st.lists(RAW_NODE, min_size=1, max_size=4),
    hot=HOT_VALUES,
)
def test_candidates_from_raw_nodes_hold_every_pair(
    big: list[dict[str, str | None]],
    small: list[dict[str, str | None]],
    hot: list[tuple[str, str]],
) -> None:
    """Computed from the raw nodes (no hot-key look-up over the big side), the candidates hold
    every node a rule pairs with a new one on the capped keys, whatever is hot; they are the
    nodes some rule pairs when the big side's capped keys take either of their forms (nothing
    hot, everything hot): a superset Splink's own blocking then cuts."""
    from canbao.registry import hotkeys

    with DuckDBEngine() as eng:
        eng.create_table_from_arrow("big_raw", _raw(big, "b").to_arrow())
        eng.create_table_from_arrow("small_raw", _raw(small, "s").to_arrow())
        frame = pl.DataFrame(hot, schema={"kind": pl.Utf8, "value": pl.Utf8}, orient="row")
        eng.create_table_from_arrow("hot_keys", frame.to_arrow())
        hotkeys.blocked_view(eng, "big_raw", "big")
        hotkeys.blocked_view(eng, "small_raw", "small_view")
        eng.execute("CREATE TABLE small AS SELECT * FROM small_view")
        scoring.candidates(eng, "big", "small", "cand", "SELECT * FROM big_raw")
        eng.execute("CREATE TABLE big_capped AS SELECT * FROM big")
        got = set(eng.fetch("SELECT node_id FROM cand")["node_id"].to_list())
        assert _paired(eng, "big_capped", "small") <= got
        # either form of each capped key: nothing hot, and everything hot
        every = (
            "SELECT DISTINCT 'household' AS kind, household_key AS value FROM big_raw "
            "UNION SELECT 'household', owner_household FROM big_raw "
            "UNION SELECT 'phone', phone_key FROM big_raw "
            "UNION SELECT 'employer', employer_org FROM big_raw "
            "UNION SELECT 'name_county', name_norm || '|' || county_code FROM big_raw"
        )
        eng.execute(f"CREATE TABLE hot_all AS {every}")
        eng.execute("CREATE TABLE hot_none AS SELECT * FROM hot_keys WHERE false")
        either: set[str] = set()
        for table in ("hot_all", "hot_none"):
            hotkeys.blocked_view(eng, "big_raw", f"big_{table}_view", hot=table)
            eng.execute(f"CREATE TABLE big_{table} AS SELECT * FROM big_{table}_view")
            either |= _paired(eng, f"big_{table}", "small")
        assert got == either
        # the rows are the blocked view's (capped with the real hot set)
        rows = eng.fetch("SELECT * FROM cand ORDER BY node_id")
        want = eng.fetch(
            "SELECT * FROM big WHERE node_id IN (SELECT node_id FROM cand) ORDER BY node_id"
        )
        assert rows.equals(want)
