"""Employer codes: the unified social credit code (统一社会信用代码, GB 32100-2015) and the legacy
organisation code (组织机构代码, GB 11714-1997).

A credit code is 18 characters from 0-9ABCDEFGHJKLMNPQRTUWXY: authority (1), organisation type
(1), GB/T 2260 region of the registering authority (6), the organisation code (9, with its own
check), and a MOD 31 check character. Since 五证合一 (2016-10-01) the organisation code of an
existing employer became positions 9–17 of its credit code, so :func:`org_code_of` links legacy
records to new ones.

python-stdnum's ``cn.uscc`` rejects codes whose authority character is a letter (A, N, Y); this
module accepts them. Like :mod:`canbao.standards.citizen_id` the rule is a vectorised Polars
implementation (:func:`check_frame`) and the scalar helpers run the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import polars as pl

from canbao.standards import divisions
from canbao.standards._text import safe_str, strip_spaces_expr, to_halfwidth_expr

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1 3 9 27 19 26 16 17 20 29 25 13 8 …
ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# 1 机构编制 2 外交 3 司法行政 4 文化 5 民政 6 旅游 7 宗教 8 工会 9 工商(市场监管)
# A 中央军委改革和编制办公室 N 农业 Y 其他
AUTHORITIES = "123456789ANY"
CENTRAL_REGION = "100000"  # central-level registrations

ERROR_CODES = (
    "empty",
    "length",
    "charset",
    "authority",
    "region",
    "org_checksum",
    "checksum",
)

ERROR_LABELS_ZH = {
    "empty": "代码为空",
    "length": "位数不对（统一社会信用代码18位，组织机构代码9位）",
    "charset": "含有非法字符",
    "authority": "登记管理部门代码无效",
    "region": "行政区划码不存在",
    "org_checksum": "组织机构代码校验码错误",
    "checksum": "校验码错误",
}


def compute_uscc_check(body17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def compute_org_check(body8: str) -> str:
    total = sum(ORG_ALPHABET.index(c) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else ("0" if c == 11 else str(c))


def normalize_expr(expr: pl.Expr) -> pl.Expr:
    """Full-width → half-width, drop spaces and hyphens (``12345678-9``), upper-case."""
    return (
        strip_spaces_expr(to_halfwidth_expr(expr.cast(pl.Utf8)))
        .str.replace_all("-", "")
        .str.to_uppercase()
    )


def _weighted(expr: pl.Expr, start: int, alphabet: str, weights: Sequence[int]) -> pl.Expr:
    values = list(range(len(alphabet)))
    return pl.sum_horizontal(
        [
            expr.str.slice(start + i, 1).replace_strict(
                list(alphabet), values, default=None, return_dtype=pl.Int64
            )
            * w
            for i, w in enumerate(weights)
        ]
    )


def _org_check_expr(expr: pl.Expr, start: int) -> pl.Expr:
    c = 11 - _weighted(expr, start, ORG_ALPHABET, ORG_WEIGHTS).mod(11)
    return (
        pl.when(c == 10)
        .then(pl.lit("X"))
        .when(c == 11)
        .then(pl.lit("0"))
        .otherwise(c.cast(pl.Utf8))
    )


@cache
def _regions() -> pl.Series:
    return pl.Series("code", sorted(divisions.all_codes() | {CENTRAL_REGION}), dtype=pl.Utf8)


def check_frame(values: pl.Series | Sequence[Any]) -> pl.DataFrame:
    """Validate a column of credit codes or organisation codes, one output row per input.

    Columns: cc_input, cc_norm, cc_kind ("uscc" | "org_code" | null), cc_valid, cc_errors,
    cc_org_code (the 9-character organisation code, for either kind), cc_region.
    """
    if not isinstance(values, pl.Series):
        values = pl.Series("cc_input", [safe_str(v) if v is not None else None for v in values])
    values = values.cast(pl.Utf8).rename("cc_input")
    s = pl.col("cc_norm")
    n = s.str.len_chars()
    empty = s.is_null() | (n == 0)
    is_uscc = ~empty & (n == 18)
    is_org = ~empty & (n == 9)
    uscc_chars = s.str.contains(f"^[{USCC_ALPHABET}]{{18}}$")
    org_chars = s.str.contains(r"^[0-9A-Z]{8}[0-9X]$")
    uscc_org_chars = s.str.slice(8, 9).str.contains(r"^[0-9A-Z]{8}[0-9X]$")
    uscc_sum = _weighted(s, 0, USCC_ALPHABET, USCC_WEIGHTS)
    uscc_expected = ((31 - uscc_sum.mod(31)).mod(31)).replace_strict(
        list(range(31)), list(USCC_ALPHABET), return_dtype=pl.Utf8
    )
    uscc_ok = uscc_chars & (uscc_expected == s.str.slice(17, 1))
    region = s.str.slice(2, 6)
    authority_ok = s.str.slice(0, 1).is_in(list(AUTHORITIES))
    region_ok = region.is_in(_regions().implode())
    embedded_ok = uscc_org_chars & (_org_check_expr(s, 8) == s.str.slice(16, 1))
    org_ok = org_chars & (_org_check_expr(s, 0) == s.str.slice(8, 1))

    errors = pl.concat_list(
        [
            pl.when(empty).then(pl.lit("empty")),
            pl.when(~empty & ~is_uscc & ~is_org).then(pl.lit("length")),
            pl.when((is_uscc & ~uscc_chars) | (is_org & ~org_chars)).then(pl.lit("charset")),
            pl.when(is_uscc & uscc_chars & ~authority_ok).then(pl.lit("authority")),
            pl.when(is_uscc & uscc_chars & ~region_ok).then(pl.lit("region")),
            pl.when(is_uscc & uscc_chars & ~embedded_ok).then(pl.lit("org_checksum")),
            pl.when(is_uscc & uscc_chars & ~uscc_ok).then(pl.lit("checksum")),
            pl.when(is_org & org_chars & ~org_ok).then(pl.lit("checksum")),
        ]
    ).list.drop_nulls()
    df = pl.DataFrame(values).with_columns(cc_norm=normalize_expr(pl.col("cc_input")))
    return df.with_columns(
        cc_kind=pl.when(is_uscc).then(pl.lit("uscc")).when(is_org).then(pl.lit("org_code")),
        cc_errors=errors,
        cc_org_code=pl.when(is_uscc & uscc_org_chars)
        .then(s.str.slice(8, 9))
        .when(is_org & org_chars)
        .then(s),
        cc_region=pl.when(is_uscc & uscc_chars & region_ok).then(region),
    ).with_columns(cc_valid=pl.col("cc_errors").list.len() == 0)


@dataclass(frozen=True)
class CodeCheck:
    input: str
    valid: bool
    kind: str | None
    code: str
    org_code: str | None
    region_code: str | None
    errors: list[str] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_many(values: Iterable[object]) -> list[CodeCheck]:
    raw = [safe_str(v) for v in values]
    if not raw:
        return []
    return [
        CodeCheck(
            input=r["cc_input"],
            valid=bool(r["cc_valid"]),
            kind=r["cc_kind"],
            code=r["cc_norm"],
            org_code=r["cc_org_code"],
            region_code=r["cc_region"],
            errors=list(r["cc_errors"]),
        )
        for r in check_frame(raw).iter_rows(named=True)
    ]


def check(value: object) -> CodeCheck:
    return check_many([value])[0]


def is_valid(value: object) -> bool:
    return check(value).valid


def org_code_of(value: object) -> str | None:
    """The organisation code inside a credit code (or the organisation code itself)."""
    return check(value).org_code


def make_uscc(authority: str, org_type: str, region: str, org_body8: str) -> str:
    """Compose a valid credit code (used by the synthetic city and tests)."""
    org = org_body8 + compute_org_check(org_body8)
    body = authority + org_type + region + org
    return body + compute_uscc_check(body)
