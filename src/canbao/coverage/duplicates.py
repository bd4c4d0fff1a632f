"""重复参保: the same person with two or more active records for the same period.

Kinds (the flags of ``canbao export coverage``):

- ``duplicate_medical``: active in employee *and* resident medical;
- ``duplicate_pension``: active in employee *and* resident pension;
- ``duplicate_area``: active in the same scheme in two pooling areas (county codes);
- ``duplicate_record``: two distinct active records of one scheme in the same area (exact copies
  of a record delivered twice are not duplicates).
"""

from __future__ import annotations

from canbao.coverage.session import Session
from canbao.coverage.status import build_person_scheme, build_record_status
from canbao.coverage.unlinked import build_unlinked_candidates

KINDS_ZH = {
    "duplicate_medical": "职工医保与居民医保重复",
    "duplicate_pension": "职工养老与居民养老重复",
    "duplicate_area": "同一险种两地参保",
    "duplicate_record": "同一险种重复登记",
}
REASON_ZH = {
    "duplicate_medical": "就业后参加职工医保，居民医保未停保：建议停居民医保、清退个人缴费及财政补助",
    "duplicate_pension": "参加职工养老后仍在居民养老缴费或领取：建议按规定转移衔接或清退",
    "duplicate_area": "迁移或外出后在原籍未停保：建议保留现居住地参保、停原参保地",
    "duplicate_record": "同一统筹区重复建档：建议合并参保记录",
}


def build_duplicates(s: Session) -> None:
    s.ensure("person_scheme", build_person_scheme)
    s.ensure("record_status", build_record_status)
    s.ensure("unlinked_candidates", build_unlinked_candidates)
    s.execute(
        """
        CREATE OR REPLACE TABLE duplicates AS
        WITH n AS (
            SELECT other_key, count(*) AS n, sum(same_employer) AS e
            FROM unlinked_candidates GROUP BY other_key
        ), owner AS (
            -- a record without ID attributed to its only candidate owner (unlinked.py)
            SELECT c.other_key, c.person_key FROM unlinked_candidates c
            JOIN n ON n.other_key = c.other_key
            WHERE ((n.e = 1 AND c.same_employer = 1) OR (n.e = 0 AND n.n = 1))
              AND c.same_employer = 1
        ), ps AS (
            SELECT person_key, scheme, county_code, 0 AS via_unlinked
            FROM person_scheme WHERE status = 'active'
            UNION ALL
            SELECT o.person_key, x.scheme, x.county_code, 1 AS via_unlinked
            FROM owner o JOIN person_scheme x ON x.person_key = o.other_key
            WHERE x.status = 'active'
        ), cross_scheme AS (
            SELECT a.person_key,
                   CASE WHEN a.scheme = 'employee_medical' THEN 'duplicate_medical'
                        ELSE 'duplicate_pension' END AS kind,
                   a.scheme || '|' || b.scheme AS schemes,
                   CASE WHEN a.county_code = b.county_code THEN a.county_code
                        WHEN a.county_code < b.county_code THEN a.county_code || '|' || b.county_code
                        ELSE b.county_code || '|' || a.county_code END AS counties,
                   2 AS n_records, greatest(a.via_unlinked, b.via_unlinked) AS via_unlinked
            FROM ps a JOIN ps b ON a.person_key = b.person_key
            WHERE ((a.scheme = 'employee_medical' AND b.scheme = 'resident_medical')
                OR (a.scheme = 'employee_pension' AND b.scheme = 'resident_pension'))
              AND a.via_unlinked + b.via_unlinked < 2
        ), area AS (
            SELECT person_key, 'duplicate_area' AS kind, scheme AS schemes,
                   county_code || '|' || county_code_2 AS counties, n_active AS n_records,
                   0 AS via_unlinked
            FROM person_scheme WHERE status = 'active' AND n_active_counties > 1
        ), rec AS (
            SELECT person_key, scheme, county_code, count(*) AS n
            FROM (SELECT DISTINCT person_key, scheme, county_code, start_date, employer_key
                  FROM record_status WHERE eff_status = 'active') d
            GROUP BY person_key, scheme, county_code
            HAVING count(*) > 1
        ), same AS (
            SELECT person_key, 'duplicate_record' AS kind, scheme AS schemes,
                   county_code AS counties, n AS n_records, 0 AS via_unlinked
            FROM rec
        )
        SELECT person_key, kind, schemes, min(counties) AS counties,
               max(n_records) AS n_records, min(via_unlinked) AS via_unlinked
        FROM (SELECT * FROM cross_scheme UNION ALL SELECT * FROM area
              UNION ALL SELECT * FROM same) d
        GROUP BY person_key, kind, schemes
        """
    )


def duplicates_list_sql(s: Session) -> str:
    s.ensure("duplicates", build_duplicates)
    from canbao.coverage.segments import build_person_facts

    s.ensure("person_facts", build_person_facts)
    kind_zh = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in KINDS_ZH.items())
    reason = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in REASON_ZH.items())
    return f"""
        SELECT s.county_code, s.township, s.segment,
               CASE WHEN d.kind IN ('duplicate_medical', 'duplicate_pension') THEN 1 ELSE 2 END
                   AS priority,
               CASE d.kind {kind_zh} END AS duplicate_kind,
               CASE d.kind {reason} END
               || CASE WHEN d.via_unlinked = 1
                       THEN '（其中一条记录无有效证件号，按姓名、出生年月、区县推定为本人，需核实）'
                       ELSE '' END AS reason,
               s.person_key, s.id18, s.name, s.sex, s.age, s.phone,
               d.kind, d.schemes, d.counties, d.n_records
        FROM duplicates d JOIN person_segments s ON s.person_key = d.person_key
    """
