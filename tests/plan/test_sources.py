"""The actuals contract: coverage and collection provide what the plan needs without importing
it (tests/test_layers.py checks the imports; this checks the shape and the codes)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from canbao.collection import subsidies
from canbao.collection.actuals import OWNERSHIP_GROUP, SCHEME_INDICATORS
from canbao.collection.kpi import LedgerActuals
from canbao.coverage import group_actuals, land_farmers
from canbao.coverage.actuals import INDICATOR_SCHEMES, CoverageActuals
from canbao.plan.actuals import ActualsSource, FileActuals, FrameActuals, default_actuals_source
from canbao.plan.indicators import indicators
from canbao.plan.key_groups import KEY_GROUPS
from canbao.profile import load_profile


def test_providers_have_the_shape_the_plan_defines(tmp_path: Path) -> None:
    for source in (
        CoverageActuals(tmp_path),
        LedgerActuals(tmp_path),
        FileActuals(tmp_path / "x.csv"),
        land_farmers.LandFarmerActuals(tmp_path),
        subsidies.SubsidyActuals(tmp_path),
        group_actuals.GroupActuals(tmp_path),
    ):
        assert isinstance(source, ActualsSource)
        assert isinstance(source.label, str)


def test_provided_indicator_codes_are_the_plans() -> None:
    catalogue = {i.code for i in indicators()}
    assert set(INDICATOR_SCHEMES) <= catalogue
    assert set(SCHEME_INDICATORS.values()) <= catalogue
    assert {f"new_arrears_ratio.{g}" for g in OWNERSHIP_GROUP.values()} <= catalogue
    assert {f"clearance_rate.{g}" for g in OWNERSHIP_GROUP.values()} <= catalogue
    assert {land_farmers.INDICATOR, subsidies.INDICATOR} <= catalogue


def test_key_group_codes_are_the_plans() -> None:
    """The key groups coverage counts are the plan's, and so are the indicators it emits for
    them (enrolment only: the plan's group targets are 扩面目标)."""
    assert set(group_actuals.GROUPS) == {g.code for g in KEY_GROUPS}
    assert {c for g in KEY_GROUPS for c in g.indicators} <= set(INDICATOR_SCHEMES)
    frame = group_actuals.to_actuals(
        pl.DataFrame(
            {
                "grp": ["park", "private"],
                "scheme": ["employee_medical", "resident_medical"],
                "unit": ["city", "city"],
                "n": [3, 4],
            }
        ),  # fmt: skip
        date(2017, 12, 31),
    )
    assert set(frame["group"]) <= set(group_actuals.GROUPS)
    assert frame.filter(pl.col("indicator") == "enrolled.medical")["value"].to_list() == ["3", "4"]


def test_no_data_no_source(tmp_path: Path) -> None:
    assert default_actuals_source(None) is None
    assert default_actuals_source(tmp_path / "empty", load_profile()) is None
    assert not (tmp_path / "empty").exists()  # looking is not writing


def test_frame_actuals_is_a_source() -> None:
    assert isinstance(FrameActuals(pl.DataFrame()), ActualsSource)
