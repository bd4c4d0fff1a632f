"""Review decisions: stored append-only (``DATA/registry/decisions.jsonl``), latest wins."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from pathlib import Path
from typing import Literal

import polars as pl

from canbao.errors import UsageError

Decision = Literal["same", "different"]
DECISION_LABELS = {"same": "同一人", "different": "不同人"}


def path(data_dir: Path) -> Path:
    return data_dir / "registry" / "decisions.jsonl"


def record(
    data_dir: Path, left_key: str, right_key: str, decision: str, note: str = ""
) -> dict[str, str]:
    if decision not in DECISION_LABELS:
        raise UsageError(
            f"决定只能是 same（同一人）或 different（不同人），而不是 {decision!r}",
            "decision must be 'same' or 'different'",
        )
    entry = {
        "left_key": left_key,
        "right_key": right_key,
        "decision": decision,
        "decided_at": dt.datetime.now().isoformat(timespec="seconds"),
        "decided_by": getpass.getuser(),
        "note": note,
    }
    p = path(data_dir)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def load(data_dir: Path) -> pl.DataFrame:
    schema = {"left_key": pl.Utf8, "right_key": pl.Utf8, "decision": pl.Utf8}
    p = path(data_dir)
    if not p.exists():
        return pl.DataFrame(schema=schema)
    rows = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line]
    if not rows:
        return pl.DataFrame(schema=schema)
    df = pl.DataFrame(rows).with_row_index("_seq")
    return (
        df.sort("_seq")
        .group_by("left_key", "right_key", maintain_order=True)
        .agg(pl.col("decision").last())
        .select(list(schema))
    )
