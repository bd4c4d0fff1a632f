"""Citizen ID numbers (公民身份号码, GB 11643-1999) — the social security number.

Layout: 6-digit GB/T 2260 region, 8-digit birth date, 3-digit sequence (odd = male), one ISO 7064
MOD 11-2 check character. The old 15-digit form (GB 11643-1989) has a 6-digit birth date (19YY)
and no check character.

The rule lives in one place, :func:`check_frame`, a vectorised Polars implementation used by
ingest; :func:`check` runs the same code on one value. Nothing here "fixes" damaged input: an ID
that went through Excel as a number is reported as ``excel_number`` (:func:`excel_prefixes`: the
15 digits such a number really keeps); an ID that fails its check character gets *repair
candidates* (:func:`repair_candidates_frame`, whatever else the typo broke) that the registry
ranks against other sources.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import numpy as np
import polars as pl

from canbao.standards import divisions
from canbao.standards._text import safe_str, strip_spaces_expr, to_halfwidth_expr

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # index: (sum of digit × weight) mod 11
EARLIEST_BIRTH = dt.date(1890, 1, 1)

ERROR_CODES = ("empty", "length", "charset", "excel_number", "region", "birth_date", "checksum")

ERROR_LABELS_ZH = {
    "empty": "身份证号码为空",
    "length": "位数不对（应为18位或15位）",
    "charset": "含有非法字符",
    "excel_number": "被Excel当作数字保存，已损坏",
    "region": "地址码不存在（GB/T 2260）",
    "birth_date": "出生日期无效",
    "checksum": "校验码错误",
}

_SCI_RE = r"^[0-9]+(\.[0-9]*)?[Ee]\+?[0-9]+$"  # 3.60402199001011E+17
_DECIMAL_RE = r"^[0-9]+\.[0-9]*$"  # 360402199001011234.0


def compute_check_char(body17: str) -> str:
    """The check character for a 17-digit body."""
    total = sum(int(c) * w for c, w in zip(body17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def upgrade_15(id15: str) -> str:
    """Old 15-digit number → 18 digits: insert '19' after the region code and add the check."""
    body = id15[:6] + "19" + id15[6:]
    return body + compute_check_char(body)


def mask(value: str | None) -> str:
    """Keep the first 6 and last 4 characters: ``360402********1234``."""
    if not value:
        return ""
    if len(value) <= 10:
        return value[:2] + "*" * max(len(value) - 2, 0)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_expr(expr: pl.Expr) -> pl.Expr:
    # Polars evaluates every branch: keep repeat counts non-negative (clip) for short values.
    n = expr.str.len_chars().cast(pl.Int64)
    return (
        pl.when(n > 10)
        .then(
            pl.concat_str(
                expr.str.slice(0, 6),
                pl.lit("*").repeat_by((n - 10).clip(lower_bound=0)).list.join(""),
                expr.str.slice(-4, 4),
            )
        )
        .when(n > 0)
        .then(
            pl.concat_str(
                expr.str.slice(0, 2),
                pl.lit("*").repeat_by((n - 2).clip(lower_bound=0)).list.join(""),
            )
        )
        .otherwise(pl.lit(""))
    )


def normalize_expr(expr: pl.Expr) -> pl.Expr:
    """Strip spaces anywhere, full-width → half-width, lowercase x → X."""
    return strip_spaces_expr(to_halfwidth_expr(expr.cast(pl.Utf8))).str.replace_all("x", "X")


@cache
def _region_codes() -> pl.Series:
    return pl.Series("code", sorted(divisions.all_codes()), dtype=pl.Utf8)


def _weighted_sum(expr: pl.Expr) -> pl.Expr:
    return pl.sum_horizontal(
        [expr.str.slice(i, 1).cast(pl.Int8, strict=False).cast(pl.Int32) * w
         for i, w in enumerate(WEIGHTS)]
    )  # fmt: skip


def _check_char(sum_expr: pl.Expr) -> pl.Expr:
    return sum_expr.mod(11).replace_strict(list(range(11)), list(CHECK_CHARS), return_dtype=pl.Utf8)


def check_frame(values: pl.Series | Sequence[Any], today: dt.date | None = None) -> pl.DataFrame:
    """Validate a column of ID numbers. One output row per input row, same order.

    Columns: id_input, id_norm, id_format ("18" | "15" | null), id18, id_valid, id_errors
    (list of codes from :data:`ERROR_CODES`), id_region, id_birth (date), id_sex ("M" | "F").
    region/birth/sex are filled whenever that part of the number is readable and valid, even
    when another part (e.g. the check character) is wrong: the registry compares them.
    """
    today = today or dt.date.today()
    if not isinstance(values, pl.Series):
        values = pl.Series("id_input", [safe_str(v) if v is not None else None for v in values])
    values = values.cast(pl.Utf8).rename("id_input")
    s = pl.col("id_norm")
    c = pl.col
    # Each step materialises its columns, so no expression is evaluated twice.
    df = pl.DataFrame(values).with_columns(id_norm=normalize_expr(pl.col("id_input")))
    df = df.with_columns(
        _n=s.str.len_chars(),
        _sci=s.str.contains(_SCI_RE) | s.str.contains(_DECIMAL_RE),
        _d18=s.str.contains(r"^[0-9]{17}[0-9X]$"),
        _d15=s.str.contains(r"^[0-9]{15}$"),
        _chars_ok=s.str.contains(r"^[0-9]*X?$"),
        _has_x=s.str.contains("X", literal=True),
    )
    df = df.with_columns(
        _empty=s.is_null() | (c("_n") == 0),
        _body=pl.when(c("_d18"))
        .then(s.str.slice(0, 17))
        .when(c("_d15"))
        .then(pl.concat_str(s.str.slice(0, 6), pl.lit("19"), s.str.slice(6, 9))),
        _birth_text=pl.when(c("_d18"))
        .then(s.str.slice(6, 8))
        .when(c("_d15"))
        .then(pl.concat_str(pl.lit("19"), s.str.slice(6, 6))),
        _region=pl.when(c("_d18") | c("_d15")).then(s.str.slice(0, 6)),
        _seq=pl.when(c("_d18")).then(s.str.slice(16, 1)).when(c("_d15")).then(s.str.slice(14, 1)),
    )
    df = df.with_columns(_expected=_check_char(_weighted_sum(c("_body"))))
    df = df.with_columns(
        _checksum_ok=c("_expected") == s.str.slice(17, 1),
        _birth=c("_birth_text").str.strptime(pl.Date, "%Y%m%d", strict=False),
        _region_ok=c("_region").is_in(_region_codes().implode()),
    )
    df = df.with_columns(
        # Excel keeps 15 significant digits: an 18-digit number comes back ending in 000.
        _excel=~c("_empty")
        & (c("_sci") | (c("_d18") & s.str.ends_with("000") & ~c("_checksum_ok"))),
        _birth_ok=c("_birth").is_not_null()
        & (c("_birth") >= EARLIEST_BIRTH)
        & (c("_birth") <= today),
    )
    df = df.with_columns(_structural=~c("_empty") & ~c("_excel"))
    df = df.with_columns(_parsed=c("_structural") & (c("_d18") | c("_d15")))
    df = df.with_columns(
        _err_text=pl.concat_str(
            [
                pl.when(c("_empty")).then(pl.lit("empty")),
                pl.when(c("_structural") & ~c("_n").is_in([15, 18])).then(pl.lit("length")),
                pl.when(c("_structural") & (~c("_chars_ok") | (c("_has_x") & ~c("_d18")))).then(
                    pl.lit("charset")
                ),
                pl.when(c("_excel")).then(pl.lit("excel_number")),
                pl.when(c("_parsed") & ~c("_region_ok")).then(pl.lit("region")),
                pl.when(c("_parsed") & ~c("_birth_ok")).then(pl.lit("birth_date")),
                pl.when(c("_parsed") & c("_d18") & ~c("_checksum_ok")).then(pl.lit("checksum")),
            ],
            separator=",",
            ignore_nulls=True,
        ),
        id_format=pl.when(c("_parsed") & c("_d18"))
        .then(pl.lit("18"))
        .when(c("_parsed") & c("_d15"))
        .then(pl.lit("15")),
        id_region=pl.when(c("_structural") & c("_region_ok")).then(c("_region")),
        id_birth=pl.when(c("_structural") & c("_birth_ok")).then(c("_birth")),
        id_sex=pl.when(c("_structural") & c("_seq").is_not_null()).then(
            pl.when(c("_seq").cast(pl.Int32, strict=False).mod(2) == 1)
            .then(pl.lit("M"))
            .otherwise(pl.lit("F"))
        ),
    )
    df = df.with_columns(
        id_valid=c("_err_text") == "",
        # a list column, built from the joined text (much cheaper than concat_list of whens)
        id_errors=pl.when(c("_err_text") == "")
        .then(pl.lit([], dtype=pl.List(pl.Utf8)))
        .otherwise(c("_err_text").str.split(",")),
    )
    df = df.with_columns(
        id18=pl.when(c("id_valid") & (c("id_format") == "18"))
        .then(s)
        .when(c("id_valid") & (c("id_format") == "15"))
        .then(pl.concat_str(c("_body"), c("_expected")))
    )
    return df.select(
        "id_input",
        "id_norm",
        "id_format",
        "id18",
        "id_valid",
        "id_errors",
        "id_region",
        "id_birth",
        "id_sex",
    )


# --- repair candidates ----------------------------------------------------------------------

_W = np.array(WEIGHTS, dtype=np.int64)
_CHECK_VALUE = np.array([1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)  # S mod 11 → value
_ID_CHARS = np.frombuffer(b"0123456789X", dtype=np.uint8)
_REPAIRABLE_RE = r"^[0-9X]{18}$"


def _values(mat: np.ndarray) -> np.ndarray:
    """ASCII matrix → character values (digits 0-9, X = 10, anything else 99)."""
    v = mat.astype(np.int64) - ord("0")
    v[mat == ord("X")] = 10
    v[(v < 0) | (v > 10)] = 99
    return v


def _checksum_ok(mat: np.ndarray) -> np.ndarray:
    v = _values(mat)
    body_ok = (v[:, :17] <= 9).all(axis=1)
    s = (np.where(v[:, :17] <= 9, v[:, :17], 0) @ _W) % 11
    return body_ok & (_CHECK_VALUE[s] == v[:, 17])


def _matrix(values: Sequence[str]) -> np.ndarray:
    return np.frombuffer("".join(values).encode("ascii"), dtype=np.uint8).reshape(-1, 18)


def _normalised(values: pl.Series | Sequence[Any]) -> pl.Series:
    if not isinstance(values, pl.Series):
        values = pl.Series("v", [safe_str(v) if v is not None else None for v in values])
    return values.cast(pl.Utf8).to_frame("v").select(normalize_expr(pl.col("v")))["v"]


def fails_check_char(norm: pl.Series) -> pl.Series:
    """Per normalised value (``id_norm``): True for an 18-character ID (digits, X) whose check
    character is wrong, whatever else is wrong with it (a region or birth date broken by the
    same typo, an X typed in the body) -- the inputs that get repair candidates. A value ending
    in 000 counts too (Excel damage or a typo: the registry tries both readings)."""
    shaped = norm.cast(pl.Utf8).str.contains(_REPAIRABLE_RE).fill_null(False).to_numpy()
    out = np.zeros(norm.len(), dtype=bool)
    rows = np.flatnonzero(shaped)
    if rows.size:
        out[rows] = ~_checksum_ok(_matrix(norm.gather(rows).to_list()))
    return pl.Series(norm.name or "fails_check_char", out)


def _one_edit(base: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The one-edit variants of 18-character IDs (rows of an ASCII matrix), the edit rule of
    repair candidates: every substitution by an ID character (a digit or X) at any position and
    every adjacent transposition; yields (variants, mask of rows where the edit changed
    something). Substitution and transposition undo themselves, so "V is a one-edit variant of
    W" is symmetric: :func:`repair_sources_frame` inverts :func:`repair_candidates_frame`."""
    for pos in range(18):
        for ch in _ID_CHARS:
            v = base.copy()
            v[:, pos] = ch
            yield v, base[:, pos] != ch
    for pos in range(17):
        v = base.copy()
        v[:, [pos, pos + 1]] = v[:, [pos + 1, pos]]
        yield v, base[:, pos] != base[:, pos + 1]


def _right_check_variants(base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner row, variant) for every one-edit variant of the rows of ``base`` (the edit rule
    of :func:`_one_edit`) whose check character is right -- computed from each row's weighted
    sum and the change an edit makes to it, so that only those variants are built (about one
    in eleven). ``base`` holds digits and X only."""
    v = _values(base)
    body = v[:, :17]
    n_x = (body == 10).sum(axis=1)  # an X in the body: no variant that keeps one is right
    s = body @ _W
    check = v[:, 17]
    owners: list[np.ndarray] = []
    variants: list[np.ndarray] = []

    def emit(ok: np.ndarray, edit: Callable[[np.ndarray, np.ndarray], None]) -> None:
        rows = np.flatnonzero(ok)
        if rows.size:
            var = base[rows].copy()
            edit(var, rows)
            owners.append(rows)
            variants.append(var)

    for p in range(17):
        old = body[:, p]
        x_left = n_x - (old == 10)
        for c in range(10):
            ok = (old != c) & (x_left == 0) & (_CHECK_VALUE[(s + _W[p] * (c - old)) % 11] == check)

            def sub(var: np.ndarray, _r: np.ndarray, p: int = p, c: int = c) -> None:
                var[:, p] = ord("0") + c

            emit(ok, sub)
    right = _CHECK_VALUE[s % 11]

    def set_check(var: np.ndarray, r: np.ndarray) -> None:
        var[:, 17] = _ID_CHARS[right[r]]

    emit((n_x == 0) & (right != check), set_check)
    for p in range(17):
        a = body[:, p]
        b = body[:, p + 1] if p < 16 else check
        if p < 16:
            x_after, s2, new_check = n_x, s + (_W[p] - _W[p + 1]) * (b - a), check
        else:  # the check character moves into the body, digit 17 becomes the check
            x_after, s2, new_check = n_x - (a == 10) + (b == 10), s + _W[16] * (b - a), a
        ok = (a != b) & (x_after == 0) & (_CHECK_VALUE[s2 % 11] == new_check)

        def swap(var: np.ndarray, _r: np.ndarray, p: int = p) -> None:
            var[:, [p, p + 1]] = var[:, [p + 1, p]]

        emit(ok, swap)
    if not owners:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 18), dtype=np.uint8)
    return np.concatenate(owners), np.concatenate(variants)


def _plausible(mat: np.ndarray, today: dt.date) -> np.ndarray:
    """Rows of an ASCII ID matrix that may be valid: a known region code, a month 1-12, a day
    1-31 and a year from 1890 to this year. A necessary condition only (check_frame decides)."""
    d = mat[:, :14].astype(np.int64) - ord("0")
    region = d[:, :6] @ np.array([100000, 10000, 1000, 100, 10, 1], dtype=np.int64)
    year = d[:, 6:10] @ np.array([1000, 100, 10, 1], dtype=np.int64)
    month = d[:, 10] * 10 + d[:, 11]
    day = d[:, 12] * 10 + d[:, 13]
    return (
        np.isin(region, _region_ints())
        & (year >= EARLIEST_BIRTH.year)
        & (year <= today.year)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= 31)
    )


@cache
def _region_ints() -> np.ndarray:
    return np.array(sorted(int(c) for c in _region_codes().to_list() if c.isdigit()))


def repair_sources_frame(ids: pl.Series | Sequence[str]) -> pl.DataFrame:
    """The inverse of :func:`repair_candidates_frame` for valid IDs: every delivered ID whose
    repair candidates include the given ID, i.e. its one-edit variants that fail the check
    character. Output columns id18 (the given ID), id_norm (the variant)."""
    given = [i for i in (ids.to_list() if isinstance(ids, pl.Series) else ids) if i]
    schema = {"id18": pl.Utf8, "id_norm": pl.Utf8}
    if not given:
        return pl.DataFrame(schema=schema)
    base = _matrix(given)
    rows = np.arange(base.shape[0])
    variants, owners = [], []
    for v, changed in _one_edit(base):
        keep = changed & ~_checksum_ok(v)
        variants.append(v[keep])
        owners.append(rows[keep])
    allv = np.ascontiguousarray(np.concatenate(variants))
    own = np.concatenate(owners)
    return pl.DataFrame(
        {
            "id18": pl.Series(given, dtype=pl.Utf8).gather(own),
            "id_norm": pl.Series(allv.view("S18").ravel().astype("U18"), dtype=pl.Utf8),
        }
    )


def repair_candidates_frame(
    ids: pl.Series | Sequence[str], today: dt.date | None = None
) -> pl.DataFrame:
    """Every valid ID one substitution or one adjacent transposition away from each input.

    The rule: an input gets candidates when it fails its check character
    (:func:`fails_check_char`: 18 characters, digits and X, wrong check character), whatever
    else fails with it -- a typo in the birth-date digits breaks the date *and* the check (month
    13, day 92), one in the region code the region. The candidates are the fully valid IDs
    (:func:`check_frame`: known region, real birth date from 1890 up to ``today``, right check
    character) one substitution or adjacent transposition away, positions 1-18. Other inputs
    (valid IDs, wrong length, a bad date under a right check character) get an empty list.
    Output: one row per input, columns id_norm, candidates (list[str], sorted).
    """
    norm = _normalised(ids).rename("id_norm")
    out_rows = np.flatnonzero(fails_check_char(norm).to_numpy())
    if out_rows.size == 0:
        return norm.to_frame().with_columns(candidates=pl.lit([], dtype=pl.List(pl.Utf8)))
    today = today or dt.date.today()
    own, allv = _right_check_variants(_matrix(norm.gather(out_rows).to_list()))
    keep = _plausible(allv, today)  # a cheap necessary condition; check_frame decides
    own, allv = own[keep], np.ascontiguousarray(allv[keep])
    cand = pl.Series("c", allv.view("S18").ravel().astype("U18"), dtype=pl.Utf8)
    ok = check_frame(cand, today=today)["id_valid"].to_numpy()
    per_input = (
        pl.DataFrame({"_i": out_rows[own[ok]], "cand": cand.filter(pl.Series(ok))})
        .unique()
        .group_by("_i")
        .agg(pl.col("cand").sort())
    )
    return (
        norm.to_frame()
        .with_row_index("_i")
        .join(per_input.with_columns(pl.col("_i").cast(pl.UInt32)), on="_i", how="left")
        .sort("_i")
        .select("id_norm", candidates=pl.col("cand").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))))
    )


def repair_candidates(value: str, today: dt.date | None = None) -> list[str]:
    return list(repair_candidates_frame([value], today=today)["candidates"][0])


# --- numeric cells (Excel, programs) --------------------------------------------------------

# a number as text: 360425197608152320, 360425197608152000.0, 3.60425197608152E+17, 3.6e17
_NUMBER_RE = r"^([0-9]*)(?:\.([0-9]*))?(?:[Ee]\+?([0-9]{1,3}))?$"


def excel_prefixes(value: pl.Expr) -> pl.Expr:
    """The first 15 digits an ID that went through a number can have: a struct of
    ``id_prefix15`` (P) and ``id_prefix15_alt`` (P - 1), both 15-digit text, null for a value
    that is not a number of 18 integer digits.

    The rule: read the value as a number V, whatever its spelling (``360425197608152000``,
    ``3.60425197608152E+17``, a program's exact double ``360425197608152320``, a repr
    ``3.604251976081523e+17``, ``….0``); P = V rounded half up to 15 significant digits. The
    true first 15 digits are P or P - 1. Nothing beyond the 15th digit is used.

    Proof. Write the true ID T = 1000·A + r (A its first 15 digits, 0 <= r <= 999).

    - A double holds 53 significant bits. IDs lie between 1.1e17 and 9.9e17, where doubles are
      64 apart below 2^59 (about 5.76e17) and 128 apart above: the double nearest T (what a
      program writes, and what ingest reads back as an exact integer) is within 32, resp. 64,
      of T. Any text spelling of it with 16 or more significant digits adds at most 50.
    - Excel keeps 15 significant digits: typed in, T becomes 1000·A (the digits after the 15th
      replaced by zeros) or, where it rounds the 16th digit, 1000·A or 1000·(A + 1); shown or
      saved with 15 digits, a double within 64 of T also reads 1000·A or 1000·(A + 1).

    So V is 1000·A or 1000·(A + 1), or lies within 114 of T, i.e. V / 1000 lies in
    [A - 0.114, A + 1.113]. Rounding half up to an integer gives A or A + 1 (A - 0.114 and
    everything below A + 0.5 go to A; A + 0.5 up to A + 1.113 goes to A + 1): A = P or P - 1.
    Both are needed: a 16th digit of 5 or more rounds up (…152348 → 3.60425197608152E+17 keeps
    A, …152548 → …153), and a double can cross a multiple of 1000 either way.
    """
    m = value.str.extract_groups(_NUMBER_RE)
    int_part = m.struct.field("1").fill_null("")
    frac = m.struct.field("2").fill_null("")
    exp = m.struct.field("3").cast(pl.Int64, strict=False).fill_null(0)
    digits = pl.concat_str(int_part, frac)
    sig = digits.str.strip_chars_start("0")
    # integer digits of V: the mantissa's, shifted by the exponent, less its leading zeros
    magnitude = (
        int_part.str.len_chars().cast(pl.Int64)
        + exp
        - (digits.str.len_chars() - sig.str.len_chars()).cast(pl.Int64)
    )
    sixteen = sig.str.pad_end(16, "0").str.slice(0, 16)
    p = sixteen.str.slice(0, 15).cast(pl.Int64, strict=False) + (
        sixteen.str.slice(15, 1).cast(pl.Int64, strict=False) >= 5
    ).cast(pl.Int64)
    ok = m.is_not_null() & (sig.str.len_chars() > 0) & (magnitude == 18) & (p < 10**15)
    return pl.struct(
        id_prefix15=pl.when(ok).then(p.cast(pl.Utf8)),
        id_prefix15_alt=pl.when(ok).then((p - 1).cast(pl.Utf8).str.pad_start(15, "0")),
    )


# --- one value ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdCheck:
    input: str
    valid: bool
    format: str | None
    id18: str | None
    region_code: str | None
    region_name: str | None
    birth_date: str | None
    sex: str | None
    errors: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_many(values: Iterable[object], today: dt.date | None = None) -> list[IdCheck]:
    raw = [safe_str(v) for v in values]
    if not raw:
        return []
    frame = check_frame(raw, today=today)
    cands = repair_candidates_frame(raw, today=today)["candidates"].to_list()
    out = []
    for row, cand in zip(frame.iter_rows(named=True), cands, strict=True):
        birth = row["id_birth"]
        out.append(
            IdCheck(
                input=row["id_input"],
                valid=bool(row["id_valid"]),
                format=row["id_format"],
                id18=row["id18"],
                region_code=row["id_region"],
                region_name=_region_full_name(row["id_region"]),
                birth_date=birth.isoformat() if birth else None,
                sex=row["id_sex"],
                errors=list(row["id_errors"]),
                candidates=list(cand),
            )
        )
    return out


def check(value: object, today: dt.date | None = None) -> IdCheck:
    return check_many([value], today=today)[0]


def is_valid(value: object) -> bool:
    return check(value).valid


def _region_full_name(code: str | None) -> str | None:
    d = divisions.lookup(code) if code else None
    return d.full_name() if d else None
