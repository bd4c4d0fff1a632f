"""The registry (全民参保登记库): one master person and one master employer per real entity.

Build steps (each set-based SQL on DuckDB; see :mod:`canbao.registry.dialect` for the engine seam):

1. :mod:`.person_records` — every person-bearing ingested row, with its ID check, normalised name,
   pinyin key and the fields the linkage compares.
2. :mod:`.trust` — deterministic linkage: a valid ID whose coded birth date and sex agree with the
   record, and whose name agrees with the ID's anchor name, is trusted; trusted records with the
   same ID are one person.
3. :mod:`.repair` — deterministic repair links: an ID that fails its check character (whatever
   else the typo broke: the birth date, the region) links to the one trusted person among its
   one-edit candidates whose name, sex and birth date agree; an ID that went through a number
   (Excel, a program's double) links on the 15 digits it kept. Both yield proposed ID corrections.
4. :mod:`.model` / :mod:`.scoring` — Splink on DuckDB scores the remaining records against
   trusted persons and against each other (Chinese-aware comparisons, TF-adjusted names).
5. :mod:`.assign` — best-match assignment (never joins two trusted IDs), review queue for uncertain
   or ambiguous pairs, clustering of records without any trusted ID, stored decisions applied.
6. :mod:`.survivorship`, :mod:`.keys`, :mod:`.employer_records` (read, cached) and
   :mod:`.employers` (linked).
7. :mod:`.owners` — the likely owners of records without ID (identified persons with the same name
   or pinyin in the county or at the employer); review decisions respected, open pairs queued.
8. :mod:`.snapshot` — publishes the build.
"""
