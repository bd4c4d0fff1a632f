"""The routers of the web app, one module per area (pages and their ``/api`` twins)."""

from __future__ import annotations

from fastapi import APIRouter

from canbao.web.routes import (
    agreements,
    api,
    audit_cases,
    audit_plan,
    cases,
    compliance,
    data,
    dunning,
    employers,
    home,
    ledger,
    persons,
    reminders,
    reports,
    review,
    search,
    self_employer,
    selfservice,
    session,
)

ROUTERS: list[APIRouter] = [
    session.router,
    home.router,
    search.router,
    persons.router,
    employers.router,
    cases.router,
    review.router,
    data.router,
    reports.router,
    ledger.router,
    dunning.router,
    agreements.router,
    audit_plan.router,
    audit_cases.router,
    reminders.router,
    selfservice.router,
    self_employer.router,
    compliance.router,
    api.router,
]
