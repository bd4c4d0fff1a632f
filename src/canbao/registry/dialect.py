"""The engine seam: SQL fragments that differ between DuckDB and Spark live here, and only here.

Registry SQL is written in the common subset of DuckDB and Spark SQL; where a function differs,
the SQL calls a method of :class:`Dialect` instead of spelling the function. The Spark engine
(:mod:`canbao.registry.engine`) transpiles every statement from DuckDB's dialect with sqlglot, so
a Spark spelling here must also parse as DuckDB SQL (unknown functions pass through unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str

    def array_contains(self, array: str, value: str) -> str:
        if self.name == "spark":
            return f"array_contains({array}, {value})"
        return f"list_contains({array}, {value})"

    def hash_hex(self, expr: str, length: int = 16) -> str:
        """A stable hexadecimal digest (MD5) of a text expression: keys, not security."""
        return f"substr(md5({expr}), 1, {length})"

    def key_hash(self, *exprs: str) -> str:
        """A 64-bit hash of a tuple of values (a compact join key: equal values, equal hash)."""
        if self.name == "spark":
            return f"xxhash64({', '.join(exprs)})"
        return f"hash({', '.join(exprs)})"

    def damerau_levenshtein(self, a: str, b: str) -> str:
        return f"damerau_levenshtein({a}, {b})"

    def levenshtein(self, a: str, b: str) -> str:
        return f"levenshtein({a}, {b})"

    def explode(self, array: str) -> str:
        if self.name == "spark":
            return f"explode({array})"
        return f"unnest({array})"

    def sorted_set(self, expr: str) -> str:
        """The distinct non-null values of a group, sorted, as a list (an aggregate)."""
        if self.name == "spark":
            return f"array_sort(array_distinct(collect_list({expr})))"
        # a plain list, then distinct and sorted: an ORDER BY aggregate sorts within every group
        return f"list_sort(list_distinct(list({expr})))"

    def parse_date_text(self, expr: str) -> str:
        """YYYYMMDD text → date."""
        if self.name == "spark":
            return f"to_date({expr}, 'yyyyMMdd')"
        return f"strptime({expr}, '%Y%m%d')::DATE"

    def epoch_days(self, expr: str) -> str:
        """Days since 1970-01-01 of a date."""
        if self.name == "spark":
            return f"unix_date({expr})"
        return f"date_diff('day', DATE '1970-01-01', {expr})"

    def date_text(self, expr: str) -> str:
        """A date as YYYYMMDD text."""
        if self.name == "spark":
            return f"date_format({expr}, 'yyyyMMdd')"
        return f"strftime({expr}, '%Y%m%d')"

    def string_agg(self, expr: str, order: str, sep: str = ";") -> str:
        """Text values of a group joined by ``sep`` in the order of ``order`` (an aggregate;
        on Spark ties in ``order`` fall back to the value itself)."""
        if self.name == "spark":
            return (
                f"array_join(transform(array_sort(collect_list(named_struct('o', {order}, "
                f"'v', {expr}))), x -> x.v), '{sep}')"
            )
        return f"string_agg({expr}, '{sep}' ORDER BY {order})"


DUCKDB = Dialect("duckdb")
SPARK = Dialect("spark")
