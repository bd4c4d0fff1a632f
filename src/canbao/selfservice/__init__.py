"""Self-service (网上经办、自助服务): the public area where an insured person checks their own
enrolment and asks for a change of phone or address, and an employer checks its registration,
arrears, agreements and dunning state and prints a verifiable 参保缴费情况证明.

Modules, named after the domain:

- :mod:`.secret` — the data directory's self-service key and the keyed hash of an identifier
  (an ID number or a credit code is never stored or logged in clear);
- :mod:`.throttles` — the limits (per identifier, per client address) in the shared store and
  the floor delay that makes every answer of a sign-in step take the same time;
- :mod:`.codes` — one-time codes (6 digits, 10 minutes, single use, 5 wrong tries);
- :mod:`.portal_sessions` — the portal's own sessions (no staff role);
- :mod:`.person_sign_in` — ID + name → a code to the phone on file → a session, with one
  answer whatever the data hold;
- :mod:`.enrolment` — a person's enrolment per scheme (masked);
- :mod:`.contact_change` — a change of phone or address becomes a case for staff review;
- :mod:`.employer_credentials` — passwords the bureau issues to employers, sign-in;
- :mod:`.employer_status` — what an employer sees about itself (nothing personal);
- :mod:`.certificates` — the 参保缴费情况证明 with 流水号 and 校验码, and its verification.

See ``docs/selfservice.md``.
"""
