"""The compliance API for other departments: an employer's standing by its unified social credit
code — registered, schemes, arrears status and amount band, agreement and enforcement status, the
formal 严重失信 listing (a separate, staff-decided record) — and nothing personal.

- :mod:`.standing`: the per-build standing index from the published ledger and the registry's
  employers (set-based, once per build; a look-up is a hash probe);
- :mod:`.live`: what the store says now (agreements, dunning, listings), one session per call;
- :mod:`.listings`: 严重失信 listings, their grounds (``data/grounds.toml``) and their audit;
- :mod:`.bands`: arrears amount bands (``data/bands.toml``);
- :mod:`.answer`: the answers (Pydantic models); :mod:`.api`: the calls, each audit-logged;
- :mod:`.quota`: the per-client quota shared by all worker processes.

See ``docs/compliance.md``.
"""
