"""The ledger published with each build: ``canbao build`` computes the contribution ledger at
the data's as-of date (the newest payment, declaration or opening-arrears extract) and keeps it
beside the registry snapshot, so the ledger export, the web's employer pages and other per-request
reads at that date read a file instead of recomputing a city's ledger.

Layout: ``DATA/ledger/<build_id>/``

- ``ledger.parquet``: every ledger row of the city (the columns of
  :func:`canbao.collection.api.ledger`, then ``days_past_due``, ``ageing``, ``source``,
  ``fee_e4`` — the exact late fee in 1/10,000 fen before rounding — and ``known``: the master
  employer is in the registry's employers, as the API's rows are), by employer, scheme, period;
  of an incremental ledger, the *base*: a hard link to the file of the last ledger written in
  full, with ``ledger.delta.parquet`` (every row that differs from the base's, in no order) and
  ``ledger.gone.parquet`` (the keys of the base rows they replace or remove) beside it. The
  rows are the base rows whose key is not gone, then the delta rows: read them with
  :func:`scan` (Polars) or :func:`register` (SQL), never the base alone;
- ``ledger.employers.parquet``: the master employers' fields (code, name, county, ownership)
  the base was written with (a base row of an employer whose fields changed since is replaced
  by the delta);
- ``accounts.parquet``: per employer × scheme with a declaration, the latest declared month and
  its due, and whether the employer was active;
- ``linked/<kind>/<batch_id>.parquet``: the rows of each current payment, declaration and
  opening-arrears batch linked to their master employer (unchanged batches are hard links to
  the previous build's files);
- ``published.json``: build, as-of date, rows, seconds, ``mode`` (``full`` or
  ``incremental``), ``reason`` (why full), ``base`` (the build it was updated from),
  ``touched`` (rows recomputed), the digests of the approved deferrals and of the ledger's
  policy it applied, the batches per kind (of the rows' identities), ``identities``: per
  kind, each delivered batch (file) and the batches of its rows' identities (the next publish
  reads only the files of new batches to find them), and ``layers`` (null when written in
  full): the base's build and as-of date, and the rows of base, delta and gone.

``DATA/ledger/CURRENT`` names the newest, replaced atomically. A published ledger is used only
when it is of the current registry build, of the date asked for, under the default policy, and
the approved deferrals and the assessed audit findings in the store are still those it applied;
otherwise the ledger is computed as before.

**Incremental.** When the previous published ledger has this state, was computed under the same
ledger policy (due-date rule, late-fee rule, ageing) with the same approved deferrals and for a
date on or before this one, and the policy keeps credits with their period, the new ledger is
updated from it (:mod:`canbao.collection.ledger_incremental`: only the rows whose inputs,
estimates or deferrals can have changed are recomputed; the others are carried to the new date)
— the same rows a full computation gives — and written as layers over the base: only the
rows that differ from the base's (those recomputed since it was written, the unpaid ones, whose
late fee moves on with the date, and those of master employers whose fields changed), so a
month's update does not write the whole city again. A paid-up row of an unchanged employer is
the same at every later date, so the base keeps it. Once the delta would hold more than
:data:`COMPACT_SHARE` of the base's rows, the ledger is written in full as a new base.
Otherwise, or with ``full=True`` (``canbao build --full``), it is computed in full, and
``published.json`` and the terminal say why.
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
from canbao.collection.ledger import LEDGER_COLUMNS
from canbao.collection.ledger_incremental import KINDS, Declined
from canbao.collection.ledger_inputs import sql_list
from canbao.collection.policy import ContributionPolicy
from canbao.ingest import api as ingest_api
from canbao.registry import snapshot
from canbao.registry.engine import Engine
from canbao.registry.snapshot_layers import layer_files, link_or_copy, merged_sql
from canbao.store import open_store
from canbao.warehouse.scope import Scope

PUBLISH = Scope.system("canbao build: the ledger at the data's as-of date")
FORMAT = 2  # published.json's "format": the ledger with the state of the incremental update
KEYS = ("employer_key", "scheme", "period")
_KEYS = ", ".join(KEYS)
# the master employers' fields a published ledger's rows carry (written beside its base)
BASE_EMPLOYERS = "ledger.employers.parquet"
_EMPLOYER_FIELDS = "employer_key, credit_code, name AS employer_name, county_code, ownership"
# a delta of more rows than this share of the base: the ledger is written in full (a new base)
COMPACT_SHARE = 0.5
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
    path: Path  # the folder (read its rows with scan)
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
    files = layer_files(base, "ledger")
    layered = [files["delta"], files["gone"]] if prev.get("layers") else []
    state = [files["base"], *layered, base / "accounts.parquet"] + [
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
        delivered = _identities(s, data_dir, prev)
        # the batches of the rows' identities (a re-delivery's unchanged rows keep an older
        # batch's: canbao.ingest.redelivery), as employer_links names them
        batches = {k: sorted({b for ids in delivered[k].values() for b in ids}) for k in KINDS}
        if declined is None:
            assert prev is not None
            prev_dir = base / prev["build_id"]
            _register_state(s, prev_dir, prev["batches"])
            known = prev.get("identities")
            fresh = None if known is None else {
                k: [f for f in delivered[k] if f not in known.get(k, {})] for k in KINDS
            }  # fmt: skip
            outcome = ledger_incremental.update(
                s, dt.date.fromisoformat(prev["as_of"]), day, policy, prev["batches"], batches,
                prev.get("first_period"), delivered, fresh, _relinked(data_dir, prev["build_id"]),
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
        layers = None
        if done is not None:
            assert prev is not None
            prev_day = dt.date.fromisoformat(prev["as_of"])
            layers = _write_layers(s, tmp, base / prev["build_id"], prev_day, day, policy)
        if layers is None:
            rows, first_period = _write_ledger(s, tmp)
        else:
            rows, first_period = layers.pop("rows"), layers.pop("first_period")
        lap("write ledger")
    seconds = round(time.perf_counter() - t0, 2)
    result = Published(
        build_id, day, rows, seconds, final,
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
        "batches": batches, "identities": delivered, "layers": layers,
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


def _relinked(data_dir: Path, since: str) -> set[str] | None:
    """The batches whose rows the registry may have linked to another master employer since
    build ``since`` (None: not known; :func:`canbao.registry.build.build` says when the
    previous build was that one)."""
    snap = snapshot.require_current(data_dir)
    if snap.build_id == since:
        return set()
    found = snap.info.get("employer_links_changed")
    if not found or found.get("since") != since:
        return None
    return set(found["batches"])


def _identities(
    s: Any, data_dir: Path, prev: dict[str, Any] | None
) -> dict[str, dict[str, list[str]]]:
    """Per kind, each current delivered batch and the batches of its rows' identities (itself,
    and for a re-delivery the older batches its unchanged rows keep). A batch never changes:
    what the previous published ledger lists is taken from it, the new batches' files only are
    read."""
    known: dict[str, dict[str, list[str]]] = (prev or {}).get("identities") or {}
    out: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        files = [b.batch_id for b in ingest_api.current_batches(data_dir, kind)]
        have = known.get(kind, {})
        new = [f for f in files if f not in have]
        found: dict[str, list[str]] = {f: [] for f in new}
        if new:
            rows = s.frame(
                f"SELECT DISTINCT file_batch, batch_id FROM cov_{kind} "
                f"WHERE file_batch IN ({sql_list(new)})"
            )
            for f, b in rows.iter_rows():
                found[f].append(b)
        out[kind] = {f: sorted(have[f]) if f in have else sorted(found[f]) for f in files}
    return out


def _register_state(s: Any, prev_dir: Path, prev_batches: dict[str, list[str]]) -> None:
    """The previous published state as ``prev_ledger``, ``prev_accounts`` and
    ``prev_linked_<kind>`` (:mod:`canbao.collection.ledger_incremental`)."""
    register(s.eng, "prev_ledger", prev_dir)
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


def _on_keys(a: str, b: str) -> str:
    return " AND ".join(f"{a}.{k} = {b}.{k}" for k in KEYS)


def _out_sql(core: str, order: bool = True) -> str:
    """SELECT of :data:`OUT_COLUMNS` from ``core`` (ledger rows: :data:`LEDGER_COLUMNS` and
    ``fee_e4``) with their master employer's fields from ``employers`` (``order``: by
    employer, scheme and period)."""
    return f"""
        SELECT l.employer_key, e.credit_code, e.name AS employer_name, e.county_code,
               e.ownership, l.scheme, l.period, l.due_date, l.due, l.paid, l.balance,
               l.late_fee, l.estimated, l.days_past_due, l.ageing, l.source, l.fee_e4,
               e.employer_key IS NOT NULL AS known
        FROM ({core}) l LEFT JOIN employers e ON e.employer_key = l.employer_key
        {"ORDER BY l.employer_key, l.scheme, l.period" if order else ""}
        """


def _write_ledger(s: Any, out: Path) -> tuple[int, str | None]:
    """``ledger.parquet`` (:data:`OUT_COLUMNS`, by employer, scheme, period) from
    ``ledger_exact``, ``ledger.employers.parquet`` (the fields of the master employers it was
    written with) and ``accounts.parquet`` from ``ledger_accounts``; returns the rows and the
    earliest period."""
    files = layer_files(out, "ledger")
    s.eng.create_view("publish_ledger", _out_sql("SELECT * FROM ledger_exact"))
    s.eng.write_parquet("publish_ledger", files["base"])
    s.eng.create_view("publish_employers", f"SELECT {_EMPLOYER_FIELDS} FROM employers")
    s.eng.write_parquet("publish_employers", out / BASE_EMPLOYERS)
    s.eng.write_parquet("ledger_accounts", out / "accounts.parquet")
    found = scan(out).select(pl.len(), pl.col("period").min()).collect().row(0)
    return int(found[0]), found[1]


def _write_layers(
    s: Any, out: Path, prev_dir: Path, prev_day: dt.date, day: dt.date, policy: ContributionPolicy
) -> dict[str, Any] | None:
    """An incremental ledger written as layers over the base of ``prev_dir`` (hard-linked):
    ``ledger.delta.parquet``, every row that differs from the base's (the rows recomputed since
    the base, the unpaid rows, whose late fee moves on with the date, and the rows of master
    employers whose fields changed), and ``ledger.gone.parquet``, the keys of the base rows they
    replace; and ``accounts.parquet``. Returns the ``layers`` entry of published.json, or None
    (nothing written) when the base has no employer fields (an older format) or the delta would
    outgrow :data:`COMPACT_SHARE` of the base."""
    prev = layer_files(prev_dir, "ledger")
    if not (prev_dir / BASE_EMPLOYERS).exists():
        return None
    s.eng.parquet_view("pub_base", [prev["base"]])
    s.eng.parquet_view("pub_base_employers", [prev_dir / BASE_EMPLOYERS])
    if prev["gone"].exists():
        s.eng.parquet_view("pub_prev_delta", [prev["delta"]])
        s.eng.parquet_view("pub_prev_gone", [prev["gone"]])
    else:
        s.execute("CREATE OR REPLACE TABLE pub_prev_delta AS SELECT * FROM pub_base WHERE 1 = 0")
        s.execute(
            f"CREATE OR REPLACE TABLE pub_prev_gone AS SELECT {_KEYS} FROM pub_base WHERE 1 = 0"
        )
    fields = [c.split(" AS ")[-1] for c in _EMPLOYER_FIELDS.split(", ") if c != "employer_key"]
    differs = " OR ".join(f"((b.{c} IS NULL) <> (e.{c} IS NULL) OR b.{c} <> e.{c})" for c in fields)
    s.execute(
        f"""
        CREATE OR REPLACE TABLE pub_employers_changed AS
        SELECT coalesce(b.employer_key, e.employer_key) AS employer_key
        FROM pub_base_employers b
        FULL OUTER JOIN (SELECT {_EMPLOYER_FIELDS} FROM employers) e
          ON e.employer_key = b.employer_key
        WHERE b.employer_key IS NULL OR e.employer_key IS NULL OR {differs}
        """
    )
    # the base rows that leave it now: unpaid (their late fee moves on), or of an employer whose
    # fields changed (a paid-up row of an unchanged employer is the same at every date)
    core = ", ".join(f"b.{c}" for c in (*LEDGER_COLUMNS, "fee_e4"))
    s.execute(
        f"""
        CREATE OR REPLACE TABLE pub_moved AS
        SELECT {core} FROM pub_base b
        WHERE NOT EXISTS (SELECT 1 FROM pub_prev_gone g WHERE {_on_keys("g", "b")})
          AND (b.balance > 0 OR b.employer_key IN (SELECT employer_key FROM pub_employers_changed))
        """
    )
    carried = ledger_incremental.carried_sql
    s.execute(
        f"""
        CREATE OR REPLACE TABLE pub_delta AS
        {carried("pub_moved", prev_day, day, policy)}
        UNION ALL {carried("pub_prev_delta", prev_day, day, policy)}
        UNION ALL {ledger_incremental.recomputed_sql()}
        """
    )
    base_rows = int(s.eng.scalar("SELECT count(*) FROM pub_base"))
    delta_rows = int(s.eng.scalar("SELECT count(*) FROM pub_delta"))
    if delta_rows > COMPACT_SHARE * base_rows:
        return None
    s.execute(
        f"""
        CREATE OR REPLACE TABLE pub_gone AS
        SELECT {_KEYS} FROM pub_prev_gone
        UNION SELECT {_KEYS} FROM pub_moved
        UNION SELECT b.employer_key, b.scheme, b.period
        FROM pub_base b JOIN inc_t t ON {_on_keys("t", "b")}
        """
    )
    files = layer_files(out, "ledger")
    s.eng.create_view("publish_delta", _out_sql("SELECT * FROM pub_delta", order=False))
    s.eng.write_parquet("publish_delta", files["delta"])
    s.eng.create_view("publish_gone", "SELECT * FROM pub_gone")
    s.eng.write_parquet("publish_gone", files["gone"])
    link_or_copy(prev["base"], files["base"])
    link_or_copy(prev_dir / BASE_EMPLOYERS, out / BASE_EMPLOYERS)
    s.eng.write_parquet("ledger_accounts", out / "accounts.parquet")
    prev_meta = json.loads((prev_dir / "published.json").read_text(encoding="utf-8"))
    base = prev_meta.get("layers") or {
        "base": prev_meta["build_id"],
        "base_as_of": prev_meta["as_of"],
    }
    gone_rows = int(s.eng.scalar("SELECT count(*) FROM pub_gone"))
    first = s.eng.scalar(
        f"""
        SELECT min(period) FROM (
            SELECT period FROM pub_delta
            UNION ALL SELECT b.period FROM pub_base b
            WHERE NOT EXISTS (SELECT 1 FROM pub_gone g WHERE {_on_keys("g", "b")})
        ) x
        """
    )
    return {
        "base": base["base"], "base_as_of": base["base_as_of"], "base_rows": base_rows,
        "delta": delta_rows, "gone": gone_rows, "rows": base_rows - gone_rows + delta_rows,
        "first_period": first,
    }  # fmt: skip


def scan(folder: Path) -> pl.LazyFrame:
    """The rows (:data:`OUT_COLUMNS`) of the ledger published in ``folder``: the base rows
    whose key is not gone, then the delta rows (a layered ledger), or the base alone."""
    files = layer_files(folder, "ledger")
    base = pl.scan_parquet(files["base"], glob=False)
    if not files["gone"].exists():
        return base
    gone = pl.scan_parquet(files["gone"], glob=False)
    delta = pl.scan_parquet(files["delta"], glob=False)
    return pl.concat([base.join(gone, on=list(KEYS), how="anti"), delta], how="vertical")


def register(eng: Engine, name: str, folder: Path) -> None:
    """The view ``name``: :func:`scan`'s rows, for SQL."""
    files = layer_files(folder, "ledger")
    if not files["gone"].exists():
        eng.parquet_view(name, [files["base"]])
        return
    for part in ("base", "delta", "gone"):
        eng.parquet_view(f"{name}__{part}", [files[part]])
    eng.create_view(
        name, merged_sql(f"{name}__base", f"{name}__delta", f"{name}__gone", KEYS, OUT_COLUMNS)
    )


def answering(data_dir: Path, as_of: dt.date) -> Path | None:
    """The folder of the published ledger when it answers ``as_of`` for the current build
    (see the module docstring; read it with :func:`scan` or :func:`register`), else None."""
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
    return meta_path.parent


def read(data_dir: Path, scope: Scope, as_of: dt.date) -> pl.DataFrame | None:
    """The published ledger in ``scope`` when it answers ``as_of`` for the current build (see
    the module docstring), else None."""
    from canbao.collection.api import LEDGER_EXPORT_COLUMNS

    folder = answering(data_dir, as_of)
    if folder is None:
        return None
    frame = scan(folder)
    if "known" in frame.collect_schema().names():
        frame = frame.filter(pl.col("known")).select(LEDGER_EXPORT_COLUMNS)
    if layer_files(folder, "ledger")["gone"].exists():  # the rows in the order of a full one
        frame = frame.sort(*KEYS)
    return scope.lazy(frame, "county_code").collect()
