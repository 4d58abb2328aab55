"""``/api/v1/imports``: upload an operator file, follow its job; ``/api/v1/import-profiles``.

An upload is the raw file as the request body (CSV, gzip CSV or JSON Lines)
with ``kind``, ``policy`` and optionally ``profile`` in the query.  An
integration key uploads for its own integration; a manager names one with
``integration``.  The answer is ``202`` with a job id; ``GET …/{job_id}``
shows progress and the result, ``GET …/{job_id}/errors.csv`` the error
report.  Bodies over the upload limit get ``413``.  Managers manage the
mapping profiles.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from clickledger.domain.roles import Principal, Role
from clickledger.http.api.deps import ConnDep, ManagerDep, RuntimeDep, require
from clickledger.http.api.errors import ApiError, error_body, not_found
from clickledger.ingest.batch import jobs, profiles
from clickledger.ingest.batch.kinds import FileKind, Policy
from clickledger.ingest.batch.limits import get_limits
from clickledger.services import audit
from clickledger.services.programme import actor_label

router = APIRouter(tags=["imports"])

UPLOADERS = (Role.MANAGER, Role.INTEGRATION)
UploaderDep = Annotated[Principal, Depends(require(*UPLOADERS))]
ProfileName = Annotated[str, Query(min_length=1, max_length=profiles.MAX_PROFILE_NAME)]


async def _read_limited(request: Request, limit_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit_bytes:
        raise ApiError(413, "body_too_large", f"the upload is over {limit_bytes} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise ApiError(413, "body_too_large", f"the upload is over {limit_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _integration_for(conn: sa.Connection, principal: Principal, named: str | None) -> str:
    # runner pulls in polars: loaded on the first upload, not at server start.
    from clickledger.ingest.batch.runner import (  # noqa: PLC0415 - heavy, loaded on first use
        UnknownIntegration,
        resolve_integration,
    )

    if principal.role is Role.INTEGRATION:
        own = principal.integration_id or ""
        if named and named != own:
            raise not_found("integration")
        return own
    if not named:
        raise ApiError(422, "missing_integration", "name the integration (?integration=)")
    try:
        return resolve_integration(conn, named)[0]
    except UnknownIntegration as exc:
        raise not_found("integration") from exc


@router.post("/api/v1/imports", status_code=202)
async def upload(
    request: Request, principal: UploaderDep, runtime: RuntimeDep,
    kind: FileKind, policy: Policy = Policy.REJECT_FILE,
    profile: Annotated[str | None, Query(max_length=profiles.MAX_PROFILE_NAME)] = None,
    integration: Annotated[str | None, Query(max_length=200)] = None,
    file_name: Annotated[str, Query(min_length=1, max_length=jobs.MAX_FILE_NAME)] = "upload.csv",
) -> JSONResponse:
    """Queue an import of the request body; answers the job id at once."""
    limits = get_limits()
    data = await _read_limited(request, limits.max_upload_body_bytes)
    if not data:
        raise ApiError(422, "empty_file", "the request body is empty")

    def queue() -> str:
        with runtime.engine.begin() as conn:
            integration_id = _integration_for(conn, principal, integration)
            profile_id = None
            if profile:
                found = profiles.get_profile(conn, profile)
                if found is None:
                    raise not_found("import profile")
                profile_id = found.id
            return jobs.create_job(conn, jobs.NewJob(
                integration_id=integration_id, kind=kind, policy=policy, file_name=file_name,
                data=data, created_by=actor_label(principal), profile_id=profile_id,
            ), limits.upload_dir, runtime.clock.now())

    job_id = await run_in_threadpool(queue)
    jobs.start_job(runtime, job_id, limits)
    return JSONResponse(
        {"job_id": job_id, "status": "queued", "url": f"/api/v1/imports/{job_id}"},
        status_code=202,
    )


def _visible_job(conn: sa.Connection, principal: Principal, job_id: str) -> dict[str, Any]:
    try:
        job = jobs.get_job(conn, job_id)
    except sa.exc.StatementError:
        job = None
    if job is None:
        raise not_found("import job")
    if principal.role is Role.INTEGRATION and str(job["integration_id"]) != (
            principal.integration_id or ""):
        raise not_found("import job")
    return job


@router.get("/api/v1/imports/{job_id}")
def get_job(principal: UploaderDep, job_id: str, conn: ConnDep) -> dict[str, Any]:
    """Progress while running; counts, the first errors and a message when done."""
    return jobs.job_view(_visible_job(conn, principal, job_id))


@router.get("/api/v1/imports/{job_id}/errors.csv")
def get_error_report(principal: UploaderDep, job_id: str, conn: ConnDep) -> Response:
    """Every error of the job as CSV: line, column, code, message."""
    job = _visible_job(conn, principal, job_id)
    report = job.get("error_report")
    if not report:
        return JSONResponse(error_body("no_error_report", "this import has no errors"), 404)
    return Response(report, media_type="text/csv", headers={
        "content-disposition": f'attachment; filename="import-{job_id}-errors.csv"'})


@router.get("/api/v1/import-profiles")
def list_profiles(principal: ManagerDep, conn: ConnDep) -> dict[str, Any]:
    return {"items": [_profile_view(p) for p in profiles.list_profiles(conn)]}


@router.put("/api/v1/import-profiles/{name}")
def put_profile(
    principal: ManagerDep, name: str, body: dict[str, Any], conn: ConnDep, runtime: RuntimeDep,
) -> dict[str, Any]:
    """Create or replace the mapping profile ``name``."""
    from clickledger.ingest.batch.runner import (  # noqa: PLC0415 - heavy, loaded on first use
        UnknownIntegration,
        resolve_integration,
    )

    integration_id = None
    try:
        profile = profiles.profile_from_mapping({**body, "name": name})
        if body.get("integration"):
            integration_id = resolve_integration(conn, str(body["integration"]))[0]
    except profiles.ProfileError as exc:
        raise ApiError(422, exc.code, str(exc)) from exc
    except (UnknownIntegration, ValueError, TypeError) as exc:
        raise ApiError(422, "invalid_profile", str(exc)) from exc
    before = profiles.get_profile(conn, name)
    saved = profiles.save_profile(conn, profile, runtime.clock.now(), integration_id)
    view = _profile_view(saved)
    audit.record(conn, actor=actor_label(principal), action="import_profile.save",
                 entity="import_profile", entity_id=str(saved.id), now=runtime.clock.now(),
                 before=_profile_view(before) if before else None, after=view)
    return view


@router.delete("/api/v1/import-profiles/{name}", status_code=204)
def delete_profile(principal: ManagerDep, name: str, conn: ConnDep,
                   runtime: RuntimeDep) -> Response:
    before = profiles.get_profile(conn, name)
    try:
        removed = profiles.delete_profile(conn, name)
    except profiles.ProfileError as exc:
        raise ApiError(409, exc.code, str(exc)) from exc
    if not removed or before is None:
        raise not_found("import profile")
    audit.record(conn, actor=actor_label(principal), action="import_profile.delete",
                 entity="import_profile", entity_id=str(before.id), now=runtime.clock.now(),
                 before=_profile_view(before))
    return Response(status_code=204)


def _profile_view(profile: profiles.Profile) -> dict[str, Any]:
    return {
        "id": profile.id, "name": profile.name,
        "kind": profile.kind.value if profile.kind else None, "delimiter": profile.delimiter,
        "columns": dict(profile.columns), "date_formats": list(profile.date_formats),
        "decimal_comma": profile.decimal_comma, "currency_column": profile.currency_column,
        "fixed_currency": profile.fixed_currency, "status_words": dict(profile.status_words),
    }
