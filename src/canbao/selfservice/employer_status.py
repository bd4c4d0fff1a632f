"""What a signed-in employer sees about itself — registration, schemes with the persons enrolled
(counts only), arrears by scheme and period with late fees, agreements, the dunning state — and
what its 参保缴费情况证明 states. Nothing personal.

The ledger rows and the compliance status come from the same code the staff employer page and
the city-wide lists use (:func:`canbao.coverage.api.employer_session`,
:func:`canbao.collection.api.compliance_in`): the employer's part of the city-wide ledger. The
reader is the employer itself, as a read-only scope of its own (``portal:<credit code>``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel

from canbao.collection import agreements, dunning
from canbao.collection import api as collection_api
from canbao.collection.published import data_as_of
from canbao.coverage import api as coverage_api
from canbao.ingest.kinds import OWNERSHIP, SCHEME_LABELS_ZH
from canbao.registry import snapshot
from canbao.standards.money import yuan_text
from canbao.store.db import Store
from canbao.warehouse.scope import Scope

OWNERSHIP_ZH = {code: words[0] for code, words in OWNERSHIP.items()}
STATUS_ZH = {"active": "存续", "cancelled": "注销", "revoked": "吊销"}


class Scheme(BaseModel):
    scheme: str
    scheme_label: str
    enrolled: int  # persons with an active enrolment under the employer


class ArrearsRow(BaseModel):
    scheme: str
    scheme_label: str
    period: str
    balance_fen: int
    balance: str  # yuan text
    late_fee_fen: int
    late_fee: str
    days_past_due: int | None


class AgreementLine(BaseModel):
    kind_label: str
    status_label: str
    schemes: str
    principal: str
    paid: str
    start_date: dt.date | None
    end_date: dt.date | None


class DunningLine(BaseModel):
    state_label: str
    schemes: str
    amount: str
    last_step: str | None
    last_step_on: dt.date | None


class EmployerStatus(BaseModel):
    employer_key: str
    name: str
    credit_code: str
    county_code: str | None
    ownership_label: str | None
    registered: bool
    status_label: str | None
    schemes: list[Scheme]
    arrears: list[ArrearsRow]
    arrears_fen: int
    arrears_text: str
    late_fee_fen: int
    late_fee_text: str
    arrears_periods: int  # ledger rows owed (scheme × period)
    arrears_months: int  # distinct periods owed
    agreement_status: str | None
    enforcement_status: str | None
    agreements: list[AgreementLine]
    dunning: list[DunningLine]
    as_of: dt.date


def portal_scope(credit_code: str) -> Scope:
    """The employer's own read-only scope: the ledger, no personal data."""
    return Scope(
        f"portal:{credit_code}", "leader", None, personal=False, reveal=False,
        reason="self-service: the employer's own status",
    )  # fmt: skip


def _labels(schemes: tuple[str, ...] | list[str]) -> str:
    return "、".join(SCHEME_LABELS_ZH.get(s, s) for s in schemes)


def _enrolled(data_dir: Path, employer_key: str) -> list[Scheme]:
    counted = (
        snapshot.require_current(data_dir)
        .scan("enrollments")
        .filter((pl.col("employer_key") == employer_key) & (pl.col("status") == "active"))
        .group_by("scheme")
        .agg(pl.col("person_key").n_unique().alias("enrolled"))
        .sort("scheme")
        .collect()
    )
    return [
        Scheme(scheme=r["scheme"], scheme_label=SCHEME_LABELS_ZH.get(r["scheme"], r["scheme"]),
               enrolled=int(r["enrolled"]))
        for r in counted.to_dicts()
    ]  # fmt: skip


def _arrears(rows: pl.DataFrame) -> list[ArrearsRow]:
    owed = rows.filter((pl.col("balance") > 0) & (pl.col("days_past_due") > 0)).sort(
        "scheme", "period"
    )
    return [
        ArrearsRow(
            scheme=r["scheme"], scheme_label=SCHEME_LABELS_ZH.get(r["scheme"], r["scheme"]),
            period=r["period"], balance_fen=int(r["balance"]), balance=yuan_text(int(r["balance"])),
            late_fee_fen=int(r["late_fee"]), late_fee=yuan_text(int(r["late_fee"])),
            days_past_due=r["days_past_due"],
        )
        for r in owed.to_dicts()
    ]  # fmt: skip


def _workflow(
    store: Store, scope: Scope, key: str
) -> tuple[list[AgreementLine], list[DunningLine]]:
    made = [
        AgreementLine(
            kind_label=agreements.KINDS.get(a.kind, a.kind), status_label=a.status_label,
            schemes=_labels(a.schemes), principal=yuan_text(a.principal_fen),
            paid=yuan_text(a.paid_fen), start_date=a.start_date, end_date=a.end_date,
        )
        for a in reversed(agreements.agreements(store, scope, employer_key=key))
    ]  # fmt: skip
    steps = []
    for c in reversed(dunning.cases(store, scope, employer_key=key)):
        last = c.steps[-1] if c.steps else None
        steps.append(
            DunningLine(
                state_label=dunning.STATE_LABELS.get(c.state, c.state), schemes=_labels(c.schemes),
                amount=yuan_text(c.amount_fen),
                last_step=dunning.STEP_LABELS.get(last.kind, last.kind) if last else None,
                last_step_on=c.last_step_on,
            )
        )  # fmt: skip
    return made, steps


def employer_status(
    store: Store, data_dir: Path, employer_key: str, credit_code: str
) -> EmployerStatus:
    """The employer's own status at the data's as-of date."""
    scope = portal_scope(credit_code)
    with coverage_api.employer_session(data_dir, scope, employer_key, data_as_of(data_dir)) as s:
        rows = collection_api.employer_ledger_in(s, employer_key)
        status: dict[str, Any] = collection_api.compliance_in(s, employer_key, store=store)
        registry = s.frame(
            "SELECT ownership, status FROM employers WHERE employer_key = "
            f"'{employer_key.replace(chr(39), chr(39) * 2)}'"
        )
        as_of = s.as_of
    made, steps = _workflow(store, scope, employer_key)
    reg = registry.row(0, named=True) if registry.height else {}
    owed = _arrears(rows)
    return EmployerStatus(
        employer_key=employer_key,
        name=status["employer_name"] or "",
        credit_code=status["credit_code"] or credit_code,
        county_code=status["county_code"],
        ownership_label=OWNERSHIP_ZH.get(str(reg.get("ownership")), reg.get("ownership")),
        registered=bool(status["registered"]),
        status_label=STATUS_ZH.get(str(reg.get("status")), reg.get("status")),
        schemes=_enrolled(data_dir, employer_key),
        arrears=owed,
        arrears_fen=int(status["arrears_fen"]),
        arrears_text=str(status["arrears"]),
        late_fee_fen=int(status["late_fee_fen"]),
        late_fee_text=str(status["late_fee"]),
        arrears_periods=int(status["arrears_periods"]),
        arrears_months=len({r.period for r in owed}),
        agreement_status=status["agreement_status"],
        enforcement_status=status["enforcement_status"],
        agreements=made,
        dunning=steps,
        as_of=as_of,
    )
