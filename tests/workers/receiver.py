"""A tiny tracker stand-in: a raw ASGI app on uvicorn at 127.0.0.1 that records every hit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from clickledger.http.asgi import Receive, Scope, Send, read_body


@dataclass
class Hits:
    paths: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0


def receiver_app(hits: Hits) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if hits.delay_s:
            import asyncio  # noqa: PLC0415

            await asyncio.sleep(hits.delay_s)
        query = scope.get("query_string", b"").decode()
        hits.paths.append(scope["path"] + (f"?{query}" if query else ""))
        hits.bodies.append(body)
        await send({"type": "http.response.start", "status": hits.status,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """Run ``app`` on uvicorn at 127.0.0.1:``port`` in a thread; yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                            lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("receiver did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def running_receiver(port: int, hits: Hits) -> Iterator[str]:
    with serving(receiver_app(hits), port) as base:
        yield base
