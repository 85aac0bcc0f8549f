"""PII redaction: ingest-time spans applied by string slicing, placeholders, restoration."""
