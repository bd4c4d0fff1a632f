"""Fixtures of the audit-case tests: the store on both backends (SQLite and PostgreSQL, from
tests/store/conftest.py) and ``people`` (tests/audit/case_people.py)."""

from tests.audit.case_people import people  # noqa: F401 - fixture
from tests.store.conftest import backend, store  # noqa: F401 - fixtures
