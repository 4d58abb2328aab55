"""Matching an operator statement against our records flags every line, with the
difference worked out by hand, and proposes adjustments only for commission figures."""

from __future__ import annotations

import pytest

from clickledger.domain.reconciliation import Flag, OurRecord, StatementLine, match, summarize

A, B = "aaaaaaaa-0000-7000-8000-000000000001", "bbbbbbbb-0000-7000-8000-000000000002"

STATEMENT = [
    StatementLine(2, "t1", 10_000, "EUR", "aff-a", A),   # matched exactly
    StatementLine(3, "t2", 10_004, "EUR", "aff-a", A),   # 4 cents off: inside 5 cents
    StatementLine(4, "t3", 12_500, "EUR", "aff-a", A),   # 25.00 more than ours
    StatementLine(5, "t4", 5_000, "EUR", "aff-a", A),    # we never got this one
    StatementLine(6, "t5", 7_000, "USD", "aff-a", A),    # ours is EUR
    StatementLine(7, "t6", 3_000, "EUR", "aff-b", B),    # we attributed t6 to A
    StatementLine(8, "t1", 10_000, "EUR", "aff-a", A),   # t1 again
    StatementLine(9, "t8", 900, "EUR", "someone", None),  # unknown affiliate, player organic
]
OURS = [
    OurRecord("t1", 10_000, "EUR", A), OurRecord("t2", 10_000, "EUR", A),
    OurRecord("t3", 10_000, "EUR", A), OurRecord("t5", 7_000, "EUR", A),
    OurRecord("t6", 3_000, "EUR", A), OurRecord("t7", 2_000, "EUR", B),
    OurRecord("t8", 900, "EUR", None),
]


def test_every_line_gets_its_flag_and_hand_computed_difference() -> None:
    items = match(STATEMENT, OURS, tolerance_minor=5, proposes_money=True)
    got = [(i.line, i.key, i.flag, i.difference_minor, i.proposed_adjustment_minor)
           for i in items]
    assert got == [
        (2, "t1", Flag.MATCHED, 0, None),
        (3, "t2", Flag.MATCHED, 4, None),
        (4, "t3", Flag.AMOUNT_MISMATCH, 2_500, 2_500),
        (5, "t4", Flag.MISSING_IN_CLICKLEDGER, None, 5_000),
        (6, "t5", Flag.CURRENCY_MISMATCH, None, None),
        (7, "t6", Flag.DIFFERENT_AFFILIATE, 0, None),
        (8, "t1", Flag.DUPLICATE, None, None),
        (9, "t8", Flag.DIFFERENT_AFFILIATE, 0, None),
        (None, "t7", Flag.MISSING_IN_OPERATOR, None, None),
    ]


def test_without_tolerance_four_cents_is_a_mismatch_and_event_statements_propose_nothing() -> None:
    items = match(STATEMENT, OURS, tolerance_minor=0, proposes_money=False)
    t2 = next(i for i in items if i.key == "t2")
    assert (t2.flag, t2.difference_minor) == (Flag.AMOUNT_MISMATCH, 4)
    assert all(i.proposed_adjustment_minor is None for i in items)


def test_the_summary_counts_flags_and_sums_per_affiliate_in_one_currency() -> None:
    summary = summarize(match(STATEMENT, OURS, tolerance_minor=5, proposes_money=True))
    assert summary["flags"] == {
        "matched": 2, "amount_mismatch": 1, "missing_in_clickledger": 1, "currency_mismatch": 1,
        "different_affiliate": 2, "duplicate": 1, "missing_in_operator": 1}
    a_eur = next(r for r in summary["by_affiliate"] if r["affiliate_id"] == A
                 and r["operator_affiliate_id"] == "aff-a" and r["currency"] == "EUR")
    # theirs in EUR: t1 + t2 + t3 + t4 + duplicate t1 (t5 is in USD, left out)
    assert a_eur["theirs_minor"] == 10_000 + 10_004 + 12_500 + 5_000 + 10_000
    # ours: t1 + t2 + t3 + t5 (ours is EUR)
    assert a_eur["ours_minor"] == 10_000 + 10_000 + 10_000 + 7_000
    assert a_eur["difference_minor"] == 0 + 4 + 2_500
    assert a_eur["proposed_adjustment_minor"] == 2_500 + 5_000
    assert a_eur["lines"] == 6


def test_a_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        match(STATEMENT, OURS, tolerance_minor=-1, proposes_money=True)
