"""The registry's review queue as cases (kind ``review``): one case per uncertain pair of records
(同一人还是不同人), decided by staff with the cases' machinery — assign, contact, resolve with
同一人 / 不同人 / 无法判断, the Excel round trip, progress — instead of the command line alone.

- :func:`review_list` — the queue as a work list for :func:`canbao.cases.open_cases`
  (``{"review_items": frame}``): the pairs of the current build's queue
  (:func:`canbao.registry.api.review_items`: IDs masked, birth dates as years) that have no
  decision in the store yet (a pair decided on the command line stays in the snapshot's queue
  until the next build; it is not a case to work). Key ``review/<pair_id>/``: the pair's id is
  a digest of its two node keys, the same in every build while the pair is undecided.
- The case's county is the left record's (else the right's); the registry lets a county reader
  see a pair when either side is theirs, a case belongs to one county.
- Priority: 1 for ``ambiguous`` pairs (several close candidates) and ``likely_owner`` (a record
  without an ID and the person it most likely belongs to), 2 for ``uncertain``.
- Resolving with 同一人 / 不同人 records the decision in the registry in the same transaction
  (:mod:`canbao.cases.effects`); the next build honours it, the pair leaves the queue and the
  case is ``confirmed``. ``canbao review decide`` decides through the case when one is open
  (:func:`decide_pair`), so both doors lead to the same record.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from sqlalchemy import select

from canbao.cases import lifecycle
from canbao.registry import api as registry_api
from canbao.registry import decisions, snapshot
from canbao.store import Actor, Store, roles
from canbao.store.models import Case
from canbao.warehouse.scope import Scope

LIST = "review_items"
PRIORITY = {"ambiguous": 1, "likely_owner": 1, "uncertain": 2}


def review_list(data_dir: Path, scope: Scope, store: Store) -> pl.DataFrame:
    """The undecided pairs of the current review queue in ``scope`` (by the case's county), as
    a work list: ``pair_id``, ``county_code``, ``priority``, ``reason`` (in words) and both
    sides' masked fields."""
    items = registry_api.review_items(data_dir, scope)  # masked, keys too
    decided = decisions.load(data_dir, store)
    if decided.height:  # pair ids of the decided pairs, from the queue's own (unmasked) table
        raw = snapshot.require_current(data_dir).scan("review_items")
        done = (
            raw.select("pair_id", "left_key", "right_key")
            .collect()
            .join(decided.select("left_key", "right_key"), on=["left_key", "right_key"], how="semi")
        )
        items = items.filter(~pl.col("pair_id").is_in(done["pair_id"].to_list()))
    words = registry_api.VALUE_LABELS_ZH["reason"]
    out = items.with_columns(
        pl.coalesce("left_county", "right_county").alias("county_code"),
        pl.col("reason").replace_strict(PRIORITY, default=2).cast(pl.Int32).alias("priority"),
        pl.col("reason").replace(words).alias("reason"),
        pl.col("match_probability").round(3),
    ).drop("left_key", "right_key")  # node keys carry ID numbers: never kept with a case
    return scope.filter(out, "county_code")


def case_key(pair_id: str) -> str:
    return f"review/{pair_id}/"


def decide_pair(
    store: Store,
    actor: Actor,
    scope: Scope,
    data_dir: Path,
    pair_id: str,
    decision: str,
    note: str = "",
) -> lifecycle.CaseView | None:
    """Decide a pair of the review queue: through its case when one is open or may still take
    an outcome (resolved with 同一人 / 不同人, the decision recorded in the registry in the same
    transaction), else directly in the registry (:func:`canbao.registry.api.review_pair` and
    :func:`canbao.registry.decisions.record`, as ``registry.api.decide`` does, in ``store``). The
    case resolved, or None when there was none."""
    decisions.check_decision(decision)
    with store.sessions() as s:
        found = s.execute(
            select(Case.id, Case.state, Case.county_code).where(Case.case_key == case_key(pair_id))
        ).first()
    if (
        found is None
        or not scope.allows(found.county_code)
        or "resolve" not in (lifecycle.TRANSITIONS.get(found.state, {}))
    ):  # no case to decide through: the registry's own way, in this store
        roles.require(actor.role, "review.decide", actor.name)
        left, right = registry_api.review_pair(data_dir, pair_id, scope)
        decisions.record(data_dir, left, right, decision, note, actor=actor, store=store)
        return None
    return lifecycle.resolve(store, actor, scope, found.id, decision, reason=note,
                             data_dir=data_dir)  # fmt: skip
