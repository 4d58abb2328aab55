"""Builds the FastAPI application: routers, error handlers and health endpoints."""

from __future__ import annotations

from fastapi import FastAPI

from clickledger import __version__
from clickledger.http.api.errors import install_error_handlers
from clickledger.http.api.routers import ROUTERS
from clickledger.runtime import Runtime


def create_api(runtime: Runtime) -> FastAPI:
    """The admin and reporting API over ``runtime``; OpenAPI at ``/docs``."""
    api = FastAPI(
        title="ClickLedger",
        version=__version__,
        description="Affiliate tracking and commissions: admin, reporting and ingestion API.",
    )
    api.state.runtime = runtime
    install_error_handlers(api)

    @api.get("/healthz", tags=["operations"])
    def liveness() -> dict[str, str]:
        return {"status": "ok"}

    for router in ROUTERS:
        api.include_router(router)
    return api
