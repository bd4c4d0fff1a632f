"""Approved deferrals (缓缴, 社会保险法 art. 63 and Order No. 20) in the ledger: no late fee for
the days they cover.

The workflow store holds the agreements (:func:`canbao.collection.agreements.deferrals`: per
employer × scheme the covered days, optionally only for some contribution periods). They are
loaded into the session as ``<name>_deferrals`` — for each employer × scheme × period key the
covered day ranges **merged** (so overlapping deferrals count once, as
:func:`canbao.collection.late_fees.late_days` counts them); ``period = '*'`` holds the ranges of
deferrals for all periods and applies to periods without a range of their own. The ledger then
subtracts, for each charged span (:func:`covered_sql`), the days the ranges cover. Without any
approved deferral none of this runs (the ledger's SQL is the plain one).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import polars as pl

from canbao.collection import agreements
from canbao.collection.late_fees import DAY_RULES
from canbao.coverage.session import Session
from canbao.store import open_store
from canbao.warehouse.scope import Scope

# the ledger reads every approved deferral (an input of a computation whose results are scoped)
LEDGER_INPUT = Scope.system("ledger: approved deferrals stop late fees")
ALL = "*"

Span = tuple[dt.date, dt.date]


def _merged(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def load(s: Session, name: str, employer: str | None = None) -> bool:
    """Create ``<name>_deferrals`` (employer_key, scheme, period, d_start, d_end) from the
    store; False (and no table) when there is no approved deferral."""
    store = open_store(s.data_dir)
    try:
        found = agreements.deferrals(store, LEDGER_INPUT)
    finally:
        store.dispose()
    if employer is not None:
        found = [d for d in found if d.employer_key == employer]
    if not found:
        return False
    general: dict[tuple[str, str], list[Span]] = defaultdict(list)
    specific: dict[tuple[str, str, str], list[Span]] = defaultdict(list)
    for d in found:
        if d.periods:
            for p in d.periods:
                specific[(d.employer_key, d.scheme, p)].append((d.start, d.end))
        else:
            general[(d.employer_key, d.scheme)].append((d.start, d.end))
    rows: list[tuple[str, str, str, dt.date, dt.date]] = []
    for (emp, scheme), spans in general.items():
        rows += [(emp, scheme, ALL, a, b) for a, b in _merged(spans)]
    for (emp, scheme, period), spans in specific.items():
        both = spans + general.get((emp, scheme), [])
        rows += [(emp, scheme, period, a, b) for a, b in _merged(both)]
    # through Polars: pyarrow's constructors import pandas (0.2 s a process)
    frame = pl.DataFrame(
        rows,
        schema={"employer_key": pl.Utf8, "scheme": pl.Utf8, "period": pl.Utf8,
                "d_start": pl.Date, "d_end": pl.Date},
        orient="row",
    )  # fmt: skip
    s.eng.create_table_from_arrow(f"{name}_deferrals", frame.to_arrow())
    return True


def span_sql(due_col: str, until_col: str, rule: str) -> tuple[str, str]:
    """SQL of the first and last charged day (the twin of ``late_fees._charged_span``)."""
    if rule not in DAY_RULES:
        raise ValueError(rule)
    if rule == "after_due":
        return f"({due_col} + INTERVAL 1 DAY)", until_col
    return f"(last_day({due_col}) + INTERVAL 1 DAY)", f"({until_col} - INTERVAL 1 DAY)"


def build_effective(s: Session, name: str) -> None:
    """``<name>_defer_eff`` (employer_key, scheme, period, d_start, d_end): the merged ranges
    that apply to each ledger row's period — its own when a deferral names the period, else
    those of the deferrals for all periods."""
    s.execute(
        f"""
        CREATE OR REPLACE TABLE {name}_defer_eff AS
        SELECT employer_key, scheme, period, d_start, d_end
        FROM {name}_deferrals WHERE period <> '{ALL}'
        UNION ALL
        SELECT r.employer_key, r.scheme, r.period, d.d_start, d.d_end
        FROM {name}_rows r
        JOIN {name}_deferrals d
          ON d.employer_key = r.employer_key AND d.scheme = r.scheme AND d.period = '{ALL}'
        LEFT JOIN (SELECT DISTINCT employer_key, scheme, period FROM {name}_deferrals
                   WHERE period <> '{ALL}') o
          ON o.employer_key = r.employer_key AND o.scheme = r.scheme AND o.period = r.period
        WHERE o.period IS NULL
        """
    )


def overlap_sql(due_col: str, until_col: str, rule: str) -> str:
    """Days of the charged span ``due_col`` … ``until_col`` inside the range ``e.d_start`` …
    ``e.d_end`` (0 when they do not meet)."""
    first, last = span_sql(due_col, until_col, rule)
    return (
        f"greatest(date_diff('day', greatest({first}, e.d_start), least({last}, e.d_end)) + 1, 0)"
    )
