"""Registers each capability's plain-ASGI handlers (click, pixel, postback) on the front app.

Each capability adds one line here; the handlers live in ``tracking`` and ``ingest``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clickledger.http.app import HotPaths
    from clickledger.runtime import Runtime


def register_hot_paths(hot: HotPaths, runtime: Runtime) -> None:
    """Attach every hot-path handler to ``hot``."""
    del hot, runtime  # no hot path is registered until click tracking and postbacks land
