"""The ledger published with each build: ``canbao build`` computes the contribution ledger at
the data's as-of date (the newest payment, declaration or opening-arrears extract) and keeps it
beside the registry snapshot, so the ledger export, the web's employer pages and other per-request
reads at that date read a file instead of recomputing a city's ledger.

Layout: ``DATA/ledger/<build_id>/``

- ``ledger.parquet``: every ledger row of the city (the columns of
  :func:`canbao.collection.api.ledger`, then ``days_past_due``, ``ageing``, ``source``,
  ``fee_e4`` — the exact late fee in 1/10,000 fen before rounding — and ``known``: the master
  employer is in the registry's employers, as the API's rows are), by employer, scheme, period;
- ``accounts.parquet``: per employer × scheme with a declaration, the latest declared month and
  its due, and whether the employer was active;
- ``linked/<kind>/<batch_id>.parquet``: the rows of each current payment, declaration and
  opening-arrears batch linked to their master employer (unchanged batches are hard links to
  the previous build's files);
- ``published.json``: build, as-of date, rows, seconds, ``mode`` (``full`` or
  ``incremental``), ``reason`` (why full), ``base`` (the build it was updated from),
  ``touched`` (rows recomputed), the digests of the approved deferrals and of the ledger's
  policy it applied, and the batches per kind.

``DATA/ledger/CURRENT`` names the newest, replaced atomically. A published ledger is used only
when it is of the current registry build, of the date asked for, under the default policy, and
the approved deferrals and the assessed audit findings in the store are still those it applied;
otherwise the ledger is computed as before.

**Incremental.** When the previous published ledger has this state, was computed under the same
ledger policy (due-date rule, late-fee rule, ageing) with the same approved deferrals and for a
date on or before this one, and the policy keeps credits with their period, the new ledger is
updated from it (:mod:`canbao.collection.ledger_incremental`: only the rows whose inputs,
estimates or deferrals can have changed are recomputed; the others are carried to the new date)
— the same rows a full computation gives. Otherwise, or with ``full=True`` (``canbao build
--full``), it is computed in full, and ``published.json`` and the terminal say why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from canbao.collection import agreements, ledger_audits, ledger_incremental
from canbao.collection.ledger_incremental import KINDS, Declined
from canbao.collection.policy import ContributionPolicy
from canbao.ingest import api as ingest_api
from canbao.registry import snapshot
from canbao.store import open_store
from canbao.warehouse.scope import Scope

PUBLISH = Scope.system("canbao build: the ledger at the data's as-of date")
FORMAT = 2  # published.json's "format": the ledger with the state of the incremental update
OUT_COLUMNS = (
    "employer_key", "credit_code", "employer_name", "county_code", "ownership", "scheme",
    "period", "due_date", "due", "paid", "balance", "late_fee", "estimated", "days_past_due",
    "ageing", "source", "fee_e4", "known",
)  # fmt: skip


@dataclass(frozen=True)
class Published:
    build_id: str
    as_of: dt.date
    rows: int
    seconds: float
    path: Path
    mode: str = "full"  # or "incremental"
    reason: str | None = None  # why full (English)
    reason_zh: str | None = None
    base: str | None = None  # the build an incremental ledger was updated from
    touched: int | None = None  # rows recomputed by an incremental update
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step


def root(data_dir: Path) -> Path:
    return data_dir / "ledger"


def data_as_of(data_dir: Path) -> dt.date | None:
    """The as-of date of the newest current payment, declaration or arrears batch."""
    days = [b.as_of for k in KINDS for b in ingest_api.current_batches(data_dir, k)]
    return max(days) if days else None


def deferrals_digest(data_dir: Path) -> str:
    """A digest of the approved deferrals in the store (what the ledger's late fees depend on
    besides the data)."""
    store = open_store(data_dir)
    try:
        found = agreements.deferrals(store, PUBLISH)
    finally:
        store.dispose()
    text = json.dumps(
        sorted((d.employer_key, d.scheme, list(d.periods), str(d.start), str(d.end)) for d in found)
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def policy_digest(policy: ContributionPolicy) -> str:
    """A digest of what the ledger takes from a contribution policy: the due-date rule, the
    late-fee rule and the ageing buckets."""
    fee = policy.late_fee
    text = json.dumps(
        [
            policy.due_date_rule,
            [fee.rate_per_10000_per_day, fee.day_rule, fee.apply_credits_to_oldest],
            [[b.label, b.from_days, b.to_days] for b in policy.ageing],
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _current_meta(data_dir: Path) -> dict[str, Any] | None:
    pointer = root(data_dir) / "CURRENT"
    if not pointer.exists():
        return None
    build_id = pointer.read_text(encoding="utf-8").strip()
    path = root(data_dir) / build_id / "published.json"
    if not path.exists():
        return None
    meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return meta


def _linked_file(base: Path, kind: str, batch_id: str) -> Path:
    return base / "linked" / kind / f"{batch_id}.parquet"


def _why_full(
    prev: dict[str, Any] | None,
    full: bool,
    policy: ContributionPolicy,
    policy_hash: str,
    deferrals: str,
    data_dir: Path,
    audits: str = "",
) -> Declined | None:
    """Why the ledger cannot be updated from ``prev`` (None: it can be)."""
    if full:
        return Declined("a full build was asked for (--full)", "指定了全量构建（--full）")
    if prev is None:
        return Declined("no ledger was published before", "此前未发布过征缴台账")
    base = root(data_dir) / prev["build_id"]
    state = [base / "ledger.parquet", base / "accounts.parquet"] + [
        _linked_file(base, k, b) for k, ids in prev.get("batches", {}).items() for b in ids
    ]
    if prev.get("format") != FORMAT or not all(p.exists() for p in state):
        return Declined(
            f"the ledger of build {prev['build_id']} was published without its inputs",
            f"构建 {prev['build_id']} 的台账未保存增量所需的数据",
        )
    if prev.get("policy") != policy_hash:
        return Declined(
            "the contribution policy's due-date rule, late-fee rule or ageing changed",
            "缴费政策的缴费期限、滞纳金或账龄规则有变化",
        )
    if policy.late_fee.apply_credits_to_oldest:
        return Declined(
            "the policy applies credits to the oldest open periods (an account's rows depend on "
            "each other)",
            "政策规定多缴款冲抵最早欠费期（同一账户各期相互影响）",
        )
    if prev.get("deferrals") != deferrals:
        return Declined("the approved deferrals changed", "已批准的缓缴协议有变化")
    if prev.get("audits", "") != audits:
        return Declined("the assessed audit findings changed", "稽核补缴核定有变化")
    return None


def publish(
    data_dir: Path,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
    full: bool = False,
) -> Published | None:
    """Compute and publish the ledger of the current build at the data's as-of date — updated
    from the previous published ledger where that gives the same rows, else in full (``full``:
    always in full); None when the data hold no payment, declaration or arrears extract."""
    from canbao.collection.ledger import build_ledger_at, region_policy
    from canbao.coverage.api import session

    day = data_as_of(data_dir)
    if day is None:
        return None
    build_id = snapshot.require_current(data_dir).build_id
    t0 = time.perf_counter()
    steps: dict[str, float] = {}
    clock = [t0]

    def lap(name: str) -> None:
        now = time.perf_counter()
        steps[name] = round(now - clock[0], 2)
        clock[0] = now

    digest = deferrals_digest(data_dir)
    policy = region_policy(data_dir, day)
    policy_hash = policy_digest(policy)
    prev = _current_meta(data_dir)
    audits = ledger_audits.digest(data_dir, day)
    declined = _why_full(prev, full, policy, policy_hash, digest, data_dir, audits)
    base = root(data_dir)
    tmp, final = base / f".tmp-{build_id}", base / build_id
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    done: ledger_incremental.Update | None = None
    lap("prepare")
    with session(data_dir, PUBLISH, day, engine=engine, spark_master=spark_master) as s:
        lap("session")
        # the batches of the rows' identities (a re-delivery's unchanged rows keep an older
        # batch's: canbao.ingest.redelivery), as employer_links names them
        batches = {
            k: sorted(s.frame(f"SELECT DISTINCT batch_id FROM cov_{k}")["batch_id"].to_list())
            for k in KINDS
        }
        if declined is None:
            assert prev is not None
            prev_dir = base / prev["build_id"]
            _register_state(s, prev_dir, prev["batches"])
            outcome = ledger_incremental.update(
                s, dt.date.fromisoformat(prev["as_of"]), day, policy, prev["batches"], batches,
                prev.get("first_period"),
            )  # fmt: skip
            lap("update")
            if isinstance(outcome, Declined):
                declined = outcome
            else:
                done = outcome
                _write_linked(s, tmp, batches, "inc_linked", prev_dir, prev["batches"],
                              outcome.rewrite)  # fmt: skip
                lap("write inputs")
        if done is None:
            from canbao.collection.ledger_inputs import linked_sql

            for kind in KINDS:
                s.execute(
                    f"CREATE OR REPLACE TABLE ledger_linked_{kind} AS "
                    f"SELECT * FROM {linked_sql(kind)} x"
                )
            sources = {k: f"ledger_linked_{k}" for k in KINDS}
            s.ensure("ledger", lambda x: build_ledger_at(x, day, "ledger", policy, None, sources))
            ledger_incremental.build_accounts(
                s, "(SELECT employer_key, scheme, period, due FROM ledger_decl)"
            )
            lap("ledger")
            _write_linked(s, tmp, batches, "ledger_linked", None, {}, {})
            lap("write inputs")
        rows, first_period = _write_ledger(s, tmp)
        lap("write ledger")
    seconds = round(time.perf_counter() - t0, 2)
    result = Published(
        build_id, day, rows, seconds, final / "ledger.parquet",
        mode="full" if done is None else "incremental",
        reason=declined.reason if declined else None,
        reason_zh=declined.reason_zh if declined else None,
        base=prev["build_id"] if done is not None and prev else None,
        touched=done.touched if done else None, steps=steps,
    )  # fmt: skip
    meta = {
        "format": FORMAT, "build_id": build_id, "as_of": day.isoformat(), "rows": rows,
        "seconds": seconds, "mode": result.mode, "reason": result.reason,
        "reason_zh": result.reason_zh, "base": result.base, "touched": result.touched,
        "relinked": done.relinked if done else None, "deferrals": digest, "audits": audits,
        "policy": policy_hash, "first_period": first_period, "steps": steps,
        "batches": batches,
    }  # fmt: skip
    (tmp / "published.json").write_text(
        json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer = base / "CURRENT"
    pointer.with_suffix(".tmp").write_text(build_id, encoding="utf-8")
    os.replace(pointer.with_suffix(".tmp"), pointer)
    return result


def _register_state(s: Any, prev_dir: Path, prev_batches: dict[str, list[str]]) -> None:
    """The previous published state as ``prev_ledger``, ``prev_accounts`` and
    ``prev_linked_<kind>`` (:mod:`canbao.collection.ledger_incremental`)."""
    s.eng.parquet_view("prev_ledger", [prev_dir / "ledger.parquet"])
    s.eng.parquet_view("prev_accounts", [prev_dir / "accounts.parquet"])
    for kind in KINDS:
        files = [_linked_file(prev_dir, kind, b) for b in prev_batches.get(kind, [])]
        if files:
            s.eng.parquet_view(f"prev_linked_{kind}", files)
        else:
            s.execute(
                f"CREATE OR REPLACE TABLE prev_linked_{kind} AS "
                + ledger_incremental.empty_linked_sql(kind)
            )


def _write_linked(
    s: Any,
    out: Path,
    batches: dict[str, list[str]],
    table: str,
    prev_dir: Path | None,
    prev_batches: dict[str, list[str]],
    rewrite: dict[str, list[str]],
) -> None:
    """``linked/<kind>/<batch>.parquet`` of every current batch from ``<table>_<kind>``; a batch
    the previous state holds unchanged is a hard link to its file there."""
    for kind, ids in batches.items():
        (out / "linked" / kind).mkdir(parents=True, exist_ok=True)
        for batch_id in ids:
            dest = _linked_file(out, kind, batch_id)
            if (
                prev_dir is not None
                and batch_id in prev_batches.get(kind, [])
                and batch_id not in rewrite.get(kind, [])
            ):
                src = _linked_file(prev_dir, kind, batch_id)
                try:
                    os.link(src, dest)
                except OSError:
                    shutil.copy2(src, dest)
                continue
            quoted = batch_id.replace("'", "''")
            s.eng.create_view(
                "publish_batch", f"SELECT * FROM {table}_{kind} WHERE batch_id = '{quoted}'"
            )
            s.eng.write_parquet("publish_batch", dest)


def _write_ledger(s: Any, out: Path) -> tuple[int, str | None]:
    """``ledger.parquet`` (:data:`OUT_COLUMNS`, by employer, scheme, period) from
    ``ledger_exact`` and ``accounts.parquet`` from ``ledger_accounts``; returns the rows and the
    earliest period."""
    s.eng.create_view(
        "publish_ledger",
        """
        SELECT l.employer_key, e.credit_code, e.name AS employer_name, e.county_code,
               e.ownership, l.scheme, l.period, l.due_date, l.due, l.paid, l.balance,
               l.late_fee, l.estimated, l.days_past_due, l.ageing, l.source, l.fee_e4,
               e.employer_key IS NOT NULL AS known
        FROM ledger_exact l LEFT JOIN employers e ON e.employer_key = l.employer_key
        ORDER BY l.employer_key, l.scheme, l.period
        """,
    )
    s.eng.write_parquet("publish_ledger", out / "ledger.parquet")
    s.eng.write_parquet("ledger_accounts", out / "accounts.parquet")
    found = (
        pl.scan_parquet(out / "ledger.parquet", glob=False)
        .select(pl.len(), pl.col("period").min())
        .collect()
        .row(0)
    )
    return int(found[0]), found[1]


def answering(data_dir: Path, as_of: dt.date) -> Path | None:
    """The published ``ledger.parquet`` when it answers ``as_of`` for the current build (see
    the module docstring), else None."""
    pointer = root(data_dir) / "CURRENT"
    current = snapshot.current(data_dir)
    if not pointer.exists() or current is None:
        return None
    build_id = pointer.read_text(encoding="utf-8").strip()
    meta_path = root(data_dir) / build_id / "published.json"
    if build_id != current.build_id or not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta["as_of"] != as_of.isoformat() or meta["deferrals"] != deferrals_digest(data_dir):
        return None
    if meta.get("audits", "") != ledger_audits.digest(data_dir, as_of):
        return None
    return meta_path.parent / "ledger.parquet"


def read(data_dir: Path, scope: Scope, as_of: dt.date) -> pl.DataFrame | None:
    """The published ledger in ``scope`` when it answers ``as_of`` for the current build (see
    the module docstring), else None."""
    from canbao.collection.api import LEDGER_EXPORT_COLUMNS

    path = answering(data_dir, as_of)
    if path is None:
        return None
    frame = pl.scan_parquet(path, glob=False)
    if "known" in frame.collect_schema().names():
        frame = frame.filter(pl.col("known")).select(LEDGER_EXPORT_COLUMNS)
    return scope.lazy(frame, "county_code").collect()
