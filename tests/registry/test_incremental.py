"""Incremental updates equal a full rebuild; review decisions are respected by later builds."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from canbao.registry import api, snapshot
from tests.registry import test_deterministic as base
from tests.registry.fixtures import Source, make_id

NEW = make_id("360483", "19770707", 52)  # 周敏 (F), new in month 2


def _month2(src: Source) -> Source:
    src.add(
        "enrollment",
        [
            {"id": NEW, "name": "周敏", "scheme": "resident_medical"},
            {"id": None, "name": "周敏", "birth_date": "1977-07-07", "scheme": "resident_medical"},
            {"id": base.C, "name": "李娜", "scheme": "resident_medical"},
            {
                "id": None,
                "name": "王小明",
                "birth_date": "2005-06-06",
                "scheme": "resident_medical",
            },
        ],
        "si_resident_medical",
        "b3",
    )
    src.add(
        "population",
        [{"id": NEW, "name": "周敏", "sex": "F", "birth_date": "1977-07-07", "household_id": "H9"}],
        "police_hukou_2",
        "b4",
    )
    return src


def _tables(data: Path) -> dict[str, pl.DataFrame]:
    snap = snapshot.require_current(data)
    out = {}
    for t, key in (
        ("links", ["source", "row"]),
        ("persons", ["person_key"]),
        ("pairs", ["node_id_l", "node_id_r"]),
        ("review_items", ["pair_id"]),
        ("nodes", ["node_id"]),
    ):
        out[t] = pl.read_parquet(snap.table(t)).sort(key)
    return out


def test_incremental_equals_full_rebuild(tmp_path: Path) -> None:
    inc = tmp_path / "inc"
    api.build(inc, source=base._source())
    result = api.build(inc, source=_month2(base._source()))
    assert result.mode == "incremental"
    full = tmp_path / "full"
    shutil.copytree(inc / "registry" / "model", full / "registry" / "model")
    result_full = api.build(full, source=_month2(base._source()), full=True)
    assert result_full.mode == "full"
    a, b = _tables(inc), _tables(full)
    for t in a:
        assert a[t].drop("batch_id", strict=False).equals(b[t].drop("batch_id", strict=False)), t
    keys = {(r["source"], r["row"]): r["person_key"] for r in a["links"].iter_rows(named=True)}
    assert keys[("si_resident_medical", 1)] == keys[("police_hukou_2", 1)]
    assert keys[("si_resident_medical", 3)] == keys[("police_hukou", 3)]


def test_incremental_scores_only_new_nodes(tmp_path: Path) -> None:
    api.build(tmp_path, source=base._source())
    n_before = pl.read_parquet(snapshot.require_current(tmp_path).table("nodes")).height
    result = api.build(tmp_path, source=_month2(base._source()))
    info = snapshot.require_current(tmp_path).info
    assert result.mode == "incremental" and info["previous"] is not None
    assert result.counts["nodes"] > n_before


def _with_namesake_query() -> Source:
    src = _month2(base._source())
    # no ID, the name and birthday of two trusted namesakes: the model must not guess
    src.add(
        "special_group",
        [{"id": None, "name": "王伟", "birth_date": "1980-01-01", "county_code": "360402"}],
        "civil_low_income",
        "b5",
    )
    return src


def test_ambiguous_namesake_goes_to_review_and_decision_is_respected(tmp_path: Path) -> None:
    api.build(tmp_path, source=_with_namesake_query())
    items = api.review_items(tmp_path)
    keys = {
        (r["source"], r["row"]): r["person_key"] for r in api.links(tmp_path).iter_rows(named=True)
    }
    query_key = keys[("civil_low_income", 1)]
    assert query_key not in (keys[("police_hukou", 1)], keys[("police_hukou", 2)])
    mine = items.filter(pl.col("left_name") == "王伟")
    assert mine.height >= 1, "the namesake query must be queued for review"
    target = mine.row(0, named=True)
    api.decide(tmp_path, target["pair_id"], "same", note="核实为同一人")
    api.build(tmp_path, source=_with_namesake_query())
    keys2 = {
        (r["source"], r["row"]): r["person_key"] for r in api.links(tmp_path).iter_rows(named=True)
    }
    owner = [
        k
        for k, v in keys2.items()
        if k[0] == "police_hukou" and k[1] in (1, 2) and v == keys2[("civil_low_income", 1)]
    ]
    assert len(owner) == 1, "after the decision the record joins exactly the chosen person"
    assert target["pair_id"] not in api.review_items(tmp_path)["pair_id"].to_list()
