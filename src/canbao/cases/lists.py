"""Every work list cases are opened from, gathered for one :func:`canbao.cases.open_cases` call:
the coverage gap lists (:func:`canbao.coverage.api.gap_lists`), the registry's review queue
(:func:`canbao.cases.review.review_list`) and the ledger's arrears per employer and scheme
(:func:`canbao.cases.arrears.arrears_list`) — the lists ``canbao cases open`` and the demo use.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from canbao.cases import arrears, review
from canbao.coverage import api as coverage_api
from canbao.errors import UsageError
from canbao.store import Store
from canbao.warehouse.scope import Scope

EXTRA = {"review": review.LIST, "arrears": arrears.LIST}  # --lists name → list name
CHOICES = (*coverage_api.KINDS, *EXTRA)


def work_lists(
    data_dir: Path,
    scope: Scope,
    store: Store | None,
    which: str | None = None,
    *,
    as_of: dt.date | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
) -> dict[str, pl.DataFrame]:
    """The lists of ``which`` (a coverage list kind — uninsured, duplicates, deceased,
    employers, land_farmers — or ``review`` or ``arrears``; all when None) of the current
    build. Without personal data in ``scope`` only the employer lists and arrears. ``store``:
    the store whose review decisions count (None: no review list). ``as_of``: the date of the
    arrears (default the data's as-of date)."""
    if which is not None and which not in CHOICES:
        raise UsageError(
            f"未知的清单类型：{which}（可用 {' | '.join(CHOICES)}）", f"unknown list {which!r}"
        )
    out: dict[str, pl.DataFrame] = {}
    if which is None or which in coverage_api.KINDS:
        out.update(coverage_api.gap_lists(data_dir, scope, kind=which, engine=engine,
                                          spark_master=spark_master))  # fmt: skip
    if which in (None, "review") and scope.personal and store is not None:
        out[review.LIST] = review.review_list(data_dir, scope, store)
    if which in (None, "arrears"):
        found = arrears.arrears_list(data_dir, scope, as_of, engine=engine,
                                     spark_master=spark_master)  # fmt: skip
        if found is not None:
            out[arrears.LIST] = found
    return out
