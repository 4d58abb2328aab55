"""Backfill: events an operator statement listed and we lack, imported the normal way.

The ``missing_in_clickledger`` lines of an events run are written out as an
import file per event kind and run through ``ingest.batch.runner.run_import``
(policy ``skip-invalid``): the same validation, idempotency, attribution,
commissions, outbox and integration health as any imported or posted event.
Lines that lack what an event needs (player, time) stay open and are listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl
import sqlalchemy as sa

from clickledger.clock import Clock
from clickledger.ingest.batch.consequences import existing_txn_ids
from clickledger.ingest.batch.kinds import FileKind, Policy
from clickledger.ingest.batch.limits import ImportLimits, get_limits
from clickledger.ingest.batch.profiles import Profile
from clickledger.ingest.batch.runner import (
    ImportRequest,
    UnknownIntegration,
    resolve_integration,
    run_import,
)
from clickledger.services.reconciliation import (
    ReconciliationError,
    get_run,
    mark_backfilled,
    missing_events,
)

# the statement's event kind -> (file kind, our event kind)
KINDS: dict[str, tuple[FileKind, str]] = {
    "registration": (FileKind.REGISTRATIONS, "registration"),
    "ftd": (FileKind.DEPOSITS, "ftd"), "deposit": (FileKind.DEPOSITS, "deposit"),
    "withdrawal": (FileKind.DEPOSITS, "withdrawal"), "trade": (FileKind.TRADES, "trade"),
    "chargeback": (FileKind.CHARGEBACKS, "chargeback"),
}
DEFAULT_KIND = "deposit"


@dataclass
class BackfillResult:
    imported: int = 0
    already_known: int = 0
    not_importable: list[dict[str, Any]] = field(default_factory=list)


def backfill(engine: sa.Engine, clock: Clock, window_days: int, run_id: str, integration: str,
             actor: str, limits: ImportLimits | None = None) -> BackfillResult:
    """Import the run's missing events for ``integration``; mark the items backfilled."""
    limits = limits or get_limits()
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        if run is None:
            raise ReconciliationError("not_found", "reconciliation run not found")
        if run["statement_kind"] != "events":
            raise ReconciliationError("not_events", "only an events statement can backfill")
        try:
            integration_id, brand_id = resolve_integration(conn, integration)
        except UnknownIntegration as exc:
            raise ReconciliationError("unknown_integration", str(exc)) from exc
        if brand_id != str(run["brand_id"]):
            raise ReconciliationError("other_brand", "the integration belongs to another brand")
        missing = missing_events(conn, run_id)
    result = BackfillResult()
    kinds = missing.with_columns(
        pl.col("event_kind").fill_null(DEFAULT_KIND).str.to_lowercase().alias("event_kind"))
    for statement_kind, (file_kind, _our_kind) in KINDS.items():
        rows = kinds.filter(pl.col("event_kind") == statement_kind)
        if rows.height:
            _import(engine, clock, window_days, rows, file_kind, integration_id, limits, result)
    unknown = kinds.filter(~pl.col("event_kind").is_in(list(KINDS)))
    result.not_importable += [{"line": r["__line"], "code": "unknown_kind",
                               "message": f"cannot backfill kind {r['event_kind']!r}"}
                              for r in unknown.iter_rows(named=True)]
    with engine.begin() as conn:
        stored = existing_txn_ids(conn, integration_id, missing["txn_id"].to_list())
        mark_backfilled(conn, run_id, sorted(stored), actor, clock.now())
    return result


def _import(engine: sa.Engine, clock: Clock, window_days: int, rows: pl.DataFrame,
            file_kind: FileKind, integration_id: str, limits: ImportLimits,
            result: BackfillResult) -> None:
    words = {kind: ours for kind, (fk, ours) in KINDS.items() if fk is file_kind}
    csv = rows.select(
        "txn_id", "player_id", "occurred_at", pl.col("event_kind").alias("status"),
        (pl.col("amount_t").cast(pl.String)).alias("amount_minor"), "currency",
    )
    csv = csv.with_columns(_major(csv).alias("amount")).drop("amount_minor")
    if file_kind is FileKind.REGISTRATIONS:
        csv = csv.drop("amount", "currency")
    profile = Profile(name="reconciliation-backfill", status_words=words)
    outcome = run_import(engine, clock, window_days, ImportRequest(
        data=csv.write_csv().encode(), file_name="backfill.csv", kind=file_kind,
        integration_id=integration_id, profile=profile, policy=Policy.SKIP_INVALID), limits)
    result.imported += outcome.inserted
    result.already_known += outcome.duplicates
    lines = rows["__line"].to_list()
    for error in outcome.errors.to_dicts():
        index = int(error["line"]) - 2  # the generated file's header is line 1
        line = lines[index] if 0 <= index < len(lines) else None
        result.not_importable.append({**error, "line": line})


def _major(frame: pl.DataFrame) -> pl.Expr:
    """Minor units back to exact decimal text in each line's currency (no float)."""
    from clickledger.domain.money import MINOR_UNITS  # noqa: PLC0415

    exponent = pl.col("currency").replace_strict(MINOR_UNITS, default=2, return_dtype=pl.Int64)
    minor = pl.col("amount_minor").cast(pl.Int64)
    digits = minor.abs().cast(pl.String).str.pad_start(12, "0")
    del frame
    whole = pl.when(exponent == 0).then(minor.abs().cast(pl.String)).otherwise(
        digits.str.slice(0, digits.str.len_chars() - exponent).str.strip_chars_start("0")
        .replace("", "0"))
    fraction = digits.str.slice(digits.str.len_chars() - exponent)
    sign = pl.when(minor < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    text = pl.when(exponent == 0).then(sign + whole).otherwise(sign + whole + "." + fraction)
    return pl.when(minor.is_null()).then(None).otherwise(text)
