"""A local receiver (uvicorn on 127.0.0.1) that records every delivery and its dedupe key:
``webhook-id`` for webhooks, the ``txn_id`` query parameter for URL postbacks."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tests.workers.receiver import serving

from clickledger.http.asgi import Receive, Scope, Send


@dataclass
class Delivery:
    dedupe_key: str
    method: str
    body: bytes
    signature: str | None


@dataclass
class Received:
    deliveries: list[Delivery] = field(default_factory=list)
    delay_s: float = 0.0

    def keys(self) -> Counter[str]:
        return Counter(d.dedupe_key for d in self.deliveries)


async def _whole_body(receive: Receive) -> bytes | None:
    """The request body, or None when the client disconnected before sending all of it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _app(received: Received) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _whole_body(receive)
        if body is None:
            return  # the sender died mid-request (kill -9): a torn request is no delivery
        if received.delay_s:
            await asyncio.sleep(received.delay_s)
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode())
        key = headers.get("webhook-id") or query.get("txn_id", [""])[0]
        received.deliveries.append(Delivery(key, scope["method"], body,
                                            headers.get("webhook-signature")))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


@contextmanager
def running_receiver(port: int, received: Received) -> Iterator[str]:
    with serving(_app(received), port) as base:
        yield base
