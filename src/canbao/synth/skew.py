"""A skewed city (``SynthConfig.skew``): the hot keys real extracts have, for testing joins.

- **Very large employers**: ``Skew.big_employers`` state or private groups (a utility, a
  petrochemical plant …), each employing 5–10% of all employees; ordinary employers in every
  extract (business registry, SI registry, tax, enrolments, declarations, payments).
- **Collective accounts**: per county one "<县区>灵活就业人员参保专户" (a public institution
  in the SI registry) under which most flexible workers are enrolled in employee pension and
  medical insurance.
- **Collective households** (集体户: school, army, enterprise): hundreds to thousands of unrelated
  people under one household number and one address.
- **Common full names**: ``namedata.HOT_NAMES`` (张伟, 王伟, 王芳 …) given to a share of the
  people with a matching surname and sex, Zipf over their rank.

Every draw comes from streams of its own (``skew:*``), so the draws of the ordinary city are
the same ones; without a skew nothing here runs and the city is byte-for-byte unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from canbao.profile import default_profile
from canbao.standards import credit_code, divisions
from canbao.synth import namedata
from canbao.synth._rng import stream, weighted_sample
from canbao.synth.config import CENSUS_2020, Skew, SynthConfig
from canbao.synth.employers import (
    OWNERSHIP_WAGE,
    OWNERSHIPS,
    PARK_COUNTIES,
    registration_region,
)

# (industry, work-injury risk class, name word, ownership, in an industrial park)
BIG_EMPLOYERS = (
    ("电力、热力生产和供应业", 3, "电力", "state", False),
    ("石油加工、炼焦和核燃料加工业", 6, "石化", "state", True),
    ("黑色金属冶炼和压延加工业", 7, "钢铁", "state", True),
    ("纺织服装、服饰业", 3, "纺织", "private", True),
    ("电气机械和器材制造业", 4, "电气", "private", True),
    ("道路运输业", 5, "运输", "state", False),
)
COLLECTIVE_ACCOUNT = "灵活就业人员参保专户"  # after the county's name
COLLECTIVE_INDUSTRY = "公共管理和社会组织"
COLLECTIVE_KINDS = ("学校集体户", "部队集体户", "企业集体户")
COLLECTIVE_RELATION = "集体户成员"  # relation to the head of a collective household


def scale(persons: int) -> float:
    """Counts and sizes given at 1,000,000 residents scale with the square root of the size."""
    return math.sqrt(persons / 1_000_000)


# --- employers ----------------------------------------------------------------------------------


def skew_employers(cfg: SynthConfig, skew: Skew, employers: pl.DataFrame) -> pl.DataFrame:
    """The employers with the big ones and the counties' collective accounts appended.

    ``skew_role`` says which is which ("big", "collective", null); both have size weight 0:
    nobody is hired there by chance (see :func:`assign_big_employers`).
    """
    rng = stream(cfg.seed, "skew:employers")
    city = default_profile().city.short  # the synthetic city is the default profile's
    names = set(employers["name"].to_list())
    bodies = set(employers["org_code"].str.slice(0, 8).to_list())
    cols: dict[str, list] = {k: [] for k in ("name", "ownership", "industry", "risk_class",
        "county_code", "park", "registered_date", "credit_code", "wage_factor", "skew_role")}  # fmt: skip
    park_w = np.array([CENSUS_2020[c] for c in PARK_COUNTIES], dtype=float)
    brand_chars = list(namedata.BRAND_CHARS)

    def add(name: str, ownership: str, industry: str, risk: int, county: str, park: bool,
            since: str, days: int, auth: str, wage: float, role: str) -> None:  # fmt: skip
        reg = np.datetime64(since) + int(rng.integers(0, days))  # legacy: before five-in-one
        body = str(int(rng.integers(10_000_000, 100_000_000)))
        while body in bodies:  # nobody else has it
            body = str(int(rng.integers(10_000_000, 100_000_000)))
        bodies.add(body)
        region = str(registration_region(np.array([county]), np.array([reg]))[0])
        values = (name, ownership, industry, risk, county, park, reg.item(),
                  credit_code.make_uscc(auth[0], auth[1], region, body), wage, role)  # fmt: skip
        for k, v in zip(cols, values, strict=True):
            cols[k].append(v)

    for i in range(skew.big_employers):
        industry, risk, word, ownership, park = BIG_EMPLOYERS[i % len(BIG_EMPLOYERS)]
        legal = "集团有限公司" if ownership == "state" else "股份有限公司"
        name = ""
        while not name or name in names:
            name = f"{city}{''.join(rng.choice(brand_chars, 2))}{word}{legal}"
        names.add(name)
        county = PARK_COUNTIES[int(rng.choice(len(PARK_COUNTIES), p=park_w / park_w.sum()))]
        wage = OWNERSHIP_WAGE[OWNERSHIPS.index(ownership)] * float(rng.lognormal(0, 0.1))
        add(name, ownership, industry, risk, county, park, "1985-01-01", 7000, "91", wage, "big")
    for county in CENSUS_2020:  # set up after the SI law (2011-07-01)
        name = f"{divisions.name_of(county) or county}{COLLECTIVE_ACCOUNT}"
        add(name, "public_institution", COLLECTIVE_INDUSTRY, 1, county, False, "2011-07-01",
            1500, "12", 1.0, "collective")  # fmt: skip
    n, k = employers.height, len(cols["name"])
    extra = pl.DataFrame(cols).select(
        pl.int_range(n + 1, n + 1 + k, dtype=pl.Int64).alias("eid"),
        "name", "credit_code", pl.col("credit_code").str.slice(8, 9).alias("org_code"),
        pl.lit(True).alias("legacy"), "ownership", "industry", "risk_class", "county_code",
        "park", "registered_date", pl.lit(0.0).alias("size_weight"), "wage_factor", "skew_role",
    )  # fmt: skip
    base = employers.with_columns(skew_role=pl.lit(None, dtype=pl.Utf8))
    return pl.concat([base, extra.select(base.columns).cast(base.schema)])


def role_mask(employers: pl.DataFrame, role: str) -> np.ndarray:
    """Employers (rows, eid order) with the given ``skew_role``; all False without a skew."""
    if "skew_role" not in employers.columns:
        return np.zeros(employers.height, dtype=bool)
    return (employers["skew_role"] == role).fill_null(False).to_numpy()


def assign_big_employers(
    cfg: SynthConfig, skew: Skew, employers: pl.DataFrame, wcounty: np.ndarray, emp: np.ndarray
) -> np.ndarray:
    """Move workers' (first) jobs to the big employers: a share in the configured range each.

    The share is drawn away from the range's ends (by a tenth of its width) so that the
    realised share of distinct employees stays inside it despite deaths and job changes.
    Workers of the employer's own county are three times as likely to be taken.
    """
    rng = stream(cfg.seed, "skew:employment")
    big = np.flatnonzero(role_mask(employers, "big"))
    ecounty = employers["county_code"].cast(pl.Int32).to_numpy()
    lo, hi = skew.big_share_min, skew.big_share_max
    margin = (hi - lo) / 10
    shares = rng.uniform(lo + margin, hi - margin, len(big))
    m = len(emp)
    emp = emp.copy()
    free = np.ones(m, dtype=bool)
    for e, share in zip(big.tolist(), shares.tolist(), strict=True):
        w = free * np.where(wcounty == ecounty[e], 3.0, 1.0)
        pick = weighted_sample(rng, w, round(share * m))
        emp[pick] = e
        free[pick] = False
    return emp


def collective_enrolment(
    cfg: SynthConfig, skew: Skew, employers: pl.DataFrame, flex_rows: pl.DataFrame
) -> pl.DataFrame:
    """Flexible workers' rows with the collective account of their county as employer (a share)."""
    rng = stream(cfg.seed, "skew:flexible")
    acc = employers.filter(pl.Series(role_mask(employers, "collective")))
    under = pl.Series(rng.random(flex_rows.height) < skew.flexible_collective)
    account = pl.col("county_code").replace_strict(
        acc["county_code"], acc["eid"], default=None, return_dtype=pl.Int64
    )
    return flex_rows.with_columns(eid=pl.when(under).then(account).otherwise("eid"))


# --- population -----------------------------------------------------------------------------------


def collective_households(
    cfg: SynthConfig,
    skew: Skew,
    age: np.ndarray,
    male: np.ndarray,
    married: np.ndarray,
    head: np.ndarray,
    cidx: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Collective households: (new head, new county index, kind per person: -1 or an index
    into :data:`COLLECTIVE_KINDS`).

    Members are people who head nobody else, at most one per family household (so no two are
    related), mostly unmarried and 18–30 (schools, army) or 18–45 (enterprises); they take the
    household's county and the first member becomes its head.
    """
    rng = stream(cfg.seed, "skew:households")
    n = len(age)
    f = scale(cfg.persons)
    k = max(skew.collective_min_households, round(skew.collective_households * f))
    mean = skew.collective_size * f
    sizes = np.maximum(skew.collective_min_members, np.round(mean * rng.uniform(0.6, 1.4, k)))
    sizes = np.minimum(sizes, n // 10).astype(np.int64)  # tiny cities: at most a tenth each
    codes = list(CENSUS_2020)
    census = np.array(list(CENSUS_2020.values()), dtype=float)
    school_w = census * np.where(np.arange(len(codes)) < 2, 4.0, 1.0)  # the city districts
    park_w = census * np.isin(codes, PARK_COUNTIES)
    county_w = (school_w, census, park_w)
    others = np.bincount(head, minlength=n) - (head == np.arange(n))
    eligible = (others == 0) * np.where(married, 0.05, 1.0)
    young = (age >= 18) & (age <= 30)
    school = np.select(
        [(age >= 18) & (age <= 24), (age >= 16) & (age <= 30), (age > 30) & (age <= 60)],
        [1.0, 0.15, 0.01], 0.0,
    )  # fmt: skip
    army = np.select(
        [young & male, young, (age > 30) & (age <= 50)],
        [1.0, 0.08, 0.02], 0.0,
    )  # fmt: skip
    firm = np.select([(age >= 18) & (age <= 45), (age > 45) & (age < 60)], [1.0, 0.2], 0.0)
    person_w = (school, army, firm)
    new_head, new_cidx = head.copy(), cidx.copy()
    kind = np.full(n, -1, dtype=np.int8)
    for i in range(k):
        t = i % len(COLLECTIVE_KINDS)
        w = person_w[t] * eligible * (kind < 0)
        drawn = rng.permutation(weighted_sample(rng, w, int(sizes[i] * 1.3) + 10))
        _, first = np.unique(head[drawn], return_index=True)  # one per family household
        members = drawn[np.sort(first)][: sizes[i]]
        if len(members) == 0:
            continue
        cw = county_w[t]
        new_cidx[members] = rng.choice(len(codes), p=cw / cw.sum())
        new_head[members] = members[0]
        kind[members] = t
    return new_head, new_cidx, kind


def hot_given_names(
    cfg: SynthConfig,
    skew: Skew,
    surname: np.ndarray,
    male: np.ndarray,
    g1: np.ndarray,
    g2: np.ndarray,
    keep: np.ndarray,
    pool: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Given names (pool indices, -1 = single character) with the hot full names handed out.

    Hot name j (rank j, 1-based) goes to ``hot_name_share · j^-zipf / Σ`` of all people, drawn
    among those with its surname and sex; people in ``keep`` (twins: their names must differ)
    and those already given a hot name are left alone.
    """
    rng = stream(cfg.seed, "skew:names")
    n = len(surname)
    hot = namedata.HOT_NAMES
    w = np.arange(1, len(hot) + 1, dtype=float) ** -skew.hot_name_zipf
    target = np.round(skew.hot_name_share * w / w.sum() * n).astype(np.int64)
    first_surname: dict[str, int] = {}
    for i, (s, _) in enumerate(namedata.SURNAMES):
        first_surname.setdefault(s, i)
    first_char: dict[str, int] = {}
    for i, ch in enumerate(pool):
        first_char.setdefault(ch, i)
    key = surname.astype(np.int64) * 2 + male
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(2 * len(namedata.SURNAMES) + 1))
    taken = keep.copy()
    g1, g2 = g1.copy(), g2.copy()
    for (s, given, sex), want in zip(hot, target.tolist(), strict=True):
        cell_key = first_surname[s] * 2 + (sex == "M")
        cell = order[bounds[cell_key] : bounds[cell_key + 1]]
        cand = cell[~taken[cell]]
        pick = rng.choice(cand, size=min(want, len(cand)), replace=False)
        g1[pick] = first_char[given[0]] if len(given) == 2 else -1
        g2[pick] = first_char[given[-1]]
        taken[pick] = True
    return g1, g2
