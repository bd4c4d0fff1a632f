"""Layout of a Canbao data directory (``--data-dir``, default ./canbao-data or $CANBAO_DATA_DIR).

```
DATA/
  batches/<batch_id>/batch.json         provenance and counts (the batch catalog entry)
  batches/<batch_id>/records.parquet    accepted canonical records
  batches/<batch_id>/quarantine.parquet quarantined rows, original text kept verbatim
  batches/<batch_id>/report.json|xlsx   validation report
  batches/.tmp-*/                       batches being written (renamed into place when complete)
  profiles/<source>.json                header-mapping profile of a source
```
"""

from __future__ import annotations

import re
import shutil
import uuid
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

    def ensure(self) -> DataLayout:
        if self.root.exists() and not self.root.is_dir():
            raise StateError(
                f"数据目录“{self.root}”不是目录", f"data dir is not a directory: {self.root}"
            )
        self.batches.mkdir(parents=True, exist_ok=True)
        self.profiles.mkdir(parents=True, exist_ok=True)
        return self

    def new_tmp(self) -> Path:
        p = self.batches / f".tmp-{uuid.uuid4().hex[:12]}"
        p.mkdir(parents=True)
        return p

    def clean_stale_tmp(self) -> None:
        for p in self.batches.glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)


def slug(text: str) -> str:
    """A file-name-safe form of a source name (ASCII word characters kept, others hex)."""
    out = re.sub(r"[^A-Za-z0-9_.-]", lambda m: f"x{ord(m.group(0)):x}", text.strip())
    return out[:80] or "source"
