"""Webhooks are signed in the Standard Webhooks form: any standard verifier accepts them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from clickledger.outbound import webhooks


def test_a_signed_webhook_verifies_with_the_standard_webhooks_library() -> None:
    secret = webhooks.new_secret()
    body = webhooks.encode_body({"type": "event.ftd", "data": {"payout": "150.00"}})
    headers = webhooks.signed_headers(secret, "msg_1", datetime.now(UTC), body)
    assert Webhook(secret).verify(body, headers) == {"type": "event.ftd",
                                                     "data": {"payout": "150.00"}}


def test_the_signature_is_hmac_sha256_of_id_dot_timestamp_dot_body() -> None:
    secret = webhooks.new_secret()
    sent_at = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    headers = webhooks.signed_headers(secret, "msg_2", sent_at, '{"a":1}')
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"msg_2.{int(sent_at.timestamp())}.{{\"a\":1}}".encode(),
                        hashlib.sha256).digest()
    assert headers["webhook-id"] == "msg_2"
    assert headers["webhook-timestamp"] == str(int(sent_at.timestamp()))
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()


def test_a_tampered_body_or_an_old_timestamp_is_rejected_by_the_receiver() -> None:
    secret = webhooks.new_secret()
    body = webhooks.encode_body({"payout": "1.00"})
    headers = webhooks.signed_headers(secret, "msg_3", datetime.now(UTC), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("1.00", "9.00"), headers)
    old = webhooks.signed_headers(secret, "msg_3", datetime(2020, 1, 1, tzinfo=UTC), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, old)
