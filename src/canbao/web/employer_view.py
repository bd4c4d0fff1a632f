"""Employers in the web workspace: the search (credit code, organisation code or name) and the
employer 360 page's data. Nothing here is personal (employers only); money is integer fen.

**Search.** The master employers of the current build are held in memory, one small frame per
build (a city's employers are a few hundred thousand rows): a credit code or organisation code
is an equality, a name a literal substring, each a vectorised filter; the viewer's scope is
applied before anything is counted; at most :data:`CAP` hits.

**Employer 360.** One DuckDB session over the employer
(:func:`canbao.coverage.api.employer_session`: its ``employer_links`` hold that employer's links
only) gives, with the coverage and collection code the city-wide lists and ledger use: the
compliance lists' rows (未参保登记, 少报人数或基数, 选择性参保), tax against declared headcount by
month of the as-of year, the ledger rows and the compliance status
(:func:`canbao.collection.api.compliance_in`) — the employer's part of the city-wide figures
(tests compare them), in one to three seconds on a city of 5 million residents — heavy work, so
it takes a slot of :func:`canbao.web.limits.heavy`. The employer's links and its persons with an
active enrolment are read from the build's employer-sorted copies (:mod:`canbao.web.keyed`) when
they are ready, not by scans of ``employer_links`` and ``enrollments``. The agreements, dunning
cases and cases come from the store. An employer outside the viewer's counties is not found.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import polars as pl
from pydantic import BaseModel

from canbao.collection import agreements, dunning, published
from canbao.collection import api as collection_api
from canbao.coverage import api as coverage_api
from canbao.errors import NotFoundError
from canbao.ingest.kinds import KIND_LABELS_ZH, OWNERSHIP, SCHEME_LABELS_ZH
from canbao.registry import snapshot
from canbao.warehouse.scope import Scope
from canbao.web import keyed, limits
from canbao.web.person_view import CaseSummary, cached, cases_of, county_names
from canbao.web.state import WebState

CAP = 50
OWNERSHIP_ZH = {code: words[0] for code, words in OWNERSHIP.items()}
_CODE = re.compile(r"^[0-9A-Z]{18}$")
_ORG = re.compile(r"^[0-9A-Z]{8}-?[0-9A-Z]$")
_KEY = re.compile(r"^[A-Za-z0-9]{1,40}$")
_COLUMNS = (
    "employer_key", "credit_code", "org_code", "name", "county_code", "ownership", "industry",
    "risk_class", "park", "registered_date", "status", "si_registered",
)  # fmt: skip
LIST_LABELS = {
    "unregistered_employers": "未参保登记单位",
    "under_reporters": "少报人数或基数",
    "selective_employers": "选择性参保",
}
METHOD_ZH = {  # how an employer record was linked (canbao.registry.employers)
    "code": "统一社会信用代码或组织机构代码",
    "name_county": "单位名称在本区县唯一",
    "name": "单位名称在全市唯一",
    "surrogate": "无代码，按名称和区县归并",
}
LEDGER_SOURCE_ZH = {
    "declared": "申报",
    "estimated": "核定",
    "opening": "期初欠费",
    "payment": "缴费",
}
UNDER_KIND_ZH = {"headcount": "少报人数", "base": "少报基数", "headcount+base": "少报人数和基数"}


# --- models -------------------------------------------------------------------------------


class EmployerHit(BaseModel):
    employer_key: str
    name: str | None
    credit_code: str | None
    org_code: str | None
    county_code: str | None
    county_name: str | None
    ownership: str | None
    status: str | None
    si_registered: bool | None
    match: str  # credit_code | org_code | name


class EmployerSearch(BaseModel):
    kind: str  # credit_code | org_code | name | empty
    total: int
    shown: int
    capped: bool
    note: str
    items: list[EmployerHit]


class Registration(BaseModel):
    employer_key: str
    name: str | None
    credit_code: str | None
    org_code: str | None
    county_code: str | None
    county_name: str | None
    ownership: str | None
    ownership_label: str | None
    industry: str | None
    risk_class: str | None
    park: str | None
    registered_date: dt.date | None
    status: str | None
    si_registered: bool | None


class SourceCount(BaseModel):
    source: str
    kind: str | None
    kind_label: str | None
    method: str | None
    method_label: str | None
    records: int


class Month(BaseModel):
    period: str
    tax_headcount: int | None
    tax_wage: int | None  # fen
    declared: dict[str, int]  # scheme → declared headcount


class Declaration(BaseModel):
    period: str
    scheme: str
    scheme_label: str
    declared_headcount: int
    declared_base: int  # fen
    declared_due: int  # fen


class ComplianceFlag(BaseModel):
    code: str
    label: str
    level: str  # bad | warn
    detail: str


class LedgerRow(BaseModel):
    scheme: str
    scheme_label: str
    period: str
    due_date: dt.date | None
    due: int
    paid: int
    balance: int
    late_fee: int
    days_past_due: int | None
    ageing: str | None
    estimated: bool
    source: str | None


class Ledger(BaseModel):
    as_of: dt.date
    rows: list[LedgerRow]
    total_due: int
    total_paid: int
    total_balance: int
    total_late_fee: int
    status: dict[str, Any]  # canbao.collection.api.compliance
    overdue_schemes: list[str] = []  # the schemes and periods in arrears (collection_api.overdue)
    overdue_periods: list[str] = []


class Instalment(BaseModel):
    seq: int
    due_date: dt.date
    amount_fen: int
    paid_fen: int
    paid_on: dt.date | None


class AgreementSummary(BaseModel):
    id: int
    kind: str
    kind_label: str
    status: str
    status_label: str
    schemes: list[str]
    scheme_labels: list[str]
    periods: list[str]
    principal_fen: int
    paid_fen: int
    start_date: dt.date | None
    end_date: dt.date | None
    created_by: str
    approved_by: str | None
    instalments: list[Instalment]
    guarantee_note: str = ""
    version: int = 0  # what an action's form carries back (乐观锁)


class DunningStep(BaseModel):
    seq: int
    kind: str
    label: str
    taken_on: dt.date
    deadline: dt.date | None
    amount_fen: int
    late_fee_fen: int | None
    doc_no: str
    note: str
    recorded_by: str
    has_document: bool = False  # a 文书 (notice, order, referral, enforcement) to download


class DunningCase(BaseModel):
    id: int
    state: str
    state_label: str
    schemes: list[str]
    scheme_labels: list[str]
    periods: list[str]
    amount_fen: int
    last_step_on: dt.date | None
    steps: list[DunningStep]
    version: int = 0  # what a step form carries back (乐观锁)
    next_steps: list[str] = []  # the steps the law allows now (none once closed)


class Employer360(BaseModel):
    employer: Registration
    sources: list[SourceCount]
    enrolled: dict[str, int]  # scheme → persons with an active enrolment under the employer
    months: list[Month]
    declarations: list[Declaration]
    flags: list[ComplianceFlag]
    ledger: Ledger | None  # None: the viewer may not read the ledger
    agreements: list[AgreementSummary] | None
    dunning: list[DunningCase] | None
    cases: list[CaseSummary] | None
    as_of: dt.date
    build_id: str


# --- search -------------------------------------------------------------------------------


def employer_frame(st: WebState) -> pl.DataFrame:
    """The master employers of the current build (held per build)."""
    snap = snapshot.require_current(st.data_dir)

    def make() -> pl.DataFrame:
        return snap.scan("employers").select(_COLUMNS).collect()

    return cached(st, "employers", snap.build_id, make)


def classify(query: str) -> tuple[str, str]:
    """(kind, normalised query): ``credit_code`` (18 characters), ``org_code`` (9, or 8 and a
    check character after a hyphen), ``name`` (anything else) or ``empty``."""
    q = re.sub(r"\s+", "", query.strip())
    if not q:
        return "empty", ""
    code = q.upper()
    if _CODE.match(code):
        return "credit_code", code
    if _ORG.match(code):
        return "org_code", code.replace("-", "")
    return "name", q


def search_employers(st: WebState, scope: Scope, query: str) -> EmployerSearch:
    """Master employers in ``scope`` matching ``query`` (see :func:`classify`)."""
    kind, q = classify(query)
    if kind == "empty":
        note = "请输入统一社会信用代码、组织机构代码或单位名称（部分即可）"
        return EmployerSearch(kind=kind, total=0, shown=0, capped=False, note=note, items=[])
    frame = employer_frame(st)
    if kind == "name":
        cond = pl.col("name").str.contains(q, literal=True)
    else:
        cond = pl.col(kind) == q
    found = frame.filter(cond).filter(scope.expr("county_code")).sort("county_code", "name")
    total = found.height
    rows = (
        found.head(CAP)
        .with_columns(
            county_name=pl.col("county_code").replace_strict(
                county_names(st.profile), default=None
            ),
            ownership=pl.col("ownership").replace_strict(OWNERSHIP_ZH, default=pl.col("ownership")),
            match=pl.lit(kind),
        )
        .select(*EmployerHit.model_fields)
        .to_dicts()
    )
    if total == 0:
        note = "没有找到（只查询您有权限的区县）"
    elif total > CAP:
        note = f"共 {total} 家，只显示前 {CAP} 家；请输入更完整的名称或代码"
    else:
        note = f"共 {total} 家"
    return EmployerSearch(
        kind=kind,
        total=total,
        shown=len(rows),
        capped=total > CAP,
        note=note,
        items=[EmployerHit(**r) for r in rows],
    )


# --- employer 360 -------------------------------------------------------------------------


def registration(st: WebState, scope: Scope, employer_key: str) -> Registration:
    """The master employer record; not found when it is outside ``scope`` (nothing leaks)."""
    missing = NotFoundError("没有找到该单位（或不在您负责的区县）", "no such employer in scope")
    if not _KEY.match(employer_key):
        raise missing
    found = (
        employer_frame(st)
        .filter(pl.col("employer_key") == employer_key)
        .filter(scope.expr("county_code"))
    )
    if found.height == 0:
        raise missing
    row = found.row(0, named=True)
    row["county_name"] = county_names(st.profile).get(str(row["county_code"]))
    row["ownership_label"] = OWNERSHIP_ZH.get(str(row["ownership"]), row["ownership"])
    return Registration.model_validate(row)


def data_day(st: WebState) -> dt.date | None:
    """The data's as-of date (newest payment, declaration or arrears extract; the date the
    build's ledger is published at), per build; None: the enrolment data's date."""
    snap = snapshot.require_current(st.data_dir)
    return cached(st, "data_day", snap.build_id, lambda: published.data_as_of(st.data_dir))


def _sources(
    snap: snapshot.Snapshot, key: str, kset: keyed.KeyedSet | None
) -> tuple[list[SourceCount], dict[str, int]]:
    """Source records per source, kind and method; persons with an active enrolment per
    scheme: from the build's employer-sorted copies when given, else the snapshot's tables."""
    if kset is not None:
        links = kset.rows("employer_links", key).lazy()
        active = kset.rows("enrolled", key).lazy()
    else:
        links = snap.scan("employer_links").filter(pl.col("employer_key") == key)
        active = snap.scan("enrollments").filter(
            (pl.col("employer_key") == key) & (pl.col("status") == "active")
        )
    counted, enrolled = pl.collect_all(
        [
            links.group_by("source", "kind", "method")
            .agg(records=pl.len())
            .sort("source", "kind", "method", nulls_last=True),
            active.group_by("scheme")
            .agg(pl.col("person_key").n_unique().alias("persons"))
            .sort("scheme"),
        ]
    )
    rows = counted.with_columns(
        kind_label=pl.col("kind").replace_strict(KIND_LABELS_ZH, default=None),
        method_label=pl.col("method").replace_strict(METHOD_ZH, default=pl.col("method")),
    ).to_dicts()
    counts = dict(zip(enrolled["scheme"].to_list(), enrolled["persons"].to_list(), strict=True))
    return [SourceCount(**r) for r in rows], counts


def _months(frames: dict[str, pl.DataFrame]) -> tuple[list[Month], list[Declaration]]:
    tax, declared = frames["tax"], frames["declared"]
    periods = sorted(set(tax["period"].to_list()) | set(declared["period"].to_list()))
    by_tax = {r["period"]: r for r in tax.to_dicts()}
    per: dict[str, dict[str, int]] = {p: {} for p in periods}
    for r in declared.to_dicts():
        per[r["period"]][r["scheme"]] = int(r["declared_headcount"])
    months = [
        Month(
            period=p,
            tax_headcount=by_tax.get(p, {}).get("tax_headcount"),
            tax_wage=by_tax.get(p, {}).get("tax_wage"),
            declared=per[p],
        )
        for p in periods
    ]
    decl = declared.with_columns(
        scheme_label=pl.col("scheme").replace_strict(SCHEME_LABELS_ZH, default=pl.col("scheme"))
    ).to_dicts()
    return months, [Declaration(**r) for r in decl]


def _flags(
    lists: dict[str, pl.DataFrame], reg: Registration, ledger: Ledger | None
) -> list[ComplianceFlag]:
    out: list[ComplianceFlag] = []
    for r in lists["unregistered_employers"].to_dicts():
        out.append(ComplianceFlag(code="unregistered", label=LIST_LABELS["unregistered_employers"],
                                  level="bad", detail=str(r["reason"])))  # fmt: skip
    for r in lists["under_reporters"].to_dicts():
        label = UNDER_KIND_ZH.get(str(r["under_kind"]), LIST_LABELS["under_reporters"])
        scheme = SCHEME_LABELS_ZH.get(str(r["scheme"]), str(r["scheme"]))
        out.append(ComplianceFlag(code="under_reporter", label=f"{label}（{scheme}）",
                                  level="bad", detail=str(r["reason"])))  # fmt: skip
    for r in lists["selective_employers"].to_dicts():
        declared = "、".join(
            SCHEME_LABELS_ZH.get(x, x) for x in str(r["declared_schemes"] or "").split(";") if x
        )
        detail = f"{r['reason']}；已申报：{declared or '无'}"
        out.append(ComplianceFlag(code="selective", label=LIST_LABELS["selective_employers"],
                                  level="warn", detail=detail))  # fmt: skip
    if reg.si_registered is False:
        out.append(ComplianceFlag(code="not_in_si_registry", label="社保未登记", level="warn",
                                  detail="社会保险单位登记库中没有该单位"))  # fmt: skip
    if ledger is not None and ledger.status.get("arrears_fen"):
        s = ledger.status
        detail = (
            f"欠费 {s['arrears']} 元，{s['arrears_periods']} 个所属期，最早 {s['oldest_period']}"
            f"（逾期 {s['days_past_due']} 天，{s['ageing']}）"
        )
        out.append(ComplianceFlag(code="arrears", label="欠费", level="bad", detail=detail))
    return out


def _ledger(rows: pl.DataFrame, status: dict[str, Any], as_of: dt.date) -> Ledger:
    shown = rows.with_columns(
        scheme_label=pl.col("scheme").replace_strict(SCHEME_LABELS_ZH, default=pl.col("scheme"))
    )
    items = [LedgerRow(**r) for r in shown.select(*LedgerRow.model_fields).to_dicts()]
    total = {c: int(rows[c].sum()) for c in ("due", "paid", "balance", "late_fee")}
    owed = collection_api.overdue(rows)
    return Ledger(
        overdue_schemes=sorted(set(owed["scheme"].to_list())),
        overdue_periods=sorted(set(owed["period"].to_list())),
        as_of=as_of,
        rows=items,
        total_due=total["due"],
        total_paid=total["paid"],
        total_balance=total["balance"],
        total_late_fee=total["late_fee"],
        status=status,
    )


def _scheme_labels(schemes: tuple[str, ...]) -> list[str]:
    return [SCHEME_LABELS_ZH.get(x, x) for x in schemes]


def _agreements(st: WebState, scope: Scope, key: str) -> list[AgreementSummary]:
    out = []
    for a in reversed(agreements.agreements(st.store, scope, employer_key=key)):
        out.append(
            AgreementSummary(
                id=a.id, kind=a.kind, kind_label=agreements.KINDS.get(a.kind, a.kind),
                status=a.status, status_label=a.status_label, schemes=list(a.schemes),
                scheme_labels=_scheme_labels(a.schemes),
                periods=list(a.periods), principal_fen=a.principal_fen, paid_fen=a.paid_fen,
                start_date=a.start_date, end_date=a.end_date, created_by=a.created_by,
                approved_by=a.approved_by,
                instalments=[Instalment(**vars(i)) for i in a.instalments],
                guarantee_note=a.guarantee_note, version=a.version,
            )
        )  # fmt: skip
    return out


def _dunning(st: WebState, scope: Scope, key: str) -> list[DunningCase]:
    out = []
    for c in reversed(dunning.cases(st.store, scope, employer_key=key)):
        steps = [
            DunningStep(
                seq=s.seq, kind=s.kind, label=dunning.STEP_LABELS.get(s.kind, s.kind),
                taken_on=s.taken_on, deadline=s.deadline, amount_fen=s.amount_fen,
                late_fee_fen=s.late_fee_fen, doc_no=s.doc_no, note=s.note,
                recorded_by=s.recorded_by, has_document=s.kind in dunning.DOCUMENTS,
            )
            for s in c.steps
        ]  # fmt: skip
        out.append(
            DunningCase(
                id=c.id, state=c.state, state_label=dunning.STATE_LABELS.get(c.state, c.state),
                schemes=list(c.schemes), scheme_labels=_scheme_labels(c.schemes),
                periods=list(c.periods), amount_fen=c.amount_fen,
                last_step_on=c.last_step_on, steps=steps, version=c.version,
                next_steps=c.next_steps,
            )
        )  # fmt: skip
    return out


def employer_360(
    st: WebState,
    scope: Scope,
    employer_key: str,
    *,
    ledger: bool,
    cases: bool,
    use_index: bool = True,
) -> Employer360:
    """Everything about one employer in ``scope``; ``ledger``: the viewer may read the ledger,
    agreements and dunning (``ledger.read``); ``cases``: the cases (``worklist.read``).
    The employer's links and active enrolments come from the current build's employer-sorted
    copies when they are ready (:mod:`canbao.web.keyed`; ``use_index=False``: never); the
    engine session is heavy work (:func:`canbao.web.limits.heavy`)."""
    reg = registration(st, scope, employer_key)
    snap = snapshot.require_current(st.data_dir)
    kset = keyed.ready(st, keyed.EMPLOYERS) if use_index else None
    if kset is not None and kset.build_id != snap.build_id:
        kset = None  # the previous build's: the session reads the current one
    links = kset.tables["employer_links"].path if kset is not None else None
    sources, enrolled = _sources(snap, reg.employer_key, kset)
    book: Ledger | None = None
    with (
        limits.heavy("单位详情"),
        coverage_api.employer_session(
            st.data_dir, scope, reg.employer_key, data_day(st), links=links
        ) as s,
    ):
        lists = coverage_api.employer_lists_in(s)
        months, declarations = _months(coverage_api.employer_months_in(s))
        if ledger:
            rows = collection_api.employer_ledger_in(s, reg.employer_key)
            status = collection_api.compliance_in(s, reg.employer_key, store=st.store)
            book = _ledger(rows, status, s.as_of)
        as_of = s.as_of
    return Employer360(
        employer=reg,
        sources=sources,
        enrolled=enrolled,
        months=months,
        declarations=declarations,
        flags=_flags(lists, reg, book),
        ledger=book,
        agreements=_agreements(st, scope, reg.employer_key) if ledger else None,
        dunning=_dunning(st, scope, reg.employer_key) if ledger else None,
        cases=cases_of(st, scope, "employer", reg.employer_key) if cases else None,
        as_of=as_of,
        build_id=snap.build_id,
    )


def headcount_chart(view: Employer360) -> dict[str, Any]:
    """The ECharts option of tax against declared headcount by month."""
    periods = [m.period for m in view.months]
    schemes = sorted({s for m in view.months for s in m.declared})
    series: list[dict[str, Any]] = [
        {
            "name": "个税发薪人数",
            "type": "line",
            "data": [m.tax_headcount or 0 for m in view.months],
        }
    ]
    for scheme in schemes:
        series.append(
            {
                "name": f"申报人数（{SCHEME_LABELS_ZH.get(scheme, scheme)}）",
                "type": "line",
                "data": [m.declared.get(scheme) for m in view.months],
            }
        )
    return {
        "tooltip": {"trigger": "axis", "renderMode": "richText"},
        "legend": {"type": "scroll", "bottom": 0},
        "grid": {"left": 48, "right": 16, "top": 24, "bottom": 56},
        "xAxis": {"type": "category", "data": periods},
        "yAxis": {"type": "value", "name": "人数", "minInterval": 1},
        "series": series,
    }
