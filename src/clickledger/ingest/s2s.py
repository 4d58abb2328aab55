"""``GET``/``POST /postback``: one server-to-server event, a plain ASGI handler.

Parameters come from the query string and, for POST, a form or JSON body.
The request must be signed (``ingest.signatures``); an unsigned, badly signed,
stale or unknown-key request answers 401 and writes nothing, an address off
the integration's allowlist 403, a verified request over the integration's rate
limit (``http.public_limits``) 429 with ``Retry-After``, storing nothing.
Everything after authentication is answered in JSON (``accepted`` /
``duplicate`` / ``rejected`` with a reason code) and a refusal is recorded for
the integration's health view.
"""

from __future__ import annotations

from collections.abc import Sequence

from clickledger.http.asgi import Scope, header
from clickledger.ingest import signatures
from clickledger.ingest.hub import JsonHandler
from clickledger.ingest.params import (
    body_params,
    drop_auth,
    parse_pairs,
    plain_params,
    to_dict,
)
from clickledger.ingest.pipeline import Answer, rejected
from clickledger.ingest.validate import Invalid

POSTBACK_PATH = "/postback"


_AUTH_HEADERS = {signatures.KEY_HEADER: 0, signatures.TS_HEADER: 1, signatures.SIG_HEADER: 2}
_AUTH_PARAMS = {signatures.KEY_PARAM: 0, signatures.TS_PARAM: 1, signatures.SIG_PARAM: 2}
_NOTHING_FOUND = [None, None, None]


def signed_parts(
    scope: Scope, query: Sequence[tuple[str, str]] | dict[str, str] = ()
) -> signatures.SignedParts:
    """Key id, timestamp and signature from the headers (the first of each), else from the
    query's pairs (the first of each) or its parameters: one pass over each."""
    found: list[str | None] = [None, None, None]
    for name, value in scope.get("headers", ()):
        slot = _AUTH_HEADERS.get(name)
        if slot is not None and found[slot] is None:
            found[slot] = bytes(value).decode("latin-1")
    if None in found:
        if isinstance(query, dict) and found == _NOTHING_FOUND:  # the usual GET: all in it
            return signatures.SignedParts(query.get(signatures.KEY_PARAM),
                                          query.get(signatures.TS_PARAM),
                                          query.get(signatures.SIG_PARAM))
        from_query: list[str | None] = [None, None, None]
        if isinstance(query, dict):  # (not Mapping: an ABC check costs a Python call)
            from_query = [query.get(name) for name in _AUTH_PARAMS]
        else:
            for name, value in query:
                slot = _AUTH_PARAMS.get(name)
                if slot is not None and from_query[slot] is None:
                    from_query[slot] = value
        found = [h if h is not None else q for h, q in zip(found, from_query, strict=True)]
    return signatures.SignedParts(key_id=found[0], timestamp=found[1], signature=found[2])


class PostbackHandler(JsonHandler):
    """The ASGI app for ``/postback``."""

    methods = ("GET", "POST")

    async def answer(self, scope: Scope, body: bytes, raw_query: str) -> Answer:
        max_params = self.settings.max_query_params
        try:
            params = plain_params(raw_query, max_params)  # the usual query, else None
            pairs = parse_pairs(raw_query, max_params) if params is None else []
        except Invalid as problem:
            return rejected(problem.code, problem.message, problem.status)
        hub = self.hub
        now = hub.clock.now()  # one reading per request: the signature window and receipt
        parts = signed_parts(scope, pairs if params is None else params)
        auth = await hub.authenticate(scope, parts, raw_query, body, now)
        if isinstance(auth, Answer):
            return auth
        limited = hub.rate_limit(auth)  # after verification: only the secret spends it
        if limited is not None:
            return limited
        try:
            if params is None:
                params = to_dict(pairs)
            if scope["method"] == "POST":
                params.update(body_params(body, header(scope, b"content-type"), max_params))
        except Invalid as problem:
            return await hub.reject(auth, "s2s", problem, raw_query[:2000], now)
        return await hub.ingest(auth, drop_auth(params), now=now)
