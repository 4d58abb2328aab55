"""Outbound postbacks over the API: templates per affiliate, the delivery log, manual re-send.

``/api/v1/affiliates/{id}/postback-templates`` and ``/api/v1/postback-templates/{id}``:
managers for any affiliate, the affiliate for itself, finance read-only.
``/api/v1/deliveries``: the outbox rows with their attempts (request URL,
response code, error, duration); an affiliate sees its own only, anything
else answers 404.  ``POST /api/v1/deliveries/{id}/resend`` starts a new
attempt cycle now (audited).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from clickledger.clock import utc
from clickledger.domain.events import EventKind
from clickledger.http.api.deps import ConnDep, ReaderDep, RuntimeDep
from clickledger.http.api.errors import ApiError, not_found
from clickledger.outbound import admin
from clickledger.outbound.ssrf import TargetGuard
from clickledger.outbound.templates import MAX_TEMPLATE_LENGTH

router = APIRouter(prefix="/api/v1", tags=["postbacks"])

TemplateKind = Literal["url", "webhook"]
PresetName = Literal["keitaro", "tune", "affise", "binom", "voluum", "everflow"]
DeliveryStatus = Literal["pending", "delivered", "dead", "disabled"]
StatusWords = dict[Annotated[str, Field(max_length=20)], Annotated[str, Field(max_length=64)]]


def get_target_guard(runtime: RuntimeDep) -> TargetGuard:
    """The SSRF guard for saved targets (tests override this dependency with a fake resolver)."""
    return TargetGuard(allow_loopback=runtime.settings.allow_loopback_targets)


GuardDep = Annotated[TargetGuard, Depends(get_target_guard)]


def _uuid(value: str, entity: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise not_found(entity) from exc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateCreate(_Strict):
    kind: TemplateKind = "url"
    url_template: str = Field(min_length=1, max_length=MAX_TEMPLATE_LENGTH,
                              description="Tracker URL with macros such as {click_id}, {status}.")
    offer_id: uuid.UUID | None = None
    event_kind: EventKind | None = None
    preset: PresetName | None = Field(None, description="Status words of a known tracker.")
    status_words: StatusWords | None = None


class TemplateUpdate(_Strict):
    url_template: str | None = Field(None, min_length=1, max_length=MAX_TEMPLATE_LENGTH)
    offer_id: uuid.UUID | None = None
    event_kind: EventKind | None = None
    preset: PresetName | None = None
    status_words: StatusWords | None = None
    status: Literal["active", "disabled"] | None = None


class TemplateRead(BaseModel):
    id: str
    affiliate_id: str
    offer_id: str | None
    event_kind: str | None
    kind: str
    url_template: str
    status_words: dict[str, str]
    status: str
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class TemplateCreated(TemplateRead):
    webhook_secret: str | None = Field(
        None, description="Standard Webhooks signing secret; shown only in this answer.")


class AttemptRead(BaseModel):
    attempt: int
    cycle: int
    at: datetime
    status_code: int | None
    error: str | None
    response_excerpt: str | None
    duration_ms: int | None


class DeliveryRead(BaseModel):
    id: str
    template_id: str
    affiliate_id: str
    event_id: str | None
    method: str
    url: str
    status: str
    attempts: int
    resend_count: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class DeliveryDetail(DeliveryRead):
    body: str | None
    attempt_log: list[AttemptRead]


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None


def _times(row: dict[str, Any], *names: str) -> dict[str, Any]:
    out: dict[str, Any] = {k: (str(v) if isinstance(v, uuid.UUID) else v)
                           for k, v in row.items()}
    for name in names:
        if out.get(name) is not None:
            out[name] = utc(out[name])
    return out


def _template_out(row: dict[str, Any]) -> dict[str, Any]:
    out = _times(row, "created_at", "updated_at")
    out["status_words"] = out.get("status_words") or {}
    return out


def _delivery_out(row: dict[str, Any]) -> dict[str, Any]:
    return _times(row, "created_at", "updated_at", "next_attempt_at", "claimed_until")


def _changes(body: _Strict) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude_unset=True)


@router.post("/affiliates/{affiliate_id}/postback-templates", status_code=201,
             response_model=TemplateCreated)
def create_template(principal: ReaderDep, affiliate_id: str, body: TemplateCreate,
                    conn: ConnDep, runtime: RuntimeDep, guard: GuardDep) -> dict[str, Any]:
    affiliate_id = _uuid(affiliate_id, "affiliate")
    row = admin.create_template(conn, principal, affiliate_id, body.model_dump(mode="json"), guard,
                               runtime.clock.now())
    return _template_out(row)


@router.get("/affiliates/{affiliate_id}/postback-templates", response_model=list[TemplateRead])
def list_templates(principal: ReaderDep, affiliate_id: str,
                   conn: ConnDep) -> list[dict[str, Any]]:
    rows = admin.list_templates(conn, principal, _uuid(affiliate_id, "affiliate"))
    return [_template_out(row) for row in rows]


@router.get("/postback-templates/{template_id}", response_model=TemplateRead)
def get_template(principal: ReaderDep, template_id: str, conn: ConnDep) -> dict[str, Any]:
    return _template_out(admin.template_for(conn, _uuid(template_id, "postback template"),
                                            principal))


@router.patch("/postback-templates/{template_id}", response_model=TemplateRead)
def update_template(principal: ReaderDep, template_id: str, body: TemplateUpdate,
                    conn: ConnDep, runtime: RuntimeDep, guard: GuardDep) -> dict[str, Any]:
    row = admin.update_template(conn, principal, _uuid(template_id, "postback template"),
                                _changes(body), guard, runtime.clock.now())
    return _template_out(row)


@router.delete("/postback-templates/{template_id}", status_code=204)
def delete_template(principal: ReaderDep, template_id: str, conn: ConnDep,
                    runtime: RuntimeDep) -> Response:
    admin.delete_template(conn, principal, _uuid(template_id, "postback template"),
                          runtime.clock.now())
    return Response(status_code=204)


@router.get("/deliveries", response_model=DeliveryPage)
def list_deliveries(
    principal: ReaderDep, conn: ConnDep, runtime: RuntimeDep,
    affiliate_id: uuid.UUID | None = None,
    status: DeliveryStatus | None = None,
    template_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: uuid.UUID | None = Query(None, description="next_cursor of the previous page"),
) -> dict[str, Any]:
    maximum = runtime.settings.api_page_size_max
    if limit > maximum:
        raise ApiError(422, "limit_too_large", f"limit is at most {maximum}",
                       {"max_limit": maximum})
    rows, next_cursor = admin.list_deliveries(
        conn, principal, affiliate_id=_opt(affiliate_id), status=status,
        template_id=_opt(template_id), event_id=_opt(event_id), limit=limit,
        before_id=_opt(cursor),
    )
    return {"items": [_delivery_out(row) for row in rows], "next_cursor": next_cursor}


def _opt(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


@router.get("/deliveries/{outbox_id}", response_model=DeliveryDetail)
def get_delivery(principal: ReaderDep, outbox_id: str, conn: ConnDep) -> dict[str, Any]:
    outbox_id = _uuid(outbox_id, "delivery")
    row = _delivery_out(admin.delivery_for(conn, outbox_id, principal))
    row["attempt_log"] = [_times(a, "at") for a in admin.attempts_of(conn, outbox_id)]
    return row


@router.post("/deliveries/{outbox_id}/resend", response_model=DeliveryRead)
def resend_delivery(principal: ReaderDep, outbox_id: str, conn: ConnDep,
                    runtime: RuntimeDep) -> dict[str, Any]:
    row = admin.resend(conn, principal, _uuid(outbox_id, "delivery"), runtime.clock.now())
    return _delivery_out(row)
