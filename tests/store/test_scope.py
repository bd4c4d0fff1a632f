"""Scope: a county user's codes include the retired codes of their county; the SQL condition,
the Polars expression and ``allows`` agree on every code (property test)."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canbao.errors import PermissionDenied
from canbao.profile import default_profile
from canbao.store import Actor
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope


def test_a_county_user_sees_the_retired_codes_of_their_county() -> None:
    profile = default_profile()
    county = next(c for c in profile.counties if c.predecessors)
    scope = scope_for(Actor("li_si", "county_staff", (county.code,)), profile)
    assert scope.counties == frozenset({county.code, *county.predecessors})
    other = next(c for c in profile.counties if c.code != county.code)
    assert not scope.allows(other.code) and not scope.allows(None)
    with pytest.raises(PermissionDenied, match="区县范围"):
        scope.require_county(other.code)
    assert scope.personal and scope.reveal


def test_roles_decide_what_a_scope_may_see() -> None:
    profile = default_profile()
    leader = scope_for(Actor("boss", "leader"), profile)
    assert leader.city_wide and not leader.personal and not leader.reveal
    with pytest.raises(PermissionDenied):
        leader.require_personal()
    collector = scope_for(Actor("c", "collector"), profile)
    assert collector.personal and not collector.reveal
    with pytest.raises(PermissionDenied):
        collector.require_reveal()


def test_system_scopes_are_named() -> None:
    with pytest.raises(ValueError):
        Scope.system("")
    s = Scope.system("monthly build")
    assert s.city_wide and s.reason == "monthly build" and s.sql("county_code") == "TRUE"


def test_codes_are_checked() -> None:
    with pytest.raises(ValueError):
        Scope("x", "county_staff", frozenset({"3604' OR 1=1 --"}))


CODES = st.sampled_from(["360402", "360403", "360421", "362621", "360400", "devzone"])


@settings(max_examples=60, deadline=None)
@given(mine=st.sets(CODES, max_size=4), rows=st.lists(st.one_of(st.none(), CODES), max_size=30))
def test_sql_expr_and_allows_agree(mine: set[str], rows: list[str | None]) -> None:
    scope = Scope("x", "county_staff", frozenset(mine))
    frame = pl.DataFrame({"county_code": rows}, schema={"county_code": pl.Utf8})
    by_expr = scope.filter(frame, "county_code")["county_code"].to_list()
    con = duckdb.connect()
    con.register("t", frame.to_arrow())
    by_sql = [
        r[0]
        for r in con.execute(
            f"SELECT county_code FROM t WHERE {scope.sql('county_code')}"
        ).fetchall()
    ]
    by_allows = [c for c in rows if scope.allows(c)]
    assert sorted(by_expr) == sorted(by_sql) == sorted(by_allows)  # type: ignore[type-var]
