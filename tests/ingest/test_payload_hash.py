"""A retry must match the event stored before it, even across an upgrade: the content
hash of an event is a stored fact, so its exact form never changes.

The hashes below were computed by the implementation that stored the first events
(before the handler was made faster); a faithful retry sent today must give them.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from clickledger.domain.events import Source
from clickledger.ingest.validate import validate

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
STORED = [
    (
        {
            "event": "registration",
            "txn_id": "r1",
            "user_id": "u1",
            "click_id": "0190a0b0-0000-7000-8000-000000000000",
        },
        "s2s",
        "b017205487f6484fc6127ae8a0d64183b0e22cb8976db2b4e396cd709e92ab49",
    ),
    (
        {
            "event": "ftd",
            "txn_id": "f1",
            "user_id": "u1",
            "amount": "25.00",
            "currency": "eur",
            "ts": "1772600000",
        },
        "s2s",
        "d06ba66422a65a474022f494739f7b77c9736ddb569ce008b793f759f8c2f187",
    ),
    (
        {
            "event": "ftd",
            "txn_id": "f1",
            "user_id": "u1",
            "amount": "25.00",
            "currency": "eur",
            "ts": "1772600000",
        },
        "pixel",
        "2128ea15ec57eb86a01efc2802ce404d4d2e3e37896f7309c850b80526f1dc3e",
    ),
    (
        {
            "event": "deposit",
            "txn_id": "d1",
            "user_id": "u1",
            "amount": "12,5",
            "currency": "EUR",
            "country": "de",
            "promo": "welcome50",
        },
        "s2s",
        "98aa0b00d029ad160b19dc8a556a163ac58cf9766d330572eaa3ea624267b529",
    ),
    (
        {
            "event": "trade",
            "txn_id": "t1",
            "user_id": "u2",
            "lots": "1.250",
            "instrument": "EURUSD",
            "account_type": "pro",
            "spread": "3.10",
            "currency": "USD",
            "ts": "2026-03-01T10:00:00+02:00",
        },
        "s2s",
        "0b810bfa1d9985cec42f9ccee35979516253de96f62d2891d4a34fab19061842",
    ),
    (
        {
            "event": "activity",
            "txn_id": "a1",
            "user_id": "u3",
            "bets": "100",
            "wins": "40",
            "bonus": "0",
            "chargebacks": "1.0",
            "currency": "JPY",
            "day": "2026-03-01",
        },
        "s2s",
        "c8a7e22901f8fe393bf7d589ee7b7b1e8e5d1a918a6d2016c51bf2992c1380bc",
    ),
    (
        {"event": "activity", "txn_id": "a2", "user_id": "u3", "bets": "100", "currency": "EUR"},
        "s2s",
        "cf58a501a3f985084ba7939d5a2dae0545a5e126352ef149df372200ba444534",
    ),
    (
        {
            "event": "chargeback",
            "txn_id": "c1",
            "user_id": "u1",
            "amount": "25",
            "currency": "EUR",
            "reverses_txn_id": "f1",
        },
        "s2s",
        "39e0df9f9b3cb189ca3cc138d594ec9482e4b7a7c2107dee8b197b8edd68159d",
    ),
    (
        {
            "event": "reversal",
            "txn_id": "v1",
            "user_id": "u1",
            "reverses_txn_id": "d1",
            "ts": "1772600000123",
        },
        "s2s",
        "2e8c496743dc04ce485d54eda8a573a501878bb9543842e4949932e89bd6f891",
    ),
    (
        {
            "event": "withdrawal",
            "txn_id": " w1 ",
            "user_id": "u1",
            "amount": "1E+2",
            "currency": "KWD",
            "day": "2026-01-01",
        },
        "s2s",
        "6df10eae3386c67a2756ff49e7b81c96ae6e4cf354c7537dddf161ed5abf0d52",
    ),
]


@pytest.mark.parametrize(("fields", "source", "stored_hash"), STORED)
def test_a_retry_today_hashes_as_the_stored_event_did(
    fields: dict[str, str], source: str, stored_hash: str
) -> None:
    assert validate(fields, now=NOW, source=Source(source)).payload_hash == stored_hash


def test_the_hashed_text_is_every_field_in_name_order_absent_ones_empty() -> None:
    registration = {
        "event": "registration",
        "txn_id": "r1",
        "user_id": "u1",
        "click_id": "0190a0b0-0000-7000-8000-000000000000",
    }
    text = (
        "account_type=\x1famount=\x1fbets=\x1fbonus=\x1fchargebacks="
        "\x1fclick_id=0190a0b0-0000-7000-8000-000000000000\x1fcountry=\x1fcurrency="
        "\x1fday=\x1finstrument=\x1fkind=registration\x1flots=\x1fpromo=\x1freverses="
        "\x1fsource=s2s\x1fspread=\x1fts=\x1ftxn_id=r1\x1fuser_id=u1\x1fwins="
    )
    expected = hashlib.sha256(text.encode()).hexdigest()
    assert expected == "b017205487f6484fc6127ae8a0d64183b0e22cb8976db2b4e396cd709e92ab49"
    assert validate(registration, now=NOW).payload_hash == expected


def test_content_changes_the_hash_and_receipt_details_do_not() -> None:
    ftd = {"event": "ftd", "txn_id": "f1", "user_id": "u1", "amount": "25.00", "currency": "EUR"}
    first = validate(ftd, now=NOW).payload_hash
    assert validate({**ftd, "amount": "25.0"}, now=NOW).payload_hash == first  # same amount
    assert validate({**ftd, "currency": " eur "}, now=NOW).payload_hash == first
    assert validate(ftd, now=datetime(2026, 3, 5, tzinfo=UTC)).payload_hash == first  # no ts
    assert validate({**ftd, "amount": "25.01"}, now=NOW).payload_hash != first
    assert validate({**ftd, "country": "DE"}, now=NOW).payload_hash != first
