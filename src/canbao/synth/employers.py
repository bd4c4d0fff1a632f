"""Employers and employment: credit codes, ownership, industry and risk class, size, wages.

Many tiny employers and a few large ones (Pareto weights); each employee has one or two spells
in the year (job changes), with a monthly wage in fen.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from canbao.standards import credit_code, divisions
from canbao.synth import namedata
from canbao.synth._rng import stream, weighted_sample
from canbao.synth.config import CENSUS_2020, CENSUS_TOTAL, TARGETS_2017, SynthConfig

OWNERSHIPS = ("private", "individual", "state", "collective", "public_institution")
OWNERSHIP_SHARE = (0.70, 0.14, 0.04, 0.03, 0.09)
OWNERSHIP_SIZE = (1.0, 0.25, 6.0, 2.0, 3.0)  # relative size weight
OWNERSHIP_WAGE = (1.0, 0.8, 1.3, 0.9, 1.2)
# (industry, work-injury risk class 1..8, name word) — classes after 人社部发〔2015〕71号 (approx.)
INDUSTRIES = (
    ("批发和零售业", 2, "商贸"), ("住宿和餐饮业", 2, "餐饮"), ("纺织服装、服饰业", 3, "服饰"),
    ("农副食品加工业", 3, "食品"), ("电气机械和器材制造业", 4, "电气"), ("化学原料和化学制品制造业", 6, "化工"),
    ("非金属矿物制品业", 6, "建材"), ("房屋建筑业", 5, "建筑工程"), ("道路运输业", 5, "运输"),
    ("软件和信息技术服务业", 1, "科技"), ("货币金融服务", 1, "投资"), ("房地产业", 2, "置业"),
    ("居民服务业", 2, "家政服务"), ("农业", 4, "农业开发"), ("黑色金属冶炼和压延加工业", 7, "钢铁"),
    ("教育", 1, "学校"), ("卫生", 2, "医院"), ("公共管理和社会组织", 1, "服务中心"),
)  # fmt: skip
PUBLIC_INDUSTRIES = (15, 16, 17)
PARK_COUNTIES = ("360402", "360404", "360425", "360482", "360481", "360429")
FIVE_IN_ONE = np.datetime64("2016-10-01")


def _base36(values: np.ndarray, width: int) -> np.ndarray:
    alphabet = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))  # USCC-safe letters
    b = len(alphabet)
    cols = [alphabet[(values // b**i) % b] for i in reversed(range(width))]
    out = cols[0]
    for c in cols[1:]:
        out = np.char.add(out, c)
    return out


def build_employers(cfg: SynthConfig) -> pl.DataFrame:
    rng = stream(cfg.seed, "employers")
    n = max(30, int(round(cfg.persons * 0.012)))
    eid = np.arange(1, n + 1, dtype=np.int64)
    own_i = rng.choice(len(OWNERSHIPS), size=n, p=OWNERSHIP_SHARE)
    ind_i = rng.integers(0, len(INDUSTRIES) - 3, n)
    pub = own_i == OWNERSHIPS.index("public_institution")
    ind_i[pub] = np.array(PUBLIC_INDUSTRIES)[rng.integers(0, 3, pub.sum())]
    counties = np.array(list(CENSUS_2020))
    cw = np.array(list(CENSUS_2020.values()), dtype=float)
    cw[:2] *= 2.5  # the urban districts host more employers
    county = counties[rng.choice(len(counties), size=n, p=cw / cw.sum())]
    park = np.isin(county, PARK_COUNTIES) & ~pub & (own_i != 1) & (rng.random(n) < 0.25)
    size_w = (rng.pareto(1.2, n) + 1.0) * np.array(OWNERSHIP_SIZE)[own_i] * np.where(park, 2.0, 1.0)
    # registration date: from 1985, more recent more often
    days = (np.datetime64(f"{cfg.year}-12-31") - np.datetime64("1985-01-01")).astype(int)
    reg = np.datetime64("1985-01-01") + (days * rng.random(n) ** 0.6).astype(np.int64)
    reg = np.where(pub, np.datetime64("1985-01-01") + (rng.random(n) * 5000).astype(np.int64), reg)
    legacy = reg < FIVE_IN_ONE
    # organisation code body: legacy = 8 digits from a permutation; new = MA + 6 base-31 chars
    # unique pseudo-random numbers: an affine map modulo M is a permutation when gcd(a, M) = 1
    perm = _affine_unique(rng, eid, 89_999_999)
    body_old = np.char.zfill((perm + 10_000_000).astype(str), 8)
    body_new = np.char.add("MA", _base36(_affine_unique(rng, eid, 31**5) + 31**5, 6))
    body8 = np.where(legacy, body_old, body_new)
    auth_type = np.where(pub, "12", np.where(own_i == 1, "92", "91"))
    reg_region = registration_region(county, reg)
    codes = [
        credit_code.make_uscc(a[0], a[1], r, b)
        for a, r, b in zip(auth_type.tolist(), reg_region.tolist(), body8.tolist(), strict=True)
    ]
    uscc = np.array(codes)
    org_code = np.array([c[8:17] for c in codes])
    # names
    brand_chars = np.array(list(namedata.BRAND_CHARS))
    brand = np.char.add(
        brand_chars[rng.integers(0, len(brand_chars), n)],
        brand_chars[rng.integers(0, len(brand_chars), n)],
    )
    word = np.array([w for _, _, w in INDUSTRIES])[ind_i]
    cn = _county_names(county)
    place = np.where(np.isin(county, ("360402", "360403")) | (rng.random(n) < 0.4), "九江", cn)
    legal = np.where(rng.random(n) < 0.85, "有限公司", "有限责任公司")
    company = np.char.add(np.char.add(np.char.add(place, brand), word), legal)
    shop = np.char.add(np.char.add(cn, brand), np.where(ind_i == 1, "饭店", "商行"))
    ordinal = np.array(list("一二三四五六七八九"))[rng.integers(0, 9, n)]
    inst = np.char.add(
        np.char.add(np.char.add(cn, "第"), ordinal),
        np.where(ind_i == 15, "中学", np.where(ind_i == 16, "人民医院分院", "社会服务中心")),
    )
    name = np.where(pub, inst, np.where(own_i == 1, shop, company))
    df = pl.DataFrame(
        {
            "eid": eid,
            "name": name,
            "credit_code": uscc,
            "org_code": org_code,
            "legacy": legacy,
            "ownership": np.array(OWNERSHIPS)[own_i],
            "industry": np.array([i for i, _, _ in INDUSTRIES])[ind_i],
            "risk_class": np.array([r for _, r, _ in INDUSTRIES], dtype=np.int32)[ind_i],
            "county_code": county,
            "park": park,
            "registered_date": reg.astype("datetime64[D]"),
            "size_weight": size_w,
            "wage_factor": np.array(OWNERSHIP_WAGE)[own_i] * rng.lognormal(0, 0.15, n),
        }
    ).with_columns(pl.col("registered_date").cast(pl.Date))
    # names must be unique per county for a clean truth; add a branch suffix to repeats
    df = df.with_columns(_k=pl.int_range(pl.len()).over("name"))
    df = df.with_columns(
        name=pl.when(pl.col("_k") > 0)
        .then(
            pl.col("name").str.replace(
                r"(有限公司|有限责任公司|饭店|商行|中学|人民医院分院|社会服务中心)$",
                pl.concat_str(pl.col("_k").cast(pl.Utf8), pl.lit("分公司")),
            )
        )
        .otherwise("name")
    ).drop("_k")
    if cfg.skew is not None:
        from canbao.synth.skew import skew_employers

        df = skew_employers(cfg, cfg.skew, df)
    return df


def registration_region(county: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """The county code (text) in force at the registration date (九江县, 星子县 before renaming)."""
    out = county.copy()
    out[(county == "360404") & (reg < np.datetime64("2017-08-21"))] = "360421"
    out[(county == "360483") & (reg < np.datetime64("2016-01-01"))] = "360427"
    return out


def _affine_unique(rng: np.random.Generator, k: np.ndarray, modulus: int) -> np.ndarray:
    while True:
        a = int(rng.integers(1_000, modulus - 1))
        if math.gcd(a, modulus) == 1:
            break
    b = int(rng.integers(0, modulus))
    return (k.astype(np.int64) * a + b) % modulus


def _county_names(county: np.ndarray) -> np.ndarray:
    uniq, inv = np.unique(county, return_inverse=True)
    names = np.array([divisions.name_of(c) or "" for c in uniq.tolist()])
    return names[inv]


def build_employment(
    cfg: SynthConfig, persons: pl.DataFrame, employers: pl.DataFrame
) -> pl.DataFrame:
    """Employment spells: pid, eid, start_month, end_month (1..12), wage (fen per month)."""
    rng = stream(cfg.seed, "employment")
    share = TARGETS_2017["work_injury"] / CENSUS_TOTAL * 1.13
    n_emp = int(round(cfg.persons * share))
    age = persons["age"].to_numpy()
    alive_start = persons["death_date"].is_null().to_numpy() | (
        persons["death_date"].dt.month().fill_null(12).to_numpy() > 2
    )
    male = (persons["sex"] == "M").to_numpy()
    county = persons["county_code"].cast(pl.Int32).to_numpy()
    w = np.interp(age, [17, 18, 22, 30, 45, 55, 60, 61], [0, 0.4, 1.0, 1.2, 1.0, 0.6, 0.2, 0])
    w = np.where(~male & (age >= 55), 0, w)
    w = w * np.where(np.isin(county, (360402, 360403)), 2.2, 1.0)
    w = w * np.where(persons["migrant"].to_numpy(), 2.0, 1.0) * alive_start
    workers = weighted_sample(rng, w, n_emp)
    ecounty = employers["county_code"].cast(pl.Int32).to_numpy()
    sw = employers["size_weight"].to_numpy()
    # prefer an employer in the worker's county (70%), else anywhere
    emp = rng.choice(len(sw), size=len(workers), p=sw / sw.sum())
    local = rng.random(len(workers)) < 0.7
    wcounty = county[workers]
    for c in np.unique(wcounty):
        sel = np.flatnonzero(local & (wcounty == c))
        cand = np.flatnonzero((ecounty == c) & (sw > 0))
        if len(sel) and len(cand):
            emp[sel] = cand[rng.choice(len(cand), size=len(sel), p=sw[cand] / sw[cand].sum())]
    if cfg.skew is not None:
        from canbao.synth.skew import assign_big_employers

        emp = assign_big_employers(cfg, cfg.skew, employers, wcounty, emp)
    m = len(workers)
    start = np.ones(m, dtype=np.int32)
    end = np.full(m, 12, dtype=np.int32)
    r = rng.random(m)
    hired = r < 0.06
    start[hired] = rng.integers(2, 13, hired.sum())
    left = (r >= 0.06) & (r < 0.10)
    end[left] = rng.integers(1, 12, left.sum())
    change = (r >= 0.10) & (r < 0.17)
    cut = rng.integers(2, 12, m)
    end[change] = cut[change] - 1
    wf = employers["wage_factor"].to_numpy()
    base_w = rng.lognormal(np.log(330_000), 0.45, m)
    wage = np.round(base_w * wf[emp] / 100) * 100  # whole yuan
    wage = np.maximum(wage, 150_000)
    second_emp = rng.choice(len(sw), size=change.sum(), p=sw / sw.sum())
    pids = persons["pid"].to_numpy()
    df1 = pl.DataFrame(
        {
            "pid": pids[workers],
            "eid": emp + 1,
            "start_month": start,
            "end_month": end,
            "wage": wage.astype(np.int64),
        }
    )
    df2 = pl.DataFrame(
        {
            "pid": pids[workers[change]],
            "eid": second_emp + 1,
            "start_month": cut[change].astype(np.int32),
            "end_month": np.full(change.sum(), 12, dtype=np.int32),
            "wage": (wage[change] * rng.uniform(0.9, 1.3, change.sum())).round(-2).astype(np.int64),
        }
    )
    spells = pl.concat([df1, df2]).sort("pid", "start_month")
    # the dead stop working in the month they die
    dd = persons.select("pid", dm=pl.col("death_date").dt.month())
    spells = (
        spells.join(dd, on="pid", how="left")
        .with_columns(
            end_month=pl.when(pl.col("dm").is_not_null())
            .then(pl.min_horizontal("end_month", "dm"))
            .otherwise("end_month")
        )
        .filter(pl.col("end_month") >= pl.col("start_month"))
        .drop("dm")
        .sort("pid", "start_month", "eid")  # joins do not keep row order
    )
    return spells.with_row_index("spell_id", offset=1)
