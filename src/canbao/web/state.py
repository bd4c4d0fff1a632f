"""What one web process holds: the data directory, one store (connection pool) for every
request, the region profile and the templates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from canbao.profile import Profile
from canbao.standards import masking
from canbao.standards.money import yuan_text
from canbao.store.db import Store

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def _yuan(value: Any) -> str:
    if value is None:
        return "—"
    return yuan_text(int(value), thousands=True)


def _pct(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def _date(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters["yuan"] = _yuan
    env.filters["pct"] = _pct
    env.filters["day"] = _date
    env.filters["mask_id"] = masking.mask_id
    env.filters["mask_name"] = masking.mask_name
    return templates


@dataclass
class WebState:
    data_dir: Path
    store: Store
    profile: Profile
    templates: Jinja2Templates
    secure_cookies: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # per-area caches and background jobs


def state_of(request: Request) -> WebState:
    st: WebState = request.app.state.canbao
    return st
