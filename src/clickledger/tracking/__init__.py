"""The click hot path: redirect, group commit, enrichment and rollups."""
