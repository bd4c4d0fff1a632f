"""Quiet hours: reminders go out only between ``quiet_hours.start`` and ``end`` of local time
(default 08:00–20:00, Asia/Shanghai, UTC+8 all year). The store keeps naive UTC times."""

from __future__ import annotations

import datetime as dt

from canbao.notify.config import NotifyConfig

CHINA = dt.timedelta(hours=8)  # China Standard Time has no daylight saving


def local(now_utc: dt.datetime) -> dt.datetime:
    return now_utc + CHINA


def in_window(now_utc: dt.datetime, config: NotifyConfig) -> bool:
    t = local(now_utc).time()
    return config.quiet_start <= t < config.quiet_end


def not_before(now_utc: dt.datetime, config: NotifyConfig) -> dt.datetime | None:
    """None inside the window; else the next window start (naive UTC)."""
    if in_window(now_utc, config):
        return None
    here = local(now_utc)
    day = here.date() if here.time() < config.quiet_start else here.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, config.quiet_start) - CHINA
