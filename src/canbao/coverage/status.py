"""Coverage status per enrolment record and per person × scheme as of a date.

A record's status on day D (the extract's own status applies from its as-of date on):

- ended before D (end date < D): ``suspended`` when the record says so, else ``ended``;
- D on or after the extract's as-of date: the recorded status (no status = ``active``), also
  when the start date lies after D (registered, coverage starting next month: not a gap);
- D before the extract's as-of date (history): no status when the record had not started yet
  (start date, or the extract date when there is none, after D); ``ended`` for an ended record
  without end date; else ``active`` (the record was running then).

Per person × scheme the best status wins (active > suspended > ended); ``n_active_counties`` is
0, 1 or 2 (two or more areas), ``n_active`` counts active rows (exact copies included).

``receiving`` (1/0) says whether a record's 待遇状态 is ``receiving``: the code ingest gives it
(:data:`canbao.ingest.kinds.BENEFIT_STATUS`; 领取中, 正常发放… all code to ``receiving``). It is
decided here, once, for the deceased list and the retired segment.
"""

from __future__ import annotations

from canbao.coverage.session import Session

STATUS_RANK = {"active": 3, "suspended": 2, "ended": 1}
STATUS_ZH = {"active": "参保缴费", "suspended": "暂停缴费", "ended": "终止参保"}


def record_status_sql(day: str) -> str:
    """SQL expression: the effective status of an ``enrollments`` row on ``day``."""
    return f"""CASE
        WHEN end_date IS NOT NULL AND end_date < {day}
             AND (start_date IS NULL OR start_date <= {day})
            THEN CASE WHEN status = 'suspended' THEN 'suspended' ELSE 'ended' END
        WHEN {day} >= as_of THEN coalesce(status, 'active')
        WHEN coalesce(start_date, as_of) > {day} THEN NULL
        WHEN status = 'ended' AND end_date IS NULL THEN 'ended'
        ELSE 'active' END"""


def build_record_status(s: Session) -> None:
    s.execute(
        f"""
        CREATE OR REPLACE TABLE record_status AS
        SELECT person_key, scheme, county_code, employer_key, start_date, end_date, person_type,
               base, benefit, source, "row", batch_id, as_of, status AS recorded_status,
               {record_status_sql(s.day)} AS eff_status,
               CASE WHEN benefit = 'receiving' THEN 1 ELSE 0 END AS receiving
        FROM enrollments
        """
    )


def build_person_scheme(s: Session) -> None:
    s.ensure("record_status", build_record_status)
    s.execute(
        """
        CREATE OR REPLACE TABLE person_scheme AS
        WITH r AS (
            SELECT person_key, scheme, county_code, employer_key, eff_status, receiving,
                   CASE eff_status WHEN 'active' THEN 3 WHEN 'suspended' THEN 2 ELSE 1 END
                       AS rank,
                   CASE WHEN eff_status = 'active' THEN county_code END AS active_county
            FROM record_status WHERE eff_status IS NOT NULL
        )
        SELECT person_key, scheme,
               CASE max(rank) WHEN 3 THEN 'active' WHEN 2 THEN 'suspended' ELSE 'ended' END
                   AS status,
               sum(CASE WHEN rank = 3 THEN 1 ELSE 0 END) AS n_active,
               CASE WHEN min(active_county) IS NULL THEN 0
                    WHEN min(active_county) = max(active_county) THEN 1 ELSE 2 END
                   AS n_active_counties,
               min(active_county) AS county_code,
               max(active_county) AS county_code_2,
               max(CASE WHEN rank = 3 THEN employer_key END) AS employer_key,
               max(CASE WHEN rank = 3 THEN receiving ELSE 0 END) AS receiving
        FROM r
        GROUP BY person_key, scheme
        """
    )
