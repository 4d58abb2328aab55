"""Hand-worked cases per deal type: each row states the figures an affiliate would check."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from clickledger.domain.deals.cpa import CpaTerms, cpa_for_rank
from clickledger.domain.deals.cpl import CplTerms, cpl_for_lead
from clickledger.domain.deals.ib_rebate import IbTerms, Trade, rebate_for
from clickledger.domain.deals.registry import parse_terms
from clickledger.domain.deals.revshare import (
    NgrFormula,
    NgrParts,
    RevShareTerms,
    Segment,
    close_period,
    ngr_of,
)
from clickledger.domain.deals.sub_affiliate import Ancestor, SubAffiliateTerms, shares_of
from clickledger.domain.fx import FxError, FxRate, FxTable
from clickledger.domain.instruments import canonical_symbol, group_of
from clickledger.domain.ledger import EntryDraft, EntryKind
from clickledger.domain.money import to_minor
from clickledger.domain.periods import PeriodLength, booking_period, period_of
from clickledger.domain.qualification import PlayerFacts, QualificationRule, Step, evaluate
from clickledger.domain.terms import TermsError

REG = datetime(2026, 1, 1, 10, tzinfo=UTC)


def _facts(*steps: Step, registered: datetime | None = REG, country: str = "DE") -> PlayerFacts:
    return PlayerFacts("p1", registered, country, steps)


def _ftd(amount: str, days: float = 1, lots: str = "0") -> Step:
    return Step("e-ftd", REG + timedelta(days=days), "ftd", D(amount), D(lots))


def _trade(lots: str, days: float) -> Step:
    return Step(f"e-trade-{days}", REG + timedelta(days=days), "trade", lots=D(lots))


RULE = QualificationRule.parse({"min_ftd": "100", "min_lots": "0.5", "window_days": 30,
                                "countries": ["DE", "AT"]})


@pytest.mark.parametrize(("steps", "country", "qualified", "reason"), [
    # exactly at both thresholds qualifies
    ((_ftd("100.00"), _trade("0.5", 2)), "DE", True,
     "FTD 100.00 ≥ 100.00 and 0.5 lots ≥ 0.5 within 30 days (country allowed)"),
    ((_ftd("150.00"), _trade("0.6", 3)), "AT", True,
     "FTD 150.00 ≥ 100.00 and 0.6 lots ≥ 0.5 within 30 days (country allowed)"),
    # one cent under the first deposit threshold: never qualifies
    ((_ftd("99.99"), _trade("5", 2)), "DE", False, "FTD 99.99 < 100"),
    # lots reached on day 31: outside the 30-day window
    ((_ftd("150.00"), _trade("0.6", 31)), "DE", False, "criteria not met yet"),
    # lots split over two trades: 0.2 + 0.3 = 0.5
    ((_ftd("150.00"), _trade("0.2", 2), _trade("0.3", 4)), "DE", True,
     "FTD 150.00 ≥ 100.00 and 0.5 lots ≥ 0.5 within 30 days (country allowed)"),
    ((_ftd("150.00"), _trade("0.6", 2)), "FR", False, "country FR not allowed"),
])
def test_cpa_qualification_table(steps: tuple[Step, ...], country: str, qualified: bool,
                                 reason: str) -> None:
    result = evaluate(RULE, _facts(*steps, country=country), "EUR")
    assert (result.qualified, result.reason) == (qualified, reason)


def test_an_ftd_before_its_registration_starts_the_window_at_the_ftd() -> None:
    early_ftd = Step("e1", REG - timedelta(hours=2), "ftd", D("120"))
    trade = Step("e2", REG + timedelta(days=29, hours=21), "trade", lots=D("1"))
    result = evaluate(RULE, _facts(early_ftd, trade), "EUR")
    assert result.qualified is True  # 29 d 23 h after the FTD, inside 30 days
    late = Step("e3", REG + timedelta(days=29, hours=23), "trade", lots=D("1"))
    assert evaluate(RULE, _facts(early_ftd, late), "EUR").qualified is False  # 30 d 1 h


def test_qualification_moment_is_the_step_that_completes_the_criteria() -> None:
    result = evaluate(RULE, _facts(_ftd("150"), _trade("0.3", 2), _trade("0.3", 5)), "EUR")
    assert result.at == REG + timedelta(days=5)
    assert result.source_event_ids == ("e-ftd", "e-trade-2", "e-trade-5")


TWO_DEPOSITS = QualificationRule.parse({"min_ftd": "20", "min_deposits_count": 2,
                                        "min_deposits_sum": "60"})


def _deposit(event_id: str, kind: str, amount: str, days: float,
             charged_back: bool = False) -> Step:
    return Step(event_id, REG + timedelta(days=days), kind, D(amount), charged_back=charged_back)


def test_the_first_deposit_is_the_ftd_whatever_the_operator_calls_it() -> None:
    # the operator labels the second deposit "ftd": the FTD is still the first, 5.00 < 20
    result = evaluate(TWO_DEPOSITS, _facts(_deposit("d1", "deposit", "5.00", 1),
                                           _deposit("f2", "ftd", "50.00", 2),
                                           _deposit("d3", "deposit", "50.00", 3)), "EUR")
    assert (result.qualified, result.final, result.reason) == (False, True, "FTD 5 < 20")


def test_a_charged_back_deposit_counts_for_nothing() -> None:
    # FTD 30 + (40 charged back) + 30 = two deposits of 60.00: qualifies on the third
    result = evaluate(TWO_DEPOSITS, _facts(_deposit("f1", "ftd", "30.00", 1),
                                           _deposit("d2", "deposit", "40.00", 2, True),
                                           _deposit("d3", "deposit", "30.00", 3)), "EUR")
    assert (result.qualified, result.at) == (True, REG + timedelta(days=3))
    assert result.source_event_ids == ("f1", "d3")
    assert result.reason == "FTD 30.00 ≥ 20.00 and 2 deposits ≥ 2 and deposits 60.00 ≥ 60.00"


def test_a_charged_back_ftd_is_final_and_no_later_deposit_replaces_it() -> None:
    result = evaluate(TWO_DEPOSITS, _facts(_deposit("f1", "ftd", "50.00", 1, True),
                                           _deposit("f2", "ftd", "20.73", 2),
                                           _deposit("d3", "deposit", "50.00", 3)), "EUR")
    assert (result.qualified, result.final, result.reason) == (
        False, True, "FTD 50 charged back")


TIERED = CpaTerms.parse({"amount": "200", "tiers": [{"min_players": 3, "amount": "250"}],
                         "cap_per_period": 4})


@pytest.mark.parametrize(("rank", "paid", "amount"), [
    (1, True, D("200")), (2, True, D("200")), (3, True, D("250")), (4, True, D("250")),
    (5, False, D("0")),  # cap of 4 reached
])
def test_tiered_cpa_by_rank_in_the_period_with_a_cap(rank: int, paid: bool, amount: D) -> None:
    outcome = cpa_for_rank(TIERED, rank, "EUR", "FTD 150.00 ≥ 100.00")
    assert (outcome.paid, outcome.amount) == (paid, amount)


def test_cpa_explanation_reads_like_the_issue_example() -> None:
    terms = CpaTerms.parse({"amount": "200", "qualification": {"min_ftd": "100",
                                                               "min_lots": "0.5",
                                                               "window_days": 30}})
    result = evaluate(terms.qualification, _facts(_ftd("150.00"), _trade("0.6", 3)), "EUR")
    outcome = cpa_for_rank(terms, 1, "EUR", result.reason)
    assert outcome.text == "CPA 200.00 EUR: FTD 150.00 ≥ 100.00 and 0.6 lots ≥ 0.5 within 30 days"


@pytest.mark.parametrize(("country", "rank", "paid"), [("DE", 1, True), ("US", 1, False),
                                                       ("DE", 3, False)])
def test_cpl_pays_allowed_leads_until_the_cap(country: str, rank: int, paid: bool) -> None:
    terms = CplTerms.parse({"amount": "4.50", "countries": ["DE"], "cap_per_period": 2})
    assert cpl_for_lead(terms, country, rank, "EUR").paid is paid


FORMULA = NgrFormula(deduct_bonuses=True, deduct_chargebacks=True, admin_fee_pct=D("10"))


def test_ngr_per_brand_formula_hand_worked() -> None:
    # GGR = 1000 − 400 = 600; NGR = 600 − 100 bonus − 50 chargebacks − 10% × 600 = 390
    ngr = ngr_of(NgrParts(D("1000"), D("400"), D("100"), D("50")), FORMULA)
    assert ngr.value == D("390")
    no_bonus = ngr_of(NgrParts(D("1000"), D("400"), D("100"), D("50")),
                      NgrFormula(deduct_bonuses=False, deduct_chargebacks=True))
    assert no_bonus.value == D("550")


def _segment(ngr: str, terms: RevShareTerms) -> Segment:
    return Segment("v1", terms, ngr_of(NgrParts(D(ngr), D(0)), NgrFormula()), 1, "deal v1")


@pytest.mark.parametrize(("mode", "months", "expected_amounts", "expected_carry"), [
    # carry_forward: Jan −400 pays 0 and carries; Feb +1000 − 400 = 600 × 25% = 150
    ("carry_forward", ["-400", "1000"], [[], ["250", "-100"]], ["-400", "0"]),
    # carry_forward that does not recover: −400 then +300 → still −100 carried
    ("carry_forward", ["-400", "300"], [[], []], ["-400", "-100"]),
    # reset: Jan −400 pays 0, forgotten; Feb 1000 × 25% = 250
    ("reset", ["-400", "1000"], [[], ["250"]], ["0", "0"]),
    # none: Jan posts −100 (25% of −400); Feb 250
    ("none", ["-400", "1000"], [["-100"], ["250"]], ["0", "0"]),
])
def test_negative_ngr_months_under_each_carryover_mode(
    mode: str, months: list[str], expected_amounts: list[list[str]],
    expected_carry: list[str],
) -> None:
    terms = RevShareTerms.parse({"pct": "25", "carryover": mode})
    carry = D(0)
    for ngr, amounts, carry_out in zip(months, expected_amounts, expected_carry, strict=True):
        result = close_period([_segment(ngr, terms)], carry, 0, "EUR", "2026-01")
        assert [line.amount for line in result.lines] == [D(a) for a in amounts]
        assert result.carry_out == D(carry_out)
        carry = result.carry_out


def test_revshare_tiers_by_ngr_and_by_players() -> None:
    by_ngr = RevShareTerms.parse({"pct": "25", "tiers": [{"min_ngr": "10000", "pct": "35"}]})
    below = close_period([_segment("9999.99", by_ngr)], D(0), 0, "EUR", "2026-01")
    at_tier = close_period([_segment("10000", by_ngr)], D(0), 0, "EUR", "2026-01")
    assert below.lines[0].amount == D("2499.9975")  # posts 2500.00 after half-up
    assert at_tier.lines[0].amount == D("3500")
    by_players = RevShareTerms.parse({"pct": "25", "tier_basis": "qualified_players",
                                      "tiers": [{"min_players": 10, "pct": "30"}]})
    assert close_period([_segment("100", by_players)], D(0), 10, "EUR", "x").lines[0].amount \
        == D("30")


def test_sub_cent_remainders_are_rounded_once_half_up_at_posting() -> None:
    ib = IbTerms.parse({"rates_per_lot": {"fx_major": "7.00"}})
    rebate = rebate_for(ib, Trade("EURUSD.pro", D("0.335"), None, D(0)), "USD")
    assert rebate.amount == D("2.34500")
    assert to_minor(rebate.amount, "USD") == 235  # 2.345 → 2.35 half-up
    assert to_minor(D("-2.345"), "USD") == -235  # reversals mirror exactly
    assert to_minor(D("1234.5"), "JPY") == 1235 and to_minor(D("1.0005"), "KWD") == 1001


@pytest.mark.parametrize(("symbol", "account", "expected", "group"), [
    ("EURUSD.pro", None, D("8.00"), "fx_major"),  # 1 lot × 8
    ("XAUUSD.m", None, D("15.00"), "metals"),  # 1 lot × 15
    ("GOLD", None, D("15.00"), "metals"),  # deal alias GOLD → XAUUSD
    ("EURUSD", "pro", D("5.00"), "fx_major"),  # pro accounts: 5 per lot
    ("BTCUSD", None, D("3.00"), "crypto"),  # default rate
    ("US30", None, D("10.00"), "indices"),  # deal maps US30 to indices at 10
])
def test_ib_rebate_per_group_alias_and_account_type(symbol: str, account: str | None,
                                                    expected: D, group: str) -> None:
    terms = IbTerms.parse({
        "rates_per_lot": {"fx_major": "8", "metals": "15", "indices": "10", "default": "3"},
        "account_type_rates": {"pro": {"fx_major": "5"}},
        "aliases": {"GOLD": "XAUUSD"},
    })
    rebate = rebate_for(terms, Trade(symbol, D("1"), account, D(0)), "USD")
    assert (rebate.amount, rebate.group) == (expected, group)


def test_ib_spread_share_adds_a_percentage_of_the_broker_spread() -> None:
    terms = IbTerms.parse({"rates_per_lot": {"fx_major": "8"}, "spread_share_pct": "20"})
    rebate = rebate_for(terms, Trade("EURUSD", D("0.6"), None, D("12.50")), "USD")
    # 0.6 × 8 = 4.80, + 20% × 12.50 = 2.50 → 7.30
    assert rebate.amount == D("7.30")
    assert rebate.text.startswith("IB rebate 7.30 USD: 0.6 lots EURUSD (fx_major) × 8.00 USD/lot")


def test_symbol_suffixes_map_to_one_instrument() -> None:
    assert {canonical_symbol(s) for s in ("XAUUSD.m", "XAUUSD", "xauusd-ecn", "XAUUSD#")} \
        == {"XAUUSD"}
    assert group_of("GBPJPY") == "fx_minor"


def test_three_level_sub_affiliate_tree_shares_by_level() -> None:
    terms = SubAffiliateTerms.parse({"levels_pct": ["10", "5", "2.5"]})
    line = EntryDraft("cpa:p", EntryKind.COMMISSION, "leaf", D("200"), "EUR", "cpa", REG, "CPA")
    ancestors = [Ancestor("parent", 1, terms, "v"), Ancestor("grand", 2, terms, "v"),
                 Ancestor("great", 3, terms, "v"), Ancestor("too-far", 4, terms, "v")]
    shares = shares_of(line, D("200.00"), "Leaf", ancestors)
    assert [(s.affiliate_id, s.amount) for s in shares] == [
        ("parent", D("20.0000")), ("grand", D("10.0000")), ("great", D("5.00000"))]
    assert shares[1].explanation == "Sub-affiliate L2 10.00 EUR: 5% of Leaf's cpa line 200.00 EUR"


def test_fx_uses_the_latest_rate_on_or_before_the_day_tie_broken_by_source() -> None:
    table = FxTable([
        FxRate(date(2026, 1, 2), "USD", "EUR", D("0.90"), "ecb"),
        FxRate(date(2026, 1, 2), "USD", "EUR", D("0.91"), "xe"),
        FxRate(date(2026, 1, 5), "USD", "EUR", D("0.92"), "ecb"),
    ])
    assert table.rate("USD", "EUR", date(2026, 1, 4))[0] == D("0.90")  # ecb before xe
    assert table.rate("USD", "EUR", date(2026, 1, 5))[0] == D("0.92")
    assert table.rate("EUR", "USD", date(2026, 1, 5))[0] == D(1) / D("0.92")
    with pytest.raises(FxError):
        table.rate("USD", "EUR", date(2026, 1, 1))


def test_late_entries_of_a_closed_month_land_in_the_next_open_month() -> None:
    jan = period_of(datetime(2026, 1, 20, tzinfo=UTC))
    feb = period_of(datetime(2026, 2, 3, tzinfo=UTC))
    assert booking_period(jan, frozenset()) == (jan, False)
    assert booking_period(jan, frozenset({jan.start})) == (feb, True)
    week = period_of(datetime(2026, 1, 7, tzinfo=UTC), PeriodLength.WEEK)
    assert week.start == datetime(2026, 1, 5, tzinfo=UTC) and week.label == "2026-01-05"


@pytest.mark.parametrize(("kind", "terms"), [
    ("cpa", {}), ("cpa", {"amount": 200.5}), ("revshare", {"pct": "120"}),
    ("revshare", {"pct": "25", "carryover": "sometimes"}), ("ib_rebate", {}),
    ("sub_affiliate", {"levels_pct": []}), ("hybrid", {"cpa": {"amount": "1"}}),
    ("lottery", {}),
])
def test_bad_terms_are_refused_with_a_named_field(kind: str, terms: dict[str, object]) -> None:
    with pytest.raises(TermsError):
        parse_terms(kind, terms)
