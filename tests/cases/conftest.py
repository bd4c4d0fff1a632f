"""The cases tests run on both backends: the store's fixtures (``backend``, ``store``: SQLite
and PostgreSQL) come from tests/store/conftest.py. ``people``: actors and scopes in two counties
of the region profile; :func:`make_lists`: small hand-made work lists (the columns
:func:`canbao.coverage.api.gap_lists` gives) for store-only tests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
import pytest

from canbao import cases
from canbao.profile import Profile, default_profile
from canbao.store import Actor, Store, accounts
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope
from tests.store.conftest import backend, store  # noqa: F401 - fixtures for this folder

PASSWORD = "Xiangmu2017ok"


@dataclass(frozen=True)
class People:
    profile: Profile
    here: str
    there: str
    admin: Actor
    city: Actor
    county_here: Actor
    county_here2: Actor
    county_there: Actor
    leader: Actor
    department: Actor

    def scope(self, actor: Actor) -> Scope:
        return scope_for(actor, self.profile)

    def add_users(self, db: Store) -> None:
        """The county and city staff as users of the store (to assign cases to)."""
        for a in (self.city, self.county_here, self.county_here2, self.county_there):
            accounts.add_user(db, self.admin, a.name, a.role, PASSWORD, a.counties)


@pytest.fixture
def people() -> People:
    profile = default_profile()
    here, there = profile.counties[0].code, profile.counties[1].code
    return People(
        profile, here, there,
        admin=Actor("root_admin", "admin"),
        city=Actor("qian_city", "city_staff"),
        county_here=Actor("li_county", "county_staff", (here,)),
        county_here2=Actor("wang_county", "county_staff", (here,)),
        county_there=Actor("zhou_county", "county_staff", (there,)),
        leader=Actor("wu_leader", "leader"),
        department=Actor("tax_bureau", "department"),
    )  # fmt: skip


def person_id(county: str, i: int) -> str:
    """An 18-character ID-shaped number of ``county`` (birth 1985-03-15)."""
    return f"{county}19850315{i:03d}{i % 10}"


def uninsured(county: str, keys: Iterable[int], *, medical: bool = True) -> pl.DataFrame:
    """Rows of the uninsured list: persons ``P<county>-<i>``, both gaps (or pension only)."""
    ks = list(keys)
    return pl.DataFrame(
        {
            "county_code": [county] * len(ks),
            "township": ["甲镇" if i % 2 else "乙街道" for i in ks],
            "segment": ["resident"] * len(ks),
            "priority": [1 + i % 3 for i in ks],
            "gap": ["养老、医疗均未参保"] * len(ks),
            "reason": ["需核实"] * len(ks),
            "person_key": [f"P{county}-{i}" for i in ks],
            "id18": [person_id(county, i) for i in ks],
            "name": [f"张{i}" for i in ks],
            "sex": ["F"] * len(ks),
            "age": [30] * len(ks),
            "address": [f"某路{i}号" for i in ks],
            "phone": [f"139{i:08d}" for i in ks],
            "employer_name": [None] * len(ks),
            "pension_gap": [1] * len(ks),
            "medical_gap": [1 if medical else 0] * len(ks),
        },
        schema_overrides={"employer_name": pl.Utf8},
    )


def unregistered(county: str, keys: Iterable[int]) -> pl.DataFrame:
    ks = list(keys)
    return pl.DataFrame(
        {
            "county_code": [county] * len(ks),
            "employer_key": [f"E{county}-{i}" for i in ks],
            "employer_name": [f"某某商贸有限公司{i}" for i in ks],
            "credit_code": [f"91{county}MA35L7X{i:03d}" for i in ks],
            "priority": [1] * len(ks),
            "reason": ["个税有工资发放但未办理社保登记"] * len(ks),
        }
    )


def make_lists(counties: dict[str, Iterable[int]]) -> dict[str, pl.DataFrame]:
    """The uninsured and unregistered-employer lists of the given counties' persons/employers."""
    return {
        "uninsured": pl.concat([uninsured(c, ks) for c, ks in counties.items()]),
        "unregistered_employers": pl.concat([unregistered(c, ks) for c, ks in counties.items()]),
    }


def case_of(db: Store, key: str) -> cases.CaseView:
    found = [c for c in cases.list_cases(db, SYSTEM, limit=None) if c.case_key == key]
    assert len(found) == 1, key
    return found[0]


SYSTEM = Scope.system("tests")
