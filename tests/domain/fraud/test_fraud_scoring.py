"""The scorer: weights, family caps and thresholds decide allow, flag, hold or reject."""

from __future__ import annotations

import pytest

from clickledger.domain.fraud.duplicates import DuplicateFacts
from clickledger.domain.fraud.geo import GeoFacts
from clickledger.domain.fraud.rules import SubjectFacts, evaluate
from clickledger.domain.fraud.scoring import Action, FraudPolicy, merge_signals, score
from clickledger.domain.fraud.signals import Signal

POLICY = FraudPolicy()


def _signal(family: str, points: int, check: str = "c") -> Signal:
    return Signal(family, check, points, f"{family} {points}", {"points": points})


@pytest.mark.parametrize(("points", "action"), [
    (0, Action.ALLOW), (24, Action.ALLOW), (25, Action.FLAG), (49, Action.FLAG),
    (50, Action.HOLD), (99, Action.HOLD), (100, Action.REJECT),
])
def test_the_action_is_the_highest_threshold_reached(points: int, action: Action) -> None:
    signals = [_signal("ctit", points)] if points else []
    assert score(signals, POLICY).action is action


def test_two_weak_signals_hold_together_and_one_alone_only_flags() -> None:
    traveller = score([_signal("geo_mismatch", 25)], POLICY)
    assert traveller.action is Action.FLAG
    together = score([_signal("geo_mismatch", 25), _signal("ctit", 40)], POLICY)
    assert (together.score, together.action) == (65, Action.HOLD)


def test_a_family_is_capped_so_one_noisy_family_cannot_reject_alone() -> None:
    verdict = score([_signal("bots", 80, "crawler"), _signal("bots", 40, "impossible")], POLICY)
    assert verdict.family_points == {"bots": 100}
    capped = FraudPolicy(family_cap_points=90)
    assert score([_signal("bots", 80, "a"), _signal("bots", 40, "b")], capped).score == 90


def test_weights_scale_a_family_and_zero_switches_it_off() -> None:
    policy = FraudPolicy(weights_pct={"geo_mismatch": 0, "ctit": 150})
    verdict = score([_signal("geo_mismatch", 45), _signal("ctit", 40)], policy)
    assert verdict.family_points == {"geo_mismatch": 0, "ctit": 60}
    assert verdict.action is Action.HOLD


def test_the_same_check_counts_once_with_its_highest_points() -> None:
    merged = merge_signals([_signal("ctit", 40)], [_signal("ctit", 60), _signal("ctit", 10)])
    assert [(s.points) for s in merged] == [60]


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="thresholds"):
        FraudPolicy(flag_at=60, hold_at=50)


def test_every_rule_runs_only_on_the_facts_it_has() -> None:
    assert evaluate(SubjectFacts()) == []
    facts = SubjectFacts(geo=GeoFacts("GB", "NG", "NG"), duplicates=DuplicateFacts(same_payment=2),
                         player_ips=("10.0.0.1",), affiliate_login_ips=("10.0.0.1",))
    families = sorted(s.family for s in evaluate(facts))
    assert families == ["duplicate_players", "geo_mismatch", "self_referral"]
    verdict = score(evaluate(facts), POLICY)
    assert (verdict.score, verdict.action) == (160, Action.REJECT)


def test_a_signal_round_trips_through_json() -> None:
    signal = _signal("bots", 80)
    assert Signal.from_json(signal.to_json()) == signal
