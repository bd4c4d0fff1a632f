"""The join-size guard: a step whose join would explode on a hot key stops with a clear message.

Real extracts are skewed: an employer of 40,000, a collective household (集体户) of 5,000, a
county's thousands of 王伟. An equi-join produces, per key value, the product of the two sides'
counts, so one hot value on both sides makes a step quadratic and can exhaust the machine's
memory long before it finishes. Every join of the registry and coverage on a key that can be
hot is written so that the product stays small (the selective key first, hot values capped —
the rule lives beside each join); this guard is the safety net behind those rules.

:func:`check_join` estimates an equi-join's output from the key frequencies of both sides (two
grouped counts: cheap next to the join) before the join runs. When the estimate exceeds
``multiple × (left rows + right rows)`` — and is above a floor, so small inputs never trip it —
it raises :class:`JoinTooLarge`, naming the step, the key and how many rows its hottest value
holds on each side. The multiple is ``$CANBAO_JOIN_LIMIT`` (default 50); the floor is
``$CANBAO_JOIN_FLOOR`` rows (default 20,000,000).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from canbao.errors import ResourceError, UsageError

DEFAULT_MULTIPLE = 50.0
DEFAULT_FLOOR = 20_000_000


class _Fetcher(Protocol):
    def fetch(self, sql: str) -> Any: ...


class JoinTooLarge(ResourceError):
    """A join would produce far more rows than its inputs: a hot key."""

    code = "join_too_large"


@dataclass(frozen=True)
class JoinEstimate:
    step: str
    keys: tuple[str, ...]
    left_rows: int
    right_rows: int
    output_rows: int
    hot_left: int  # rows of the hottest key value on each side
    hot_right: int
    hot_value: str | None  # shown only when the key is not personal data

    @property
    def inputs(self) -> int:
        return self.left_rows + self.right_rows


def limits() -> tuple[float, int]:
    """(multiple, floor) from the environment."""
    try:
        multiple = float(os.environ.get("CANBAO_JOIN_LIMIT", DEFAULT_MULTIPLE))
        floor = int(os.environ.get("CANBAO_JOIN_FLOOR", DEFAULT_FLOOR))
    except ValueError as e:
        raise UsageError(
            "环境变量 CANBAO_JOIN_LIMIT / CANBAO_JOIN_FLOOR 应为数字",
            "CANBAO_JOIN_LIMIT / CANBAO_JOIN_FLOOR must be numbers",
        ) from e
    if multiple <= 0 or floor < 0:
        raise UsageError("CANBAO_JOIN_LIMIT 应大于 0", "CANBAO_JOIN_LIMIT must be positive")
    return multiple, floor


def estimate_join(
    eng: _Fetcher,
    step: str,
    left: str,
    right: str,
    left_keys: Sequence[str],
    right_keys: Sequence[str] | None = None,
    *,
    personal: bool = True,
) -> JoinEstimate:
    """The exact output size of ``left JOIN right ON left_keys = right_keys`` (NULL keys never
    match), from the key counts of each side. ``left``/``right`` are table names or
    parenthesised subqueries; keys are SQL expressions over their columns."""
    rk = list(right_keys or left_keys)
    if len(rk) != len(left_keys):
        raise ValueError("left and right keys differ in number")
    n = len(rk)
    names = [f"k{i}" for i in range(n)]

    def side(src: str, keys: Sequence[str]) -> str:
        sel = ", ".join(f"{k} AS {a}" for k, a in zip(keys, names, strict=True))
        not_null = " AND ".join(f"{a} IS NOT NULL" for a in names)
        return (
            f"SELECT {', '.join(names)}, count(*) AS n FROM (SELECT {sel} FROM {src} x) y "
            f"WHERE {not_null} GROUP BY {', '.join(names)}"
        )

    on = " AND ".join(f"l.{a} = r.{a}" for a in names)
    label = " || '|' || ".join(f"CAST(l.{a} AS STRING)" for a in names)
    frame = eng.fetch(
        f"""
        WITH l AS ({side(left, left_keys)}), r AS ({side(right, rk)}),
        j AS (SELECT {label} AS v, l.n AS ln, r.n AS rn FROM l JOIN r ON {on})
        SELECT (SELECT sum(n) FROM l) AS left_rows, (SELECT sum(n) FROM r) AS right_rows,
               (SELECT sum(ln * rn) FROM j) AS output_rows,
               t.v, t.ln, t.rn
        FROM (SELECT 1 AS one) o
        LEFT JOIN (SELECT v, ln, rn FROM j ORDER BY ln * rn DESC, v LIMIT 1) t ON true
        """
    )
    row = frame.row(0, named=True)

    def num(value: Any) -> int:
        return int(value or 0)

    return JoinEstimate(
        step=step,
        keys=tuple(str(k) for k in left_keys),
        left_rows=num(row["left_rows"]),
        right_rows=num(row["right_rows"]),
        output_rows=num(row["output_rows"]),
        hot_left=num(row["ln"]),
        hot_right=num(row["rn"]),
        hot_value=None if personal or row["v"] is None else str(row["v"]),
    )


def check(est: JoinEstimate, *, inputs: int | None = None) -> JoinEstimate:
    """Raise :class:`JoinTooLarge` when ``est`` is above the limit; ``inputs`` overrides the
    row count the multiple applies to (e.g. a step's whole input, not just this join's)."""
    multiple, floor = limits()
    base = inputs if inputs is not None else est.inputs
    allowed = max(multiple * base, floor)
    if est.output_rows <= allowed:
        return est
    value = f"“{est.hot_value}”" if est.hot_value else "（涉及个人信息，不显示取值）"
    raise JoinTooLarge(
        f"步骤“{est.step}”的关联结果将达到约 {est.output_rows:,} 行，是输入 {base:,} 行的 "
        f"{est.output_rows / max(base, 1):,.0f} 倍，超过上限 {multiple:g} 倍，任务已停止以免耗尽内存。"
        f"热点键：{'、'.join(est.keys)}，最热的取值{value}两侧分别有 {est.hot_left:,} 行和 "
        f"{est.hot_right:,} 行。请检查数据中是否有异常集中的取值（如大单位、集体户、常见姓名）；"
        "确需放宽可设置环境变量 CANBAO_JOIN_LIMIT",
        f"step {est.step!r}: join on {est.keys} would produce {est.output_rows} rows "
        f"from {base} input rows (limit {multiple:g}x); hottest value holds "
        f"{est.hot_left} x {est.hot_right} rows",
        step=est.step,
        output_rows=est.output_rows,
    )


def check_join(
    eng: _Fetcher,
    step: str,
    left: str,
    right: str,
    left_keys: Sequence[str],
    right_keys: Sequence[str] | None = None,
    *,
    personal: bool = True,
    inputs: int | None = None,
) -> JoinEstimate:
    """:func:`estimate_join` then :func:`check`."""
    est = estimate_join(eng, step, left, right, left_keys, right_keys, personal=personal)
    return check(est, inputs=inputs)
