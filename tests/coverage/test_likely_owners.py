"""Records without ID in the gap lists: coverage reads the registry's likely owners, and a
reviewer's "different" removes the record from the person's flags (issue 15, item 4)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from canbao.coverage import api, deceased, duplicates, gaps
from canbao.errors import StateError
from canbao.registry import api as registry
from canbao.registry import snapshot
from tests.registry.test_owners import QIAN, ZHANG, ZHOU, city
from tests.scopes import SYSTEM


def _flags(data: Path) -> dict[str, set[str]]:
    """ID → what the lists say about the person through a record without ID."""
    with api.session(data, SYSTEM) as s:
        s.ensure("deceased_enrolled", deceased.build_deceased)
        s.ensure("duplicates", duplicates.build_duplicates)
        s.ensure("uninsured", gaps.build_uninsured)
        frames = {
            "deceased_via_unlinked": s.frame(
                "SELECT person_key FROM deceased_enrolled WHERE via_unlinked = 1"
            ),
            "duplicate_via_unlinked": s.frame(
                "SELECT person_key FROM duplicates WHERE via_unlinked = 1"
            ),
            "identity_to_verify": s.frame(
                f"SELECT person_key FROM ({gaps.identity_to_verify_sql(s)}) v "
                "WHERE other_person_key IS NOT NULL"
            ),
            "uninsured_medical": s.frame("SELECT person_key FROM uninsured WHERE medical_gap = 1"),
        }
    ids = dict(registry.persons(data, SYSTEM, reveal=True).select("person_key", "id18").iter_rows())
    out: dict[str, set[str]] = {}
    for flag, frame in frames.items():
        for key in frame["person_key"]:
            out.setdefault(ids[key], set()).add(flag)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("cov-owners")
    registry.build(data, source=city())
    return data


def test_records_without_id_reach_their_likely_owner(built: Path) -> None:
    flags = _flags(built)
    assert flags.get(ZHANG) == {"identity_to_verify"}  # not uninsured: his record is verified
    assert flags.get(QIAN) == {"deceased_via_unlinked"}
    assert flags.get(ZHOU) == {"duplicate_via_unlinked"}


def test_a_different_decision_removes_the_record_from_the_flags(
    built: Path, tmp_path: Path
) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(built, data)
    items = registry.review_items(data, SYSTEM).filter(pl.col("reason") == "likely_owner")
    assert items.height == 3
    for pair_id in items["pair_id"]:
        registry.decide(data, pair_id, "different")
    registry.build(data, source=city())
    assert snapshot.require_current(data).scan("likely_owners").collect().height == 0
    flags = _flags(data)
    assert flags.get(ZHANG) == {"uninsured_medical"}  # the gap is his again
    assert QIAN not in flags and ZHOU not in flags
    assert (
        registry.review_items(data, SYSTEM).filter(pl.col("reason") == "likely_owner").height == 0
    )


def test_a_snapshot_without_likely_owners_asks_for_a_rebuild(built: Path, tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(built, data)
    (snapshot.require_current(data).path / "likely_owners.parquet").unlink()
    with pytest.raises(StateError, match="canbao build"):
        _flags(data)
    assert registry.build(data, source=city()).mode == "incremental"  # enough to mend it
    assert _flags(data) == _flags(built)
