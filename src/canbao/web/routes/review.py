"""复核 (review queue): the registry's uncertain pairs side by side — both records field by field
(masked: names to their first character, IDs first 6 + last 4, birth dates to the year), whether
each field agrees, and the model's evidence (the match weight each field gives, + for the same
person, − for two) — decided 同一人 / 不同人 with a note.

Over :func:`canbao.registry.api.review_items` (the queue, read through the viewer's scope: a
county user sees the pairs with a side in their counties) and :func:`canbao.cases.decide_pair`:
a pair that is a case (kind ``review``) is decided through its case — resolved 同一人 / 不同人,
the registry's decision in the same transaction — and any other pair directly in the registry
(:func:`canbao.registry.api.decide`); either way the decision is in the store with its audit
entry, and the next build honours it (the pair leaves the queue, its case is confirmed). A pair
outside the viewer's counties answers 404. Until the next build a decided pair stays in the
queue, marked with the decision in force (the latest wins; it can be changed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from canbao import cases
from canbao.cases import lifecycle
from canbao.cases import review as review_cases
from canbao.errors import NotFoundError, UsageError
from canbao.profile import Profile
from canbao.registry import api as registry
from canbao.registry import decisions, snapshot
from canbao.standards import masking
from canbao.store.models import Case
from canbao.web.auth import Viewer, need
from canbao.web.errors import is_htmx
from canbao.web.state import WebState, state_of

router = APIRouter()
PAGE_SIZE = 20
PAIR_ID = re.compile(r"^[0-9a-f]{6,64}$")
REASONS = registry.VALUE_LABELS_ZH["reason"]
CHOICES = {"same": "same", "different": "different", "同一人": "same", "不同人": "different"}
# (label, left column, right column, the weights that speak for it, how to compare)
FIELDS = (
    ("姓名", "left_name", "right_name", ("mw_name", "mw_tf_adj_name"), "name"),
    ("证件号（脱敏）", "left_id", "right_id", ("mw_id",), "id"),
    ("出生年份", "left_birth", "right_birth", ("mw_birth",), "birth"),
    ("性别", "left_sex", "right_sex", ("mw_sex",), "sex"),
    ("区县", "left_county", "right_county", ("mw_county",), "county"),
)
EVIDENCE_ONLY = (("户号", "mw_household"), ("电话", "mw_phone"), ("工作单位", "mw_employer"))
BIRTH = {"相同": "ok", "同年同月": "warn", "同年": "warn", "不同": "bad"}
SEX = {"M": "男", "F": "女", "1": "男", "2": "女"}


def _agreement(kind: str, left: Any, right: Any, row: Mapping[str, Any]) -> tuple[str, str]:
    """(words, badge class) for one field of the pair, compared before masking."""
    if kind == "birth" and row.get("birth_match"):
        words = str(row["birth_match"])
        return words, BIRTH.get(words, "")
    if left in (None, "") or right in (None, ""):
        return "缺失", ""
    if str(left) == str(right):
        return ("可见部分一致" if kind == "id" else "一致"), "ok"
    return "不一致", "bad"


def _evidence(row: Mapping[str, Any], cols: tuple[str, ...]) -> tuple[str, str]:
    """The model's weight for a field: (text, badge class); + speaks for the same person."""
    got = [float(row[c]) for c in cols if row.get(c) is not None]
    if not got:
        return "—", ""
    w = sum(got)
    if abs(w) < 0.05:
        return "0.0", ""
    return (f"+{w:.1f} 倾向同一人", "ok") if w > 0 else (f"{w:.1f} 倾向不同人", "bad")


def _shown(kind: str, value: Any, region: Profile) -> str:
    if value in (None, ""):
        return "—"
    text = str(value)
    if kind == "name":
        return masking.mask_name(text)
    if kind == "county":
        return region.unit_name(text) or text
    if kind == "sex":
        return SEX.get(text, text)
    return masking.mask_text(text)


def pair_view(row: Mapping[str, Any], region: Profile, decided: str | None) -> dict[str, Any]:
    """One pair for the page: both records field by field, agreement and evidence."""
    fields = []
    for label, left, right, weights, kind in FIELDS:
        words, css = _agreement(kind, row.get(left), row.get(right), row)
        evidence, ecss = _evidence(row, weights)
        fields.append({
            "label": label, "left": _shown(kind, row.get(left), region),
            "right": _shown(kind, row.get(right), region), "agree": words, "agree_css": css,
            "evidence": evidence, "evidence_css": ecss,
        })  # fmt: skip
    for label, col in EVIDENCE_ONLY:
        evidence, ecss = _evidence(row, (col,))
        if ecss:  # only the evidence that speaks
            fields.append({
                "label": label, "left": "", "right": "", "agree": "", "agree_css": "",
                "evidence": evidence, "evidence_css": ecss,
            })  # fmt: skip
    prob, weight = row.get("match_probability"), row.get("match_weight")
    return {
        "pair_id": row["pair_id"],
        "reason": REASONS.get(str(row.get("reason")), str(row.get("reason") or "")),
        "probability": float(prob) if prob is not None else None,
        "weight": f"{float(weight):.1f}" if weight is not None else "—",
        "fields": fields,
        "decided": decisions.DECISION_LABELS.get(decided or ""),
    }


def pair_cases(st: WebState, who: Viewer, pair_ids: list[str]) -> dict[str, dict[str, Any]]:
    """{pair_id: its review case (number, state)} for the pairs that are cases in the scope."""
    keys = {review_cases.case_key(p): p for p in pair_ids}
    if not keys:
        return {}
    q = select(Case.id, Case.case_key, Case.state).where(
        Case.case_key.in_(sorted(keys)), lifecycle.in_scope(who.scope)
    )
    with st.store.sessions() as s:
        rows = s.execute(q).all()
    return {
        keys[r.case_key]: {"id": r.id, "state": lifecycle.STATE_LABELS.get(r.state, r.state)}
        for r in rows
    }


def decided_pairs(st: WebState, pair_ids: list[str]) -> dict[str, str]:
    """{pair_id: the decision in force} for the pairs already decided (awaiting the next build)."""
    if not pair_ids:
        return {}
    made = decisions.load(st.data_dir, st.store)
    if made.height == 0:
        return {}
    keys = (
        snapshot.require_current(st.data_dir)
        .scan("review_items")
        .select("pair_id", "left_key", "right_key")
        .filter(pl.col("pair_id").is_in(pair_ids))
        .collect()
    )
    found = keys.join(made, on=["left_key", "right_key"])
    return dict(zip(found["pair_id"].to_list(), found["decision"].to_list(), strict=True))


def queue(st: WebState, who: Viewer, reason: str | None) -> pl.DataFrame:
    items = registry.review_items(st.data_dir, who.scope)
    if reason:
        items = items.filter(pl.col("reason") == reason)
    return items


@router.get("/review", response_class=HTMLResponse, include_in_schema=False)
def review_page(
    request: Request,
    who: Annotated[Viewer, Depends(need("review.decide"))],
    reason: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: str = "",
) -> Response:
    st = state_of(request)
    reason = reason if reason in REASONS else ""
    items = queue(st, who, reason)
    last = max(1, (items.height + PAGE_SIZE - 1) // PAGE_SIZE)
    page = min(page, last)
    rows = items.slice((page - 1) * PAGE_SIZE, PAGE_SIZE).to_dicts()
    ids = [str(r["pair_id"]) for r in rows]
    decided, linked = decided_pairs(st, ids), pair_cases(st, who, ids)
    pairs = [pair_view(r, st.profile, decided.get(str(r["pair_id"]))) for r in rows]
    context: dict[str, Any] = {
        "viewer": who,
        "pairs": [{**p, "case": linked.get(p["pair_id"])} for p in pairs],
        "total": items.height,
        "page": page,
        "last": last,
        "reason": reason,
        "reasons": REASONS,
        "done": done if PAIR_ID.match(done) else "",
    }
    return st.templates.TemplateResponse(request, "review.html", context)


def _pair(st: WebState, who: Viewer, pair_id: str) -> dict[str, Any]:
    rows = queue(st, who, None).filter(pl.col("pair_id") == pair_id)
    if rows.height == 0:
        raise NotFoundError(
            f"复核队列中没有编号为 {pair_id} 的记录对（或不在您负责的区县）",
            f"no review item {pair_id} in scope",
        )
    decided = decided_pairs(st, [pair_id]).get(pair_id)
    shown = pair_view(rows.row(0, named=True), st.profile, decided)
    return {**shown, "case": pair_cases(st, who, [pair_id]).get(pair_id)}


def _decide(st: WebState, who: Viewer, pair_id: str, decision: str, note: str) -> dict[str, Any]:
    """Through the pair's review case when it has one that may take an outcome, else in the
    registry directly (:func:`canbao.cases.decide_pair`)."""
    cases.decide_pair(st.store, who.actor, who.scope, st.data_dir, pair_id, decision, note)
    return _pair(st, who, pair_id)


@router.post("/review/{pair_id}", response_class=HTMLResponse, include_in_schema=False)
async def decide_pair(
    request: Request, pair_id: str, who: Annotated[Viewer, Depends(need("review.decide"))]
) -> Response:
    """Record 同一人 / 不同人 on a pair of the queue (in the viewer's scope)."""
    st = state_of(request)
    if not PAIR_ID.match(pair_id):
        raise NotFoundError(f"没有编号为 {pair_id[:20]} 的记录对", "malformed pair id")
    form = await request.form()
    decision = CHOICES.get(str(form.get("decision") or "").strip())
    if decision is None:
        raise UsageError("请选择“同一人”或“不同人”", "decision must be same or different")
    note = str(form.get("note") or "").strip()
    if len(note) > 2000:
        raise UsageError("说明过长（最多 2000 字）", "note too long")
    shown = await run_in_threadpool(_decide, st, who, pair_id, decision, note)
    if is_htmx(request):
        context: dict[str, Any] = {"viewer": who, "p": shown, "just": True}
        return st.templates.TemplateResponse(request, "review_pair.html", context)
    return RedirectResponse(f"/review?done={pair_id}#p-{pair_id}", status_code=303)
