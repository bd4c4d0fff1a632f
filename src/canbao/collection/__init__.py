"""Contribution collection (征缴): what has been collected and what is owed, from the ingested
declaration and payment extracts linked to master employers. The full ledger (assessments, late
fees, agreements, enforcement) builds on this."""
