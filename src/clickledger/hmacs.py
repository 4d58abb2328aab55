"""HMAC-SHA256 with the key prepared once per secret (request signatures, pseudonymous ids).

``hmac.new(key, msg, …)`` hashes the key into its inner and outer states on every
call; on a hot path with a handful of secrets that is wasted work.  Here the
keyed state is made once per secret (at most ``KEYED_SECRETS_MAX`` kept) and
copied for each message.  The result is exactly ``hmac.new(secret, message,
sha256).hexdigest()``.

The keyed state is OpenSSL's own HMAC object (``_hashlib.hmac_new``, what
``hmac.new`` wraps): copying, updating and finishing it directly costs about a
quarter of going through the pure-Python ``hmac.HMAC`` wrapper.  Without OpenSSL
(never on a supported build) the wrapper is used.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

KEYED_SECRETS_MAX = 1024


class _Keyed(Protocol):
    def copy(self) -> _Keyed: ...

    def update(self, message: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


def _keyed_state(key: bytes) -> _Keyed:
    try:
        from _hashlib import hmac_new  # noqa: PLC0415 - OpenSSL's HMAC, as hmac.new uses it

        keyed: _Keyed = hmac_new(key, digestmod="sha256")
    except (ImportError, ValueError):
        keyed = hmac.new(key, digestmod=hashlib.sha256)
    return keyed


_KEYED: dict[str, _Keyed] = {}


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    """The lower-case hex HMAC-SHA256 of ``message`` under ``secret`` (UTF-8)."""
    keyed = _KEYED.get(secret)
    if keyed is None:
        if len(_KEYED) >= KEYED_SECRETS_MAX:
            _KEYED.clear()
        keyed = _KEYED[secret] = _keyed_state(secret.encode())
    mac = keyed.copy()
    mac.update(message)
    return mac.hexdigest()
