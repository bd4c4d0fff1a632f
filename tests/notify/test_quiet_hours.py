"""Quiet hours in China time (UTC+8): a message made outside the window waits for the next
window start; the window's end is exclusive."""

from __future__ import annotations

import datetime as dt

import pytest

from canbao.notify.config import NotifyConfig
from canbao.notify.quiet_hours import in_window, not_before

CFG = NotifyConfig()  # 08:00–20:00


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (dt.datetime(2017, 12, 20, 0, 0), None),  # 08:00: open
        (dt.datetime(2017, 12, 20, 11, 59), None),  # 19:59: open
        (dt.datetime(2017, 12, 20, 12, 0), dt.datetime(2017, 12, 21, 0, 0)),  # 20:00: next day
        (dt.datetime(2017, 12, 20, 15, 59), dt.datetime(2017, 12, 21, 0, 0)),  # 23:59
        (dt.datetime(2017, 12, 20, 16, 0), dt.datetime(2017, 12, 21, 0, 0)),  # 00:00 local
        (dt.datetime(2017, 12, 19, 23, 59), dt.datetime(2017, 12, 20, 0, 0)),  # 07:59 same day
        (dt.datetime(2017, 12, 31, 14, 0), dt.datetime(2018, 1, 1, 0, 0)),  # over the year
    ],
)
def test_not_before(utc: dt.datetime, expected: dt.datetime | None) -> None:
    assert not_before(utc, CFG) == expected
    assert in_window(utc, CFG) == (expected is None)
