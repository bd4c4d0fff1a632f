"""Self-service core tests: one small synthetic city (registry built) shared by the session,
and a fresh store per test on SQLite and on PostgreSQL (``$CANBAO_TEST_DATABASE_URL``). The
floor delay of the sign-in steps is shortened (one test measures it at its real length)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from canbao.notify.senders import sent_file
from canbao.registry import api as registry
from canbao.registry import snapshot
from canbao.selfservice import person_sign_in, throttles
from canbao.store import Store, open_store
from tests.registry.city import ingest, make_city
from tests.store.conftest import BACKENDS, url_for


@dataclass(frozen=True)
class City:
    data: Path
    person: dict[str, object]  # a person with a mobile phone on file
    no_phone: dict[str, object]  # a person without one
    employer: dict[str, object]  # an employer with a credit code


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    root = tmp_path_factory.mktemp("self-city")
    made = make_city(root, persons=600, seed=23)
    data = root / "data"
    ingest(made, data)
    registry.build(data)
    snap = snapshot.require_current(data)
    persons = snap.scan("persons").filter(pl.col("id18").is_not_null()).collect()
    mobile = pl.col("phone").str.contains(r"^1[0-9]{10}$").fill_null(False)
    person = persons.filter(mobile).row(0, named=True)
    no_phone = persons.filter(pl.col("phone").is_null()).row(0, named=True)
    employer = (
        snap.scan("employers")
        .filter(pl.col("credit_code").is_not_null())
        .collect()
        .row(0, named=True)
    )
    return City(data, person, no_phone, employer)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, city: City) -> Iterator[Store]:
    s = open_store(tmp_path, url_for(str(request.param), tmp_path), upgrade=True)
    sent_file(city.data).unlink(missing_ok=True)  # a fresh store numbers its codes from 1 again
    yield s
    person_sign_in.drain()
    s.dispose()


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttles, "FLOOR_S", 0.01)


def sent_code(data: Path, ticket: str) -> str | None:
    """The code the file sender wrote for this ticket's row (None: nothing was sent)."""
    person_sign_in.drain()  # codes are sent in the background
    path = sent_file(data)
    if not path.exists():
        return None
    want = f"otp:{ticket.split('.')[0]}"
    found = None
    for line in path.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        if doc["out_id"] == want:
            found = str(doc["params"]["code"])
    return found


def unknown_code() -> str:
    """A valid credit code of no employer of the city."""
    from canbao.standards.credit_code import compute_uscc_check

    body = "91360403MA35BHN50"
    return body + compute_uscc_check(body)
