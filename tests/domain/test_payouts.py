"""Payout planning: thresholds, rollover, negative carry, FX rounding, fee and withholding lines."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clickledger.domain.payouts import (
    DeductionKind,
    DeductionRule,
    EntryAmount,
    Outcome,
    Payee,
    PayoutError,
    balances,
    convert_minor,
    plan_item,
    plan_run,
)


def payee(currency: str = "EUR", threshold_minor: int = 0, confirmed: bool = True) -> Payee:
    return Payee("aff-1", currency, threshold_minor, "bank" if confirmed else None, confirmed)


def test_balance_counts_approved_lines_only_and_subtracts_payouts() -> None:
    entries = [
        EntryAmount("a", "EUR", 10_000, "commission", "approved"),
        EntryAmount("a", "EUR", 5_000, "commission", "on_hold"),
        EntryAmount("a", "EUR", 2_000, "commission", "pending"),
        EntryAmount("a", "EUR", -1_500, "reversal", "approved"),
        EntryAmount("a", "EUR", -8_000, "payout", "approved"),
        EntryAmount("a", "USD", 300, "commission", "approved"),
    ]
    assert balances(entries) == {("a", "EUR"): 500, ("a", "USD"): 300}


def test_a_balance_under_the_threshold_rolls_over_and_one_at_it_is_paid() -> None:
    under = plan_item(payee(threshold_minor=5_000), "EUR", 4_999, None)
    at = plan_item(payee(threshold_minor=5_000), "EUR", 5_000, None)
    assert under.outcome is Outcome.ROLLED_OVER
    assert at.outcome is Outcome.PAY and at.net_minor == 5_000


def test_a_negative_balance_is_carried_and_never_paid() -> None:
    item = plan_item(payee(), "EUR", -3_000, None)
    assert item.outcome is Outcome.CARRIED
    assert item.net_minor == 0


def test_without_confirmed_details_the_balance_is_blocked_not_paid() -> None:
    assert plan_item(payee(confirmed=False), "EUR", 9_000, None).outcome is Outcome.BLOCKED


def test_fx_to_yen_rounds_half_up_once_to_whole_yen() -> None:
    # 100.00 EUR x 161.235 = 16123.5 JPY -> 16124 (half-up, JPY has no minor unit)
    assert convert_minor(10_000, "EUR", Decimal("161.235"), "JPY") == 16_124
    item = plan_item(payee("JPY"), "EUR", 10_000, Decimal("161.235"))
    assert item.gross_minor == 16_124 and item.fx_rate == Decimal("161.235")


def test_fx_to_dinar_keeps_three_decimals_half_up() -> None:
    # 100.00 EUR x 0.333355 = 33.3355 KWD -> 33.336 (3 decimals, half-up) = 33336 fils
    assert convert_minor(10_000, "EUR", Decimal("0.333355"), "KWD") == 33_336
    # 0.01 EUR x 0.33 = 0.0033 KWD -> 0.003
    assert convert_minor(1, "EUR", Decimal("0.33"), "KWD") == 3


def test_the_threshold_is_judged_in_the_payout_currency_after_conversion() -> None:
    # 90.00 EUR at 1.2 = 108.00 USD >= 100.00 USD threshold
    item = plan_item(payee("USD", threshold_minor=10_000), "EUR", 9_000, Decimal("1.2"))
    assert item.outcome is Outcome.PAY and item.gross_minor == 10_800


def test_fee_and_withholding_lines_come_off_the_gross() -> None:
    rules = [
        DeductionRule("bank fee", DeductionKind.FEE, Decimal("1.5"), 50, "EUR", "bank"),
        DeductionRule("wallet fee", DeductionKind.FEE, Decimal("3"), method="ewallet"),
        DeductionRule("tax", DeductionKind.WITHHOLDING, Decimal("10"), affiliate_id="aff-1"),
        DeductionRule("other's tax", DeductionKind.WITHHOLDING, Decimal("20"),
                      affiliate_id="aff-2"),
    ]
    item = plan_item(payee(), "EUR", 12_345, None, rules)
    # 1.5% of 123.45 = 1.85175 -> 1.85, + 0.50 = 2.35; 10% = 12.345 -> 12.35 (half-up)
    assert [(line.name, line.amount_minor) for line in item.lines] == [
        ("bank fee", 235), ("tax", 1_235)]
    assert (item.fees_minor, item.withholding_minor, item.net_minor) == (235, 1_235, 10_875)


def test_fees_that_eat_the_whole_payment_roll_it_over() -> None:
    rules = [DeductionRule("flat fee", DeductionKind.FEE, fixed_minor=500, currency="EUR")]
    assert plan_item(payee(), "EUR", 400, None, rules).outcome is Outcome.ROLLED_OVER


def test_a_run_without_a_needed_rate_refuses_with_the_missing_pairs() -> None:
    totals = {("aff-1", "EUR"): 10_000}
    with pytest.raises(PayoutError) as caught:
        plan_run(totals, {"aff-1": payee("USD")}, {})
    assert caught.value.code == "missing_fx_rate" and "EUR/USD" in str(caught.value)


def test_bad_rates_and_rules_are_refused() -> None:
    with pytest.raises(PayoutError):
        convert_minor(100, "EUR", Decimal(0), "USD")
    with pytest.raises(PayoutError):
        DeductionRule("x", DeductionKind.FEE, Decimal(101))
    with pytest.raises(PayoutError):
        DeductionRule("x", DeductionKind.FEE, fixed_minor=100)
