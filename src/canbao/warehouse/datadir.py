"""Layout of a Canbao data directory (``--data-dir``, default ./canbao-data or $CANBAO_DATA_DIR).

```
DATA/
  batches/<batch_id>/batch.json         provenance and counts (the batch catalog entry)
  batches/<batch_id>/records.parquet    accepted canonical records
  batches/<batch_id>/quarantine.parquet quarantined rows, original text kept verbatim
  batches/<batch_id>/report.json|xlsx   validation report
  batches/.tmp-*/                       batches being written (renamed into place when complete)
  profiles/<source>.json                header-mapping profile of a source
  registry/                             the registry's snapshots, model and derivation cache
  plans/<code>.json                     imported plans
  region-profile.json                   the region profile the directory uses (canbao.profile)
  store.sqlite3                         the store (canbao.store) unless --database-url names one
  .lock                                 the writers' lock (:mod:`canbao.warehouse.lock`)
  .work/<pid>-<hex>/                    a running process's scratch files (DuckDB spill …)
```

Anything named ``.tmp-*`` is work in progress; a writer that was killed leaves it behind, and the
next writer removes it under the lock (:meth:`DataLayout.leftovers`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from canbao.errors import StateError


@dataclass(frozen=True)
class DataLayout:
    root: Path

    @property
    def batches(self) -> Path:
        return self.root / "batches"

    @property
    def profiles(self) -> Path:
        return self.root / "profiles"

    def batch(self, batch_id: str) -> Path:
        return self.batches / batch_id

    def profile(self, source: str) -> Path:
        return self.profiles / f"{slug(source)}.json"

    @property
    def registry(self) -> Path:
        return self.root / "registry"

    @property
    def region_profile(self) -> Path:
        """The record of the region profile in use (:mod:`canbao.profile.datadir`); not to be
        confused with ``profiles/``, the header-mapping profiles of ingest."""
        return self.root / "region-profile.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def work(self) -> Path:
        """Scratch folders of running processes (:func:`canbao.warehouse.lock.work_dir`)."""
        return self.root / ".work"

    def leftovers(self) -> Iterator[Path]:
        """Work in progress of writers: stale (to be removed) when no writer holds the lock."""
        yield from self.batches.glob(".tmp-*")
        yield from self.profiles.glob("*.tmp")
        yield from (self.registry / "snapshots").glob(".tmp-*")
        yield from (self.registry / "cache").glob("*/.tmp-*")
        yield from (self.registry / "model").glob(".tmp-*")
        yield from self.registry.glob("*.tmp")
        yield from (self.root / "plans").glob(".plan-*")

    def ensure(self) -> DataLayout:
        require_dir(self.root)
        self.batches.mkdir(parents=True, exist_ok=True)
        self.profiles.mkdir(parents=True, exist_ok=True)
        return self

    def new_tmp(self) -> Path:
        p = self.batches / f".tmp-{uuid.uuid4().hex[:12]}"
        p.mkdir(parents=True)
        return p


def require_dir(root: Path) -> None:
    """Raise :class:`StateError` when ``root`` exists and is not a directory (a data directory
    that does not exist yet is fine: writers create it, readers find nothing in it)."""
    if root.exists() and not root.is_dir():
        raise StateError(
            f"数据目录“{root}”不是目录，请用 --data-dir 指定一个目录",
            "the data directory is not a directory",
        )


def slug(text: str) -> str:
    """A file-name-safe form of a source name (ASCII word characters kept, others hex)."""
    out = re.sub(r"[^A-Za-z0-9_.-]", lambda m: f"x{ord(m.group(0)):x}", text.strip())
    return out[:80] or "source"
