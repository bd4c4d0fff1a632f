"""Person facts and segments as of a date: alive, moved out, age band, student, retired, worker,
and the plan's key groups (flexible workers, land-expropriated farmers, village cadres,
park-enterprise employees, low-income households).

Sources, joined through the registry's links:

- death: the registry's date of death (civil-affairs death list), else the hukou register's
  cancellation (户口状态 死亡, its event date);
- moved out: the hukou register's 迁出 with its event date;
- working: tax withholding (个税扣缴) in the last ``worker_recent_months`` months before the date;
- students: aged ``student_min_age``–``student_max_age`` with no wage in the year and no
  employee-scheme record (no school roll is delivered: this is a hypothesis, said so in lists);
- retired: receiving a pension (待遇状态 coded ``receiving`` at ingest, or 退休 in the person
  type);
- statutory retirement age from the policy: men 60; women 50 (workers) or 55 (cadres: women
  whose employer is a public institution);
- key groups: the special-group lists active on the date, 灵活就业 person types, and employees of
  employers flagged as park enterprises (园区企业 coded ``yes`` at ingest: 是, or a park's name).
"""

from __future__ import annotations

from canbao.coverage.session import Session
from canbao.coverage.status import build_person_scheme

SEGMENTS_ZH = {
    "deceased": "已死亡",
    "moved_out": "已迁出",
    "student": "在校学生(推定)",
    "retired": "退休/领取待遇",
    "low_income": "低保/特困",
    "land_expropriated": "被征地农民",
    "village_cadre": "村干部",
    "flexible_worker": "灵活就业人员",
    "park_employee": "园区企业职工",
    "employee": "在职职工",
    "minor": "未成年人",
    "retirement_age": "退休年龄以上居民",
    "resident": "城乡居民",
}
GROUPS = ("low_income", "land_expropriated", "village_cadre", "flexible_worker", "park_employee")


def _period(s: Session, months_back: int) -> str:
    y, m = s.as_of.year, s.as_of.month - months_back
    while m <= 0:
        y, m = y - 1, m + 12
    return f"'{y:04d}-{m:02d}'"


def build_tax_rows(s: Session) -> None:
    """Tax withholding rows linked to persons and employers, one per person, employer and period
    (duplicate rows count once; the largest wage wins)."""
    s.execute(
        """
        CREATE OR REPLACE TABLE tax_rows AS
        SELECT l.person_key, el.employer_key, r.period, max(r.wage) AS wage
        FROM cov_employment r
        JOIN links l ON l.batch_id = r.batch_id AND l."row" = r."row"
        LEFT JOIN employer_links el ON el.batch_id = r.batch_id AND el."row" = r."row"
        WHERE r.period IS NOT NULL
        GROUP BY l.person_key, el.employer_key, r.period
        """
    )


def build_person_facts(s: Session) -> None:
    s.ensure("person_scheme", build_person_scheme)
    s.ensure("tax_rows", build_tax_rows)
    p = s.policy
    day = s.day
    year_start = f"'{s.as_of.year:04d}-01'"
    recent = _period(s, p.worker_recent_months - 1)
    cur = _period(s, 0)
    s.execute(
        f"""
        CREATE OR REPLACE TABLE person_facts AS
        WITH pop AS (
            SELECT l.person_key,
                   min(CASE WHEN r.hukou_status = '死亡' OR r.event = '死亡'
                            THEN coalesce(r.event_date, r.as_of) END) AS hukou_death,
                   max(CASE WHEN r.hukou_status = '迁出' OR r.event = '迁出'
                            THEN coalesce(r.event_date, r.as_of) END) AS moved_date,
                   1 AS in_hukou
            FROM cov_population r
            JOIN links l ON l.batch_id = r.batch_id AND l."row" = r."row"
            GROUP BY l.person_key
        ), tax AS (
            SELECT r.person_key, max(r.period) AS last_period,
                   max_by(r.employer_key, r.period) AS tax_employer,
                   max(CASE WHEN r.period >= {recent} AND r.period <= {cur} THEN 1 ELSE 0 END)
                       AS working,
                   max(CASE WHEN r.period >= {year_start} AND r.period <= {cur} THEN 1 ELSE 0 END)
                       AS wage_this_year
            FROM tax_rows r
            WHERE r.period <= {cur}
            GROUP BY r.person_key
        ), grp AS (
            SELECT l.person_key,
                   max(CASE WHEN r."group" IN ('low_income', 'extreme_poverty') THEN 1 ELSE 0 END)
                       AS low_income,
                   max(CASE WHEN r."group" = 'land_expropriated' THEN 1 ELSE 0 END)
                       AS land_expropriated,
                   max(CASE WHEN r."group" = 'village_cadre' THEN 1 ELSE 0 END) AS village_cadre,
                   max(CASE WHEN r."group" = 'flexible_worker' THEN 1 ELSE 0 END) AS flexible_group
            FROM cov_special_group r
            JOIN links l ON l.batch_id = r.batch_id AND l."row" = r."row"
            WHERE coalesce(r.start_date, r.as_of) <= {day}
              AND (r.end_date IS NULL OR r.end_date > {day})
            GROUP BY l.person_key
        ), ps AS (
            SELECT person_key,
                   max(CASE WHEN scheme = 'employee_pension' AND status = 'active' THEN 1 ELSE 0 END) AS ep,
                   max(CASE WHEN scheme = 'resident_pension' AND status = 'active' THEN 1 ELSE 0 END) AS rp,
                   max(CASE WHEN scheme = 'employee_medical' AND status = 'active' THEN 1 ELSE 0 END) AS em,
                   max(CASE WHEN scheme = 'resident_medical' AND status = 'active' THEN 1 ELSE 0 END) AS rm,
                   max(CASE WHEN scheme IN ('employee_pension', 'employee_medical', 'work_injury',
                                            'maternity', 'unemployment') THEN 1 ELSE 0 END)
                       AS any_employee_scheme,
                   max(CASE WHEN scheme IN ('employee_pension', 'resident_pension')
                            AND status = 'active' THEN receiving ELSE 0 END) AS receiving,
                   max(CASE WHEN scheme = 'employee_pension' THEN employer_key END) AS ep_employer
            FROM person_scheme GROUP BY person_key
        ), rs AS (
            SELECT person_key,
                   max(CASE WHEN person_type LIKE '%退休%' OR person_type LIKE '%待遇领取%'
                            THEN 1 ELSE 0 END) AS retired_type,
                   max(CASE WHEN person_type LIKE '%灵活就业%' THEN 1 ELSE 0 END) AS flexible_type
            FROM record_status WHERE eff_status = 'active' GROUP BY person_key
        ), base AS (
            SELECT p.person_key, p.id18, p.name, p.sex, p.birth_date, p.phone, p.county_code,
                   p.township, p.address, p.id_status,
                   CASE WHEN p.id18 IS NOT NULL THEN 1 ELSE 0 END AS identified,
                   CASE WHEN p.death_date IS NOT NULL AND p.death_date <= {day} THEN p.death_date
                        WHEN pop.hukou_death IS NOT NULL AND pop.hukou_death <= {day}
                            THEN pop.hukou_death END AS death_date,
                   CASE WHEN pop.moved_date <= {day} THEN pop.moved_date END AS moved_date,
                   coalesce(pop.in_hukou, 0) AS in_hukou,
                   CASE WHEN p.birth_date IS NULL THEN NULL
                        ELSE year({day}) - year(p.birth_date)
                             - CASE WHEN month(p.birth_date) > month({day})
                                      OR (month(p.birth_date) = month({day})
                                          AND day(p.birth_date) > day({day}))
                                    THEN 1 ELSE 0 END END AS age,
                   coalesce(tax.working, 0) AS working,
                   coalesce(tax.wage_this_year, 0) AS wage_this_year,
                   tax.last_period, tax.tax_employer,
                   coalesce(ps.ep, 0) AS ep, coalesce(ps.rp, 0) AS rp,
                   coalesce(ps.em, 0) AS em, coalesce(ps.rm, 0) AS rm,
                   coalesce(ps.any_employee_scheme, 0) AS any_employee_scheme,
                   coalesce(ps.receiving, 0) AS receiving,
                   coalesce(rs.retired_type, 0) AS retired_type,
                   coalesce(grp.low_income, 0) AS low_income,
                   coalesce(grp.land_expropriated, 0) AS land_expropriated,
                   coalesce(grp.village_cadre, 0) AS village_cadre,
                   CASE WHEN coalesce(grp.flexible_group, 0) = 1 OR coalesce(rs.flexible_type, 0) = 1
                        THEN 1 ELSE 0 END AS flexible_worker,
                   coalesce(ps.ep_employer, tax.tax_employer) AS employer_key
            FROM persons p
            LEFT JOIN pop ON pop.person_key = p.person_key
            LEFT JOIN tax ON tax.person_key = p.person_key
            LEFT JOIN grp ON grp.person_key = p.person_key
            LEFT JOIN ps ON ps.person_key = p.person_key
            LEFT JOIN rs ON rs.person_key = p.person_key
        ), f AS (
            SELECT b.*,
                   CASE WHEN e.park = 'yes' THEN 1 ELSE 0 END AS park_employee,
                   e.ownership AS employer_ownership,
                   CASE WHEN b.sex = 'M' THEN {p.retirement_age_male}
                        WHEN e.ownership = 'public_institution'
                            THEN {p.retirement_age_female_cadre}
                        ELSE {p.retirement_age_female_worker} END AS retirement_age
            FROM base b LEFT JOIN employers e ON e.employer_key = b.employer_key
        )
        SELECT f.*,
               CASE WHEN death_date IS NULL AND moved_date IS NULL THEN 1 ELSE 0 END AS resident,
               CASE WHEN age BETWEEN {p.student_min_age} AND {p.student_max_age}
                         AND wage_this_year = 0 AND any_employee_scheme = 0 AND rp = 0
                    THEN 1 ELSE 0 END AS student,
               CASE WHEN receiving = 1 OR retired_type = 1 THEN 1 ELSE 0 END AS retired,
               CASE WHEN age IS NULL THEN '年龄不详'
                    WHEN age < {p.pension_min_age} THEN '0-{p.pension_min_age - 1}岁'
                    WHEN age < 30 THEN '{p.pension_min_age}-29岁'
                    WHEN age < 45 THEN '30-44岁'
                    WHEN age < retirement_age THEN '45岁至退休年龄'
                    ELSE '退休年龄以上' END AS age_band
        FROM f
        """
    )
    s.execute(
        f"""
        CREATE OR REPLACE VIEW person_segments AS
        SELECT *,
               CASE WHEN death_date IS NOT NULL THEN 'deceased'
                    WHEN moved_date IS NOT NULL THEN 'moved_out'
                    WHEN student = 1 THEN 'student'
                    WHEN retired = 1 THEN 'retired'
                    WHEN low_income = 1 THEN 'low_income'
                    WHEN land_expropriated = 1 THEN 'land_expropriated'
                    WHEN village_cadre = 1 THEN 'village_cadre'
                    WHEN flexible_worker = 1 THEN 'flexible_worker'
                    WHEN park_employee = 1 AND working = 1 THEN 'park_employee'
                    WHEN working = 1 THEN 'employee'
                    WHEN age < {p.pension_min_age} THEN 'minor'
                    WHEN age >= retirement_age THEN 'retirement_age'
                    ELSE 'resident' END AS segment
        FROM person_facts
        """
    )


def segment_label_sql(col: str = "segment") -> str:
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in SEGMENTS_ZH.items())
    return f"CASE {col} {cases} ELSE {col} END"
