"""Role matrix of outbound postbacks: templates belong to affiliate A (managers and A change
them, finance reads), the delivery log shows A's rows to A and to staff; B gets 404."""

from __future__ import annotations

from typing import Any

from tests.http.conftest import World
from tests.http.role_matrix import A_READERS, READERS, RouteCase, _ok

from clickledger.ids import new_id
from clickledger.store import tables as t

TARGET = "http://127.0.0.1:9/postback?tid={txn_id}&status={status}"  # loopback: test settings


def _template_of_a(w: World) -> str:
    now = w.runtime.clock.now()
    template_id = new_id()
    with w.runtime.engine.begin() as conn:
        conn.execute(t.postback_templates.insert().values(
            id=template_id, affiliate_id=w.affiliate_a, kind="url", url_template=TARGET,
            status_words={}, status="active", created_at=now, updated_at=now))
    return template_id


def _template(w: World) -> dict[str, str]:
    return {"template_id": _template_of_a(w)}


def _delivery(w: World) -> dict[str, str]:
    now = w.runtime.clock.now()
    template_id, outbox_id = _template_of_a(w), new_id()
    with w.runtime.engine.begin() as conn:
        conn.execute(t.outbox.insert().values(
            id=outbox_id, dedupe_key=f"matrix:{outbox_id}", template_id=template_id,
            affiliate_id=w.affiliate_a, method="GET", url="http://127.0.0.1:9/postback",
            status="dead", attempts=8, next_attempt_at=now, resend_count=0,
            created_at=now, updated_at=now))
    return {"outbox_id": outbox_id}


def _new_template(w: World, n: int) -> dict[str, Any]:
    return {"url_template": TARGET + f"&n={n}", "preset": "keitaro"}


MATRIX: dict[tuple[str, str], RouteCase] = {
    ("POST", "/api/v1/affiliates/{affiliate_id}/postback-templates"): RouteCase(
        _new_template, _ok("manager", "affiliate_a", status=201)),
    ("GET", "/api/v1/affiliates/{affiliate_id}/postback-templates"): RouteCase(
        None, _ok(*A_READERS)),
    ("GET", "/api/v1/postback-templates/{template_id}"): RouteCase(
        None, _ok(*A_READERS), params=_template),
    ("PATCH", "/api/v1/postback-templates/{template_id}"): RouteCase(
        lambda _w, _n: {"event_kind": "ftd"}, _ok("manager", "affiliate_a"), params=_template),
    ("DELETE", "/api/v1/postback-templates/{template_id}"): RouteCase(
        None, _ok("manager", "affiliate_a", status=204), params=_template),
    ("GET", "/api/v1/deliveries"): RouteCase(None, _ok(*READERS)),
    ("GET", "/api/v1/deliveries/{outbox_id}"): RouteCase(
        None, _ok(*A_READERS), params=_delivery),
    ("POST", "/api/v1/deliveries/{outbox_id}/resend"): RouteCase(
        None, _ok("manager", "affiliate_a"), params=_delivery),
}

__all__: list[Any] = ["MATRIX"]
