"""Case kinds and how a work list's rows become cases (one frame, set-based).

A case's stable key is ``kind/subject_key/scheme``: the kind, the person's ``person_key``, the
employer's ``employer_key`` or the review pair's ``pair_id``, and the scheme the gap is about (empty when the kind has none). The
same gap in next month's lists gives the same key, so the next build finds the same case.

Which list gives which kind (:data:`LIST_KINDS`; the lists of :func:`canbao.coverage.api.gap_lists`):

=========================  ==========================  ==========================================
list                       kind                        scheme in the key
=========================  ==========================  ==========================================
uninsured                  uninsured_pension /         ``pension`` / ``medical`` (a row with both
                           uninsured_medical           gaps gives two cases)
missing_employee_pension   missing_employee_pension    ``employee_pension``
identity_to_verify         identity_to_verify          (none)
presumed_students          presumed_student            (none)
duplicates                 duplicate                   duplicate type and schemes
                                                       (``medical:employee_medical|resident_medical``)
deceased                   deceased                    the enrolment's scheme
land_farmers_uninsured     land_farmer                 ``pension``
unregistered_employers     unregistered_employer       (none)
under_reporters            under_reporter              the scheme under-reported
selective_employers        selective_employer          (none)
arrears                    arrears                     the scheme in arrears (one case per
                                                       employer and scheme: :mod:`.arrears`)
review_items               review                      (none; the subject is the pair: its
                                                       ``pair_id``, :mod:`.review`)
=========================  ==========================  ==========================================

``headcount_months`` is the month-by-month detail of ``under_reporters``, not a list of cases.
The ``arrears`` and ``review_items`` lists do not come from :func:`canbao.coverage.api.gap_lists`
but from the ledger (:func:`canbao.cases.arrears.arrears_list`) and the registry's review queue
(:func:`canbao.cases.review.review_list`); :func:`canbao.cases.lists.work_lists` gathers all.

A row's display fields (name, masked ID and phone, address, reason…) are kept with the case as
``subject`` — masked here, before anything is stored (:func:`canbao.standards.masking.mask_frame`),
so the store never holds a full ID number or phone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from canbao.errors import UsageError
from canbao.standards import masking


@dataclass(frozen=True)
class Kind:
    label: str  # Chinese, for people
    subject: str  # person | employer | pair (a review pair of records)
    lists: tuple[str, ...] = ()  # the work lists that give this kind

    @property
    def key_column(self) -> str:
        """The list column that holds the subject's key."""
        return {"person": "person_key", "employer": "employer_key", "pair": "pair_id"}[self.subject]


KINDS: dict[str, Kind] = {
    "uninsured_pension": Kind("应保未保（养老）", "person", ("uninsured",)),
    "uninsured_medical": Kind("应保未保（医疗）", "person", ("uninsured",)),
    "missing_employee_pension": Kind("有工资未参职工养老", "person", ("missing_employee_pension",)),
    "identity_to_verify": Kind("身份待核实", "person", ("identity_to_verify",)),
    "presumed_student": Kind("推定在校学生", "person", ("presumed_students",)),
    "duplicate": Kind("重复参保", "person", ("duplicates",)),
    "deceased": Kind("死亡仍参保", "person", ("deceased",)),
    "land_farmer": Kind("被征地农民未参养老", "person", ("land_farmers_uninsured",)),
    "unregistered_employer": Kind("未参保登记单位", "employer", ("unregistered_employers",)),
    "under_reporter": Kind("少报人数或基数单位", "employer", ("under_reporters",)),
    "selective_employer": Kind("选择性参保单位", "employer", ("selective_employers",)),
    "arrears": Kind("欠费单位", "employer", ("arrears",)),
    "review": Kind("疑似同一人复核", "pair", ("review_items",)),
    # a person's own request from the self-service area (canbao.selfservice.contact_change):
    # no work list gives it, so no build moves it; staff resolve it
    "contact_change": Kind("联系方式变更申请", "person"),
}
LIST_KINDS: dict[str, tuple[str, ...]] = {}
for _code, _kind in KINDS.items():
    for _list in _kind.lists:
        LIST_KINDS.setdefault(_list, ())
        LIST_KINDS[_list] += (_code,)
NOT_CASES = frozenset({"headcount_months"})  # detail tables that come with the lists

# the list columns kept with the case, for the people who visit (masked before storing)
SUBJECT_FIELDS = (
    "name", "id18", "sex", "age", "phone", "address", "segment", "gap", "reason",
    "employer_name", "credit_code", "employer_credit_code", "duplicate_kind", "schemes",
    "counties", "death_date", "scheme_county", "receiving", "last_period", "under_kind",
    "declared_schemes", "staff", "land_since",
    # arrears (canbao.cases.arrears): money as yuan text, for people
    "scheme_label", "arrears_yuan", "late_fee_yuan", "oldest_period", "days_past_due", "ageing",
    "periods", "agreement_status", "dunning_state",
    # a review pair (canbao.cases.review): both sides, masked
    "left_name", "right_name", "left_id", "right_id", "left_birth", "right_birth", "birth_match",
    "left_sex", "right_sex", "left_county", "right_county", "match_probability",
)  # fmt: skip
LIST_FIELDS = tuple(f for f in SUBJECT_FIELDS if f != "address")  # lists show no address
STAGE_COLUMNS = (
    "case_key", "kind", "subject_type", "subject_key", "scheme", "county_code", "township",
    "priority", "subject",
)  # fmt: skip


def check_kind(kind: str, *, listed: bool = False) -> str:
    """``kind`` if it is a case kind (``listed``: one that work lists give), else a UsageError."""
    allowed = [k for k, v in KINDS.items() if v.lists or not listed]
    if kind not in allowed:
        shown = "、".join(f"{k}（{KINDS[k].label}）" for k in allowed)
        raise UsageError(f"未知的案件类型“{kind}”。可用：{shown}", f"unknown case kind {kind!r}")
    return kind


def covered_kinds(list_names: Mapping[str, object]) -> tuple[str, ...]:
    """The kinds the given lists speak for (a list given empty still speaks: its cases are gone);
    an unknown list name is a UsageError."""
    unknown = sorted(set(list_names) - set(LIST_KINDS) - NOT_CASES)
    if unknown:
        raise UsageError(
            f"未知的工作清单：{'、'.join(unknown)}（可用：{'、'.join(LIST_KINDS)}）",
            f"unknown work lists {unknown}",
        )
    return tuple(k for name in list_names if name in LIST_KINDS for k in LIST_KINDS[name])


def _subject_json(frame: pl.DataFrame) -> pl.Expr:
    fields = [c for c in SUBJECT_FIELDS if c in frame.columns]
    if not fields:
        return pl.lit("{}")
    return pl.struct([pl.col(c).cast(pl.Utf8) for c in fields]).struct.json_encode()


def _scheme_expr(name: str, frame: pl.DataFrame) -> pl.Expr:
    if name == "missing_employee_pension":
        return pl.lit("employee_pension")
    if name == "land_farmers_uninsured":
        return pl.lit("pension")
    if name == "duplicates":
        return pl.concat_str(
            pl.col("kind").cast(pl.Utf8).str.replace("^duplicate_", ""),
            pl.lit(":"),
            pl.col("schemes").cast(pl.Utf8).fill_null(""),
        )
    if name in ("deceased", "under_reporters", "arrears") and "scheme" in frame.columns:
        return pl.col("scheme").cast(pl.Utf8).fill_null("")
    return pl.lit("")


def _rows_of(name: str, frame: pl.DataFrame, kind: str, scheme: pl.Expr) -> pl.DataFrame:
    subject = KINDS[kind].subject
    key_col = KINDS[kind].key_column
    if key_col not in frame.columns or "county_code" not in frame.columns:
        raise UsageError(
            f"工作清单“{name}”缺少 {key_col} 或 county_code 列", f"list {name}: no {key_col}"
        )
    masked = masking.mask_frame(frame)
    township = pl.col("township") if "township" in frame.columns else pl.lit(None)
    priority = pl.col("priority") if "priority" in frame.columns else pl.lit(9)
    return masked.select(
        pl.lit(kind).alias("kind"),
        pl.lit(subject).alias("subject_type"),
        pl.col(key_col).cast(pl.Utf8).alias("subject_key"),
        scheme.alias("scheme"),
        pl.col("county_code").cast(pl.Utf8).alias("county_code"),
        township.cast(pl.Utf8).alias("township"),
        priority.cast(pl.Int32).fill_null(9).alias("priority"),
        _subject_json(masked).alias("subject"),
    ).filter(pl.col("subject_key").is_not_null())


def case_rows(lists: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Every case the lists hold, one row per key (the most urgent row when a key repeats):
    :data:`STAGE_COLUMNS`. Set-based: one Polars plan over the lists."""
    covered_kinds(lists)
    parts = []
    for name, frame in lists.items():
        if name in NOT_CASES:
            continue
        if name == "uninsured":
            for kind, flag, scheme in (
                ("uninsured_pension", "pension_gap", "pension"),
                ("uninsured_medical", "medical_gap", "medical"),
            ):
                rows = frame.filter(pl.col(flag).cast(pl.Int32) == 1)
                parts.append(_rows_of(name, rows, kind, pl.lit(scheme)))
            continue
        (kind,) = LIST_KINDS[name]
        parts.append(_rows_of(name, frame, kind, _scheme_expr(name, frame)))
    if not parts:
        return pl.DataFrame(schema=dict.fromkeys(STAGE_COLUMNS, pl.Utf8)).with_columns(
            pl.col("priority").cast(pl.Int32)
        )
    rows = pl.concat(parts, how="vertical_relaxed")
    key = pl.concat_str(pl.col("kind"), pl.lit("/"), pl.col("subject_key"), pl.lit("/"),
                        pl.col("scheme"))  # fmt: skip
    return (
        rows.with_columns(key.alias("case_key"))
        .sort("case_key", "priority")
        .unique("case_key", keep="first", maintain_order=True)
        .select(STAGE_COLUMNS)
    )
