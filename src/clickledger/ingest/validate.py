"""Validation of one inbound event: operator fields (already renamed) → ``PlayerEvent``.

Every problem has a stable reason code and a 4xx status; nothing is guessed.
Money is exact: an amount with more decimals than its currency has, a
negative amount, or one beyond ``MAX_AMOUNT_MINOR`` is refused, never rounded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from clickledger.domain.events import EventKind, PlayerEvent, Source
from clickledger.domain.money import MAX_AMOUNT_MINOR, MINOR_UNITS, MoneyError, parse_amount
from clickledger.ingest.mapping import map_status

FUTURE_SKEW = timedelta(minutes=10)
OLDEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_LOTS = Decimal(1_000_000)
LOTS_SCALE = 1000  # stored in thousandths of a lot
LIMITS = {"txn_id": 255, "user_id": 128, "click_id": 64, "promo": 64, "instrument": 64,
          "account_type": 64, "reverses_txn_id": 255, "event": 64}
MONEY_FIELDS = ("amount", "spread", "bets", "wins", "bonus", "chargebacks")
AMOUNT_REQUIRED = frozenset({EventKind.FTD, EventKind.DEPOSIT, EventKind.WITHDRAWAL,
                             EventKind.CHARGEBACK})
ACTIVITY_FIELDS = ("bets", "wins", "bonus", "chargebacks")


class Invalid(Exception):
    """A refused event: ``code`` is the machine-readable reason, ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class ValidEvent(NamedTuple):
    """A validated event and the hash of its content (what a retry must repeat); a named
    tuple: immutable, and made on every event for less than a frozen dataclass costs."""

    event: PlayerEvent
    payload_hash: str


def _text(fields: Mapping[str, str], name: str, required: bool = False) -> str | None:
    value = fields.get(name)
    if value is None or not (value := value.strip()):
        if required:
            raise Invalid(f"missing_{name}", f"{name} is required")
        return None
    limit = LIMITS.get(name, 255)
    if len(value) > limit:
        raise Invalid(f"invalid_{name}", f"{name} is longer than {limit} characters")
    if not value.isprintable():
        raise Invalid(f"invalid_{name}", f"{name} contains control characters")
    return value


def parse_time(text: str) -> datetime:
    """Unix seconds, unix milliseconds or ISO 8601 (naive = UTC)."""
    raw = text.strip()
    try:
        if raw.isdigit():
            number = int(raw)
            seconds = number / 1000 if len(raw) >= 13 else number
            return datetime.fromtimestamp(seconds, UTC)
        moment = datetime.fromisoformat(raw.replace(" ", "T", 1))
    except (ValueError, OverflowError, OSError) as exc:
        raise Invalid("invalid_ts", f"ts is not a unix time or ISO 8601: {text!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _occurred_at(fields: Mapping[str, str], now: datetime) -> datetime:
    text = _text(fields, "ts")
    if text is None:
        return now
    moment = parse_time(text)
    if moment > now + FUTURE_SKEW:
        raise Invalid("future_ts", f"ts {moment.isoformat()} is in the future")
    if moment < OLDEST_EVENT:
        raise Invalid("ts_out_of_range", f"ts {moment.isoformat()} is before 2000")
    return moment


_KINDS: dict[str, EventKind] = {kind.value: kind for kind in EventKind}


def _kind(fields: Mapping[str, str], status_map: Mapping[str, str] | None) -> tuple[EventKind, str]:
    word = _text(fields, "event", required=True)
    assert word is not None
    kind = _KINDS.get(map_status(word, status_map))  # = EventKind(…), without the enum's call
    if kind is None:
        raise Invalid("unknown_event", f"unknown event {word!r}")
    return kind, word


def _currency(fields: Mapping[str, str], needed: bool) -> str | None:
    text = _text(fields, "currency")
    if text is None:
        if needed:
            raise Invalid("missing_currency", "currency is required with an amount")
        return None
    code = text.upper()
    if code not in MINOR_UNITS:
        raise Invalid("unknown_currency", f"unknown currency {text!r}")
    return code


_QUANTA = {exponent: Decimal(1).scaleb(-exponent) for exponent in set(MINOR_UNITS.values())}
# MAX_AMOUNT_MINOR in major units per exponent: ``value > bound`` is ``value.scaleb(e) > max``
_MAX_AMOUNT = {exponent: Decimal(MAX_AMOUNT_MINOR).scaleb(-exponent) for exponent in _QUANTA}


def _money(fields: Mapping[str, str], name: str, currency: str | None) -> Decimal | None:
    text = _text(fields, name)
    if text is None:
        return None
    try:
        value = parse_amount(text)
    except MoneyError as exc:
        raise Invalid(f"invalid_{name}", str(exc)) from exc
    if value < 0:
        raise Invalid("negative_amount", f"{name} must not be negative")
    exponent = MINOR_UNITS[currency] if currency else 2
    try:
        exact = value == value.quantize(_QUANTA[exponent])
    except InvalidOperation:  # more digits than Decimal's precision: far beyond any amount
        exact = True
    if not exact:
        raise Invalid("amount_precision",
                      f"{name} has more than {exponent} decimals for {currency}")
    if value > _MAX_AMOUNT[exponent]:
        raise Invalid("amount_too_large", f"{name} is beyond any real amount")
    return value


def _lots(fields: Mapping[str, str]) -> Decimal | None:
    text = _text(fields, "lots")
    if text is None:
        return None
    try:
        value = parse_amount(text)
    except MoneyError as exc:
        raise Invalid("invalid_lots", f"lots is not a number: {text!r}") from exc
    if value < 0 or value > MAX_LOTS:
        raise Invalid("invalid_lots", f"lots must be between 0 and {MAX_LOTS}")
    if (value * LOTS_SCALE) != (value * LOTS_SCALE).to_integral_value():
        raise Invalid("invalid_lots", "lots has more than 3 decimals")
    return value


def _country(fields: Mapping[str, str]) -> str | None:
    text = _text(fields, "country")
    if text is None:
        return None
    if len(text) != 2 or not text.isascii() or not text.isalpha():
        raise Invalid("invalid_country", f"country must be an ISO 3166 alpha-2 code: {text!r}")
    return text.upper()


def _day(fields: Mapping[str, str], occurred_at: datetime) -> date:
    text = _text(fields, "day")
    if text is None:
        return occurred_at.date()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise Invalid("invalid_day", f"day must be YYYY-MM-DD: {text!r}") from exc


def _check_kind_rules(kind: EventKind, amount: Decimal | None,
                      activity: tuple[Decimal | None, ...], lots: Decimal | None,
                      instrument: str | None) -> None:
    if kind in AMOUNT_REQUIRED:
        if amount is None:
            raise Invalid("missing_amount", f"a {kind.value} needs an amount")
        if amount == 0:
            raise Invalid("invalid_amount", f"a {kind.value} needs an amount above zero")
    if kind is EventKind.TRADE and (lots is None or instrument is None):
        raise Invalid("missing_lots" if lots is None else "missing_instrument",
                      "a trade needs lots and instrument")
    if kind is EventKind.ACTIVITY and activity.count(None) == len(activity):
        raise Invalid("missing_activity", "an activity row needs bets, wins, bonus or chargebacks")


HASHED = ("kind", "txn_id", "user_id", "currency", "ts", "click_id", "promo", "country",
          "lots", "instrument", "account_type", "day", "reverses", "source", *MONEY_FIELDS)
# "name={}" for every hashed field, in name order, joined by the unit separator
_HASH_TEXT = "\x1f".join(f"{name}={{}}" for name in sorted(HASHED))
_HASH_ORDER = tuple(HASHED.index(name) for name in sorted(HASHED))


def payload_hash(values: Mapping[str, object]) -> str:
    """SHA-256 of the event's content in a fixed order: equal for a faithful retry.

    The text is ``name=value`` for every field of ``HASHED`` in name order, joined
    by ``\\x1f``, an absent value empty.  (Stored hashes depend on it: never change it.)
    """
    return _hash(tuple(values[name] for name in HASHED))


def _hash(values: tuple[object, ...]) -> str:
    """``payload_hash`` of the values of ``HASHED``, in that order."""
    text = _HASH_TEXT.format(*["" if values[i] is None else values[i] for i in _HASH_ORDER])
    return hashlib.sha256(text.encode()).hexdigest()


def _given(fields: Mapping[str, str], name: str) -> bool:
    value = fields.get(name)
    return value is not None and bool(value.strip())


_MONEY_SET = frozenset(MONEY_FIELDS)
_SHA256 = hashlib.sha256()
_NO_MONEY: tuple[Decimal | str, ...] = ("",) * len(MONEY_FIELDS)
_RULED = AMOUNT_REQUIRED | {EventKind.TRADE, EventKind.ACTIVITY}  # _check_kind_rules' kinds


def _has_money(fields: Mapping[str, str]) -> bool:
    """True when any money field is given (not absent, not blank)."""
    if _MONEY_SET.isdisjoint(fields):
        return False
    for name in MONEY_FIELDS:
        value = fields.get(name)
        if value is not None and value.strip():
            return True
    return False


def validate(
    fields: Mapping[str, str],
    *,
    now: datetime,
    status_map: Mapping[str, str] | None = None,
    source: Source = Source.S2S,
) -> ValidEvent:
    """A ``PlayerEvent`` from renamed operator fields, or ``Invalid`` with a reason code.

    Fields are checked in a fixed order (the first problem is the one reported).
    """
    kind, word = _kind(fields, status_map)
    txn_id = _text(fields, "txn_id", required=True)
    user_id = _text(fields, "user_id", required=True)
    assert txn_id is not None and user_id is not None
    ts_given = _given(fields, "ts")
    occurred_at = _occurred_at(fields, now) if ts_given else now
    has_money = _has_money(fields)
    currency = _currency(fields, needed=has_money) if has_money or "currency" in fields else None
    amount = spread = bets = wins = bonus = chargebacks = None
    hashed_money = _NO_MONEY  # amount, bets, bonus, chargebacks, spread, wins as hashed
    if has_money:  # else every money field is absent or blank; checked in MONEY_FIELDS order
        amount = _money(fields, "amount", currency) if "amount" in fields else None
        spread = _money(fields, "spread", currency) if "spread" in fields else None
        bets = _money(fields, "bets", currency) if "bets" in fields else None
        wins = _money(fields, "wins", currency) if "wins" in fields else None
        bonus = _money(fields, "bonus", currency) if "bonus" in fields else None
        chargebacks = _money(fields, "chargebacks", currency) if "chargebacks" in fields else None
        hashed_money = (  # normalized, or empty when absent
            "" if amount is None else amount.normalize(), "" if bets is None else bets.normalize(),
            "" if bonus is None else bonus.normalize(),
            "" if chargebacks is None else chargebacks.normalize(),
            "" if spread is None else spread.normalize(), "" if wins is None else wins.normalize())
    # (an absent optional field is None: ``in`` spares the call)
    lots = _lots(fields) if "lots" in fields else None
    instrument = _text(fields, "instrument") if "instrument" in fields else None
    if kind in _RULED:
        _check_kind_rules(kind, amount, (bets, wins, bonus, chargebacks), lots, instrument)
    promo = _text(fields, "promo") if "promo" in fields else None
    promo_code = promo.upper() if promo else None
    click_id = _text(fields, "click_id") if "click_id" in fields else None
    country = _country(fields) if "country" in fields else None
    account_type = _text(fields, "account_type") if "account_type" in fields else None
    activity_day = _day(fields, occurred_at) if kind is EventKind.ACTIVITY else None
    reverses = _text(fields, "reverses_txn_id") if "reverses_txn_id" in fields else None
    event = PlayerEvent(
        kind=kind, txn_id=txn_id, operator_player_id=user_id, occurred_at=occurred_at,
        source=source, amount=amount, currency=currency, click_id=click_id,
        promo_code=promo_code, country=country, lots=lots, instrument=instrument,
        account_type=account_type, spread=spread, bets=bets, wins=wins, bonus=bonus,
        chargebacks=chargebacks, activity_day=activity_day, status_raw=word[:64],
        reverses_txn_id=reverses,
    )
    # = _hash(…): _HASH_TEXT written out as an f-string (no format string to parse), the
    # values in name order; a StrEnum formats as its value
    # (a day derived from the receipt time is not content: a retry after midnight matches)
    day = activity_day if activity_day is not None and _given(fields, "day") else ""
    hashed_lots = "" if lots is None else lots.normalize()
    h_amount, h_bets, h_bonus, h_chargebacks, h_spread, h_wins = hashed_money
    text = (
        f"account_type={account_type or ''}\x1famount={h_amount}\x1fbets={h_bets}"
        f"\x1fbonus={h_bonus}\x1fchargebacks={h_chargebacks}\x1fclick_id={click_id or ''}"
        f"\x1fcountry={country or ''}\x1fcurrency={currency or ''}\x1fday={day}"
        f"\x1finstrument={instrument or ''}\x1fkind={kind}\x1flots={hashed_lots}"
        f"\x1fpromo={promo_code or ''}\x1freverses={reverses or ''}\x1fsource={source}"
        f"\x1fspread={h_spread}\x1fts={occurred_at.isoformat() if ts_given else ''}"
        f"\x1ftxn_id={txn_id}\x1fuser_id={user_id}\x1fwins={h_wins}"
    )
    digest = _SHA256.copy()  # a copy skips looking the algorithm up by name (``sha256()``)
    digest.update(text.encode())
    return ValidEvent(event, digest.hexdigest())
