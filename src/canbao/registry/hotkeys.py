"""Hot blocking keys: the values so frequent that blocking on them would make scoring quadratic.

The model (:mod:`canbao.registry.model`) generates candidate pairs with equality blocking rules.
A rule on a key that can be hot produces, per value, the product of the nodes that share it:
a collective household (集体户: a school, a barracks, an enterprise) registers thousands of
unrelated people under one household number and address; an employer may have 40,000 staff; a
switchboard phone is given for a whole unit; a county has thousands of 王伟. Such a value says
nothing about whether two records are one person, and blocking on it costs millions of pairs.

The rule, per key (counted over all linkage nodes of the build, trusted and unresolved):

====================  =========  ==============================================================
key                   hot when   what blocking does for a hot value
====================  =========  ==============================================================
household / address   > 100      no household blocking (同户同姓, the ID owner's household):
                      nodes      members are still compared through name + birth, name +
                                 county, ID digits, phone and employer
phone                 > 20       no phone blocking (a unit's switchboard, not a person's phone)
employer              > 1,000    name within employer (full pinyin) instead of surname within
                      nodes      employer: the selective key first
name + county         > 200      name + county + birth year instead of name + county
                      nodes
====================  =========  ==============================================================

The comparisons read the same capped columns: sharing a hot household, a switchboard phone or
an employer of thousands is no evidence either way (the comparison's NULL level), where sharing
a family household or a small employer is. The capped keys are the columns of
:func:`blocked_view`; the thresholds are part of the model's code version (changing them
retrains and rebuilds).

An incremental build scores only new nodes, so it equals a full build only while the hot set
is the one the previous build used: :func:`build` returns a digest of the hot set and the build
records it. When a household, phone, employer or name crosses its threshold (a month's churn
does that now and then at city scale), the nodes that carry the value are rescored with their
new capped keys (:func:`flipped_nodes`): the update stays incremental and still equals a full
build.
"""

from __future__ import annotations

import hashlib

from canbao.registry.engine import Engine

# key kind -> (expression over node columns, threshold in nodes)
HOT_KEYS: dict[str, tuple[str, int]] = {
    "household": ("household_key", 100),
    "phone": ("phone_key", 20),
    "employer": ("employer_org", 1000),
    "name_county": ("name_norm || '|' || county_code", 200),
}

BLOCK_COLUMNS = (
    "hh_block",
    "owner_hh_block",
    "phone_block",
    "employer_block",
    "employer_cmp",
    "name_county_block",
)


TABLE = "hot_keys"  # kept in the snapshot: the next incremental build starts from it


class HotKeysChanged(Exception):
    """The hot set differs from the previous build's and the update cannot follow it."""


def code_text() -> str:
    """The rule as text, for the model's code version."""
    return repr(sorted(HOT_KEYS.items()))


def build(eng: Engine, nodes: str = "nodes", out: str = "hot_keys") -> str:
    """Create ``hot_keys(kind, value, n)`` from ``nodes``; return a digest of the hot set."""
    parts = [
        f"""SELECT '{kind}' AS kind, {expr} AS value, count(*) AS n FROM {nodes}
            WHERE {expr} IS NOT NULL GROUP BY {expr} HAVING count(*) > {cap}"""
        for kind, (expr, cap) in HOT_KEYS.items()
    ]
    eng.execute(f"CREATE OR REPLACE TABLE {out} AS " + " UNION ALL ".join(parts))
    return digest(eng, out)


# the node columns each kind of hot value caps (blocked_view)
_CAPPED = {
    "household": ("n.household_key", "n.owner_household"),
    "phone": ("n.phone_key",),
    "employer": ("n.employer_org",),
    "name_county": ("n.name_norm || '|' || n.county_code",),
}


def update(
    eng: Engine,
    prev_hot: str,
    prev_nodes: str,
    gone_nodes: str,
    new_nodes: str,
    nodes: str = "nodes",
    out: str = "hot_keys",
) -> str:
    """Create ``out`` like :func:`build` over ``nodes``, from the previous build's hot set
    ``prev_hot`` (``kind, value, n``): a value's count changes only by the nodes dropped
    (``gone_nodes``' ids, read from ``prev_nodes``) and the nodes added (``new_nodes``) that
    carry it, so only those values are counted again, in one pass over ``nodes`` (not every
    value of every node twice). Leaves ``hot_carriers``: the nodes carrying such a value, whole
    (those :func:`flipped_nodes` looks at, and the rows rescored). Returns the digest of the
    hot set."""
    columns = "household_key, phone_key, employer_org, name_norm, county_code"
    eng.execute(
        f"CREATE OR REPLACE TABLE hot_moved AS SELECT {columns} FROM {prev_nodes} "
        f"WHERE node_id IN (SELECT node_id FROM {gone_nodes}) "
        f"UNION ALL SELECT {columns} FROM {new_nodes}"
    )
    eng.execute(
        "CREATE OR REPLACE TABLE hot_touched AS SELECT kind, value FROM ("
        + " UNION ALL ".join(
            f"SELECT '{kind}' AS kind, {expr} AS value FROM hot_moved"
            for kind, (expr, _cap) in HOT_KEYS.items()
        )
        + ") x WHERE value IS NOT NULL GROUP BY kind, value"
    )

    def touched(kind: str) -> str:
        return f"(SELECT value FROM hot_touched WHERE kind = '{kind}')"

    # the nodes carrying a touched value in a column it caps (hot_keys' counts read some of
    # them; flipped_nodes finds, among them, those whose capped keys changed)
    carrying = " OR ".join(
        f"{column.replace('n.', '')} IN {touched(kind)}"
        for kind, cols in _CAPPED.items()
        for column in cols
    )
    eng.execute(f"CREATE OR REPLACE TABLE hot_carriers AS SELECT * FROM {nodes} WHERE {carrying}")
    recount = " UNION ALL ".join(
        f"SELECT '{kind}' AS kind, {expr} AS value, count(*) AS n FROM hot_carriers "
        f"WHERE {expr} IN {touched(kind)} GROUP BY {expr} HAVING count(*) > {cap}"
        for kind, (expr, cap) in HOT_KEYS.items()
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE {out} AS
        SELECT p.kind, p.value, p.n FROM {prev_hot} p
        WHERE NOT EXISTS (SELECT 1 FROM hot_touched t WHERE t.kind = p.kind AND t.value = p.value)
        UNION ALL {recount}
        """
    )
    eng.drop("hot_moved")
    return digest(eng, out)


def flipped_nodes(
    eng: Engine, prev_hot: str, nodes: str = "nodes", out: str = "hot_flipped"
) -> int:
    """Table ``out`` (``node_id``): the nodes of ``nodes`` carrying a value that became hot or
    stopped being hot since the previous build's hot set ``prev_hot`` (``hot_keys`` must hold
    the current one). Their capped keys changed, so every pair they are in must be scored
    again. Returns how many."""
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE hot_changed AS
        SELECT * FROM (SELECT kind, value FROM hot_keys
                       EXCEPT SELECT kind, value FROM {prev_hot}) a
        UNION ALL
        SELECT * FROM (SELECT kind, value FROM {prev_hot}
                       EXCEPT SELECT kind, value FROM hot_keys) b
        """
    )
    joins = [
        f"SELECT n.node_id FROM {nodes} n JOIN hot_changed h "
        f"ON h.kind = '{kind}' AND h.value = {column}"
        for kind, columns in _CAPPED.items()
        for column in columns
    ]
    eng.execute(
        f"CREATE OR REPLACE TABLE {out} AS SELECT node_id FROM ("
        + " UNION ALL ".join(joins)
        + ") x GROUP BY node_id"
    )
    return int(eng.scalar(f"SELECT count(*) FROM {out}"))


def digest(eng: Engine, table: str = "hot_keys") -> str:
    """A digest of the hot set of ``table`` and of the rule (thresholds)."""
    rows = eng.fetch(f"SELECT kind, value FROM {table} ORDER BY kind, value")
    h = hashlib.sha256(code_text().encode("utf-8"))
    for kind, value in rows.iter_rows():
        h.update(f"{kind}\t{value}\n".encode())
    return h.hexdigest()[:16]


def counts(eng: Engine, table: str = "hot_keys") -> dict[str, int]:
    """How many hot values of each kind (for the build report)."""
    frame = eng.fetch(f"SELECT kind, count(*) AS n FROM {table} GROUP BY kind")
    out = {kind: 0 for kind in HOT_KEYS}
    out.update({str(k): int(n) for k, n in frame.iter_rows()})
    return out


_NAME_COUNTY = (
    HOT_KEYS["name_county"][0]
    .replace("name_norm", "n.name_norm")
    .replace("county_code", "n.county_code")
)
# each capped blocking key's value, from a node's own columns: (when its value is not hot, when
# it is hot); a hot household, owner household or phone caps the key to NULL
BLOCK_FORMS: dict[str, tuple[str, str | None]] = {
    "hh_block": ("n.household_key", None),
    "owner_hh_block": ("n.owner_household", None),
    "phone_block": ("n.phone_key", None),
    "employer_block": (
        "n.employer_org || '|' || n.surname_py",
        "n.employer_org || '|' || n.name_pinyin",
    ),
    "employer_cmp": ("n.employer_org", None),
    "name_county_block": (
        _NAME_COUNTY,
        f"{_NAME_COUNTY} || '|' || coalesce(substr(n.birth, 1, 4), '?')",
    ),
}
# the hot value each capped key looks up: (kind, the node's column holding it)
_LOOKUP = {
    "hh_block": ("household", "n.household_key"),
    "owner_hh_block": ("household", "n.owner_household"),
    "phone_block": ("phone", "n.phone_key"),
    "employer_block": ("employer", "n.employer_org"),
    "employer_cmp": ("employer", "n.employer_org"),
    "name_county_block": ("name_county", _NAME_COUNTY),
}


def blocked_view(eng: Engine, src: str, name: str, hot: str = "hot_keys") -> None:
    """``name``: the nodes of ``src`` with the capped blocking keys (``BLOCK_COLUMNS``), each
    one of its :data:`BLOCK_FORMS` as its value is hot or not."""
    joins: dict[tuple[str, str], str] = {}
    for kind, column in _LOOKUP.values():
        joins.setdefault((kind, column), f"h{len(joins)}")
    keys = []
    for col, (cold, warm) in BLOCK_FORMS.items():
        alias = joins[_LOOKUP[col]]
        hot_form = "" if warm is None else f" ELSE {warm}"
        keys.append(f"CASE WHEN {alias}.value IS NULL THEN {cold}{hot_form} END AS {col}")
    lookups = "\n".join(
        f"LEFT JOIN (SELECT value FROM {hot} WHERE kind = '{kind}') {alias} "
        f"ON {alias}.value = {column}"
        for (kind, column), alias in joins.items()
    )
    eng.create_view(name, f"SELECT n.*, {', '.join(keys)} FROM {src} n {lookups}")
