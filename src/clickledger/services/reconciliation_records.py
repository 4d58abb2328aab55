"""Our side of a reconciliation: records of one brand and period, as polars frames.

* events: stored player events with an amount (key ``txn_id``), with the
  affiliate their player is bound to;
* players: commission per player (ledger ``commission``, ``reversal`` and
  ``adjustment`` lines booked in the period; key the operator's player id;
  the affiliate is the one the lines pay — the player's own affiliate: the
  sub-affiliate shares its parents earn on the player are theirs, not the
  player's figure, and are left out);
* affiliates: the same lines summed per affiliate (key our affiliate id),
  including affiliate-level adjustments posted from this brand's reconciliations.

UUID columns are read as plain text and normalised to the dashed form in
polars, so a million rows cost one pass, not a million conversions.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from clickledger.store import tables as t

COMMISSION_KINDS = ("commission", "reversal", "adjustment")
KEYS_PER_QUERY = 50_000  # statement keys per look-up of our events
SUB_AFFILIATE = "sub_affiliate"  # deal type of the parents' shares
OURS_SCHEMA = {"key": pl.String, "ours_minor": pl.Int64, "currency": pl.String,
               "affiliate_id": pl.String}


def _frame(conn: sa.Connection, statement: sa.Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
    # Every column is plain text or an integer, so the driver's tuples need no
    # per-row conversion: read them straight from the DBAPI cursor.
    result = conn.execute(statement)
    rows = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    frame = pl.DataFrame(rows, schema=list(schema), orient="row")
    return frame.cast(schema)  # type: ignore[arg-type]


def _text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """A UUID column read as plain text (no per-row conversion on the way out)."""
    return sa.cast(column, sa.String)


def canonical_ids(column: str) -> pl.Expr:
    """32-hex or dashed UUID text → dashed lower-case text."""
    hexed = pl.col(column).str.replace_all("-", "").str.to_lowercase()
    return pl.when(hexed.is_null()).then(None).otherwise(pl.concat_str([
        hexed.str.slice(0, 8), hexed.str.slice(8, 4), hexed.str.slice(12, 4),
        hexed.str.slice(16, 4), hexed.str.slice(20, 12)], separator="-")).alias(column)


def _period(column: sa.ColumnElement[Any], start: datetime | None,
            end: datetime | None) -> list[sa.ColumnElement[bool]]:
    conditions = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


def event_records(conn: sa.Connection, brand_id: str, start: datetime | None,
                  end: datetime | None, only_keys: list[str] | None) -> pl.DataFrame:
    """Events of the brand with an amount, in the period (or only ``only_keys``).

    The brand's events are found through its integrations: the unique
    (integration, txn id) index serves both the brand and the key look-up, and
    ``only_keys`` go in as one list parameter per ``KEYS_PER_QUERY`` keys."""
    e, p = t.player_events.c, t.players.c
    integrations = sa.select(t.integrations.c.id).where(t.integrations.c.brand_id == brand_id)
    query = sa.select(e.txn_id, e.amount_minor, e.currency, _text(p.affiliate_id)).select_from(
        t.player_events.outerjoin(t.players, t.players.c.id == e.player_id)
    ).where(e.integration_id.in_(integrations), e.amount_minor.is_not(None),
            *_period(e.occurred_at, start, end))
    if only_keys is not None:
        batches = [only_keys[i:i + KEYS_PER_QUERY] for i in range(0, len(only_keys),
                                                                  KEYS_PER_QUERY)]
        frames = [_frame(conn, query.where(_in_list(conn, e.txn_id, batch)), OURS_SCHEMA)
                  for batch in batches]
        frame = pl.concat(frames) if frames else pl.DataFrame(schema=OURS_SCHEMA)
    else:
        frame = _frame(conn, query, OURS_SCHEMA)
    return frame.with_columns(canonical_ids("affiliate_id")).unique("key", keep="first")


def _in_list(conn: sa.Connection, column: sa.ColumnElement[str],
             values: list[str]) -> sa.ColumnElement[bool]:
    """``column IN values`` with the values as ONE parameter (not one per value)."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, values, type_=postgresql.ARRAY(sa.String)))
    keys = sa.select(sa.column("value", sa.String)).select_from(
        sa.func.json_each(sa.bindparam(None, json.dumps(values), type_=sa.String)))
    return column.in_(keys)


def player_commissions(conn: sa.Connection, brand_id: str, start: datetime | None,
                       end: datetime | None) -> pl.DataFrame:
    """Commission per player of the brand booked in the period."""
    le, p = t.ledger_entries.c, t.players.c
    query = sa.select(p.operator_player_id, sa.func.sum(le.amount_minor), le.currency,
                      _text(le.affiliate_id)).select_from(
        t.ledger_entries.join(t.players, t.players.c.id == le.player_id)
    ).where(p.brand_id == brand_id, le.kind.in_(COMMISSION_KINDS),
            sa.or_(le.deal_type.is_(None), le.deal_type != SUB_AFFILIATE),
            *_period(le.period_start, start, end)
    ).group_by(p.operator_player_id, le.currency, le.affiliate_id)
    frame = _frame(conn, query, OURS_SCHEMA)
    return frame.with_columns(canonical_ids("affiliate_id")).unique("key", keep="first")


def affiliate_commissions(conn: sa.Connection, brand_id: str, start: datetime | None,
                          end: datetime | None) -> pl.DataFrame:
    """Commission per affiliate in the brand: lines on its players plus the lines without a
    player (RevShare at close, reconciliation adjustments, and the parents' shares of both)."""
    le, p = t.ledger_entries.c, t.players.c
    affiliate = _text(le.affiliate_id).label("affiliate_id")
    of_players = sa.select(affiliate, le.amount_minor, le.currency).select_from(
        t.ledger_entries.join(t.players, t.players.c.id == le.player_id)
    ).where(p.brand_id == brand_id, le.kind.in_(COMMISSION_KINDS),
            *_period(le.period_start, start, end))
    frame = _frame(conn, of_players, {"affiliate_id": pl.String, "amount_minor": pl.Int64,
                                      "currency": pl.String})
    frame = pl.concat([frame, _playerless_lines(conn, brand_id, start, end)])
    frame = frame.with_columns(canonical_ids("affiliate_id")).group_by(
        "affiliate_id", "currency").agg(pl.col("amount_minor").sum().alias("ours_minor"))
    return frame.select(pl.col("affiliate_id").alias("key"), "ours_minor", "currency",
                        "affiliate_id").cast(OURS_SCHEMA)  # type: ignore[arg-type]


def _playerless_lines(conn: sa.Connection, brand_id: str, start: datetime | None,
                      end: datetime | None) -> pl.DataFrame:
    """Lines without a player that belong to ``brand_id``: a RevShare line by its deal's brand,
    an adjustment by its reconciliation run's brand, a parent's share (``sub:<parent>:<key>``)
    by the brand of the line it was paid on."""
    le, dv, deals = t.ledger_entries.c, t.deal_versions.c, t.deals.c
    items, runs = t.reconciliation_items.c, t.reconciliation_runs.c
    query = sa.select(
        le.entry_key, _text(le.affiliate_id), le.amount_minor, le.currency, le.deal_type,
        _text(deals.brand_id), _text(runs.brand_id),
    ).select_from(
        t.ledger_entries
        .outerjoin(t.deal_versions, dv.id == le.deal_version_id)
        .outerjoin(t.deals, deals.id == dv.deal_id)
        .outerjoin(t.reconciliation_items, items.id == le.reconciliation_item_id)
        .outerjoin(t.reconciliation_runs, runs.id == items.run_id)
    ).where(le.player_id.is_(None), le.kind.in_(COMMISSION_KINDS),
            *_period(le.period_start, start, end))
    rows = conn.execute(query).all()
    wanted = _canonical_id(brand_id)
    brand_of_key = {
        row[0]: _canonical_id(row[6] or row[5]) for row in rows if row[4] != SUB_AFFILIATE
    }
    kept = [(row[1], int(row[2]), row[3]) for row in rows
            if brand_of_key.get(_base_key(row[0]) if row[4] == SUB_AFFILIATE else row[0])
            == wanted]
    return pl.DataFrame(kept, schema={"affiliate_id": pl.String, "amount_minor": pl.Int64,
                                      "currency": pl.String}, orient="row")


def _base_key(entry_key: str) -> str:
    """``sub:<parent>:<key>`` → ``<key>``, the line the share was paid on."""
    while entry_key.startswith("sub:"):
        entry_key = entry_key.split(":", 2)[2] if entry_key.count(":") >= 2 else entry_key[4:]
    return entry_key


def _canonical_id(value: object) -> str | None:
    return None if value is None else str(value).replace("-", "").lower()


def resolve_affiliates(conn: sa.Connection, refs: list[str]) -> dict[str, str]:
    """Statement affiliate text (our id, e-mail or name; case-insensitive) → our affiliate id."""
    a = t.affiliates.c
    found: dict[str, str] = {}
    rows = conn.execute(sa.select(a.id, a.email, a.name)).all() if refs else []
    by_text: dict[str, str] = {}
    for row in rows:
        for text in (str(row.id), str(row.id).replace("-", ""), row.email, row.name):
            by_text.setdefault(str(text).strip().lower(), str(row.id))
    for ref in refs:
        match = by_text.get(ref.strip().lower())
        if match is not None:
            found[ref] = match
    return found
