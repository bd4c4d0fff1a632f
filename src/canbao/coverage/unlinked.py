"""Records delivered without a usable ID: the identified person they most likely belong to.

The registry keeps a record whose ID is missing or broken beyond repair as a master person of its
own (no trusted ID). For the gap lists that is a problem both ways: the record's owner looks
uninsured, and a deceased owner's still-active record is missed. Who such a record may belong to
is the registry's decision, not coverage's: :mod:`canbao.registry.owners` lists the candidates
(identified persons with the same name or pinyin in the same county with a compatible birth date,
or at the same employer) and drops every pair a reviewer decided is "different"; a "same"
decision links the record outright. Coverage only reads that table (the session view
``likely_owners``): ``unlinked_candidates(other_key, person_key, same_employer, birth_known)``.

The lists (duplicates, deceased, gaps) attribute a record only when exactly one candidate remains
(among those at the same employer, if any), apply their own rules to the record (active, still
running after the death) as to the person's own records, say so, and staff verify.
"""

from __future__ import annotations

from canbao.coverage.session import Session


def build_unlinked_candidates(s: Session) -> None:
    s.execute(
        """
        CREATE OR REPLACE TABLE unlinked_candidates AS
        SELECT other_key, person_key, same_employer, birth_known FROM likely_owners
        """
    )
