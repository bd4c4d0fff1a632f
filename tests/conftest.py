"""Shared test settings.

Hypothesis: no per-example deadline — the machine (and CI) is shared and noisy; speed is measured
in bench/, never asserted in tests.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "canbao", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("canbao")
