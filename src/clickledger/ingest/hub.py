"""What the three ingestion handlers share: authentication, the committer, the answers.

One ``IngestHub`` per process owns the integration directory, the group
committer running ``pipeline.Flusher``, a bounded cache of recently committed
(integration, txn_id) answers, and a ticker that writes pending health counts.

The duplicate cache only ever holds events whose transaction has committed,
so a hit is certainly a duplicate (or a 409) and is answered without a write;
a miss goes through the committer, where the unique index decides.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]

import sqlalchemy as sa

from clickledger.domain.events import Source
from clickledger.http.asgi import BodyTooLarge, Receive, Scope, Send, header, read_body
from clickledger.http.public_limits import IngestLimits, retry_after_s
from clickledger.ingest import signatures
from clickledger.ingest.integrations import IntegrationDirectory, IntegrationInfo
from clickledger.ingest.mapping import mapped_fields
from clickledger.ingest.params import decode_query
from clickledger.ingest.pipeline import (
    Answer,
    Flusher,
    Item,
    Rejection,
    Submission,
    Tick,
    conflict,
    duplicate,
    rejected,
)
from clickledger.ingest.validate import Invalid, validate
from clickledger.runtime import Runtime
from clickledger.services.registration import RaceLost
from clickledger.store.group_commit import CommitterStopped, GroupCommitter, QueueFull
from clickledger.tracking.client_ip import ClientIpResolver

log = logging.getLogger(__name__)

JSON = b"application/json"
DUPLICATE_CACHE_MAX = 200_000
TICK_S = 2.0
RACE_RETRIES = 5
RACE_BACKOFF_S = 0.02
LINGER_S = 0.010  # see GroupCommitter: how long a batch may wait for its usual size


_ENCODER = json.JSONEncoder(separators=(",", ":"))  # json.dumps with options builds one a call
# The C encoder ``_ENCODER.encode`` makes afresh on every call, made once (no cycle check:
# answers are flat dicts built here); None where the C accelerator is missing.
_C_ENCODE = None if c_make_encoder is None else c_make_encoder(
    None, _ENCODER.default, encode_basestring_ascii, None, ":", ",", False, False, True)


def encode(answer: Answer) -> bytes:
    """The answer's JSON body, exactly as ``_ENCODER.encode`` writes it."""
    if _C_ENCODE is None:
        return _ENCODER.encode(answer.body).encode()
    return "".join(_C_ENCODE(answer.body, 0)).encode()


_CONTENT_JSON = (b"content-type", JSON)
_NO_STORE = (b"cache-control", b"no-store")
_RETRY_AFTER_1 = (b"retry-after", b"1")


async def send_answer(
    send: Send, answer: Answer, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """The JSON answer in two ASGI messages (``asgi.respond``'s headers, built in one go)."""
    body = encode(answer)
    headers = [_CONTENT_JSON, (b"content-length", b"%d" % len(body)), _NO_STORE]
    if extra:
        headers += extra
    status = answer.http_status
    if status == 503:
        headers.append(_RETRY_AFTER_1)
    elif status == 429:
        headers.append((b"retry-after", str(answer.body.get("retry_after_s", 1)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class JsonHandler:
    """What ``/postback`` and ``/api/v1/events`` share: the method check, reading the
    request within its limits, and one JSON answer; ``answer`` says what to answer."""

    methods: tuple[str, ...] = ("POST",)

    def __init__(self, hub: IngestHub) -> None:
        self.hub = hub
        self.settings = hub.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in self.methods:
            refusal = rejected("method_not_allowed", f"use {' or '.join(self.methods)}", 405)
            await send_answer(send, refusal, [(b"allow", ", ".join(self.methods).encode())])
            return
        settings = self.settings
        try:  # the body and the decoded query string within their limits
            body = await read_body(receive, settings.max_body_bytes)
        except BodyTooLarge:
            await send_answer(send, rejected(
                "body_too_large", f"the body is over {settings.max_body_bytes} bytes", 413))
            return
        try:
            raw_query = decode_query(scope.get("query_string", b""),
                                     settings.max_query_string_bytes)
        except Invalid as problem:
            await send_answer(send, rejected(problem.code, problem.message, problem.status))
            return
        await send_answer(send, await self.answer(scope, body, raw_query))

    async def answer(self, scope: Scope, body: bytes, raw_query: str) -> Answer:
        raise NotImplementedError


class DuplicateCache(dict[tuple[str, str], tuple[str, str]]):
    """Bounded map (integration, txn_id) → (event id, payload hash), oldest evicted first.

    A dict itself, so the look-up every event makes (``get``) is the dict's own."""

    def __init__(self, max_entries: int = DUPLICATE_CACHE_MAX) -> None:
        super().__init__()
        self.max_entries = max_entries

    def put(self, key: tuple[str, str], event_id: str, payload_hash: str) -> None:
        if len(self) >= self.max_entries:
            for old in list(self)[: self.max_entries // 10]:
                del self[old]
        self[key] = (event_id, payload_hash)


class IngestHub:
    """Per-process ingestion state shared by /postback, /api/v1/events and the pixel."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.clock = runtime.clock
        self.directory = IntegrationDirectory(runtime.engine)
        self.flusher = Flusher(runtime.clock, runtime.settings.attribution_window_days)
        self.committer: GroupCommitter[Item, Answer | None] = GroupCommitter(
            runtime.engine, self.flusher, name="ingest",
            max_batch_rows=runtime.settings.group_commit_max_batch_rows,
            max_queue_rows=runtime.settings.group_commit_max_queue_rows,
            max_linger_s=LINGER_S,
        )
        self.duplicates = DuplicateCache()
        self.client_ip = ClientIpResolver(runtime.settings.trusted_proxies)
        self.limits = IngestLimits.from_settings(runtime.settings)
        self._ticker: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        gc.freeze()  # long-lived start-up objects leave the collector's scans (batches allocate)
        self.committer.start()
        await self.directory.start()  # loads off the loop, then reloads in the background
        self._ticker = asyncio.create_task(self._tick_forever())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        await self.directory.stop()
        await self.flush_counters()
        await asyncio.to_thread(self.committer.stop)

    async def flush_counters(self) -> None:
        """Write health counts gathered outside a batch (duplicates answered from memory)."""
        if self.flusher.health.pending:
            await self._submit(Tick())

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            await self.flush_counters()

    # --- authentication ------------------------------------------------------

    def peer_ip(self, scope: Scope) -> str | None:
        client = scope.get("client")
        peer = client[0] if client else None
        return self.client_ip.resolve(peer, header(scope, b"x-forwarded-for"))

    async def authenticate(
        self, scope: Scope, parts: signatures.SignedParts, raw_query: str, body: bytes,
        now: datetime | None = None,
    ) -> IntegrationInfo | Answer:
        """The integration a request is signed by, or the 401/403 answer (nothing written).

        ``now`` is the request's clock reading when the caller has one already."""
        if not parts.key_id:
            return rejected("missing_key", "send the integration key id (X-CL-Key or cl_key)", 401)
        key_id = parts.key_id.strip()
        info = self.directory.cached(key_id) or await self.directory.lookup(key_id)
        if info is None or not info.active:
            return rejected("unknown_key", "no active integration has this key id", 401)
        if info.networks and not info.ip_allowed(self.peer_ip(scope)):
            return rejected("ip_not_allowed", "this address is not on the integration's allowlist",
                            403)
        if info.require_signature:
            reason = signatures.verify(
                info.signing_secret, parts, method=scope["method"], path=scope["path"],
                raw_query=raw_query, body=body,
                now_s=(now or self.clock.now()).timestamp())
            if reason is not None:
                return rejected(reason, "the request signature is missing, wrong or stale", 401)
        return info

    def rate_limit(self, info: IntegrationInfo, events: int = 1) -> Answer | None:
        """Spend ``events`` of a verified integration's budget; the 429 to send when over it
        (nothing is stored; the integration's health view counts the refusal)."""
        limiter = self.limits.per_integration
        wait_s = limiter.take(info.id, events) if limiter is not None else None
        if wait_s is None:
            return None
        self.flusher.health.add(info.id, self.clock.now(), rejected=1)
        return rate_limited("too many events for this integration", wait_s)

    # --- submission ----------------------------------------------------------

    async def _submit(self, item: Item) -> Answer:
        """Submit ``item``; a race lost to another process or a deadlock is retried here."""
        for attempt in range(1, RACE_RETRIES + 1):
            try:
                answer = await self.committer.submit(item)
            except (QueueFull, CommitterStopped):
                return rejected("overloaded", "too many events waiting; retry shortly", 503)
            except (RaceLost, sa.exc.OperationalError):
                if attempt == RACE_RETRIES:
                    log.exception("ingestion kept losing races")
                    break
                await asyncio.sleep(RACE_BACKOFF_S * attempt)
                continue
            except Exception:
                log.exception("ingestion failed")
                break
            return answer or Answer(200, {"status": "ok"})
        return rejected("internal_error", "the event could not be stored; retry later", 500)

    async def reject(
        self, info: IntegrationInfo, source: str, problem: Invalid, excerpt: str | None,
        now: datetime,
    ) -> Answer:
        """Record a refused event for the health view; answer its 4xx."""
        item = Rejection(info.id, source, problem.code, problem.message, excerpt, now,
                         problem.status)
        answer = await self._submit(item)
        if answer.http_status >= 500:
            return answer
        return rejected(problem.code, problem.message, problem.status)

    async def ingest(
        self, info: IntegrationInfo, params: dict[str, str], *, source: str = "s2s",
        pixel: bool = False, now: datetime | None = None,
    ) -> Answer:
        """Map, validate and store one event (or answer its rejection or duplicate).

        ``params`` is handed over: it becomes the event's ``raw`` parameters, not copied."""
        if now is None:
            now = self.clock.now()
        fields = params if pixel else mapped_fields(params, info.parameter_map)
        try:
            valid = validate(fields, now=now, status_map=info.status_map,
                             source=_SOURCES[source])
        except Invalid as problem:
            return await self.reject(info, source, problem, _excerpt(params), now)
        key = (info.id, valid.event.txn_id)
        known = self.duplicates.get(key)
        if known is not None:
            return self._known(info, known, valid.payload_hash, valid.event.txn_id, now)
        answer = await self._submit(Submission(info, valid, params, now, pixel=pixel))
        body = answer.body
        event_id = body.get("event_id")
        if event_id and body.get("status") in _REMEMBERED:
            self.duplicates.put(key, event_id, valid.payload_hash)
        return answer

    def _known(self, info: IntegrationInfo, known: tuple[str, str], payload_hash: str,
               txn_id: str, now: datetime) -> Answer:
        event_id, first_hash = known
        if first_hash != payload_hash:
            self.flusher.health.add(info.id, now, rejected=1)
            return conflict(event_id, txn_id)
        self.flusher.health.add(info.id, now, duplicates=1)
        return duplicate(event_id, txn_id)


_SOURCES = {source.value: source for source in Source}  # = Source(…), without the enum's call
_REMEMBERED = frozenset({"accepted", "duplicate"})


def rate_limited(message: str, wait_s: float) -> Answer:
    """429 ``rate_limited``; ``send_answer`` turns ``retry_after_s`` into ``Retry-After``."""
    return rejected("rate_limited", message, 429, retry_after_s=retry_after_s(wait_s))


def _excerpt(params: Mapping[str, str]) -> str:
    return json.dumps(dict(params), ensure_ascii=False)[:2000]
