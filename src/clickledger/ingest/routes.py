"""Registers the ingestion hot paths: ``/postback``, ``/api/v1/events``, ``/p.gif``, ``/p.js``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clickledger.ingest.events_api import EVENTS_PATH, EventsHandler
from clickledger.ingest.hub import IngestHub
from clickledger.ingest.pixel import GIF_PATH, JS_PATH, PixelHandler
from clickledger.ingest.s2s import POSTBACK_PATH, PostbackHandler

if TYPE_CHECKING:
    from clickledger.http.app import HotPaths
    from clickledger.runtime import Runtime


def register(hot: HotPaths, runtime: Runtime) -> IngestHub:
    """Attach the ingestion handlers (sharing one hub) and their start/stop hooks."""
    hub = IngestHub(runtime)
    hot.exact[POSTBACK_PATH] = PostbackHandler(hub)
    hot.exact[EVENTS_PATH] = EventsHandler(hub)
    pixel = PixelHandler(hub)
    hot.exact[GIF_PATH] = pixel
    hot.exact[JS_PATH] = pixel
    hot.on_startup.append(hub.start)
    hot.on_shutdown.append(hub.stop)
    return hub
