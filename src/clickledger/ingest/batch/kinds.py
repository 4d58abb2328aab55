"""The kinds of file an operator sends, and which of our fields each one needs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from clickledger.domain.events import EventKind


class FileKind(StrEnum):
    REGISTRATIONS = "registrations"
    DEPOSITS = "deposits"
    TRADES = "trades"
    ACTIVITY = "activity"
    CHARGEBACKS = "chargebacks"


class Policy(StrEnum):
    REJECT_FILE = "reject-file"  # nothing imported if any line is bad
    SKIP_INVALID = "skip-invalid"  # good lines imported, bad ones reported


# Every field a file may carry, in our own vocabulary (a profile maps headers onto these).
TEXT_FIELDS = (
    "txn_id", "player_id", "click_id", "promo_code", "country", "instrument",
    "account_type", "status", "reverses_txn_id",
)
MONEY_FIELDS = ("amount", "spread", "bets", "wins", "bonus", "chargebacks")
ALL_FIELDS = (
    *TEXT_FIELDS, "occurred_at", "activity_day", "currency", "lots", *MONEY_FIELDS,
)
# Longest text we store for each text field (the player_events column widths).
MAX_LENGTHS = {
    "txn_id": 200, "player_id": 128, "click_id": 64, "promo_code": 64, "country": 2,
    "instrument": 64, "account_type": 64, "status": 64, "reverses_txn_id": 255,
}


@dataclass(frozen=True, slots=True)
class KindSpec:
    """What a file of one kind must and may contain."""

    event_kind: EventKind
    required: tuple[str, ...]
    money: tuple[str, ...]  # money fields read for this kind (need a currency)
    any_of: tuple[str, ...] = ()  # at least one of these columns must be present


SPECS: dict[FileKind, KindSpec] = {
    FileKind.REGISTRATIONS: KindSpec(EventKind.REGISTRATION, ("player_id", "occurred_at"), ()),
    FileKind.DEPOSITS: KindSpec(
        EventKind.DEPOSIT, ("player_id", "occurred_at", "amount"), ("amount",)
    ),
    FileKind.TRADES: KindSpec(EventKind.TRADE, ("player_id", "occurred_at", "lots"), ("spread",)),
    FileKind.ACTIVITY: KindSpec(
        EventKind.ACTIVITY, ("player_id", "activity_day"),
        ("bets", "wins", "bonus", "chargebacks"), any_of=("bets", "wins", "bonus", "chargebacks"),
    ),
    FileKind.CHARGEBACKS: KindSpec(
        EventKind.CHARGEBACK, ("player_id", "occurred_at", "amount"), ("amount",)
    ),
}

# Status words may turn a row into one of these kinds, or "skip" it.
SKIP = "skip"
STATUS_TARGETS = frozenset({*(kind.value for kind in EventKind), SKIP})
