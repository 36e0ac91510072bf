"""Domain models: data products, schemas, findings, reports and tasks. No I/O here."""
