"""``GET``/``POST /postback``: one server-to-server event, a plain ASGI handler.

Parameters come from the query string and, for POST, a form or JSON body.
The request must be signed (``ingest.signatures``); an unsigned, badly signed,
stale or unknown-key request answers 401 and writes nothing, an address off
the integration's allowlist 403.  Everything after authentication is answered
in JSON (``accepted`` / ``duplicate`` / ``rejected`` with a reason code) and a
refusal is recorded for the integration's health view.
"""

from __future__ import annotations

from clickledger.http.asgi import Receive, Scope, Send, header
from clickledger.ingest import signatures
from clickledger.ingest.hub import IngestHub, read_request, send_answer
from clickledger.ingest.params import (
    body_params,
    parse_pairs,
    to_dict,
    without_auth,
)
from clickledger.ingest.pipeline import Answer, rejected
from clickledger.ingest.validate import Invalid

POSTBACK_PATH = "/postback"
ALLOWED = (b"allow", b"GET, POST")


def signed_parts(scope: Scope, query: dict[str, str]) -> signatures.SignedParts:
    """Key id, timestamp and signature from the headers, else from the query."""
    def pick(name: bytes, param: str) -> str | None:
        value = header(scope, name)
        if value is not None:
            return value.decode("latin-1")
        return query.get(param)

    return signatures.SignedParts(
        key_id=pick(signatures.KEY_HEADER, signatures.KEY_PARAM),
        timestamp=pick(signatures.TS_HEADER, signatures.TS_PARAM),
        signature=pick(signatures.SIG_HEADER, signatures.SIG_PARAM),
    )


def first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in pairs:
        found.setdefault(name, value)
    return found


class PostbackHandler:
    """The ASGI app for ``/postback``."""

    def __init__(self, hub: IngestHub) -> None:
        self.hub = hub
        self.settings = hub.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "POST"):
            await send_answer(send, rejected("method_not_allowed", "use GET or POST", 405),
                              [ALLOWED])
            return
        await send_answer(send, await self.handle(scope, receive))

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        request = await read_request(scope, receive, self.settings)
        if isinstance(request, Answer):
            return request
        body, raw_query = request
        try:
            pairs = parse_pairs(raw_query, self.settings.max_query_params)
        except Invalid as problem:
            return rejected(problem.code, problem.message, problem.status)
        auth = self.hub.authenticate(scope, signed_parts(scope, first_values(pairs)),
                                     raw_query, body)
        if isinstance(auth, Answer):
            return auth
        try:
            params = to_dict(pairs)
            if scope["method"] == "POST":
                params.update(body_params(body, header(scope, b"content-type"),
                                          self.settings.max_query_params))
        except Invalid as problem:
            return await self.hub.reject(auth, "s2s", problem, raw_query[:2000],
                                         self.hub.clock.now())
        return await self.hub.ingest(auth, without_auth(params))
