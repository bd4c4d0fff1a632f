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
"""

from __future__ import annotations

from canbao.coverage.segments import build_person_facts
from canbao.coverage.session import Session


def build_unlinked_candidates(s: Session) -> None:
    s.ensure("person_facts", build_person_facts)
    date_text = s.dialect.date_text("p.birth_date")
    s.execute(
        f"""
        CREATE OR REPLACE TABLE unlinked_candidates AS
        WITH u0 AS (
            SELECT person_key, name, county_code,
                   CASE WHEN ep + rp > 0 THEN 1 ELSE 0 END AS has_pension,
                   CASE WHEN em + rm > 0 THEN 1 ELSE 0 END AS has_medical
            FROM person_segments
            WHERE identified = 0 AND ep + rp + em + rm > 0
        ), p0 AS (
            SELECT person_key, name, county_code, birth_date, ep, rp, em, rm
            FROM person_segments
            WHERE identified = 1
              AND ((resident = 1 AND (ep + rp = 0 OR em + rm = 0)) OR death_date IS NOT NULL)
        ), keys AS (
            SELECT person_key FROM u0 UNION ALL SELECT person_key FROM p0
        ), attr AS (
            SELECT r.person_key, max(r.name_pinyin) AS py,
                   max(replace(r.birth_date, '-', '')) AS bkey
            FROM links r
            WHERE r.person_key IN (SELECT person_key FROM keys)
            GROUP BY r.person_key
        ), u AS (
            SELECT u0.*, a.py, a.bkey FROM u0 JOIN attr a ON a.person_key = u0.person_key
        ), p AS (
            SELECT p0.*, a.py FROM p0 JOIN attr a ON a.person_key = p0.person_key
        ), emp AS (
            SELECT DISTINCT person_key, employer_key FROM enrollments
            WHERE employer_key IS NOT NULL AND person_key IN (SELECT person_key FROM keys)
            UNION
            SELECT person_key, tax_employer FROM person_segments
            WHERE tax_employer IS NOT NULL AND person_key IN (SELECT person_key FROM keys)
        ), u_emp AS (
            SELECT DISTINCT employer_key FROM emp WHERE person_key IN (SELECT person_key FROM u0)
        ), emp_all AS (
            SELECT DISTINCT person_key, employer_key FROM enrollments
            WHERE employer_key IN (SELECT employer_key FROM u_emp)
            UNION
            SELECT person_key, tax_employer FROM person_segments
            WHERE tax_employer IN (SELECT employer_key FROM u_emp)
        ), emp_name AS (
            -- identified staff of those employers by (employer, name): the join key below is the
            -- pair, never the employer alone (an employer of 40,000 is a hot key; a name within
            -- it is not)
            SELECT b.employer_key, p.name, p.person_key, p.birth_date
            FROM emp_all b JOIN person_segments p ON p.person_key = b.person_key
            WHERE p.identified = 1 AND p.name IS NOT NULL
        ), emp_py AS (
            SELECT b.employer_key, p.py, p.person_key, p.birth_date
            FROM emp b JOIN p ON p.person_key = b.person_key
            WHERE p.py IS NOT NULL
        ), c0 AS (
            -- equality joins only (an OR in a join condition defeats hash joins)
            SELECT u.person_key AS other_key, p.person_key, 0 AS same_employer
            FROM u JOIN person_segments p
              ON p.county_code = u.county_code AND p.name = u.name AND p.identified = 1
            WHERE u.bkey IS NULL OR substr({date_text}, 1, length(u.bkey)) = u.bkey
            UNION ALL
            SELECT u.person_key AS other_key, p.person_key, 0 AS same_employer
            FROM u JOIN p ON p.county_code = u.county_code AND p.py = u.py
            WHERE u.bkey IS NULL OR substr({date_text}, 1, length(u.bkey)) = u.bkey
            UNION ALL
            SELECT u.person_key, p.person_key, 1
            FROM u
            JOIN emp a ON a.person_key = u.person_key
            JOIN emp_name p
              ON p.employer_key = a.employer_key AND p.name = u.name
             AND p.person_key <> u.person_key
            WHERE u.bkey IS NULL OR substr({date_text}, 1, length(u.bkey)) = u.bkey
            UNION ALL
            SELECT u.person_key, p.person_key, 1
            FROM u
            JOIN emp a ON a.person_key = u.person_key
            JOIN emp_py p
              ON p.employer_key = a.employer_key AND p.py = u.py AND p.person_key <> u.person_key
            WHERE u.bkey IS NULL OR substr({date_text}, 1, length(u.bkey)) = u.bkey
        )
        SELECT c0.other_key, c0.person_key, max(c0.same_employer) AS same_employer,
               max(CASE WHEN u.bkey IS NOT NULL THEN 1 ELSE 0 END) AS birth_known
        FROM c0 JOIN u ON u.person_key = c0.other_key
        GROUP BY c0.other_key, c0.person_key
        """
    )
