"""Progress of the field work: counts per county, township, kind and assignee (set-based: one
``GROUP BY`` each), nothing personal — for supervision (督导) and, later, the 通报.

:func:`progress` gives three frames:

- ``summary`` — per county, township, kind, assignee (a user, else the township team, else
  empty): ``opened`` (cases ever opened), ``open``, ``worked`` (had a contact, outcome or
  escalation), ``resolved`` (an outcome stands: resolved or confirmed), ``confirmed`` (by the
  data), ``gone`` (left the list with no outcome), ``overdue`` (open for more than ``sla_days``
  since opened or reopened);
- ``outcomes`` — the same groups × outcome: cases whose outcome stands;
- ``uninsured`` — :func:`uninsured_split`.

:func:`uninsured_outcomes` hands the same categories per person to the coverage statistics
(:func:`canbao.coverage.api.statistics`, ``outcomes``), which split their uninsured counts by it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Integer, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from canbao.cases import outcomes
from canbao.cases.lifecycle import OPEN, RESOLVED, in_scope
from canbao.errors import UsageError
from canbao.store import Store, roles
from canbao.store.models import Case
from canbao.warehouse.scope import Scope

DEFAULT_SLA_DAYS = 30
GROUPS = ("county_code", "township", "kind", "assignee")
UNINSURED_KINDS = ("uninsured_pension", "uninsured_medical")

LABELS_ZH = {  # the progress frames' columns, in Chinese (workbooks)
    "county_code": "区县代码",
    "township": "乡镇(街道)",
    "kind": "案件类型",
    "assignee": "经办人/工作组",
    "opened": "开案",
    "open": "待办",
    "worked": "已办理",
    "resolved": "已办结",
    "confirmed": "数据确认",
    "gone": "已不在清单",
    "overdue": "逾期",
    "outcome": "结果代码",
    "outcome_label": "处理结果",
    "cases": "案件数",
    "listed": "在清单",
    "unexplained": "未核实",
    "awaiting": "待数据确认",
    "explained": "已说明原因",
}


@dataclass(frozen=True)
class Progress:
    summary: pl.DataFrame
    outcomes: pl.DataFrame
    uninsured: pl.DataFrame


def _count(cond: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((cond, 1), else_=0)).cast(Integer)


def _groups() -> list[ColumnElement[Any]]:
    return [
        Case.county_code.label("county_code"),
        func.coalesce(Case.township, literal("")).label("township"),
        Case.kind.label("kind"),
        func.coalesce(Case.assignee, Case.team, literal("")).label("assignee"),
    ]


def _frame(rows: list[tuple[object, ...]], columns: list[str]) -> pl.DataFrame:
    data = {c: [r[i] for r in rows] for i, c in enumerate(columns)}
    schema = {c: (pl.Utf8 if c in GROUPS or c in ("outcome", "outcome_label") else pl.Int64)
              for c in columns}  # fmt: skip
    return pl.DataFrame(data, schema=schema)


def progress(
    store: Store,
    scope: Scope,
    *,
    sla_days: int = DEFAULT_SLA_DAYS,
    on: dt.date | None = None,
) -> Progress:
    """The counts of the cases in ``scope`` (see the module docstring)."""
    roles.require(scope.role, "report.read", scope.actor)
    if sla_days < 1:
        raise UsageError("办理时限须至少 1 天", f"bad SLA {sla_days}")
    day = on or dt.date.today()
    cutoff = dt.datetime.combine(day - dt.timedelta(days=sla_days), dt.time())
    is_open = Case.state.in_(sorted(OPEN))
    groups = _groups()
    counts = {
        "opened": func.count().cast(Integer),
        "open": _count(is_open),
        "worked": _count(Case.worked_at.is_not(None)),
        "resolved": _count(Case.state.in_(sorted(RESOLVED))),
        "confirmed": _count(Case.state == "confirmed"),
        "gone": _count(Case.state == "gone_from_list"),
        "overdue": _count(is_open & (Case.open_since < cutoff)),
    }
    q = (
        select(*groups, *(v.label(k) for k, v in counts.items()))
        .where(in_scope(scope))
        .group_by(*groups)
        .order_by(*groups)
    )
    q2 = (
        select(*groups, Case.outcome.label("outcome"), func.count().cast(Integer).label("cases"))
        .where(in_scope(scope), Case.state.in_(sorted(RESOLVED)))
        .group_by(*groups, Case.outcome)
        .order_by(*groups, Case.outcome)
    )
    with store.sessions() as s:
        summary = _frame([tuple(r) for r in s.execute(q)], [*GROUPS, *counts])
        by_outcome = _frame([tuple(r) for r in s.execute(q2)], [*GROUPS, "outcome", "cases"])
    labels = {k: o.label for k, o in outcomes.OUTCOMES.items()}
    by_outcome = by_outcome.with_columns(
        pl.col("outcome").replace_strict(labels, default="").alias("outcome_label")
    )
    return Progress(summary, by_outcome, uninsured_split(store, scope))


def uninsured_split(store: Store, scope: Scope) -> pl.DataFrame:
    """Per county and uninsured kind: the people on the latest list (``listed``) split into
    ``unexplained`` (case open), ``awaiting`` (an outcome the data will confirm, e.g. 已参保,
    not seen in the data yet) and ``explained`` (an outcome the data cannot see — 已在外地参保,
    在校学生, 不符合参保条件, 拒绝参保, 联系不上… — a separate category, never counted as insured);
    and ``confirmed``: people off the list whose outcome the data confirmed."""
    roles.require(scope.role, "report.read", scope.actor)
    with store.sessions() as s:
        latest = dict(
            s.execute(
                select(Case.kind, func.max(Case.last_seen_build))
                .where(in_scope(scope), Case.kind.in_(UNINSURED_KINDS))
                .group_by(Case.kind)
            ).all()
        )
        rows: list[tuple[object, ...]] = []
        for kind, build in sorted(latest.items()):
            listed = Case.last_seen_build == build
            confirmable = Case.outcome.in_(sorted(outcomes.CONFIRMABLE))
            resolved = listed & (Case.state == "resolved")
            q = (
                select(
                    Case.county_code, literal(kind),
                    _count(listed), _count(listed & Case.state.in_(sorted(OPEN))),
                    _count(resolved & confirmable), _count(resolved & ~confirmable),
                    _count(Case.state == "confirmed"),
                )
                .where(in_scope(scope), Case.kind == kind)
                .group_by(Case.county_code)
                .order_by(Case.county_code)
            )  # fmt: skip
            rows += [tuple(r) for r in s.execute(q)]
    cols = ["county_code", "kind", "listed", "unexplained", "awaiting", "explained", "confirmed"]
    return _frame(rows, cols)


SCHEME_OF_KIND = {"uninsured_pension": "pension", "uninsured_medical": "medical"}


def uninsured_outcomes(store: Store, scope: Scope) -> pl.DataFrame:
    """One row per person and scheme (``pension`` / ``medical``) whose uninsured case has a
    standing outcome, in ``scope``: person_key, scheme, category (``awaiting``: resolved with
    an outcome the data will confirm; ``explained``: resolved with one it cannot see;
    ``confirmed``: confirmed by the data) and the case's county_code — the columns
    :data:`canbao.coverage.stats.OUTCOME_COLUMNS` the coverage statistics take. Person keys
    only (nothing else personal); role ``report.read``."""
    roles.require(scope.role, "report.read", scope.actor)
    confirmable = sorted(outcomes.CONFIRMABLE)
    q = select(Case.subject_key, Case.kind, Case.state, Case.outcome, Case.county_code).where(
        in_scope(scope), Case.kind.in_(UNINSURED_KINDS), Case.state.in_(sorted(RESOLVED))
    )
    with store.sessions() as s:
        rows = [tuple(r) for r in s.execute(q)]
    frame = pl.DataFrame(
        rows, orient="row", schema={"person_key": pl.Utf8, "kind": pl.Utf8, "state": pl.Utf8,
                                    "outcome": pl.Utf8, "county_code": pl.Utf8},
    )  # fmt: skip
    category = (
        pl.when(pl.col("state") == "confirmed").then(pl.lit("confirmed"))
        .when(pl.col("outcome").is_in(confirmable)).then(pl.lit("awaiting"))
        .otherwise(pl.lit("explained"))
    )  # fmt: skip
    return frame.select(
        "person_key",
        pl.col("kind").replace_strict(SCHEME_OF_KIND).alias("scheme"),
        category.alias("category"),
        "county_code",
    )
