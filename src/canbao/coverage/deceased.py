"""Deceased people still enrolled or still receiving: a date of death on or before the date and
a record still active on it (the record's status did not end at the death).

The date of death is the registry's (civil-affairs death list), else the hukou register's
cancellation date. Receiving a benefit after death (pension paid to the dead) comes first.
"""

from __future__ import annotations

from canbao.coverage.segments import build_person_facts
from canbao.coverage.session import Session
from canbao.coverage.status import build_record_status


def build_deceased(s: Session) -> None:
    s.ensure("person_facts", build_person_facts)
    s.ensure("record_status", build_record_status)
    s.con.execute(
        """
        CREATE OR REPLACE TABLE deceased_enrolled AS
        SELECT f.person_key, r.scheme, r.county_code, f.death_date,
               max(CASE WHEN r.benefit IN ('是', '1', 'Y', '领取') THEN 1 ELSE 0 END) AS receiving,
               min(coalesce(r.start_date, r.as_of)) AS start_date,
               count(*) AS n_records
        FROM person_facts f
        JOIN record_status r ON r.person_key = f.person_key
        WHERE f.death_date IS NOT NULL AND r.eff_status = 'active'
        GROUP BY f.person_key, r.scheme, r.county_code, f.death_date
        """
    )


def deceased_list_sql(s: Session) -> str:
    s.ensure("deceased_enrolled", build_deceased)
    return """
        SELECT s.county_code, s.township, s.segment,
               CASE WHEN d.receiving = 1 THEN 1 ELSE 2 END AS priority,
               CASE WHEN d.receiving = 1 THEN '死亡后仍在领取待遇：疑似冒领，应立即停发并追回'
                    ELSE '死亡后参保状态未终止：应办理终止参保、核查死亡后缴费' END AS reason,
               s.person_key, s.id18, s.name, s.sex, s.age, s.phone,
               d.scheme, d.county_code AS scheme_county, d.death_date, d.receiving
        FROM deceased_enrolled d JOIN person_segments s ON s.person_key = d.person_key
    """
