"""Payouts: from ledger balances to the items of a payout run.

The balance of an affiliate in one currency is the sum of its *approved*
ledger entries: commission, reversals and adjustments (not held, not
pending) minus payouts.  A payout run turns each balance into one item:

- ``pay``: the balance, converted to the affiliate's payout currency at the
  run's recorded rate (quantized once, half-up), is at least the affiliate's
  threshold; configured fee and withholding lines come off it;
- ``rolled_over``: a positive balance under the threshold (or eaten by fees)
  stays in the ledger and is paid by a later run;
- ``carried``: a negative balance (a chargeback after a payout) is carried,
  never paid and never collected here: later commission pays it down;
- ``blocked``: no confirmed payment details; the balance stays.

Only ``pay`` items become ledger entries (kind ``payout``, negative amount
in the balance currency), so balance = approved commission − payouts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from clickledger.domain.money import from_minor, normalize_currency, to_minor

PERCENT = Decimal(100)
MAX_RATE = Decimal(10) ** 9
MAX_PERCENT = Decimal(100)


class PayoutError(ValueError):
    """Inputs a payout run cannot be built from, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Outcome(StrEnum):
    PAY = "pay"
    ROLLED_OVER = "rolled_over"
    CARRIED = "carried"
    BLOCKED = "blocked"


class DeductionKind(StrEnum):
    FEE = "fee"
    WITHHOLDING = "withholding"


@dataclass(frozen=True, slots=True)
class EntryAmount:
    """The part of a ledger entry a balance needs."""

    affiliate_id: str
    currency: str
    amount_minor: int
    kind: str
    status: str


@dataclass(frozen=True, slots=True)
class Payee:
    """What a run needs to know about an affiliate (threshold in ``payout_currency``)."""

    affiliate_id: str
    payout_currency: str
    threshold_minor: int
    method: str | None
    has_confirmed_details: bool


@dataclass(frozen=True, slots=True)
class DeductionRule:
    """A configured fee or withholding line: ``percent`` of the gross plus ``fixed_minor``.

    A rule with a ``currency`` applies only to payouts in that currency (a fixed
    amount needs one); ``method`` and ``affiliate_id`` narrow it further.
    """

    name: str
    kind: DeductionKind
    percent: Decimal = Decimal(0)
    fixed_minor: int = 0
    currency: str | None = None
    method: str | None = None
    affiliate_id: str | None = None

    def __post_init__(self) -> None:
        if not self.percent.is_finite() or not Decimal(0) <= self.percent <= MAX_PERCENT:
            raise PayoutError("invalid_deduction", "percent must be between 0 and 100")
        if self.fixed_minor < 0:
            raise PayoutError("invalid_deduction", "fixed amount must not be negative")
        if self.fixed_minor and self.currency is None:
            raise PayoutError("invalid_deduction", "a fixed amount needs a currency")

    def applies_to(self, payee: Payee) -> bool:
        return (
            (self.currency is None or self.currency == payee.payout_currency)
            and (self.method is None or self.method == payee.method)
            and (self.affiliate_id is None or self.affiliate_id == payee.affiliate_id)
        )

    def amount_minor(self, gross_minor: int, currency: str) -> int:
        """This line on ``gross_minor``: the percentage, quantized once half-up, plus the fixed."""
        share = from_minor(gross_minor, currency) * self.percent / PERCENT
        return to_minor(share, currency) + self.fixed_minor


@dataclass(frozen=True, slots=True)
class DeductionLine:
    name: str
    kind: DeductionKind
    amount_minor: int


@dataclass(frozen=True, slots=True)
class PlannedItem:
    """One affiliate and balance currency in a run, with what will happen to it."""

    affiliate_id: str
    currency: str
    balance_minor: int
    outcome: Outcome
    payout_currency: str
    fx_rate: Decimal | None = None
    gross_minor: int = 0  # converted balance, in payout_currency
    lines: tuple[DeductionLine, ...] = field(default_factory=tuple)

    @property
    def fees_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines if line.kind is DeductionKind.FEE)

    @property
    def withholding_minor(self) -> int:
        return sum(
            line.amount_minor for line in self.lines if line.kind is DeductionKind.WITHHOLDING
        )

    @property
    def net_minor(self) -> int:
        """What reaches the affiliate, in ``payout_currency``."""
        return self.gross_minor - self.fees_minor - self.withholding_minor


def balances(entries: Iterable[EntryAmount]) -> dict[tuple[str, str], int]:
    """Approved balance per (affiliate, currency): held and pending entries do not count."""
    totals: dict[tuple[str, str], int] = {}
    for entry in entries:
        if entry.status != "approved":
            continue
        key = (entry.affiliate_id, entry.currency)
        totals[key] = totals.get(key, 0) + entry.amount_minor
    return totals


def check_rate(rate: Decimal) -> Decimal:
    """A usable exchange rate: finite, positive and bounded."""
    if not rate.is_finite() or rate <= 0 or rate > MAX_RATE:
        raise PayoutError("invalid_fx_rate", f"exchange rate {rate} must be positive")
    return rate


def convert_minor(amount_minor: int, currency: str, rate: Decimal, to_currency: str) -> int:
    """``amount_minor`` of ``currency`` in ``to_currency`` at ``rate``, quantized once, half-up."""
    exact = from_minor(amount_minor, currency) * check_rate(rate)
    return to_minor(exact, to_currency)


def rate_pairs_needed(
    totals: Mapping[tuple[str, str], int], payees: Mapping[str, Payee]
) -> set[tuple[str, str]]:
    """(balance currency, payout currency) pairs a run must have a rate for."""
    pairs: set[tuple[str, str]] = set()
    for (affiliate_id, currency), amount_minor in totals.items():
        payee = payees.get(affiliate_id)
        if payee is not None and amount_minor > 0 and payee.payout_currency != currency:
            pairs.add((currency, payee.payout_currency))
    return pairs


def _deduction_lines(
    payee: Payee, gross_minor: int, rules: Sequence[DeductionRule]
) -> tuple[DeductionLine, ...]:
    return tuple(
        DeductionLine(rule.name, rule.kind, rule.amount_minor(gross_minor, payee.payout_currency))
        for rule in rules
        if rule.applies_to(payee)
    )


def plan_item(
    payee: Payee,
    currency: str,
    balance_minor: int,
    rate: Decimal | None,
    rules: Sequence[DeductionRule] = (),
) -> PlannedItem:
    """What a run does with one balance of one affiliate."""
    currency = normalize_currency(currency)
    base = PlannedItem(payee.affiliate_id, currency, balance_minor, Outcome.CARRIED,
                       payee.payout_currency)
    if balance_minor < 0:
        return base
    if not payee.has_confirmed_details or payee.method is None:
        return _with(base, Outcome.BLOCKED)
    if payee.payout_currency == currency:
        gross_minor, used_rate = balance_minor, None
    else:
        if rate is None:
            raise PayoutError("missing_fx_rate", f"no {currency}/{payee.payout_currency} rate")
        gross_minor = convert_minor(balance_minor, currency, rate, payee.payout_currency)
        used_rate = rate
    lines = _deduction_lines(payee, gross_minor, rules)
    item = PlannedItem(payee.affiliate_id, currency, balance_minor, Outcome.PAY,
                       payee.payout_currency, used_rate, gross_minor, lines)
    if gross_minor <= 0 or gross_minor < payee.threshold_minor or item.net_minor <= 0:
        return _with(item, Outcome.ROLLED_OVER)
    return item


def _with(item: PlannedItem, outcome: Outcome) -> PlannedItem:
    return PlannedItem(item.affiliate_id, item.currency, item.balance_minor, outcome,
                       item.payout_currency, item.fx_rate, item.gross_minor, item.lines)


def plan_run(
    totals: Mapping[tuple[str, str], int],
    payees: Mapping[str, Payee],
    rates: Mapping[tuple[str, str], Decimal],
    rules: Sequence[DeductionRule] = (),
) -> list[PlannedItem]:
    """Every non-zero balance of a known payee, planned, in a stable order."""
    missing = rate_pairs_needed(totals, payees) - set(rates)
    if missing:
        names = ", ".join(sorted(f"{base}/{quote}" for base, quote in missing))
        raise PayoutError("missing_fx_rate", f"record exchange rates first: {names}")
    items = []
    for (affiliate_id, currency), amount_minor in sorted(totals.items()):
        payee = payees.get(affiliate_id)
        if payee is None or amount_minor == 0:
            continue
        rate = rates.get((currency, payee.payout_currency))
        items.append(plan_item(payee, currency, amount_minor, rate, rules))
    return items
