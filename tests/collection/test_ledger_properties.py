"""The ledger's SQL against a plain Python reading of its definitions, on random declarations,
payments (with and without transaction numbers, some delivered twice) and opening arrears:
every row equal; due − paid = balance; late fees never decrease as the as-of date moves on.

The session is made by hand (tables in an in-memory DuckDB engine in place of the registry
snapshot and the ingest views), so each example takes milliseconds."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from canbao.collection.ledger import build_ledger_at
from canbao.collection.policy import policy_for
from canbao.coverage.policy import policy_for as coverage_policy
from canbao.coverage.session import Session
from canbao.registry.engine import DuckDBEngine
from canbao.standards.money import div_half_up
from tests.scopes import SYSTEM
from tests.scratch import NOWHERE

# the sessions have no data directory; anything that would open its store finds an empty one
# here, never in the working directory

SCHEMES = ("employee_pension", "work_injury")
FIRST = 2016 * 12 + 10  # month index of 2016-11 (year × 12 + month − 1)
OPENING_AS_OF = dt.date(2016, 12, 31)
BATCH_AS_OF = {"P1": dt.date(2017, 12, 31), "P2": dt.date(2018, 1, 15)}
POLICY = policy_for("360400", dt.date(2017, 6, 30))


def period(mi: int) -> str:
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


def due_date(mi: int) -> dt.date:
    nxt = mi + 2  # the 1st of the month after the following one, less a day
    return dt.date(nxt // 12, nxt % 12 + 1, 1) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Pay:
    emp: int
    scheme: int
    mi: int
    amount: int
    paid: dt.date
    txn: str | None
    twice: bool  # also in the second file


@dataclass
class Case:
    active: list[bool]
    decl: dict[tuple[int, int, int], int]  # (emp, scheme, mi) → due
    arrears: dict[tuple[int, int, int], int]
    pays: list[Pay]


@st.composite
def cases(draw: Any) -> Case:
    n = draw(st.integers(1, 2))
    key = st.tuples(st.integers(0, n - 1), st.integers(0, 1), st.integers(FIRST, FIRST + 10))
    decl = draw(st.dictionaries(key, st.integers(0, 300_000), max_size=10))
    okey = st.tuples(st.integers(0, n - 1), st.integers(0, 1), st.integers(FIRST, FIRST + 2))
    arrears = draw(st.dictionaries(okey, st.integers(1, 300_000), max_size=3))
    raw = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1), st.integers(0, 1), st.integers(FIRST, FIRST + 11),
                st.integers(1, 300_000), st.integers(0, 520), st.booleans(), st.booleans(),
            ),
            max_size=12,
        )
    )  # fmt: skip
    pays = [
        Pay(e, sc, mi, amt, dt.date(2016, 11, 1) + dt.timedelta(days=d),
            f"T{i}" if with_txn else None, twice)
        for i, (e, sc, mi, amt, d, with_txn, twice) in enumerate(raw)
    ]  # fmt: skip
    active = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return Case(active, decl, arrears, pays)


def _table(
    eng: DuckDBEngine, name: str, rows: list[dict[str, Any]], schema: dict[str, Any]
) -> None:
    eng.create_table_from_arrow(name, pl.DataFrame(rows, schema=schema, orient="row").to_arrow())


@contextmanager
def session(case: Case) -> Iterator[Session]:
    eng = DuckDBEngine()
    day = dt.date(2017, 12, 31)
    s = Session(NOWHERE, eng, day, coverage_policy(day), "test", SYSTEM)
    try:
        links: list[dict[str, Any]] = []

        def link(batch: str, row: int, emp: int) -> None:
            links.append({"batch_id": batch, "row": row, "employer_key": f"E{emp}"})

        decl = []
        for i, ((e, sc, mi), due) in enumerate(sorted(case.decl.items()), start=1):
            decl.append({"batch_id": "D1", "row": i, "as_of": day, "period": period(mi),
                         "scheme": SCHEMES[sc], "due": due})  # fmt: skip
            link("D1", i, e)
        arr = []
        for i, ((e, sc, mi), amount) in enumerate(sorted(case.arrears.items()), start=1):
            arr.append({"batch_id": "A1", "row": i, "as_of": dt.date(2017, 1, 5),
                        "period": period(mi), "scheme": SCHEMES[sc], "amount": amount,
                        "arrears_as_of": OPENING_AS_OF})  # fmt: skip
            link("A1", i, e)
        pays = []
        for batch in ("P1", "P2"):
            chosen = [p for p in case.pays if batch == "P1" or p.twice]
            for i, p in enumerate(chosen, start=1):
                pays.append({"batch_id": batch, "row": i, "as_of": BATCH_AS_OF[batch],
                             "period": period(p.mi), "scheme": SCHEMES[p.scheme],
                             "paid": p.amount, "paid_date": p.paid, "txn_id": p.txn})  # fmt: skip
                link(batch, i, p.emp)
        common = {"batch_id": pl.Utf8, "row": pl.Int64, "as_of": pl.Date, "period": pl.Utf8,
                  "scheme": pl.Utf8}  # fmt: skip
        _table(eng, "cov_declaration", decl, {**common, "due": pl.Int64})
        _table(eng, "cov_arrears", arr,
               {**common, "amount": pl.Int64, "arrears_as_of": pl.Date})  # fmt: skip
        _table(eng, "cov_payment", pays,
               {**common, "paid": pl.Int64, "paid_date": pl.Date, "txn_id": pl.Utf8})  # fmt: skip
        _table(eng, "employer_links", links,
               {"batch_id": pl.Utf8, "row": pl.Int64, "employer_key": pl.Utf8})  # fmt: skip
        emps = [{"employer_key": f"E{i}", "status": "存续" if a else "注销"}
                for i, a in enumerate(case.active)]  # fmt: skip
        _table(eng, "employers", emps, {"employer_key": pl.Utf8, "status": pl.Utf8})
        yield s
    finally:
        s.close()


def _payments(case: Case) -> list[Pay]:
    """Each payment once: by transaction number; without one, a content counts as often as in
    the file that has it most often (the second file holds copies of the first's rows)."""
    with_txn = {(p.emp, p.scheme, p.mi, p.txn): p for p in case.pays if p.txn is not None}
    content = Counter((p.emp, p.scheme, p.mi, p.amount, p.paid) for p in case.pays if p.txn is None)
    out = list(with_txn.values())
    for (e, sc, mi, amount, paid), n in content.items():
        out.extend(Pay(e, sc, mi, amount, paid, None, False) for _ in range(n))
    return out


def expected(case: Case, day: dt.date) -> dict[tuple[str, str, str], tuple[int, int, int, bool]]:
    """(employer, scheme, period) → (due, paid, late fee, estimated), by the definitions."""
    last = day.year * 12 + day.month - 1
    last_due = max((m for m in range(FIRST - 12, last + 1) if due_date(m) <= day), default=-1)
    rows: dict[tuple[int, int, int], tuple[int, str, dt.date | None]] = {}
    estimates: dict[tuple[int, int, int], int] = {}
    declared: dict[tuple[int, int], list[int]] = {}
    for (e, sc, mi), due in case.decl.items():
        if mi <= last:
            rows[(e, sc, mi)] = (due, "declared", None)
            declared.setdefault((e, sc), []).append(mi)
    for (e, sc), months in declared.items():
        months.sort()
        ends = [*months[1:], (last_due + 1) if case.active[e] else months[-1] + 1]
        for m, end in zip(months, ends, strict=True):
            for gap in range(m + 1, end):
                estimates[(e, sc, gap)] = div_half_up(case.decl[(e, sc, m)] * 110, 100)
    for (e, sc, mi), amount in case.arrears.items():
        if mi <= last and (e, sc, mi) not in rows:
            rows[(e, sc, mi)] = (amount, "opening", OPENING_AS_OF)
    for k, due in estimates.items():
        rows.setdefault(k, (due, "estimated", None))
    applied: dict[tuple[int, int, int], list[Pay]] = {}
    for p in _payments(case):
        k = (p.emp, p.scheme, p.mi)
        opening = rows.get(k, (0, "", None))[2]
        if p.paid <= day and p.mi <= last and (opening is None or p.paid > opening):
            applied.setdefault(k, []).append(p)
            rows.setdefault(k, (0, "payment", None))
    out = {}
    for k, (due, source, _) in rows.items():
        dd = due_date(k[2])
        before = pdays = 0
        for p in sorted(applied.get(k, []), key=lambda p: p.paid):
            pdays += max(min(p.amount, due - before), 0) * max((p.paid - dd).days, 0)
            before += p.amount
        pdays += max(due - before, 0) * max((day - dd).days, 0)
        fee = div_half_up(pdays * 5, 10_000)
        out[(f"E{k[0]}", SCHEMES[k[1]], period(k[2]))] = (due, before, fee, source == "estimated")
    return out


def ledger(s: Session, day: dt.date, name: str) -> pl.DataFrame:
    build_ledger_at(s, day, name, POLICY)
    return s.frame(f"SELECT * FROM {name}")


@settings(max_examples=60, deadline=None)
@given(cases(), st.dates(dt.date(2016, 12, 1), dt.date(2018, 3, 31)), st.integers(1, 300))
def test_ledger_matches_its_definitions(case: Case, day: dt.date, later: int) -> None:
    with session(case) as s:
        first, second = ledger(s, day, "l1"), ledger(s, day + dt.timedelta(days=later), "l2")
    for frame, when in ((first, day), (second, day + dt.timedelta(days=later))):
        got = {
            (r["employer_key"], r["scheme"], r["period"]): (
                r["due"], r["paid"], r["late_fee"], r["estimated"]
            )
            for r in frame.iter_rows(named=True)
        }  # fmt: skip
        assert got == expected(case, when)
        assert (frame["due"] - frame["paid"] == frame["balance"]).all()
    keys = ["employer_key", "scheme", "period"]
    both = first.join(second, on=keys, how="left", suffix="_later")
    assert (both["late_fee_later"] >= both["late_fee"]).all()
