"""Known-answer tests of the status rule and the versioned policy."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from canbao.coverage.policy import load_policies, policy_for
from canbao.coverage.status import record_status_sql
from canbao.errors import DataError, NotFoundError

AS_OF = "DATE '2017-12-31'"


@pytest.mark.parametrize(
    ("status", "start", "end", "day", "expected"),
    [
        ("active", "2010-01-01", None, "2017-12-31", "active"),
        ("active", "2018-01-15", None, "2017-12-31", "active"),  # registered, starts next month
        ("active", "2018-01-15", None, "2017-06-30", None),  # history: not started yet
        ("ended", "2010-01-01", "2017-05-01", "2017-12-31", "ended"),
        ("ended", "2010-01-01", "2017-05-01", "2017-04-30", "active"),  # running then
        ("suspended", "2010-01-01", "2017-03-01", "2017-12-31", "suspended"),
        ("ended", "2010-01-01", None, "2017-06-30", "ended"),
        (None, None, None, "2017-12-31", "active"),  # no status, no dates: enrolled as of extract
        (None, None, None, "2017-06-30", None),
    ],
)
def test_record_status(status, start, end, day, expected) -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE enrollments AS SELECT CAST(? AS VARCHAR) AS status, CAST(? AS DATE) AS start_date,"
        " CAST(? AS DATE) AS end_date, DATE '2017-12-31' AS as_of",
        [status, start, end],
    )
    got = con.execute(f"SELECT {record_status_sql(f'DATE {day!r}')} FROM enrollments").fetchall()
    assert got[0][0] == expected


def test_policy_versions(tmp_path: Path) -> None:
    p = policy_for(dt.date(2017, 12, 31))
    assert (
        p.retirement_age_male,
        p.retirement_age_female_worker,
        p.retirement_age_female_cadre,
    ) == (60, 50, 55)
    assert p.base_floor_fen == p.avg_wage_prev_year_fen * 6 // 10
    assert p.base_ceiling_fen == p.avg_wage_prev_year_fen * 3
    doc = json.loads(
        (Path(__file__).parents[2] / "src/canbao/coverage/data/policy.json").read_text("utf-8")
    )
    v2 = dict(doc["versions"][0], valid_from="2018-07-01", avg_wage_prev_year_fen=500000)
    doc["versions"].append(v2)
    f = tmp_path / "policy.json"
    f.write_text(json.dumps(doc), encoding="utf-8")
    assert len(load_policies(f)) == 2
    assert policy_for(dt.date(2018, 6, 30), f).avg_wage_prev_year_fen == 460000
    assert policy_for(dt.date(2018, 7, 1), f).avg_wage_prev_year_fen == 500000
    with pytest.raises(NotFoundError):
        policy_for(dt.date(2016, 1, 1), f)
    bad = dict(v2, pension_min_age=-1)
    f.write_text(json.dumps({"versions": [bad]}), encoding="utf-8")
    with pytest.raises(DataError):
        load_policies(f)
