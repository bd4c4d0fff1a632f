"""Records delivered without a usable ID: the identified person they most likely belong to.

The registry keeps a record whose ID is missing or broken beyond repair as a master person of its
own (no trusted ID). For the gap lists that is a problem both ways: the record's owner looks
uninsured, and a deceased owner's still-active record is missed. Candidates for the owner of such
a record are identified persons with the same name (or the same pinyin: homophone typos) in the
same county or at the same employer, with a compatible birth date (a year-month must be the same
month). Every identified namesake in the county is a candidate; pinyin and employer matches are
looked for among those who lack a scheme or are dead. A record is attributed only when exactly
one candidate remains (among those at the same employer, if any): the lists say so, and staff
verify.

Hot keys (canbao.warehouse.skew): every candidate join is on the selective key first — name (or
pinyin) within county and birth month where the record has one, name within employer, never the
employer or county alone — so its size is the records without ID times their namesakes, not times
an employer's or a county's staff. Each join is checked against the join-size guard before it
runs: a city where it would still explode stops with a message naming the step and the key.
"""

from __future__ import annotations

from canbao.coverage.segments import build_person_facts
from canbao.coverage.session import Session
from canbao.warehouse import skew

_WORK = ("unl_u", "unl_p", "unl_emp", "unl_emp_name", "unl_emp_py")


def _sides(s: Session) -> None:
    """The unidentified records with a scheme (``unl_u``), the identified persons they may
    belong to (``unl_p``) and the employers of both (``unl_emp``, ``unl_emp_name``,
    ``unl_emp_py``)."""
    date_text = s.dialect.date_text("p.birth_date")
    s.execute(
        """
        CREATE OR REPLACE TABLE unl_keys AS
        SELECT person_key FROM person_segments
        WHERE (identified = 0 AND ep + rp + em + rm > 0)
           OR (identified = 1
               AND ((resident = 1 AND (ep + rp = 0 OR em + rm = 0)) OR death_date IS NOT NULL))
        """
    )
    s.execute(
        """
        CREATE OR REPLACE TABLE unl_attr AS
        SELECT r.person_key, max(r.name_pinyin) AS py,
               max(replace(r.birth_date, '-', '')) AS bkey
        FROM links r
        WHERE r.person_key IN (SELECT person_key FROM unl_keys)
        GROUP BY r.person_key
        """
    )
    s.execute(
        """
        CREATE OR REPLACE TABLE unl_u AS
        SELECT p.person_key, p.name, p.county_code, a.py, a.bkey,
               CASE WHEN length(a.bkey) >= 6 THEN substr(a.bkey, 1, 6) END AS bmonth
        FROM person_segments p JOIN unl_attr a ON a.person_key = p.person_key
        WHERE p.identified = 0 AND p.ep + p.rp + p.em + p.rm > 0
        """
    )
    s.execute(
        f"""
        CREATE OR REPLACE TABLE unl_p AS
        -- every identified person is a candidate by name; by pinyin only those who lack a
        -- scheme or are dead (py is NULL for the others)
        SELECT p.person_key, p.name, p.county_code, a.py, {date_text} AS bdate,
               substr({date_text}, 1, 6) AS bmonth
        FROM person_segments p LEFT JOIN unl_attr a ON a.person_key = p.person_key
        WHERE p.identified = 1
        """
    )
    s.execute(
        """
        CREATE OR REPLACE TABLE unl_emp AS
        SELECT DISTINCT person_key, employer_key FROM enrollments
        WHERE employer_key IS NOT NULL AND person_key IN (SELECT person_key FROM unl_keys)
        UNION
        SELECT person_key, tax_employer FROM person_segments
        WHERE tax_employer IS NOT NULL AND person_key IN (SELECT person_key FROM unl_keys)
        """
    )
    s.execute(
        f"""
        CREATE OR REPLACE TABLE unl_emp_name AS
        -- identified staff of the employers of unidentified records, by (employer, name): the
        -- join key below is the pair, never the employer alone (an employer of 40,000 is a
        -- hot key; a name within it is not)
        WITH u_emp AS (
            SELECT DISTINCT employer_key FROM unl_emp
            WHERE person_key IN (SELECT person_key FROM unl_u)
        ), emp_all AS (
            SELECT DISTINCT person_key, employer_key FROM enrollments
            WHERE employer_key IN (SELECT employer_key FROM u_emp)
            UNION
            SELECT person_key, tax_employer FROM person_segments
            WHERE tax_employer IN (SELECT employer_key FROM u_emp)
        )
        SELECT b.employer_key, p.name, p.person_key, {date_text} AS bdate
        FROM emp_all b JOIN person_segments p ON p.person_key = b.person_key
        WHERE p.identified = 1 AND p.name IS NOT NULL
        """
    )
    s.execute(
        """
        CREATE OR REPLACE TABLE unl_emp_py AS
        SELECT b.employer_key, p.py, p.person_key, p.bdate
        FROM unl_emp b JOIN unl_p p ON p.person_key = b.person_key
        WHERE p.py IS NOT NULL
        """
    )
    s.execute("DROP TABLE IF EXISTS unl_keys")
    s.execute("DROP TABLE IF EXISTS unl_attr")


def _guard(s: Session) -> None:
    """The join-size guard on each candidate join (sizes from key counts, before joining)."""
    u_emp = "(SELECT u.*, a.employer_key FROM unl_u u JOIN unl_emp a USING (person_key))"
    no_month = "(SELECT * FROM unl_u WHERE bmonth IS NULL)"
    checks = (
        ("无证件号记录按区县、姓名、出生年月找本人", "unl_u", "unl_p",
         ["county_code", "name", "bmonth"]),
        ("无证件号记录按区县、姓名找本人（无出生年月）", no_month, "unl_p",
         ["county_code", "name"]),
        ("无证件号记录按区县、拼音、出生年月找本人", "unl_u", "unl_p",
         ["county_code", "py", "bmonth"]),
        ("无证件号记录按区县、拼音找本人（无出生年月）", no_month, "unl_p",
         ["county_code", "py"]),
        ("无证件号记录按单位、姓名找本人", u_emp, "unl_emp_name", ["employer_key", "name"]),
        ("无证件号记录按单位、拼音找本人", u_emp, "unl_emp_py", ["employer_key", "py"]),
    )  # fmt: skip
    for step, left, right, keys in checks:
        skew.check_join(s.eng, step, left, right, keys)


def build_unlinked_candidates(s: Session) -> None:
    s.ensure("person_facts", build_person_facts)
    _sides(s)
    _guard(s)
    born = "(u.bkey IS NULL OR substr(p.bdate, 1, length(u.bkey)) = u.bkey)"
    s.execute(
        f"""
        CREATE OR REPLACE TABLE unlinked_candidates AS
        WITH c0 AS (
            -- equality joins only (an OR in a join condition defeats hash joins); the birth
            -- month is part of the key where the record has one
            SELECT u.person_key AS other_key, p.person_key, 0 AS same_employer
            FROM unl_u u JOIN unl_p p
              ON p.county_code = u.county_code AND p.name = u.name AND p.bmonth = u.bmonth
            WHERE {born}
            UNION ALL
            SELECT u.person_key, p.person_key, 0
            FROM unl_u u JOIN unl_p p ON p.county_code = u.county_code AND p.name = u.name
            WHERE u.bmonth IS NULL AND {born}
            UNION ALL
            SELECT u.person_key, p.person_key, 0
            FROM unl_u u JOIN unl_p p
              ON p.county_code = u.county_code AND p.py = u.py AND p.bmonth = u.bmonth
            WHERE {born}
            UNION ALL
            SELECT u.person_key, p.person_key, 0
            FROM unl_u u JOIN unl_p p ON p.county_code = u.county_code AND p.py = u.py
            WHERE u.bmonth IS NULL AND {born}
            UNION ALL
            SELECT u.person_key, p.person_key, 1
            FROM unl_u u
            JOIN unl_emp a ON a.person_key = u.person_key
            JOIN unl_emp_name p
              ON p.employer_key = a.employer_key AND p.name = u.name
             AND p.person_key <> u.person_key
            WHERE {born}
            UNION ALL
            SELECT u.person_key, p.person_key, 1
            FROM unl_u u
            JOIN unl_emp a ON a.person_key = u.person_key
            JOIN unl_emp_py p
              ON p.employer_key = a.employer_key AND p.py = u.py AND p.person_key <> u.person_key
            WHERE {born}
        )
        SELECT c0.other_key, c0.person_key, max(c0.same_employer) AS same_employer,
               max(CASE WHEN u.bkey IS NOT NULL THEN 1 ELSE 0 END) AS birth_known
        FROM c0 JOIN unl_u u ON u.person_key = c0.other_key
        GROUP BY c0.other_key, c0.person_key
        """
    )
    for t in _WORK:
        s.execute(f"DROP TABLE IF EXISTS {t}")
