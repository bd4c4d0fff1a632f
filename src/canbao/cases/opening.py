"""Opening and carrying cases from a build's work lists, set-based, and verifying outcomes by
the data (:func:`open_cases`).

**Opening and carrying.** The lists' rows become one frame of case keys
(:func:`canbao.cases.kinds.case_rows`), loaded into a temporary table (PostgreSQL ``COPY``; SQLite
``executemany`` in chunks) and merged into ``cases`` by one ``INSERT … SELECT … ON CONFLICT
(case_key) DO UPDATE``: a new key is a new case (``new``, ``opened_build``); a key already there is
the same case, whose ``last_seen_build``, county, township, priority and display fields are brought
up to date — never a second case. Carrying does not change a case's version (a workbook exported
before the build can still be returned).

**Verification by the data** — a handful of ``UPDATE``\\ s over the kinds the given lists speak for
(a list given empty speaks too: all its cases are gone) and the scope's counties; every move
is a :class:`~canbao.store.models.CaseEvent` by ``data`` with the build, and a new version:

- an open case (new, assigned, contacted, escalated, reopened) whose key is not in this build's
  lists → ``gone_from_list`` (the gap closed without an outcome recorded; staff may still record
  one, or reopen it);
- a ``resolved`` case whose outcome the data can confirm
  (:data:`canbao.cases.outcomes.CONFIRMABLE`: 已参保, 已死亡, 已迁出, 重复已清理, 单位已登记, …) and
  whose key is not in this build's lists → ``confirmed``. *What is confirmed* is that the gap the
  case is about is no longer found in the bureau's data of this build (e.g. for 已参保 on an
  uninsured-medical case: the person has an active medical enrolment or no longer counts as an
  uninsured resident); not that the particular record the staff named exists;
- a ``confirmed`` or ``gone_from_list`` case whose key is in the lists again → ``reopened``;
- a ``resolved`` case with an expiry (在校学生: the expected graduation) that has passed on
  ``on`` and whose key is still in the lists → ``reopened``.

*Not confirmed by the data*: outcomes the data cannot see (已在外地参保, 在校学生, 不符合参保条件,
拒绝参保, 联系不上, 核实非重复, …) stay ``resolved`` whether or not their row is still listed; they
stand on their evidence note, and :func:`canbao.cases.progress.uninsured_split` counts them as
"explained by an outcome", never as insured.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, and_, func, insert, select, text, update
from sqlalchemy.orm import Session

from canbao.cases import outcomes
from canbao.cases.kinds import STAGE_COLUMNS, case_rows, covered_kinds
from canbao.cases.lifecycle import CASE_EVENTS, CASES, OPEN
from canbao.errors import StateError, UsageError
from canbao.store import Store, roles
from canbao.store.audit_log import Event, append
from canbao.store.models import Case, utcnow
from canbao.warehouse.scope import Scope

CHUNK = 50_000  # rows per executemany / COPY chunk
DATA_ACTOR = "data"


@dataclass(frozen=True)
class OpenResult:
    build_id: str
    kinds: tuple[str, ...]
    rows: int  # case keys in the lists
    new: int
    carried: int
    gone: int
    confirmed: int
    reopened: int
    expired: int


def _stage_sql(dialect: str) -> str:
    json_type = "JSON" if dialect == "postgresql" else "TEXT"
    temp = "TEMPORARY" if dialect == "postgresql" else "TEMP"
    tail = " ON COMMIT DROP" if dialect == "postgresql" else ""
    return (
        f"CREATE {temp} TABLE case_stage (case_key VARCHAR(200) PRIMARY KEY, kind VARCHAR(32), "
        "subject_type VARCHAR(8), subject_key VARCHAR(64), scheme VARCHAR(100), "
        f"county_code VARCHAR(32), township VARCHAR(64), priority INTEGER, subject {json_type})"
        f"{tail}"
    )


def _stage(session: Session, rows: pl.DataFrame) -> None:
    """Load the case keys into the temporary table ``case_stage`` (in chunks)."""
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.exec_driver_sql("DROP TABLE IF EXISTS temp.case_stage")
    conn.exec_driver_sql(_stage_sql(dialect))
    cols = ", ".join(STAGE_COLUMNS)
    if dialect == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur:
            copy_sql = f"COPY case_stage ({cols}) FROM STDIN (FORMAT csv, NULL '\\N')"
            with cur.copy(copy_sql) as cp:
                for part in rows.iter_slices(CHUNK):
                    buf = io.BytesIO()
                    part.write_csv(buf, include_header=False, null_value="\\N")
                    cp.write(buf.getvalue())
        return
    marks = ", ".join("?" for _ in STAGE_COLUMNS)
    for part in rows.iter_slices(CHUNK):
        conn.exec_driver_sql(f"INSERT INTO case_stage ({cols}) VALUES ({marks})", part.rows())


def _merge(session: Session, build_id: str, now: dt.datetime) -> int:
    """New keys → new cases; known keys → carried. Returns the number of known keys."""
    conn = session.connection()
    carried = conn.execute(
        text("SELECT count(*) FROM case_stage s JOIN cases c ON c.case_key = s.case_key")
    ).scalar_one()
    subject = "CAST(subject AS JSON)" if conn.dialect.name == "postgresql" else "subject"
    conn.execute(
        text(
            f"""
            INSERT INTO cases (case_key, kind, subject_type, subject_key, scheme, county_code,
                               township, priority, subject, state, outcome_reason, outcome_note,
                               evidence, opened_build, opened_at, open_since, last_seen_build,
                               version)
            SELECT case_key, kind, subject_type, subject_key, scheme, county_code, township,
                   priority, {subject}, 'new', '', '', '', :build, :now, :now, :build, 1
            FROM case_stage WHERE true
            ON CONFLICT (case_key) DO UPDATE SET
                last_seen_build = excluded.last_seen_build, county_code = excluded.county_code,
                township = excluded.township, priority = excluded.priority,
                subject = excluded.subject
            """
        ),
        {"build": build_id, "now": now},
    )
    return int(carried)


def _move(
    session: Session,
    where: ColumnElement[bool],
    from_states: Sequence[str],
    to: str,
    action: str,
    build_id: str,
    now: dt.datetime,
) -> int:
    """Move the cases matching ``where`` from each of ``from_states`` to ``to`` (one UPDATE …
    RETURNING per state, so each event names its state) and write their events."""
    moved = 0
    for state in from_states:
        values: dict[str, Any] = {"state": to, "state_build": build_id, "version": Case.version + 1}
        if to == "reopened":
            values["open_since"] = now
        ids = session.execute(
            update(CASES).where(where, Case.state == state).values(**values).returning(Case.id)
        ).scalars().all()  # fmt: skip
        moved += len(ids)
        for i in range(0, len(ids), CHUNK):
            session.execute(
                insert(CASE_EVENTS),
                [{"case_id": cid, "at": now, "actor": DATA_ACTOR, "action": action,
                  "from_state": state, "to_state": to, "build": build_id, "detail": {}}
                 for cid in ids[i : i + CHUNK]],
            )  # fmt: skip
    return moved


def _check_build_order(session: Session, kinds: Sequence[str], build_id: str) -> None:
    latest = session.execute(
        select(func.max(Case.last_seen_build)).where(Case.kind.in_(list(kinds)))
    ).scalar_one_or_none()
    if latest is not None and latest > build_id:
        raise StateError(
            f"登记库版本 {build_id} 早于已用于开案的版本 {latest}，不能用旧版本的清单更新案件",
            f"build {build_id} is older than {latest}",
        )


def open_cases(
    store: Store,
    scope: Scope,
    lists: Mapping[str, pl.DataFrame],
    build_id: str,
    *,
    on: dt.date | None = None,
) -> OpenResult:
    """Open new cases and carry known ones from the work lists of build ``build_id``
    (``lists``: as :func:`canbao.coverage.api.gap_lists` returns them), then verify by the data
    (see the module docstring). ``on``: the day expiries are checked against (default today).
    Every row must lie in ``scope``; only cases of the given lists' kinds and of the scope's
    counties can be moved. One audit-log entry (``cases.open``) with the counts."""
    roles.require(scope.role, "case.work", scope.actor)
    if not build_id.strip():
        raise UsageError("须给出登记库版本号（build id）", "no build id")
    kinds = covered_kinds(lists)
    rows = case_rows(lists)
    if scope.counties is not None:
        outside = rows.filter(~pl.col("county_code").is_in(sorted(scope.counties))
                              | pl.col("county_code").is_null())  # fmt: skip
        if outside.height:
            scope.require_county(outside["county_code"][0])
    day, now = on or dt.date.today(), utcnow()
    mine = and_(Case.kind.in_(list(kinds)), *(
        [Case.county_code.in_(sorted(scope.counties))] if scope.counties is not None else []
    ))  # fmt: skip
    here = Case.last_seen_build == build_id
    with store.transaction() as s:
        _check_build_order(s, kinds, build_id)
        _stage(s, rows)
        carried = _merge(s, build_id, now)
        reopened = _move(s, and_(mine, here), ("gone_from_list", "confirmed"), "reopened",
                         "reappear", build_id, now)  # fmt: skip
        expired = _move(
            s, and_(mine, here, Case.expires_on.is_not(None), Case.expires_on <= day),
            ("resolved",), "reopened", "expire", build_id, now,
        )  # fmt: skip
        gone = _move(s, and_(mine, ~here), sorted(OPEN), "gone_from_list", "gone", build_id, now)
        confirmed = _move(
            s, and_(mine, ~here, Case.outcome.in_(sorted(outcomes.CONFIRMABLE))),
            ("resolved",), "confirmed", "confirm", build_id, now,
        )  # fmt: skip
        if s.get_bind().dialect.name == "sqlite":
            s.connection().exec_driver_sql("DROP TABLE IF EXISTS temp.case_stage")
        result = OpenResult(build_id, kinds, rows.height, rows.height - carried, carried, gone,
                            confirmed, reopened, expired)  # fmt: skip
        counts = {k: v for k, v in asdict(result).items() if isinstance(v, int)}
        detail = {**counts, "kinds": list(kinds)}
        event = Event(scope.actor, scope.role, "cases.open", "build", (build_id,), (),
                      scope.client, detail)  # fmt: skip
        append(s, [event])
    return result
