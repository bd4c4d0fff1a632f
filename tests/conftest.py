"""Shared test settings.

Hypothesis: no per-example deadline — the machine (and CI) is shared and noisy; speed is measured
in bench/, never asserted in tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "canbao", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("canbao")

_TESTS = Path(__file__).resolve().parent


# Parallel runs: `make test` runs on both cores (pytest-xdist, ``--dist loadfile``: a module's
# tests run on one worker, so its module fixtures are built once). The longest modules are sent
# first, so neither core waits long for the other at the end.
_LONGEST_FIRST = (
    "registry/test_spark_equivalence.py",
    "hostile/test_skew_demo.py",
    "hostile/test_demo_output.py",
    "collection/test_ledger_incremental.py",
    "hostile/test_crash.py",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("dist", "no") == "no":
        return

    def rank(item: pytest.Item) -> int:
        module = Path(str(item.path)).resolve().relative_to(_TESTS).as_posix()
        return next((i for i, m in enumerate(_LONGEST_FIRST) if m == module), len(_LONGEST_FIRST))

    items.sort(key=rank)  # stable: the order within a module is kept
