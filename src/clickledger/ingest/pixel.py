"""Browser pixel fallback: ``GET /p.gif`` (1×1 GIF) and ``GET /p.js`` (a small tag).

For operators that cannot send server-to-server postbacks, a thank-you page
reports a registration or a deposit through the visitor's browser.  A browser
hit is unsigned and anybody can forge one, so a pixel may do far less than a
postback:

- it is tied to an integration by its public ``pixel_key`` (not the signing
  secret), and only registration, ftd and deposit are accepted;
- it must name a click id that exists, belongs to the integration's brand and
  is inside the attribution window — a pixel can never create an attribution
  out of nothing;
- registration and ftd without a ``txn_id`` get one derived from the click
  (``registration:<click>``), so a reloaded thank-you page counts once; a
  deposit needs the operator's ``txn_id``;
- pixel txn ids live in their own namespace (``px:…``) and the events carry
  ``source=pixel``, so the commission engine can treat them with suspicion;
- hits are rate-limited per (pixel key, client IP) and per pixel key
  (``http.public_limits``; settings ``pixel_*_per_ip`` and ``pixel_*_per_key``).

Ad blockers and tracking prevention drop pixels, and amounts come from the
browser; that is why server-to-server postbacks are preferred.  The GIF is
always returned (a thank-you page must never break); the outcome is in the
``X-CL-Status`` and ``X-CL-Reason`` headers.
"""

from __future__ import annotations

from importlib import resources

from clickledger.http.asgi import Receive, Scope, Send, respond
from clickledger.ingest.hub import IngestHub, rate_limited
from clickledger.ingest.params import decode_query, parse_pairs, to_dict
from clickledger.ingest.pipeline import Answer, rejected
from clickledger.ingest.validate import Invalid

GIF_PATH = "/p.gif"
JS_PATH = "/p.js"
TRANSPARENT_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
PIXEL_TXN_PREFIX = "px:"
PIXEL_FIELDS = ("event", "click_id", "user_id", "txn_id", "amount", "currency", "country")


def pixel_fields(params: dict[str, str]) -> dict[str, str]:
    """Our fields from a pixel hit, with the derived player and txn ids."""
    fields = {name: params[name] for name in PIXEL_FIELDS if params.get(name, "").strip()}
    event = fields.setdefault("event", "registration").strip().lower()
    click_id = fields.get("click_id", "").strip()
    if not click_id:
        raise Invalid("missing_click_id", "a pixel hit needs the click id")
    fields.setdefault("user_id", f"click:{click_id}")
    if "txn_id" not in fields:
        if event == "deposit":
            raise Invalid("missing_txn_id", "a deposit pixel needs the operator's txn_id")
        fields["txn_id"] = f"{event}:{click_id}"
    fields["txn_id"] = PIXEL_TXN_PREFIX + fields["txn_id"]
    return fields


def _gif_headers(answer: Answer) -> list[tuple[bytes, bytes]]:
    headers = [(b"cache-control", b"no-store, max-age=0"),
               (b"x-cl-status", str(answer.body.get("status", "")).encode())]
    if answer.body.get("reason"):
        headers.append((b"x-cl-reason", str(answer.body["reason"]).encode()))
    if answer.body.get("event_id"):
        headers.append((b"x-cl-event-id", str(answer.body["event_id"]).encode()))
    if answer.body.get("retry_after_s"):
        headers.append((b"retry-after", str(answer.body["retry_after_s"]).encode()))
    return headers


class PixelHandler:
    """The ASGI app for ``/p.gif`` and ``/p.js``."""

    def __init__(self, hub: IngestHub) -> None:
        self.hub = hub
        self.script = resources.files("clickledger.ingest").joinpath("pixel.js").read_bytes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await respond(send, 405, b"", [(b"allow", b"GET")])
            return
        if scope["path"] == JS_PATH:
            await respond(send, 200, self.script, [(b"cache-control", b"public, max-age=3600")],
                          content_type=b"application/javascript; charset=utf-8")
            return
        answer = await self.handle(scope) if scope["method"] == "GET" else Answer(200, {})
        await respond(send, 200, TRANSPARENT_GIF, _gif_headers(answer), content_type=b"image/gif")

    async def handle(self, scope: Scope) -> Answer:
        try:
            raw = decode_query(scope.get("query_string", b""),
                               self.hub.settings.max_query_string_bytes)
            params = to_dict(parse_pairs(raw, self.hub.settings.max_query_params))
        except Invalid as problem:
            return rejected(problem.code, problem.message, problem.status)
        info = await self.hub.directory.lookup_pixel_key(params.get("k", "").strip())
        if info is None or not info.active:
            return rejected("unknown_key", "no active integration has this pixel key", 401)
        wait_s = self._over_limit(info.id, self.hub.peer_ip(scope))
        if wait_s is not None:
            self.hub.flusher.health.add(info.id, self.hub.clock.now(), rejected=1)
            return rate_limited("too many pixel hits", wait_s)
        try:
            fields = pixel_fields(params)
        except Invalid as problem:
            return await self.hub.reject(info, "pixel", problem, raw[:2000], self.hub.clock.now())
        return await self.hub.ingest(info, fields, source="pixel", pixel=True)

    def _over_limit(self, key_id: str, ip: str | None) -> float | None:
        """Seconds to wait when the pixel key, or the key from this address, is over its
        budget; None when the hit may go on."""
        limits = self.hub.limits
        if limits.pixel_per_key is not None:
            wait_s = limits.pixel_per_key.take(key_id)
            if wait_s is not None:
                return wait_s
        if limits.pixel_per_ip is not None:
            return limits.pixel_per_ip.take(ip, prefix=key_id + "|")
        return None
