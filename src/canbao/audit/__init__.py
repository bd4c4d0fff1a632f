"""Audit (稽核): the risk model and ability to pay per employer, the audit plan
(:mod:`canbao.audit.targets`), and audit cases with their findings (see docs/audit.md)."""
