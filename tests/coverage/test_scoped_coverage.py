"""Every read of the coverage API goes through a Scope: for each read function (found by its
signature, so a new one cannot be forgotten), county readers get only rows of their counties and
the single counties together give back every city-wide row placed in one of them; readers
without personal data get no person lists; a county outside the scope is refused; the
city-wide analyses refuse a county reader."""

from __future__ import annotations

import functools
import inspect
import random
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from canbao.coverage import api
from canbao.errors import PermissionDenied
from canbao.profile import default_profile
from canbao.registry import api as registry
from canbao.store import Actor
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope
from tests.registry.city import ingest, make_city
from tests.scopes import SYSTEM

# read functions that are city-wide jobs (refuse a county reader) rather than scoped reads
CITY_WIDE = {"analyse", "evaluate"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    city = make_city(tmp_path_factory.mktemp("cov-scope-city"), persons=600, seed=41)
    data = tmp_path_factory.mktemp("cov-scope-data")
    ingest(city, data)
    registry.build(data)
    return data


def readers(data: Path) -> dict[str, Callable[[Scope], dict[str, pl.DataFrame]]]:
    """Each scoped read of the API, as named frames that carry ``county_code``."""
    return {
        "gap_lists": lambda s: api.gap_lists(data, s),
        "coverage_export": lambda s: {"export": api.coverage_export(data, s)},
        "statistics": lambda s: api.statistics(data, s),
        "session": lambda s: _in_session(data, s),
        "employer_session": lambda s: _one_employer(data, s),
    }


@functools.cache
def _busiest_employers(data: Path) -> tuple[str, ...]:
    """Per county, the employer with the most rows in the city-wide employer lists."""
    lists = api.gap_lists(data, SYSTEM, "employers")
    keys = pl.concat(
        [f.select("employer_key", "county_code") for f in lists.values() if "employer_key" in f]
    )
    counts = keys.group_by("county_code", "employer_key").len()
    best = counts.sort(["len", "employer_key"]).group_by("county_code").last()
    return tuple(sorted(best["employer_key"].to_list()))


def _one_employer(data: Path, scope: Scope) -> dict[str, pl.DataFrame]:
    """The web's employer page reads one employer in an employer session (here: the busiest
    of each county, one after the other)."""
    out: dict[str, list[pl.DataFrame]] = {}
    for key in _busiest_employers(data):
        with api.employer_session(data, scope, key) as s:
            for name, frame in api.employer_lists_in(s).items():
                out.setdefault("employer " + name, []).append(frame)
    return {name: pl.concat(frames, how="diagonal_relaxed") for name, frames in out.items()}


def _in_session(data: Path, scope: Scope) -> dict[str, pl.DataFrame]:
    with api.session(data, scope) as s:
        return {"lists " + k: v for k, v in api.gap_lists_in(s, "employers").items()}


def test_every_read_takes_a_required_scope() -> None:
    with_scope = {
        n for n, f in inspect.getmembers(api, inspect.isfunction)
        if f.__module__ == api.__name__ and not n.startswith("_")
        and "scope" in inspect.signature(f).parameters
    }  # fmt: skip
    assert with_scope == set(readers(Path("."))) | CITY_WIDE, "a read of the API is not tested"
    for name in with_scope:
        param = inspect.signature(getattr(api, name)).parameters["scope"]
        assert param.default is inspect.Parameter.empty, f"{name}: the scope must be required"
    # every other public function works inside a session (which carries the scope)
    for name, f in inspect.getmembers(api, inspect.isfunction):
        if f.__module__ != api.__name__ or name.startswith("_") or name in with_scope:
            continue
        params = list(inspect.signature(f).parameters)
        assert params[:1] == ["s"] or name == "write_gap_lists", f"{name} reads without a scope"


def test_county_readers_see_only_their_counties(built: Path) -> None:
    profile = default_profile()
    known = {c.code for c in profile.counties}
    everything = {name: read(SYSTEM) for name, read in readers(built).items()}
    present = sorted(
        {c for frames in everything.values() for f in frames.values()
         for c in f["county_code"].drop_nulls().to_list() if c in known}
    )  # fmt: skip
    assert len(present) >= 4
    rng = random.Random(5)
    attempts = [[present[0]], [present[-1]], rng.sample(present, 2)]
    for name, read in readers(built).items():
        seen: dict[str, int] = {}
        for mine in attempts:
            scope = scope_for(Actor("county_user", "county_staff", tuple(mine)), profile)
            assert scope.counties is not None
            for key, frame in read(scope).items():
                outside = frame.filter(~pl.col("county_code").is_in(sorted(scope.counties)))
                assert outside.height == 0, f"{name}/{key}: {outside.height} rows outside"
                if len(mine) == 1:
                    seen[key] = seen.get(key, 0) + frame.height
        for key, frame in everything[name].items():
            theirs = frame.filter(pl.col("county_code").is_in([present[0], present[-1]])).height
            assert seen.get(key, 0) == theirs, f"{name}/{key}: a county lost its own rows"
        total = sum(f.height for f in everything[name].values())
        assert total > 0 and sum(seen.values()) > 0, name


def test_personal_lists_need_personal_data(built: Path) -> None:
    profile = default_profile()
    for role in ("leader", "department"):
        outsider = scope_for(Actor("x", role), profile)
        lists = api.gap_lists(built, outsider)
        assert set(lists) == {
            "unregistered_employers", "under_reporters", "headcount_months", "selective_employers",
        }  # fmt: skip
        assert sum(f.height for f in lists.values()) > 0
        for kind in ("uninsured", "duplicates", "deceased", "land_farmers"):
            with pytest.raises(PermissionDenied, match="无权查看个人信息"):
                api.gap_lists(built, outsider, kind=kind)
        with pytest.raises(PermissionDenied):
            api.coverage_export(built, outsider)
        assert api.statistics(built, outsider)["rates"].height > 0  # counts: every role


def test_a_county_outside_the_scope_and_city_wide_jobs_are_refused(built: Path) -> None:
    profile = default_profile()
    counties = sorted(api.coverage_export(built, SYSTEM)["county_code"].drop_nulls().unique())
    mine, other = counties[0], counties[-1]
    staff = scope_for(Actor("li", "county_staff", (mine,)), profile)
    assert api.gap_lists(built, staff, kind="deceased", county=mine) is not None
    with pytest.raises(PermissionDenied, match="不在您负责的区县"):
        api.gap_lists(built, staff, kind="deceased", county=other)
    with pytest.raises(PermissionDenied, match="全市范围"):
        api.analyse(built, staff)
    with pytest.raises(PermissionDenied, match="全市范围"):
        api.evaluate(built, built, staff)
