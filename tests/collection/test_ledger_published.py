"""The published ledger (canbao.collection.published) a month later on the synthetic city:
``canbao build`` updates it incrementally — new declaration and payment batches (payments of
the last month, late payments for old periods), the county counters' payment file re-delivered
(superseding the earlier one), a new opening-arrears list, the as-of date a month on — and the
result is the full computation's, row for row (every column, the exact late-fee numerator
included), with the same state for the next update. When it cannot be exact it builds in full
and says why (published.json, the terminal)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from canbao.collection import agreements, api, kpi, published
from canbao.collection import ledger as ledger_mod
from canbao.collection.ledger_incremental import KINDS
from canbao.coverage.api import session
from canbao.ingest import api as ingest_api
from canbao.registry import api as registry
from canbao.store import Actor, open_store
from canbao.synth.month import ingest_ledger_month
from tests.registry.city import ingest, make_city
from tests.scopes import SYSTEM

D1, D2 = dt.date(2017, 12, 31), dt.date(2018, 1, 31)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, published.Published]:
    """The city published at D1 (a full build), then a month's deliveries ingested and the
    registry built again (the ledger not yet published)."""
    city = make_city(tmp_path_factory.mktemp("published-city"), persons=3000, seed=11)
    root = tmp_path_factory.mktemp("published-data")
    data = root / "data"
    ingest(city, data)
    registry.build(data)
    first = published.publish(data)
    assert first is not None and first.mode == "full" and first.as_of == D1
    ingest_ledger_month(data, root / "files")
    registry.build(data)
    return data, first


def _copy(data: Path, dest: Path) -> Path:
    shutil.copytree(data, dest)
    return dest


def _state(build: Path) -> dict[str, pl.DataFrame]:
    """A published ledger's files as frames (linked rows per kind, all batches)."""
    out = {
        "ledger": published.scan(build).collect().sort(*published.KEYS),
        "accounts": pl.read_parquet(build / "accounts.parquet").sort("employer_key", "scheme"),
    }
    for kind in KINDS:
        files = sorted((build / "linked" / kind).glob("*.parquet"))
        out[kind] = pl.concat([pl.read_parquet(f) for f in files]).sort("batch_id", "row")
        out[f"{kind}_files"] = pl.DataFrame({"file": [f.name for f in files]})
    return out


def _rows(found: published.Published) -> pl.DataFrame:
    return published.scan(found.path).collect().sort(*published.KEYS)


def _meta(build: Path) -> dict[str, object]:
    found: dict[str, object] = json.loads((build / "published.json").read_text("utf-8"))
    return found


def test_a_month_later_the_incremental_ledger_equals_a_full_build(
    month: tuple[Path, published.Published], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _copy(month[0], tmp_path / "data")
    first = month[1]
    before = published.scan(first.path).collect()
    # the month's deliveries: what the incremental update has to get right
    sources = {b.source for b in ingest_api.current_batches(data, "payment")}
    assert {"si_payment_2018_01", "si_payment_counter"} <= sources
    # the counters' file was delivered again: its earlier batch is superseded
    before_batches = json.loads((first.path / "published.json").read_text())["batches"]
    now = {b.batch_id for b in ingest_api.current_batches(data, "payment")}
    assert any(b.startswith("si_payment_counter") for b in set(before_batches["payment"]) - now)
    pays = ingest_api.current_records(data, "payment").collect()
    month_pays = pays.filter(pl.col("source") == "si_payment_2018_01")
    assert month_pays.filter(pl.col("period") <= "2017-10").height > 0  # late, for old periods
    assert ingest_api.current_records(data, "arrears").collect()["source"].n_unique() == 2

    later = published.publish(data)
    assert later is not None
    assert (later.mode, later.base, later.as_of, later.reason) == (
        "incremental", first.build_id, D2, None
    )  # fmt: skip
    assert 0 < (later.touched or 0) < before.height
    # written as layers over the first ledger's file: the rows that differ from it (the
    # recomputed and the unpaid ones) and the keys of the base rows they replace
    layers = _meta(later.path)["layers"]
    assert isinstance(layers, dict) and layers["base"] == first.build_id
    first_base = data / "ledger" / first.build_id / "ledger.parquet"  # in this copy
    assert (later.path / "ledger.parquet").stat().st_ino == first_base.stat().st_ino
    unpaid = before.filter(pl.col("balance") > 0).height
    assert unpaid <= layers["delta"] < later.rows and layers["gone"] < before.height
    build = later.path
    got = _state(build)
    saved = _copy(build, tmp_path / "incremental")
    full = published.publish(data, full=True)  # the same build, computed in full
    assert full is not None and full.mode == "full" and "--full" in (full.reason or "")
    want = _state(full.path)
    for name, frame in want.items():
        assert got[name].equals(frame), name
    # new rows: January's declarations, December's estimates for those that did not declare it
    led = got["ledger"]
    assert led.filter(pl.col("period") == "2018-01").height > 0
    dec = led.filter((pl.col("period") == "2017-12") & pl.col("estimated"))
    old_dec = before.filter((pl.col("period") == "2017-12") & pl.col("estimated"))
    assert dec.height > old_dec.height
    # reads at D2 get the published rows, equal to a computation in a session (a policy given
    # explicitly computes)
    with session(data, SYSTEM, D2) as s:
        fresh = api.ledger_in(s, ledger_mod.ledger_policy(s))
        policy = ledger_mod.ledger_policy(s)
    assert api.ledger(data, SYSTEM, D2).equals(fresh)
    computed = api.arrears(data, SYSTEM, D2, policy=policy)
    assert computed.height > 0
    with monkeypatch.context() as m:  # the collectors' list reads the published ledger
        m.setattr(api, "build_ledger_at", _no_build)
        assert api.arrears(data, SYSTEM, D2).equals(computed)
        with session(data, SYSTEM, D2) as s:
            assert api.ledger_in(s).equals(fresh)
    assert _meta(saved)["mode"] == "incremental"


def _no_build(*args: object, **kwargs: object) -> None:
    raise AssertionError("the ledger was computed although the published one answers")


def _full_because(data: Path) -> published.Published:
    found = published.publish(data)
    assert found is not None and found.mode == "full", found
    meta = _meta(found.path)
    assert (meta["mode"], meta["reason"], meta["reason_zh"]) == (
        "full", found.reason, found.reason_zh
    )  # fmt: skip
    return found


def test_an_approved_deferral_makes_a_full_build(
    month: tuple[Path, published.Published], tmp_path: Path
) -> None:
    data = _copy(month[0], tmp_path / "data")
    row = published.scan(month[1].path).collect().filter(pl.col("balance") > 0).row(0, named=True)
    store = open_store(data)
    try:
        emp = agreements.Employer(
            row["employer_key"], row["employer_name"], row["credit_code"], row["county_code"]
        )
        deal = agreements.propose(
            store, Actor.operator(), SYSTEM, emp, [row["scheme"]], "deferral", 10_000,
            guarantee_note="担保", start=dt.date(2018, 1, 1), end=dt.date(2018, 3, 31),
        )  # fmt: skip
        agreements.approve(store, Actor.operator(), SYSTEM, deal.id, on=dt.date(2017, 12, 30))
    finally:
        store.dispose()
    found = _full_because(data)
    assert found.reason == "the approved deferrals changed"


def test_a_finished_audit_case_makes_a_full_build(
    month: tuple[Path, published.Published], tmp_path: Path
) -> None:
    """A finding assessed by a finished audit case changes the ledger: the published one no
    longer answers reads, and the next publish is a full one whose row has the finding."""
    from canbao.audit import cases as audit_cases
    from canbao.audit.findings import Finding, assess

    data = _copy(month[0], tmp_path / "data")
    old = published.scan(month[1].path).collect()
    row = old.filter(
        (pl.col("scheme") == "employee_pension") & (pl.col("period") == "2017-06")
        & pl.col("county_code").is_not_null()
    ).row(0, named=True)  # fmt: skip
    store = open_store(data)
    try:
        op = Actor.operator()
        emp = agreements.Employer(
            row["employer_key"], row["employer_name"], row["credit_code"], row["county_code"]
        )
        c = audit_cases.open_case(
            store, op, SYSTEM, emp, notice_on=dt.date(2017, 11, 1),
            visit_on=dt.date(2017, 11, 6), period_from="2017-01", period_to="2017-10",
        )  # fmt: skip
        found = assess(Finding("base", "P1", "", "employee_pension", "2017-06", 300_000, 400_000),
                       "360400")  # fmt: skip
        audit_cases.record(store, op, SYSTEM, c.id, visited_on=dt.date(2017, 11, 6),
                           findings=[found])  # fmt: skip
        audit_cases.finish(store, op, SYSTEM, c.id, on=dt.date(2017, 11, 15),
                           rectify_by=dt.date(2017, 12, 15))  # fmt: skip
    finally:
        store.dispose()
    assert published.read(data, SYSTEM, D1) is None  # the published ledger is stale
    result = _full_because(data)
    assert result.reason == "the assessed audit findings changed"
    assert result.reason_zh == "稽核补缴核定有变化"
    new = published.scan(result.path).collect().filter(
        (pl.col("employer_key") == row["employer_key"]) & (pl.col("scheme") == "employee_pension")
        & (pl.col("period") == "2017-06")
    ).row(0, named=True)  # fmt: skip
    assert new["due"] >= row["due"] + found.unpaid_fen  # and January's deliveries on top
    again = published.publish(data)  # nothing changed since: incremental, the same rows
    assert again is not None and again.mode == "incremental"
    assert _rows(again).equals(_rows(result))


def test_a_changed_ledger_policy_makes_a_full_build(
    month: tuple[Path, published.Published], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _copy(month[0], tmp_path / "data")
    real = ledger_mod.region_policy

    def dearer(data_dir: Path, day: dt.date) -> object:
        p = real(data_dir, day)
        return dataclasses.replace(
            p, late_fee=dataclasses.replace(p.late_fee, rate_per_10000_per_day=6)
        )

    monkeypatch.setattr(ledger_mod, "region_policy", dearer)
    found = _full_because(data)
    assert "late-fee rule" in (found.reason or "") and "滞纳金" in (found.reason_zh or "")
    # the new rate is applied: a row in arrears at 6 per 10,000 a day
    led = published.scan(found.path).collect().filter(pl.col("fee_e4") > 0)
    assert (led["fee_e4"] % 6 == 0).all()


def test_credits_moved_to_the_oldest_periods_make_a_full_build(
    month: tuple[Path, published.Published], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _copy(month[0], tmp_path / "data")
    real = ledger_mod.region_policy

    def moving(data_dir: Path, day: dt.date) -> object:
        p = real(data_dir, day)
        fee = dataclasses.replace(p.late_fee, apply_credits_to_oldest=True)
        return dataclasses.replace(p, late_fee=fee)

    monkeypatch.setattr(ledger_mod, "region_policy", moving)
    # the previous ledger was published under the default policy: the policy differs; once
    # published under this one, the next build is full for the credits themselves
    _full_because(data)
    found = _full_because(data)
    assert "oldest open periods" in (found.reason or "")


def test_canbao_build_says_how_it_published_the_ledger(
    month: tuple[Path, published.Published], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from canbao.cli import run

    data = _copy(month[0], tmp_path / "data")
    capsys.readouterr()
    assert run(["build", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "征缴台账已随本次构建发布" in out and "增量" in out and "2018-01-31" in out
    assert run(["build", "--full", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "全量：指定了全量构建（--full）" in out


def test_layers_over_layers_and_changed_employer_fields(
    month: tuple[Path, published.Published], tmp_path: Path
) -> None:
    """An update of a layered ledger carries its delta on (the base stays the first full
    ledger's), and the base rows of a master employer whose fields changed since the base was
    written leave it: every row equals a full computation's."""
    data = _copy(month[0], tmp_path / "data")
    later = published.publish(data)
    assert later is not None and _meta(later.path)["layers"]
    # a paid-up row's employer, as if the registry had given it another name and code since the
    # base was written: the base file and the fields written beside it say the old ones
    rows = published.scan(later.path).collect()
    key = rows.filter((pl.col("balance") <= 0) & pl.col("known"))["employer_key"][0]
    base_file = later.path / "ledger.parquet"
    base = pl.read_parquet(base_file)
    old = {"employer_name": "旧名称有限公司", "credit_code": None}
    assert base.filter(pl.col("employer_key") == key).height > 0
    base_file.unlink()  # a hard link of the first ledger's: not written through
    base.with_columns(
        [pl.when(pl.col("employer_key") == key).then(pl.lit(v, pl.Utf8)).otherwise(pl.col(c))
         .alias(c) for c, v in old.items()]
    ).write_parquet(base_file)  # fmt: skip
    fields = later.path / published.BASE_EMPLOYERS
    emps = pl.read_parquet(fields)
    fields.unlink()
    emps.with_columns(
        [pl.when(pl.col("employer_key") == key).then(pl.lit(v, pl.Utf8)).otherwise(pl.col(c))
         .alias(c) for c, v in old.items()]
    ).write_parquet(fields)  # fmt: skip
    again = published.publish(data)  # the same build and date: from the layered ledger
    assert again is not None and again.mode == "incremental" and again.touched == 0
    layers = _meta(again.path)["layers"]
    assert isinstance(layers, dict) and layers["base"] == month[1].build_id
    got = _rows(again)
    moved = got.filter(pl.col("employer_key") == key)
    assert moved.height > 0 and "旧名称有限公司" not in moved["employer_name"].to_list()
    full = published.publish(data, full=True)
    assert full is not None and full.mode == "full"
    assert got.equals(_rows(full))


def test_a_delta_outgrowing_the_base_is_written_in_full(
    month: tuple[Path, published.Published], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compaction: when the delta would hold more than COMPACT_SHARE of the base's rows, the
    updated ledger is written in full as a new base (still computed incrementally)."""
    data = _copy(month[0], tmp_path / "data")
    monkeypatch.setattr(published, "COMPACT_SHARE", 0.0)
    later = published.publish(data)
    assert later is not None and later.mode == "incremental"
    assert _meta(later.path)["layers"] is None
    assert not (later.path / "ledger.delta.parquet").exists()
    rows = _rows(later)
    assert rows.height == later.rows
    full = published.publish(data, full=True)
    assert full is not None and rows.equals(_rows(full))


def test_kpis_in_a_session_that_read_the_published_ledger(
    month: tuple[Path, published.Published], tmp_path: Path
) -> None:
    """A session whose ledger is the published one (the collectors' list read it) computes
    its KPIs all the same — they need the payments as the computation applied them — and
    they equal a session's of their own."""
    data = _copy(month[0], tmp_path / "data")
    assert published.publish(data) is not None
    want = api.kpis(data, SYSTEM, D2.year, D2)
    with session(data, SYSTEM, D2) as s:
        assert api.arrears_in(s).height > 0
        assert s.built(ledger_mod.PUBLISHED_VIEW)
        got = kpi.kpis_in(s)
    assert want.height > 0 and got.equals(want)
