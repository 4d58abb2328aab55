"""Request dependencies: the runtime, a database connection and the authenticated principal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request

from clickledger.domain.roles import Principal, Role
from clickledger.http.api.errors import ApiError, not_found
from clickledger.http.api.rate_limit import enforce_rate_limit
from clickledger.runtime import Runtime
from clickledger.store.api_keys import authenticate


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_conn(runtime: RuntimeDep) -> Iterator[sa.Connection]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    with runtime.engine.begin() as conn:
        yield conn


ConnDep = Annotated[sa.Connection, Depends(get_conn)]


def get_report_conn(runtime: RuntimeDep) -> Iterator[sa.Connection]:
    """A connection for report reads: the reports replica when one is configured (never
    written), else one transaction on the main database."""
    with runtime.report_connection() as conn:
        yield conn


ReportConnDep = Annotated[sa.Connection, Depends(get_report_conn)]


def _token_from(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return request.headers.get("x-api-key")


def get_principal(request: Request, runtime: RuntimeDep) -> Principal:
    """The caller behind the bearer token or ``X-API-Key``; 401 when there is none."""
    existing = getattr(request.state, "principal", None)
    if isinstance(existing, Principal):
        return existing
    token = _token_from(request)
    if token:
        with runtime.engine.connect() as conn:
            principal = authenticate(conn, token)
        if principal is not None:
            enforce_rate_limit(request, principal.key_id)
            request.state.principal = principal
            return principal
    raise ApiError(401, "unauthenticated", "a valid API key is required")


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only ``roles``; anyone else gets 404, as if the route were absent."""

    def _check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise not_found("resource")
        return principal

    return _check


StaffDep = Annotated[Principal, Depends(require(Role.MANAGER, Role.FINANCE))]
ManagerDep = Annotated[Principal, Depends(require(Role.MANAGER))]
ReaderDep = Annotated[Principal, Depends(require(Role.MANAGER, Role.FINANCE, Role.AFFILIATE))]
IngestDep = Annotated[Principal, Depends(require(Role.INTEGRATION))]
