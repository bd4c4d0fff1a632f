"""Likely owners of records without ID: the identified persons such a record most likely belongs to.

A record whose ID is missing or broken beyond repair, and that the model could not link, stays a
master person of its own without a trusted ID (a *surrogate* person, key ``S…``). When it holds
an enrolment, its owner looks uninsured and a dead owner's still-active record goes unseen. This
step, run once per build after clustering and survivorship, lists for every surrogate person with
at least one enrolment record the identified persons (trusted ID) it most likely belongs to:

- the same name, or the same pinyin (homophone typos), in the same county, with a compatible
  birth date (where the record has a birth date, the candidate's begins with it: a year-month
  must be that month, a full date that day); or
- the same name or pinyin at the same employer (the employers of the enrolment and tax records
  of both: ``employer_links``), with a compatible birth date.

``likely_owners(other_key, person_key, same_employer, birth_known, same_name, left_key,
right_key)``: ``other_key`` is the surrogate person, ``person_key`` the candidate;
``same_employer`` 1 when found at a shared employer, ``birth_known`` 1 when the record has a
birth date, ``same_name`` 1 when the names are equal (0: pinyin only). ``left_key`` (the
surrogate's smallest node, the key of its ``S:`` cluster) and ``right_key`` (``'A:' || id18``)
are the key shapes of review decisions (:mod:`canbao.registry.decisions`).

Decisions: a stored ``different`` between any node of the surrogate person and the candidate's
``A:`` key removes the candidate; a ``same`` links the node to the person in assignment
(:mod:`canbao.registry.assign`), so the record is no longer without an owner. Every open pair
is a review item of reason ``likely_owner`` (probability: the model's best score between the
two, 0 when the model scored them below the review threshold), so staff can decide it.

The registry lists candidates and never picks one: the coverage lists (canbao.coverage) read
this table and attribute a record only when exactly one candidate remains, and say so.

Hot keys (:mod:`canbao.warehouse.skew`): every join is an equality join on the selective key
first — name (or pinyin) within county and birth month where the record has one, name (or
pinyin) within employer — never the employer or the county alone, so its size is the records
without ID times their namesakes, not times an employer's or a county's staff. Each join passes
the join-size guard before it runs.
"""

from __future__ import annotations

from canbao.registry import survivorship
from canbao.registry.engine import Engine
from canbao.warehouse import skew

TABLE = "likely_owners"
# the snapshot tables it reads (``decisions`` and the model's ``review_items`` are the engine's)
SNAPSHOT_INPUTS = (
    "persons",
    "links",
    "enrollments",
    "employer_links",
    "b_cluster",
    "id_anchor",
    "nodes",
    "pairs",
)
REASON = "likely_owner"  # the review items' reason
COLUMNS = (
    "other_key",
    "person_key",
    "same_employer",
    "birth_known",
    "same_name",
    "left_key",
    "right_key",
)

# intermediate tables, dropped once the step is done
WORK_TABLES = (
    "lo_s",
    "lo_ul",
    "lo_u",
    "lo_p",
    "lo_u_emp",
    "lo_emp_staff",
    "lo_staff",
    "lo_refused",
    "lo_review",
)


def build(eng: Engine) -> None:
    """``likely_owners`` from ``persons``, ``links``, ``enrollments``, ``employer_links``,
    ``b_cluster``, ``id_anchor`` and ``decisions``, and its open pairs appended to
    ``review_items`` (replacing those of an earlier build). Reads only published tables, so a
    full and an incremental build compute the same."""
    _sides(eng)
    _guard(eng)
    _candidates(eng)
    _review(eng)
    eng.drop(*WORK_TABLES)


def _sides(eng: Engine) -> None:
    """The surrogate persons with an enrolment (``lo_u``), their employers (``lo_u_emp``) and
    those employers' staff (``lo_emp_staff``), the identified persons a candidate join can
    reach (``lo_p``: sharing a county and a name or pinyin with one of them, or a name or pinyin
    and being on such a staff) and the identified staff of those employers (``lo_staff``)."""
    d = eng.dialect
    pkey = survivorship.person_key_of_surrogate(d, "left_key")
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE lo_s AS
        SELECT left_key, {pkey} AS person_key FROM (
            SELECT DISTINCT substr(cluster_id, 3) AS left_key FROM b_cluster
            WHERE cluster_id LIKE 'S:%') c
        """
    )
    eng.execute(
        """
        CREATE OR REPLACE TABLE lo_ul AS
        -- the records of the surrogate persons with an enrolment, read once for their pinyin,
        -- birth date and employers
        -- (joins: a nested IN over layered tables planned about four times slower)
        WITH enrolled AS (
            SELECT DISTINCT e.person_key FROM enrollments e
            JOIN lo_s s ON s.person_key = e.person_key
        )
        SELECT l.person_key, l.batch_id, l."row", l.name_pinyin, l.birth_date
        FROM links l JOIN enrolled x ON x.person_key = l.person_key
        """
    )
    eng.execute(
        """
        CREATE OR REPLACE TABLE lo_u AS
        WITH attr AS (
            SELECT person_key, max(name_pinyin) AS py,
                   max(replace(birth_date, '-', '')) AS bkey
            FROM lo_ul GROUP BY person_key
        )
        SELECT p.person_key, s.left_key, p.name, p.county_code, a.py, a.bkey,
               CASE WHEN length(a.bkey) >= 6 THEN substr(a.bkey, 1, 6) END AS bmonth
        FROM persons p
        JOIN lo_s s ON s.person_key = p.person_key
        JOIN attr a ON a.person_key = p.person_key
        WHERE p.id18 IS NULL
        """
    )
    eng.execute(
        """
        CREATE OR REPLACE TABLE lo_u_emp AS
        SELECT DISTINCT l.person_key, el.employer_key
        FROM lo_ul l
        JOIN employer_links el ON el.batch_id = l.batch_id AND el."row" = l."row"
        WHERE el.employer_key IS NOT NULL AND l.person_key IN (SELECT person_key FROM lo_u)
        """
    )
    eng.execute(
        """
        CREATE OR REPLACE TABLE lo_emp_staff AS
        -- the staff of those employers (persons): joined below with lo_p on the person, then
        -- on (employer, name) or (employer, pinyin), never on the employer alone (an
        -- employer of 40,000 is a hot key; a name within it is not)
        WITH el AS (
            SELECT batch_id, "row", employer_key FROM employer_links
            WHERE employer_key IN (SELECT employer_key FROM lo_u_emp)
        )
        SELECT DISTINCT l.person_key, el.employer_key
        FROM el JOIN links l ON l.batch_id = el.batch_id AND l."row" = el."row"
        """
    )
    date_text = d.date_text("p.birth_date")
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE lo_p AS
        -- identified persons a candidate join can reach: sharing a county and a name or a
        -- pinyin with a record without ID, or a name or a pinyin and an employer (a name is
        -- never equal to a pinyin key: one set of both is a safe prefilter)
        WITH k AS (
            SELECT name AS v FROM lo_u WHERE name IS NOT NULL
            UNION SELECT py FROM lo_u WHERE py IS NOT NULL
        ), by_name AS (
            SELECT p.person_key, p.county_code, p.name FROM persons p
            WHERE p.id18 IS NOT NULL AND p.name IN (SELECT v FROM k)
        ), by_pinyin AS (
            SELECT p.person_key, p.county_code, a.anchor_pinyin AS py
            FROM id_anchor a JOIN persons p ON p.id18 = a.id18
            WHERE a.anchor_pinyin IN (SELECT v FROM k)
        ), staff AS (
            SELECT DISTINCT person_key FROM lo_emp_staff
        ), hit AS (
            SELECT n.person_key FROM by_name n
            JOIN (SELECT DISTINCT county_code, name FROM lo_u) u
              ON u.county_code = n.county_code AND u.name = n.name
            UNION
            SELECT y.person_key FROM by_pinyin y
            JOIN (SELECT DISTINCT county_code, py FROM lo_u) u
              ON u.county_code = y.county_code AND u.py = y.py
            UNION
            SELECT person_key FROM by_name WHERE person_key IN (SELECT person_key FROM staff)
            UNION
            SELECT person_key FROM by_pinyin WHERE person_key IN (SELECT person_key FROM staff)
        )
        -- the pinyin of an identified person's name: its ID's anchor (the name is the anchor's)
        SELECT p.person_key, p.id18, p.name, p.county_code, a.anchor_pinyin AS py,
               {date_text} AS bdate, substr({date_text}, 1, 6) AS bmonth
        FROM persons p
        JOIN hit h ON h.person_key = p.person_key
        LEFT JOIN id_anchor a ON a.id18 = p.id18
        """
    )
    eng.execute(
        """
        CREATE OR REPLACE TABLE lo_staff AS
        SELECT s.employer_key, p.person_key, p.id18, p.name, p.py, p.bdate
        FROM lo_emp_staff s JOIN lo_p p ON p.person_key = s.person_key
        """
    )


def _guard(eng: Engine) -> None:
    """The join-size guard on each candidate join (sizes from key counts, before joining)."""
    u_emp = "(SELECT u.*, a.employer_key FROM lo_u u JOIN lo_u_emp a USING (person_key))"
    no_month = "(SELECT * FROM lo_u WHERE bmonth IS NULL)"
    checks = (
        ("无证件号记录按区县、姓名、出生年月找本人", "lo_u", "lo_p",
         ["county_code", "name", "bmonth"]),
        ("无证件号记录按区县、姓名找本人（无出生年月）", no_month, "lo_p",
         ["county_code", "name"]),
        ("无证件号记录按区县、拼音、出生年月找本人", "lo_u", "lo_p",
         ["county_code", "py", "bmonth"]),
        ("无证件号记录按区县、拼音找本人（无出生年月）", no_month, "lo_p",
         ["county_code", "py"]),
        ("无证件号记录按单位、姓名找本人", u_emp, "lo_staff", ["employer_key", "name"]),
        ("无证件号记录按单位、拼音找本人", u_emp, "lo_staff", ["employer_key", "py"]),
    )  # fmt: skip
    for step, left, right, keys in checks:
        skew.check_join(eng, step, left, right, keys)


def _candidates(eng: Engine) -> None:
    born = "(u.bkey IS NULL OR substr(p.bdate, 1, length(u.bkey)) = u.bkey)"
    eng.execute(
        """
        CREATE OR REPLACE TABLE lo_refused AS
        -- a reviewer's "different" between any node of the surrogate person and the candidate
        SELECT DISTINCT substr(bc.cluster_id, 3) AS left_key, dec.right_key
        FROM decisions dec JOIN b_cluster bc ON bc.node_id = dec.left_key
        WHERE dec.decision = 'different' AND dec.right_key LIKE 'A:%'
          AND bc.cluster_id LIKE 'S:%'
        """
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE {TABLE} AS
        WITH c0 AS (
            -- equality joins only (an OR in a join condition defeats hash joins); the birth
            -- month is part of the key where the record has one
            SELECT u.person_key AS other_key, p.person_key, 0 AS same_employer, 1 AS same_name
            FROM lo_u u JOIN lo_p p
              ON p.county_code = u.county_code AND p.name = u.name AND p.bmonth = u.bmonth
            WHERE {born}
            UNION ALL
            SELECT u.person_key, p.person_key, 0, 1
            FROM lo_u u JOIN lo_p p ON p.county_code = u.county_code AND p.name = u.name
            WHERE u.bmonth IS NULL AND {born}
            UNION ALL
            SELECT u.person_key, p.person_key, 0, 0
            FROM lo_u u JOIN lo_p p
              ON p.county_code = u.county_code AND p.py = u.py AND p.bmonth = u.bmonth
            WHERE {born}
            UNION ALL
            SELECT u.person_key, p.person_key, 0, 0
            FROM lo_u u JOIN lo_p p ON p.county_code = u.county_code AND p.py = u.py
            WHERE u.bmonth IS NULL AND {born}
            UNION ALL
            SELECT u.person_key, p.person_key, 1, 1
            FROM lo_u u
            JOIN lo_u_emp a ON a.person_key = u.person_key
            JOIN lo_staff p ON p.employer_key = a.employer_key AND p.name = u.name
            WHERE {born}
            UNION ALL
            SELECT u.person_key, p.person_key, 1, 0
            FROM lo_u u
            JOIN lo_u_emp a ON a.person_key = u.person_key
            JOIN lo_staff p ON p.employer_key = a.employer_key AND p.py = u.py
            WHERE {born}
        ), c AS (
            SELECT other_key, person_key, max(same_employer) AS same_employer,
                   max(same_name) AS same_name
            FROM c0 GROUP BY other_key, person_key
        ), keyed AS (
            SELECT c.other_key, c.person_key, c.same_employer,
                   CASE WHEN u.bkey IS NOT NULL THEN 1 ELSE 0 END AS birth_known,
                   c.same_name, u.left_key, 'A:' || p.id18 AS right_key
            FROM c
            JOIN lo_u u ON u.person_key = c.other_key
            JOIN lo_p p ON p.person_key = c.person_key
        )
        SELECT k.* FROM keyed k
        LEFT JOIN lo_refused r ON r.left_key = k.left_key AND r.right_key = k.right_key
        WHERE r.left_key IS NULL
        """
    )


def _review(eng: Engine) -> None:
    """The open likely-owner pairs as review items (``reason`` = ``likely_owner``), after the
    model's items; a pair the model already queued, or one decided, is not repeated."""
    d = eng.dialect
    pair_id = d.hash_hex("concat_ws('|', left_key, right_key)", 12)
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE lo_review AS
        WITH model_items AS (
            SELECT * FROM review_items WHERE reason <> '{REASON}'
        ), bn AS (
            -- the nodes of each surrogate person, and the trusted nodes of each candidate
            SELECT node_id, substr(cluster_id, 3) AS left_key FROM b_cluster
            WHERE cluster_id IN (SELECT 'S:' || left_key FROM {TABLE})
        ), an AS (
            SELECT node_id, 'A:' || cluster_hint AS right_key FROM nodes
            WHERE node_type = 'A' AND cluster_hint IN (SELECT substr(right_key, 3) FROM {TABLE})
        ), scored AS (
            SELECT b.left_key, a.right_key, p.match_weight, p.match_probability
            FROM pairs p
            JOIN bn b ON b.node_id = p.node_id_l JOIN an a ON a.node_id = p.node_id_r
            UNION ALL
            SELECT b.left_key, a.right_key, p.match_weight, p.match_probability
            FROM pairs p
            JOIN bn b ON b.node_id = p.node_id_r JOIN an a ON a.node_id = p.node_id_l
        ), best AS (
            SELECT left_key, right_key, max(match_weight) AS mw, max(match_probability) AS prob
            FROM scored GROUP BY left_key, right_key
        ), items AS (
            SELECT DISTINCT o.left_key, o.right_key, b.mw, coalesce(b.prob, 0.0) AS prob,
                   '{REASON}' AS reason
            FROM {TABLE} o
            LEFT JOIN best b ON b.left_key = o.left_key AND b.right_key = o.right_key
            LEFT JOIN model_items m ON m.left_key = o.left_key AND m.right_key = o.right_key
            LEFT JOIN decisions dec ON dec.left_key = o.left_key AND dec.right_key = o.right_key
            WHERE m.left_key IS NULL AND dec.left_key IS NULL
        )
        SELECT pair_id, left_key, right_key, mw, prob, reason FROM model_items
        UNION ALL
        SELECT {pair_id} AS pair_id, left_key, right_key, mw, prob, reason FROM items
        """
    )
    eng.execute("CREATE OR REPLACE TABLE review_items AS SELECT * FROM lo_review")
