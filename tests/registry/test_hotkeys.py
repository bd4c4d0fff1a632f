"""Hot keys: a collective household, a switchboard phone and a huge employer do not make scoring
quadratic, the join-size guard stops a step that would explode, and an incremental build whose
hot set changed rescores the nodes of the values that crossed a threshold
(canbao.registry.hotkeys, canbao.warehouse.skew)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from canbao.registry import api, hotkeys, snapshot
from canbao.registry.engine import DuckDBEngine
from canbao.warehouse import skew
from tests.registry.fixtures import Source, make_id, share_key_secret

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"


def _member(i: int, household: str) -> dict[str, Any]:
    birth = f"{1995 + i % 8}{1 + i % 12:02d}{1 + i % 28:02d}"
    return {
        "id": make_id("360402", birth, 100 + i),
        "name": SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)] + GIVEN[i % 11],
        "sex": "M" if (100 + i) % 2 else "F",
        "birth_date": f"{birth[:4]}-{birth[4:6]}-{birth[6:]}",
        "household_id": household,
        "county_code": "360402",
        "phone": "07922222222",  # the school's switchboard
    }


def _source(members: int, extra: int = 0) -> Source:
    src = Source()
    people = [_member(i, "集体户0001") for i in range(members)]
    src.add("population", people, "police_hukou", "b1")
    if extra:
        more = [_member(i, "集体户0001") for i in range(members, members + extra)]
        src.add("population", more, "police_hukou", f"b3-{extra}")
    # enrolments: one member's ID is missing (found through name + birth), one has a typo
    enrol = [{"id": p["id"], "name": p["name"], "scheme": "resident_medical"} for p in people[:40]]
    enrol.append(
        {"id": None, "name": people[5]["name"], "birth_date": people[5]["birth_date"],
         "scheme": "resident_medical"}
    )  # fmt: skip
    src.add("enrollment", enrol, "si_resident_medical", "b2")
    return src


def _persons(data: Path) -> pl.LazyFrame:
    return snapshot.require_current(data).scan("links").select("source", "row", "person_key")


def test_estimate_join_known_answer() -> None:
    with DuckDBEngine() as eng:
        eng.execute(
            "CREATE TABLE l AS SELECT * FROM (VALUES ('a'), ('a'), ('a'), ('b'), (NULL)) t(k)"
        )
        eng.execute(
            "CREATE TABLE r AS SELECT * FROM (VALUES ('a'), ('a'), ('b'), ('b'), ('b'), ('b'), "
            "('b'), ('c'), (NULL)) t(k)"
        )
        est = skew.estimate_join(eng, "测试", "l", "r", ["k"], personal=False)
        assert (est.left_rows, est.right_rows, est.output_rows) == (4, 8, 3 * 2 + 1 * 5)
        assert (est.hot_value, est.hot_left, est.hot_right) == ("a", 3, 2)
        real = eng.scalar("SELECT count(*) FROM l JOIN r ON l.k = r.k")
        assert real == est.output_rows
        hidden = skew.estimate_join(eng, "测试", "l", "r", ["k"])
        assert hidden.hot_value is None


def test_guard_message(monkeypatch: pytest.MonkeyPatch) -> None:
    est = skew.JoinEstimate(
        "按单位找本人", ("employer_key", "name"), 1000, 1000, 10**9, 40000, 25000, None
    )
    monkeypatch.delenv("CANBAO_JOIN_LIMIT", raising=False)
    monkeypatch.delenv("CANBAO_JOIN_FLOOR", raising=False)
    with pytest.raises(skew.JoinTooLarge) as err:
        skew.check(est)
    msg = err.value.message_zh
    assert "按单位找本人" in msg and "employer_key" in msg and "CANBAO_JOIN_LIMIT" in msg
    assert "40,000" in msg and "不显示取值" in msg
    small = skew.JoinEstimate("x", ("k",), 10, 10, 5_000_000, 10, 10, None)
    assert skew.check(small) is small  # below the floor: small inputs never trip
    monkeypatch.setenv("CANBAO_JOIN_LIMIT", "abc")
    with pytest.raises(skew.UsageError):
        skew.check(small)


def test_blocked_view_caps_hot_values() -> None:
    with DuckDBEngine() as eng:
        rows = []
        for i in range(150):  # a collective household, one phone, one employer
            rows.append(
                (
                    "集体户",
                    "07920000000" if i < 30 else f"1390000{i:04d}",
                    "ORG1",
                    "王伟" if i < 210 else "x",
                    "360402",
                    "wang",
                    "wangwei",
                    "19900101",
                )
            )
        for i in range(3):
            rows.append(("家庭户", f"1380000{i:04d}", "ORG2", "李娜", "360402", "li", "lina",
                         "19800101"))  # fmt: skip
        frame = pl.DataFrame(
            rows,
            schema=["household_key", "phone_key", "employer_org", "name_norm", "county_code",
                    "surname_py", "name_pinyin", "birth"],
            orient="row",
        ).with_columns(owner_household=pl.col("household_key"))  # fmt: skip
        eng.create_table_from_arrow("n", frame.to_arrow())
        old = dict(hotkeys.HOT_KEYS)
        try:
            hotkeys.HOT_KEYS["employer"] = ("employer_org", 100)
            hotkeys.HOT_KEYS["name_county"] = ("name_norm || '|' || county_code", 100)
            hotkeys.build(eng, "n")
            assert hotkeys.counts(eng) == {
                "household": 1, "phone": 1, "employer": 1, "name_county": 1
            }  # fmt: skip
            hotkeys.blocked_view(eng, "n", "nb")
            got = eng.fetch(
                "SELECT household_key, phone_key, hh_block, owner_hh_block, phone_block, "
                "employer_block, name_county_block FROM nb"
            )
        finally:
            hotkeys.HOT_KEYS.clear()
            hotkeys.HOT_KEYS.update(old)
    hot = got.filter(pl.col("household_key") == "集体户")
    fam = got.filter(pl.col("household_key") == "家庭户")
    assert hot["hh_block"].null_count() == 150 and hot["owner_hh_block"].null_count() == 150
    assert fam["hh_block"].to_list() == ["家庭户"] * 3
    assert hot.filter(pl.col("phone_key") == "07920000000")["phone_block"].null_count() == 30
    assert hot["phone_block"].null_count() == 30  # the others keep their own phones
    assert set(hot["employer_block"]) == {"ORG1|wangwei"}  # name within a hot employer
    assert set(fam["employer_block"]) == {"ORG2|li"}  # surname within an ordinary one
    assert set(hot["name_county_block"]) == {"王伟|360402|1990"}
    assert set(fam["name_county_block"]) == {"李娜|360402"}


def test_collective_household_build(tmp_path: Path) -> None:
    data = tmp_path / "d"
    api.build(data, source=_source(150))
    snap = snapshot.require_current(data)
    assert snap.info["hot_key_counts"]["household"] == 1
    assert snap.info["hot_key_counts"]["phone"] == 1
    links = snap.scan("links").collect()
    # the enrolment without ID reaches its owner through name + birth date
    enrol = links.filter(pl.col("source") == "si_resident_medical").sort("row")
    owner = enrol.filter(pl.col("row") == 6)["person_key"][0]
    assert enrol.filter(pl.col("row") == 41)["person_key"][0] == owner
    assert links["person_key"].n_unique() == 150


def test_guard_stops_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANBAO_JOIN_LIMIT", "0.0001")
    monkeypatch.setenv("CANBAO_JOIN_FLOOR", "0")
    with pytest.raises(skew.JoinTooLarge) as err:
        api.build(tmp_path / "d", source=_source(60))
    assert "概率关联分块" in err.value.message_zh
    assert snapshot.current(tmp_path / "d") is None  # nothing half-published


def _tables(data: Path) -> dict[str, pl.DataFrame]:
    snap = snapshot.require_current(data)
    keys = {
        "links": ["source", "row", "person_key"],  # (source, row) repeats across two batches
        "persons": ["person_key"],
        "pairs": ["node_id_l", "node_id_r"],
        "review_items": ["pair_id"],
        "b_cluster": ["node_id"],
        "hot_keys": ["kind", "value"],  # the hot set and counts the next build starts from
    }
    return {t: snap.scan(t).collect().sort(k) for t, k in keys.items()}


def test_a_hot_set_change_is_followed_incrementally(tmp_path: Path) -> None:
    """A household crossing its threshold (and falling back): the nodes that carry it are
    rescored with their new capped keys, and the update still equals a full build."""
    data = tmp_path / "d"
    api.build(data, source=_source(90))
    assert api.build(data, source=_source(90, extra=5)).mode == "incremental"  # 95: not hot
    for extra in (30, 4, 31):  # over the threshold of 100 nodes, under it, over it again
        if extra == 31:
            # a snapshot from before the hot set was kept: counted over every node again
            (snapshot.require_current(data).path / "hot_keys.parquet").unlink()
        src = _source(90, extra=extra)
        said: list[str] = []
        res = api.build(data, source=src, progress=said.append)
        assert res.mode == "incremental"
        info = json.loads((res.path / "build.json").read_text(encoding="utf-8"))
        assert info["hot_key_counts"]["household"] == (0 if extra == 4 else 1)
        assert info["incremental"]["hot_key_nodes_rescored"] >= 94
        assert any("高频键有变化" in s for s in said)
        again = tmp_path / f"again-{extra}"
        shutil.copytree(data / "registry" / "model", again / "registry" / "model")
        share_key_secret(data, again)
        api.build(again, source=src, full=True)
        a, b = _tables(data), _tables(again)
        for t in a:
            assert a[t].equals(b[t]), (extra, t)
