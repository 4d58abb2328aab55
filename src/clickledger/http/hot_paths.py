"""Registers each capability's plain-ASGI handlers (click, pixel, postback) on the front app.

Each capability adds one line here; the handlers live in ``tracking`` and ``ingest``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clickledger.http.app import HotPaths
    from clickledger.runtime import Runtime


def register_hot_paths(hot: HotPaths, runtime: Runtime) -> None:
    """Attach every hot-path handler to ``hot``."""
    from clickledger.tracking import click  # noqa: PLC0415 - keeps the import graph flat

    hot.committers.append(click.register(hot, runtime).committer)  # GET /c/{code}
    from clickledger.http.public_limits import limit_clicks  # noqa: PLC0415

    limit_clicks(hot, runtime.settings)  # per-address click limit in front of /c/
    from clickledger.ingest import routes as ingest_routes  # noqa: PLC0415

    # /postback, /api/v1/events, /p.gif, /p.js
    hot.committers.append(ingest_routes.register(hot, runtime).committer)
    from clickledger.workers import fraud as fraud_worker  # noqa: PLC0415

    fraud_worker.register(hot, runtime)  # fraud worker thread (settings.fraud_in_process)
    # Operations last, once every committer is in hot.committers: /metrics, /readyz.
    from clickledger.operations import endpoints as operations  # noqa: PLC0415

    operations.register(hot, runtime)
