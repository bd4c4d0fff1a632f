"""A re-delivered full extract is compared row by row with the batch it supersedes: unchanged
rows keep their record identity, and the catalog and report count 新增 / 变更 / 删除."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canbao.ingest import api, redelivery
from canbao.ingest.batches import ingest_file
from canbao.standards import citizen_id
from tests.ingest.helpers import write_csv

HEADER = "姓名,公民身份号码,性别,住址,行政区划代码"


def _id(i: int) -> str:
    body = f"3604021990{(i % 12) + 1:02d}{(i % 28) + 1:02d}{i % 1000:03d}"
    return body + citizen_id.compute_check_char(body)


def _people(n: int) -> list[list[str]]:
    counties = ["360402", "360403", "360424"]
    return [[f"人{i:03d}", _id(i), "男", f"某街{i}号", counties[i % 3]] for i in range(n)]


def _write(path: Path, header: str, rows: list[list[str]]) -> Path:
    return write_csv(path, [header, *(",".join(r) for r in rows)])


def _ingest(data: Path, path: Path, as_of: str) -> api.IngestResult:
    return ingest_file(data, path, source="police", kind="population", as_of=as_of)


def _identity(data: Path, batch_id: str) -> pl.DataFrame:
    return pl.read_parquet(data / "batches" / batch_id / "records.parquet").select(
        "row", "id_norm", "rec_id", "rec_as_of"
    )


def test_redelivery_counts_and_keeps_identity(tmp_path: Path) -> None:
    data = tmp_path / "data"
    people = _people(30)
    first = _ingest(data, _write(tmp_path / "jan.csv", HEADER, people), "2026-01-31").batch
    assert first.changes is None  # supersedes nothing
    old = _identity(data, first.batch_id)
    assert old["rec_id"].to_list() == [f"{first.batch_id}:{r}" for r in old["row"]]

    feb = [list(r) for r in people]
    for i in (1, 4, 6):  # three addresses edited (two in 360403, one in 360402)
        feb[i][3] = f"新街{i}号"
    gone = {feb[10][1], feb[11][1]}  # two rows removed (360403, 360424)
    feb = [r for r in feb if r[1] not in gone]
    feb += [[f"新人{i}", _id(500 + i), "女", "某路", "360424"] for i in range(4)]  # four added
    feb.reverse()  # a new row order …
    # … and another column order and other header words: still compared by content
    header = "户籍地址,证件号码,姓名,性别,区划代码"
    order = [3, 1, 0, 2, 4]
    res = _ingest(
        data,
        _write(tmp_path / "feb.csv", header, [[r[i] for i in order] for r in feb]),
        "2026-02-28",
    )
    ch = res.batch.changes
    assert ch is not None and ch["base"] == [first.batch_id]
    assert (ch["unchanged"], ch["changed"], ch["added"], ch["removed"]) == (25, 3, 4, 2)
    assert ch["by_county"] == {
        "360402": {"added": 0, "changed": 1, "removed": 0},
        "360403": {"added": 0, "changed": 2, "removed": 1},
        "360424": {"added": 4, "changed": 0, "removed": 1},
    }
    assert "新增 4 行，变更 3 行，删除 2 行，未变 25 行" in res.message_zh

    new = _identity(data, res.batch.batch_id)
    by_id = dict(zip(old["id_norm"], old["rec_id"], strict=True))
    edited = {_id(i) for i in (1, 4, 6)}
    for row in new.iter_rows(named=True):
        if row["id_norm"] in by_id and row["id_norm"] not in edited:
            # unchanged: the January record, its as-of date included
            assert row["rec_id"] == by_id[row["id_norm"]]
            assert row["rec_as_of"] == dt.date(2026, 1, 31)
        else:  # changed or added: a record of this batch
            assert row["rec_id"] == f"{res.batch.batch_id}:{row['row']}"
            assert row["rec_as_of"] == dt.date(2026, 2, 28)
    # the catalog and the report carry the counts; current_records gives the identity
    listed = {b.batch_id: b for b in api.batches(data)}
    assert listed[res.batch.batch_id].changes == ch
    rep = json.loads((data / "batches" / res.batch.batch_id / "report.json").read_text("utf-8"))
    assert rep["changes"] == ch
    cur = api.current_records(data, "population").collect()
    assert cur["rec_id"].n_unique() == cur.height == 32
    # the superseded identities it does not carry on: the old side of the changes and the
    # removed rows, listed beside the batch (none beside a batch that supersedes nothing)
    listed_gone = pl.read_parquet(data / "batches" / res.batch.batch_id / redelivery.GONE_FILE)
    want = sorted(by_id[i] for i in (edited | gone))
    assert listed_gone["rec_id"].to_list() == want
    assert not (data / "batches" / first.batch_id / redelivery.GONE_FILE).exists()


def test_identical_redelivery_and_chained_identity(tmp_path: Path) -> None:
    data = tmp_path / "data"
    people = _people(12)
    first = _ingest(data, _write(tmp_path / "a.csv", HEADER, people), "2026-01-31").batch
    shuffled = people[6:] + people[:6]
    second = _ingest(data, _write(tmp_path / "b.csv", HEADER, shuffled), "2026-02-28")
    assert second.batch.changes is not None
    assert second.batch.changes["unchanged"] == 12
    assert "内容完全相同" in second.message_zh
    # a third month with one edit: unchanged rows still carry the January identity
    people[0][3] = "改了"
    third = _ingest(data, _write(tmp_path / "c.csv", HEADER, people), "2026-03-31").batch
    assert third.changes is not None and third.changes["base"] == [second.batch.batch_id]
    ids = _identity(data, third.batch_id)["rec_id"].to_list()
    assert sum(i.startswith(first.batch_id + ":") for i in ids) == 11
    assert sum(i.startswith(third.batch_id + ":") for i in ids) == 1


def test_a_second_part_at_the_same_date_supersedes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _ingest(data, _write(tmp_path / "north.csv", HEADER, _people(5)), "2026-01-31")
    part = _ingest(data, _write(tmp_path / "south.csv", HEADER, _people(8)[5:]), "2026-01-31")
    assert part.batch.changes is None
    late = _ingest(data, _write(tmp_path / "old.csv", HEADER, _people(3)), "2025-12-31")
    assert late.batch.changes is None  # older than the current batches: not current itself


# compare() on its own: whatever the two deliveries, the counts add up and identity pairs
# one to one (duplicates included)
Row = tuple[str, int, str]
_ROW = st.tuples(
    st.sampled_from(["甲", "乙", "丙"]), st.integers(0, 3), st.sampled_from(["a", "b"])
)


def _frame(rows: list[Row], batch: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "batch_id": [batch] * len(rows),
            "source": ["s"] * len(rows),
            "kind": ["population"] * len(rows),
            "scheme": pl.Series([None] * len(rows), dtype=pl.Utf8),
            "as_of": [dt.date(2026, 1, 31)] * len(rows),
            "row": list(range(1, len(rows) + 1)),
            "name_norm": [r[0] for r in rows],
            "id_norm": [f"id{r[1]}" for r in rows],
            "address": [r[2] for r in rows],
        },
        schema_overrides={"row": pl.Int64},
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(_ROW, max_size=12), st.lists(_ROW, max_size=12))
def test_compare_counts_add_up(old: list[Row], new: list[Row]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "old" / "records.parquet"
        path.parent.mkdir()
        first, _ = redelivery.compare(_frame(old, "old"), "population", "old", [])
        first.write_parquet(path)
        out, ch = redelivery.compare(_frame(new, "new"), "population", "new", [path])
    assert ch is not None
    common = sum((_count(old) & _count(new)).values())
    assert ch.unchanged == common
    assert ch.added + ch.changed == len(new) - common
    assert ch.removed + ch.changed == len(old) - common
    kept = [i for i in out["rec_id"] if i.startswith("old:")]
    assert len(kept) == len(set(kept)) == common
    assert ch.identical == (Counter(old) == Counter(new))
    # the superseded identities not carried on are exactly the others, each once
    assert ch.gone is not None
    olds = {f"old:{r}" for r in range(1, len(old) + 1)}
    assert sorted(ch.gone.to_list()) == sorted(olds - set(kept))
    assert ch.gone.len() == ch.removed + ch.changed


def _count(rows: list[Row]) -> Counter[Row]:
    return Counter(rows)


def test_unchanged_rows_are_not_normalised_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-delivery normalises only its new text; the rest takes the superseded rows' values,
    and the batch equals one ingested from scratch (identity aside)."""
    from canbao.ingest import normalize

    people = _people(40)
    data = tmp_path / "data"
    _ingest(data, _write(tmp_path / "a.csv", HEADER, people), "2026-01-31")
    again = [list(r) for r in people[:-2]]  # two rows gone …
    again[3][3] = "改过的地址"  # … one address edited, one new resident
    again.append(["新人", _id(900), "女", "某路", "360424"])
    again.reverse()
    path = _write(tmp_path / "b.csv", HEADER, again)
    seen: list[int] = []
    real = normalize.normalize

    def spy(text: pl.DataFrame, *args: object, **kwargs: object) -> pl.DataFrame:
        seen.append(text.height)
        return real(text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(normalize, "normalize", spy)
    res = _ingest(data, path, "2026-02-28")
    assert seen == [2]  # the edited row and the new one
    monkeypatch.setattr(normalize, "normalize", real)
    alone = _ingest(tmp_path / "alone", path, "2026-02-28")
    assert alone.batch.batch_id == res.batch.batch_id
    a = pl.read_parquet(data / "batches" / res.batch.batch_id / "records.parquet")
    b = pl.read_parquet(tmp_path / "alone" / "batches" / res.batch.batch_id / "records.parquet")
    assert a.drop("rec_id", "rec_as_of").equals(b.drop("rec_id", "rec_as_of"))
    assert res.batch.changes is not None
    assert (res.batch.changes["unchanged"], res.batch.changes["changed"]) == (37, 1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.text(alphabet=" \t\u3000\u00a0\u2003\u200bａx0", max_size=3)),
        min_size=1,
        max_size=4,
    )
)
def test_fields_present_is_what_cleaning_keeps(values: list[str | None]) -> None:
    """The fast test of which fields a file has agrees with cleaning every cell."""
    from canbao.ingest import kinds, normalize

    for kind in ("population", "employer"):
        cols = {f.name: pl.Series(values, dtype=pl.Utf8) for f in kinds.FIELDS[kind]}
        text = pl.DataFrame({"row": list(range(1, len(values) + 1)), **cols})
        cleaned = normalize._cleaned(text, kind)
        assert normalize.present_fields(text, kind) == normalize.present_fields(
            cleaned, kind, cleaned=True
        )
