"""HMAC-SHA256 with the key prepared once per secret (request signatures, pseudonymous ids).

``hmac.new(key, msg, …)`` hashes the key into its inner and outer states on every
call; on a hot path with a handful of secrets that is wasted work.  Here the
keyed state is made once per secret (at most ``KEYED_SECRETS_MAX`` kept) and
copied for each message.  The result is exactly ``hmac.new(secret, message,
sha256).hexdigest()``.
"""

from __future__ import annotations

import hashlib
import hmac

KEYED_SECRETS_MAX = 1024

_KEYED: dict[str, hmac.HMAC] = {}


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    """The lower-case hex HMAC-SHA256 of ``message`` under ``secret`` (UTF-8)."""
    keyed = _KEYED.get(secret)
    if keyed is None:
        if len(_KEYED) >= KEYED_SECRETS_MAX:
            _KEYED.clear()
        keyed = _KEYED[secret] = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    mac = keyed.copy()
    mac.update(message)
    return mac.hexdigest()
