"""应保未保: residents who should be insured and are not, as of a date.

- ``uninsured_pension``: alive, not moved out, aged ``pension_min_age`` or more, not a (presumed)
  student, and in neither employee nor resident pension (no active record);
- ``uninsured_medical``: alive, not moved out, in neither employee nor resident medical;
- ``missing_employee_pension``: wages in the tax withholding data in the last months, but no
  active employee pension — with the employer that withholds the tax.

Only identified persons (a trusted 18-digit ID in the registry) are counted as uninsured: a master
person without one is most often a record whose ID was damaged and that belongs to someone the
registry already knows, so it goes to the ``identity_to_verify`` list instead. People aged
``student_min_age``–``student_max_age`` without wages, employee schemes or resident pension are
presumed students (no school roll is delivered) and go to ``presumed_students``, not to the gap.

Priority (1 = visit first) and the reason hypothesis follow the person's segment.
"""

from __future__ import annotations

from canbao.coverage.segments import build_person_facts
from canbao.coverage.session import Session
from canbao.coverage.unlinked import build_unlinked_candidates


def build_unlinked_cover(s: Session) -> None:
    """Identified residents whose missing scheme is most likely held by a record without ID
    (:mod:`canbao.coverage.unlinked`): they go to the verification list, not to the gap."""
    s.ensure("person_facts", build_person_facts)
    s.ensure("unlinked_candidates", build_unlinked_candidates)
    s.execute(
        """
        CREATE OR REPLACE TABLE unlinked_cover AS
        WITH c AS (
            SELECT c0.other_key, c0.person_key, c0.same_employer,
                   CASE WHEN u.ep + u.rp > 0 AND p.ep + p.rp = 0 THEN 1 ELSE 0 END AS pension,
                   CASE WHEN u.em + u.rm > 0 AND p.em + p.rm = 0 THEN 1 ELSE 0 END AS medical
            FROM unlinked_candidates c0
            JOIN person_segments u ON u.person_key = c0.other_key
            JOIN person_segments p ON p.person_key = c0.person_key
            WHERE p.resident = 1
        ), n AS (
            SELECT other_key, sum(pension) AS n_pension, sum(medical) AS n_medical,
                   sum(pension * same_employer) AS e_pension,
                   sum(medical * same_employer) AS e_medical
            FROM c GROUP BY other_key
        ), pick AS (
            -- one candidate: the only one at the same employer, else the only one at all
            SELECT c.person_key, c.other_key,
                   CASE WHEN c.pension = 1 AND ((n.e_pension = 1 AND c.same_employer = 1)
                                             OR (n.e_pension = 0 AND n.n_pension = 1))
                        THEN 1 ELSE 0 END AS pension,
                   CASE WHEN c.medical = 1 AND ((n.e_medical = 1 AND c.same_employer = 1)
                                             OR (n.e_medical = 0 AND n.n_medical = 1))
                        THEN 1 ELSE 0 END AS medical
            FROM c JOIN n ON n.other_key = c.other_key
        )
        SELECT person_key, max(pension) AS pension_elsewhere, max(medical) AS medical_elsewhere,
               min(other_key) AS other_key
        FROM pick WHERE pension = 1 OR medical = 1
        GROUP BY person_key
        """
    )


def build_uninsured(s: Session) -> None:
    s.ensure("unlinked_cover", build_unlinked_cover)
    p = s.policy
    s.execute(
        f"""
        CREATE OR REPLACE TABLE uninsured AS
        WITH g AS (
            SELECT s.person_key,
                   CASE WHEN coalesce(s.age, {p.pension_min_age}) >= {p.pension_min_age}
                             AND s.student = 0 AND s.ep = 0 AND s.rp = 0 THEN 1 ELSE 0 END
                       AS pension_gap,
                   CASE WHEN s.em = 0 AND s.rm = 0 THEN 1 ELSE 0 END AS medical_gap,
                   coalesce(c.pension_elsewhere, 0) AS pension_elsewhere,
                   coalesce(c.medical_elsewhere, 0) AS medical_elsewhere
            FROM person_segments s
            LEFT JOIN unlinked_cover c ON c.person_key = s.person_key
            WHERE s.resident = 1 AND s.identified = 1
        ), h AS (
            SELECT person_key,
                   CASE WHEN pension_elsewhere > 0 THEN 0 ELSE pension_gap END AS pension_gap,
                   CASE WHEN medical_elsewhere > 0 THEN 0 ELSE medical_gap END AS medical_gap
            FROM g
        )
        SELECT * FROM h WHERE pension_gap = 1 OR medical_gap = 1
        """
    )


_REASON_SQL = """CASE
    WHEN s.working = 1 AND s.ep = 0 THEN '有个税扣缴记录但未参加职工养老：疑似单位未为其参保'
    WHEN s.low_income = 1 THEN '低保/特困对象：可由政府代缴居民保险，疑似未办理代缴'
    WHEN s.land_expropriated = 1 THEN '被征地农民：应纳入社会保障，疑似未落实参保'
    WHEN s.village_cadre = 1 THEN '村干部：疑似未参加养老保险'
    WHEN s.flexible_worker = 1 THEN '灵活就业人员：疑似中断缴费或未登记'
    WHEN s.in_hukou = 0 THEN '非本地户籍、无本地参保记录：可能在外地参保，需核实'
    WHEN s.age < 18 THEN '未成年人：疑似未随家庭参加居民医保'
    WHEN s.age >= s.retirement_age THEN '已达退休年龄、无养老保险：核实是否符合居民养老领取条件'
    WHEN s.age BETWEEN 16 AND 25 THEN '青年：可能在外地就读或务工，需核实'
    ELSE '户籍人口、无任何参保记录：疑似外出务工或未参保' END"""

_PRIORITY_SQL = """CASE
    WHEN s.working = 1 AND s.ep = 0 THEN 1
    WHEN s.low_income = 1 OR s.land_expropriated = 1 OR s.village_cadre = 1 THEN 1
    WHEN g.pension_gap = 1 AND g.medical_gap = 1 AND s.in_hukou = 1 THEN 2
    WHEN s.in_hukou = 0 THEN 3
    ELSE 2 END"""


def uninsured_list_sql(s: Session) -> str:
    """One row per person with a gap, with segment, priority and reason hypothesis."""
    s.ensure("uninsured", build_uninsured)
    return f"""
        SELECT s.county_code, s.township, s.segment, {_PRIORITY_SQL} AS priority,
               CASE WHEN g.pension_gap = 1 AND g.medical_gap = 1 THEN '养老、医疗均未参保'
                    WHEN g.pension_gap = 1 THEN '未参加养老保险'
                    ELSE '未参加医疗保险' END AS gap,
               {_REASON_SQL} AS reason,
               s.person_key, s.id18, s.name, s.sex, s.age, s.age_band, s.address, s.phone,
               e.name AS employer_name, g.pension_gap, g.medical_gap
        FROM uninsured g
        JOIN person_segments s ON s.person_key = g.person_key
        LEFT JOIN employers e ON e.employer_key = s.tax_employer
    """


def missing_employee_pension_sql(s: Session) -> str:
    """Employees with recent wages in the tax data but no active employee pension."""
    s.ensure("person_facts", build_person_facts)
    return """
        SELECT s.county_code, s.township, s.segment,
               CASE WHEN s.rp = 1 THEN 2 ELSE 1 END AS priority,
               CASE WHEN e.si_registered IS NULL OR NOT e.si_registered
                        THEN '单位未办理社保登记：单位整体未参保'
                    WHEN s.rp = 1 THEN '已参加居民养老：单位未为其办理职工养老（应转入职工养老）'
                    ELSE '单位已参保但未为其申报：疑似漏报人数' END AS reason,
               s.person_key, s.id18, s.name, s.sex, s.age, s.phone, s.last_period,
               e.employer_key, e.name AS employer_name, e.credit_code AS employer_credit_code,
               e.county_code AS employer_county
        FROM person_segments s
        LEFT JOIN employers e ON e.employer_key = s.tax_employer
        WHERE s.resident = 1 AND s.working = 1 AND s.ep = 0
    """


def identity_to_verify_sql(s: Session) -> str:
    """Residents to identify before they can be counted: unidentified persons without pension or
    medical, and identified ones whose missing scheme may sit on a record without ID."""
    s.ensure("unlinked_cover", build_unlinked_cover)
    return """
        SELECT s.county_code, s.township, s.segment, 3 AS priority,
               '身份证号缺失或无法校验、未关联到已知人员：先核实身份，可能是他人记录的错号' AS reason,
               s.person_key, s.id18, s.name, s.sex, s.age, s.address, s.phone,
               CAST(NULL AS VARCHAR) AS other_person_key
        FROM person_segments s
        WHERE s.resident = 1 AND s.identified = 0
          AND ((s.ep = 0 AND s.rp = 0) OR (s.em = 0 AND s.rm = 0))
        UNION ALL
        SELECT s.county_code, s.township, s.segment, 2 AS priority,
               '同名同区县有一条无身份证号的参保记录：可能是本人参保但证件号缺失，核实后合并' AS reason,
               s.person_key, s.id18, s.name, s.sex, s.age, s.address, s.phone,
               c.other_key AS other_person_key
        FROM unlinked_cover c JOIN person_segments s ON s.person_key = c.person_key
        WHERE (s.ep = 0 AND s.rp = 0 AND c.pension_elsewhere > 0)
           OR (s.em = 0 AND s.rm = 0 AND c.medical_elsewhere > 0)
    """


def presumed_students_sql(s: Session) -> str:
    """Aged 16–22 (policy), no wages, no pension: presumed in school; verify with the school roll."""
    s.ensure("person_facts", build_person_facts)
    return """
        SELECT s.county_code, s.township, s.segment, 3 AS priority,
               '16–22岁、无工资收入、无养老保险：推定为在校学生，需对照学籍核实' AS reason,
               s.person_key, s.id18, s.name, s.sex, s.age, s.address, s.phone,
               CASE WHEN s.em = 0 AND s.rm = 0 THEN 1 ELSE 0 END AS medical_gap
        FROM person_segments s
        WHERE s.resident = 1 AND s.identified = 1 AND s.student = 1
    """
