"""Signed JSON webhooks in the Standard Webhooks form.

Headers: ``webhook-id`` (the outbox row id: the same on every retry, so the
receiver deduplicates on it), ``webhook-timestamp`` (Unix seconds at sending;
receivers reject more than ±5 minutes) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``).  Signing uses the
maintained ``standardwebhooks`` package, so a receiver using any Standard
Webhooks library verifies our deliveries.  Secrets are ``whsec_`` + base64.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
SECRET_BYTES = 32
CONTENT_TYPE = "application/json"


def new_secret() -> str:
    """A fresh signing secret, shown to the affiliate once at creation."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def encode_body(payload: dict[str, object]) -> str:
    """Compact, key-sorted JSON: the exact bytes that are signed and sent."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def signed_headers(secret: str, message_id: str, sent_at: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` sent at ``sent_at``."""
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=sent_at, data=body)
    return {
        "content-type": CONTENT_TYPE,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
