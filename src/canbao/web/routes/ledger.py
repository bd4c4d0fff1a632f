"""欠费: the collectors' arrears work list in the viewer's scope — filters (county, ageing bucket,
ownership), most urgent first, paged — and its xlsx download through the safe writer.

The list is :func:`canbao.collection.api.arrears` at the data's as-of date (computed once per
data version by :mod:`canbao.web.dashboard`), cut to the viewer's counties, with the agreement and
dunning states the store holds now. Money is integer fen, shown through the ``yuan`` filter.
"""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import polars as pl
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from starlette.background import BackgroundTask

from canbao import outputs
from canbao.collection.exports import OWNERSHIP_ZH, arrears_labels, arrears_text
from canbao.collection.ledger import region_policy
from canbao.errors import StateError, UsageError
from canbao.web import dashboard
from canbao.web.auth import Viewer, need
from canbao.web.state import WebState, state_of

router = APIRouter()
PAGE_SIZE = 50
EXPORTS = ("web", "exports")  # DATA/web/exports/<random>/: a download, removed once sent
SCHEME_SHORT = {  # the list is wide: the schemes' short names (the download has the full ones)
    "employee_pension": "职工养老",
    "resident_pension": "居民养老",
    "employee_medical": "职工医疗",
    "resident_medical": "居民医疗",
    "work_injury": "工伤",
    "maternity": "生育",
    "unemployment": "失业",
}


@dataclass(frozen=True)
class Filters:
    county: str = ""
    ageing: str = ""
    ownership: str = ""
    page: int = 1

    def query(self, page: int | None = None) -> str:
        pairs = {"county": self.county, "ageing": self.ageing, "ownership": self.ownership}
        shown = {k: v for k, v in pairs.items() if v}
        if page is not None and page > 1:
            shown["page"] = str(page)
        return urlencode(shown)


def _filters(county: str, ageing: str, ownership: str, page: int) -> Filters:
    if page < 1 or page > 100_000:
        raise UsageError(f"页码无效：{page}", f"bad page {page}")
    for name, value in (("county", county), ("ageing", ageing), ("ownership", ownership)):
        if len(value) > 40:
            raise UsageError("筛选条件过长", f"{name} too long")
    return Filters(county.strip(), ageing.strip(), ownership.strip(), page)


def _listed(st: WebState, who: Viewer, f: Filters, wait_s: float) -> tuple[pl.DataFrame, Any]:
    """The viewer's arrears list with the filters applied (a county outside the scope is
    refused, as :func:`canbao.collection.api.arrears` refuses it)."""
    v = dashboard.require_version(st)
    if f.county:
        who.scope.require_county(f.county)
    got = dashboard.aggregates(st).get(dashboard.arrears_job(st, v), time.monotonic() + wait_s)
    frame = dashboard.arrears_for(got.value, who, st)
    if f.county:
        frame = frame.filter(pl.col("county_code") == f.county)
    if f.ageing:
        frame = frame.filter(pl.col("ageing") == f.ageing)
    if f.ownership:
        frame = frame.filter(pl.col("ownership") == f.ownership)
    return frame, got.label or v  # the data shown: the previous build's while it is computed


def _options(st: WebState, who: Viewer, v: Any) -> dict[str, Any]:
    """Choices of the filter form: the viewer's counties, the policy's ageing buckets, the
    ownership codes."""
    if who.scope.counties is None:
        counties = [(c.code, c.name) for c in st.profile.counties]
    else:
        counties = [
            (c, dashboard.area_name(st.profile, c))
            for c in sorted(who.actor.counties or who.scope.counties)
        ]
    return {
        "counties": counties,
        "ageing": dashboard.ageing_labels(st, v.day),
        "ownership": list(OWNERSHIP_ZH.items()),
    }


def _schemes_zh() -> pl.Expr:
    schemes = pl.col("schemes")
    for code, label in SCHEME_SHORT.items():
        schemes = schemes.str.replace_all(code, label, literal=True)
    return schemes.alias("schemes_zh")


def _page(frame: pl.DataFrame, f: Filters) -> dict[str, Any]:
    pages = max(1, -(-frame.height // PAGE_SIZE))
    page = min(f.page, pages)
    shown = frame.slice((page - 1) * PAGE_SIZE, PAGE_SIZE).with_columns(
        _schemes_zh(), pl.col("ownership").replace(OWNERSHIP_ZH).alias("ownership_zh")
    )
    return {
        "rows": shown.to_dicts(),
        "page": page,
        "pages": pages,
        "total": frame.height,
        "arrears": int(frame["arrears"].sum() or 0),
        "late_fee": int(frame["late_fee"].sum() or 0),
        "prev": f.query(page - 1) if page > 1 else None,
        "next": f.query(page + 1) if page < pages else None,
        "export": f.query(),
    }


def _context(st: WebState, who: Viewer, f: Filters) -> dict[str, Any]:
    context: dict[str, Any] = {"viewer": who, "filters": f, "pending": False, "query": f.query()}
    try:
        frame, v = _listed(st, who, f, dashboard.WAIT_S)
    except dashboard.Computing:
        context["pending"] = True
        return context
    context.update(version=v, options=_options(st, who, v), **_page(frame, f))
    context["names"] = {code: name for code, name in context["options"]["counties"]}
    return context


@router.get("/arrears", response_class=HTMLResponse, include_in_schema=False)
def arrears_page(
    request: Request,
    who: Annotated[Viewer, Depends(need("ledger.read"))],
    county: str = "",
    ageing: str = "",
    ownership: str = "",
    page: int = 1,
) -> Response:
    st = state_of(request)
    context = _context(st, who, _filters(county, ageing, ownership, page))
    return st.templates.TemplateResponse(request, "arrears.html", context)


@router.get("/arrears/body", response_class=HTMLResponse, include_in_schema=False)
def arrears_body(
    request: Request,
    who: Annotated[Viewer, Depends(need("ledger.read"))],
    county: str = "",
    ageing: str = "",
    ownership: str = "",
    page: int = 1,
) -> Response:
    """The list alone: what the page polls while the list is computed."""
    st = state_of(request)
    context = _context(st, who, _filters(county, ageing, ownership, page))
    return st.templates.TemplateResponse(request, "arrears_body.html", context)


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


@router.get("/arrears/export", include_in_schema=False)
def arrears_export(
    request: Request,
    who: Annotated[Viewer, Depends(need("ledger.read"))],
    county: str = "",
    ageing: str = "",
    ownership: str = "",
) -> Response:
    """The filtered list (every page) as xlsx, as ``canbao arrears --out x.xlsx`` writes it;
    the export is audit-logged."""
    st = state_of(request)
    f = _filters(county, ageing, ownership, 1)
    try:
        frame, v = _listed(st, who, f, dashboard.API_WAIT_S)
    except dashboard.Computing:
        raise StateError("欠费清单正在生成中，请稍后重试", "arrears list being computed") from None
    folder = st.data_dir.joinpath(*EXPORTS, secrets.token_hex(8))
    folder.mkdir(parents=True, exist_ok=True)
    name = f"欠费单位-{v.day.isoformat()}{'-' + f.county if f.county else ''}.xlsx"
    try:
        written = outputs.write_table(
            arrears_text(frame, True),
            folder / name,
            labels=arrears_labels(region_policy(st.data_dir, v.day)),
            sheet="欠费单位",
            parquet=False,
        )
    except BaseException:
        _remove(folder)
        raise
    dashboard.audit_export(st, who, "arrears", name, frame.height)
    return FileResponse(
        written.path,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=name,
        background=BackgroundTask(_remove, folder),
    )
