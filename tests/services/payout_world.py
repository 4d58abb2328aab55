"""A small builder for payout tests: affiliates and ledger entries written straight to the store."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.store import tables as t

MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)
JUN = datetime(2026, 6, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)

BANK = {"method": "bank", "account_holder": "Ana Affiliate", "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX"}
FINANCE_A = "api_key:a finance-alice"
FINANCE_B = "api_key:b finance-bob"


class World:
    """Writes rows the way the commission engine would, and reads balances back."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self._n = 0

    def affiliate(self, name: str = "Ana", payout_currency: str = "EUR",
                  threshold_minor: int = 0, details: dict[str, Any] | None = BANK) -> str:
        affiliate_id = new_id()
        self.conn.execute(t.affiliates.insert().values(
            id=affiliate_id, name=name, email=f"{affiliate_id}@example.com", status="active",
            payout_currency=payout_currency, payout_threshold_minor=threshold_minor,
            payment_method=details["method"] if details else None, payment_details=details,
            created_at=NOW, updated_at=NOW))
        return affiliate_id

    def entry(self, affiliate_id: str, amount_minor: int, currency: str = "EUR", *,
              kind: str = "commission", status: str = "approved", period_start: datetime = MAR,
              explanation: str = "CPA 1 qualified player") -> str:
        self._n += 1
        entry_id = new_id()
        self.conn.execute(t.ledger_entries.insert().values(
            id=entry_id, entry_key=f"test:{entry_id}", kind=kind, affiliate_id=affiliate_id,
            amount_minor=amount_minor, currency=currency, period_start=period_start,
            status=status, source_event_ids=[], explanation=explanation, created_at=NOW))
        return entry_id

    def balance(self, affiliate_id: str, currency: str = "EUR") -> int:
        e = t.ledger_entries
        total = self.conn.execute(sa.select(sa.func.sum(e.c.amount_minor)).where(
            e.c.affiliate_id == affiliate_id, e.c.currency == currency,
            e.c.status == "approved")).scalar()
        return int(total or 0)

    def ledger_by_kind(self) -> dict[tuple[str, str], int]:
        e = t.ledger_entries
        rows = self.conn.execute(sa.select(e.c.kind, e.c.currency, sa.func.sum(e.c.amount_minor))
                                 .where(e.c.status == "approved").group_by(e.c.kind, e.c.currency))
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for kind, currency, amount in rows:
            totals[(kind, currency)] += int(amount)
        return dict(totals)
