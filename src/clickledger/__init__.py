"""ClickLedger: self-hosted affiliate tracking and commission platform.

The package reads like the affiliate lifecycle: ``domain`` holds the pure rules
(attribution, deals, ledger, fraud, reconciliation, payouts); ``tracking``,
``ingest`` and ``outbound`` move events in and out; ``store`` persists them;
``services`` are the use cases; ``http``, ``web``, ``cli`` and ``workers`` are
the entrypoints.
"""

__version__ = "0.1.0"
