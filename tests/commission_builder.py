"""A small builder of programme rows, players and player events for commission tests.

Rows are inserted directly (no ingestion): the builder plays the part of the
postback pipeline, attributing players and calling ``evaluate_events`` the way
ingestion does.  Amounts are given as decimal text in major units.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clickledger.domain.money import to_minor
from clickledger.ids import new_id
from clickledger.services.conversion import evaluate_events
from clickledger.store import tables as t

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(day: int, hour: int = 12, month: int = 1, minute: int = 0) -> datetime:
    """A UTC moment in 2026 (default January): ``at(5)`` is 5 January 12:00."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class World:
    """Inserts rows into one database and remembers the ids it made."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.seq = 0
        self.integration_of: dict[str, str] = {}

    def _insert(self, table: sa.Table, **values: Any) -> str:
        values.setdefault("id", new_id())
        if "created_at" in table.c:
            values.setdefault("created_at", T0)
        if "updated_at" in table.c:
            values.setdefault("updated_at", T0)
        with self.engine.begin() as conn:
            conn.execute(table.insert().values(**values))
        return str(values["id"])

    def brand(self, name: str = "Casino", currency: str = "EUR", kind: str = "casino",
              bonuses: bool = True, chargebacks: bool = True, admin_fee_pct: str = "0") -> str:
        brand_id = self._insert(t.brands, name=name, kind=kind, default_currency=currency,
                                ngr_deduct_bonuses=bonuses, ngr_deduct_chargebacks=chargebacks,
                                ngr_admin_fee_pct=admin_fee_pct)
        self.integration_of[brand_id] = self._insert(
            t.integrations, brand_id=brand_id, name=f"{name} feed", signing_secret="s")
        return brand_id

    def affiliate(self, name: str, parent: str | None = None, currency: str = "EUR") -> str:
        return self._insert(t.affiliates, name=name, email=f"{name.lower()}@{new_id()}.test",
                            parent_id=parent, status="active", payout_currency=currency)

    def deal(self, brand_id: str, kind: str, terms: dict[str, Any], currency: str = "EUR",
             effective_from: datetime = T0, name: str | None = None) -> str:
        deal_id = self._insert(t.deals, name=name or f"{kind} {new_id()[-6:]}", brand_id=brand_id,
                               kind=kind, currency=currency)
        self.version(deal_id, terms, effective_from, 1)
        return deal_id

    def version(self, deal_id: str, terms: dict[str, Any], effective_from: datetime,
                number: int) -> str:
        return self._insert(t.deal_versions, deal_id=deal_id, version=number,
                            effective_from=effective_from, terms=terms)

    def assign(self, affiliate_id: str, deal_id: str, effective_from: datetime = T0,
               overrides: dict[str, Any] | None = None) -> str:
        return self._insert(t.deal_assignments, affiliate_id=affiliate_id, deal_id=deal_id,
                            effective_from=effective_from, overrides=overrides)

    def player(self, brand_id: str, affiliate_id: str | None,
               registered_at: datetime | None = None, country: str | None = "DE") -> str:
        self.seq += 1
        return self._insert(t.players, brand_id=brand_id, operator_player_id=f"p{self.seq}",
                            registered_at=registered_at, affiliate_id=affiliate_id,
                            attribution="attributed" if affiliate_id else "pending",
                            country=country)

    def event(self, player_id: str, kind: str, when: datetime, *,
              received_at: datetime | None = None, amount: str | None = None,
              currency: str = "EUR", lots: str | None = None, instrument: str | None = None,
              account_type: str | None = None, spread: str | None = None,
              bets: str | None = None, wins: str | None = None, bonus: str | None = None,
              chargebacks: str | None = None, reverses: str | None = None,
              txn_id: str | None = None) -> str:
        """Store one event (not evaluated: call ``evaluate``)."""
        with self.engine.connect() as conn:
            player = conn.execute(sa.select(t.players).where(t.players.c.id == player_id)).one()
        self.seq += 1
        txn = txn_id or f"t{self.seq}"

        def minor(value: str | None) -> int | None:
            return None if value is None else to_minor(Decimal(value), currency)

        event_id = self._insert(
            t.player_events, integration_id=self.integration_of[player.brand_id], txn_id=txn,
            payload_hash=hashlib.sha256(txn.encode()).hexdigest(), source="s2s", kind=kind,
            brand_id=player.brand_id, operator_player_id=player.operator_player_id,
            player_id=player_id, occurred_at=when, received_at=received_at or when,
            amount_minor=minor(amount), currency=currency,
            lots_milli=None if lots is None else int(Decimal(lots) * 1000),
            instrument=instrument, account_type=account_type, spread_minor=minor(spread),
            bets_minor=minor(bets), wins_minor=minor(wins), bonus_minor=minor(bonus),
            chargebacks_minor=minor(chargebacks),
            activity_day=when.date() if kind == "activity" else None,
            reverses_txn_id=reverses,
        )
        if kind == "ftd":
            with self.engine.begin() as conn:
                conn.execute(t.players.update().where(t.players.c.id == player_id,
                                                      t.players.c.ftd_at.is_(None))
                             .values(ftd_event_id=event_id, ftd_at=when))
        return event_id

    def txn_of(self, event_id: str) -> str:
        with self.engine.connect() as conn:
            return str(conn.execute(sa.select(t.player_events.c.txn_id)
                                    .where(t.player_events.c.id == event_id)).scalar_one())

    def evaluate(self, *event_ids: str, now: datetime | None = None) -> None:
        with self.engine.begin() as conn:
            evaluate_events(conn, list(event_ids), now or T0)

    def fx(self, day: date, base: str, quote: str, rate: str, source: str = "ecb") -> None:
        self._insert(t.fx_rates, day=day, base=base, quote=quote, rate=rate, source=source)

    def entries(self, affiliate_id: str | None = None) -> list[Any]:
        e = t.ledger_entries
        query = sa.select(e).order_by(e.c.entry_key)
        if affiliate_id:
            query = query.where(e.c.affiliate_id == affiliate_id)
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def total_minor(self, affiliate_id: str) -> int:
        return sum(row.amount_minor for row in self.entries(affiliate_id))

    def conversion(self, player_id: str, kind: str = "cpa") -> Any:
        c = t.conversions
        with self.engine.connect() as conn:
            return conn.execute(sa.select(c).where(c.c.player_id == player_id,
                                                   c.c.kind == kind)).first()
