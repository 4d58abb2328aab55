"""Programme set-up use cases: brands, offers, affiliates, tracking links and promo codes.

Every function runs inside the caller's transaction, enforces the rules
(foreign keys, allowed landing domains, no cycles in affiliate trees, unique
codes) and writes an audit row for every change it makes.  Callers pass
already-parsed values; refusals are ``ServiceError``s with stable codes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.domain.payment_methods import PaymentDetailsError, validate_payment_details
from clickledger.domain.roles import Principal, Role
from clickledger.ids import new_id
from clickledger.services import audit
from clickledger.services.errors import conflict, invalid, missing
from clickledger.services.landing_urls import UrlRuleError, check_landing_url
from clickledger.store import programme as repo
from clickledger.store import tables as t
from clickledger.store.paging import Page, fetch_page

MAX_TREE_DEPTH = 10  # levels of sub-affiliates under a top affiliate (api key visibility walks 10)
GENERATED_CODE_BYTES = 6  # 8 url-safe characters
GENERATED_CODE_ATTEMPTS = 5


def actor_label(principal: Principal) -> str:
    """Who made a change, as the audit log shows it: the key's id and name."""
    return f"api_key:{principal.key_id} {principal.name}"[:200]


def get_visible(
    conn: sa.Connection, table: sa.Table, row_id: str, principal: Principal, entity: str
) -> dict[str, Any]:
    """The row if ``principal`` may see it; otherwise the same not-found as a missing row."""
    row = repo.get_row(conn, table, row_id)
    if row is None:
        raise missing(entity)
    owner = _owner_of(table, row)
    if owner is not None and not principal.can_see_affiliate(owner):
        raise missing(entity)
    return row


def _owner_of(table: sa.Table, row: Mapping[str, Any]) -> str | None:
    if table is t.affiliates:
        return str(row["id"])
    if "affiliate_id" in table.c:
        return str(row["affiliate_id"])
    return None


def _owner_column(table: sa.Table) -> sa.Column[Any] | None:
    """The column naming the affiliate a row belongs to; None for public programme data."""
    if table is t.affiliates:
        return table.c.id
    return table.c.get("affiliate_id")


def list_visible(
    conn: sa.Connection,
    table: sa.Table,
    principal: Principal,
    filters: Mapping[str, Any],
    *,
    limit: int,
    cursor: str | None,
) -> Page:
    """A page of ``table`` filtered by equality on ``filters`` and by what the caller may see."""
    where = repo.equality_filters(table, filters)
    owner = _owner_column(table)
    if principal.role is Role.AFFILIATE and owner is not None:
        where += repo.within_affiliates(owner, principal.visible_affiliate_ids or frozenset())
    return fetch_page(conn, table, where=where, limit=limit, cursor=cursor)


def _create(
    conn: sa.Connection, table: sa.Table, entity: str, values: Mapping[str, Any],
    actor: str, now: datetime, duplicate: str,
) -> dict[str, Any]:
    row_id = new_id()
    if not repo.insert_unique(
        conn, table, {**values, "id": row_id, "created_at": now, "updated_at": now}
    ):
        raise conflict(duplicate)
    row = repo.get_row(conn, table, row_id)
    assert row is not None
    audit.record(conn, actor=actor, action="create", entity=entity, entity_id=row_id,
                 now=now, after=row)
    return row


def _update(
    conn: sa.Connection, table: sa.Table, entity: str, before: dict[str, Any],
    changes: Mapping[str, Any], actor: str, now: datetime,
) -> dict[str, Any]:
    effective = {name: value for name, value in changes.items() if before.get(name) != value}
    if not effective:
        return before
    row_id = str(before["id"])
    repo.update_row(conn, table, row_id, {**effective, "updated_at": now})
    after = repo.get_row(conn, table, row_id)
    assert after is not None
    audit.record(conn, actor=actor, action="update", entity=entity, entity_id=row_id,
                 now=now, before=before, after=after)
    return after


def _require(conn: sa.Connection, table: sa.Table, row_id: str, code: str) -> dict[str, Any]:
    row = repo.get_row(conn, table, row_id)
    if row is None:
        raise invalid(code, f"{code.removeprefix('unknown_')} {row_id} does not exist")
    return row


# --- brands -------------------------------------------------------------------


def create_brand(
    conn: sa.Connection, values: Mapping[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    return _create(conn, t.brands, "brand", values, actor, now,
                   f"a brand named {values['name']!r} already exists")


def update_brand(
    conn: sa.Connection, brand_id: str, changes: Mapping[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    before = repo.get_row(conn, t.brands, brand_id)
    if before is None:
        raise missing("brand")
    name = changes.get("name")
    if name is not None and repo.value_taken(conn, t.brands.c.name, name, brand_id):
        raise conflict(f"a brand named {name!r} already exists")
    return _update(conn, t.brands, "brand", before, changes, actor, now)


# --- offers -------------------------------------------------------------------


def _check_offer_url(landing_url: str, allowed_domains: list[str]) -> None:
    try:
        check_landing_url(landing_url, allowed_domains)
    except UrlRuleError as exc:
        raise invalid(exc.code, str(exc)) from exc


def create_offer(
    conn: sa.Connection, values: Mapping[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    _require(conn, t.brands, values["brand_id"], "unknown_brand")
    _check_offer_url(values["landing_url"], values["allowed_domains"])
    return _create(conn, t.offers, "offer", values, actor, now, "offer already exists")


def update_offer(
    conn: sa.Connection, offer_id: str, changes: Mapping[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    before = repo.get_row(conn, t.offers, offer_id)
    if before is None:
        raise missing("offer")
    if "landing_url" in changes or "allowed_domains" in changes:
        _check_offer_url(
            changes.get("landing_url", before["landing_url"]),
            changes.get("allowed_domains", before["allowed_domains"]),
        )
    return _update(conn, t.offers, "offer", before, changes, actor, now)


# --- affiliates ---------------------------------------------------------------


def _check_parent(conn: sa.Connection, affiliate_id: str | None, parent_id: str) -> None:
    """The parent exists, is not the affiliate or one of its subs, and the tree stays shallow."""
    _require(conn, t.affiliates, parent_id, "unknown_parent")
    chain = repo.ancestor_ids(conn, parent_id, MAX_TREE_DEPTH)
    if affiliate_id is not None and (parent_id == affiliate_id or affiliate_id in chain):
        raise invalid("affiliate_cycle", "the parent is the affiliate itself or one of its subs")
    if len(chain) + 1 > MAX_TREE_DEPTH:
        raise invalid("tree_too_deep", f"affiliate trees are at most {MAX_TREE_DEPTH} deep")


def _with_payment_details(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``payment_details`` (with its ``method``) and set ``payment_method`` from it."""
    result = dict(values)
    if "payment_details" not in values:
        return result
    details = values["payment_details"]
    if details is None:
        return {**result, "payment_method": None}
    try:
        normalized = validate_payment_details(details)
    except PaymentDetailsError as exc:
        raise invalid(exc.code, exc.message, {"field": exc.field}) from exc
    return {**result, "payment_details": normalized, "payment_method": normalized["method"]}


def create_affiliate(
    conn: sa.Connection, values: Mapping[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    if values.get("parent_id") is not None:
        _check_parent(conn, None, values["parent_id"])
    values = _with_payment_details(values)
    return _create(conn, t.affiliates, "affiliate", values, actor, now,
                   f"an affiliate with email {values['email']!r} already exists")


def update_affiliate(
    conn: sa.Connection, affiliate_id: str, changes: Mapping[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    before = repo.get_row(conn, t.affiliates, affiliate_id)
    if before is None:
        raise missing("affiliate")
    if changes.get("parent_id") is not None:
        _check_parent(conn, str(before["id"]), changes["parent_id"])
    email = changes.get("email")
    if email is not None and repo.value_taken(conn, t.affiliates.c.email, email, affiliate_id):
        raise conflict(f"an affiliate with email {email!r} already exists")
    changes = _with_payment_details(changes)
    return _update(conn, t.affiliates, "affiliate", before, changes, actor, now)


SELF_EDITABLE = frozenset({"name"})


def update_own_profile(
    conn: sa.Connection, affiliate_id: str, changes: Mapping[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    """An affiliate's change to itself: only the fields in ``SELF_EDITABLE``."""
    before = repo.get_row(conn, t.affiliates, affiliate_id)
    if before is None:
        raise missing("affiliate")
    refused = sorted(set(changes) - SELF_EDITABLE)
    if refused:
        raise invalid("field_not_editable", f"an affiliate cannot change {', '.join(refused)}")
    return _update(conn, t.affiliates, "affiliate", before, changes, actor, now)


# --- tracking links -------------------------------------------------------------


def _check_link_targets(
    conn: sa.Connection, affiliate_id: str, offer_id: str, principal: Principal
) -> None:
    if not principal.can_see_affiliate(affiliate_id):
        raise invalid("unknown_affiliate", f"affiliate {affiliate_id} does not exist")
    affiliate = _require(conn, t.affiliates, affiliate_id, "unknown_affiliate")
    offer = _require(conn, t.offers, offer_id, "unknown_offer")
    if principal.role is Role.AFFILIATE:
        if affiliate["status"] != "active":
            raise invalid("affiliate_not_active", "links are for active affiliates only")
        if offer["status"] != "active":
            raise invalid("offer_not_active", "links can be created on active offers only")


def create_link(
    conn: sa.Connection, values: Mapping[str, Any], principal: Principal, now: datetime
) -> dict[str, Any]:
    """A tracking link; a code is generated (url-safe, unique) unless one is given."""
    _check_link_targets(conn, values["affiliate_id"], values["offer_id"], principal)
    actor = actor_label(principal)
    if values.get("code"):
        return _create(conn, t.tracking_links, "tracking_link", values, actor, now,
                       f"link code {values['code']!r} is already taken")
    for _ in range(GENERATED_CODE_ATTEMPTS):
        code = secrets.token_urlsafe(GENERATED_CODE_BYTES)
        if not repo.value_taken(conn, t.tracking_links.c.code, code):
            return _create(conn, t.tracking_links, "tracking_link", {**values, "code": code},
                           actor, now, f"link code {code!r} is already taken")
    raise conflict("could not generate a free link code; try again")


def update_link(
    conn: sa.Connection, link_id: str, changes: Mapping[str, Any], principal: Principal,
    now: datetime,
) -> dict[str, Any]:
    before = get_visible(conn, t.tracking_links, link_id, principal, "tracking link")
    return _update(conn, t.tracking_links, "tracking_link", before, changes,
                   actor_label(principal), now)


# --- promo codes ----------------------------------------------------------------


def _check_promo_offer(conn: sa.Connection, offer_id: str, brand_id: str) -> None:
    offer = _require(conn, t.offers, offer_id, "unknown_offer")
    if str(offer["brand_id"]) != brand_id:
        raise invalid("offer_brand_mismatch", "the offer belongs to another brand")


def create_promo_code(
    conn: sa.Connection, values: Mapping[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    _require(conn, t.affiliates, values["affiliate_id"], "unknown_affiliate")
    _require(conn, t.brands, values["brand_id"], "unknown_brand")
    if values.get("offer_id") is not None:
        _check_promo_offer(conn, values["offer_id"], values["brand_id"])
    return _create(conn, t.promo_codes, "promo_code", values, actor, now,
                   f"promo code {values['code']!r} is already taken")


def update_promo_code(
    conn: sa.Connection, promo_id: str, changes: Mapping[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    before = repo.get_row(conn, t.promo_codes, promo_id)
    if before is None:
        raise missing("promo code")
    if changes.get("offer_id") is not None:
        _check_promo_offer(conn, changes["offer_id"], str(before["brand_id"]))
    return _update(conn, t.promo_codes, "promo_code", before, changes, actor, now)
