"""Player-side rules at their edges: duplicates, self-referral, bonus abuse, conversion rate,
Forex churning."""

from __future__ import annotations

from clickledger.domain.fraud.bonus_abuse import BonusFacts, bonus_abuse
from clickledger.domain.fraud.conversion_rate import RateFacts, conversion_rate
from clickledger.domain.fraud.duplicates import DuplicateFacts, duplicate_players
from clickledger.domain.fraud.forex import Trade, forex_churning, paired_volume
from clickledger.domain.fraud.self_referral import self_referral


def test_a_family_card_flags_and_a_card_on_three_players_holds() -> None:
    signals = duplicate_players(DuplicateFacts(same_payment=1))
    assert [(s.check, s.points) for s in signals] == [("payment_instrument", 40)]
    assert signals[0].evidence == {"other_players": 1}
    assert duplicate_players(DuplicateFacts(same_payment=2))[0].points == 65


def test_a_shared_tablet_flags_and_a_device_farm_holds() -> None:
    assert duplicate_players(DuplicateFacts(same_device=1))[0].points == 25
    assert duplicate_players(DuplicateFacts(same_device=2))[0].points == 55


def test_a_shared_nat_address_needs_four_other_players_of_the_same_affiliate() -> None:
    assert duplicate_players(DuplicateFacts(same_ip_same_affiliate=3)) == []
    assert duplicate_players(DuplicateFacts(same_ip_same_affiliate=4))[0].points == 30


def test_the_affiliates_own_login_ip_on_its_player_is_self_referral() -> None:
    assert self_referral(["203.0.113.9", None], ["198.51.100.1"]) == []
    signals = self_referral(["203.0.113.9", "198.51.100.1"], ["198.51.100.1", ""])
    assert [(s.check, s.points) for s in signals] == [("login_ip", 70)]
    assert signals[0].evidence["matching_ips"] == "198.51.100.1"


def _bonus(deposited: int = 10_000, wagered: int = 2_000, withdrawn: int = 9_000,
           bonus: int = 0, hours: int = 20) -> BonusFacts:
    return BonusFacts(deposited, wagered, withdrawn, bonus, hours)


def test_a_bonus_taken_and_cashed_out_unplayed_holds_and_without_a_bonus_only_flags() -> None:
    assert bonus_abuse(_bonus(bonus=5_000))[0].points == 70
    assert bonus_abuse(_bonus())[0].points == 35
    assert bonus_abuse(_bonus())[0].evidence["turnover_pct"] == 20


def test_bonus_abuse_edges_turnover_share_withdrawn_and_time() -> None:
    assert bonus_abuse(_bonus(wagered=10_000)) == []  # played the deposit through once
    assert bonus_abuse(_bonus(wagered=9_999)) != []
    assert bonus_abuse(_bonus(withdrawn=7_999)) == []  # lost more than a fifth
    assert bonus_abuse(_bonus(withdrawn=8_000)) != []
    assert bonus_abuse(_bonus(hours=73)) == []
    assert bonus_abuse(_bonus(hours=72)) != []


def _rate(clicks: int, conversions: int, history: tuple[int, int] = (0, 0),
          peers: tuple[int, int] = (100_000, 2_000)) -> RateFacts:
    return RateFacts(clicks, conversions, history[0], history[1], peers[0], peers[1])


def test_a_rate_eight_times_the_peers_holds_and_four_times_flags() -> None:
    # peers convert 2%: 500 clicks expect 10 FTDs
    held = conversion_rate(_rate(500, 80))
    assert [(s.check, s.points) for s in held] == [("above_baseline", 55)]
    assert held[0].evidence["expected_conversions"] == 10
    assert conversion_rate(_rate(500, 40))[0].points == 35
    assert conversion_rate(_rate(500, 39)) == []


def test_the_own_history_wins_over_the_peers_when_there_is_enough_of_it() -> None:
    # a niche affiliate that always converts 10%: not an anomaly for itself
    assert conversion_rate(_rate(500, 50, history=(5_000, 500))) == []
    assert conversion_rate(_rate(500, 50, history=(1_999, 200))) != []  # too little history


def test_small_numbers_never_fire() -> None:
    assert conversion_rate(_rate(49, 40)) == []  # fewer than 50 clicks
    assert conversion_rate(_rate(1_000, 7)) == []
    # 8 conversions where 1 is expected: 8x but the excess is 7 = 7 sigma, so it fires
    assert conversion_rate(_rate(50 * 10, 8, peers=(100_000, 200)))[0].points == 55


def _pairs(count: int, gap: int, lots: int = 1_000, every: int = 300) -> list[Trade]:
    trades = []
    for i in range(count):
        at = i * every
        trades += [Trade(at, "EURUSD", "buy", lots), Trade(at + gap, "EURUSD", "sell", lots)]
    return trades


def test_five_same_size_opposite_pairs_within_five_seconds_are_wash_trades() -> None:
    signals = forex_churning(_pairs(5, gap=5))
    assert [(s.check, s.points) for s in signals] == [("wash_trades", 70)]
    assert signals[0].evidence["pairs"] == 5
    assert forex_churning(_pairs(4, gap=5)) == []
    assert forex_churning(_pairs(5, gap=6)) == []


def test_different_sizes_or_instruments_do_not_pair() -> None:
    trades = [Trade(0, "EURUSD", "buy", 1_000), Trade(1, "EURUSD", "sell", 2_000),
              Trade(2, "GBPUSD", "sell", 1_000)]
    assert paired_volume(trades, 5) == (0, 0)


def test_wash_pairs_must_be_half_the_volume() -> None:
    trades = [*_pairs(5, gap=2), Trade(10000, "XAUUSD", "buy", 10001)]
    assert forex_churning(trades) == []


def test_round_trips_just_over_the_rebate_threshold_flag() -> None:
    trades = _pairs(5, gap=30, lots=1_000)  # 10 lots, every one a 30 s round trip
    signals = forex_churning(trades, threshold_lots_milli=10_000)
    assert [(s.check, s.points) for s in signals] == [("rebate_threshold", 45)]
    assert forex_churning(trades, threshold_lots_milli=8_000) == []  # 25% over: kept trading
    assert forex_churning(trades, threshold_lots_milli=11_000) == []  # not reached yet
    assert forex_churning(_pairs(5, gap=90), threshold_lots_milli=10_000) == []
