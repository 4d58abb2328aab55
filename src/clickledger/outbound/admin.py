"""Postback templates and the delivery log as use cases: create, change, list, re-send.

Who may do what (the API enforces it with these functions): managers act on
any affiliate's templates and deliveries; finance reads them; an affiliate
reads and changes its own only.  Anything else is "not found".  Every change
is audited.  A saved target is SSRF-checked (``target_not_allowed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.roles import Principal, Role
from clickledger.ids import new_id
from clickledger.outbound import outbox_store
from clickledger.outbound import templates as tpl
from clickledger.outbound.ssrf import TargetGuard, TargetNotAllowed
from clickledger.outbound.webhooks import new_secret
from clickledger.services import audit
from clickledger.services.errors import ServiceError, invalid, missing
from clickledger.store import tables as t

MAX_TEMPLATES_PER_AFFILIATE = 50
MAX_ATTEMPTS_SHOWN = 100
TEMPLATE_FIELDS = ("url_template", "offer_id", "event_kind", "status_words", "status")
SETTABLE_STATUSES = ("active", "disabled")

_SAMPLE = tpl.PostbackFacts(
    event_id="00000000-0000-7000-8000-000000000000", event_kind="ftd", status="sale",
    occurred_at="2026-01-01T00:00:00+00:00", click_id="sample", subs=("a", "b", "c", "d", "e"),
    payout="1.00", currency="EUR", player_id="sample", amount="1.00", amount_currency="EUR",
)


# --- visibility ---------------------------------------------------------------


def may_read(principal: Principal, affiliate_id: str) -> bool:
    if principal.role in (Role.MANAGER, Role.FINANCE):
        return True
    return principal.role is Role.AFFILIATE and principal.affiliate_id == str(affiliate_id)


def may_write(principal: Principal, affiliate_id: str) -> bool:
    if principal.role is Role.MANAGER:
        return True
    return principal.role is Role.AFFILIATE and principal.affiliate_id == str(affiliate_id)


def actor_label(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.name}"


# --- templates ----------------------------------------------------------------


def check_target(url_template: str, guard: TargetGuard) -> None:
    """Refuse a template that is malformed or whose target is not allowed."""
    try:
        tpl.validate_template(url_template)
    except tpl.TemplateError as exc:
        raise invalid(exc.code, str(exc)) from exc
    try:
        guard.check_url(tpl.render(url_template, _SAMPLE, {}))
    except TargetNotAllowed as exc:
        raise invalid(TargetNotAllowed.code, str(exc)) from exc


def _status_words(preset: str | None, words: Mapping[str, str] | None) -> dict[str, str]:
    try:
        return tpl.resolve_status_words(preset, words)
    except tpl.TemplateError as exc:
        raise invalid(exc.code, str(exc)) from exc


def _check_offer(conn: sa.Connection, offer_id: str | None) -> None:
    if offer_id is None:
        return
    found = conn.execute(sa.select(t.offers.c.id).where(t.offers.c.id == offer_id)).first()
    if found is None:
        raise invalid("unknown_offer", f"offer {offer_id} does not exist")


def _row(conn: sa.Connection, table: sa.Table, row_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(table).where(table.c.id == row_id)).mappings().first()
    return dict(row) if row is not None else None


def template_for(conn: sa.Connection, template_id: str, principal: Principal,
                 write: bool = False) -> dict[str, Any]:
    row = _row(conn, t.postback_templates, template_id)
    allowed = may_write if write else may_read
    if row is None or row["status"] == "deleted" or not allowed(principal, row["affiliate_id"]):
        raise missing("postback template")
    return row


def create_template(
    conn: sa.Connection, principal: Principal, affiliate_id: str, data: Mapping[str, Any],
    guard: TargetGuard, now: datetime,
) -> dict[str, Any]:
    """Create a template; for webhooks the row carries the new signing secret (shown once)."""
    if not may_write(principal, affiliate_id) or _row(conn, t.affiliates, affiliate_id) is None:
        raise missing("affiliate")
    pt = t.postback_templates
    count = conn.execute(sa.select(sa.func.count()).select_from(pt).where(
        pt.c.affiliate_id == affiliate_id, pt.c.status != "deleted")).scalar_one()
    if count >= MAX_TEMPLATES_PER_AFFILIATE:
        raise invalid("too_many_templates",
                      f"an affiliate has at most {MAX_TEMPLATES_PER_AFFILIATE} templates")
    check_target(data["url_template"], guard)
    _check_offer(conn, data.get("offer_id"))
    row = {
        "id": new_id(), "affiliate_id": affiliate_id, "offer_id": data.get("offer_id"),
        "event_kind": data.get("event_kind"), "kind": data["kind"],
        "url_template": data["url_template"],
        "status_words": _status_words(data.get("preset"), data.get("status_words")),
        "webhook_secret": new_secret() if data["kind"] == "webhook" else None,
        "status": "active", "disabled_reason": None, "created_at": now, "updated_at": now,
    }
    conn.execute(pt.insert().values(**row))
    audit.record(conn, actor=actor_label(principal), action="postback_template.create",
                 entity="postback_template", entity_id=row["id"], now=now,
                 after={k: row[k] for k in TEMPLATE_FIELDS})
    return row


def update_template(
    conn: sa.Connection, principal: Principal, template_id: str, changes: Mapping[str, Any],
    guard: TargetGuard, now: datetime,
) -> dict[str, Any]:
    """Change a template; re-enabling clears the disabled reason, disabling stops its queue."""
    before = template_for(conn, template_id, principal, write=True)
    values: dict[str, Any] = {k: v for k, v in changes.items() if k in TEMPLATE_FIELDS}
    if "url_template" in values:
        check_target(values["url_template"], guard)
    if "offer_id" in values:
        _check_offer(conn, values["offer_id"])
    if "status_words" in changes or "preset" in changes:
        values["status_words"] = _status_words(changes.get("preset"), changes.get("status_words"))
    if values.get("status") == "active":
        values["disabled_reason"] = None
    if not values:
        return before
    conn.execute(sa.update(t.postback_templates).where(t.postback_templates.c.id == template_id)
                 .values(**values, updated_at=now))
    if values.get("status") == "disabled" and before["status"] == "active":
        outbox_store.disable_template(conn, template_id, f"disabled by {actor_label(principal)}",
                                      now)
    after = template_for(conn, template_id, principal)
    audit.record(conn, actor=actor_label(principal), action="postback_template.update",
                 entity="postback_template", entity_id=template_id, now=now,
                 before={k: before[k] for k in TEMPLATE_FIELDS},
                 after={k: after[k] for k in TEMPLATE_FIELDS})
    return after


def delete_template(conn: sa.Connection, principal: Principal, template_id: str,
                    now: datetime) -> None:
    """Soft delete (the delivery log keeps pointing at it); pending deliveries are disabled.

    Deleting again is a no-op for whoever may change the template (DELETE is idempotent).
    """
    row = _row(conn, t.postback_templates, template_id)
    if row is not None and row["status"] == "deleted" and may_write(principal,
                                                                    row["affiliate_id"]):
        return
    before = template_for(conn, template_id, principal, write=True)
    outbox_store.disable_template(conn, template_id, "template deleted", now)
    conn.execute(sa.update(t.postback_templates).where(t.postback_templates.c.id == template_id)
                 .values(status="deleted", updated_at=now))
    audit.record(conn, actor=actor_label(principal), action="postback_template.delete",
                 entity="postback_template", entity_id=template_id, now=now,
                 before={k: before[k] for k in TEMPLATE_FIELDS})


def list_templates(conn: sa.Connection, principal: Principal,
                   affiliate_id: str) -> list[dict[str, Any]]:
    if not may_read(principal, affiliate_id):
        raise missing("affiliate")
    pt = t.postback_templates
    rows = conn.execute(sa.select(pt).where(pt.c.affiliate_id == affiliate_id,
                                            pt.c.status != "deleted").order_by(pt.c.id))
    return [dict(row) for row in rows.mappings()]


# --- the delivery log ---------------------------------------------------------


def list_deliveries(
    conn: sa.Connection, principal: Principal, *, affiliate_id: str | None, status: str | None,
    template_id: str | None, event_id: str | None, limit: int, before_id: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; an affiliate sees only its own rows whatever it asks for."""
    o = t.outbox
    query = sa.select(o).order_by(o.c.id.desc()).limit(limit + 1)
    if principal.role is Role.AFFILIATE:
        if affiliate_id is not None and affiliate_id != principal.affiliate_id:
            return [], None
        query = query.where(o.c.affiliate_id == principal.affiliate_id)
    elif principal.role not in (Role.MANAGER, Role.FINANCE):
        return [], None
    elif affiliate_id is not None:
        query = query.where(o.c.affiliate_id == affiliate_id)
    for column, value in ((o.c.status, status), (o.c.template_id, template_id),
                          (o.c.event_id, event_id)):
        if value is not None:
            query = query.where(column == value)
    if before_id is not None:
        query = query.where(o.c.id < before_id)
    rows = [dict(row) for row in conn.execute(query).mappings()]
    next_cursor = str(rows[limit - 1]["id"]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def delivery_for(conn: sa.Connection, outbox_id: str, principal: Principal,
                 write: bool = False) -> dict[str, Any]:
    row = _row(conn, t.outbox, outbox_id)
    allowed = may_write if write else may_read
    if row is None or not allowed(principal, row["affiliate_id"]):
        raise missing("delivery")
    return row


def attempts_of(conn: sa.Connection, outbox_id: str) -> list[dict[str, Any]]:
    a = t.outbox_attempts
    rows = conn.execute(sa.select(a).where(a.c.outbox_id == outbox_id)
                        .order_by(a.c.id.desc()).limit(MAX_ATTEMPTS_SHOWN))
    return [dict(row) for row in rows.mappings()][::-1]


def resend(conn: sa.Connection, principal: Principal, outbox_id: str,
           now: datetime) -> dict[str, Any]:
    """Start a new attempt cycle now: attempts reset, history kept, the change audited."""
    before = delivery_for(conn, outbox_id, principal, write=True)
    template = _row(conn, t.postback_templates, before["template_id"])
    if template is None or template["status"] != "active":
        raise ServiceError("conflict", "template_not_active",
                           "the template is disabled or deleted; re-enable it first")
    claimed_until = before["claimed_until"]
    if claimed_until is not None and utc(claimed_until) > now:
        raise ServiceError("conflict", "delivery_in_progress",
                           "a dispatcher is sending this delivery right now")
    o = t.outbox
    conn.execute(sa.update(o).where(o.c.id == outbox_id).values(
        status="pending", attempts=0, next_attempt_at=now, resend_count=o.c.resend_count + 1,
        claimed_by=None, claimed_until=None, updated_at=now))
    after = delivery_for(conn, outbox_id, principal)
    fields = ("status", "attempts", "next_attempt_at", "resend_count", "last_status_code")
    audit.record(conn, actor=actor_label(principal), action="delivery.resend", entity="outbox",
                 entity_id=outbox_id, now=now, before={k: before[k] for k in fields},
                 after={k: after[k] for k in fields})
    return after
