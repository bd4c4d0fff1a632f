"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from canbao.standards import citizen_id, divisions

_REGIONS = sorted(c for c in divisions.all_codes() if divisions.lookup(c).level == "county")  # type: ignore[union-attr]


@st.composite
def valid_id18(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(_REGIONS))
    birth = draw(st.dates(min_value=dt.date(1890, 1, 1), max_value=dt.date(2024, 12, 31)))
    seq = draw(st.integers(min_value=0, max_value=999))
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + citizen_id.compute_check_char(body)


@st.composite
def valid_id15(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(_REGIONS))
    birth = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31)))
    seq = draw(st.integers(min_value=0, max_value=995))
    return f"{region}{birth:%y%m%d}{seq:03d}"
