"""Ingest throughput: data rows per second per file format (read → map → normalise → validate →
write Parquet + report), one population-like extract per format; and, when the synthetic city
generator is available, a whole synthetic city ingested through its manifest.

Every run ingests into a fresh data directory (so re-ingest short-cuts never apply). Baseline in
the same run: Polars only reading the same UTF-8 CSV as text (the floor for the CSV path).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from bench.bench_citizen_id import make_ids
from bench.common import median_seconds, now, peak_rss_mb
from canbao.ingest.batches import ingest_file

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红文辉建国志")
COUNTIES = ["360402", "360403", "360404", "360423", "360424", "360425", "360426", "360428"]


def make_population(n: int, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    ids = make_ids(n, seed)
    s = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    g1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.6, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], "")
    names = np.char.add(np.char.add(s, g1), g2)
    birth = ids.str.slice(6, 8)
    return pl.DataFrame(
        {
            "姓名": names,
            "公民身份号码": ids,
            "性别": np.where(rng.random(n) < 0.5, "男", "女"),
            "出生日期": (
                birth.str.slice(0, 4) + "-" + birth.str.slice(4, 2) + "-" + birth.str.slice(6, 2)
            ),
            "住址": pl.Series(
                np.char.add("九江市浔阳区甘棠街", rng.integers(1, 999, n).astype(str))
            ),
            "行政区划代码": np.array(COUNTIES)[rng.integers(0, len(COUNTIES), n)],
            "联系电话": pl.Series(
                np.char.add("138", np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8))
            ),
        }
    )


def _write(df: pl.DataFrame, fmt: str, path: Path) -> Path:
    if fmt == "csv (UTF-8)":
        df.write_csv(path)
    elif fmt == "csv (GB18030)":
        path.write_bytes(df.write_csv().encode("gb18030"))
    elif fmt == "xlsx":
        _xlsx(df, path)
    else:
        df.write_parquet(path)
    return path


def _xlsx(df: pl.DataFrame, path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人口")
    ws.append(["九江市户籍人口名单"])
    ws.append(df.columns)
    for row in df.iter_rows():
        ws.append(list(row))
    wb.save(path)


def _ingest_seconds(path: Path, repeat: int) -> float:
    def once() -> None:
        d = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
        try:
            ingest_file(d, path, source="bench", kind="population", as_of="2017-12-31")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    return median_seconds(once, repeat=repeat)


def run() -> dict:
    load_before = os.getloadavg()[0]
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-files-"))
    try:
        for fmt, ext, n in [
            ("csv (UTF-8)", "csv", 1_000_000),
            ("csv (GB18030)", "csv", 1_000_000),
            ("parquet", "parquet", 1_000_000),
            ("xlsx", "xlsx", 100_000),
        ]:
            df = make_population(n)
            path = _write(df, fmt, tmp / f"pop-{ext}-{n}.{ext}")
            t = _ingest_seconds(path, repeat=3)
            row = {
                "format": fmt,
                "rows": f"{n:,}",
                "file MB": round(path.stat().st_size / 1e6, 1),
                "seconds (median of 3)": round(t, 2),
                "rows/s": f"{n / t:,.0f}",
            }
            if fmt == "csv (UTF-8)":
                floor = median_seconds(lambda p=path: pl.read_csv(p, infer_schema=False), repeat=3)
                row["floor: polars read_csv only"] = f"{floor:.2f} s"
            rows.append(row)
        rows.extend(_synth_city(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "title": "Ingest throughput (canbao.ingest)",
        "measured_at": now(),
        "note": (
            "Population-like extract, 7 columns, 3% damaged IDs; whole pipeline into a fresh data "
            f"directory (Parquet + JSON/xlsx report). Peak RSS {peak_rss_mb():,.0f} MB. The machine "
            f"is shared: 1-minute load average {load_before:.1f} before and "
            f"{os.getloadavg()[0]:.1f} after the run (2 cores); figures scale with it. "
            "Synthetic-city sizes: $CANBAO_BENCH_CITY (default 1000000; e.g. 1000000,5000000)."
        ),
        "columns": [
            "format",
            "rows",
            "file MB",
            "seconds (median of 3)",
            "rows/s",
            "floor: polars read_csv only",
        ],  # fmt: skip
        "rows": rows,
    }


def _synth_city(tmp: Path) -> list[dict]:
    """The whole synthetic city through its manifest (when canbao synth is installed)."""
    try:
        from canbao.cli import run as cli
    except ImportError:
        return []
    out: list[dict] = []
    sizes = os.environ.get("CANBAO_BENCH_CITY", "1000000")
    for persons in [int(x) for x in sizes.split(",") if x.strip()]:
        city = tmp / f"city-{persons}"
        if cli(["synth", "--persons", str(persons), "--seed", "1", "--out", str(city)]) != 0:
            return out
        data = tmp / f"data-{persons}"
        t0 = time.perf_counter()
        rc = cli(["ingest", str(city), "--data-dir", str(data)])
        t = time.perf_counter() - t0
        from canbao.ingest import api

        n = sum(b.rows for b in api.batches(data))
        size = sum(
            p.stat().st_size for p in city.rglob("*") if p.is_file() and "truth" not in p.parts
        )
        out.append(
            {
                "format": f"synthetic city, {persons:,} persons (manifest, all files){'' if rc == 0 else ' — FAILED files'}",
                "rows": f"{n:,}",
                "file MB": round(size / 1e6, 1),
                "seconds (median of 3)": f"{t:.1f} (1 run)",
                "rows/s": f"{n / t:,.0f}",
            }
        )
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(city, ignore_errors=True)
    return out
