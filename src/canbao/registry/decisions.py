"""Review decisions: stored append-only (``DATA/registry/decisions.jsonl``), latest wins."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from pathlib import Path
from typing import BinaryIO, Literal

import polars as pl

from canbao.errors import DataError, UsageError
from canbao.warehouse.lock import writes_data_dir

Decision = Literal["same", "different"]
DECISION_LABELS = {"same": "同一人", "different": "不同人"}


def path(data_dir: Path) -> Path:
    return data_dir / "registry" / "decisions.jsonl"


@writes_data_dir("decide")
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
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    with p.open("a+b") as fh:
        _drop_torn_tail(fh)
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())  # a person's decision is never lost to a crash after "recorded"
    return entry


def _drop_torn_tail(fh: BinaryIO) -> None:
    """A crash in the middle of an append leaves a last line without its newline: cut it off
    (under the writer lock) so the next entry starts on a line of its own."""
    size = fh.seek(0, os.SEEK_END)
    if size == 0:
        return
    fh.seek(size - 1)
    if fh.read(1) == b"\n":
        return
    start = max(0, size - 65536)
    fh.seek(start)
    tail = fh.read()
    cut = tail.rfind(b"\n")
    fh.truncate(start + cut + 1 if cut >= 0 else 0)


def load(data_dir: Path) -> pl.DataFrame:
    schema = {"left_key": pl.Utf8, "right_key": pl.Utf8, "decision": pl.Utf8}
    p = path(data_dir)
    if not p.exists():
        return pl.DataFrame(schema=schema)
    text = p.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1]:
        lines = lines[:-1]  # a line without its newline was torn by a crash: never recorded
    rows = []
    for i, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DataError(
                f"复核决定文件“{p}”第 {i} 行已损坏，请从备份恢复或删除该行",
                f"corrupt decision line {i}",
            ) from e
    if not rows:
        return pl.DataFrame(schema=schema)
    df = pl.DataFrame(rows).with_row_index("_seq")
    return (
        df.sort("_seq")
        .group_by("left_key", "right_key", maintain_order=True)
        .agg(pl.col("decision").last())
        .select(list(schema))
    )
