"""Table pages of portal and console: links, promo codes, postbacks, affiliates, payouts,
statements, fraud queue, reconciliation, integration health and the audit log.

Each function returns the rows of one or more tables for ``table.html``; a cell
is plain text, ``{"text", "href"}`` or ``{"post", "label", "fields"}`` (a form
button carrying the CSRF token).  Everything is escaped by the template.
Reads go through the existing services where they exist, otherwise through
one bounded query, and every list is capped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.money import MINOR_UNITS, from_minor
from clickledger.domain.roles import Principal, Role
from clickledger.outbound import admin as outbound_admin
from clickledger.services import integration_health, reconciliation
from clickledger.store import tables as t

LIST_ROWS = 200


def table(heading: str, columns: Sequence[str], rows: list[list[Any]],
          note: str = "") -> dict[str, Any]:
    return {"heading": heading, "columns": list(columns), "rows": rows, "note": note}


def link(text: Any, href: str) -> dict[str, Any]:
    return {"text": "" if text is None else str(text), "href": href}


def button(label: str, url: str, **fields: str) -> dict[str, Any]:
    return {"post": url, "label": label, "fields": fields}


def when(value: Any) -> str:
    if isinstance(value, datetime):
        return utc(value).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def amount(minor: int | None, currency: str | None) -> str:
    if minor is None or not currency:
        return ""
    if currency in MINOR_UNITS:
        return f"{currency} {from_minor(minor, currency)}"
    return f"{currency} {minor}"


def _owned(query: Any, column: Any, principal: Principal) -> Any:
    visible = principal.visible_affiliate_ids
    return query if visible is None else query.where(column.in_(sorted(visible)))


def affiliate_names(conn: sa.Connection) -> dict[str, str]:
    rows = conn.execute(sa.select(t.affiliates.c.id, t.affiliates.c.name).limit(5000))
    return {str(row.id): str(row.name) for row in rows}


def offers(conn: sa.Connection, active_only: bool = True) -> list[tuple[str, str]]:
    query = sa.select(t.offers.c.id, t.offers.c.name).order_by(t.offers.c.name).limit(500)
    if active_only:
        query = query.where(t.offers.c.status == "active")
    return [(str(row.id), str(row.name)) for row in conn.execute(query)]


def links(conn: sa.Connection, principal: Principal, base_url: str, area: str
          ) -> dict[str, Any]:
    tl = t.tracking_links.c
    query = _owned(sa.select(t.tracking_links).order_by(tl.created_at.desc()).limit(LIST_ROWS),
                   tl.affiliate_id, principal)
    names = affiliate_names(conn)
    offer_names = dict(offers(conn, active_only=False))
    rows = []
    for row in conn.execute(query):
        url = f"{base_url}/c/{row.code}"
        subs = " / ".join(s for s in (row.sub1, row.sub2, row.sub3, row.sub4, row.sub5) if s)
        rows.append([link(row.code, f"/{area}/links/{row.id}"),
                     names.get(str(row.affiliate_id), ""), offer_names.get(str(row.offer_id), ""),
                     subs, row.status, {"copy": url}])
    return table("Tracking links", ["Code", "Affiliate", "Offer", "Sub-ids", "Status", "URL"],
                 rows)


def promo_codes(conn: sa.Connection, principal: Principal) -> dict[str, Any]:
    pc = t.promo_codes.c
    query = _owned(sa.select(t.promo_codes).order_by(pc.code).limit(LIST_ROWS),
                   pc.affiliate_id, principal)
    names = affiliate_names(conn)
    brands = {str(r.id): str(r.name) for r in conn.execute(
        sa.select(t.brands.c.id, t.brands.c.name))}
    rows = [[row.code, names.get(str(row.affiliate_id), ""), brands.get(str(row.brand_id), ""),
             row.status, when(row.created_at)] for row in conn.execute(query)]
    return table("Promo codes", ["Code", "Affiliate", "Brand", "Status", "Created"], rows)


def postbacks(conn: sa.Connection, principal: Principal) -> list[dict[str, Any]]:
    pt = t.postback_templates.c
    query = _owned(sa.select(t.postback_templates).where(pt.status != "deleted")
                   .order_by(pt.created_at.desc()).limit(LIST_ROWS), pt.affiliate_id, principal)
    names = affiliate_names(conn)
    templates = [[names.get(str(row.affiliate_id), ""), row.kind, row.event_kind or "every",
                  row.url_template, row.status, row.disabled_reason or ""]
                 for row in conn.execute(query)]
    deliveries, _cursor = outbound_admin.list_deliveries(
        conn, principal, affiliate_id=None, status=None, template_id=None, event_id=None,
        limit=100, before_id=None)
    log = [[when(d["created_at"]), names.get(str(d["affiliate_id"]), ""), d["status"],
            d["attempts"], d["last_status_code"] or "", d["url"], d["last_error"] or ""]
           for d in deliveries]
    return [
        table("Postback templates", ["Affiliate", "Kind", "Event", "URL template", "Status",
                                     "Why disabled"], templates),
        table("Delivery log (newest 100)", ["Queued", "Affiliate", "Status", "Attempts",
                                            "Last HTTP", "URL", "Last error"], log),
    ]


def affiliates(conn: sa.Connection, principal: Principal, area: str) -> dict[str, Any]:
    a = t.affiliates.c
    query = sa.select(t.affiliates).order_by(a.created_at).limit(LIST_ROWS)
    if principal.role is Role.AFFILIATE:
        query = query.where(a.id.in_(sorted(principal.visible_affiliate_ids or ())),
                            a.id != principal.affiliate_id)
    names = affiliate_names(conn)
    deals = [(str(r.id), str(r.name)) for r in conn.execute(
        sa.select(t.deals.c.id, t.deals.c.name).where(t.deals.c.status == "active")
        .order_by(t.deals.c.name).limit(200))]
    rows = []
    for row in conn.execute(query):
        cells: list[Any] = [link(row.name, f"/{area}/affiliates/{row.id}"), row.email,
                            names.get(str(row.parent_id), "") if row.parent_id else "",
                            row.status, row.payout_currency]
        if area == "console" and principal.role is Role.MANAGER:
            actions: list[Any] = []
            if row.status == "pending":
                actions.append(button("Approve", f"/console/affiliates/{row.id}/approve"))
            if deals:
                actions.append({"assign": f"/console/affiliates/{row.id}/assign",
                                "deals": deals})
            cells.append(actions)
        rows.append(cells)
    columns = ["Name", "Email", "Parent", "Status", "Currency"]
    if area == "console" and principal.role is Role.MANAGER:
        columns.append("Actions")
    heading = "Affiliates" if area == "console" else "Sub-affiliates"
    return table(heading, columns, rows)


def payouts_of(conn: sa.Connection, principal: Principal) -> dict[str, Any]:
    p, r = t.payouts.c, t.payout_runs.c
    query = _owned(sa.select(p.affiliate_id, p.amount_minor, p.currency, p.payout_amount_minor,
                             p.payout_currency, p.status, p.payment_reference, r.period_start,
                             r.period_end)
                   .select_from(t.payouts.join(t.payout_runs, r.id == p.run_id))
                   .order_by(r.period_start.desc()).limit(LIST_ROWS), p.affiliate_id, principal)
    names = affiliate_names(conn)
    rows = [[names.get(str(row.affiliate_id), ""), f"{when(row.period_start)[:10]} – "
             f"{when(row.period_end)[:10]}", amount(row.amount_minor, row.currency),
             amount(row.payout_amount_minor, row.payout_currency), row.status,
             row.payment_reference or ""] for row in conn.execute(query)]
    return table("Payouts", ["Affiliate", "Period", "Balance paid", "Net payout", "Status",
                             "Reference"], rows)


def statement_months(principal: Principal, affiliate_ids: list[tuple[str, str]], now: datetime,
                     area: str) -> dict[str, Any]:
    months = []
    year, month = now.year, now.month
    for _ in range(6):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    rows = [[name, *[link(m, f"/{area}/statement?affiliate_id={aid}&month={m}") for m in months]]
            for aid, name in affiliate_ids[:50]]
    return table("Statements", ["Affiliate", *["Month"] * len(months)], rows,
                 "A statement lists every ledger line of the month with its explanation.")


def payout_runs(conn: sa.Connection, principal: Principal) -> dict[str, Any]:
    r = t.payout_runs.c
    rows = []
    for row in conn.execute(sa.select(t.payout_runs).order_by(r.period_start.desc())
                            .limit(LIST_ROWS)):
        actions: list[Any] = []
        if row.status == "draft" and principal.role is Role.FINANCE:
            actions.append(button("Approve", f"/console/payouts/{row.id}/approve"))
        rows.append([link(f"{when(row.period_start)[:10]} – {when(row.period_end)[:10]}",
                          f"/console/payouts/{row.id}"), row.status, row.created_by,
                     row.approved_by or "", actions])
    return table("Payout runs", ["Period", "Status", "Created by", "Approved by", "Actions"],
                 rows, "Runs are created by finance (API or CLI); approval needs a second "
                       "person (four eyes).")


def payout_items(items: list[dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
    rows = [[names.get(str(i["affiliate_id"]), ""), amount(i["amount_minor"], i["currency"]),
             amount(i["payout_amount_minor"], i["payout_currency"]), i.get("method") or "",
             i["status"], i.get("failure_reason") or ""] for i in items]
    return table("Payouts in this run", ["Affiliate", "Balance", "Net payout", "Method",
                                         "Status", "Failure"], rows)


def fraud_queue(conn: sa.Connection, principal: Principal) -> dict[str, Any]:
    a = t.fraud_assessments.c
    query = sa.select(t.fraud_assessments).where(
        a.status == "open", a.action.in_(("flag", "hold", "reject"))
    ).order_by(a.score.desc(), a.created_at).limit(LIST_ROWS)
    names = affiliate_names(conn)
    rows = []
    for row in conn.execute(query):
        reasons = "; ".join(str(r.get("reason", "")) for r in (row.reasons or [])[:5])
        actions: list[Any] = []
        if principal.role is Role.MANAGER:
            actions = [button("Confirm fraud", f"/console/fraud/{row.id}/confirm"),
                       button("Dismiss", f"/console/fraud/{row.id}/dismiss")]
        rows.append([when(row.created_at), names.get(str(row.affiliate_id), ""), row.subject,
                     row.score, row.action, reasons, actions])
    return table("Fraud review queue (open)", ["When", "Affiliate", "Subject", "Score",
                                               "Action", "Reasons", "Decide"], rows)


def reconciliation_runs(conn: sa.Connection) -> dict[str, Any]:
    rows = [[link(when(r["created_at"]), f"/console/reconciliation/{r['id']}"),
             r["statement_kind"], r["file_name"] or "", r["status"],
             ", ".join(f"{k}: {v}" for k, v in sorted((r["summary"] or {}).items())
                       if not isinstance(v, dict | list))[:300]]
            for r in reconciliation.list_runs(conn, LIST_ROWS)]
    return table("Reconciliation runs", ["Created", "Statement", "File", "Status", "Summary"],
                 rows, "Runs are started with `clickledger reconcile` or the API.")


def reconciliation_items(conn: sa.Connection, run_id: str) -> dict[str, Any]:
    rows = [[i["line_no"] or "", i["match_key"], i["flag"], amount(i["ours_minor"], i["currency"]),
             amount(i["theirs_minor"], i["theirs_currency"] or i["currency"]),
             amount(i["difference_minor"], i["currency"]), i["decision"]]
            for i in reconciliation.list_items(conn, run_id, {}, LIST_ROWS)]
    return table("Items", ["Line", "Match key", "Flag", "Ours", "Theirs", "Difference",
                           "Decision"], rows)


def integrations(conn: sa.Connection, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for item in integration_health.list_integrations(conn):
        health = integration_health.health(conn, item["id"], now=now, hours=24)
        totals = health["totals"]
        last_rejection = health["recent_rejections"][0]["reason"] \
            if health["recent_rejections"] else ""
        rows.append([item["name"], item["status"], health["last_event_at"] or "never",
                     "" if health["silent_for_s"] is None else f"{health['silent_for_s']} s",
                     totals["lag_ms_avg"] if totals["lag_ms_avg"] is not None else "",
                     totals["events_per_hour"], totals["accepted"], totals["rejected"],
                     last_rejection])
    o = t.outbox.c
    depth: dict[str, int] = dict(conn.execute(
        sa.select(o.status, sa.func.count()).group_by(o.status)).all())
    dead = conn.execute(sa.select(t.outbox).where(o.status == "dead")
                        .order_by(o.updated_at.desc()).limit(20)).all()
    outbox_rows = [[status, count] for status, count in sorted(depth.items())]
    dead_rows = [[when(d.updated_at), d.url, d.attempts, d.last_status_code or "",
                  d.last_error or ""] for d in dead]
    return [
        table("Operator integrations (last 24 h)", [
            "Integration", "Status", "Last event", "Silent for", "Avg lag ms", "Events/hour",
            "Accepted", "Rejected", "Last reject reason"], rows),
        table("Outbound queue", ["Status", "Rows"], outbox_rows,
              "pending = queue depth; dead = dead letters."),
        table("Dead letters (newest 20)", ["When", "URL", "Attempts", "Last HTTP", "Error"],
              dead_rows),
    ]


def audit_log(conn: sa.Connection) -> dict[str, Any]:
    a = t.audit_log.c
    rows = [[when(r.at), r.actor, r.action, r.entity, r.entity_id]
            for r in conn.execute(sa.select(t.audit_log).order_by(a.at.desc()).limit(LIST_ROWS))]
    return table("Audit log (newest 200)", ["When", "Actor", "Action", "Entity", "Id"], rows)
