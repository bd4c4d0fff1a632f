"""Insurance reality: who is enrolled where, what employers declare and pay, and the gaps.

Coverage is calibrated to the 2017 city targets scaled to the city's size (see
:data:`canbao.synth.config.TARGETS_2017`); the bureau's problem cases (uninsured people,
duplicate and deceased enrolments, unregistered employers, under-reporting, arrears) are
planted here and recorded in :class:`Reality` so that the truth files follow from the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from canbao.ingest.kinds import SCHEMES
from canbao.synth._rng import stream, weighted_sample
from canbao.synth.agencies import assign_agencies, enrolment_agencies
from canbao.synth.config import CENSUS_2020, CENSUS_TOTAL, TARGETS_2017, SynthConfig
from canbao.synth.payments import Book, build_book, per_period
from canbao.synth.skew import collective_enrolment, role_mask

RETIREE_SHARE = 0.05  # retirees receiving an employee pension, share of residents


@dataclass
class Reality:
    employers: pl.DataFrame  # + agency_unit, registered, under_headcount, under_base, arrears, late, maternity, unemployment
    spells: pl.DataFrame  # + registered, omitted, declared_base, true_base
    enrollments: pl.DataFrame  # pid, scheme, county_code, status, start_date, end_date, eid, person_type, base, benefit, dup_kind, agency_unit
    declarations: (
        pl.DataFrame
    )  # eid, scheme, period, headcount, base, due, true_headcount, true_base
    payments: pl.DataFrame  # eid, scheme, month, due, paid, paid_date (per declared month)
    special: pl.DataFrame  # pid, group, start_date, end_date
    students: pl.Series  # pids of full-time students aged 16-22 (not expected in a pension)
    book: Book | None = None  # payment behaviour: every payment, opening arrears (synth.payments)


def _share(name: str) -> float:
    return TARGETS_2017[name] / CENSUS_TOTAL


def build_reality(
    cfg: SynthConfig, persons: pl.DataFrame, employers: pl.DataFrame, spells: pl.DataFrame
) -> Reality:
    rng = stream(cfg.seed, "insurance")
    b = cfg.behaviour
    money = cfg.money
    year = cfg.year
    N = persons.height
    floor = int(money.avg_wage_2016 * money.floor_share)
    ceil = int(money.avg_wage_2016 * money.ceiling_share)

    # --- employers' behaviour -------------------------------------------------------------
    employers = assign_agencies(cfg, employers, spells)  # its own random stream
    m = employers.height
    size = spells.group_by("eid").agg(n=pl.len())
    emp = (
        employers.join(size, on="eid", how="left")
        .with_columns(pl.col("n").fill_null(0))
        .sort("eid")
    )
    n_staff = emp["n"].to_numpy()
    own = emp["ownership"].to_numpy()
    small = np.where(n_staff <= 5, 3.0, np.where(n_staff <= 20, 1.0, 0.1))
    unreg_w = small * np.where(np.isin(own, ("private", "individual")), 1.0, 0.0)
    if cfg.skew is not None:  # big employers and collective accounts are registered
        unreg_w = unreg_w * ~(role_mask(emp, "big") | role_mask(emp, "collective"))
    unreg = np.zeros(m, dtype=bool)
    unreg[weighted_sample(rng, unreg_w, round(m * b.unregistered_employers))] = True
    reg = ~unreg
    pick = lambda share, w: _flag(rng, reg * w, round(reg.sum() * share))  # noqa: E731
    private_w = np.where(np.isin(own, ("private", "individual")), 1.0, 0.3) * (n_staff >= 2)
    under_h = pick(b.under_report_headcount, private_w)
    under_b = pick(b.under_report_base, private_w)
    arrears = pick(b.arrears, np.where(own == "public_institution", 0.1, 1.0) * (n_staff >= 1))
    late = pick(b.late_payers, np.ones(m) * (n_staff >= 1)) & ~arrears
    base_factor = np.where(under_b, rng.uniform(0.55, 0.85, m), 1.0)
    omit_share = np.where(under_h, rng.uniform(0.2, 0.6, m), 0.0)

    # --- spells: registered? omitted? declared base ------------------------------------------
    sp = spells.join(
        pl.DataFrame({"eid": emp["eid"], "registered": reg, "omit": omit_share, "bf": base_factor}),
        on="eid",
    ).sort("spell_id")
    sp = (
        sp.with_columns(
            omitted=pl.Series(rng.random(sp.height)) < pl.col("omit"),
            true_base=pl.col("wage").clip(floor, ceil),
        )
        .with_columns(
            declared_base=pl.max_horizontal(
                pl.lit(floor, dtype=pl.Int64),
                ((pl.col("true_base") * pl.col("bf") / 100).round(0) * 100).cast(pl.Int64),
            ).clip(upper_bound=pl.col("true_base"))
        )
        .drop("omit", "bf")
    )
    covered = sp.filter(pl.col("registered") & ~pl.col("omitted"))

    # maternity / unemployment: employer-level participation, public and state employers first
    staff_cov = covered.group_by("eid").agg(n=pl.col("pid").n_unique())
    cov_n = np.zeros(m, dtype=np.int64)
    cov_n[staff_cov["eid"].to_numpy() - 1] = staff_cov["n"].to_numpy()
    pref = np.select(
        [own == "public_institution", own == "state", own == "collective", own == "private"],
        [8.0, 6.0, 2.0, 1.0], 0.3,
    ) * (1 + np.log1p(cov_n))  # fmt: skip
    part = {}
    for scheme in ("maternity", "unemployment"):
        target = _share(scheme) * cfg.persons * 1.12  # suspended and ended records do not count
        order = np.argsort(rng.exponential(size=m) / np.maximum(pref, 1e-9) + (cov_n == 0) * 1e9)
        # greedy fill in preference order, skipping employers that would overshoot
        flag = np.zeros(m, dtype=bool)
        total = 0
        for e in order.tolist():  # one step per employer (tens of thousands at city scale)
            c = int(cov_n[e])
            if c and total + c <= target:
                flag[e] = True
                total += c
        part[scheme] = flag & reg
    emp = emp.with_columns(
        registered=pl.Series(reg), under_headcount=pl.Series(under_h), under_base=pl.Series(under_b),
        arrears=pl.Series(arrears), late=pl.Series(late),
        maternity=pl.Series(part["maternity"]), unemployment=pl.Series(part["unemployment"]),
    ).drop("n")  # fmt: skip

    # --- person records -------------------------------------------------------------------
    as_of = pl.date(year, 12, 31)
    p = persons.select(
        "pid", "county_code", "age", "sex", "migrant", "in_hukou", "death_date", "hukou_status",
        "event_date", "birth_date", "household_id",
    )  # fmt: skip
    age = p["age"].to_numpy()
    male = (p["sex"] == "M").to_numpy()
    migrant = p["migrant"].to_numpy()
    in_hukou = p["in_hukou"].to_numpy()
    county = p["county_code"].cast(pl.Int32).to_numpy()
    urban = np.isin(county, (360402, 360403))
    pid = p["pid"].to_numpy()

    last = covered.sort("pid", "end_month").group_by("pid").agg(pl.all().last())
    first_month = covered.group_by("pid").agg(fm=pl.col("start_month").min())
    last = (
        last.join(first_month, on="pid")
        .join(
            emp.select("eid", pl.col("county_code").alias("ecounty"), "maternity", "unemployment"),
            on="eid",
        )
        .sort("pid")
    )
    start_back = pl.lit(pl.Series(rng.integers(0, 15 * 365, last.height)))
    employees = last.with_columns(
        start_date=pl.when(pl.col("fm") > 1)
        .then(pl.date(year, pl.col("fm"), 1))
        .otherwise(pl.date(year, 1, 1) - pl.duration(days=start_back)),
        susp=pl.col("end_month") < 12,
    ).select(
        "pid", "eid", pl.col("ecounty").alias("county_code"), "start_date", "susp",
        pl.col("declared_base").alias("base"), "maternity", "unemployment",
        pl.lit("在职人员").alias("person_type"), pl.lit(False).alias("benefit"),
    )  # fmt: skip
    is_emp = np.isin(pid, employees["pid"].to_numpy())
    is_worker = np.isin(pid, spells["pid"].to_numpy())

    ret_w = (
        ((age >= 60) | (~male & (age >= 50))) * ~migrant * ~is_worker * np.where(urban, 3.0, 1.0)
    )
    retirees = pid[weighted_sample(rng, ret_w, round(RETIREE_SHARE * cfg.persons))]
    is_ret = np.isin(pid, retirees)
    alive_end = p["death_date"].is_null().to_numpy() & (p["hukou_status"] != "迁出").to_numpy()
    ep_now = int((~employees["susp"]).sum()) + int((is_ret & alive_end).sum())
    n_flex = max(0, round(_share("employee_pension") * cfg.persons) - ep_now)
    flex_w = (age >= 25) & (age <= 59) & ~is_worker & ~is_ret
    flex_w = flex_w * np.where(urban, 2.0, 1.0) * alive_end
    flexible = pid[weighted_sample(rng, flex_w.astype(float), n_flex)]

    def person_rows(ids: np.ndarray, ptype: str, benefit: bool, base: int | None) -> pl.DataFrame:
        sub = p.filter(pl.Series(_mask(N, ids)))
        back = pl.lit(pl.Series(rng.integers(0, 20 * 365, sub.height)))
        return sub.select(
            "pid", pl.lit(None, dtype=pl.Int64).alias("eid"), "county_code",
            (pl.date(year, 1, 1) - pl.duration(days=back)).alias("start_date"),
            pl.lit(False).alias("susp"), pl.lit(base, dtype=pl.Int64).alias("base"),
            pl.lit(False).alias("maternity"), pl.lit(False).alias("unemployment"),
            pl.lit(ptype).alias("person_type"), pl.lit(benefit).alias("benefit"),
        )  # fmt: skip

    ret_rows = person_rows(retirees, "退休人员", True, None)
    flex_rows = person_rows(flexible, "灵活就业人员", False, floor)
    if cfg.skew is not None:  # most under their county's collective account
        flex_rows = collective_enrolment(cfg, cfg.skew, emp, flex_rows)
    flex_med = flexible[rng.random(len(flexible)) < 0.7]
    frames = []
    ep = pl.concat([employees, ret_rows, flex_rows]).with_columns(scheme=pl.lit("employee_pension"))
    frames.append(ep)
    em = pl.concat(
        [
            employees,
            ret_rows,
            flex_rows.filter(pl.Series(_mask(N, flex_med)[flex_rows["pid"].to_numpy() - 1])),
        ]
    ).with_columns(scheme=pl.lit("employee_medical"))
    frames.append(em)
    frames.append(employees.with_columns(scheme=pl.lit("work_injury")))
    frames.append(employees.filter("maternity").with_columns(scheme=pl.lit("maternity")))
    frames.append(employees.filter("unemployment").with_columns(scheme=pl.lit("unemployment")))
    in_ep = np.isin(pid, ep["pid"].to_numpy())
    in_em = np.isin(pid, em["pid"].to_numpy())

    # resident pension: 16+, hukou here, not in employee pension; the elderly almost all
    student = (age >= 16) & (age <= 22) & (rng.random(N) < 0.6)
    rp_w = (age >= 16) * in_hukou * ~in_ep * ~student * np.where(age >= 60, 4.0, 1.0)
    rp_w = rp_w * np.where(urban, 0.6, 1.0) * np.where(is_worker, 0.3, 1.0)
    rp = pid[
        weighted_sample(rng, rp_w.astype(float), round(_share("resident_pension") * cfg.persons))
    ]
    rp_age = age[rp - 1]
    rp_rows = (
        person_rows(rp, "城乡居民", False, None)
        .join(pl.DataFrame({"pid": rp, "_b": rp_age >= 60}), on="pid")
        .sort("pid")
        .with_columns(
            benefit=pl.col("_b"),
            person_type=pl.when(pl.col("_b"))
            .then(pl.lit("待遇领取人员"))
            .otherwise(pl.lit("缴费人员")),
        )
        .drop("_b")
    )
    frames.append(rp_rows.with_columns(scheme=pl.lit("resident_pension")))
    # resident medical: everybody else, hukou residents first
    n_rm = round(_share("urban_medical") * cfg.persons) - em.height
    rm_w = (~in_em) * np.where(in_hukou, 1.0, 0.25) * np.where(is_worker & ~is_emp, 0.8, 1.0)
    rm = pid[weighted_sample(rng, rm_w.astype(float), max(0, n_rm))]
    rm_rows = person_rows(rm, "城乡居民", False, None).with_columns(
        person_type=pl.when(pl.Series(age[rm - 1] < 18))
        .then(pl.lit("未成年人"))
        .otherwise(pl.lit("城乡居民"))
    )
    # duplicates: employee-medical enrolees also in resident medical
    cross = em["pid"].to_numpy()
    cross = cross[rng.random(len(cross)) < b.cross_scheme_medical]
    cross_rows = person_rows(cross, "城乡居民", False, None).with_columns(
        dup_kind=pl.lit("cross_scheme")
    )
    rm_all = pl.concat([rm_rows.with_columns(dup_kind=pl.lit(None, dtype=pl.Utf8)), cross_rows])
    frames = [f.with_columns(dup_kind=pl.lit(None, dtype=pl.Utf8)) for f in frames]
    frames.append(rm_all.with_columns(scheme=pl.lit("resident_medical")))
    # duplicates: a second resident-scheme record in another county
    counties = sorted(CENSUS_2020)
    for i in (len(frames) - 1, len(frames) - 2):  # resident medical, resident pension
        f = frames[i]
        pick_rows = f.filter(pl.Series(rng.random(f.height)) < b.two_county)
        own_c = pick_rows["county_code"].replace_strict(counties, list(range(len(counties))))
        other = (own_c.to_numpy() + rng.integers(1, len(counties), pick_rows.height)) % len(
            counties
        )
        dup = pick_rows.with_columns(
            county_code=pl.Series([counties[j] for j in other.tolist()], dtype=pl.Utf8),
            start_date=pl.col("start_date")
            + pl.duration(days=pl.lit(pl.Series(rng.integers(30, 900, pick_rows.height)))),
            dup_kind=pl.lit("two_counties"),
        )
        frames[i] = pl.concat([f, dup])
    enr = pl.concat([f.select(_ENR_COLS) for f in frames], how="vertical")

    # deaths and moves end the record — except the deceased still enrolled
    still = persons.select("pid", still=pl.Series(rng.random(N) < b.deceased_still_enrolled))
    enr = (
        enr.join(p.select("pid", "death_date", "hukou_status", "event_date"), on="pid")
        .join(still, on="pid")
        .sort(_ENR_KEY, maintain_order=True)
    )
    dead = pl.col("death_date").is_not_null()
    moved = pl.col("hukou_status") == "迁出"
    lag = pl.duration(days=pl.lit(pl.Series(rng.integers(5, 90, enr.height))))
    enr = enr.with_columns(
        status=pl.when(dead & pl.col("still")).then(pl.lit("active"))
        .when(dead | moved).then(pl.lit("ended"))
        .when("susp").then(pl.lit("suspended"))
        .otherwise(pl.lit("active")),
        end_date=pl.when(dead & ~pl.col("still")).then(pl.min_horizontal(pl.col("death_date") + lag, as_of))
        .when(moved & ~dead).then(pl.col("event_date"))
        .when(pl.col("susp")).then(pl.date(year, 12, 1) - pl.duration(days=pl.lit(pl.Series(rng.integers(1, 300, enr.height))))),
        deceased_active=dead & pl.col("still"),
    )  # fmt: skip
    enr = (
        enr.join(p.select("pid", "birth_date"), on="pid")
        .with_columns(
            # resident medical from birth; pensions and employee schemes from age 16
            start_date=pl.max_horizontal(
                "start_date",
                pl.when(pl.col("scheme") == "resident_medical")
                .then(pl.col("birth_date") + pl.duration(days=30))
                .otherwise(pl.col("birth_date").dt.offset_by("16y")),
            ),
        )
        .with_columns(
            end_date=pl.when(pl.col("end_date") < pl.col("start_date"))
            .then(pl.col("start_date"))
            .otherwise("end_date")
        )
        .drop("birth_date", "death_date", "hukou_status", "event_date", "still", "susp")
    )
    enr = enrolment_agencies(enr.sort(_ENR_KEY, maintain_order=True), emp)

    # the payments drawn here are no longer used (synth.payments has them), but still drawn:
    # the special groups that follow on this random stream stay as they were
    decl, _ = _declarations(cfg, rng, emp, sp)
    special = _special_groups(cfg, rng, persons)
    # payment behaviour, zero and missing declarations (their own random stream)
    emp, book = build_book(cfg, emp, sp, decl)
    return Reality(
        emp, sp, enr, book.declarations, per_period(book), special, pl.Series("pid", pid[student]),
        book,
    )  # fmt: skip


_ENR_COLS = [
    "pid", "scheme", "eid", "county_code", "start_date", "susp", "base", "person_type", "benefit", "dup_kind",
]  # fmt: skip


_SCHEME_I = pl.col("scheme").replace_strict(
    list(SCHEMES), list(range(len(SCHEMES))), return_dtype=pl.Int64
)
# one Int64 sort key (multi-column sorts are slow): scheme, pid, county, start date
_ENR_KEY = (
    _SCHEME_I * 10**17
    + pl.col("pid") * 10**9
    + (pl.col("county_code").cast(pl.Int64) - 360_000) * 10**5
    + pl.col("start_date").cast(pl.Int64)
    + 40_000
)


def _mask(n: int, pids: np.ndarray) -> np.ndarray:
    """Boolean mask over persons (pid = row + 1) of the given pids."""
    m = np.zeros(n, dtype=bool)
    m[np.asarray(pids, dtype=np.int64) - 1] = True
    return m


def _flag(rng: np.random.Generator, w: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros(len(w), dtype=bool)
    out[weighted_sample(rng, np.asarray(w, dtype=float), k)] = True
    return out


def _declarations(
    cfg: SynthConfig, rng: np.random.Generator, emp: pl.DataFrame, sp: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    money = cfg.money
    year = cfg.year
    slim = sp.select(
        "eid", "start_month", "end_month", "registered", "omitted", "true_base", "declared_base"
    )
    trues, covs = [], []
    for month in range(1, 13):  # month by month: no 12-fold cross join in memory
        sm = slim.filter((pl.col("start_month") <= month) & (pl.col("end_month") >= month))
        trues.append(
            sm.group_by("eid")
            .agg(true_headcount=pl.len().cast(pl.Int64), true_base=pl.col("true_base").sum())
            .with_columns(month=pl.lit(month, dtype=pl.Int32))
        )
        covs.append(
            sm.filter(pl.col("registered") & ~pl.col("omitted"))
            .group_by("eid")
            .agg(headcount=pl.len().cast(pl.Int64), base=pl.col("declared_base").sum())
            .with_columns(month=pl.lit(month, dtype=pl.Int32))
        )
    true = pl.concat(trues)
    cov = pl.concat(covs)
    schemes = []
    ep = emp.select("eid", "risk_class", "maternity", "unemployment", "arrears", "late")
    for scheme in (
        "employee_pension",
        "employee_medical",
        "work_injury",
        "maternity",
        "unemployment",
    ):
        d = cov.join(ep, on="eid")
        if scheme in ("maternity", "unemployment"):
            d = d.filter(pl.col(scheme))
        if scheme == "work_injury":
            bp = pl.col("risk_class").replace_strict(
                list(range(1, 9)), list(money.work_injury_bp), return_dtype=pl.Int64
            )
        else:
            bp = pl.lit(money.rates_bp[scheme], dtype=pl.Int64)
        d = d.with_columns(scheme=pl.lit(scheme), due=(pl.col("base") * bp + 5000) // 10000)
        schemes.append(d)
    decl = (
        pl.concat(schemes)
        .join(true, on=["eid", "month"], how="left")
        .sort(pl.col("eid") * 1000 + _SCHEME_I * 100 + pl.col("month"), maintain_order=True)
    )
    n = decl.height
    r = rng.random(n)
    partial = pl.Series(np.where(r < 0.3, 0.0, rng.uniform(0.3, 0.9, n)))
    owe = pl.col("arrears") & (pl.Series(rng.random(n)) < 0.45)
    day = pl.lit(pl.Series(rng.integers(5, 26, n).astype(np.int32)))
    late_m = pl.Series(rng.integers(1, 4, n).astype(np.int32))
    pay = (
        decl.with_columns(
            paid=pl.when(owe)
            .then((pl.col("due") * partial).round(0).cast(pl.Int64))
            .otherwise("due"),
            pay_month=pl.when(pl.col("late")).then(pl.col("month") + late_m).otherwise("month"),
        )
        .with_columns(
            # a late payment after the end of the year is still owed at the year's end
            paid=pl.when(pl.col("pay_month") > 12)
            .then(pl.lit(0, dtype=pl.Int64))
            .otherwise("paid"),
        )
        .with_columns(
            paid_date=pl.when(pl.col("paid") > 0).then(
                pl.date(year, pl.col("pay_month").clip(upper_bound=12), day)
            ),
        )
    )
    decl = decl.select(
        "eid", "scheme", "month", "headcount", "base", "due", "true_headcount", "true_base"
    )
    pay = pay.select("eid", "scheme", "month", "due", "paid", "paid_date")
    return decl, pay


def _special_groups(
    cfg: SynthConfig, rng: np.random.Generator, persons: pl.DataFrame
) -> pl.DataFrame:
    year = cfg.year
    p = persons
    n = p.height
    county = p["county_code"].cast(pl.Int32).to_numpy()
    rural = ~np.isin(county, (360402, 360403))
    age = p["age"].to_numpy()
    hh = p["household_id"].to_numpy()
    in_hukou = p["in_hukou"].to_numpy()
    # low income: whole households, rural and elderly-headed more often
    n_hh = int(hh.max()) if n else 0
    hh_w = np.zeros(n_hh + 1)
    w = np.where(rural, 1.5, 0.7) * np.where(age >= 60, 2.0, 1.0) * in_hukou
    if "collective_household" in p.columns:  # a skewed city: no collective household is poor
        w = w * p["collective_household"].is_null().to_numpy()
    np.maximum.at(hh_w, hh, w)
    low_hh = weighted_sample(rng, hh_w, round(n_hh * 0.03))
    low = np.isin(hh, low_hh)
    single = np.bincount(hh, minlength=n_hh + 1)[hh] == 1
    ext = _flag(rng, (age >= 60) * single * in_hukou * ~low, round(n * 0.004))
    land_c = np.isin(county, (360402, 360404, 360482, 360483, 360425))
    land = _flag(rng, (age >= 16) * land_c * in_hukou, round(n * 0.01))
    cadre = _flag(rng, (age >= 25) * (age <= 62) * rural * in_hukou, round(n * 0.0015))
    pid = p["pid"].to_numpy()
    parts = []
    for flag, group in (
        (low, "low_income"),
        (ext, "extreme_poverty"),
        (land, "land_expropriated"),
        (cadre, "village_cadre"),
    ):
        ids = pid[flag]
        k = len(ids)
        start = np.datetime64(f"{year}-12-31") - rng.integers(30, 3000, k)
        end = np.where(
            rng.random(k) < 0.08,
            np.datetime64(f"{year}-01-01") + rng.integers(0, 364, k),
            np.datetime64("NaT"),
        )
        parts.append(
            pl.DataFrame({"pid": ids, "group": [group] * k, "start_date": start, "end_date": end})
        )
    out = pl.concat(parts).with_columns(
        pl.col("start_date").cast(pl.Date), pl.col("end_date").cast(pl.Date)
    )
    return out.with_columns(
        end_date=pl.when(pl.col("end_date") < pl.col("start_date")).then(None).otherwise("end_date")
    )
