"""The outbox worker: runs the dispatcher until SIGTERM/SIGINT, finishing in-flight deliveries.

Several workers may run against one PostgreSQL database (claims use
``FOR UPDATE SKIP LOCKED`` and a lease); on SQLite run one worker.

httpx logs every request at INFO with its full URL (click ids, payouts): the
delivery log in the database already records each attempt, so below DEBUG the
worker keeps the ``httpx`` logger at WARNING (also a measurable CPU cost per
delivery with JSON logs).  Plain asyncio runs the loop: uvloop was measured and
did not lower the CPU per delivery of this dispatcher (``bench/outbox_cpu.py --uvloop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from clickledger.outbound.dispatcher import Dispatcher
from clickledger.runtime import Runtime


async def run_worker(runtime: Runtime, *, concurrency: int, once: bool,
                     stop: asyncio.Event | None = None,
                     on_started: Callable[[], None] | None = None) -> Dispatcher:
    """Deliver due rows; with ``once``, until nothing is due, else until ``stop`` or a signal."""
    stop_event = stop or asyncio.Event()
    quiet_httpx_requests()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop_event.set)
            installed.append(signum)
    try:
        async with Dispatcher(
            runtime.engine, runtime.clock, concurrency=concurrency,
            allow_loopback=runtime.settings.allow_loopback_targets,
        ) as dispatcher:
            if on_started is not None:
                on_started()
            await dispatcher.run(stop=None if once else stop_event)
        return dispatcher
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def quiet_httpx_requests() -> None:
    """Keep httpx's one-line-per-request INFO log out of the worker's output (below DEBUG)."""
    httpx_log = logging.getLogger("httpx")
    if httpx_log.getEffectiveLevel() > logging.DEBUG:
        httpx_log.setLevel(max(httpx_log.getEffectiveLevel(), logging.WARNING))
