"""Running one import: parse, validate, then store under a policy, with progress.

``reject-file``: if any line is bad nothing is stored; otherwise every chunk is
stored inside ONE transaction, so a process killed mid-import leaves nothing.
On SQLite the rows are staged (``insert.staged_events``) before any
transaction begins and the stage is removed when the import ends.
``skip-invalid``: bad lines are reported, good ones stored one chunk per
transaction; a chunk already stored is found again by its keys, so a re-run
after a crash converges without duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from clickledger.clock import Clock
from clickledger.ingest.batch.consequences import store_rows
from clickledger.ingest.batch.insert import Target, staged_events, with_ids
from clickledger.ingest.batch.kinds import FileKind, Policy
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.batch.parse import ParsedFile, parse_bytes
from clickledger.ingest.batch.profiles import Profile
from clickledger.ingest.batch.reader import ERROR_SCHEMA, FileError, load_bytes
from clickledger.services.registration import RaceLost
from clickledger.store import tables as t

RACE_RETRIES = 3
DIGEST_CHARS = 40

Progress = Callable[[int, int], None]  # (rows done, rows to store)


class UnknownIntegration(LookupError):
    """No active integration has this name or id."""


@dataclass
class ImportResult:
    """What happened to one file."""

    status: str  # imported | rejected
    data_lines: int = 0
    inserted: int = 0
    duplicates: int = 0
    invalid: int = 0  # lines with at least one error
    skipped: int = 0  # lines whose status word maps to "skip"
    errors: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ERROR_SCHEMA))
    message: str = ""

    def as_dict(self, max_errors: int) -> dict[str, object]:
        return {
            "status": self.status, "data_lines": self.data_lines, "inserted": self.inserted,
            "duplicates": self.duplicates, "invalid": self.invalid, "skipped": self.skipped,
            "message": self.message, "errors": self.errors.head(max_errors).to_dicts(),
            "error_count": self.errors.height,
        }


@dataclass(frozen=True)
class ImportRequest:
    data: bytes
    file_name: str
    kind: FileKind
    integration_id: str
    profile: Profile
    policy: Policy


def resolve_integration(conn: sa.Connection, name_or_id: str) -> tuple[str, str]:
    """(integration id, brand id) for an active integration named or identified so."""
    table = t.integrations
    row = conn.execute(sa.select(table.c.id, table.c.brand_id, table.c.status).where(
        table.c.name == name_or_id)).first()
    if row is None:
        try:
            row = conn.execute(sa.select(table.c.id, table.c.brand_id, table.c.status).where(
                table.c.id == name_or_id)).first()
        except (ValueError, sa.exc.StatementError):
            row = None
    if row is None or row.status != "active":
        raise UnknownIntegration(f"no active integration {name_or_id!r}")
    return str(row.id), str(row.brand_id)


def read_request_file(path: Path, limits: ImportLimits) -> bytes:
    """The file's bytes (size-checked) for an ``ImportRequest``."""
    return load_bytes(path, limits)


def rejected_result(error: FileError) -> ImportResult:
    errors = pl.DataFrame(
        [{"line": 0, "column": "", "code": error.code, "message": error.message}],
        schema=ERROR_SCHEMA,
    )
    return ImportResult(status="rejected", errors=errors, message=error.message)


def run_import(
    engine: sa.Engine, clock: Clock, window_days: int, request: ImportRequest,
    limits: ImportLimits, progress: Progress | None = None,
) -> ImportResult:
    """Import ``request`` completely, or reject it; never half under ``reject-file``."""
    now = clock.now()
    try:
        parsed = parse_bytes(request.data, request.file_name, request.kind, request.profile,
                             now, limits)
    except FileError as error:
        return rejected_result(error)
    invalid = parsed.errors["line"].n_unique()
    result = ImportResult(status="imported", data_lines=parsed.data_lines, invalid=invalid,
                          skipped=parsed.skipped, errors=parsed.errors,
                          duplicates=parsed.duplicates_in_file)
    if invalid and request.policy is Policy.REJECT_FILE:
        result.status = "rejected"
        result.message = f"{invalid} line(s) are invalid; nothing was imported (reject-file)"
        return result
    target = Target(
        integration_id=request.integration_id, brand_id=_brand_of(engine, request),
        received_at=now, file_digest=hashlib.sha256(request.data).hexdigest()[:DIGEST_CHARS],
    )
    rows = with_ids(parsed.rows)
    if request.policy is Policy.REJECT_FILE:
        inserted, duplicates = _all_or_nothing(engine, rows, target, window_days, now, limits,
                                               progress)
    else:
        inserted, duplicates = _chunk_by_chunk(engine, rows, target, window_days, now, limits,
                                               progress, invalid)
    result.inserted = inserted
    result.duplicates += duplicates
    result.message = _summary(result, parsed)
    return result


def _brand_of(engine: sa.Engine, request: ImportRequest) -> str:
    with engine.connect() as conn:
        return resolve_integration(conn, request.integration_id)[1]


def _all_or_nothing(
    engine: sa.Engine, rows: pl.DataFrame, target: Target, window_days: int, now: datetime,
    limits: ImportLimits, progress: Progress | None,
) -> tuple[int, int]:
    """Every row in one transaction: a crash or a kill leaves nothing behind."""
    tell = (lambda done: progress(done, rows.height)) if progress else None
    with engine.connect() as conn, staged_events(conn, rows, target) as staged:
        for attempt in range(RACE_RETRIES):
            try:
                with conn.begin():
                    outcome = store_rows(conn, rows, target, window_days, now,
                                         chunk_rows=limits.chunk_rows, progress=tell,
                                         staged=staged)
                if progress:
                    progress(rows.height, rows.height)
                return outcome.inserted, outcome.duplicates
            except RaceLost:
                if attempt == RACE_RETRIES - 1:
                    raise
    raise AssertionError("unreachable")


def _chunk_by_chunk(
    engine: sa.Engine, rows: pl.DataFrame, target: Target, window_days: int, now: datetime,
    limits: ImportLimits, progress: Progress | None, invalid: int,
) -> tuple[int, int]:
    """One transaction per chunk: a re-run finds the stored chunks by key and goes on."""
    inserted = duplicates = done = 0
    with engine.connect() as conn, staged_events(conn, rows, target) as staged:
        for first in range(0, rows.height, limits.chunk_rows):
            chunk = rows.slice(first, limits.chunk_rows)
            rejected = invalid if first == 0 else 0
            for attempt in range(RACE_RETRIES):
                try:
                    with conn.begin():
                        outcome = store_rows(conn, chunk, target, window_days, now,
                                             rejected=rejected, chunk_rows=limits.chunk_rows,
                                             staged=staged, first=first)
                    break
                except RaceLost:
                    if attempt == RACE_RETRIES - 1:
                        raise
            inserted += outcome.inserted
            duplicates += outcome.duplicates
            done += chunk.height
            if progress:
                progress(done, rows.height)
    if rows.height == 0 and invalid:
        with engine.begin() as conn:
            store_rows(conn, rows, target, window_days, now, rejected=invalid)
    return inserted, duplicates


def _summary(result: ImportResult, parsed: ParsedFile) -> str:
    return (
        f"{parsed.data_lines} line(s): {result.inserted} imported, {result.duplicates} already "
        f"known, {result.invalid} invalid, {result.skipped} skipped by status"
    )
