"""Findings of finished audit cases in the ledger (canbao.collection.ledger_audits), through a
real store: known answers — a finding of N fen for a month adds N to that month's due and
arrears, and its late fee runs from the month's original due date — and nothing before the
case is finished."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from canbao.audit import cases
from canbao.collection.ledger import build_ledger_at
from canbao.collection.ledger_audits import digest
from canbao.collection.policy import policy_for
from canbao.coverage.policy import policy_for as coverage_policy
from canbao.coverage.session import Session
from canbao.registry.engine import DuckDBEngine
from canbao.store import open_store
from tests.audit.case_people import D, People, finding
from tests.scopes import SYSTEM

POLICY = policy_for("360400", D(2017, 6, 30))


def _table(
    eng: DuckDBEngine, name: str, rows: list[dict[str, Any]], schema: dict[str, Any]
) -> None:
    eng.create_table_from_arrow(name, pl.DataFrame(rows, schema=schema, orient="row").to_arrow())


@contextmanager
def session(data_dir: Path, day: dt.date, people: People) -> Iterator[Session]:
    """E1 (active): March–May declared at 81,000 fen a month and paid on 15 April, 15 May and
    15 June; E2 (closed): nothing."""
    e1, e2 = people.employer(1).employer_key, people.employer(2).employer_key
    eng = DuckDBEngine()
    s = Session(data_dir, eng, day, coverage_policy(day), "test", SYSTEM)
    common = {"batch_id": pl.Utf8, "row": pl.Int64, "as_of": pl.Date, "period": pl.Utf8,
              "scheme": pl.Utf8}  # fmt: skip
    months = ("2017-03", "2017-04", "2017-05")
    decl = [{"batch_id": "D", "row": i, "as_of": D(2017, 6, 30), "period": p,
             "scheme": "employee_pension", "due": 81_000} for i, p in enumerate(months, 1)]  # fmt: skip
    pay = [{"batch_id": "P", "row": i, "as_of": D(2017, 6, 30), "period": p,
            "scheme": "employee_pension", "paid": 81_000, "paid_date": D(2017, 3 + i, 15),
            "txn_id": f"T{i}"} for i, p in enumerate(months, 1)]  # fmt: skip
    try:
        _table(eng, "cov_declaration", decl, {**common, "due": pl.Int64})
        _table(eng, "cov_payment", pay,
               {**common, "paid": pl.Int64, "paid_date": pl.Date, "txn_id": pl.Utf8})  # fmt: skip
        _table(eng, "cov_arrears", [], {**common, "amount": pl.Int64, "arrears_as_of": pl.Date})
        links = [{"batch_id": b, "row": i, "employer_key": e1} for b in "DP" for i in (1, 2, 3)]
        _table(eng, "employer_links", links,
               {"batch_id": pl.Utf8, "row": pl.Int64, "employer_key": pl.Utf8})  # fmt: skip
        _table(eng, "employers", [{"employer_key": e1, "status": "存续"},
                                  {"employer_key": e2, "status": "注销"}],
               {"employer_key": pl.Utf8, "status": pl.Utf8})  # fmt: skip
        yield s
    finally:
        s.close()


def ledger(data_dir: Path, day: dt.date, people: People) -> dict[tuple[str, str], dict[str, Any]]:
    with session(data_dir, day, people) as s:
        build_ledger_at(s, day, "ledger", POLICY)
        frame = s.frame("SELECT * FROM ledger")
    return {(r["employer_key"], r["period"]): r for r in frame.to_dicts()}


def _audit(data_dir: Path, people: People) -> tuple[int, int]:
    store = open_store(data_dir)
    a = people.auditor
    sc = people.scope(a)
    ids = []
    try:
        for i, found in ((1, finding(people, 1000, "2017-03")),
                         (2, finding(people, 3000, "2017-02", kind="headcount"))):  # fmt: skip
            c = cases.open_case(
                store, a, sc, people.employer(i), notice_on=D(2017, 6, 1), visit_on=D(2017, 6, 5),
                period_from="2017-01", period_to="2017-05",
            )  # fmt: skip
            cases.record(store, a, sc, c.id, visited_on=D(2017, 6, 5), findings=[found])
            ids.append(c.id)
        cases.finish(store, a, sc, ids[0], on=D(2017, 6, 13), rectify_by=D(2017, 7, 13))
    finally:
        store.dispose()
    return ids[0], ids[1]


def test_a_finding_adds_its_amount_to_due_and_arrears_with_the_late_fee(
    tmp_path: Path, people: People
) -> None:
    e1, e2 = people.employer(1).employer_key, people.employer(2).employer_key
    before = ledger(tmp_path, D(2017, 6, 30), people)
    _first, second = _audit(tmp_path, people)
    assert digest(tmp_path, D(2017, 6, 12)) == ""  # assessed from 13 June
    early = ledger(tmp_path, D(2017, 6, 12), people)
    assert early[(e1, "2017-03")]["due"] == 81_000 and early[(e1, "2017-03")]["balance"] == 0
    after = ledger(tmp_path, D(2017, 6, 30), people)
    row, was = after[(e1, "2017-03")], before[(e1, "2017-03")]
    n = 27_000  # a base 1,000 yuan short × 27 %
    assert row["due"] == was["due"] + n and row["balance"] == was["balance"] + n == n
    assert row["source"] == "declared" and row["due_date"] == D(2017, 4, 30)
    # unpaid from the due date 2017-04-30: 1 May … 30 June = 61 days × 0.05 % → 823.5 → 824 fen
    assert row["late_fee"] == was["late_fee"] + 824 and row["days_past_due"] == 61
    assert {k: v for k, v in after.items() if k != (e1, "2017-03")} == {
        k: v for k, v in before.items() if k != (e1, "2017-03")
    }
    assert (e2, "2017-02") not in after  # the second case is not finished
    store = open_store(tmp_path)
    try:
        a = people.auditor
        cases.finish(store, a, people.scope(a), second, on=D(2017, 6, 20),
                     rectify_by=D(2017, 7, 20))  # fmt: skip
    finally:
        store.dispose()
    pure = ledger(tmp_path, D(2017, 6, 30), people)[(e2, "2017-02")]
    # headcount: 3,000 yuan × 27 % = 81,000 fen, due 2017-03-31, 91 days late: 3,685.5 → 3,686
    assert (pure["source"], pure["due"], pure["balance"]) == ("audit", 81_000, 81_000)
    assert pure["late_fee"] == 3_686 and pure["days_past_due"] == 91
    assert not pure["estimated"]
