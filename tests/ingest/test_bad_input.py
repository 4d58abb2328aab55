"""Every malformed field gets a 4xx with a reason code, is logged for health, and stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clickledger.domain.events import EventKind
from clickledger.ingest.validate import Invalid, validate
from clickledger.store import tables as t

from .conftest import Client, World

NOW = datetime(2026, 1, 1, tzinfo=UTC)
GOOD = {"event": "deposit", "txn_id": "t1", "user_id": "u1", "amount": "10.50", "currency": "EUR"}

CASES = [
    ({"event": None}, "missing_event"),
    ({"event": "bonus_party"}, "unknown_event"),
    ({"txn_id": None}, "missing_txn_id"),
    ({"txn_id": "x" * 256}, "invalid_txn_id"),
    ({"user_id": None}, "missing_user_id"),
    ({"user_id": "a\x07b"}, "invalid_user_id"),
    ({"amount": None}, "missing_amount"),
    ({"amount": "ten"}, "invalid_amount"),
    ({"amount": "1,234.50"}, "invalid_amount"),
    ({"amount": "NaN"}, "invalid_amount"),
    ({"amount": "-5"}, "negative_amount"),
    ({"amount": "0"}, "invalid_amount"),
    ({"amount": "10.505"}, "amount_precision"),
    ({"amount": "1e20"}, "amount_too_large"),
    ({"amount": "1" * 30}, "amount_too_large"),  # more digits than Decimal's precision
    ({"amount": "1e20", "currency": "BTC"}, "amount_too_large"),
    ({"currency": None}, "missing_currency"),
    ({"currency": "XYZ"}, "unknown_currency"),
    ({"ts": "yesterday"}, "invalid_ts"),
    ({"ts": "2027-01-01T00:00:00Z"}, "future_ts"),
    ({"ts": "946684799"}, "ts_out_of_range"),
    ({"country": "Germany"}, "invalid_country"),
]


@pytest.mark.parametrize(("change", "reason"), CASES,
                         ids=[c[1] + str(i) for i, c in enumerate(CASES)])
def test_each_bad_field_is_refused_with_its_reason(
    change: dict[str, str | None], reason: str
) -> None:
    fields = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(Invalid) as refused:
        validate(fields, now=NOW)
    assert refused.value.code == reason and 400 <= refused.value.status < 500


def test_trades_activity_and_decimal_comma_validate_exactly() -> None:
    trade = validate({"event": "trade", "txn_id": "tr", "user_id": "u", "lots": "0,25",
                      "instrument": "EURUSD.pro", "spread": "3.10", "currency": "USD"}, now=NOW)
    assert trade.event.kind is EventKind.TRADE and str(trade.event.lots) == "0.25"
    with pytest.raises(Invalid, match="lots"):
        validate({"event": "trade", "txn_id": "tr", "user_id": "u", "lots": "0.0001",
                  "instrument": "X"}, now=NOW)
    activity = validate({"event": "activity", "txn_id": "ac", "user_id": "u", "bets": "100",
                         "wins": "80", "currency": "JPY", "day": "2025-12-30"}, now=NOW)
    assert activity.event.activity_day.isoformat() == "2025-12-30"
    with pytest.raises(Invalid) as refused:
        validate({"event": "activity", "txn_id": "ac", "user_id": "u", "bets": "1.5",
                  "currency": "JPY"}, now=NOW)
    assert refused.value.code == "amount_precision"


def test_refusals_are_answered_with_reasons_and_recorded_for_the_health_view(
    world: World, serve
) -> None:
    async def scenario(client: Client):
        bad_currency = await client.get({**GOOD, "currency": "XYZ"})
        negative = await client.get({**GOOD, "txn_id": "t2", "amount": "-1"})
        bad_utf8 = await client.http.get(
            "/postback?event=deposit&user_id=%FF%FE&cl_key=" + world.integration["key_id"])
        repeated = await client.get({**GOOD, "txn_id": "t3"},
                                    tamper=lambda q: q)  # control: fine
        return bad_currency, negative, bad_utf8, repeated

    bad_currency, negative, bad_utf8, fine = serve(scenario)
    assert bad_currency.status_code == 422 and bad_currency.json()["reason"] == "unknown_currency"
    assert negative.json()["reason"] == "negative_amount"
    assert bad_utf8.status_code == 400 and bad_utf8.json()["reason"] == "invalid_encoding"
    assert fine.json()["status"] == "accepted"
    assert world.count(t.player_events) == 1
    assert world.count(t.ingest_rejections) == 2


def test_a_nul_byte_or_huge_body_is_refused_without_a_500(world: World, serve) -> None:
    async def scenario(client: Client):
        nul = await client.get({**GOOD, "instrument": "a\x00b"})
        big = await client.post_json("/postback", {"event": "deposit", "pad": "x" * 2_000_000})
        return nul, big

    nul, big = serve(scenario)
    assert nul.status_code == 400 and nul.json()["reason"] == "invalid_encoding"
    assert big.status_code == 413
