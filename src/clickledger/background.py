"""Stopping what a cache started in the background: its refresh task and its reader threads."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor


async def stop_refresher(
    refresher: asyncio.Task[None] | None, pool: ThreadPoolExecutor | None
) -> None:
    """Cancel ``refresher`` and wait for it to end; let ``pool``'s threads go."""
    if refresher is not None:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
    if pool is not None:
        pool.shutdown(wait=False)
