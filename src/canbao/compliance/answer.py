"""The compliance API's answers: an employer's standing by credit code — from the build's
standing index (:mod:`.standing`) and, per call, the store (:mod:`.live`) — as Pydantic models,
so the web's OpenAPI schema and the command line's JSON are the same. Nothing personal: employer
name, registration, schemes, statuses, an amount band, dates.

``arrears_status``: ``none`` (no arrears), ``arrears``, or ``arrears_under_agreement`` (arrears
covered by an approved deferral/instalment agreement being kept, 协议履行中). The formal 严重失信
listing is a separate field (:mod:`.listings`): arrears never make a listing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import polars as pl
from pydantic import BaseModel, Field

from canbao.collection import agreements, dunning
from canbao.compliance import bands, live
from canbao.compliance.standing import Entry, Index
from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.standards import credit_code as cc
from canbao.store.db import Store
from canbao.warehouse.scope import Scope

ArrearsStatus = Literal["none", "arrears", "arrears_under_agreement"]
AgreementStatus = Literal["proposed", "approved", "breached"]
EnforcementStatus = Literal["notice", "order", "agreement", "referred", "enforcement"]
ARREARS_LABELS: dict[str, str] = {
    "none": "无欠费",
    "arrears": "欠费",
    "arrears_under_agreement": "欠费（缓缴或分期缴纳协议履行中）",
}
MAX_BATCH = 1000
NOT_FOUND_ZH = "未找到"
INVALID_ZH = "代码无效"


class ListingEntry(BaseModel):
    ground: str = Field(description="列入情形代码（grounds.toml）")
    ground_label: str
    legal_basis: str
    decision_no: str = Field(description="列入决定书文号")
    listed_on: dt.date
    listed_until: dt.date | None


class CreditListingOut(BaseModel):
    """社会保险领域严重失信人名单（与欠费状态分开：欠费本身不构成列入理由）。"""

    listed: bool
    entries: list[ListingEntry]


class Standing(BaseModel):
    credit_code: str = Field(description="统一社会信用代码")
    employer_name: str
    registered: bool = Field(description="已办理社会保险登记")
    schemes: list[str] = Field(description="参保险种代码")
    scheme_labels: list[str]
    arrears_status: ArrearsStatus
    arrears_status_label: str
    arrears_band: str = Field(description="欠费金额区间代码（bands.toml），不含具体金额")
    arrears_band_label: str
    oldest_period: str | None = Field(description="最早欠费所属期 YYYY-MM")
    months_in_arrears: int = Field(ge=0, description="欠费的所属期（月）数")
    agreement_status: AgreementStatus | None
    agreement_status_label: str | None
    enforcement_status: EnforcementStatus | None
    enforcement_status_label: str | None
    credit_listing: CreditListingOut
    as_of: dt.date = Field(description="数据截止日期")


class ComplianceAnswer(Standing):
    request_id: str


class BatchRequest(BaseModel):
    credit_codes: list[str] = Field(min_length=1, max_length=MAX_BATCH)


class BatchItem(BaseModel):
    index: int = Field(ge=0, description="在请求列表中的位置（从 0 起）")
    credit_code: str | None = Field(description="规范化的代码；代码无效时为空（不回显输入）")
    result: Literal["found", "not_found", "invalid"]
    message: str | None
    standing: Standing | None


class BatchAnswer(BaseModel):
    request_id: str
    as_of: dt.date
    asked: int
    found: int
    items: list[BatchItem]


FIELDS = tuple(Standing.model_fields)


def checked(values: Sequence[str]) -> pl.DataFrame:
    """Each value's normalised code and whether it is a valid credit code (vectorised)."""
    frame = cc.check_frame(pl.Series("cc_input", list(values), dtype=pl.Utf8))
    return frame.select(
        "cc_norm", "cc_errors", ok=pl.col("cc_valid") & (pl.col("cc_kind") == "uscc")
    )


def invalid_reason(errors: Sequence[str]) -> str:
    words = [cc.ERROR_LABELS_ZH.get(e, e) for e in errors] or ["不是18位统一社会信用代码"]
    return "、".join(words)


def _standing(e: Entry, index: Index, state: live.Live) -> Standing:
    deal = state.agreement.get(e.employer_key)
    case = state.enforcement.get(e.employer_key)
    case = case if case in dunning.STATE_LABELS and case not in ("paid", "withdrawn") else None
    if e.arrears_band == bands.bands()[0].code:
        status = "none"
    elif deal == "approved" or case == "agreement":
        status = "arrears_under_agreement"
    else:
        status = "arrears"
    found = state.listings.get(e.credit_code, [])
    return Standing(
        credit_code=e.credit_code,
        employer_name=e.employer_name,
        registered=e.registered,
        schemes=list(e.schemes),
        scheme_labels=[SCHEME_LABELS_ZH.get(s, s) for s in e.schemes],
        arrears_status=status,  # type: ignore[arg-type]
        arrears_status_label=ARREARS_LABELS[status],
        arrears_band=e.arrears_band,
        arrears_band_label=bands.labels().get(e.arrears_band, e.arrears_band),
        oldest_period=e.oldest_period,
        months_in_arrears=e.months_in_arrears,
        agreement_status=deal,  # type: ignore[arg-type]
        agreement_status_label=agreements.STATUS_LABELS.get(deal) if deal else None,
        enforcement_status=case,  # type: ignore[arg-type]
        enforcement_status_label=dunning.STATE_LABELS.get(case) if case else None,
        credit_listing=CreditListingOut(
            listed=bool(found),
            entries=[
                ListingEntry(
                    ground=x.ground,
                    ground_label=x.ground_label,
                    legal_basis=x.legal_basis,
                    decision_no=x.decision_no,
                    listed_on=x.listed_on,
                    listed_until=x.listed_until,
                )  # fmt: skip
                for x in found
            ],
        ),
        as_of=index.as_of,
    )


def look_up(
    index: Index, store: Store, values: Sequence[str], scope: Scope, today: dt.date | None = None
) -> list[BatchItem]:
    """One item per value, in order: found (with the standing), not found (unknown code, or an
    employer outside a county reader's scope) or invalid. A value the index holds as given
    (trimmed, upper case) is a hash probe; only the others go through the vectorised credit-code
    check (full-width characters, inner spaces…), which tells 未找到 from 代码无效. One store
    session for all."""
    codes: list[str | None] = [v.strip().upper() if isinstance(v, str) else None for v in values]
    entries: list[Entry | None] = [index.get(c) if c else None for c in codes]
    errors: dict[int, list[str]] = {}
    misses = [i for i, e in enumerate(entries) if e is None]
    if misses:
        frame = checked([values[i] for i in misses])
        for i, norm, ok, errs in zip(
            misses,
            frame["cc_norm"].to_list(),
            frame["ok"].to_list(),
            frame["cc_errors"].to_list(),
            strict=True,
        ):
            codes[i] = norm
            entries[i] = index.get(norm) if norm else None
            if entries[i] is None and not ok:
                errors[i] = list(errs or [])
    hits = {i: e for i, e in enumerate(entries) if e is not None and scope.allows(e.county_code)}
    day = today or dt.date.today()
    state = live.read(
        store, (e.employer_key for e in hits.values()), (e.credit_code for e in hits.values()), day
    )
    items = []
    for i, code in enumerate(codes):
        if i in hits:
            items.append(BatchItem(index=i, credit_code=hits[i].credit_code, result="found",
                                   message=None, standing=_standing(hits[i], index, state)))  # fmt: skip
        elif i in errors:
            items.append(BatchItem(index=i, credit_code=None, result="invalid",
                                   message=f"{INVALID_ZH}：{invalid_reason(errors[i])}",
                                   standing=None))  # fmt: skip
        else:
            items.append(BatchItem(index=i, credit_code=code, result="not_found",
                                   message=NOT_FOUND_ZH, standing=None))  # fmt: skip
    return items
