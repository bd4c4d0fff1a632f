"""IDs validated per second through the vectorised path (canbao.standards.citizen_id).

Baseline in the same run: python-stdnum's ``cn.ric.is_valid`` in a Python loop (what one would
write without a vectorised path), on a sample, and Polars only reading the column's length (the
floor: touching every value once).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from stdnum.cn import ric

from bench.common import median_seconds, now
from canbao.standards import citizen_id as cid


def make_ids(n: int, seed: int = 7) -> pl.Series:
    rng = np.random.default_rng(seed)
    regions = np.array(["360402", "360403", "360404", "360421", "360427", "360424", "110105"])
    reg = regions[rng.integers(0, len(regions), n)]
    days = rng.integers(0, 365 * 90, n)
    births = (np.datetime64("1930-01-01") + days.astype("timedelta64[D]")).astype(str)
    births = np.char.replace(births, "-", "")
    seq = np.char.zfill(rng.integers(0, 1000, n).astype(str), 3)
    bodies = np.char.add(np.char.add(reg, births), seq)
    df = pl.DataFrame({"b": bodies})
    w = list(cid.WEIGHTS)
    s = pl.sum_horizontal([pl.col("b").str.slice(i, 1).cast(pl.Int32) * w[i] for i in range(17)])
    df = df.with_columns(
        id=pl.concat_str(
            "b",
            s.mod(11).replace_strict(list(range(11)), list(cid.CHECK_CHARS), return_dtype=pl.Utf8),
        )
    )
    # damage 3% (typos) so the error paths run too
    ids = df["id"]
    bad = rng.random(n) < 0.03
    damaged = (
        ids.str.slice(0, 10) + pl.Series(rng.integers(0, 10, n).astype(str)) + ids.str.slice(11)
    )
    return pl.select(pl.when(pl.Series(bad)).then(damaged).otherwise(ids)).to_series()


def run() -> dict:
    rows = []
    today = dt.date(2026, 11, 27)
    for n in (1_000_000, 10_000_000):
        ids = make_ids(n)
        t = median_seconds(lambda ids=ids: cid.check_frame(ids, today=today), repeat=3)
        floor = median_seconds(lambda ids=ids: ids.str.len_chars().sum(), repeat=3)
        rows.append(
            {
                "method": "canbao check_frame (Polars, vectorised)",
                "ids": f"{n:,}",
                "seconds (median)": round(t, 2),
                "IDs/s": f"{n / t:,.0f}",
                "ratio to floor": f"{t / floor:.1f}×",
            }
        )
    sample = make_ids(200_000).to_list()
    t = median_seconds(lambda: [ric.is_valid(x) for x in sample], repeat=3)
    rows.append(
        {
            "method": "baseline: python-stdnum ric.is_valid in a loop",
            "ids": "200,000",
            "seconds (median)": round(t, 2),
            "IDs/s": f"{len(sample) / t:,.0f}",
            "ratio to floor": "",
        }
    )
    return {
        "title": "Citizen ID validation throughput",
        "measured_at": now(),
        "note": "Synthetic IDs, 3% with a typo. Floor = Polars reading each value's length once.",
        "columns": ["method", "ids", "seconds (median)", "IDs/s", "ratio to floor"],
        "rows": rows,
    }
