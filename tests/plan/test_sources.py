"""The actuals contract: coverage and collection provide what the plan needs without importing
it (tests/test_layers.py checks the imports; this checks the shape and the codes)."""

from __future__ import annotations

from pathlib import Path

from canbao.collection.actuals import OWNERSHIP_GROUP, SCHEME_INDICATORS, CollectionActuals
from canbao.coverage.actuals import INDICATOR_SCHEMES, CoverageActuals
from canbao.plan.actuals import ActualsSource, FileActuals, FrameActuals, default_actuals_source
from canbao.plan.indicators import indicators
from canbao.profile import load_profile


def test_providers_have_the_shape_the_plan_defines(tmp_path: Path) -> None:
    for source in (
        CoverageActuals(tmp_path),
        CollectionActuals(tmp_path),
        FileActuals(tmp_path / "x.csv"),
    ):
        assert isinstance(source, ActualsSource)
        assert isinstance(source.label, str)


def test_provided_indicator_codes_are_the_plans() -> None:
    catalogue = {i.code for i in indicators()}
    assert set(INDICATOR_SCHEMES) <= catalogue
    assert set(SCHEME_INDICATORS.values()) <= catalogue
    assert {f"new_arrears_ratio.{g}" for g in OWNERSHIP_GROUP.values()} <= catalogue


def test_no_data_no_source(tmp_path: Path) -> None:
    assert default_actuals_source(None) is None
    assert default_actuals_source(tmp_path / "empty", load_profile()) is None
    assert not (tmp_path / "empty").exists()  # looking is not writing


def test_frame_actuals_is_a_source() -> None:
    import polars as pl

    assert isinstance(FrameActuals(pl.DataFrame()), ActualsSource)
