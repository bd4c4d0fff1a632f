"""Actors, scopes and a demo employer for the audit-case tests (imported by each test module,
with the store's fixtures, so that no conftest is shared with the audit plan's tests)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from canbao.audit import cases
from canbao.audit.findings import Finding, assess
from canbao.collection.dunning import Employer
from canbao.profile import Profile, default_profile
from canbao.store import Actor, Store
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope

D = dt.date


@dataclass(frozen=True)
class People:
    profile: Profile
    here: str
    there: str
    auditor: Actor
    auditor_there: Actor
    city: Actor
    county_here: Actor
    leader: Actor

    def scope(self, actor: Actor) -> Scope:
        return scope_for(actor, self.profile)

    @property
    def region(self) -> str:
        return self.profile.policy_region

    def employer(self, i: int = 1, county: str | None = None) -> Employer:
        code = county or self.here
        return Employer(f"E{code}-{i}", f"某某机械制造有限公司{i}", f"91{code}MA35L7X{i:03d}", code)


@pytest.fixture
def people() -> People:
    profile = default_profile()
    here, there = profile.counties[0].code, profile.counties[1].code
    return People(
        profile, here, there,
        auditor=Actor("he_auditor", "auditor", (here,)),
        auditor_there=Actor("lu_auditor", "auditor", (there,)),
        city=Actor("qian_city", "city_staff"),
        county_here=Actor("li_county", "county_staff", (here,)),
        leader=Actor("wu_leader", "leader"),
    )  # fmt: skip


def finding(
    people: People,
    amount_base_yuan: int = 1000,
    period: str = "2017-03",
    scheme: str = "employee_pension",
    kind: str = "base",
    person: str = "P1",
) -> Finding:
    declared = 0 if kind == "headcount" else 300_000
    raw = Finding(
        kind, person, "张三丰", scheme, period, declared, declared + amount_base_yuan * 100
    )
    return assess(raw, people.region)


def opened(db: Store, people: People, i: int = 1) -> cases.AuditCaseView:
    a = people.auditor
    return cases.open_case(
        db, a, people.scope(a), people.employer(i), notice_on=D(2017, 6, 1),
        visit_on=D(2017, 6, 5), period_from="2017-01", period_to="2017-05",
        auditors=["何稽核", "陆稽核"],
    )  # fmt: skip
