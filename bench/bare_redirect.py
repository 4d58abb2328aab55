"""The bare-302 baseline: a raw ASGI app that answers every request with a redirect.

    python bench/bare_redirect.py PORT

Served by uvicorn with the same settings as ``clickledger serve`` (httptools,
uvloop, no access log), so the click bench compares like with like.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Message = MutableMapping[str, Any]
LOCATION = b"https://www.brand.example/welcome?cid=0190a000-0000-7000-8000-000000000000"


async def app(
    scope: Message, receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 302, "headers": [
        (b"location", LOCATION), (b"cache-control", b"no-store"), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
        http="httptools", loop="uvloop", lifespan="on", access_log=False,
        timeout_graceful_shutdown=10,
    )
