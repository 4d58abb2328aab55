"""The normalized player event: what a postback, a pixel hit and an imported row all become.

One shape, one path to attribution and money, whichever way the event came in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class EventKind(StrEnum):
    REGISTRATION = "registration"
    FTD = "ftd"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRADE = "trade"
    ACTIVITY = "activity"
    CHARGEBACK = "chargeback"
    REVERSAL = "reversal"


class Source(StrEnum):
    S2S = "s2s"
    PIXEL = "pixel"
    BATCH = "batch"


@dataclass(frozen=True, slots=True)
class PlayerEvent:
    """One operator event about one player, validated and in our own vocabulary.

    Money fields are exact ``Decimal`` in ``currency``; ``lots`` is Forex volume
    in standard lots; activity rows carry a day's bets, wins, bonus and
    chargebacks for one player.
    """

    kind: EventKind
    txn_id: str
    operator_player_id: str
    occurred_at: datetime
    source: Source = Source.S2S
    amount: Decimal | None = None
    currency: str | None = None
    click_id: str | None = None
    promo_code: str | None = None
    country: str | None = None
    lots: Decimal | None = None
    instrument: str | None = None
    account_type: str | None = None
    spread: Decimal | None = None
    bets: Decimal | None = None
    wins: Decimal | None = None
    bonus: Decimal | None = None
    chargebacks: Decimal | None = None
    activity_day: date | None = None
    status_raw: str | None = None
    reverses_txn_id: str | None = None
