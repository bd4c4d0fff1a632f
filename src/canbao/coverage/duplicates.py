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
    s.con.execute(
        """
        CREATE OR REPLACE TABLE duplicates AS
        WITH ps AS (SELECT * FROM person_scheme WHERE status = 'active'),
        cross_scheme AS (
            SELECT a.person_key,
                   CASE WHEN a.scheme = 'employee_medical' THEN 'duplicate_medical'
                        ELSE 'duplicate_pension' END AS kind,
                   a.scheme || '|' || b.scheme AS schemes,
                   CASE WHEN a.county_code = b.county_code THEN a.county_code
                        WHEN a.county_code < b.county_code THEN a.county_code || '|' || b.county_code
                        ELSE b.county_code || '|' || a.county_code END AS counties,
                   2 AS n_records
            FROM ps a JOIN ps b ON a.person_key = b.person_key
            WHERE (a.scheme = 'employee_medical' AND b.scheme = 'resident_medical')
               OR (a.scheme = 'employee_pension' AND b.scheme = 'resident_pension')
        ), area AS (
            SELECT person_key, 'duplicate_area' AS kind, scheme AS schemes,
                   county_code || '|' || county_code_2 AS counties, n_active AS n_records
            FROM ps WHERE n_active_counties > 1
        ), rec AS (
            SELECT person_key, scheme, county_code, count(*) AS n
            FROM (SELECT DISTINCT person_key, scheme, county_code, start_date, employer_key
                  FROM record_status WHERE eff_status = 'active') d
            GROUP BY person_key, scheme, county_code
            HAVING count(*) > 1
        ), same AS (
            SELECT person_key, 'duplicate_record' AS kind, scheme AS schemes,
                   county_code AS counties, n AS n_records
            FROM rec
        )
        SELECT * FROM cross_scheme UNION ALL SELECT * FROM area UNION ALL SELECT * FROM same
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
               CASE d.kind {reason} END AS reason,
               s.person_key, s.id18, s.name, s.sex, s.age, s.phone,
               d.kind, d.schemes, d.counties, d.n_records
        FROM duplicates d JOIN person_segments s ON s.person_key = d.person_key
    """
