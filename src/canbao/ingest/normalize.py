"""Raw text columns → canonical typed records, vectorised (Polars expressions; Python only per
distinct value through :mod:`canbao.standards`).

Every parse failure is kept: the value becomes null and the row gets a warning code
``<field>_invalid`` in its ``warnings`` list (the original text stays in the source file and in the
report examples; :func:`unrecognised_notes` lists the distinct unrecognised values of coded
fields for the report).

Fields whose meaning drives a rule are coded here, once, never read as raw text downstream:
``benefit`` (待遇状态 → :data:`canbao.ingest.kinds.BENEFIT_STATUS`) and ``park`` (园区企业 →
``yes``/``no``, :data:`canbao.ingest.kinds.PARK_VALUES`); their cleaned text is kept in
``benefit_raw`` / ``park_raw``.

``agency_code`` (参保经办机构 / 统筹区) is resolved by the caller's resolver (the region
profile's :meth:`~canbao.profile.Profile.resolve_agency`, once per distinct value) to its
canonical value; a value the profile does not know is *kept* (spaces removed) with the warning
``agency_code_unknown``, so that a profile completed later still maps it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from functools import partial

import polars as pl

from canbao.ingest import kinds
from canbao.standards import citizen_id, credit_code, divisions, names
from canbao.standards._text import to_halfwidth_expr

DATE_FIELDS = (
    "event_date", "start_date", "end_date", "registered_date", "death_date", "paid_date",
    "arrears_as_of",
)  # fmt: skip
MONEY_FIELDS = kinds.MONEY_FIELDS
INT_FIELDS = ("headcount",)
# Coded fields that keep their cleaned text next to the code, as ``<field>_raw``.
RAW_KEPT = ("benefit", "park")
# Coded fields whose unrecognised values :func:`unrecognised_notes` lists.
CODED_FIELDS = ("sex", "status", "ownership", "group", "scheme", "benefit", "park")
PERSON_DERIVED: dict[str, pl.DataType] = {
    "id_raw": pl.Utf8(),
    "id_norm": pl.Utf8(),
    "id18": pl.Utf8(),
    "id_valid": pl.Boolean(),
    "id_errors": pl.List(pl.Utf8()),
    "id_birth": pl.Date(),
    "id_sex": pl.Utf8(),
    "id_region": pl.Utf8(),
    "name_norm": pl.Utf8(),
    "name_pinyin": pl.Utf8(),
}
EMPLOYER_DERIVED: dict[str, pl.DataType] = {
    "cc_valid": pl.Boolean(),
    "cc_kind": pl.Utf8(),
    "cc_errors": pl.List(pl.Utf8()),
    "employer_name_norm": pl.Utf8(),
    "employer_name_key": pl.Utf8(),
}
EXCEL_EPOCH = dt.date(1899, 12, 30)


def field_dtype(name: str) -> pl.DataType:
    if name in DATE_FIELDS:
        return pl.Date()
    if name in MONEY_FIELDS or name in INT_FIELDS:
        return pl.Int64()
    return pl.Utf8()


def _clean(expr: pl.Expr) -> pl.Expr:
    return to_halfwidth_expr(expr).str.strip_chars().replace("", None)


_RAW_FIELDS = ("id", "credit_code", "org_code")


def _cleaned(text: pl.DataFrame, kind: str) -> pl.DataFrame:
    """``row`` and the kind's fields, cleaned once: IDs and codes stay as delivered (their
    checks normalise), other text is half-width, stripped, empty as null."""
    fields = [f.name for f in kinds.FIELDS[kind]]
    return text.select(
        "row", *[pl.col(f) if f in _RAW_FIELDS else _clean(pl.col(f)).alias(f) for f in fields]
    )


def present_fields(text: pl.DataFrame, kind: str, *, cleaned: bool = False) -> set[str]:
    """The fields with at least one value in ``text`` (a whole file's canonical text): a cell
    with more than (any, also full-width) white space, which cleaning keeps."""
    names = [f.name for f in kinds.FIELDS[kind]]
    if cleaned:
        return {f for f in names if text[f].null_count() < text.height}
    row = text.select(
        (pl.col(f).is_not_null() if f in _RAW_FIELDS else pl.col(f).str.contains(r"\S"))
        .any()
        .alias(f)
        for f in names
    ).row(0)
    return {f for f, has in zip(names, row, strict=True) if has}


def _code_map(values: Mapping[str, list[str]]) -> tuple[list[str], list[str]]:
    src, dst = [], []
    for code, words in values.items():
        for w in [code, *words]:
            key = w.strip().upper()
            if key not in src:
                src.append(key)
                dst.append(code)
    return src, dst


def coded(expr: pl.Expr, values: Mapping[str, list[str]]) -> pl.Expr:
    src, dst = _code_map(values)
    key = _clean(expr).str.replace_all(r"\s", "").str.to_uppercase()
    return key.replace_strict(src, dst, default=None, return_dtype=pl.Utf8)


def parse_scheme(expr: pl.Expr) -> pl.Expr:
    """险种 → a scheme code or null: a listed word or code
    (:data:`~canbao.ingest.kinds.SCHEME_VALUES`, the labels), else by the words it contains
    (:data:`~canbao.ingest.kinds.SCHEME_WORDS`)."""
    words = {k: [kinds.SCHEME_LABELS_ZH[k], *v] for k, v in kinds.SCHEME_VALUES.items()}
    word = coded(expr, words)
    key = _clean(expr).str.replace_all(r"\s", "")
    resident = key.str.contains(kinds.SCHEME_RESIDENT)
    out = pl.lit(None, dtype=pl.Utf8)
    for pattern, code in reversed(kinds.SCHEME_WORDS):
        hit = pl.lit(code)
        if code in ("pension", "medical"):
            hit = (
                pl.when(resident)
                .then(pl.lit(f"resident_{code}"))
                .otherwise(pl.lit(f"employee_{code}"))
            )
        out = pl.when(key.str.contains(pattern)).then(hit).otherwise(out)
    out = pl.when(key.str.contains(kinds.SCHEME_NOT_BASE)).then(None).otherwise(out)
    return pl.coalesce(word, out)


def parse_ownership(expr: pl.Expr) -> pl.Expr:
    """经济类型 / 企业类型 → an :data:`~canbao.ingest.kinds.OWNERSHIP` code or null: a listed
    word or code, else the first of :data:`~canbao.ingest.kinds.OWNERSHIP_PATTERNS` the text
    contains (full-width brackets and spaces aside)."""
    word = coded(expr, kinds.OWNERSHIP)
    key = _clean(expr).str.replace_all(r"\s", "").str.replace_all("非自然人", "〇")
    by_pattern = pl.lit(None, dtype=pl.Utf8)
    for pattern, code in reversed(kinds.OWNERSHIP_PATTERNS):
        by_pattern = pl.when(key.str.contains(pattern)).then(pl.lit(code)).otherwise(by_pattern)
    return pl.coalesce(word, by_pattern)


def parse_park(expr: pl.Expr) -> pl.Expr:
    """园区企业 → ``yes`` / ``no`` / null: a yes/no word, else a park's name (text with a park
    marker such as 园 or 开发区; ``no`` when it starts with a negation such as 非)."""
    word = coded(expr, kinds.PARK_VALUES)
    key = _clean(expr).str.replace_all(r"\s", "")
    named = key.str.contains("|".join(re.escape(m) for m in kinds.PARK_NAME_MARKERS))
    negated = key.str.contains("^[" + "".join(kinds.PARK_NEGATIONS) + "]")
    by_name = pl.when(named & negated).then(pl.lit("no")).when(named).then(pl.lit("yes"))
    return pl.coalesce(word, by_name)


# --- dates --------------------------------------------------------------------------------------


def _date_text(expr: pl.Expr) -> pl.Expr:
    """Unify separators: 1990年5月1日 / 1990.05.01 / 1990/5/1 / '1990-05-01 00:00:00' → 1990-5-1."""
    t = _clean(expr)
    t = t.str.replace(r"[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "")
    t = t.str.replace_all(r"[年月/.]", "-").str.replace_all(r"[日号份]", "").str.strip_chars("-")
    return t


def parse_date(expr: pl.Expr, excel_number: pl.Expr | None = None) -> pl.Expr:
    """Full dates only (Date or null): ISO-like, YYYYMMDD, and Excel serial day numbers (any
    cell Excel stored as a number when ``excel_number`` says so; otherwise 5-digit text)."""
    t = _date_text(expr)
    if excel_number is not None:
        n = t.str.extract(r"^(\d{1,6})(\.\d+)?$", 1).cast(pl.Int64, strict=False)
        from_cell = pl.when(excel_number & n.is_between(1, 2_958_465)).then(
            pl.lit(EXCEL_EPOCH) + pl.duration(days=n)
        )
        return pl.coalesce(from_cell.cast(pl.Date), parse_date(expr))
    dashed = t.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    compact = pl.when(t.str.contains(r"^\d{8}$")).then(t.str.to_date("%Y%m%d", strict=False))
    serial_n = pl.when(t.str.contains(r"^\d{5}(\.0+)?$")).then(
        t.str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)
    )
    serial = pl.when(serial_n.is_between(10_000, 80_000)).then(
        pl.lit(EXCEL_EPOCH) + pl.duration(days=serial_n)
    )
    return pl.coalesce(
        pl.when(t.str.contains(r"^\d{4}-\d{1,2}-\d{1,2}$")).then(dashed), compact, serial
    ).cast(pl.Date)


def parse_year_month(expr: pl.Expr) -> pl.Expr:
    """'1990-5', '199005', '1990年5月' → '1990-05' (text) or null."""
    t = _date_text(expr)
    m = t.str.extract_groups(r"^(?<y>\d{4})-?(?<m>\d{1,2})$")
    y, mo = m.struct.field("y"), m.struct.field("m").cast(pl.Int32, strict=False)
    ok = mo.is_between(1, 12) & y.cast(pl.Int32, strict=False).is_between(1850, 2200)
    return pl.when(ok).then(pl.concat_str(y, pl.lit("-"), mo.cast(pl.Utf8).str.zfill(2)))


def parse_period(expr: pl.Expr) -> pl.Expr:
    """费款所属期 → 'YYYY-MM'; a full date gives its month."""
    full = parse_date(expr)
    return pl.coalesce(parse_year_month(expr), full.dt.strftime("%Y-%m"))


# --- money --------------------------------------------------------------------------------------


def parse_money(expr: pl.Expr, fen_per_unit: int = 100) -> pl.Expr:
    """Amount text → integer fen (Int64), exact decimal arithmetic, half-up beyond the fen.
    ``fen_per_unit``: what one unit of the text is worth — 100 for 元 (the default), 1,000,000
    for 万元, 1 for 分 (a power of ten; the column's header names the unit,
    :data:`canbao.ingest.headers.MONEY_UNITS`). At most 17 digits of fen before rounding
    (15 digits of yuan)."""
    k = len(str(fen_per_unit)) - 1
    if fen_per_unit != 10**k:
        raise ValueError(f"fen_per_unit must be a power of ten, not {fen_per_unit}")
    t = _clean(expr).str.replace_all(r"[,，¥￥元\s]", "")
    g = t.str.extract_groups(r"^(?<s>[+-]?)(?<i>\d+)(?:\.(?<f>\d*))?$")
    sign = pl.when(g.struct.field("s") == "-").then(-1).otherwise(1)
    whole = g.struct.field("i").cast(pl.Int64, strict=False)
    frac = pl.concat_str(g.struct.field("f").fill_null(""), pl.lit("0" * (k + 1))).str.slice(
        0, k + 1
    )
    part = frac.str.slice(0, k).cast(pl.Int64, strict=False) if k else pl.lit(0, dtype=pl.Int64)
    up = (frac.str.slice(k, 1).cast(pl.Int64, strict=False) >= 5).cast(pl.Int64)
    return pl.when(whole.is_not_null() & (g.struct.field("i").str.len_chars() <= 17 - k)).then(
        sign * (whole * fen_per_unit + part + up)
    )


def parse_int(expr: pl.Expr) -> pl.Expr:
    t = _clean(expr).str.replace_all(r"[,，人\s]", "").str.replace(r"\.0+$", "")
    return pl.when(t.str.contains(r"^\d{1,12}$")).then(t.cast(pl.Int64, strict=False))


def parse_county(expr: pl.Expr) -> pl.Expr:
    t = _clean(expr).str.replace_all(r"\s", "")
    six = pl.when(t.str.contains(r"^\d{6}(\d{6})?$")).then(t.str.slice(0, 6))
    return pl.when(six.is_in(pl.Series(sorted(divisions.all_codes())).implode())).then(six)


# --- transaction numbers ------------------------------------------------------------------------

# digits a double holds exactly: a longer number Excel stored as a number has lost its tail
EXCEL_EXACT_DIGITS = 15
_TXN_MISSING = ("无", "-", "--", "/", "—", "NULL", "NONE", "N/A")


def parse_txn_id(expr: pl.Expr) -> pl.Expr:
    """缴费流水号 / 票据号 → text without spaces (letters upper-cased); null for a placeholder
    (无, -, /) and for scientific notation (``3.6040020170315E+19``: a number Excel shortened,
    its digits are gone)."""
    t = _clean(expr).str.replace_all(r"\s", "").str.to_uppercase()
    t = pl.when(t.is_in(list(_TXN_MISSING))).then(None).otherwise(t)
    return pl.when(~t.str.contains(r"^[+-]?\d+(\.\d+)?E[+-]?\d+$")).then(t)


def _txn_missing(expr: pl.Expr) -> pl.Expr:
    return _clean(expr).str.replace_all(r"\s", "").str.to_uppercase().is_in(list(_TXN_MISSING))


# --- the whole frame ---------------------------------------------------------------------------


def _join_warnings(parts: list[pl.Expr]) -> pl.Expr:
    """Warning codes as one comma-joined text (much faster than building lists row by row)."""
    if not parts:
        return pl.lit(None, dtype=pl.Utf8)
    joined = pl.concat_str(parts, separator=",", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


def _dates(text: pl.Series, excel_number: pl.Series | None) -> tuple[pl.Series, pl.Series]:
    """(full Date, year-month text) per value. ISO dates take a fast path; only the rest go
    through the format-tolerant parser."""
    full = text.str.to_date("%Y-%m-%d", strict=False)
    ym = pl.Series(text.name, [None] * text.len(), dtype=pl.Utf8)
    rest = full.is_null() & text.is_not_null()
    if excel_number is not None:
        rest = rest | (excel_number.fill_null(False) & text.is_not_null())
    if not rest.any():
        return full, ym
    idx = rest.arg_true()
    sub = pl.DataFrame({"x": text.gather(idx)})
    num = None
    if excel_number is not None:
        sub = sub.with_columns(n=excel_number.fill_null(False).gather(idx))
        num = pl.col("n")
    parsed = sub.select(full=parse_date(pl.col("x"), num), ym=parse_year_month(pl.col("x")))
    return full.scatter(idx, parsed["full"]), ym.scatter(idx, parsed["ym"])


def _warn(code: str, cond: pl.Expr) -> pl.Expr:
    return pl.when(cond).then(pl.lit(code))


AgencyResolver = Callable[[str], str | None]
"""Agency value (cleaned, no spaces) → its canonical value, or None when unknown."""


def resolve_agencies(
    values: pl.Series, resolve: AgencyResolver | None
) -> tuple[pl.Series, pl.Series]:
    """(stored value, unknown?) per row of an ``agency_code`` column: the canonical value of
    each distinct value (``resolve`` runs once per distinct value), the value itself when
    ``resolve`` does not know it (``unknown`` true) or when there is no resolver."""
    key = values.to_frame("x").select(_clean(pl.col("x")).str.replace_all(r"\s", "")).to_series()
    if resolve is None:
        return key.rename(values.name), pl.Series(values.name, [False] * key.len())
    distinct = key.drop_nulls().unique().to_list()
    canon = {v: resolve(v) for v in distinct}
    known = [v for v, c in canon.items() if c is not None]
    mapped = key.replace_strict(
        known, [canon[v] for v in known], default=None, return_dtype=pl.Utf8
    )
    unknown = key.is_not_null() & mapped.is_null()
    return mapped.fill_null(key).rename(values.name), unknown


def normalize(
    text: pl.DataFrame,
    kind: str,
    *,
    scheme: str | None,
    numeric_id: pl.Series | None = None,
    numeric_cells: Mapping[str, pl.Series] | None = None,
    agency: AgencyResolver | None = None,
    fields_present: set[str] | None = None,
    money_units: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """``text`` has one Utf8 column per canonical field (null when the file lacks it), plus
    ``row``. Returns typed fields, derived identity columns and ``warnings`` (list[str]).
    ``numeric_cells``: field → Boolean Series, cells an Excel file stored as numbers (a date
    field's numbers are Excel serial days; a ``txn_id`` longer than 15 digits stored as a number
    has lost digits and becomes null, warning ``txn_id_excel_number``). ``agency``: the resolver of ``agency_code`` values
    (see the module docstring; None: values are kept as delivered, without spaces).
    ``fields_present``: the fields the whole file has (:func:`present_fields`), when ``text`` is only
    some of its rows (a row's result never depends on the other rows but through this).
    ``money_units``: amount field → fen per unit of its column when not 元 (a header's 万元,
    :func:`canbao.ingest.headers.money_unit`)."""
    fields = [f.name for f in kinds.FIELDS[kind]]
    numeric_cells = numeric_cells or {}
    text = _cleaned(text, kind)
    have = (
        fields_present if fields_present is not None else present_fields(text, kind, cleaned=True)
    )
    out = text
    exprs: list[pl.Expr] = []
    warns: list[pl.Expr] = []
    for f in fields:
        c = pl.col(f)
        if f not in have:  # the file has no such column (or it is empty throughout)
            if f == "birth_date":
                exprs.append(pl.lit(None, dtype=pl.Utf8).alias(f))
                exprs.append(pl.lit(None, dtype=pl.Date).alias("birth_date_value"))
            elif f == "status" and kind == "enrollment":
                # No status in the extract: enrolled as of the extract's as-of date.
                exprs.append(pl.lit("active").alias(f))
            elif f == "scheme":
                exprs.append(pl.lit(scheme, dtype=pl.Utf8).alias(f))
            else:
                exprs.append(pl.lit(None, dtype=field_dtype(f)).alias(f))
            if f in RAW_KEPT:
                exprs.append(pl.lit(None, dtype=pl.Utf8).alias(f"{f}_raw"))
            continue
        present = c.is_not_null()
        num = numeric_cells.get(f)
        if f in DATE_FIELDS or f == "birth_date":
            if num is None:
                both = by_distinct(text[f], _dates_frame)
                full_s, ym_s = both.to_series(0), both.to_series(1)
            else:
                full_s, ym_s = _dates(text[f], num)
            full, ym = pl.lit(full_s), pl.lit(ym_s)
            if f == "birth_date":
                exprs.append(pl.coalesce(full.dt.strftime("%Y-%m-%d"), ym).alias("birth_date"))
                exprs.append(full.alias("birth_date_value"))
                warns.append(_warn("birth_date_invalid", present & full.is_null() & ym.is_null()))
                continue
            # A year-month in a date field becomes the 1st of the month, flagged <field>_partial.
            value = pl.coalesce(full, pl.when(ym.is_not_null()).then((ym + "-01").str.to_date()))
            exprs.append(value.alias(f))
            warns.append(_warn(f"{f}_partial", full.is_null() & ym.is_not_null()))
            warns.append(_warn(f"{f}_invalid", present & full.is_null() & ym.is_null()))
            continue
        if f in MONEY_FIELDS:
            value = _distinct(
                text[f], partial(parse_money, fen_per_unit=(money_units or {}).get(f, 100))
            )
            name = f
        elif f in INT_FIELDS:
            value, name = _distinct(text[f], parse_int), f
        elif f == "period":
            value, name = _distinct(text[f], parse_period), "period"
        elif f == "sex":
            value, name = _distinct(text[f], lambda e: coded(e, kinds.SEX_VALUES)), "sex"
        elif f == "status" and kind == "enrollment":
            st = coded(c, kinds.ENROLLMENT_STATUS)
            exprs.append(pl.when(present).then(st).otherwise(pl.lit("active")).alias(f))
            warns.append(_warn("status_invalid", present & st.is_null()))
            continue
        elif f == "ownership":
            value, name = _distinct(text[f], parse_ownership), f
        elif f == "group":
            value, name = coded(c, kinds.SPECIAL_GROUPS), f
        elif f in RAW_KEPT:
            parse = parse_park if f == "park" else lambda e: coded(e, kinds.BENEFIT_STATUS)
            value, name = _distinct(text[f], parse), f
            exprs.append(c.alias(f"{f}_raw"))
        elif f == "scheme":
            sc = _distinct(text[f], parse_scheme)
            exprs.append(pl.coalesce(sc, pl.lit(scheme, dtype=pl.Utf8)).alias(f))
            warns.append(_warn("scheme_invalid", present & sc.is_null()))
            continue
        elif f == "county_code":
            value, name = _distinct(text[f], parse_county), f
        elif f == "agency_code":
            stored, unknown = resolve_agencies(text[f], agency)
            exprs.append(pl.lit(stored).alias(f))
            warns.append(_warn("agency_code_unknown", pl.lit(unknown)))
            continue
        elif f in ("id", "credit_code", "org_code"):
            exprs.append(c.alias(f))
            continue
        elif f == "txn_id":
            txn = _distinct(text[f], parse_txn_id)
            missing = _txn_missing(c).fill_null(False)
            warns.append(_warn("txn_id_invalid", present & txn.is_null() & ~missing))
            if num is not None:
                # a long number Excel stored as a number: its last digits are not the payment's
                digits = c.str.replace_all(r"\D", "").str.len_chars()
                mangled = pl.lit(num.fill_null(False)) & (digits > EXCEL_EXACT_DIGITS)
                warns.append(_warn("txn_id_excel_number", present & txn.is_not_null() & mangled))
                txn = pl.when(mangled).then(None).otherwise(txn)
            exprs.append(txn.alias(f))
            continue
        else:
            exprs.append(_clean(c).alias(f))
            continue
        exprs.append(value.alias(f))
        warns.append(_warn(f"{name}_invalid", present & value.is_null()))
    out = out.with_columns(*exprs, _w=_join_warnings(warns))

    if kind in kinds.PERSON_KINDS:
        out = _person(out, numeric_id)
    if kind in kinds.EMPLOYER_KINDS:
        out = _employer(out, kind)
    if "scheme" not in fields:
        out = out.with_columns(scheme=pl.lit(scheme, dtype=pl.Utf8))
    w = pl.col("_w")
    out = out.with_columns(
        warnings=pl.when(w.is_not_null() & (w != ""))
        .then(w.str.split(","))
        .otherwise(pl.lit([], dtype=pl.List(pl.Utf8)))
    ).drop("_w")
    return out


def by_distinct(
    values: pl.Series, fn: Callable[[pl.Series], pl.DataFrame], *, ratio: float = 0.7
) -> pl.DataFrame:
    """``fn`` (one output row per input, same order) run on the distinct values only and joined
    back in row order: extracts repeat the same employer, name or ID on many rows."""
    values = values.cast(pl.Utf8)
    uniq = values.unique()
    if uniq.len() > ratio * values.len():
        return fn(values)
    if uniq.len() == 1:  # e.g. a column the file does not have
        return fn(uniq).select(pl.all().gather(pl.zeros(values.len(), pl.UInt32, eager=True)))
    res = fn(uniq).with_columns(uniq.alias("_key"))
    return (
        values.rename("_key")
        .to_frame()
        .join(res, on="_key", how="left", nulls_equal=True, maintain_order="left")
        .drop("_key")
    )


def _dates_frame(values: pl.Series) -> pl.DataFrame:
    full, ym = _dates(values, None)
    return pl.DataFrame({"full": full, "ym": ym})


def _distinct(values: pl.Series, parse: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
    """A parser expression evaluated once per distinct value, as a literal column."""
    out = by_distinct(values, lambda u: u.rename("x").to_frame().select(parse(pl.col("x"))))
    return pl.lit(out.to_series(0))


def _names(values: pl.Series) -> pl.DataFrame:
    norm = names.person_name_series(values)
    return pl.DataFrame({"name_norm": norm, "name_pinyin": names.pinyin_key_series(norm)})


def _employer_names(values: pl.Series) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "employer_name_norm": names.employer_name_series(values),
            "employer_name_key": names.employer_name_key_series(values),
        }
    )


def _person(df: pl.DataFrame, numeric_id: pl.Series | None) -> pl.DataFrame:
    ids = df["id"].rename("id_input")
    chk = by_distinct(ids, citizen_id.check_frame)
    if numeric_id is not None:
        damaged = numeric_id.fill_null(False)
        chk = (
            chk.with_columns(_num=damaged)
            .with_columns(
                id_errors=pl.when(
                    pl.col("_num") & ~pl.col("id_errors").list.contains("excel_number")
                )
                .then(pl.col("id_errors").list.concat(pl.lit(["excel_number"])))
                .otherwise(pl.col("id_errors")),
                id_valid=pl.col("id_valid") & ~pl.col("_num"),
                id18=pl.when(pl.col("_num")).then(None).otherwise(pl.col("id18")),
            )
            .drop("_num")
        )
    nm = by_distinct(df["name"], _names)
    df = df.with_columns(
        id_raw=pl.col("id"),
        id_norm=chk["id_norm"],
        id18=chk["id18"],
        id_valid=chk["id_valid"],
        id_errors=chk["id_errors"],
        id_birth=chk["id_birth"],
        id_sex=chk["id_sex"],
        id_region=chk["id_region"],
        name_norm=nm["name_norm"],
        name_pinyin=nm["name_pinyin"],
    )
    has_id = pl.col("id_norm").is_not_null() & (pl.col("id_norm") != "")
    extra = [
        pl.when(~has_id).then(pl.lit("id_missing")),
        pl.when(has_id & ~pl.col("id_valid")).then(pl.lit("id_invalid")),
        pl.when(pl.col("name_norm").is_null()).then(pl.lit("name_missing")),
    ]
    if "birth_date_value" in df.columns:
        extra.append(
            pl.when(
                pl.col("birth_date_value").is_not_null()
                & pl.col("id_birth").is_not_null()
                & (pl.col("birth_date_value") != pl.col("id_birth"))
            ).then(pl.lit("birth_date_mismatch"))
        )
    if "sex" in df.columns:
        extra.append(
            pl.when(
                pl.col("sex").is_not_null()
                & pl.col("id_sex").is_not_null()
                & (pl.col("sex") != pl.col("id_sex"))
            ).then(pl.lit("sex_mismatch"))
        )
    return df.with_columns(_w=_join_warnings([pl.col("_w"), *extra]))


def _employer(df: pl.DataFrame, kind: str) -> pl.DataFrame:
    cc = by_distinct(df["credit_code"], credit_code.check_frame)
    org = by_distinct(df["org_code"], credit_code.check_frame)
    emp = by_distinct(df["employer_name"], _employer_names)
    has_cc = cc["cc_norm"].is_not_null() & (cc["cc_norm"] != "")
    has_org = org["cc_norm"].is_not_null() & (org["cc_norm"] != "")
    df = df.with_columns(
        credit_code=pl.when(has_cc).then(cc["cc_norm"]),
        cc_valid=cc["cc_valid"],
        cc_kind=cc["cc_kind"],
        cc_errors=cc["cc_errors"],
        org_code=pl.coalesce(
            pl.when(cc["cc_valid"]).then(cc["cc_org_code"]),
            pl.when(has_org).then(pl.coalesce(org["cc_org_code"], org["cc_norm"])),
            cc["cc_org_code"],
        ),
        employer_name_norm=emp["employer_name_norm"],
        employer_name_key=emp["employer_name_key"],
    )
    extra = [
        pl.when(has_cc & ~pl.col("cc_valid")).then(pl.lit("credit_code_invalid")),
        pl.when(
            pl.lit(kind == "employment")
            & pl.col("credit_code").is_null()
            & pl.col("org_code").is_null()
            & pl.col("employer_name_norm").is_null()
        ).then(pl.lit("employer_missing")),
    ]
    return df.with_columns(_w=_join_warnings([pl.col("_w"), *extra]))


def unrecognised_notes(
    text: pl.DataFrame, records: pl.DataFrame, kind: str, *, limit: int = 10
) -> list[str]:
    """One report note (Chinese) per coded field with unrecognised values: how many rows, and the
    distinct values (most frequent first, at most ``limit``) that became null. ``text`` is the
    field-named text frame given to :func:`normalize`, ``records`` its result (same row order)."""
    notes: list[str] = []
    labels = {f.name: f.label_zh for f in kinds.FIELDS[kind]}
    for f in CODED_FIELDS:
        if f not in labels or f not in text.columns:
            continue
        bad = records["warnings"].list.contains(f"{f}_invalid")
        if not bad.any():
            continue
        shown = _values_shown(text.filter(bad).select(_clean(pl.col(f)).alias("v")), limit)
        notes.append(
            f"{labels[f]}（{f}）有 {int(bad.sum())} 行的取值无法识别，已置空并标记 {f}_invalid："
            f"{shown}"
        )
    if "agency_code" in labels and "agency_code" in records.columns:
        bad = records["warnings"].list.contains("agency_code_unknown")
        if bad.any():
            shown = _values_shown(
                records.filter(bad).select(pl.col("agency_code").alias("v")), limit
            )
            notes.append(
                f"{labels['agency_code']}（agency_code）有 {int(bad.sum())} 行的取值不在地区配置中，"
                f"已保留原值并标记 agency_code_unknown：{shown}；这些记录按行政区划计入区县。"
                "如为市本级或开发区的经办机构，请在地区配置的 agencies 中补充其代码或名称"
            )
    return notes


def _values_shown(values: pl.DataFrame, limit: int) -> str:
    """The distinct values of column ``v`` with their row counts, most frequent first."""
    counts = values.group_by("v").len().sort(["len", "v"], descending=[True, False])
    shown = "、".join(f"“{_short(v)}” {n} 行" for v, n in counts.head(limit).iter_rows())
    return shown + (f"等 {counts.height} 种" if counts.height > limit else "")


def _short(value: str, width: int = 20) -> str:
    return value if len(value) <= width else value[:width] + "…"


def record_schema(kind: str) -> dict[str, pl.DataType]:
    """Column → dtype of a kind's records (without the batch columns)."""
    empty = pl.DataFrame(
        {"row": pl.Series([], dtype=pl.Int64)}
        | {f.name: pl.Series([], dtype=pl.Utf8) for f in kinds.FIELDS[kind]}
    )
    return dict(normalize(empty, kind, scheme=None).schema)
