"""The risk model, the money at stake, the ability to pay and the plan's selection on a
hand-made city of four employers over two months (known answers), plus the weights file's
rules and a property of the points."""

from __future__ import annotations

import copy
import datetime as dt
import math
import tomllib
from collections.abc import Iterator
from importlib import resources
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao.audit import ability, risk, targets
from canbao.audit.weights import Weights, load, parse
from canbao.collection.policy import ContributionPolicy, policy_for
from canbao.coverage.policy import policy_for as coverage_policy
from canbao.coverage.session import Session
from canbao.errors import DataError, UsageError
from canbao.registry.engine import DuckDBEngine
from canbao.standards.money import div_half_up
from canbao.warehouse.scope import Scope
from tests.scopes import SYSTEM
from tests.scratch import NOWHERE

DAY = dt.date(2017, 2, 28)
MONTHS = ("2017-01", "2017-02")
SCHEMES = ("employee_pension", "employee_medical", "work_injury", "maternity", "unemployment")
WAGE = 500_000  # 5,000 yuan a month: inside the base floor and ceiling


def _raw() -> dict[str, Any]:
    text = resources.files("canbao.audit").joinpath("data/risk_weights.toml").read_text("utf-8")
    return tomllib.loads(text)


def _weights(**ability_changes: Any) -> Weights:
    raw = copy.deepcopy(_raw())
    raw["ability"].update(ability_changes)
    return parse(raw, "test")


def _table(s: Session, name: str, rows: list[dict[str, Any]], schema: dict[str, Any]) -> None:
    s.eng.create_table_from_arrow(name, pl.DataFrame(rows, schema=schema, orient="row").to_arrow())


def _city(s: Session) -> None:
    """E1 compliant; E2 declares 70% of the base; E3 leaves out its February hire; E4 declares
    the three core schemes only. E1, E2 in county 360402, E3, E4 in 360403."""
    emp = [
        ("E1", "360402", "教育", "1"), ("E2", "360402", "批发和零售业", "2"),
        ("E3", "360403", "住宿和餐饮业", "2"), ("E4", "360403", "房屋建筑业", "5"),
    ]  # fmt: skip
    _table(s, "employers", [
        {"employer_key": k, "credit_code": f"C{k}", "name": f"单位{k}", "county_code": c,
         "ownership": "private", "industry": ind, "risk_class": rc, "status": "存续",
         "si_registered": True, "sources": ["si_employer"]}
        for k, c, ind, rc in emp
    ], {"employer_key": pl.Utf8, "credit_code": pl.Utf8, "name": pl.Utf8, "county_code": pl.Utf8,
        "ownership": pl.Utf8, "industry": pl.Utf8, "risk_class": pl.Utf8, "status": pl.Utf8,
        "si_registered": pl.Boolean, "sources": pl.List(pl.Utf8)})  # fmt: skip
    staff = {"E1": ["P1", "P2"], "E2": ["P3", "P4"], "E3": ["P5", "P6"], "E4": ["P7", "P8"]}
    tax = [(k, m, p) for k, ps in staff.items() for m in MONTHS for p in ps]
    tax.append(("E3", "2017-02", "P9"))  # E3's February hire
    _table(s, "tax_rows", [{"person_key": p, "employer_key": k, "period": m, "wage": WAGE}
                           for k, m, p in tax],
           {"person_key": pl.Utf8, "employer_key": pl.Utf8, "period": pl.Utf8, "wage": pl.Int64})  # fmt: skip
    heads = {(k, m): sum(1 for x in tax if x[0] == k and x[1] == m) for k in staff for m in MONTHS}
    _table(s, "employer_tax_month", [
        {"employer_key": k, "period": m, "tax_headcount": n, "tax_wage": n * WAGE,
         "tax_base": n * WAGE} for (k, m), n in heads.items()
    ], {"employer_key": pl.Utf8, "period": pl.Utf8, "tax_headcount": pl.Int64,
        "tax_wage": pl.Int64, "tax_base": pl.Int64})  # fmt: skip
    decl = []
    for k in staff:
        for m in MONTHS:
            for sc in SCHEMES:
                if k == "E4" and sc in ("maternity", "unemployment"):
                    continue
                base = 2 * WAGE * 7 // 10 if k == "E2" else 2 * WAGE
                decl.append({"employer_key": k, "period": m, "scheme": sc,
                             "declared_headcount": 2, "declared_base": base, "declared_due": 0})  # fmt: skip
    _table(s, "employer_decl_month", decl, {
        "employer_key": pl.Utf8, "period": pl.Utf8, "scheme": pl.Utf8,
        "declared_headcount": pl.Int64, "declared_base": pl.Int64, "declared_due": pl.Int64,
    })  # fmt: skip
    _table(s, "enrollments", [
        {"person_key": p, "employer_key": k, "scheme": "employee_pension",
         "start_date": dt.date(2016, 1, 1)} for k, ps in staff.items() for p in ps
    ], {"person_key": pl.Utf8, "employer_key": pl.Utf8, "scheme": pl.Utf8,
        "start_date": pl.Date})  # fmt: skip
    # the ledger: E2 owes January's pension; E3 paid half of its due months
    led = []
    for k in staff:
        for i, m in enumerate(MONTHS):
            unpaid = (k == "E2" and m == "2017-01") or (k == "E3" and i == 0)
            led.append({"employer_key": k, "scheme": "employee_pension", "period": m,
                        "due_date": dt.date(2017, 1 + i, 15), "balance": 100 if unpaid else 0,
                        "days_past_due": 30 if unpaid else 0})  # fmt: skip
    _table(s, "ledger", led, {"employer_key": pl.Utf8, "scheme": pl.Utf8, "period": pl.Utf8,
                              "due_date": pl.Date, "balance": pl.Int64,
                              "days_past_due": pl.Int64})  # fmt: skip
    s._built |= {"activity", "tax_rows", "ledger"}


@pytest.fixture
def made() -> Iterator[Session]:
    eng = DuckDBEngine()
    s = Session(NOWHERE, eng, DAY, coverage_policy(DAY), "test", SYSTEM)
    try:
        _city(s)
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def policy() -> ContributionPolicy:
    return policy_for("000000", DAY)


def _expected_money(policy: ContributionPolicy, gap: int, months: int, risk_class: int,
                    schemes: tuple[str, ...] = SCHEMES) -> int:  # fmt: skip
    total = 0
    for sc in schemes:
        bp = policy.rate(sc, risk_class).total_bp
        total += months * div_half_up(gap * bp, 10_000)
    return total


def test_scores_add_up_to_their_contributions_with_known_values(
    made: Session, policy: ContributionPolicy
) -> None:
    w = load()
    found = risk.score_in(made, w, policy)
    emp = {r["employer_key"]: r for r in found.employers.iter_rows(named=True)}
    got = {(r["employer_key"], r["signal"]): (r["value"], r["points"])
           for r in found.contributions.iter_rows(named=True)}  # fmt: skip
    # every score is the sum of its contributions
    for key, row in emp.items():
        parts = [p for (k, _), (_, p) in got.items() if k == key]
        assert row["score"] == pytest.approx(round(sum(parts), 1))
    # E1: compliant, no industry or size points: nothing to explain, score 0
    assert emp["E1"]["score"] == 0 and not [k for k in got if k[0] == "E1"]
    # E2: base per person 30% short → 1.5 points per point (cap 45); one month in arrears
    assert got[("E2", "base_short")] == (pytest.approx(30.0), 45.0)
    assert ("E2", "headcount_short") not in got
    assert got[("E2", "arrears")] == (1.0, 1.0)
    assert got[("E2", "industry")] == (4.0, 4.0)
    money_e2 = _expected_money(policy, 2 * WAGE * 3 // 10, 2, 2)
    assert emp["E2"]["money_under"] == money_e2 and emp["E2"]["money_selective"] == 0
    assert emp["E2"]["months"] == 2 and emp["E2"]["persons"] == 2
    value = math.log10(money_e2 / 100_000)
    assert got[("E2", "money_at_stake")][0] == pytest.approx(value)
    assert got[("E2", "money_at_stake")][1] == round(min(75.0, 25.0 * value), 1)
    # E3: 4 of 5 person-months declared (20%); its hire never enrolled (100% late)
    assert got[("E3", "headcount_short")] == (pytest.approx(20.0), 30.0)
    assert got[("E3", "late_enrolment")] == (pytest.approx(100.0), 15.0)
    assert emp["E3"]["money_under"] == _expected_money(policy, WAGE, 1, 2)
    assert emp["E3"]["months"] == 1 and emp["E3"]["persons"] == 1
    # E4: no maternity, no unemployment → selective, the money of the two schemes
    assert got[("E4", "selective")] == (2.0, 4.0)
    assert emp["E4"]["money_under"] == 0
    assert emp["E4"]["money_selective"] == _expected_money(
        policy, 2 * WAGE, 2, 5, ("maternity", "unemployment")
    )
    money = found.money.filter(pl.col("employer_key") == "E4")
    assert sorted(money["scheme"]) == ["maternity", "unemployment"]
    assert set(money["basis"]) == {"selective"}


def test_a_county_scope_sees_its_employers_only(made: Session, policy: ContributionPolicy) -> None:
    made.scope = Scope("auditor_b", "auditor", frozenset({"360403"}))
    found = risk.score_in(made, load(), policy)
    assert set(found.employers["employer_key"]) == {"E3", "E4"}
    assert set(found.contributions["employer_key"]) <= {"E3", "E4"}
    assert set(found.money["employer_key"]) <= {"E3", "E4"}


def test_breaches_add_their_points(made: Session, policy: ContributionPolicy) -> None:
    w = load()
    found = risk.score_in(made, w, policy)
    before = dict(zip(found.employers["employer_key"], found.employers["score"], strict=True))
    after = risk.add_breaches(found, {"E1": 1, "E9": 2}, w)  # E9: not an employer of the model
    scores = dict(zip(after.employers["employer_key"], after.employers["score"], strict=True))
    assert scores["E1"] == before["E1"] + 10.0
    assert scores["E2"] == before["E2"]
    assert "E9" not in set(after.contributions["employer_key"])


def test_ability_is_flagged_not_guessed(made: Session, policy: ContributionPolicy) -> None:
    w = load()  # trend over 3 + 3 months: two months of wages say nothing of a trend
    risk.score_in(made, w, policy)
    got = ability.ability_in(made, w.ability)
    by = {r["employer_key"]: r for r in got.iter_rows(named=True)}
    assert by["E1"]["wage_trend"] is None and by["E1"]["ability"] == "数据不足"
    assert "工资总额趋势：数据不足" in by["E1"]["ability_notes"]
    assert by["E3"]["ability"] == "较弱"  # half its due months unpaid: a known poor component


def test_ability_from_trends_and_payments(made: Session, policy: ContributionPolicy) -> None:
    w = _weights(trend_months=1)  # January against February
    risk.score_in(made, w, policy)
    by = {r["employer_key"]: r for r in ability.ability_in(made, w.ability).iter_rows(named=True)}
    assert by["E1"]["wage_trend"] == 1.0 and by["E1"]["paid_share"] == 1.0
    assert by["E1"]["ability"] == "较强"
    assert by["E3"]["headcount_trend"] == 1.5 and by["E3"]["paid_share"] == 0.5
    assert by["E3"]["ability"] == "较弱"
    assert by["E2"]["paid_share"] == 0.5 and by["E2"]["ability"] == "较弱"  # owes January
    assert by["E4"]["ability"] == "较强"


def _model(made: Session, policy: ContributionPolicy) -> risk.RiskModel:
    w = load()
    found = risk.score_in(made, w, policy)
    able = ability.ability_in(made, w.ability)
    return risk.RiskModel(found.employers.join(able, on="employer_key", how="left"),
                          found.contributions, found.money)  # fmt: skip


def test_the_plan_ranks_limits_and_excludes(made: Session, policy: ContributionPolicy) -> None:
    w = load()
    found = _model(made, policy)
    plan = targets.select(found, w, 5)
    # E1 (0) and E4 (4 points) are below the minimum score of 10
    assert plan.targets["employer_key"].to_list() == ["E2", "E3"]
    assert plan.targets["rank"].to_list() == [1, 1]  # one per county
    assert set(plan.contributions["employer_key"]) == {"E2", "E3"}
    assert (
        plan.targets.filter(pl.col("employer_key") == "E2")["reasons"]
        .item()
        .startswith("申报基数低于个税工资（+45.0分）")
    )
    one = targets.select(found, w, 1, recently_audited={"E2"}, enforcement={"E3"})
    assert one.targets.is_empty()
    reasons = dict(zip(one.excluded["employer_key"], one.excluded["excluded_reason"], strict=True))
    assert reasons["E2"].startswith("近12个月内已稽核") and "强制执行" in reasons["E3"]


def test_targets_per_county() -> None:
    w = load()
    assert targets.per_county(w) == w.plan.top_per_county
    assert targets.per_county(w, top=7, capacity=3) == 7
    assert targets.per_county(w, capacity=4, auditors=2, months=3) == 24
    with pytest.raises(UsageError):
        targets.per_county(w, top=0)


def test_the_weights_file_is_checked() -> None:
    raw = _raw()
    assert parse(raw, "ok").signals["base_short"].cap == 45.0
    bad = copy.deepcopy(raw)
    bad["signals"]["base_short"]["cap"] = -1
    with pytest.raises(DataError, match="signals.base_short.cap"):
        parse(bad, "bad")
    bad = copy.deepcopy(raw)
    bad["signals"]["nonsense"] = bad["signals"]["size"]
    with pytest.raises(DataError, match="nonsense"):
        parse(bad, "bad")
    bad = copy.deepcopy(raw)
    bad["plan"]["enforcement_states"] = ["jail"]
    with pytest.raises(DataError, match="jail"):
        parse(bad, "bad")
    bad = copy.deepcopy(raw)
    del bad["format"]
    with pytest.raises(DataError):
        parse(bad, "bad")


@given(
    value=st.floats(0, 1e6, allow_nan=False),
    ppu=st.floats(0, 100, allow_nan=False),
    cap=st.floats(0, 100, allow_nan=False),
    threshold=st.floats(0, 100, allow_nan=False),
)
def test_points_never_exceed_the_cap_and_grow_with_the_value(
    value: float, ppu: float, cap: float, threshold: float
) -> None:
    import duckdb

    from canbao.audit.weights import Signal

    sig = Signal("x", "x", "", ppu, cap, threshold)
    con = duckdb.connect()
    got = con.execute(
        f"SELECT {risk.points_sql('a', sig)}, {risk.points_sql('b', sig)}"
        " FROM (SELECT ? AS a, ? AS b)",
        [value, value * 2],
    ).fetchone()
    assert got is not None
    low, high = got
    assert 0 <= low <= round(cap, 1) + 1e-9 and low <= high
    if value < threshold or value == 0:
        assert low == 0


@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["360402", "360403", "360404"]), st.integers(0, 200),
                  st.integers(0, 10**7)),
        max_size=40,
    ),
    limit=st.integers(1, 6),
    audited=st.sets(st.integers(0, 39), max_size=8),
    enforced=st.sets(st.integers(0, 39), max_size=8),
)  # fmt: skip
def test_the_plan_respects_limits_exclusions_and_order(
    rows: list[tuple[str, int, int]], limit: int, audited: set[int], enforced: set[int]
) -> None:
    w = load()
    keys = [f"E{i:02d}" for i in range(len(rows))]
    employers = pl.DataFrame(
        {
            "employer_key": keys,
            "county_code": [r[0] for r in rows],
            "employer_name": keys,
            "credit_code": keys,
            "score": [r[1] / 2 for r in rows],
            "money_under": [r[2] for r in rows],
        },
        schema={"employer_key": pl.Utf8, "county_code": pl.Utf8, "employer_name": pl.Utf8,
                "credit_code": pl.Utf8, "score": pl.Float64, "money_under": pl.Int64},
    )  # fmt: skip
    contributions = employers.select(
        "employer_key", pl.lit("size").alias("signal"), pl.col("score").alias("value"),
        pl.col("score").alias("points"),
    ).filter(pl.col("points") > 0)  # fmt: skip
    found = risk.RiskModel(employers, contributions, pl.DataFrame(schema={"employer_key": pl.Utf8}))
    recent = {f"E{i:02d}" for i in audited}
    enforcement = {f"E{i:02d}" for i in enforced}
    plan = targets.select(found, w, limit, recently_audited=recent, enforcement=enforcement)
    chosen = set(plan.targets["employer_key"])
    assert not chosen & (recent | enforcement)
    assert (plan.targets["score"] >= w.plan.min_score).all()
    for county, group in plan.targets.group_by("county_code"):
        assert group.height <= limit
        eligible = employers.filter(
            (pl.col("county_code") == county[0])
            & (pl.col("score") >= w.plan.min_score)
            & ~pl.col("employer_key").is_in(sorted(recent | enforcement))
        )
        # nobody left out scores more than the county's last target
        left = eligible.filter(~pl.col("employer_key").is_in(sorted(chosen)))
        if left.height:
            assert left["score"].max() <= group["score"].min()  # type: ignore[operator]
        ranked = group.sort("rank")
        assert ranked["score"].to_list() == sorted(ranked["score"].to_list(), reverse=True)
