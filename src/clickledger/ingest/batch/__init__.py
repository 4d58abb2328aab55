"""Batch import: operator files (CSV, gzip CSV, JSON Lines) into the same path as postbacks.

``parse`` reads and validates a whole file with vectorised polars expressions,
``keys`` gives every row its idempotency key, ``insert`` bulk-writes player
events with ``insert … on conflict do nothing`` and ``runner`` ties it together
under a policy (``reject-file`` or ``skip-invalid``).
"""
