"""Import jobs: an uploaded file, imported in a background thread, its progress readable.

The upload is written to ``upload_dir`` and a row in ``import_jobs`` (status
``queued``) is committed before the caller gets the job id.  A worker thread
then runs the import, writing ``rows_done`` as it goes and the result at the
end (``succeeded`` or ``rejected``; ``failed`` for an unexpected error).
On PostgreSQL progress is written to the row as it goes; on SQLite (one
writer, held by a reject-file import to its end) it is kept in this process
and merged into what ``job_view`` shows.  ``fail_abandoned`` marks jobs a
crashed process left queued or running as failed (for a start-up hook);
re-submitting the file is safe, imports are idempotent.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.ingest.batch.kinds import FileKind, Policy
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.batch.profiles import Profile, get_profile
from clickledger.ingest.batch.report import errors_csv
from clickledger.runtime import Runtime
from clickledger.store import tables as t

if TYPE_CHECKING:
    from clickledger.ingest.batch.runner import ImportResult

# ``runner`` (parse, insert: polars) is heavy; ``run_job`` loads it when a job runs, so
# the API that queues and reads jobs starts without it.

log = logging.getLogger(__name__)
PROGRESS_EVERY_ROWS = 50_000
MAX_FILE_NAME = 500

# Progress of the jobs running in this process: (rows done, rows to store).  Under
# reject-file the import holds its write transaction to the end, and SQLite has one
# writer, so progress cannot be written there; readers merge this in instead.
_LIVE: dict[str, tuple[int, int]] = {}
_LIVE_LOCK = threading.Lock()


@dataclass(frozen=True)
class NewJob:
    integration_id: str
    kind: FileKind
    policy: Policy
    file_name: str
    data: bytes
    created_by: str
    profile_id: str | None = None


def create_job(conn: sa.Connection, job: NewJob, upload_dir: Path, now: datetime) -> str:
    """Store the upload and queue its job; returns the job id."""
    job_id = new_id()
    upload_dir.mkdir(parents=True, exist_ok=True)
    path = upload_dir / f"{job_id}.upload"
    path.write_bytes(job.data)
    conn.execute(t.import_jobs.insert().values(
        id=job_id, integration_id=job.integration_id, profile_id=job.profile_id,
        kind=job.kind.value, policy=job.policy.value, file_name=job.file_name[:MAX_FILE_NAME],
        file_path=str(path), size_bytes=len(job.data), status="queued",
        created_by=job.created_by, created_at=now, updated_at=now,
    ))
    return job_id


def get_job(conn: sa.Connection, job_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(t.import_jobs).where(t.import_jobs.c.id == job_id)).first()
    return dict(row._mapping) if row is not None else None


def job_view(job: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of a job (never the server-side file path)."""
    hidden = {"file_path", "error_report"}
    view = {k: v for k, v in job.items() if k not in hidden}
    view["has_error_report"] = bool(job.get("error_report"))
    with _LIVE_LOCK:
        live = _LIVE.get(str(job["id"]))
    if live is not None and job.get("status") == "running":
        view["rows_done"], view["rows_total"] = max(live[0], view["rows_done"]), live[1]
    return view


def _update(runtime: Runtime, job_id: str, **values: Any) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(t.import_jobs.update().where(t.import_jobs.c.id == job_id).values(
            updated_at=runtime.clock.now(), **values))


def run_job(runtime: Runtime, job_id: str, limits: ImportLimits) -> None:
    """Run a queued job to its end; every outcome is written to its row."""
    from clickledger.ingest.batch.runner import (  # noqa: PLC0415 - heavy, loaded on first use
        ImportRequest,
        run_import,
    )

    with runtime.engine.connect() as conn:
        job = get_job(conn, job_id)
        profile = _profile(conn, job)
    if job is None or job["status"] != "queued":
        return
    _update(runtime, job_id, status="running", started_at=runtime.clock.now())
    last = [0]
    shared_writer = runtime.engine.dialect.name == "postgresql"

    def progress(done: int, total: int) -> None:
        with _LIVE_LOCK:
            _LIVE[job_id] = (done, total)
        if shared_writer and (done - last[0] >= PROGRESS_EVERY_ROWS or done == total):
            last[0] = done
            _update(runtime, job_id, rows_done=done, rows_total=total)

    try:
        request = ImportRequest(
            data=Path(job["file_path"]).read_bytes(), file_name=job["file_name"],
            kind=FileKind(job["kind"]), integration_id=str(job["integration_id"]),
            profile=profile, policy=Policy(job["policy"]),
        )
        result = run_import(runtime.engine, runtime.clock,
                            runtime.settings.attribution_window_days, request, limits, progress)
    except Exception as exc:  # the job row records any failure
        log.exception("import job %s failed", job_id)
        _update(runtime, job_id, status="failed", message=str(exc)[:1000],
                finished_at=runtime.clock.now())
        return
    finally:
        with _LIVE_LOCK:
            _LIVE.pop(job_id, None)
    _finish(runtime, job_id, result, limits)


def _profile(conn: sa.Connection, job: dict[str, Any] | None) -> Profile:
    if job is None or job["profile_id"] is None:
        return Profile()
    return get_profile(conn, str(job["profile_id"])) or Profile()


def _finish(runtime: Runtime, job_id: str, result: ImportResult, limits: ImportLimits) -> None:
    _update(
        runtime, job_id,
        status="succeeded" if result.status == "imported" else "rejected",
        rows_total=result.data_lines, rows_done=result.inserted + result.duplicates,
        rows_inserted=result.inserted, rows_duplicate=result.duplicates,
        rows_invalid=result.invalid, rows_skipped=result.skipped,
        errors=result.errors.head(limits.max_errors_in_job).to_dicts(),
        error_report=errors_csv(result.errors, limits.max_errors_kept)
        if result.errors.height else None,
        message=result.message[:1000], finished_at=runtime.clock.now(),
    )


def start_job(runtime: Runtime, job_id: str, limits: ImportLimits) -> threading.Thread:
    """Run the job in a background thread (the caller has already committed its row)."""
    thread = threading.Thread(target=run_job, args=(runtime, job_id, limits),
                              name=f"import-{job_id}", daemon=True)
    thread.start()
    return thread


def fail_abandoned(conn: sa.Connection, now: datetime) -> int:
    """Mark jobs a dead process left queued or running as failed; returns how many."""
    result = conn.execute(t.import_jobs.update().where(
        t.import_jobs.c.status.in_(["queued", "running"])).values(
        status="failed", message="the server stopped before this import finished; "
        "upload the file again (imports are idempotent)", updated_at=now, finished_at=now))
    return int(result.rowcount or 0)
