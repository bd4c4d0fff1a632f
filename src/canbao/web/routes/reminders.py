"""提醒短信 (reminders): staff review a reminder batch before it goes — the list of batches, one
batch with its counts per reason and county and a sample of its messages (phones masked,
recipients' keys only, the text as it will be sent), and the steps approve, cancel and send
(forms with the session's CSRF token). A face over :mod:`canbao.notify.batches`; every page
and step needs ``reminders.manage`` (city staff, administrators).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from canbao.errors import UsageError
from canbao.notify import batches
from canbao.notify.config import MODE_LABELS
from canbao.notify.rules import REASONS
from canbao.notify.templates import template
from canbao.standards import masking
from canbao.web.auth import Viewer, need
from canbao.web.state import WebState, state_of

router = APIRouter()
SAMPLE = 20
STEPS = {"approve": "已批准", "cancel": "已取消", "send": "已发送"}


def _county_names(st: WebState) -> dict[str, str]:
    return {c.code: c.name for c in st.profile.counties}


def _local(utc: Any) -> str:
    """A naive UTC time as China time text (empty for none)."""
    if not isinstance(utc, dt.datetime):
        return ""
    return f"{utc + dt.timedelta(hours=8):%Y-%m-%d %H:%M}"


def _summary(st: WebState, batch_id: int) -> dict[str, Any]:
    batch = batches.get_batch(st.store, batch_id)
    msgs = batches.batch_messages(st.store, batch_id)
    names = _county_names(st)
    by_reason = msgs.group_by("reason", "state").len().sort("reason", "state").to_dicts()
    by_county = (
        msgs.group_by("county_code", "reason").len().sort("county_code", "reason").to_dicts()
    )
    sample = msgs.head(SAMPLE).with_columns(masking.mask_phone_expr(pl.col("phone")).alias("phone"))
    shown = [
        {
            "reason": REASONS.get(m["reason"], m["reason"]),
            "county": names.get(m["county_code"] or "", m["county_code"] or "—"),
            "recipient": m["recipient_key"],
            "phone": m["phone"],
            "state": batches.MESSAGE_STATES.get(m["state"], m["state"]),
            "text": template(m["template"]).render(dict(m["params"])),
        }
        for m in sample.to_dicts()
    ]
    return {
        "batch": batch,
        "state_label": batches.STATES.get(batch.state, batch.state),
        "mode_label": MODE_LABELS.get(batch.mode, batch.mode),
        "by_reason": [
            {
                **r,
                "label": REASONS.get(r["reason"], r["reason"]),
                "state": batches.MESSAGE_STATES.get(r["state"], r["state"]),
            }
            for r in by_reason
        ],
        "by_county": [
            {
                **r,
                "county": names.get(r["county_code"] or "", r["county_code"] or "—"),
                "label": REASONS.get(r["reason"], r["reason"]),
            }
            for r in by_county
        ],  # fmt: skip
        "held": [
            (label, batch.counts.get("held", {}).get(k, 0)) for k, label in batches.HELD.items()
        ],
        "sample": shown,
        "total": msgs.height,
        "not_before": _local(msgs["not_before"].drop_nulls().min()),
    }


@router.get("/reminders", response_class=HTMLResponse, include_in_schema=False)
def reminders_page(
    request: Request, who: Annotated[Viewer, Depends(need("reminders.manage"))], done: str = ""
) -> Response:
    st = state_of(request)
    rows = [
        {"b": b, "state_label": batches.STATES.get(b.state, b.state),
         "mode_label": MODE_LABELS.get(b.mode, b.mode)}
        for b in batches.list_batches(st.store)
    ]  # fmt: skip
    context = {"viewer": who, "rows": rows, "done": done[:80], "reasons": REASONS}
    return st.templates.TemplateResponse(request, "reminders.html", context)


@router.post("/reminders", response_class=HTMLResponse, include_in_schema=False)
async def reminders_make(
    request: Request, who: Annotated[Viewer, Depends(need("reminders.manage"))]
) -> Response:
    """Run the rules at the form's as-of date and store a draft batch."""
    st = state_of(request)
    form = await request.form()
    try:
        as_of = dt.date.fromisoformat(str(form.get("as_of") or "").strip())
    except ValueError:
        raise UsageError("请填写截至日期（YYYY-MM-DD）", "as_of must be a date") from None
    res = await run_in_threadpool(batches.make_batch, st.store, st.data_dir, who.actor, as_of)
    if res.batch_id is None:
        return RedirectResponse("/reminders?done=没有需要新发的提醒短信", status_code=303)
    return RedirectResponse(f"/reminders/{res.batch_id}", status_code=303)


@router.get("/reminders/{batch_id}", response_class=HTMLResponse, include_in_schema=False)
def reminder_batch_page(
    request: Request,
    batch_id: int,
    who: Annotated[Viewer, Depends(need("reminders.manage"))],
    done: str = "",
) -> Response:
    st = state_of(request)
    context = {"viewer": who, **_summary(st, batch_id), "done": STEPS.get(done, "")}
    return st.templates.TemplateResponse(request, "reminder_batch.html", context)


async def _step(request: Request, batch_id: int, who: Viewer, step: str) -> Response:
    st = state_of(request)
    if step == "approve":
        await run_in_threadpool(batches.approve, st.store, who.actor, batch_id)
    elif step == "cancel":
        await run_in_threadpool(batches.cancel, st.store, who.actor, batch_id)
    else:
        await run_in_threadpool(batches.send_batch, st.store, st.data_dir, who.actor, batch_id)
    return RedirectResponse(f"/reminders/{batch_id}?done={step}", status_code=303)


@router.post("/reminders/{batch_id}/approve", response_class=HTMLResponse, include_in_schema=False)
async def reminder_approve(
    request: Request, batch_id: int, who: Annotated[Viewer, Depends(need("reminders.manage"))]
) -> Response:
    """Approve a draft batch (the form carries the CSRF token)."""
    return await _step(request, batch_id, who, "approve")


@router.post("/reminders/{batch_id}/cancel", response_class=HTMLResponse, include_in_schema=False)
async def reminder_cancel(
    request: Request, batch_id: int, who: Annotated[Viewer, Depends(need("reminders.manage"))]
) -> Response:
    """Cancel a draft or approved batch (its unsent messages are withdrawn)."""
    return await _step(request, batch_id, who, "cancel")


@router.post("/reminders/{batch_id}/send", response_class=HTMLResponse, include_in_schema=False)
async def reminder_send(
    request: Request, batch_id: int, who: Annotated[Viewer, Depends(need("reminders.manage"))]
) -> Response:
    """Send an approved batch's messages whose time has come (the configured sender)."""
    return await _step(request, batch_id, who, "send")
