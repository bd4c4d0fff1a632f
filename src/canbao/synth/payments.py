"""Employers' payment behaviour (征缴) and the contribution ledger's truth.

Every employer that declares something due gets one behaviour class, drawn by ownership
(private = private + individual businesses are riskier than state, collective and public
institutions, :data:`CLASS_SHARES`):

- ``on_time``: pays each month in full before the due date (a few pay a little more: a credit);
- ``late``: pays in full, most months days to months after the due date;
- ``partial``: pays part of some months on time and the rest later, or never;
- ``chronic``: pays on time until a month, then stops (now and then it catches up a month);
- ``missing``: pays what it declares, but does not declare one month between declared months, or
  any month after a given one while it still has staff.

A month in which an employer that already declared has no staff at all is declared as zero (零申报),
so that a month without a declaration is always one the law assesses (art. 62). Some employers
owe money for months of the previous year (the opening arrears, delivered as the 附件2 list
``si_arrears``); some of it is paid during the year.

Payments reach three files: ``si_payment`` (with a transaction number 缴费流水号), the county
counters' ``si_payment_counter`` (no transaction number: a ledger de-duplicates its rows by their
content; no two payments there have the same content) and ``si_payment_resent``, the
``si_payment`` rows received in one quarter sent again (same transaction numbers): a correct
ledger counts them once. The files hold payments received up to the truth's as-of date (the end of
the year) only.

The truth (``truth/``; definitions in :func:`write_truth` and docs/synth.md):

- ``ledger.csv`` — employer × scheme × period: ``due_fen`` (declared; for a month without a
  declaration 110 % of the due of the latest declared month before it, half up to the fen,
  ``estimated`` true; for a month of the opening arrears its amount), ``paid_fen`` (payments
  received by the as-of date, each once), ``balance_fen`` = due − paid, ``late_fee_fen``;
- ``collection_kpi.csv`` — the plan's ``collected.*``, ``new_arrears_ratio.*`` and
  ``clearance_rate.*`` per unit (the employer's ``agency_unit``) and for ``city``, with their parts
  in ``collection_kpi_parts.csv``;
- ``payments.parquet`` — every payment once, with its transaction number and file;
- ``payments.json`` — the as-of date, the rules, which file repeats which, class counts.

:func:`ledger_at` and :func:`kpi_at` compute the same truth at any other as-of date from
``ledger.csv`` and ``payments.parquet``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from canbao.synth._rng import stream
from canbao.synth.config import SynthConfig

CLASSES = ("on_time", "late", "partial", "chronic", "missing")
OWNERSHIP_GROUP = {
    "private": "private",
    "individual": "private",
    "state": "public",
    "collective": "public",
    "public_institution": "public",
}
# shares of the classes (in CLASSES order) per ownership group
CLASS_SHARES = {
    "private": (0.60, 0.14, 0.11, 0.07, 0.08),
    "public": (0.86, 0.07, 0.03, 0.01, 0.03),
}
# larger employers pay more reliably: the shares of the classes other than on_time are scaled by
# SIZE_RISK[i] for employers with more than SIZE_STEPS[i] staff (distinct persons in the year)
SIZE_STEPS = (20, 200)
SIZE_RISK = (0.5, 0.2)
# opening arrears: probability an employer of a class owes months of the previous year, and
# probability that a month of it is paid during the year (public employers: +0.2)
OPENING_SHARE = {"on_time": 0.03, "late": 0.4, "partial": 0.5, "chronic": 0.9, "missing": 0.05}
RECOVERY_SHARE = {"on_time": 1.0, "late": 0.95, "partial": 0.75, "chronic": 0.35, "missing": 0.9}
# small employers (at most SIZE_STEPS[0] staff) paying at a county counter (the file without
# transaction numbers); the others pay through the collection system
COUNTER_SHARE = 0.25
RESENT_QUARTER = 3  # the quarter of si_payment sent again
ESTIMATE_PERCENT = 110  # art. 62: a month without a declaration
FEE_PER_DAY = Decimal("0.0005")  # art. 86: 0.05 % of the unpaid principal per day
FEE_PER_DAY_FRACTION = (5, 10_000)  # the same, as an exact integer fraction
EMPLOYER_SCHEMES = ("employee_pension", "employee_medical", "work_injury", "maternity",
                    "unemployment")  # fmt: skip
INDICATORS = {
    "employee_pension": "collected.employee_pension",
    "employee_medical": "collected.medical",
    "work_injury": "collected.work_injury",
    "maternity": "collected.maternity",
    "unemployment": "collected.unemployment",
}
CITY = "city"

# the extracts (sources) this module fills
SI = "si_payment"
RESENT = "si_payment_resent"
COUNTER = "si_payment_counter"
ARREARS = "si_arrears"
# how the counters and the arrears list write a scheme (words of kinds.SCHEME_VALUES)
COUNTER_SCHEME = {"employee_pension": "110", "employee_medical": "310", "work_injury": "410",
                  "maternity": "510", "unemployment": "210"}  # fmt: skip
ARREARS_SCHEME = {"employee_pension": "养老保险", "employee_medical": "医疗保险",
                  "work_injury": "工伤保险", "maternity": "生育保险", "unemployment": "失业保险"}  # fmt: skip

DECL_SCHEMA = {
    "eid": pl.Int64, "scheme": pl.Utf8, "month": pl.Int32, "headcount": pl.Int64,
    "base": pl.Int64, "due": pl.Int64, "true_headcount": pl.Int64, "true_base": pl.Int64,
}  # fmt: skip
PAY_SCHEMA = {
    "pay_id": pl.Int64, "txn_id": pl.Utf8, "eid": pl.Int64, "scheme": pl.Utf8,
    "period": pl.Utf8, "amount_fen": pl.Int64, "paid_date": pl.Date, "purpose": pl.Utf8,
    "source": pl.Utf8, "resent": pl.Boolean,
}  # fmt: skip


@dataclass
class Book:
    """The city's payment behaviour: declarations as delivered, every payment, the opening
    arrears and the planted missing declaration months."""

    year: int
    as_of: dt.date  # the truth's as-of date: the files hold payments received up to it
    employers: pl.DataFrame  # eid, pay_class, pay_channel, stop_month (declaring employers)
    declarations: pl.DataFrame  # DECL_SCHEMA, as the declaration extract has them
    payments: pl.DataFrame  # PAY_SCHEMA
    opening: pl.DataFrame  # eid, scheme, period, amount_fen (owed at the end of the last year)
    missing: pl.DataFrame  # eid, month: declaration months the employer left out
    resent_quarter: int


def _period(year: int | pl.Expr, month: pl.Expr) -> pl.Expr:
    y = pl.lit(str(year)) if isinstance(year, int) else year.cast(pl.Utf8)
    return pl.concat_str(y, pl.lit("-"), month.cast(pl.Utf8).str.zfill(2))


def due_date(period: pl.Expr) -> pl.Expr:
    """The due date of contribution period ``YYYY-MM``: the last day of the following month."""
    first = (period + "-01").str.to_date("%Y-%m-%d")
    return first.dt.offset_by("1mo").dt.month_end()


def _pick(rng: np.random.Generator, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a boolean matrix: whether it has a candidate column, and a random one."""
    keys = rng.random(cand.shape)
    keys[~cand] = np.inf
    return np.asarray(cand.any(axis=1)), np.asarray(keys.argmin(axis=1))


def _staffed(spells: pl.DataFrame) -> pl.DataFrame:
    """eid, month: months in which an employer has anybody on its payroll (registered or not)."""
    parts = [
        spells.filter((pl.col("start_month") <= m) & (pl.col("end_month") >= m))
        .select("eid")
        .unique()
        .with_columns(month=pl.lit(m, dtype=pl.Int32))
        for m in range(1, 13)
    ]
    return pl.concat(parts).with_columns(pl.col("eid").cast(pl.Int64))


def _zero_declarations(decl: pl.DataFrame, spells: pl.DataFrame) -> pl.DataFrame:
    """Zero declarations (零申报) for the months after an employer's first declaration in which it
    has no staff at all; the declarations with them, in the declaration frame's order."""
    first = decl.group_by("eid", "scheme").agg(first=pl.col("month").min())
    grid = (
        first.with_columns(month=pl.int_ranges("first", 13, dtype=pl.Int32))
        .explode("month")
        .drop("first")
    )
    absent = grid.join(decl.select("eid", "scheme", "month"), on=["eid", "scheme", "month"],
                       how="anti")  # fmt: skip
    zero = absent.join(_staffed(spells), on=["eid", "month"], how="anti").with_columns(
        *[pl.lit(0, dtype=pl.Int64).alias(c) for c in
          ("headcount", "base", "due", "true_headcount", "true_base")]
    )  # fmt: skip
    cols = [pl.col(c).cast(t) for c, t in DECL_SCHEMA.items()]
    return _sort_decl(pl.concat([decl.select(cols), zero.select(cols)]))


def _sort_decl(decl: pl.DataFrame) -> pl.DataFrame:
    scheme_i = pl.col("scheme").replace_strict(
        list(EMPLOYER_SCHEMES), list(range(len(EMPLOYER_SCHEMES))), return_dtype=pl.Int64
    )
    return decl.sort(pl.col("eid") * 1000 + scheme_i * 100 + pl.col("month"), maintain_order=True)


def build_book(
    cfg: SynthConfig, employers: pl.DataFrame, spells: pl.DataFrame, decl: pl.DataFrame
) -> tuple[pl.DataFrame, Book]:
    """The payment behaviour of ``employers`` (with ``ownership``, ``county_code``), given their
    ``spells`` and their declarations ``decl`` (eid, scheme, month, headcount, base, due,
    true_headcount, true_base). Returns the employers with ``pay_class`` and ``pay_channel`` (and
    the ``arrears`` / ``late`` flags following the class) and the :class:`Book`. Its own random
    stream: nothing else of the city changes."""
    rng = stream(cfg.seed, "payments")
    year = cfg.year
    as_of = dt.date(year, 12, 31)
    full = _zero_declarations(decl, spells)

    # --- who declares something due, and when --------------------------------------------------
    nz = full.filter(pl.col("due") > 0).select("eid", "month").unique()
    eids = np.sort(nz["eid"].unique().to_numpy())
    n_e = len(eids)
    nonzero = np.zeros((n_e, 12), dtype=bool)
    nonzero[np.searchsorted(eids, nz["eid"].to_numpy()), nz["month"].to_numpy() - 1] = True
    own = (
        pl.DataFrame({"eid": eids})
        .join(
            employers.select(pl.col("eid").cast(pl.Int64), "ownership"),
            on="eid",
            how="left",
            maintain_order="left",
        )["ownership"]
        .to_numpy()
        .astype(str)
    )
    private = np.isin(own, [o for o, g in OWNERSHIP_GROUP.items() if g == "private"])

    # candidate months (0-based columns): a month between two declared ones; the first month of a
    # run of declared months up to December (July to November); the month a chronic debtor stops
    # paying
    before = np.zeros_like(nonzero)
    before[:, 1:] = np.logical_or.accumulate(nonzero, axis=1)[:, :-1]
    interior = np.zeros_like(nonzero)
    interior[:, 1:-1] = nonzero[:, :-2] & nonzero[:, 1:-1] & nonzero[:, 2:]
    to_dec = np.flip(np.logical_and.accumulate(np.flip(nonzero, 1), axis=1), 1)
    trailing = np.zeros_like(nonzero)  # from July to November: overdue by the year's end
    trailing[:, 6:11] = to_dec[:, 6:11] & nonzero[:, 5:10]
    stop = nonzero & before
    stop_pref = stop.copy()
    stop_pref[:, :2] = False
    stop_pref[:, 10:] = False
    stop_pref = np.where(stop_pref.any(axis=1, keepdims=True), stop_pref, stop)
    has_i, col_i = _pick(rng, interior)
    has_t, col_t = _pick(rng, trailing)
    has_s, col_s = _pick(rng, stop_pref)
    feasible = {"missing": has_i | has_t, "chronic": has_s}

    # --- classes by ownership and size ------------------------------------------------------
    staff = (
        pl.DataFrame({"eid": eids})
        .join(
            spells.group_by(pl.col("eid").cast(pl.Int64)).agg(n=pl.col("pid").n_unique()),
            on="eid", how="left", maintain_order="left",
        )["n"]
        .fill_null(0)
        .to_numpy()
    )  # fmt: skip
    risk = np.ones(n_e)
    for step, factor in zip(SIZE_STEPS, SIZE_RISK, strict=True):
        risk = np.where(staff > step, factor, risk)
    shares = np.array([CLASS_SHARES["private"], CLASS_SHARES["public"]])[np.where(private, 0, 1)]
    shares[:, 1:] *= risk[:, None]
    shares[:, 0] = 1.0 - shares[:, 1:].sum(axis=1)
    cum = np.cumsum(shares, axis=1)
    cls = np.minimum((rng.random(n_e)[:, None] >= cum).sum(axis=1), len(CLASSES) - 1)
    for c, ok in feasible.items():
        cls[(cls == CLASSES.index(c)) & ~ok] = 0
    force_keys = rng.random((len(CLASSES), n_e))
    for i, c in enumerate(CLASSES[1:], start=1):  # a small city still has every class
        if (cls == i).any():
            continue
        pool = (cls == 0) & feasible.get(c, np.ones(n_e, dtype=bool))
        pool = pool & private if (pool & private).any() else pool
        if pool.any():
            cls[np.argmin(np.where(pool, force_keys[i], np.inf))] = i
    trailing_pick = ((rng.random(n_e) < 0.4) & has_t) | ~has_i
    stop_month = np.where(cls == CLASSES.index("chronic"), col_s + 1, 13)

    # --- the months the "missing" class leaves out ----------------------------------------------
    miss = cls == CLASSES.index("missing")
    one = miss & ~trailing_pick
    run = miss & trailing_pick
    missing = pl.concat(
        [
            pl.DataFrame({"eid": eids[one], "month": (col_i[one] + 1).astype(np.int32)}),
            pl.DataFrame({"eid": eids[run], "first": (col_t[run] + 1).astype(np.int32)})
            .with_columns(month=pl.int_ranges("first", 13, dtype=pl.Int32))
            .explode("month")
            .drop("first"),
        ]
    ).with_columns(pl.col("eid").cast(pl.Int64), pl.col("month").cast(pl.Int32))
    final = full.join(missing, on=["eid", "month"], how="anti")

    classes = pl.DataFrame(
        {
            "eid": eids.astype(np.int64),
            "pay_class": np.array(CLASSES)[cls],
            "stop_month": stop_month.astype(np.int32),
            "private": private,
        }
    )
    pays = _current_payments(rng, final, classes, year, as_of)
    opening, recovered = _opening(rng, final, classes, year, as_of)
    pays = pl.concat([pays, recovered])

    # --- channels, transaction numbers, the re-sent quarter ------------------------------------
    small = staff <= SIZE_STEPS[0]
    counter = (rng.random(n_e) < COUNTER_SHARE) & small
    payers = np.isin(eids, pays["eid"].unique().to_numpy())
    if payers.sum() >= 2:  # both channels, however small the city
        keys = rng.random(n_e)
        if not (counter & payers).any() and (payers & small).any():
            counter[np.argmin(np.where(payers & small, keys, np.inf))] = True
        if not (~counter & payers).any():
            counter[np.argmin(np.where(payers, keys, np.inf))] = False
    classes = classes.with_columns(pay_channel=pl.Series(np.where(counter, "counter", "txn"))).drop(
        "private"
    )
    county = employers.select(pl.col("eid").cast(pl.Int64), "county_code")
    pays = (
        pays.join(classes.select("eid", "pay_channel"), on="eid", how="left")
        .join(county, on="eid", how="left")
        .with_columns(
            source=pl.when(pl.col("pay_channel") == "counter")
            .then(pl.lit(COUNTER))
            .otherwise(pl.lit(SI))
        )
        .sort("paid_date", "county_code", "eid", "scheme", "period", "amount_fen")
        .with_row_index("pay_id", offset=1)
        .with_columns(pl.col("pay_id").cast(pl.Int64))
    )
    seq = pl.int_range(1, pl.len() + 1).over("county_code", "paid_date", "source")
    pays = pays.with_columns(
        txn_id=pl.when(pl.col("source") == SI).then(
            pl.concat_str(
                "county_code",
                pl.col("paid_date").dt.strftime("%Y%m%d"),
                seq.cast(pl.Utf8).str.zfill(6),
            )
        )
    )
    quarter = _resent_quarter(pays, year)
    q_start = dt.date(year, 3 * quarter - 2, 1)
    q_end = dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - dt.timedelta(days=1)
    pays = pays.with_columns(
        resent=(pl.col("source") == SI) & pl.col("paid_date").is_between(q_start, q_end)
    ).select(list(PAY_SCHEMA))

    emp = employers.join(
        classes.select("eid", "pay_class", "pay_channel"),
        on="eid",
        how="left",
        maintain_order="left",
    ).with_columns(
        arrears=pl.col("pay_class").is_in(["partial", "chronic"]).fill_null(False),
        late=(pl.col("pay_class") == "late").fill_null(False),
    )
    book = Book(year, as_of, classes, final, pays, opening, missing.sort("eid", "month"), quarter)
    return emp, book


def _resent_quarter(pays: pl.DataFrame, year: int) -> int:
    """RESENT_QUARTER, or (a tiny city without such payments) the quarter with most."""
    si = pays.filter((pl.col("source") == SI) & (pl.col("paid_date").dt.year() == year))
    q = si.group_by(quarter=pl.col("paid_date").dt.quarter()).len()
    counts = {int(k): int(v) for k, v in q.iter_rows()}
    if counts.get(RESENT_QUARTER, 0) or not counts:
        return RESENT_QUARTER
    return max(counts, key=lambda k: (counts[k], -k))


def _current_payments(
    rng: np.random.Generator,
    decl: pl.DataFrame,
    classes: pl.DataFrame,
    year: int,
    as_of: dt.date,
) -> pl.DataFrame:
    """One or two payments per declared month of the year, by the employer's class; those
    received after ``as_of`` are not (yet) in any file."""
    rows = (
        decl.filter(pl.col("due") > 0)
        .join(classes, on="eid", how="inner")
        .sort("eid", "scheme", "month")
    )
    n = rows.height

    def ints(lo: int, hi: int) -> pl.Series:
        return pl.Series(rng.integers(lo, hi + 1, n), dtype=pl.Int64)

    def unit() -> pl.Series:
        return pl.Series(rng.random(n))

    on_day, late_is, late_mix = ints(0, 40), unit(), unit()
    late_s, late_m, late_l = ints(1, 30), ints(31, 120), ints(121, 300)
    part_is, part_bp, rest_is, rest_days = unit(), ints(3000, 9000), unit(), ints(20, 200)
    catch_is, catch_days, over_is, over_yuan = unit(), ints(60, 300), unit(), ints(1, 200)

    def days(s: pl.Series) -> pl.Expr:
        return pl.duration(days=pl.lit(s))

    period = _period(year, pl.col("month"))
    due_d = due_date(period)
    on_time = pl.date(year, pl.col("month"), 15) + days(on_day)
    late_days = (
        pl.when(pl.lit(late_mix) < 0.6)
        .then(pl.lit(late_s))
        .when(pl.lit(late_mix) < 0.9)
        .then(pl.lit(late_m))
        .otherwise(pl.lit(late_l))
    )
    c = pl.col("pay_class")
    due = pl.col("due")
    partial = (c == "partial") & (pl.lit(part_is) < 0.65) & (due >= 2)
    part_amount = ((due * pl.lit(part_bp) + 5000) // 10_000).clip(1, due - 1)
    owes = (c == "chronic") & (pl.col("month") >= pl.col("stop_month"))
    catch = owes & (pl.lit(catch_is) < 0.25)
    over = (c == "on_time") & (pl.lit(over_is) < 0.003)
    first_amount = (
        pl.when(partial)
        .then(part_amount)
        .when(owes & ~catch)
        .then(pl.lit(0, dtype=pl.Int64))
        .when(over)
        .then(due + pl.lit(over_yuan) * 100)
        .otherwise(due)
    )
    first_date = (
        pl.when((c == "late") & (pl.lit(late_is) < 0.85))
        .then(due_d + pl.duration(days=late_days))
        .when(catch)
        .then(due_d + days(catch_days))
        .otherwise(on_time)
    )
    second = partial & (pl.lit(rest_is) < 0.5)
    rows = rows.with_columns(
        period=period,
        a1=first_amount,
        d1=first_date,
        a2=pl.when(second).then(due - part_amount).otherwise(0),
        d2=due_d + days(rest_days),
    )
    cols = ["eid", "scheme", "period"]
    out = pl.concat(
        [
            rows.select(*cols, amount_fen=pl.col("a1"), paid_date=pl.col("d1")),
            rows.select(*cols, amount_fen=pl.col("a2"), paid_date=pl.col("d2")),
        ]
    )
    return out.filter((pl.col("amount_fen") > 0) & (pl.col("paid_date") <= as_of)).with_columns(
        purpose=pl.lit("current")
    )


def _opening(
    rng: np.random.Generator,
    decl: pl.DataFrame,
    classes: pl.DataFrame,
    year: int,
    as_of: dt.date,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(opening arrears, their payments during the year): months of the previous year still
    owed at its end, of the schemes the employer declares, about its first declared due."""
    n_e = classes.height
    cls = classes["pay_class"].to_numpy().astype(str)
    share = np.array([OPENING_SHARE[c] for c in cls])
    has = rng.random(n_e) < share
    chronic_start = rng.integers(6, 11, n_e)
    partial_start, partial_k = rng.integers(6, 10, n_e), rng.integers(1, 4, n_e)
    late_two = rng.random(n_e) < 0.5
    start = np.select(
        [cls == "chronic", cls == "partial", cls == "late"],
        [chronic_start, partial_start, np.where(late_two, 10, 11)],
        11,
    )
    end = np.where(cls == "partial", np.minimum(partial_start + partial_k - 1, 11), 11)
    if not has.any() and n_e:  # a small city still has opening arrears
        order = np.argsort(-share, kind="stable")
        has[order[0]] = True
    owing = classes.filter(pl.Series(has)).with_columns(
        first=pl.Series(start[has], dtype=pl.Int32), last=pl.Series(end[has], dtype=pl.Int32)
    )
    ref = (
        decl.filter(pl.col("due") > 0)
        .sort("eid", "scheme", "month")
        .group_by("eid", "scheme", maintain_order=True)
        .agg(ref=pl.col("due").first())
    )
    rows = (
        owing.with_columns(month=pl.int_ranges("first", pl.col("last") + 1, dtype=pl.Int32))
        .explode("month")
        .join(ref, on="eid", how="inner")
        .sort("eid", "scheme", "month")
    )
    m = rows.height
    rc = rows["pay_class"].to_numpy().astype(str)
    lo = np.select([rc == "chronic", rc == "partial"], [8500, 1000], 9000)
    hi = np.select([rc == "chronic", rc == "partial"], [10500, 7000], 10000)
    bp = lo + (rng.random(m) * (hi - lo + 1)).astype(np.int64)
    p_rec = np.array([RECOVERY_SHARE[c] for c in rc]) + np.where(
        rows["private"].to_numpy(), 0.0, 0.2
    )
    rec = rng.random(m) < p_rec
    part = rng.random(m) < 0.2
    part_bp = rng.integers(3000, 9001, m)
    day = np.where(rc == "late", rng.integers(0, 81, m), rng.integers(0, 341, m))
    if m >= 2 and rec.all():
        rec[int(rng.integers(0, m))] = False
    if m >= 2 and not rec.any():
        rec[int(rng.integers(0, m))] = True
    amount = (pl.col("ref") * pl.lit(pl.Series(bp)) + 5000) // 10_000
    opening = rows.select(
        pl.col("eid").cast(pl.Int64),
        "scheme",
        period=_period(year - 1, pl.col("month")),
        amount_fen=pl.max_horizontal(amount, pl.lit(1, dtype=pl.Int64)),
    )
    paid = (
        opening.with_columns(
            rec=pl.Series(rec),
            part_amount=((pl.col("amount_fen") * pl.lit(pl.Series(part_bp)) + 5000) // 10_000),
            paid_date=pl.lit(dt.date(year, 1, 5)) + pl.duration(days=pl.lit(pl.Series(day))),
            part=pl.Series(part),
        )
        .filter("rec")
        .select(
            "eid",
            "scheme",
            "period",
            amount_fen=pl.when(pl.col("part") & (pl.col("amount_fen") >= 2))
            .then(pl.col("part_amount").clip(1, pl.col("amount_fen") - 1))
            .otherwise("amount_fen"),
            paid_date=pl.min_horizontal("paid_date", pl.lit(as_of)),
            purpose=pl.lit("recovery"),
        )
    )
    return opening, paid


def per_period(book: Book) -> pl.DataFrame:
    """eid, scheme, month, due, paid, paid_date: each declared month of the year with what was
    received for it by the as-of date (paid_date: the last payment's), as ``Reality.payments``
    has always had them."""
    year = book.year
    got = (
        book.payments.filter(pl.col("paid_date") <= book.as_of)
        .filter(pl.col("period").str.starts_with(f"{year}-"))
        .group_by("eid", "scheme", "period")
        .agg(paid=pl.col("amount_fen").sum(), paid_date=pl.col("paid_date").max())
    )
    return (
        book.declarations.with_columns(period=_period(year, pl.col("month")))
        .join(got, on=["eid", "scheme", "period"], how="left", maintain_order="left")
        .select(
            "eid",
            "scheme",
            "month",
            "due",
            pl.col("paid").fill_null(0).cast(pl.Int64),
            "paid_date",
        )
    )


# --- the extracts ----------------------------------------------------------------------------------


def extract_frames(book: Book, employers: pl.DataFrame) -> Iterator[tuple[str, pl.DataFrame]]:
    """(source, frame) of the payment files and the arrears list, in canonical field names with
    ``eid`` (money in fen, dates as dates; :func:`canbao.synth.render.finish` renders them)."""
    from canbao.ingest.kinds import SCHEME_LABELS_ZH

    emp = employers.select(
        pl.col("eid").cast(pl.Int64),
        pl.col("name").alias("employer_name"),
        "credit_code",
        "county_code",
    )
    pays = book.payments.join(emp, on="eid", how="left", maintain_order="left")
    si = pays.filter(pl.col("source") == SI).sort("paid_date", "txn_id")
    si = si.with_columns(
        scheme=pl.col("scheme").replace_strict(SCHEME_LABELS_ZH), paid=pl.col("amount_fen")
    )
    yield SI, si
    counter = (
        pays.filter(pl.col("source") == COUNTER)
        .sort("county_code", "paid_date", "eid", "scheme", "period")
        .with_columns(
            scheme=pl.col("scheme").replace_strict(COUNTER_SCHEME),
            period=pl.col("period").str.replace("-", ""),
            paid=pl.col("amount_fen"),
        )
    )
    yield COUNTER, counter
    yield RESENT, si.filter("resent")
    arrears = (
        book.opening.join(emp, on="eid", how="left", maintain_order="left")
        .sort("county_code", "eid", "scheme", "period")
        .with_columns(
            scheme=pl.col("scheme").replace_strict(ARREARS_SCHEME),
            period=pl.col("period").str.replace("-", ""),
            amount=pl.col("amount_fen"),
            arrears_as_of=pl.lit(dt.date(book.year - 1, 12, 31)),
        )
    )
    yield ARREARS, arrears


# --- the truth -------------------------------------------------------------------------------------


def dues(book: Book, as_of: dt.date | None = None) -> pl.DataFrame:
    """eid, scheme, period, due_fen, estimated, origin: what the ledger assesses for every
    employer × scheme × period up to ``as_of``'s month (default: the book's as-of date).

    - ``declared``: the declared due (zero declarations included);
    - ``estimated``: a month without a declaration between two declared months of the employer
      and scheme, or after the last declared one up to the last period whose due date is on or
      before ``as_of`` (every declaring employer of the city is active: its registry status is
      正常): 110 % of the due of the latest declared month before it (not compounded over a run
      of such months), half up to the fen;
    - ``opening``: a month of the opening arrears, its amount."""
    as_of = as_of or book.as_of
    year = book.year
    last = as_of.month if as_of.year == year else (12 if as_of.year > year else 0)
    decl = book.declarations.filter(pl.col("month") <= last)
    first = decl.group_by("eid", "scheme").agg(first=pl.col("month").min())
    grid = (
        first.with_columns(month=pl.int_ranges("first", last + 1, dtype=pl.Int32))
        .explode("month")
        .drop("first")
        .join(
            decl.select("eid", "scheme", "month", "due"), on=["eid", "scheme", "month"], how="left"
        )
        .sort("eid", "scheme", "month")
        .with_columns(
            estimated=pl.col("due").is_null(),
            previous=pl.col("due").forward_fill().over("eid", "scheme"),
            last=pl.col("month").filter(pl.col("due").is_not_null()).max().over("eid", "scheme"),
        )
        .filter(
            ~pl.col("estimated")
            | (pl.col("month") < pl.col("last"))
            | (due_date(_period(year, pl.col("month"))) <= as_of)
        )
    )
    num, den = ESTIMATE_PERCENT, 100
    current = grid.select(
        "eid",
        "scheme",
        period=_period(year, pl.col("month")),
        due_fen=pl.when(pl.col("estimated"))
        .then((pl.col("previous") * num + den // 2) // den)
        .otherwise(pl.col("due")),
        estimated="estimated",
        origin=pl.when(pl.col("estimated")).then(pl.lit("estimated")).otherwise(pl.lit("declared")),
    )
    opening = book.opening.select(
        "eid", "scheme", "period", "amount_fen", estimated=pl.lit(False), origin=pl.lit("opening")
    ).rename({"amount_fen": "due_fen"})
    out = pl.concat([opening, current.select(opening.columns)])
    return out.with_columns(due_date=due_date(pl.col("period"))).sort("eid", "scheme", "period")


def ledger_at(assessed: pl.DataFrame, payments: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The ledger truth at ``as_of``: ``assessed`` (eid, scheme, period, due_fen, due_date, …;
    periods after ``as_of``'s month are dropped) + paid_fen, balance_fen, late_fee_fen.

    - paid_fen: payments (``payments``: eid, scheme, period, amount_fen, paid_date — each payment
      once) received on or before ``as_of``;
    - late_fee_fen: Σ over the payments in date order of the principal each settles (never beyond
      the due) × its days after the due date, + the unpaid principal × the days from the due
      date to ``as_of``, × 0.05 % per day, rounded half up to the fen once. Exact: integer
      arithmetic (the same as Decimal rounding half up, every term being non-negative)."""
    month = f"{as_of.year:04d}-{as_of.month:02d}"
    led = assessed.filter(pl.col("period") <= month)
    keys = ["eid", "scheme", "period"]
    pay = (
        payments.filter(pl.col("paid_date") <= as_of)
        .select(*keys, "amount_fen", "paid_date")
        .join(led.select(*keys, "due_fen", "due_date"), on=keys, how="inner")
        .sort(*keys, "paid_date")
        .with_columns(before=pl.col("amount_fen").cum_sum().over(keys) - pl.col("amount_fen"))
        .with_columns(
            settles=pl.min_horizontal("amount_fen", pl.col("due_fen") - pl.col("before")).clip(0),
            days=(pl.col("paid_date") - pl.col("due_date")).dt.total_days().clip(0),
        )
        .group_by(keys)
        .agg(paid_fen=pl.col("amount_fen").sum(), fee_days=(pl.col("settles") * pl.col("days")).sum())
    )  # fmt: skip
    late_days = (pl.lit(as_of) - pl.col("due_date")).dt.total_days().clip(0)
    num, den = FEE_PER_DAY_FRACTION
    led = (
        led.join(pay, on=keys, how="left", maintain_order="left")
        .with_columns(pl.col("paid_fen").fill_null(0), pl.col("fee_days").fill_null(0))
        .with_columns(balance_fen=pl.col("due_fen") - pl.col("paid_fen"))
        .with_columns(fee_days=pl.col("fee_days") + pl.col("balance_fen").clip(0) * late_days)
        .with_columns(late_fee_fen=(pl.col("fee_days") * num + den // 2) // den)
        .drop("fee_days")
    )
    return led


def kpi_at(
    ledger: pl.DataFrame, payments: pl.DataFrame, units: pl.DataFrame, as_of: dt.date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(unit, indicator, value) for the year of ``as_of``, and the parts per unit and ownership
    group. ``ledger``: :func:`ledger_at` at ``as_of``; ``units``: eid, unit, ownership.

    - dues in the year: Σ due of periods whose due date falls in [1 Jan, as-of]; new arrears: the
      part of them unpaid at as-of (Σ positive balances); ``new_arrears_ratio.<group>`` = new
      arrears ÷ dues (4 decimals, half up; no row without dues);
    - opening arrears: Σ positive balances on 31 Dec of the previous year (periods due by then,
      payments received up to that day: a period due in January is a due of the year, not an
      opening arrear); recovered: payments received in [1 Jan, as-of]
      for those periods, each period's capped at its opening balance;
      ``clearance_rate.<group>`` = recovered ÷ opening arrears (no row without opening arrears);
    - ``collected.<scheme>``: payments received in [1 Jan, as-of], any period, in yuan (2
      decimals), for the five employee schemes of every unit with a ledger row.
    ``group``: private = private + individual; public = state + collective + public institution.
    ``unit``: the employer's unit, and ``city`` for all."""
    year = as_of.year
    start = dt.date(year, 1, 1)
    keys = ["eid", "scheme", "period"]
    who = units.select(
        pl.col("eid").cast(pl.Int64),
        "unit",
        group=pl.col("ownership").replace_strict(OWNERSHIP_GROUP, default=None),
    )
    received = payments.filter(pl.col("paid_date") <= as_of)
    by_key = received.group_by(keys).agg(
        before=pl.col("amount_fen").filter(pl.col("paid_date") < start).sum(),
        in_year=pl.col("amount_fen").filter(pl.col("paid_date") >= start).sum(),
    )
    led = (
        ledger.join(by_key, on=keys, how="left")
        .with_columns(pl.col("before").fill_null(0), pl.col("in_year").fill_null(0))
        .join(who, on="eid", how="left")
    )
    in_year = pl.col("due_date").is_between(start, as_of)
    opening = pl.when(pl.col("due_date") < start).then(
        (pl.col("due_fen") - pl.col("before")).clip(0)
    )
    led = led.with_columns(
        dues=pl.when(in_year).then(pl.col("due_fen")).otherwise(0),
        new=pl.when(in_year).then(pl.col("balance_fen").clip(0)).otherwise(0),
        opening=opening.fill_null(0),
    ).with_columns(recovered=pl.min_horizontal("opening", pl.col("in_year")))
    sums = [pl.col(c).sum() for c in ("dues", "new", "opening", "recovered")]
    parts = pl.concat(
        [
            led.group_by("unit", "group").agg(sums),
            led.group_by("group").agg(sums).with_columns(unit=pl.lit(CITY)),
        ],
        how="diagonal",
    ).filter(pl.col("group").is_not_null())
    parts = parts.select(
        "unit", "group",
        dues_in_year_fen="dues", new_arrears_fen="new", opening_arrears_fen="opening",
        recovered_fen="recovered",
    ).sort("unit", "group")  # fmt: skip
    got = received.filter(pl.col("paid_date") >= start).join(who, on="eid", how="left")
    collected = pl.concat(
        [
            got.group_by("unit", "scheme").agg(fen=pl.col("amount_fen").sum()),
            got.group_by("scheme")
            .agg(fen=pl.col("amount_fen").sum())
            .with_columns(unit=pl.lit(CITY)),
        ],
        how="diagonal",
    )
    rows: list[tuple[str, str, str]] = []
    for unit in sorted({*led["unit"].drop_nulls().to_list(), CITY}):
        mine = collected.filter(pl.col("unit") == unit)
        fen = dict(zip(mine["scheme"].to_list(), mine["fen"].to_list(), strict=True))
        for scheme, code in INDICATORS.items():
            rows.append((unit, code, yuan(int(fen.get(scheme) or 0))))
    for r in parts.iter_rows(named=True):
        if r["dues_in_year_fen"]:
            value = ratio(r["new_arrears_fen"], r["dues_in_year_fen"])
            rows.append((r["unit"], f"new_arrears_ratio.{r['group']}", value))
        if r["opening_arrears_fen"]:
            value = ratio(r["recovered_fen"], r["opening_arrears_fen"])
            rows.append((r["unit"], f"clearance_rate.{r['group']}", value))
    kpi = pl.DataFrame(rows, schema={"unit": pl.Utf8, "indicator": pl.Utf8, "value": pl.Utf8},
                       orient="row").sort("unit", "indicator")  # fmt: skip
    return kpi, parts


def yuan(fen: int) -> str:
    """Integer fen → yuan with exactly two decimals."""
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


def ratio(num: int, den: int) -> str:
    """num ÷ den with four decimals, half up."""
    return str((Decimal(num) / Decimal(den)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def write_truth(
    root: Path, book: Book, employers: pl.DataFrame, paths: dict[str, str] | None = None
) -> dict[str, Any]:
    """``truth/ledger.csv``, ``collection_kpi.csv``, ``collection_kpi_parts.csv``,
    ``payments.parquet`` and ``payments.json`` (see the module docstring; ``paths``: the
    extracts' paths by source, named in ``payments.json``); returns the summary written to
    ``payments.json``."""
    paths = paths or {}
    d = root / "truth"
    d.mkdir(parents=True, exist_ok=True)
    emp = employers.select(
        pl.col("eid").cast(pl.Int64),
        "credit_code",
        "ownership",
        unit=pl.coalesce("agency_unit", "county_code")
        if "agency_unit" in employers.columns
        else pl.col("county_code"),
    )
    classes = book.employers.select("eid", "pay_class")
    led = ledger_at(dues(book), book.payments, book.as_of)
    out = (
        led.join(emp, on="eid", how="left")
        .join(classes, on="eid", how="left")
        .select(
            "eid",
            "credit_code",
            "unit",
            "ownership",
            "pay_class",
            "scheme",
            "period",
            "due_date",
            "due_fen",
            "paid_fen",
            "balance_fen",
            "late_fee_fen",
            "estimated",
            "origin",
        )
        .sort("eid", "scheme", "period")
    )
    out.write_csv(d / "ledger.csv")
    kpi, parts = kpi_at(led, book.payments, emp, book.as_of)
    kpi.write_csv(d / "collection_kpi.csv")
    parts.write_csv(d / "collection_kpi_parts.csv")
    book.payments.join(
        emp.select("eid", "credit_code"), on="eid", how="left", maintain_order="left"
    ).write_parquet(d / "payments.parquet")
    q = book.resent_quarter
    summary: dict[str, Any] = {
        "as_of": book.as_of.isoformat(),
        "year": book.year,
        "rules": {
            "due_date": "the last day of the month after the contribution period",
            "late_fee_per_day": str(FEE_PER_DAY),
            "late_fee_rounding": "half up to the fen, once per employer × scheme × period",
            "estimate": f"{ESTIMATE_PERCENT}% of the due of the latest declared month before it, "
            "half up to the fen (not compounded)",
        },
        "files": {
            "with_txn_id": [SI, RESENT],
            "without_txn_id": [COUNTER],
            "paths": {k: paths[k] for k in (SI, RESENT, COUNTER, ARREARS) if k in paths},
            "duplicated": {
                "source": RESENT,
                "path": paths.get(RESENT),
                "repeats": SI,
                "repeats_path": paths.get(SI),
                "quarter": q,
                "rows": int(book.payments["resent"].sum()),
            },
            "opening_arrears": ARREARS,
        },
        "classes": dict(
            sorted(
                (str(k), int(v)) for k, v in book.employers.group_by("pay_class").len().iter_rows()
            )
        ),
        "ledger_rows": out.height,
        "estimated_rows": int(out["estimated"].sum()),
        "opening_rows": book.opening.height,
        "payments": book.payments.height,
    }
    (d / "payments.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return summary
