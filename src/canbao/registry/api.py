"""Public registry API: build, exports, review and as-of queries (the CLI is a thin layer)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from canbao import outputs
from canbao.errors import NotFoundError, UsageError
from canbao.registry import decisions, snapshot
from canbao.registry.build import BuildResult, Progress, RecordSource
from canbao.registry.build import build as _build
from canbao.registry.engine import duckdb_connect
from canbao.standards import citizen_id, masking
from canbao.store import Actor, Store, audit_log, open_store
from canbao.warehouse.scope import Scope

__all__ = [
    "BuildResult",
    "build",
    "decide",
    "enrolled_as_of",
    "export_table",
    "links",
    "person",
    "person_by_key",
    "persons",
    "employers",
    "review_items",
]


def build(
    data_dir: Path,
    *,
    full: bool = False,
    retrain: bool = False,
    source: RecordSource | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
) -> BuildResult:
    """Build the registry (``engine``: ``duckdb`` or ``spark``, default ``$CANBAO_ENGINE``)."""
    return _build(
        data_dir,
        full=full,
        retrain=retrain,
        source=source,
        progress=progress,
        engine=engine,
        spark_master=spark_master,
    )


def _read(data_dir: Path, table: str) -> pl.DataFrame:
    snap = snapshot.require_current(data_dir)
    return snap.scan(table).collect()


# Every read takes a Scope (canbao.warehouse.scope): rows outside the reader's counties are never
# returned; personal data is masked (standards.masking) unless the caller asks to ``reveal`` it,
# which the scope must allow and which writes an audit-log entry (canbao.store.audit_log).
REVEALED_FIELDS = ("id18", "phone", "address", "birth_date")


def _log(data_dir: Path, store: Store | None, event: audit_log.Event) -> None:
    """Append ``event`` to the audit log: through ``store`` when the caller holds one (the web's
    one store per process), else through the data directory's store, opened for it."""
    if store is not None:
        audit_log.log(store, event)
        return
    own = open_store(data_dir)
    try:
        audit_log.log(own, event)
    finally:
        own.dispose()


def _log_reveal(
    data_dir: Path,
    scope: Scope,
    what: str,
    rows: int,
    fields: tuple[str, ...],
    *,
    store: Store | None = None,
) -> None:
    _log(
        data_dir, store,
        audit_log.Event(
            scope.actor, scope.role, "person.reveal", what, (), fields, scope.client,
            {"rows": rows, "counties": sorted(scope.counties or []), "reason": scope.reason},
        ),
    )  # fmt: skip


def _log_person_reveal(data_dir: Path, scope: Scope, person_key: str, store: Store | None) -> None:
    """One person's full record shown: the entry names the person key, never the ID."""
    _log(
        data_dir, store,
        audit_log.Event(
            scope.actor, scope.role, "person.reveal", "person", (person_key,), REVEALED_FIELDS,
            scope.client, {"reason": scope.reason},
        ),
    )  # fmt: skip


def _counties_of_persons(data_dir: Path, scope: Scope) -> pl.LazyFrame:
    return (
        snapshot.require_current(data_dir)
        .scan("persons")
        .select("person_key", "county_code")
        .filter(scope.expr("county_code"))
    )


def links(data_dir: Path, scope: Scope, *, reveal: bool = False) -> pl.DataFrame:
    """source,row,person_key for every linked person-bearing record (plus batch and method) of
    the persons in ``scope``; the record's pinyin and birth date only with ``reveal``."""
    scope.require_personal()
    lf = snapshot.require_current(data_dir).scan("links")
    if not scope.city_wide:
        lf = lf.join(_counties_of_persons(data_dir, scope).select("person_key"), on="person_key")
    from canbao.ingest import api as ingest_api

    # named by their rows in the current files (a re-delivered record keeps an older identity)
    df = ingest_api.current_rows(data_dir, lf.collect()).sort("source", "row")
    if not reveal:
        return df.drop("name_pinyin", "birth_date", strict=False)
    scope.require_reveal()
    _log_reveal(data_dir, scope, "links", df.height, ("name_pinyin", "birth_date"))
    return df


def persons(data_dir: Path, scope: Scope, *, reveal: bool = False) -> pl.DataFrame:
    """The master persons in ``scope``: IDs and phones masked, birth dates cut to the year
    (:func:`canbao.standards.masking.mask_frame`) unless ``reveal`` (audit-logged)."""
    scope.require_personal()
    lf = snapshot.require_current(data_dir).scan("persons").filter(scope.expr("county_code"))
    df = lf.collect().sort("person_key")
    if not reveal:
        return masking.mask_frame(df)
    scope.require_reveal()
    _log_reveal(data_dir, scope, "persons", df.height, REVEALED_FIELDS)
    return df


def person(
    data_dir: Path,
    id_number: str,
    scope: Scope,
    *,
    reveal: bool = False,
    store: Store | None = None,
) -> dict[str, object]:
    """The master person with this citizen ID (18 digits, or the 15-digit form; ``x`` or ``X``),
    masked unless ``reveal`` (audit-logged, keyed by person key, never by the ID; through
    ``store`` when given, else the data directory's). A person outside ``scope``'s counties is
    reported as not found (nothing about them leaks)."""
    scope.require_personal()
    checked = citizen_id.check(id_number)
    if not checked.valid or checked.id18 is None:
        raise UsageError(f"身份证号无效：{masking.mask_id(str(id_number))}", "invalid citizen ID")
    df = snapshot.require_current(data_dir).find_id(checked.id18).filter(scope.expr("county_code"))
    if df.height == 0:
        raise NotFoundError(
            "登记库中没有这个身份证号的人员（或不在您负责的区县）", "no such person in scope"
        )
    return _shown(data_dir, df.head(1), scope, reveal, store)


def person_by_key(
    data_dir: Path,
    person_key: str,
    scope: Scope,
    *,
    reveal: bool = False,
    store: Store | None = None,
) -> dict[str, object]:
    """The master person with this person key, as :func:`person` (masked unless ``reveal``,
    audit-logged; a person outside ``scope`` is not found)."""
    scope.require_personal()
    df = (
        snapshot.require_current(data_dir)
        .scan("persons")
        .filter((pl.col("person_key") == person_key) & scope.expr("county_code"))
        .collect()
    )
    if df.height == 0:
        raise NotFoundError(
            "登记库中没有这个人员（或不在您负责的区县）", "no such person key in scope"
        )
    return _shown(data_dir, df.head(1), scope, reveal, store)


def _shown(
    data_dir: Path, row: pl.DataFrame, scope: Scope, reveal: bool, store: Store | None
) -> dict[str, object]:
    if not reveal:
        return masking.mask_frame(row).row(0, named=True)
    scope.require_reveal()
    _log_person_reveal(data_dir, scope, str(row["person_key"][0]), store)
    return row.row(0, named=True)


def employers(data_dir: Path, scope: Scope) -> pl.DataFrame:
    """The master employers in ``scope`` (no personal data)."""
    lf = snapshot.require_current(data_dir).scan("employers")
    return lf.filter(scope.expr("county_code")).collect()


def enrolled_as_of(
    data_dir: Path, on: dt.date, scope: Scope, scheme: str | None = None
) -> pl.DataFrame:
    """Who was enrolled where on a given date (from the enrolment history of the registry),
    records of ``scope``'s counties only.

    A record counts when its start date (if any) is on or before the date, its end date (if any)
    on or after, and its status is not ``ended`` before the date. Records with no dates mean
    "enrolled as of the extract's as-of date" and count from that date on.
    """
    scope.require_personal()
    en = snapshot.require_current(data_dir).scan("enrollments").filter(scope.expr("county_code"))
    start = pl.coalesce(pl.col("start_date"), pl.col("as_of"))
    on_lit = pl.lit(on)
    active = (
        (start <= on_lit)
        & (pl.col("end_date").is_null() | (pl.col("end_date") >= on_lit))
        # a record without a status counts (only an explicit "ended" without end date stops it)
        & ~((pl.col("status") == "ended").fill_null(False) & pl.col("end_date").is_null())
    )
    out = en.filter(active)
    if scheme is not None:
        out = out.filter(pl.col("scheme") == scheme)
    return out.collect()


def review_items(data_dir: Path, scope: Scope) -> pl.DataFrame:
    """Open review items with both sides' fields (IDs masked) and the weight breakdown; a
    county reader sees the pairs with either side in their counties.

    ``reason``: ``uncertain`` or ``ambiguous`` (the model's pairs, :mod:`.assign`) or
    ``likely_owner`` (a record without ID and an identified person it most likely belongs to,
    :mod:`.owners`; the probability is the model's, 0 when it scored the pair below review)."""
    scope.require_personal()
    snap = snapshot.require_current(data_dir)
    con = duckdb_connect(data_dir)
    for t in ("review_items", "nodes", "pairs"):
        con.execute(f"CREATE VIEW {t} AS {snap.sql(t)}")
    df = con.sql(
        """
        WITH a_rep AS (
            SELECT 'A:' || cluster_hint AS right_key, min(node_id) AS node_id
            FROM nodes WHERE node_type = 'A' GROUP BY cluster_hint
        ), r AS (
            SELECT ri.*, coalesce(a.node_id, ri.right_key) AS right_node
            FROM review_items ri LEFT JOIN a_rep a USING (right_key)
        )
        SELECT r.pair_id, r.reason, r.prob AS match_probability, r.mw AS match_weight,
               r.left_key, r.right_key,
               l.name_norm AS left_name, rn.name_norm AS right_name,
               l.id_norm AS left_id, rn.id_norm AS right_id,
               l.birth AS left_birth, rn.birth AS right_birth,
               l.sex AS left_sex, rn.sex AS right_sex,
               l.county_code AS left_county, rn.county_code AS right_county,
               p.mw_id, p.mw_name, p.mw_tf_adj_name, p.mw_birth, p.mw_sex, p.mw_county,
               p.mw_household, p.mw_phone, p.mw_employer
        FROM r
        JOIN nodes l ON l.node_id = r.left_key
        LEFT JOIN nodes rn ON rn.node_id = r.right_node
        LEFT JOIN pairs p ON p.node_id_l = least(r.left_key, r.right_node)
                         AND p.node_id_r = greatest(r.left_key, r.right_node)
        ORDER BY r.prob DESC, r.pair_id
        """
    ).pl()
    con.close()
    # the evidence of the birth dates is kept as a comparison; the dates themselves are cut to
    # the year, since a full date next to a masked ID gives the ID back (standards.masking)
    lb, rb = pl.col("left_birth").cast(pl.Utf8), pl.col("right_birth").cast(pl.Utf8)
    same = (
        pl.when(lb.is_null() | rb.is_null())
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(lb == rb)
        .then(pl.lit("相同"))
        .when(lb.str.slice(0, 7) == rb.str.slice(0, 7))
        .then(pl.lit("同年同月"))
        .when(lb.str.slice(0, 4) == rb.str.slice(0, 4))
        .then(pl.lit("同年"))
        .otherwise(pl.lit("不同"))
    )
    df = df.filter(scope.expr("left_county") | scope.expr("right_county"))
    return masking.mask_frame(df.with_columns(birth_match=same))


def decide(
    data_dir: Path,
    pair_id: str,
    decision: str,
    note: str = "",
    actor: Actor | None = None,
    scope: Scope | None = None,
) -> dict[str, str]:
    """Record a decision on a review item (in the store, by ``actor``: default the command
    line's operator); the next build respects it. With a ``scope``, the pair must be one the
    reader sees in :func:`review_items`."""
    left_key, right_key = review_pair(data_dir, pair_id, scope)
    return decisions.record(data_dir, left_key, right_key, decision, note, actor=actor)


def review_pair(data_dir: Path, pair_id: str, scope: Scope | None = None) -> tuple[str, str]:
    """The (left, right) node keys of the pair ``pair_id`` of the current review queue (what a
    decision is recorded on); a NotFoundError when the queue has no such pair (or, with a
    ``scope``, none the reader sees in :func:`review_items`)."""
    if scope is not None:
        visible = review_items(data_dir, scope)
        if visible.filter(pl.col("pair_id") == pair_id).height == 0:
            raise NotFoundError(
                f"复核队列中没有编号为 {pair_id} 的记录对（或不在您负责的区县）",
                f"no review item {pair_id} in scope",
            )
    items = _read(data_dir, "review_items").filter(pl.col("pair_id") == pair_id)
    if items.height == 0:
        raise NotFoundError(
            f"复核队列中没有编号为 {pair_id} 的记录对", f"no review item with pair_id {pair_id}"
        )
    row = items.row(0, named=True)
    return str(row["left_key"]), str(row["right_key"])


# Column headers of xlsx exports (people read these; csv/parquet keep the English contract).
COLUMN_LABELS_ZH = {
    "person_key": "人员主键",
    "id18": "公民身份号码",
    "name": "姓名",
    "birth_date": "出生日期",
    "sex": "性别",
    "county_code": "区县代码",
    "township": "乡镇(街道)",
    "address": "住址",
    "household_id": "户号",
    "phone": "联系电话",
    "death_date": "死亡日期",
    "id_status": "身份证号状态",
    "n_records": "来源记录数",
    "sources": "来源",
    "employer_key": "单位主键",
    "credit_code": "统一社会信用代码",
    "org_code": "组织机构代码",
    "ownership": "经济类型",
    "industry": "行业",
    "risk_class": "工伤风险类别",
    "park": "园区企业",
    "registered_date": "登记日期",
    "status": "状态",
    "si_registered": "已办理社保登记",
    "source": "来源",
    "row": "行号",
    "pair_id": "复核编号",
    "reason": "原因",
    "match_probability": "匹配概率",
    "match_weight": "匹配权重",
    "left_name": "左：姓名",
    "right_name": "右：姓名",
    "left_id": "左：证件号",
    "right_id": "右：证件号",
    "left_birth": "左：出生年份",
    "right_birth": "右：出生年份",
    "birth_match": "出生日期比对",
    "left_key": "左：节点",
    "right_key": "右：节点",
    "left_sex": "左：性别",
    "right_sex": "右：性别",
    "left_county": "左：区县",
    "right_county": "右：区县",
    "id_as_delivered": "原始证件号",
    "proposed_id18": "建议证件号",
    "method": "关联方式",
    "id_errors": "证件号错误",
    "name_norm": "姓名",
}


def export_table(df: pl.DataFrame, out: Path) -> outputs.WriteSummary:
    """Write a frame as csv, xlsx or parquet, chosen by the file extension (xlsx headers in
    Chinese, with the English column name where no label is defined), through the safe writer."""
    if out.suffix.lower() == ".xlsx":  # a workbook is for people: codes in words
        df = df.with_columns(
            pl.col(c).replace(words) for c, words in VALUE_LABELS_ZH.items() if c in df.columns
        )
    return outputs.write_table(df, out, labels=COLUMN_LABELS_ZH)


VALUE_LABELS_ZH = {
    "park": {"yes": "是", "no": "否"},  # coded at ingest (ingest.kinds)
    "reason": {  # of a review item (registry.assign, registry.owners)
        "ambiguous": "模糊（多个相近的人）",
        "uncertain": "不确定",
        "likely_owner": "无证件号记录的可能本人",
    },
}
