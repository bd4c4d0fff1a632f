"""What the store says now about a set of employers: the agreement in force, the state of the open
dunning case and the active 严重失信 listings — three reads in one session for any number of
employers (a batch of 1,000 credit codes costs what one costs).

The rules are :mod:`canbao.collection.workflow_state`'s: the latest agreement that is proposed,
approved or breached; the latest dunning case not closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from canbao.collection import dunning
from canbao.collection.workflow_state import IN_FORCE
from canbao.compliance.listings import ListingView, _view, active_condition
from canbao.store.db import Store
from canbao.store.models import Agreement, CreditListing, DunningCase


@dataclass(frozen=True)
class Live:
    agreement: dict[str, str] = field(default_factory=dict)  # employer_key → status code
    enforcement: dict[str, str] = field(default_factory=dict)  # employer_key → dunning state
    listings: dict[str, list[ListingView]] = field(default_factory=dict)  # credit code → active


def read(
    store: Store, employer_keys: Iterable[str], credit_codes: Iterable[str], day: dt.date
) -> Live:
    keys = sorted(set(employer_keys))
    codes = sorted(set(credit_codes))
    out = Live()
    with store.sessions() as s:
        if keys:
            deals = s.execute(
                select(Agreement.employer_key, Agreement.status)
                .where(Agreement.employer_key.in_(keys), Agreement.status.in_(IN_FORCE))
                .order_by(Agreement.id)
            )
            for key, status in deals:
                out.agreement[key] = status  # the latest wins
            cases = s.execute(
                select(DunningCase.employer_key, DunningCase.state)
                .where(
                    DunningCase.employer_key.in_(keys),
                    DunningCase.state.not_in(sorted(dunning.FINAL)),
                )
                .order_by(DunningCase.id)
            )
            for key, state in cases:
                out.enforcement[key] = state
        if codes:
            rows = s.execute(
                select(CreditListing)
                .where(CreditListing.credit_code.in_(codes), active_condition(day))
                .order_by(CreditListing.id)
            ).scalars()
            for r in rows:
                out.listings.setdefault(r.credit_code, []).append(_view(r))
    return out
