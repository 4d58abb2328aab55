"""Deals as managers run them: create with a first version, add versions, assign affiliates.

Terms are validated by the deal type's parser before anything is stored.
Versions and assignments take effect now or later, never in the past: a
closed period never changes and the ledger must replay identically.  Every
change is audited.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.deals.base import DealKind
from clickledger.domain.deals.registry import parse_terms
from clickledger.domain.fx import FxRate
from clickledger.domain.money import MoneyError, normalize_currency
from clickledger.domain.terms import TermsError, merge
from clickledger.ids import new_id
from clickledger.services import audit
from clickledger.services.errors import ServiceError, conflict, invalid, missing
from clickledger.store import tables as t
from clickledger.store.fx import import_rates

BACKDATE_TOLERANCE_S = 60


def _check_terms(kind: str, terms: dict[str, Any]) -> None:
    try:
        parse_terms(kind, terms)
    except TermsError as exc:
        raise invalid("invalid_terms", str(exc)) from exc


def _effective(effective_from: datetime | None, now: datetime) -> datetime:
    moment = utc(effective_from) if effective_from is not None else now
    if (now - moment).total_seconds() > BACKDATE_TOLERANCE_S:
        raise invalid("backdated", "effective_from must not be in the past: closed periods "
                      "never change and the ledger must replay identically")
    return moment


def deal_row(conn: sa.Connection, deal_id: str) -> dict[str, Any]:
    """A deal with its versions (oldest first)."""
    row = conn.execute(sa.select(t.deals).where(t.deals.c.id == deal_id)).mappings().first()
    if row is None:
        raise missing("deal")
    v = t.deal_versions
    versions = [dict(r) for r in conn.execute(sa.select(v).where(v.c.deal_id == deal_id)
                                              .order_by(v.c.version)).mappings()]
    return {**dict(row), "versions": versions}


def create_deal(conn: sa.Connection, *, name: str, brand_id: str, kind: str, currency: str,
                terms: dict[str, Any], effective_from: datetime | None, actor: str,
                now: datetime) -> dict[str, Any]:
    """A new deal and its version 1."""
    if kind not in {k.value for k in DealKind}:
        raise invalid("invalid_kind", f"kind must be one of {', '.join(k.value for k in DealKind)}")
    try:
        code = normalize_currency(currency)
    except MoneyError as exc:
        raise invalid("unknown_currency", str(exc)) from exc
    _check_terms(kind, terms)
    if conn.execute(sa.select(t.brands.c.id).where(t.brands.c.id == brand_id)).first() is None:
        raise missing("brand")
    if conn.execute(sa.select(t.deals.c.id).where(t.deals.c.name == name)).first() is not None:
        raise conflict(f"a deal named {name!r} exists")
    deal_id = new_id()
    conn.execute(t.deals.insert().values(id=deal_id, name=name, brand_id=brand_id, kind=kind,
                                         currency=code, created_at=now, updated_at=now))
    conn.execute(t.deal_versions.insert().values(
        id=new_id(), deal_id=deal_id, version=1, terms=terms, created_at=now,
        effective_from=_effective(effective_from, now)))
    deal = deal_row(conn, deal_id)
    audit.record(conn, actor=actor, action="deal.create", entity="deal", entity_id=deal_id,
                 now=now, after=deal)
    return deal


def add_version(conn: sa.Connection, *, deal_id: str, terms: dict[str, Any],
                effective_from: datetime | None, actor: str, now: datetime) -> dict[str, Any]:
    """A new version of the deal's terms taking effect at ``effective_from`` (default now)."""
    deal = deal_row(conn, deal_id)
    _check_terms(deal["kind"], terms)
    moment = _effective(effective_from, now)
    number = max(v["version"] for v in deal["versions"]) + 1
    conn.execute(t.deal_versions.insert().values(
        id=new_id(), deal_id=deal_id, version=number, terms=terms, effective_from=moment,
        created_at=now))
    after = deal_row(conn, deal_id)
    audit.record(conn, actor=actor, action="deal.version", entity="deal", entity_id=deal_id,
                 now=now, before={"versions": len(deal["versions"])}, after=after)
    return after


def assign(conn: sa.Connection, *, deal_id: str, affiliate_id: str,
           overrides: dict[str, Any] | None, effective_from: datetime | None, actor: str,
           now: datetime) -> dict[str, Any]:
    """Put an affiliate on a deal; an open assignment to another deal of the same brand and
    kind ends where this one starts."""
    deal = deal_row(conn, deal_id)
    if conn.execute(sa.select(t.affiliates.c.id).where(t.affiliates.c.id == affiliate_id)
                    ).first() is None:
        raise missing("affiliate")
    latest = deal["versions"][-1]
    try:
        parse_terms(deal["kind"], merge(latest["terms"], overrides))
    except TermsError as exc:
        raise invalid("invalid_overrides", str(exc)) from exc
    moment = _effective(effective_from, now)
    a, d = t.deal_assignments, t.deals
    same = sa.select(d.c.id).where(d.c.brand_id == deal["brand_id"], d.c.kind == deal["kind"])
    conn.execute(a.update().where(a.c.affiliate_id == affiliate_id, a.c.effective_to.is_(None),
                                  a.c.deal_id.in_(same))
                 .values(effective_to=moment))
    assignment_id = new_id()
    row = {"id": assignment_id, "affiliate_id": affiliate_id, "deal_id": deal_id,
           "effective_from": moment, "effective_to": None, "overrides": overrides or None,
           "created_at": now}
    conn.execute(a.insert().values(**row))
    audit.record(conn, actor=actor, action="deal.assign", entity="deal_assignment",
                 entity_id=assignment_id, now=now, after=row)
    return row


def list_deals(conn: sa.Connection, brand_id: str | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
    query = sa.select(t.deals.c.id).order_by(t.deals.c.id).limit(limit)
    if brand_id:
        query = query.where(t.deals.c.brand_id == brand_id)
    return [deal_row(conn, deal_id) for deal_id in conn.execute(query).scalars()]


def assignments_of(conn: sa.Connection, deal_id: str) -> list[dict[str, Any]]:
    a = t.deal_assignments
    deal_row(conn, deal_id)
    return [dict(r) for r in conn.execute(sa.select(a).where(a.c.deal_id == deal_id)
                                          .order_by(a.c.effective_from)).mappings()]


def import_fx(conn: sa.Connection, rows: list[dict[str, Any]], source: str, actor: str,
              now: datetime) -> dict[str, Any]:
    """Load dated FX rates with their source; returns the import summary (audited)."""
    rates = []
    for index, row in enumerate(rows):
        try:
            rate = Decimal(str(row["rate"]))
            if not rate.is_finite() or rate <= 0:
                raise InvalidOperation
            rates.append(FxRate(row["day"], normalize_currency(str(row["base"])),
                                normalize_currency(str(row["quote"])), rate, source))
        except (KeyError, InvalidOperation, MoneyError) as exc:
            raise invalid("invalid_rate", f"row {index + 1}: not a valid rate ({exc})") from exc
    summary = import_rates(conn, rates, now)
    result = {"source": source, "received": summary.received, "inserted": summary.inserted,
              "unchanged": summary.unchanged, "conflicting": summary.conflicting}
    audit.record(conn, actor=actor, action="fx.import", entity="fx_rates", entity_id=source[:64],
                 now=now, after=result)
    if summary.conflicting:
        raise ServiceError("conflict", "fx_rate_conflict",
                           "rates already stored with another value (rates never change)",
                           summary.conflicting)
    return result
