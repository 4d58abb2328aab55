"""``POST /api/v1/events``: a JSON array of events for operators that batch (plain ASGI).

The body is a JSON array of event objects (or ``{"events": [...]}``), at most
``settings.max_events_per_batch`` items and ``settings.max_body_bytes`` bytes,
signed like a postback (headers only).  A batch spends one token per event of
the integration's rate limit (``http.public_limits``); over it the whole batch is
refused, 429 with ``Retry-After``, nothing stored.  Every item gets its own answer, in
order, exactly as ``/postback`` would give it; the HTTP status is 200 whenever
the batch itself was readable, and the summary counts each outcome.
"""

from __future__ import annotations

import asyncio
from typing import Any

from clickledger.http.asgi import Scope
from clickledger.ingest.hub import JsonHandler
from clickledger.ingest.integrations import IntegrationInfo
from clickledger.ingest.params import load_json, object_params
from clickledger.ingest.pipeline import Answer
from clickledger.ingest.s2s import signed_parts
from clickledger.ingest.validate import Invalid

EVENTS_PATH = "/api/v1/events"


class EventsHandler(JsonHandler):
    """The ASGI app for ``POST /api/v1/events``."""

    async def answer(self, scope: Scope, body: bytes, raw_query: str) -> Answer:
        now = self.hub.clock.now()  # one reading per request: the signature window and receipt
        auth = await self.hub.authenticate(scope, signed_parts(scope), raw_query, body, now)
        if isinstance(auth, Answer):
            return auth
        try:
            items = self._items(load_json(body))
        except Invalid as problem:
            limited = self.hub.rate_limit(auth)
            if limited is not None:
                return limited
            excerpt = body[:2000].decode("utf-8", "replace")
            return await self.hub.reject(auth, "s2s", problem, excerpt, self.hub.clock.now())
        limited = self.hub.rate_limit(auth, max(1, len(items)))  # one token per event
        if limited is not None:
            return limited
        answers = await asyncio.gather(*(self._one(auth, item) for item in items))
        return self._summary(answers)

    def _items(self, document: Any) -> list[Any]:
        if isinstance(document, dict) and isinstance(document.get("events"), list):
            document = document["events"]
        if not isinstance(document, list):
            raise Invalid("invalid_batch", "the body must be a JSON array of events", 422)
        if len(document) > self.settings.max_events_per_batch:
            raise Invalid("too_many_events",
                          f"at most {self.settings.max_events_per_batch} events per request", 413)
        return document

    async def _one(self, info: IntegrationInfo, item: Any) -> Answer:
        try:
            params = object_params(item, self.settings.max_query_params)
        except Invalid as problem:
            return await self.hub.reject(info, "s2s", problem, str(item)[:2000],
                                         self.hub.clock.now())
        return await self.hub.ingest(info, params)

    @staticmethod
    def _summary(answers: list[Answer]) -> Answer:
        results = [{"index": i, "http_status": a.http_status, **a.body}
                   for i, a in enumerate(answers)]
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for answer in answers:
            status = str(answer.body.get("status"))
            counts[status] = counts.get(status, 0) + 1
        if any(a.http_status >= 500 for a in answers):
            return Answer(503, {"status": "partial", **counts, "results": results})
        return Answer(200, {"status": "ok", **counts, "results": results})
