"""Ingest departmental extracts: readers, header mapping, normalisation, validation, batches."""
