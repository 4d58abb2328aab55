"""Request signing for operator integrations: HMAC-SHA256 over a canonical request.

The canonical request is five lines joined by ``\\n``::

    v1
    <timestamp: unix seconds>
    <METHOD>
    <path>
    <query string exactly as sent, with any cl_sig=… parameter removed>
    <hex SHA-256 of the body (of the empty string for GET)>

The signature is the lower-case hex HMAC-SHA256 of that text under the
integration's signing secret.  It travels with the key id (the integration id)
and the timestamp either in headers (``X-CL-Key``, ``X-CL-Timestamp``,
``X-CL-Signature``) or, for GET, in the query (``cl_key``, ``cl_ts``,
``cl_sig``).  Timestamps more than ``MAX_SKEW_S`` away from the server clock
are refused.

Replays: the signature covers the timestamp, method, path, every parameter and
the body, so a captured signature reused with any other content fails, and
after five minutes fails outright.  An identical re-send within the window is
indistinguishable from an operator's retry and is answered like one: the
event's ``txn_id`` makes it a duplicate that changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import NamedTuple

from clickledger.hmacs import hmac_sha256_hex

SIGNATURE_VERSION = "v1"
MAX_SKEW_S = 300
SIG_PARAM = "cl_sig"
KEY_PARAM = "cl_key"
TS_PARAM = "cl_ts"
KEY_HEADER = b"x-cl-key"
TS_HEADER = b"x-cl-timestamp"
SIG_HEADER = b"x-cl-signature"
MAX_SIGNATURE_CHARS = 128


class SignedParts(NamedTuple):
    """What a request carries for authentication, from headers or query (a named tuple:
    immutable, and made on every request for less than a frozen dataclass costs)."""

    key_id: str | None
    timestamp: str | None
    signature: str | None


_SIG_PREFIX = SIG_PARAM + "="


def strip_signature(raw_query: str) -> str:
    """The query string as sent, without its ``cl_sig=`` parameter(s)."""
    if _SIG_PREFIX not in raw_query:
        return raw_query
    start = raw_query.find(_SIG_PREFIX)
    if raw_query.count(_SIG_PREFIX) == 1 and (start == 0 or raw_query[start - 1] == "&"):
        end = raw_query.find("&", start)  # the one ``cl_sig=…`` part: cut it out
        if end == -1:
            return raw_query[:max(start - 1, 0)]
        return raw_query[:start] + raw_query[end + 1:]
    return "&".join(part for part in raw_query.split("&") if not part.startswith(_SIG_PREFIX))


EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def canonical_request(
    timestamp: str, method: str, path: str, raw_query: str, body: bytes
) -> bytes:
    """The exact bytes that are signed (see the module docstring)."""
    body_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256
    query = strip_signature(raw_query)
    text = f"{SIGNATURE_VERSION}\n{timestamp}\n{method.upper()}\n{path}\n{query}\n{body_hash}"
    return text.encode()


def sign(
    secret: str, timestamp: str, method: str, path: str, raw_query: str, body: bytes
) -> str:
    """The hex HMAC-SHA256 signature of a request (what a client computes)."""
    return hmac_sha256_hex(secret, canonical_request(timestamp, method, path, raw_query, body))


def check_timestamp(
    timestamp: str | None, now_s: float, max_skew_s: int = MAX_SKEW_S
) -> str | None:
    """None when ``timestamp`` is within the window, else a reason code."""
    if not timestamp:
        return "missing_timestamp"
    if not timestamp.isdigit() or len(timestamp) > 12:
        return "invalid_timestamp"
    if abs(int(timestamp) - now_s) > max_skew_s:
        return "timestamp_out_of_window"
    return None


def verify(
    secret: str,
    parts: SignedParts,
    *,
    method: str,
    path: str,
    raw_query: str,
    body: bytes,
    now_s: float,
) -> str | None:
    """None when the request is authentic and fresh, else the reason code for a 401."""
    if not parts.signature:
        return "missing_signature"
    reason = check_timestamp(parts.timestamp, now_s)
    if reason is not None:
        return reason
    given = parts.signature.strip().lower()
    if len(given) > MAX_SIGNATURE_CHARS:
        return "bad_signature"
    assert parts.timestamp is not None  # checked above
    expected = hmac_sha256_hex(  # = sign(…)
        secret, canonical_request(parts.timestamp, method, path, raw_query, body))
    if not hmac.compare_digest(expected, given):
        return "bad_signature"
    return None
