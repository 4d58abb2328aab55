"""Background workers: outbox dispatch, click enrichment, scheduled jobs."""
