"""Reconciliation runs: import a statement, match it, store the items, decide, backfill.

``run_reconciliation`` reads the statement, loads our records for the brand
and period, matches them (the rules of ``domain.reconciliation``, applied with polars
joins by ``services.reconciliation_matching``) and
stores the run and one item per line in one transaction (on SQLite the items
are staged first by ``store.sqlite_bulk`` and copied in by one statement).  A finance user then
approves or rejects each proposed adjustment: an approval posts one ledger
entry of kind ``adjustment`` (key ``recon:<item id>``, so approving twice
posts once) through the commission engine's posting function, and the item
records the entry.  Events the operator listed and we lack
(``missing_in_clickledger`` in an events statement) can be backfilled: they
go through the batch import path, the same as any imported event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from clickledger.domain.ledger import EntryDraft, EntryKind
from clickledger.domain.money import MINOR_UNITS, format_money, from_minor, to_minor
from clickledger.domain.reconciliation import Flag
from clickledger.ids import new_id
from clickledger.ingest.batch.limits import ImportLimits, get_limits
from clickledger.services import audit
from clickledger.services.reconciliation_kinds import StatementKind
from clickledger.store import tables as t
from clickledger.store.bulk import insert_frame

if TYPE_CHECKING:
    import polars as pl

    from clickledger.services.reconciliation_statement import Statement

# polars (and the modules built on it) is heavy: the functions that need it load it on
# first use, so the API and the web console start without it.

__all__ = ["StatementKind"]
MAX_TOLERANCE_MINOR = 10**9
ITEMS = "items"  # the staged table of item rows (SQLite)
DEAL_TYPE = "reconciliation"


class ReconciliationError(ValueError):
    """A request that cannot be carried out, with a stable code."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


@dataclass(frozen=True)
class StatementRequest:
    data: bytes
    file_name: str
    kind: StatementKind
    brand: str  # name or id
    actor: str
    tolerance: str = "0"  # in the brand's currency, major units ("0.05")
    period_start: str | None = None  # YYYY-MM-DD, inclusive
    period_end: str | None = None  # YYYY-MM-DD, exclusive


@dataclass
class RunOutcome:
    run_id: str
    summary: dict[str, Any]
    items: pl.DataFrame


def _brand(conn: sa.Connection, name_or_id: str) -> tuple[str, str]:
    b = t.brands.c
    row = conn.execute(sa.select(b.id, b.default_currency).where(b.name == name_or_id)).first()
    if row is None:
        try:
            row = conn.execute(sa.select(b.id, b.default_currency).where(
                b.id == name_or_id)).first()
        except sa.exc.StatementError:
            row = None
    if row is None:
        raise ReconciliationError("unknown_brand", f"no brand {name_or_id!r}")
    return str(row.id), str(row.default_currency)


def _day(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ReconciliationError("invalid_period", f"{name} must be YYYY-MM-DD") from exc


def _tolerance_minor(text: str, currency: str) -> int:
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation as exc:
        raise ReconciliationError("invalid_tolerance", f"not an amount: {text!r}") from exc
    minor = to_minor(value, currency) if value.is_finite() else -1
    if minor < 0 or minor > MAX_TOLERANCE_MINOR:
        raise ReconciliationError("invalid_tolerance", "the tolerance must be 0 or more")
    return minor


def _event_period(statement: Statement) -> tuple[datetime | None, datetime | None]:
    import polars as pl  # noqa: PLC0415 - heavy, loaded on first use

    if "occurred_at" not in statement.lines.columns:
        return None, None
    days = statement.lines["occurred_at"].str.slice(0, 10).str.strptime(
        pl.Date, "%Y-%m-%d", strict=False).drop_nulls()
    if days.is_empty():
        return None, None
    first, last = days.min(), days.max()
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)  # type: ignore[union-attr]
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)  # type: ignore[union-attr]
    return start, end


def _ours(conn: sa.Connection, statement: Statement, brand_id: str, start: datetime | None,
          end: datetime | None) -> pl.DataFrame:
    from clickledger.services import (  # noqa: PLC0415 - heavy, loaded on first use
        reconciliation_records as records,
    )

    if statement.kind is StatementKind.EVENTS:
        keys = None if start is not None else statement.lines["key"].unique().to_list()
        return records.event_records(conn, brand_id, start, end, keys)
    if start is None or end is None:
        raise ReconciliationError(
            "missing_period", f"a {statement.kind.value} statement needs --from and --to")
    if statement.kind is StatementKind.PLAYERS:
        return records.player_commissions(conn, brand_id, start, end)
    return records.affiliate_commissions(conn, brand_id, start, end)


def _with_affiliates(conn: sa.Connection, statement: Statement) -> pl.DataFrame:
    import polars as pl  # noqa: PLC0415 - heavy, loaded on first use

    from clickledger.services import (  # noqa: PLC0415 - heavy, loaded on first use
        reconciliation_records as records,
    )

    refs = statement.lines["operator_affiliate_id"].drop_nulls().unique().to_list()
    resolved = records.resolve_affiliates(conn, refs)
    lines = statement.lines.with_columns(
        pl.col("operator_affiliate_id").replace_strict(resolved, default=None,
                                                       return_dtype=pl.String)
        .alias("theirs_affiliate_id"))
    if statement.kind is StatementKind.AFFILIATES:
        lines = lines.with_columns(pl.coalesce("theirs_affiliate_id", "key").alias("key"))
    return lines


def run_reconciliation(engine: sa.Engine, now: datetime, request: StatementRequest,
                       limits: ImportLimits | None = None) -> RunOutcome:
    """Match the statement, then store the run with its items in one transaction."""
    from clickledger.services import (  # noqa: PLC0415 - heavy, loaded on first use
        reconciliation_matching as matching,
    )
    from clickledger.services.reconciliation_statement import (  # noqa: PLC0415 - heavy
        StatementError,
        read_statement,
    )

    limits = limits or get_limits()
    try:
        statement = read_statement(request.data, request.file_name, request.kind, limits)
    except StatementError as exc:
        raise ReconciliationError(exc.code, str(exc), exc.errors) from exc
    with engine.connect() as conn:
        with conn.begin():  # reading and matching
            brand_id, currency = _brand(conn, request.brand)
            tolerance_minor = _tolerance_minor(request.tolerance, currency)
            start = _day(request.period_start, "--from")
            end = _day(request.period_end, "--to")
            if start is None and end is None and statement.kind is StatementKind.EVENTS:
                start, end = _event_period(statement)
            lines = _with_affiliates(conn, statement)
            ours = _ours(conn, statement, brand_id, start, end)
        items = matching.match(lines, ours, tolerance_minor,
                               proposes_money=statement.kind is not StatementKind.EVENTS)
        summary = matching.summarize(items)
        summary["period"] = {"from": start.isoformat() if start else None,
                             "to": end.isoformat() if end else None}
        run_id = new_id()
        rows = _item_rows(conn, run_id, items, lines)
        run = t.reconciliation_runs.insert().values(
            id=run_id, brand_id=brand_id, statement_kind=statement.kind.value,
            file_name=request.file_name[:500], status="open", tolerance_minor=tolerance_minor,
            summary=summary, created_by=request.actor, created_at=now)
        _store(conn, run, rows)
    return RunOutcome(run_id=run_id, summary=summary, items=items)


def _store(conn: sa.Connection, run: sa.Insert, rows: pl.DataFrame) -> None:
    """The run and its items in one transaction (outside which the stage is attached on
    SQLite: ``store.sqlite_bulk``; PostgreSQL gets ``COPY``)."""
    from clickledger.store.bulk import constant_literals  # noqa: PLC0415 - polars
    from clickledger.store.sqlite_bulk import (  # noqa: PLC0415 - polars, ADBC
        insert_from_stage,
        staged,
    )

    if conn.dialect.name != "sqlite":
        with conn.begin():
            conn.execute(run)
            insert_frame(conn, t.reconciliation_items, rows)
        return
    literals = constant_literals(rows)
    with staged(conn, {ITEMS: rows.drop(list(literals))}) as stage, conn.begin():
        conn.execute(run)
        insert_from_stage(conn, stage, ITEMS, t.reconciliation_items.name, rows.columns,
                          literals)


def _hex(column: str) -> pl.Expr:
    import polars as pl  # noqa: PLC0415 - heavy, loaded on first use

    return pl.col(column).str.replace_all("-", "")


def _item_rows(conn: sa.Connection, run_id: str, items: pl.DataFrame,
               lines: pl.DataFrame) -> pl.DataFrame:
    """One ``reconciliation_items`` row per matched item, in database form."""
    import polars as pl  # noqa: PLC0415 - heavy, loaded on first use

    from clickledger.ingest.batch.insert import new_ids  # noqa: PLC0415 - id helper only

    extra = [c for c in ("player_id", "kind", "occurred_at") if c in lines.columns]
    missing = items.filter(pl.col("flag") == Flag.MISSING_IN_CLICKLEDGER.value).select("line")
    if extra and missing.height:  # what a backfill needs, for the lines we lack only
        found = missing.join(lines.select("line", *extra), on="line", how="left").select(
            "line", pl.struct([pl.col(c) for c in extra]).struct.json_encode().alias("details"))
        frame = items.join(found, on="line", how="left", maintain_order="left")
    else:
        frame = items.with_columns(pl.lit(None, pl.String).alias("details"))
    postgres = conn.dialect.name == "postgresql"
    return frame.with_columns(new_ids(frame.height).alias("id")).select(
        pl.col("id"), pl.lit(run_id if postgres else run_id.replace("-", "")).alias("run_id"),
        pl.col("line").alias("line_no"), pl.col("key").str.slice(0, 300).alias("match_key"),
        pl.col("flag"), (pl.col("affiliate_id") if postgres else _hex("affiliate_id")),
        pl.col("operator_affiliate_id").str.slice(0, 128), pl.col("ours_minor"),
        pl.col("theirs_minor"), pl.col("difference_minor"), pl.col("currency"),
        pl.col("theirs_currency"), pl.col("proposed_adjustment_minor"),
        pl.lit("none").alias("decision"), pl.col("details"),
    )


# --- reading ------------------------------------------------------------------

ITEM_FILTERS = ("flag", "affiliate_id", "decision")


def get_run(conn: sa.Connection, run_id: str) -> dict[str, Any] | None:
    try:
        row = conn.execute(sa.select(t.reconciliation_runs).where(
            t.reconciliation_runs.c.id == run_id)).first()
    except sa.exc.StatementError:
        return None
    return dict(row._mapping) if row is not None else None


def list_runs(conn: sa.Connection, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    r = t.reconciliation_runs
    rows = conn.execute(sa.select(r).order_by(r.c.created_at.desc(), r.c.id.desc())
                        .limit(limit).offset(offset))
    return [dict(row._mapping) for row in rows]


def list_items(conn: sa.Connection, run_id: str, filters: dict[str, str | None], limit: int,
               offset: int = 0) -> list[dict[str, Any]]:
    """Items of a run in line order, filtered by flag, affiliate and decision."""
    i = t.reconciliation_items
    query = sa.select(i).where(i.c.run_id == run_id)
    for name in ITEM_FILTERS:
        value = filters.get(name)
        if value is not None:
            query = query.where(i.c[name] == value)
    rows = conn.execute(query.order_by(i.c.line_no.is_(None), i.c.line_no, i.c.match_key)
                        .limit(limit).offset(offset))
    return [dict(row._mapping) for row in rows]


EXPORT_COLUMNS = ("line_no", "match_key", "flag", "affiliate_id", "operator_affiliate_id",
                  "currency", "ours", "theirs", "difference", "theirs_currency",
                  "proposed_adjustment", "decision", "decided_by", "ledger_entry_id")


def export_rows(conn: sa.Connection, run_id: str) -> list[list[object]]:
    """Every item as CSV cells, amounts in major units (exact)."""
    i = t.reconciliation_items
    rows = conn.execute(sa.select(i).where(i.c.run_id == run_id).order_by(
        i.c.line_no.is_(None), i.c.line_no, i.c.match_key))
    out: list[list[object]] = []
    for row in rows:
        def money(minor: int | None, currency: str | None) -> str:
            if minor is None or currency not in MINOR_UNITS:
                return "" if minor is None else str(minor)
            return str(from_minor(minor, str(currency)))
        out.append([
            row.line_no, row.match_key, row.flag, row.affiliate_id, row.operator_affiliate_id,
            row.currency, money(row.ours_minor, row.currency),
            money(row.theirs_minor, row.theirs_currency),
            money(row.difference_minor, row.currency), row.theirs_currency,
            money(row.proposed_adjustment_minor, row.currency), row.decision, row.decided_by,
            row.ledger_entry_id,
        ])
    return out


# --- decisions ----------------------------------------------------------------


def _item(conn: sa.Connection, item_id: str) -> Any:
    try:
        return conn.execute(sa.select(t.reconciliation_items).where(
            t.reconciliation_items.c.id == item_id)).first()
    except sa.exc.StatementError:
        return None


def decide(conn: sa.Connection, item_id: str, approve: bool, actor: str,
           now: datetime) -> dict[str, Any]:
    """Approve (post the adjustment) or reject an item's proposal; a repeat changes nothing."""
    item = _item(conn, item_id)
    if item is None:
        raise ReconciliationError("not_found", "reconciliation item not found")
    if item.proposed_adjustment_minor is None or item.affiliate_id is None:
        raise ReconciliationError("nothing_to_decide", "this item proposes no adjustment")
    wanted = "approved" if approve else "rejected"
    if item.decision != "none":
        if item.decision != wanted:
            raise ReconciliationError("already_decided", f"this item was {item.decision}")
        return dict(item._mapping)
    guarded = conn.execute(t.reconciliation_items.update().where(
        t.reconciliation_items.c.id == item_id, t.reconciliation_items.c.decision == "none"
    ).values(decision=wanted, decided_by=actor, decided_at=now))
    if guarded.rowcount != 1:
        return decide(conn, item_id, approve, actor, now)
    entry_id = _post_adjustment(conn, item, actor, now) if approve else None
    if entry_id is not None:
        conn.execute(t.reconciliation_items.update().where(
            t.reconciliation_items.c.id == item_id).values(ledger_entry_id=entry_id))
    audit.record(conn, actor=actor, action=f"reconciliation.{wanted}",
                 entity="reconciliation_item", entity_id=str(item_id), now=now,
                 before={"decision": "none"},
                 after={"decision": wanted, "ledger_entry_id": entry_id})
    found = _item(conn, item_id)
    return dict(found._mapping)


def _post_adjustment(conn: sa.Connection, item: Any, actor: str, now: datetime) -> str:
    from clickledger.services.posting import Context, ensure_periods, post  # noqa: PLC0415

    key = f"recon:{item.id}"
    amount = from_minor(int(item.proposed_adjustment_minor), item.currency)
    run = get_run(conn, str(item.run_id)) or {}
    caused_at = _statement_start(run) or now
    draft = EntryDraft(
        entry_key=key, kind=EntryKind.ADJUSTMENT, affiliate_id=str(item.affiliate_id),
        amount=amount, currency=item.currency, deal_type=DEAL_TYPE, caused_at=caused_at,
        explanation=(
            f"Reconciliation adjustment {format_money(amount, item.currency)}: operator "
            f"statement {run.get('file_name') or ''} line {item.line_no} ({item.flag}, key "
            f"{item.match_key}) approved by {actor}"
        )[:1000],
    )
    ctx = Context(conn)
    ensure_periods(ctx, [caused_at])
    post(ctx, [draft], now)
    le = t.ledger_entries
    conn.execute(le.update().where(le.c.entry_key == key,
                                   le.c.reconciliation_item_id.is_(None)).values(
        reconciliation_item_id=item.id))
    entry_id = conn.execute(sa.select(le.c.id).where(le.c.entry_key == key)).scalar_one()
    return str(entry_id)


def _statement_start(run: dict[str, Any]) -> datetime | None:
    """The statement's period start: the adjustment corrects that period (late if closed)."""
    text = ((run.get("summary") or {}).get("period") or {}).get("from")
    return datetime.fromisoformat(text) if text else None


# --- backfill -----------------------------------------------------------------


def missing_events(conn: sa.Connection, run_id: str) -> pl.DataFrame:
    """The events an events statement listed and we lack, as import rows."""
    import polars as pl  # noqa: PLC0415 - heavy, loaded on first use

    i = t.reconciliation_items
    rows = conn.execute(sa.select(i.c.line_no, i.c.match_key, i.c.theirs_minor,
                                  i.c.theirs_currency, i.c.details).where(
        i.c.run_id == run_id, i.c.flag == Flag.MISSING_IN_CLICKLEDGER.value,
        i.c.decision == "none")).all()
    parsed = []
    for row in rows:
        details = row.details if isinstance(row.details, dict) else json.loads(row.details or "{}")
        parsed.append({
            "__line": row.line_no, "txn_id": row.match_key, "amount_t": row.theirs_minor,
            "currency": row.theirs_currency, "player_id": details.get("player_id"),
            "event_kind": details.get("kind"), "occurred_at": details.get("occurred_at"),
        })
    return pl.DataFrame(parsed, schema={
        "__line": pl.Int64, "txn_id": pl.String, "amount_t": pl.Int64, "currency": pl.String,
        "player_id": pl.String, "event_kind": pl.String, "occurred_at": pl.String})


def mark_backfilled(conn: sa.Connection, run_id: str, txn_ids: list[str], actor: str,
                    now: datetime) -> None:
    i = t.reconciliation_items
    for start in range(0, len(txn_ids), 1000):
        conn.execute(i.update().where(
            i.c.run_id == run_id, i.c.match_key.in_(txn_ids[start:start + 1000]),
            i.c.flag == Flag.MISSING_IN_CLICKLEDGER.value, i.c.decision == "none",
        ).values(decision="backfilled", decided_by=actor, decided_at=now))
