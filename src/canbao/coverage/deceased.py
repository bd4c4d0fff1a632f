"""Deceased people still enrolled or still receiving: a date of death on or before the date and
a record whose status did not end with the death:

- still active on the date, or still listed as active by the department's extract (a stale end
  date in an extract that says 参保缴费 does not end the record);
- or ended more than ``deceased_end_grace_days`` (policy) after the death: contributions or
  benefits ran on after the death (a shorter lag is the normal time to report a death).

The date of death is the registry's (civil-affairs death list), else the hukou register's
cancellation date. Receiving a benefit after death (pension paid to the dead) comes first: a
record whose 待遇状态 ingest coded ``receiving`` (``record_status.receiving``; 领取中 and 正常发放
count, 停发 and 终止 do not).
"""

from __future__ import annotations

from canbao.coverage.segments import build_person_facts
from canbao.coverage.session import Session
from canbao.coverage.status import build_record_status
from canbao.coverage.unlinked import build_unlinked_candidates


def build_deceased(s: Session) -> None:
    s.ensure("person_facts", build_person_facts)
    s.ensure("record_status", build_record_status)
    s.ensure("unlinked_candidates", build_unlinked_candidates)
    grace = s.policy.deceased_end_grace_days
    still = f"""(r.eff_status = 'active'
               OR (r.recorded_status = 'active' AND {s.day} >= r.as_of)
               OR r.end_date > f.death_date + INTERVAL '{grace}' DAY)"""
    s.execute(
        f"""
        CREATE OR REPLACE TABLE deceased_enrolled AS
        WITH own AS (
            SELECT f.person_key, r.scheme, r.county_code, f.death_date, r.receiving,
                   r.start_date, r.as_of, 0 AS via_unlinked
            FROM person_facts f
            JOIN record_status r ON r.person_key = f.person_key
            WHERE f.death_date IS NOT NULL AND {still}
        ), n AS (
            -- records without ID: attributed when the dead person is the only candidate
            SELECT other_key, count(*) AS n FROM unlinked_candidates GROUP BY other_key
        ), unl AS (
            SELECT f.person_key, r.scheme, r.county_code, f.death_date, r.receiving,
                   r.start_date, r.as_of, 1 AS via_unlinked
            FROM unlinked_candidates c
            JOIN n ON n.other_key = c.other_key AND n.n = 1
            JOIN person_facts f ON f.person_key = c.person_key
            JOIN record_status r ON r.person_key = c.other_key
            WHERE f.death_date IS NOT NULL AND {still}
        ), a AS (SELECT * FROM own UNION ALL SELECT * FROM unl)
        SELECT person_key, scheme, county_code, death_date,
               max(receiving) AS receiving,
               min(coalesce(start_date, as_of)) AS start_date,
               count(*) AS n_records, min(via_unlinked) AS via_unlinked
        FROM a
        GROUP BY person_key, scheme, county_code, death_date
        """
    )


def deceased_list_sql(s: Session) -> str:
    s.ensure("deceased_enrolled", build_deceased)
    return """
        SELECT s.county_code, s.township, s.segment,
               CASE WHEN d.receiving = 1 THEN 1 ELSE 2 END AS priority,
               CASE WHEN d.receiving = 1 THEN '死亡后仍在领取待遇：疑似冒领，应立即停发并追回'
                    ELSE '死亡后参保状态未终止：应办理终止参保、核查死亡后缴费' END
               || CASE WHEN d.via_unlinked = 1
                       THEN '（该参保记录无有效证件号，按姓名、出生年月、区县推定为本人，需核实）'
                       ELSE '' END AS reason,
               s.person_key, s.id18, s.name, s.sex, s.age, s.phone,
               d.scheme, d.county_code AS scheme_county, d.death_date, d.receiving
        FROM deceased_enrolled d JOIN person_segments s ON s.person_key = d.person_key
    """
