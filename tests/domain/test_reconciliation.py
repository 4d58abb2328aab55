"""Matching an operator statement against our records flags every line, with the
difference worked out by hand, and proposes adjustments only for commission figures."""

from __future__ import annotations

import polars as pl
import pytest

from clickledger.domain.reconciliation import Flag, match, summarize

A, B = "aaaaaaaa-0000-7000-8000-000000000001", "bbbbbbbb-0000-7000-8000-000000000002"


def statement(rows: list[tuple[int, str, int, str, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, orient="row", schema={
        "line": pl.Int64, "key": pl.String, "theirs_minor": pl.Int64,
        "theirs_currency": pl.String, "operator_affiliate_id": pl.String,
        "theirs_affiliate_id": pl.String})


def ours(rows: list[tuple[str, int, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, orient="row", schema={
        "key": pl.String, "ours_minor": pl.Int64, "currency": pl.String,
        "affiliate_id": pl.String})


STATEMENT = statement([
    (2, "t1", 10_000, "EUR", "aff-a", A),   # matched exactly
    (3, "t2", 10_004, "EUR", "aff-a", A),   # 4 cents off: inside a 5-cent tolerance
    (4, "t3", 12_500, "EUR", "aff-a", A),   # 25.00 more than ours
    (5, "t4", 5_000, "EUR", "aff-a", A),    # we never got this one
    (6, "t5", 7_000, "USD", "aff-a", A),    # ours is EUR
    (7, "t6", 3_000, "EUR", "aff-b", B),    # we attributed t6 to A
    (8, "t1", 10_000, "EUR", "aff-a", A),   # t1 again
    (9, "t8", 900, "EUR", "someone", None),  # an affiliate we do not know, player organic
])
OURS = ours([
    ("t1", 10_000, "EUR", A), ("t2", 10_000, "EUR", A), ("t3", 10_000, "EUR", A),
    ("t5", 7_000, "EUR", A), ("t6", 3_000, "EUR", A), ("t7", 2_000, "EUR", B),
    ("t8", 900, "EUR", None),
])


def test_every_line_gets_its_flag_and_hand_computed_difference() -> None:
    items = match(STATEMENT, OURS, tolerance_minor=5, proposes_money=True)
    got = [(r["line"], r["key"], r["flag"], r["difference_minor"], r["proposed_adjustment_minor"])
           for r in items.iter_rows(named=True)]
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
    t2 = items.filter(pl.col("key") == "t2").row(0, named=True)
    assert (t2["flag"], t2["difference_minor"]) == (Flag.AMOUNT_MISMATCH, 4)
    assert items["proposed_adjustment_minor"].null_count() == items.height


def test_the_summary_counts_flags_and_sums_per_affiliate() -> None:
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


def test_a_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        match(STATEMENT, OURS, tolerance_minor=-1, proposes_money=True)
