"""What resolving a case does outside the case: for the registry's review pairs (kind ``review``),
the outcomes 同一人 / 不同人 are the registry's decisions.

:func:`apply` runs inside the transaction that resolves the case (:func:`canbao.cases.resolve`,
:func:`canbao.cases.import_workbook`), before the case moves: it looks the pair up in the current
review queue (:func:`canbao.registry.api.review_pair` — the one ``canbao review decide`` uses)
and adds the decision with its ``review.decide`` audit entry
(:func:`canbao.registry.decisions.add`). The case's step and the decision commit together or not
at all; the next build honours the decision, the pair leaves the queue, and the case is
``confirmed`` by the data (:mod:`canbao.cases.opening`). A pair no longer in the current queue
cannot be decided (a NotFoundError, nothing changes). Outcomes with no effect (无法判断, every
other kind) need nothing.

Deciding needs the role's ``review.decide`` besides ``case.work``, and the data directory (the registry's snapshot): a review case resolved without one
is refused in Chinese (``data_dir``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from canbao.errors import UsageError
from canbao.registry import api as registry_api
from canbao.registry import decisions
from canbao.store import Actor, Store, roles
from canbao.store.models import Case

DECISIONS = {"same": "same", "different": "different"}  # review outcome → registry decision
NEEDS_DATA_DIR = frozenset({"review"})


def has_effect(kind: str, code: str) -> bool:
    return kind == "review" and code in DECISIONS


def prepare(store: Store, data_dir: Path | None) -> None:
    """Before the resolving transaction: bring the registry's decisions into the store (the
    one-time import of a legacy ``decisions.jsonl``, which commits on its own)."""
    if data_dir is not None:
        decisions.migrate_legacy(data_dir, store)


def check(kind: str, code: str, data_dir: Path | None) -> None:
    """A UsageError when the outcome needs the data directory and none was given."""
    if has_effect(kind, code) and data_dir is None:
        raise UsageError(
            "复核案件的“同一人/不同人”须记入登记库：请指定数据目录（--data-dir）",
            "a review decision needs the data directory",
            field="outcome",
        )


def apply(
    session: Session, actor: Actor, case: Case, code: str, note: str, data_dir: Path | None
) -> dict[str, Any]:
    """Do the outcome's effect in the caller's transaction; what to add to the case event's
    detail (empty when the outcome has none)."""
    check(case.kind, code, data_dir)
    if not has_effect(case.kind, code) or data_dir is None:
        return {}
    roles.require(actor.role, "review.decide", actor.name)
    left, right = registry_api.review_pair(data_dir, case.subject_key)  # NotFoundError first
    decisions.add(session, actor, left, right, DECISIONS[code], note)
    return {"decision": DECISIONS[code]}
