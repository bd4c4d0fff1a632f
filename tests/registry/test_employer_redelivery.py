"""The tax withholding file re-delivered twice (全量重报), updated incrementally: its employer
records are carried on from the superseded batch, only the employer links that changed are
written, and every table equals a full rebuild's.

January: rows removed, employer names edited, one employer's code left off some rows (those
records then link on the name) and a row added. February: January's rows again plus one row of
a new employer under that employer's name, so the name is no longer unique and January's
uncoded records (carried on, unchanged) become a surrogate employer.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl
import pytest

from canbao.ingest import api as ingest_api
from canbao.registry import api, employer_records, record_cache, snapshot
from canbao.standards import credit_code
from tests.registry.city import ingest, make_city, redeliver
from tests.registry.test_monthly_update import KEYS

TAX = "tax_iit"
TABLES = {**KEYS, "employer_vkeys": ["vkey"]}


def _january(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    code, name = header.index("扣缴义务人识别号"), header.index("扣缴义务人名称")
    rows = [list(r) for i, r in enumerate(rows) if i % 97 != 13]
    first = rows[0][code]
    for i, r in enumerate(rows):
        if i % 40 == 7:
            r[name] = r[name] + "二部"
        elif r[code] == first and i % 3 == 0:
            r[code] = ""
    rows.append(list(rows[5]))
    return rows


def _february(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    code = header.index("扣缴义务人识别号")
    first = rows[0][code]  # the employer whose code January leaves off some rows
    rows = _january(header, rows)
    new = list(next(r for r in rows if r[code] == first))
    new[code] = credit_code.make_uscc("9", "1", first[2:8], "99999990")
    rows.append(new)
    return rows


def _full_copy(inc: Path, out: Path) -> snapshot.Snapshot:
    shutil.copytree(inc, out)
    shutil.rmtree(out / "registry" / "cache")  # every record's fields afresh
    assert api.build(out, full=True).mode == "full"
    return snapshot.require_current(out)


class Months(NamedTuple):
    inc: Path  # updated incrementally: January, then February
    jan: snapshot.Snapshot  # its January snapshot
    jan_full: snapshot.Snapshot  # January rebuilt in full
    feb_full: snapshot.Snapshot  # February rebuilt in full
    matched: int  # carries of the incremental builds that matched every carried identity


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> Months:
    city = make_city(tmp_path_factory.mktemp("tax-city"), persons=1000, seed=5)
    inc = tmp_path_factory.mktemp("tax-inc") / "data"
    ingest(city, inc)
    assert api.build(inc).mode == "full"
    files = tmp_path_factory.mktemp("tax-files")
    matched: list[int] = []
    by_keys = record_cache._gone_by_keys

    def counting(*args: Any) -> Any:
        matched.append(1)
        return by_keys(*args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(record_cache, "_gone_by_keys", counting)
        redeliver(city, inc, files / "jan", TAX, "2018-01-31", _january)
        assert api.build(inc).mode == "incremental"
        jan = snapshot.require_current(inc)
        jan_full = _full_copy(inc, tmp_path_factory.mktemp("tax-jan-full") / "data")
        redeliver(city, inc, files / "feb", TAX, "2018-02-28", _february)
        assert api.build(inc).mode == "incremental"
    feb_full = _full_copy(inc, tmp_path_factory.mktemp("tax-feb-full") / "data")
    return Months(inc, jan, jan_full, feb_full, len(matched))


def _same(a: snapshot.Snapshot, b: snapshot.Snapshot) -> None:
    for table, key in TABLES.items():
        assert a.scan(table).collect().sort(key).equals(b.scan(table).collect().sort(key)), table
    assert a.info["counts"] == b.info["counts"]


def test_each_month_equals_a_full_rebuild(months: Months) -> None:
    _same(months.jan, months.jan_full)
    _same(snapshot.require_current(months.inc), months.feb_full)


def test_each_employer_record_links_once(months: Months) -> None:
    """Uncoded records without a county link on the name city-wide, once (a name index by
    GROUPING SETS once linked them twice)."""
    for snap in (months.jan, months.jan_full, snapshot.require_current(months.inc)):
        links = snap.scan("employer_links").collect()
        assert links.filter(pl.col("method").is_in(["name", "surrogate"])).height > 3
        assert links.select("batch_id", "row").is_unique().all()


def test_only_the_changed_employer_links_are_written(months: Months) -> None:
    for snap in (months.jan, snapshot.require_current(months.inc)):
        assert snap.info["incremental"]["employers_rebuilt"]
        layers = snap.layers("employer_links")
        assert layers is not None  # updated, not rewritten
        assert 0 < layers["delta"] < layers["base"] / 10


def test_the_redelivered_batches_carry_their_employer_records(months: Months) -> None:
    # ingest's list of the identities each re-delivery drops was enough: no carry (person or
    # employer records) matched every carried identity
    assert months.matched == 0
    cache = months.inc / "registry" / "cache"
    redelivered = [b for b in ingest_api.batches(months.inc) if b.source == TAX and b.changes]
    assert len(redelivered) == 2
    for batch in redelivered:
        ch = batch.changes
        assert ch is not None and ch["unchanged"] > 1000
        entry = employer_records.cached_entry(cache, batch.batch_id)
        assert entry is not None and entry.carried and entry.gone is not None, batch.as_of
        olds = [employer_records.cached_entry(cache, b) for b in ch["base"]]
        assert [p.stat().st_ino for p in entry.carried] == [
            p.stat().st_ino for o in olds if o is not None for p in o.files()
        ]
        own = pl.read_parquet(list(entry.own)) if entry.own else None
        assert (0 if own is None else own.height) == ch["added"] + ch["changed"]
        # the records equal the batch computed whole (the full rebuild's cache of its month)
        full = months.jan_full if batch.as_of.month == 1 else months.feb_full
        whole = employer_records.cached_entry(full.path.parents[1] / "cache", batch.batch_id)
        assert whole is not None and not whole.carried
        got = entry.scan().collect().sort("rec_key")
        assert got.height == batch.accepted
        assert got.equals(whole.scan().collect().sort("rec_key"))


def test_carried_records_move_when_their_name_becomes_ambiguous(months: Months) -> None:
    """January's uncoded rows link on the name; in February they are carried on unchanged, and
    the new employer under that name makes them a surrogate employer of their own."""
    key = ["batch_id", "row"]

    def uncoded(snap: snapshot.Snapshot) -> pl.DataFrame:
        links = snap.scan("employer_links").filter(pl.col("source") == TAX)
        return (
            links.filter(pl.col("method").is_in(["name", "surrogate"]))
            .select(*key, "method", "employer_key")
            .collect()
            .sort(key)
        )

    jan, feb = uncoded(months.jan), uncoded(snapshot.require_current(months.inc))
    jan_batch = next(
        b.batch_id
        for b in ingest_api.batches(months.inc)
        if b.source == TAX and b.as_of.isoformat() == "2018-01-31"
    )
    assert jan.height > 3 and set(jan["method"]) == {"name"}
    assert set(jan["batch_id"]) == {jan_batch}  # January's own records (changed rows)
    assert feb.select(key).equals(jan.select(key))  # the same records, carried on
    assert set(feb["method"]) == {"surrogate"} and feb["employer_key"].n_unique() == 1
