"""The residents: counties, households, names, ages, IDs, and the year's births, deaths and moves.

All columns are built with numpy/Polars over the whole population. ``pid`` is the true person
(an integer); ``id18`` is the true, valid 18-digit citizen ID carrying the region code in force
where and when the person was born.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from canbao.standards import divisions
from canbao.standards.citizen_id import CHECK_CHARS, WEIGHTS
from canbao.synth import namedata
from canbao.synth._rng import stream
from canbao.synth.config import CENSUS_2020, SynthConfig
from canbao.synth.skew import (
    COLLECTIVE_KINDS,
    COLLECTIVE_RELATION,
    collective_households,
    hot_given_names,
)

# Age pyramid in 5-year bands (share, per mille-ish), roughly Jiangxi around 2017.
AGE_BANDS = (58, 60, 55, 53, 60, 75, 70, 65, 78, 85, 78, 58, 59, 45, 30, 22, 14, 7, 2.5, 0.7)
EPOCH = dt.date(1970, 1, 1)
# Townships per county (generated names) — a county has 8..20.
TOWNSHIPS_PER_COUNTY = 12

_STABLE_PROVINCES = ("42", "34", "43", "41", "44", "35", "33", "51", "36")


def region_for(county: np.ndarray, birth: np.ndarray) -> np.ndarray:
    """GB/T 2260 code (int) in force for the county unit (int code) at the birth date."""
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    county = county.astype(np.int64)
    out = county.copy()
    pre83 = year < 1983
    # prefecture-level districts before 1983: the city code itself
    out[np.isin(county, (360402, 360403)) & pre83] = 360400
    simple = np.isin(county, (360423, 360424, 360425, 360426, 360428, 360429, 360430))
    out[simple & pre83] = county[simple & pre83] - 360400 + 362600
    m = county == 360404  # 柴桑 ← 九江县
    out[m & pre83] = 362621
    out[m & ~pre83 & (birth < np.datetime64("2017-08-21"))] = 360421
    m = county == 360481  # 瑞昌 ← 瑞昌县
    out[m & pre83] = 362622
    out[m & ~pre83 & (year < 1989)] = 360422
    m = county == 360482  # 共青城 (from 2010; before: 永修)
    out[m & pre83] = 362625
    out[m & ~pre83 & (year < 2010)] = 360425
    m = county == 360483  # 庐山市 ← 星子县
    out[m & pre83] = 362627
    out[m & ~pre83 & (year < 2016)] = 360427
    return out


def _other_province_codes() -> list[tuple[str, int, int]]:
    out = []
    for code in sorted(divisions.all_codes()):
        d = divisions.lookup(code)
        if d is None or d.level != "county" or code[:2] not in _STABLE_PROVINCES:
            continue
        if code.startswith("3604") or code.startswith("3626") or code.endswith("01"):
            continue
        out.append((code, d.valid_from or 1900, d.valid_to or 2100))
    return out


def migrant_regions(rng: np.random.Generator, birth_year: np.ndarray) -> np.ndarray:
    codes = _other_province_codes()
    arr = np.array([int(c) for c, _, _ in codes], dtype=np.int64)
    lo = np.array([a for _, a, _ in codes])
    hi = np.array([b for _, _, b in codes])
    out = np.empty(len(birth_year), dtype=np.int64)
    for y in np.unique(birth_year):
        sel = np.flatnonzero(birth_year == y)
        ok = arr[(lo <= y) & (y <= hi)]
        out[sel] = ok[rng.integers(0, len(ok), len(sel))]
    return out


def _digit_sum(values: np.ndarray, width: int, weights: tuple[int, ...]) -> np.ndarray:
    v = values.astype(np.int64)
    total = np.zeros(len(v), dtype=np.int64)
    for i in range(width):
        total += ((v // 10 ** (width - 1 - i)) % 10) * weights[i]
    return total


def make_ids(
    rng: np.random.Generator, region: np.ndarray, birth: np.ndarray, male: np.ndarray
) -> pl.Series:
    """Unique valid 18-digit IDs; sequence numbers odd for men, unique per (region, date, sex)."""
    n = len(region)
    y = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    mth = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    date_num = y * 10000 + mth * 100 + day
    reg = region.astype(np.int64)
    sexbit = male.astype(np.int64)
    full_key = (reg * 10**8 + date_num) * 2 + sexbit  # one int64 key: fast to sort
    perm = rng.permutation(n)  # random order among people sharing the key
    order = perm[np.argsort(full_key[perm], kind="stable")]
    key = full_key[order]
    start = np.r_[True, key[1:] != key[:-1]]
    grp = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    rank = np.arange(n) - first[grp]
    offset = rng.integers(0, 249, size=len(first))[grp]
    v = (offset + rank) % 249 + 1  # 1..249
    seq = np.empty(n, dtype=np.int64)
    seq[order] = 2 * v + sexbit[order]  # odd = male, even = female
    del order, key, full_key, perm, start, grp, rank, offset, v
    total = (
        _digit_sum(reg, 6, WEIGHTS[0:6])
        + _digit_sum(date_num, 8, WEIGHTS[6:14])
        + _digit_sum(seq, 3, WEIGHTS[14:17])
    ) % 11
    return pl.select(
        pl.concat_str(
            pl.lit(pl.Series(reg)).cast(pl.Utf8),
            pl.lit(pl.Series(date_num)).cast(pl.Utf8),
            pl.lit(pl.Series(seq)).cast(pl.Utf8).str.zfill(3),
            pl.lit(pl.Series(list(CHECK_CHARS))).gather(pl.lit(pl.Series(total))),
        ).alias("id18")
    ).to_series()


def _zipf(n: int, s: float = 1.0) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


GIVEN_POOL: list[str] = [
    c for key in sorted(namedata.GIVEN_CHARS) for c in namedata.GIVEN_CHARS[key]
]
_POOL_START: dict[tuple[str, int], int] = {}
_pos = 0
for _key in sorted(namedata.GIVEN_CHARS):
    _POOL_START[_key] = _pos
    _pos += len(namedata.GIVEN_CHARS[_key])


def _given_names(
    rng: np.random.Generator, male: np.ndarray, year: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Indices into :data:`GIVEN_POOL`: first character (-1 = single-character name), last one."""
    n = len(male)
    era = np.where(year < 1970, 0, np.where(year < 1990, 1, 2))
    c1 = np.full(n, -1, dtype=np.int32)
    c2 = np.zeros(n, dtype=np.int32)
    single = rng.random(n) < np.where(era == 1, 0.3, 0.12)
    for sex in ("F", "M"):
        for e in (0, 1, 2):
            sel = np.flatnonzero((male == (sex == "M")) & (era == e))
            if len(sel) == 0:
                continue
            k = len(namedata.GIVEN_CHARS[(sex, e)])
            p = _zipf(k, 0.9)
            base = _POOL_START[(sex, e)]
            a = rng.choice(k, size=len(sel), p=p)
            b = rng.choice(k, size=len(sel), p=p)
            # men rarely have a doubled character (国国); draw again once
            b = np.where((a == b) & (sex == "M"), rng.choice(k, size=len(sel), p=p), b)
            c1[sel] = np.where(single[sel], -1, base + a)
            c2[sel] = base + b
    return c1, c2


def _township_names(rng: np.random.Generator) -> dict[str, list[str]]:
    chars = list(namedata.PLACE_CHARS)
    out: dict[str, list[str]] = {}
    for code in CENSUS_2020:
        urban = code in ("360402", "360403")
        names: list[str] = []
        while len(names) < TOWNSHIPS_PER_COUNTY:
            a, b = rng.integers(0, len(chars), 2)
            r = rng.random()
            suffix = (
                "街道" if r < (0.8 if urban else 0.15) else ("镇" if rng.random() < 0.7 else "乡")
            )
            nm = chars[a] + chars[b] + suffix
            if nm not in names:
                names.append(nm)
        out[code] = names
    return out


def _gather(values: list[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.Utf8).gather(pl.Series(idx.astype(np.int64)))


RELATIONS = ["户主", "配偶", "子", "女", "孙子", "孙女", COLLECTIVE_RELATION]


def build_population(cfg: SynthConfig) -> pl.DataFrame:
    """One row per person who lived in the city at some time during the year."""
    rng = stream(cfg.seed, "population")
    as_of = np.datetime64(f"{cfg.year}-12-31")
    year_start = np.datetime64(f"{cfg.year}-01-01")
    n_twins = int(round(cfg.persons * 0.004))
    n = max(cfg.persons - n_twins, 10)

    counties = np.array([int(c) for c in CENSUS_2020], dtype=np.int64)
    cw = np.array(list(CENSUS_2020.values()), dtype=float)
    cidx = rng.choice(len(counties), size=n, p=cw / cw.sum())
    county = counties[cidx]

    band_p = np.array(AGE_BANDS, dtype=float)
    band_p /= band_p.sum()
    age = rng.choice(len(band_p), size=n, p=band_p) * 5 + rng.integers(0, 5, n)
    byear = cfg.year - age
    ylen = np.where((byear % 4 == 0) & ((byear % 100 != 0) | (byear % 400 == 0)), 366, 365)
    birth = (byear - 1970).astype("datetime64[Y]").astype("datetime64[D]") + (
        rng.random(n) * ylen
    ).astype(np.int64)
    p_male = np.where(age < 60, 0.515, np.where(age < 80, 0.48, 0.42))
    male = rng.random(n) < p_male

    # --- households: couples by age rank inside each county, children to mothers --------
    pid = np.arange(n, dtype=np.int64)
    head = pid.copy()  # household head of each person
    relation = np.zeros(n, dtype=np.int8)  # index into RELATIONS
    mother = np.full(n, -1, dtype=np.int64)
    spouse = np.full(n, -1, dtype=np.int64)
    married_p = np.interp(
        age, [20, 24, 28, 35, 65, 75, 90], [0.05, 0.35, 0.75, 0.9, 0.85, 0.6, 0.3]
    )
    married = rng.random(n) < married_p
    young_adult_home = (age < 30) & (rng.random(n) < 0.5)
    for ci in range(len(counties)):
        inc = cidx == ci
        wives = np.flatnonzero(inc & ~male & married & (age >= 20))
        husbands = np.flatnonzero(inc & male & married & (age >= 22))
        k = min(len(wives), len(husbands))
        if k:
            wives = rng.permutation(wives)[:k]
            husbands = rng.permutation(husbands)[:k]
            wives = wives[np.argsort(age[wives] + 2 + rng.random(k) * 3, kind="stable")]
            husbands = husbands[np.argsort(age[husbands], kind="stable")]
            spouse[wives] = husbands
            spouse[husbands] = wives
            head[wives] = husbands
            relation[wives] = 1
        # children (and some young adults) to a mother 21..38 years older
        kids = np.flatnonzero(inc & ((age < 18) | (young_adult_home & (spouse < 0))))
        moms = np.flatnonzero(inc & ~male & (age >= 20) & (age <= 75))
        if len(kids) == 0 or len(moms) == 0:
            continue
        moms = moms[np.argsort(age[moms], kind="stable")]
        target = age[kids] + 21 + rng.random(len(kids)) * 14
        pos = np.searchsorted(age[moms], target) + rng.integers(-40, 40, len(kids))
        m = moms[np.clip(pos, 0, len(moms) - 1)]
        ok = (age[m] - age[kids] >= 18) & (age[m] - age[kids] <= 45)
        mother[kids[ok]] = m[ok]
    has_mother = mother >= 0
    mom = np.maximum(mother, 0)
    head = np.where(has_mother, head[mom], head)  # the mother's household
    for _ in range(8):  # a young mother living with her own mother: follow the chain
        nxt = head[head]
        if (nxt == head).all():
            break
        head = nxt
    relation = np.where(has_mother, np.where(male, 2, 3), relation).astype(np.int8)
    grandchild = has_mother & (head != mom) & (head != spouse[mom])
    relation = np.where(grandchild, np.where(male, 4, 5), relation).astype(np.int8)

    # --- names (indices; strings are built once at the end) -------------------------------
    sw = np.array([w for _, w in namedata.SURNAMES], dtype=float)
    surname = rng.choice(len(sw), size=n, p=sw / sw.sum())
    father = np.where(has_mother, spouse[mom], -1)
    takes_father = has_mother & (father >= 0) & (rng.random(n) < 0.96)
    surname = np.where(takes_father, surname[np.maximum(father, 0)], surname)
    surname = np.where(has_mother & ~takes_father, surname[mom], surname)
    g1, g2 = _given_names(rng, male, byear)

    # --- twins: a copy of some children (same mother, date, surname), another given name --
    cand = np.flatnonzero(has_mother & (age < 40))
    tw = (
        np.sort(rng.choice(cand, size=min(n_twins, len(cand)), replace=False))
        if len(cand)
        else cand
    )
    t = len(tw)
    tw_male = rng.random(t) < 0.5
    t1, t2 = _given_names(rng, tw_male, byear[tw])
    # twins often share the first character of the given name
    share = (g1[tw] >= 0) & (t1 >= 0) & (rng.random(t) < 0.6) & (tw_male == male[tw])
    t1 = np.where(share, g1[tw], t1)
    t2 = np.where((t1 == g1[tw]) & (t2 == g2[tw]), (t2 + 1) % len(GIVEN_POOL), t2)

    def cat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.concatenate([a, b])

    twin_of = cat(np.full(n, -1, dtype=np.int64), tw)
    twin_of[tw] = np.arange(n, n + t)
    cidx, county, age, byear = (
        cat(cidx, cidx[tw]),
        cat(county, county[tw]),
        cat(age, age[tw]),
        cat(byear, byear[tw]),
    )
    birth, male, head, mother = (
        cat(birth, birth[tw]),
        cat(male, tw_male),
        cat(head, head[tw]),
        cat(mother, mother[tw]),
    )
    relation = cat(relation, np.where(tw_male, 2, 3).astype(np.int8))
    surname, g1, g2 = cat(surname, surname[tw]), cat(g1, t1), cat(g2, t2)
    N = n + t
    pid = np.arange(N, dtype=np.int64)

    # --- migrants and IDs ---------------------------------------------------------------
    migrant = (age >= 18) & (age <= 60) & (rng.random(N) < cfg.behaviour.migrant_share)
    region = region_for(county, birth)
    if migrant.any():
        region[migrant] = migrant_regions(rng, byear[migrant])
    id18 = make_ids(rng, region, birth, male)

    # --- a skewed city: collective households, common full names (own random streams) ------
    collective = None
    if cfg.skew is not None:
        single = cat(spouse < 0, np.ones(t, dtype=bool))
        head, cidx, collective = collective_households(
            cfg, cfg.skew, age, male, ~single, head, cidx
        )
        county = counties[cidx]  # the ID keeps the region of birth
        relation = np.where(collective >= 0, RELATIONS.index(COLLECTIVE_RELATION), relation)
        g1, g2 = hot_given_names(cfg, cfg.skew, surname, male, g1, g2, twin_of >= 0, GIVEN_POOL)

    # --- households and addresses ------------------------------------------------------------
    hh_heads, hh_index = np.unique(head, return_inverse=True)
    n_hh = len(hh_heads)
    hh_c = cidx[hh_heads]
    towns = _township_names(rng)
    town_flat = [tn for c in CENSUS_2020 for tn in towns[c]]
    hh_town = hh_c * TOWNSHIPS_PER_COUNTY + rng.integers(0, TOWNSHIPS_PER_COUNTY, n_hh)
    # number households in county code / township order (as the register lists them)
    hh_perm = rng.permutation(n_hh)
    hh_key = counties[hh_c] * 1000 + hh_town
    order = hh_perm[np.argsort(hh_key[hh_perm], kind="stable")]
    rank = np.empty(n_hh, dtype=np.int64)
    rank[order] = np.arange(n_hh)
    hh_heads, hh_c, hh_town = hh_heads[order], hh_c[order], hh_town[order]
    hh_index = rank[hh_index]
    place = list(namedata.PLACE_CHARS)
    cnames = [divisions.name_of(c) or c for c in CENSUS_2020]
    v1 = rng.integers(0, len(place), n_hh)
    v2 = rng.integers(0, len(place), n_hh)
    hh = pl.DataFrame(
        {
            "cn": _gather(cnames, hh_c),
            "town": _gather(town_flat, hh_town),
            "v1": _gather(place, v1),
            "v2": _gather(place, v2),
            "street": _gather(list(namedata.STREETS), rng.integers(0, len(namedata.STREETS), n_hh)),
            "no": rng.integers(1, 300, n_hh),
            "old_no": rng.integers(1, 400, n_hh),
            "moved": rng.random(n_hh) < 0.06,  # moved within the city in the last two years
        }
    )
    urban_town = pl.col("town").str.ends_with("街道")
    village = pl.concat_str(
        "v1", "v2", pl.when(urban_town).then(pl.lit("社区")).otherwise(pl.lit("村"))
    )
    old_village = pl.concat_str(
        "v2", "v1", pl.when(urban_town).then(pl.lit("社区")).otherwise(pl.lit("村"))
    )
    street = pl.when(urban_town).then(pl.col("street")).otherwise(pl.lit(""))
    hh = hh.select(
        "town",
        address=pl.concat_str(pl.lit("江西省九江市"), "cn", "town", village, street, pl.col("no").cast(pl.Utf8), pl.lit("号")),
        old_address=pl.when("moved").then(
            pl.concat_str(pl.lit("江西省九江市"), "cn", "town", old_village, pl.col("old_no").cast(pl.Utf8), pl.lit("号"))
        ),
    )  # fmt: skip
    hh_rows = hh[hh_index]

    # --- events of the year ----------------------------------------------------------------
    q = np.clip(0.0008 * np.exp(0.09 * (age - 35)), 0.0004, 0.3)
    q = np.where(age == 0, 0.004, q)
    dies = rng.random(N) < q
    lo = np.maximum(birth, year_start)
    span = (as_of - lo).astype(np.int64) + 1
    death = np.where(dies, lo + (rng.random(N) * span).astype(np.int64), np.datetime64("NaT"))
    in_hukou = ~migrant | (rng.random(N) < cfg.behaviour.migrant_in_hukou)
    if collective is not None:
        in_hukou |= collective >= 0  # registered in the collective household
    events = ["", "出生", "迁入", "迁出", "死亡"]
    event = np.zeros(N, dtype=np.int8)
    event_date = np.full(N, np.datetime64("NaT"), dtype="datetime64[D]")
    born_now = birth >= year_start
    event[born_now] = 1
    event_date[born_now] = birth[born_now] + rng.integers(5, 40, born_now.sum())
    moves_in = ~born_now & (rng.random(N) < 0.012)
    event[moves_in] = 2
    event_date[moves_in] = year_start + rng.integers(0, 365, moves_in.sum())
    moves_out = ~born_now & ~moves_in & ~dies & ~migrant & (rng.random(N) < 0.009)
    event[moves_out] = 3
    event_date[moves_out] = year_start + rng.integers(0, 365, moves_out.sum())
    cancelled = dies & (rng.random(N) < cfg.behaviour.death_in_hukou)
    event[cancelled] = 4
    event_date[cancelled] = death[cancelled] + rng.integers(3, 60, cancelled.sum())
    event_date = np.where(event_date > as_of, as_of, event_date)
    status = np.where(cancelled, 1, np.where(moves_out, 2, 0))
    phone_ok = (age >= 16) & (rng.random(N) < 0.85)
    phone_prefix = _gather(["13", "15", "18", "17"], rng.integers(0, 4, N))
    phone_tail = pl.Series(rng.integers(0, 10**9, N)).cast(pl.Utf8).str.zfill(9)
    rel_text = _gather(RELATIONS, relation)
    df = pl.DataFrame(
        [
            pl.Series("pid", pid + 1),
            pl.Series("household_id", hh_index.astype(np.int64) + 1),
            rel_text.rename("relation"),
            pl.Series("head_pid", head + 1),
            pl.Series("mother_pid", np.where(mother >= 0, mother + 1, 0)),
            pl.Series("twin_of", np.where(twin_of >= 0, twin_of + 1, 0)),
            pl.Series("county_code", county).cast(pl.Utf8),
            hh_rows["town"].rename("township"),
            hh_rows["address"],
            hh_rows["old_address"],
            _gather([x for x, _ in namedata.SURNAMES], surname).rename("surname"),
            pl.Series("_g1", g1),
            pl.Series("_g2", g2),
            pl.Series("sex", np.where(male, "M", "F")),
            pl.Series("birth_date", birth).cast(pl.Date),
            pl.Series("age", age.astype(np.int32)),
            pl.Series("id_region", region).cast(pl.Utf8),
            id18.rename("id18"),
            pl.Series("migrant", migrant),
            pl.Series("in_hukou", in_hukou),
            pl.Series("death_date", death).cast(pl.Date),
            _gather(["正常", "死亡", "迁出"], status).rename("hukou_status"),
            _gather(events, event).rename("event"),
            pl.Series("event_date", event_date).cast(pl.Date),
            pl.Series("_phone_ok", phone_ok),
            phone_prefix.rename("_pp"),
            phone_tail.rename("_pt"),
        ]
    )
    pool = pl.Series(GIVEN_POOL, dtype=pl.Utf8)
    df = df.with_columns(
        given=pl.concat_str(
            pl.when(pl.col("_g1") >= 0)
            .then(pl.lit(pool).gather(pl.col("_g1").clip(lower_bound=0)))
            .otherwise(pl.lit("")),
            pl.lit(pool).gather(pl.col("_g2")),
        ),
        relation=pl.when(pl.col("head_pid") == pl.col("pid"))
        .then(pl.lit("户主"))
        .otherwise("relation"),
        event=pl.when(pl.col("event") != "").then("event"),
        phone=pl.when("_phone_ok").then(pl.concat_str("_pp", "_pt")),
        mother_pid=pl.when(pl.col("mother_pid") > 0).then("mother_pid"),
        twin_of=pl.when(pl.col("twin_of") > 0).then("twin_of"),
    ).drop("_g1", "_g2", "_phone_ok", "_pp", "_pt")
    df = df.with_columns(name=pl.concat_str("surname", "given"))
    cols = ["pid", "household_id", "relation", "head_pid", "mother_pid", "twin_of", "county_code",
            "township", "address", "old_address", "surname", "given", "name", "sex", "birth_date",
            "age", "id_region", "id18", "migrant", "in_hukou", "death_date", "hukou_status",
            "event", "event_date", "phone"]  # fmt: skip
    if collective is not None:  # truth: which collective household (kind), null for families
        kinds = pl.Series("collective_household", collective, dtype=pl.Int64)
        df = df.with_columns(
            pl.when(kinds >= 0)
            .then(_gather(list(COLLECTIVE_KINDS), np.maximum(collective, 0)))
            .alias("collective_household")
        )
        cols.append("collective_household")
    return df.select(cols)
