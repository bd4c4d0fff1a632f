"""Identity damage (issue 15): the registry before and after, measured in the same run.

"Before" is the source tree of a baseline commit (``CANBAO_BENCH_BASELINE``, default the last
commit before the identity-damage work: the corrections export, with the skew guard already in)
unpacked with ``git archive`` and run in child processes with ``PYTHONPATH`` pointing at it;
"after" is the working tree. Both read the same ingested data (ingest did not change).

- Quality: recall and precision per damage type on a 100,000-resident synthetic city (the
  current generator, which makes the two new damage types ``id_date_typo`` and
  ``id_float_cell``), each version building its own copy; the links are scored by the current
  :func:`canbao.registry.quality.evaluate`. Target: recall ≥ 0.995 for each new type,
  precision ≥ 0.999.
- Speed: full registry build at 1,000,000 residents, baseline and current alternating
  (``CANBAO_BENCH_IDENTITY_REPEAT`` rounds, default 2; each version's first build, which
  derives the linkage fields and trains the model, is not timed); medians. Target: current
  ≤ 1.10 × baseline.

Sizes: CANBAO_BENCH_QUALITY_SIZE (default 100000; 0 = skip), CANBAO_BENCH_IDENTITY_SIZE (default
1000000; 0 = skip).
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import tarfile
from pathlib import Path

import polars as pl

from bench.bench_skew import _ingested
from bench.cities import CACHE, fresh_copy, ingested
from bench.common import now, run_child
from canbao.registry import quality

ROOT = Path(__file__).resolve().parent.parent
BASELINE = os.environ.get("CANBAO_BENCH_BASELINE", "3a40b04")
NEW_TYPES = ("id_date_typo", "id_float_cell")


def _baseline_src(rev: str) -> tuple[Path, str]:
    """The baseline commit's ``src`` unpacked under the cache: (path, full sha)."""
    sha = subprocess.run(
        ["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    dest = CACHE / f"baseline-{sha[:12]}"
    if not (dest / "src" / "canbao").exists():
        shutil.rmtree(dest, ignore_errors=True)
        tar = subprocess.run(
            ["git", "archive", sha, "src"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as t:
            t.extractall(dest, filter="data")
    return dest / "src", sha


def _build(
    data: Path, src: Path | None, links_out: Path | None = None
) -> tuple[float, float, dict]:
    """One full build in a child process running ``src`` (None: the working tree)."""
    code = (
        "import json; from pathlib import Path; import canbao;"
        "from canbao.registry import api, snapshot;"
        f"d=Path({str(data)!r}); r=api.build(d, full=True);"
        + (
            f"snapshot.require_current(d).scan('links').collect().write_parquet({str(links_out)!r});"
            if links_out
            else ""
        )
        + "print(json.dumps({'seconds': r.seconds, 'src': canbao.__file__}))"
    )
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    wall, rss, info = run_child(code, "build", env=env)
    expected = str(src) if src is not None else str(ROOT / "src")
    if not info["src"].startswith(expected):
        raise RuntimeError(f"child ran {info['src']}, expected code under {expected}")
    return wall, rss, info


def _quality(persons: int, src: Path) -> list[dict]:
    city, data = ingested(persons)
    truth = pl.read_csv(city / "truth" / "links.csv")
    damage = pl.read_csv(city / "truth" / "damage.csv", schema_overrides={"kinds": pl.Utf8})
    groups = quality.synthetic_groups(city / "truth")
    res = {}
    for label, code in (("before", src), ("after", None)):
        work = fresh_copy(data, f"identity-q-{label}-{persons}")
        out = CACHE / f"identity-links-{label}-{persons}.parquet"
        _build(work, code, out)
        pred = pl.read_parquet(out).select("source", "row", key=pl.col("person_key"))
        res[label] = quality.evaluate(pred, truth, damage, groups)
    rows = []
    for kind in res["after"]:
        b, a = res["before"].get(kind), res["after"][kind]
        rows.append(
            {
                "damage type": kind + (" (new)" if kind in NEW_TYPES else ""),
                "records": f"{a['records']:,.0f}",
                "before P": f"{b['precision']:.4f}" if b else "",
                "before R": f"{b['recall']:.4f}" if b else "",
                "after P": f"{a['precision']:.4f}",
                "after R": f"{a['recall']:.4f}",
            }
        )
    return rows


def _speed(persons: int, src: Path, repeat: int) -> dict:
    data = _ingested(persons, False) if persons >= 1_000_000 else ingested(persons)[1]
    copies = {
        label: fresh_copy(data, f"identity-s-{label}-{persons}") for label in ("before", "after")
    }
    code = {"before": src, "after": None}
    first = {label: _build(copies[label], code[label]) for label in copies}  # not timed
    walls: dict[str, list[float]] = {"before": [], "after": []}
    peaks: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(repeat):
        for label in ("before", "after"):
            wall, rss, _ = _build(copies[label], code[label])
            walls[label].append(wall)
            peaks[label].append(rss)
    for c in copies.values():
        shutil.rmtree(c, ignore_errors=True)
    before, after = statistics.median(walls["before"]), statistics.median(walls["after"])
    return {
        "residents": f"{persons:,}",
        "before full build s (median)": f"{before:.1f}",
        "after full build s (median)": f"{after:.1f}",
        "after / before": f"{after / before:.3f}",
        "before runs s": ", ".join(f"{w:.1f}" for w in walls["before"]),
        "after runs s": ", ".join(f"{w:.1f}" for w in walls["after"]),
        "before first build s": f"{first['before'][0]:.1f}",
        "after first build s": f"{first['after'][0]:.1f}",
        "before peak MB": f"{max(peaks['before']):,.0f}",
        "after peak MB": f"{max(peaks['after']):,.0f}",
    }


def run() -> dict:
    src, sha = _baseline_src(BASELINE)
    q_size = int(os.environ.get("CANBAO_BENCH_QUALITY_SIZE", "100000"))
    s_size = int(os.environ.get("CANBAO_BENCH_IDENTITY_SIZE", "1000000"))
    repeat = int(os.environ.get("CANBAO_BENCH_IDENTITY_REPEAT", "2"))
    sections = []
    if q_size:
        rows = _quality(q_size, src)
        sections.append(
            {
                "title": f"Identity damage: recall per damage type before and after ({q_size:,} residents)",
                "measured_at": now(),
                "note": (
                    f"Before = baseline commit {sha[:10]} (before the identity-damage work), "
                    "after = this tree, both building the same ingested city in child processes "
                    "and scored by the current quality module. Record-centred precision and "
                    "recall per damage type ('all' = every pair). (new) = damage the generator "
                    "learnt with this work: a typo or swap in the ID's birth-date digits, and an "
                    "ID written as a binary double by a program. Target: recall ≥ 0.995 for "
                    "each new type, precision ≥ 0.999."
                ),
                "columns": list(rows[0]),
                "rows": rows,
            }
        )
    if s_size:
        row = _speed(s_size, src, repeat)
        sections.append(
            {
                "title": f"Identity damage: full build time before and after ({s_size:,} residents)",
                "measured_at": now(),
                "note": (
                    f"Before = baseline commit {sha[:10]}, after = this tree; `build --full` in "
                    "child processes, the two versions alternating on their own copies of the "
                    f"same ingested city, {repeat} rounds, medians; each version's first build "
                    "(field derivation, model training) untimed. Target: after ≤ 1.10 × before."
                ),
                "columns": list(row),
                "rows": [row],
            }
        )
    return {"sections": _keep_previous(sections, q_size, s_size)}


def _keep_previous(sections: list[dict], q_size: int, s_size: int) -> list[dict]:
    """A part skipped in this run (size 0) keeps its section of the previous results."""
    previous = ROOT / "bench" / "results" / "bench_identity.json"
    if (q_size and s_size) or not previous.exists():
        return sections
    import json

    old = json.loads(previous.read_text(encoding="utf-8")).get("sections", [])
    keep = "recall" if not q_size else "build time"
    return [x for x in old if keep in x["title"]] + sections
