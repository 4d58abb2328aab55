"""Builds the FastAPI application: routers, error handlers and health endpoints."""

from __future__ import annotations

from fastapi import FastAPI

from clickledger import __version__
from clickledger.http.api.errors import install_error_handlers
from clickledger.http.api.rate_limit import install_rate_limit
from clickledger.http.api.routers import ROUTERS
from clickledger.runtime import Runtime

API_DESCRIPTION = (
    "Affiliate tracking and commissions: admin, reporting and ingestion API.\n\n"
    "**Authentication**: an API key `cl_<prefix>_<secret>` in `Authorization: Bearer …` or "
    "`X-API-Key`; none or an invalid one answers 401. What a key's role may not use or see "
    "answers 404, exactly like something absent.\n\n"
    "**Paging**: lists take `limit` (1 to the server's `api_page_size_max`, 500 by default; "
    "more answers 422 `limit_too_large`) and `cursor` (the `next_cursor` of the previous "
    "page; `null` means the last page). Items come oldest first.\n\n"
    "**Errors**: `{\"error\": {\"code\", \"message\", \"details\"}}`; body validation "
    "answers 422 `invalid_request` with one `details` entry per field whose `type` names "
    "the problem (`extra_forbidden`, `unknown_currency`, `invalid_id`, `invalid_url` …); "
    "rule violations answer 422 with their own code (`unknown_brand`, `domain_not_allowed`, "
    "`affiliate_cycle` …) and duplicates 409 `conflict`."
)


def create_api(runtime: Runtime) -> FastAPI:
    """The admin and reporting API over ``runtime``; OpenAPI at ``/docs``."""
    api = FastAPI(
        title="ClickLedger",
        version=__version__,
        description=API_DESCRIPTION,
    )
    api.state.runtime = runtime
    install_error_handlers(api)
    install_rate_limit(api, runtime.settings.api_rate_per_minute)

    @api.get("/healthz", tags=["operations"])
    def liveness() -> dict[str, str]:
        return {"status": "ok"}

    for router in ROUTERS:
        api.include_router(router)
    return api
