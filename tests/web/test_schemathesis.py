"""Schemathesis against the app's own OpenAPI document: every operation of the compliance API and
of the public self-service area (paths under /api/compliance, /self, /verify, /api/self), with
generated requests — a department key sent with each — must never answer 5xx and every answer
must match its documented schema. Examples are few per operation (the suite's time budget)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from canbao.compliance import quota
from canbao.store import Actor, accounts
from canbao.store.db import Store
from canbao.web import create_app
from canbao.web.routes.compliance import QUOTA_KEY
from tests.web.conftest import City

PATHS = r"^/(api/compliance|self|verify|api/self)(/|$)"
EXAMPLES = 30


@pytest.fixture(scope="module")
def fuzz_app(city: City, web_store: Store) -> Any:
    app = create_app(city.data, store=web_store, warm=False)
    app.state.canbao.extra[QUOTA_KEY] = quota.Quota(codes=10**9, window=60)
    return app


@pytest.fixture(scope="module")
def fuzz_key(web_store: Store) -> str:
    _row, key = accounts.add_key(
        web_store, Actor.operator(), "t_fuzz", purpose="接口测试（schemathesis）"
    )
    return key


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Any) -> Any:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", fuzz_app)
    return schema.include(path_regex=PATHS)


def test_the_filter_finds_the_compliance_operations(api_schema: Any) -> None:
    paths = {op.ok().path for op in api_schema.get_all_operations()}
    assert {"/api/compliance/{credit_code}", "/api/compliance/batch"} <= paths


def test_no_server_error_and_answers_match_the_schema(api_schema: Any, fuzz_key: str) -> None:
    """Each operation's generated cases (schemathesis' pytest loader for fixtures does not run on
    pytest 9: the cases are drawn here with Hypothesis instead)."""
    headers = {"Authorization": f"Bearer {fuzz_key}"}
    ran: list[str] = []
    seen: dict[str, set[int]] = {}
    for found in api_schema.get_all_operations():
        operation = found.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: Any) -> None:
            got = case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )
            seen.setdefault(got.request.method + " " + case.operation.path, set()).add(
                got.status_code
            )

        check()
        ran.append(f"{operation.method.upper()} {operation.path}")
    print(sorted((k, sorted(v)) for k, v in seen.items()))  # noqa: T201  # which answers came
    assert "GET /api/compliance/{credit_code}" in ran and "POST /api/compliance/batch" in ran
    assert 200 in seen["POST /api/compliance/batch"]  # the generated batches were answered
