"""The collection tests that use the store run on both backends: the store's fixtures
(``backend``, ``store``: SQLite and PostgreSQL) come from tests/store/conftest.py. ``people``:
the actors and scopes of the agreement and dunning tests (the region profile's counties)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from canbao.profile import Profile, default_profile
from canbao.store import Actor
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope
from tests.store.conftest import backend, store  # noqa: F401 - fixtures for this folder


@dataclass(frozen=True)
class People:
    profile: Profile
    here: str  # the employer's county
    there: str  # another county
    collector: Actor
    city: Actor  # city staff: may approve
    city2: Actor
    county_here: Actor
    county_there: Actor
    leader: Actor
    department: Actor

    def scope(self, actor: Actor) -> Scope:
        return scope_for(actor, self.profile)


@pytest.fixture
def people() -> People:
    profile = default_profile()
    here, there = profile.counties[0].code, profile.counties[1].code
    return People(
        profile, here, there,
        collector=Actor("zhao_collector", "collector"),
        city=Actor("qian_city", "city_staff"),
        city2=Actor("sun_city", "city_staff"),
        county_here=Actor("li_county", "county_staff", (here,)),
        county_there=Actor("zhou_county", "county_staff", (there,)),
        leader=Actor("wu_leader", "leader"),
        department=Actor("tax_bureau", "department"),
    )  # fmt: skip
