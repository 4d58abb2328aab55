"""Operator integrations: creating them (secrets shown once) and watching their health.

Health answers "are postbacks still arriving, and are they good?": the last
event time, events per hour, duplicates and rejections, the lag between the
event's own time and its arrival, and the most recent rejection reasons.  It
reads ``integration_health_hourly``, which ingestion keeps up to date in the
same transactions as the events.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.events import EventKind
from clickledger.domain.roles import Role
from clickledger.ids import new_id
from clickledger.ingest.integrations import parse_networks
from clickledger.ingest.mapping import map_errors, normalize_maps
from clickledger.services import audit
from clickledger.store import tables as t
from clickledger.store.api_keys import issue_key

MAX_HEALTH_HOURS = 24 * 31
RECENT_REJECTIONS = 20


class IntegrationError(ValueError):
    """An integration that cannot be created as asked; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class NewIntegration:
    brand_id: str
    name: str
    ip_allowlist: list[str] | None = None
    parameter_map: dict[str, str] | None = None
    status_map: dict[str, str] | None = None
    require_signature: bool = True
    pixel: bool = False


def _check(conn: sa.Connection, spec: NewIntegration) -> None:
    if conn.execute(sa.select(t.brands.c.id).where(t.brands.c.id == spec.brand_id)).first() is None:
        raise IntegrationError("unknown_brand", "brand not found")
    same_name = sa.select(t.integrations.c.id).where(t.integrations.c.name == spec.name)
    if conn.execute(same_name).first():
        raise IntegrationError("name_taken", "an integration with this name exists")
    try:
        parse_networks(spec.ip_allowlist)
    except ValueError as exc:
        raise IntegrationError("invalid_ip_allowlist", str(exc)) from exc
    problems = map_errors(spec.parameter_map, spec.status_map,
                          frozenset(kind.value for kind in EventKind))
    if problems:
        raise IntegrationError("invalid_map", "; ".join(problems))
    if not spec.require_signature and not spec.ip_allowlist:
        raise IntegrationError("unsigned_needs_allowlist",
                               "an integration without signatures needs an IP allowlist")


def create_integration(
    conn: sa.Connection, spec: NewIntegration, *, actor: str, now: datetime
) -> dict[str, Any]:
    """Create the integration and its API key; the secrets are in the answer and nowhere else."""
    _check(conn, spec)
    params, words = normalize_maps(spec.parameter_map, spec.status_map)
    integration_id = new_id()
    signing_secret = secrets.token_urlsafe(32)
    pixel_key = f"px_{secrets.token_urlsafe(16)}" if spec.pixel else None
    conn.execute(t.integrations.insert().values(
        id=integration_id, brand_id=spec.brand_id, name=spec.name, signing_secret=signing_secret,
        require_signature=spec.require_signature, ip_allowlist=spec.ip_allowlist or None,
        parameter_map=params or None, status_map=words or None, pixel_key=pixel_key,
        status="active", created_at=now, updated_at=now,
    ))
    key = issue_key(conn, role=Role.INTEGRATION, name=f"integration {spec.name}", now=now,
                    integration_id=integration_id)
    audit.record(conn, actor=actor, action="integration.create", entity="integration",
                 entity_id=integration_id, now=now,
                 after={"name": spec.name, "brand_id": spec.brand_id, "pixel": spec.pixel,
                        "ip_allowlist": spec.ip_allowlist, "parameter_map": params,
                        "status_map": words, "require_signature": spec.require_signature})
    return {"id": integration_id, "key_id": integration_id, "brand_id": spec.brand_id,
            "name": spec.name, "signing_secret": signing_secret, "api_key": key.token,
            "pixel_key": pixel_key, "require_signature": spec.require_signature,
            "ip_allowlist": spec.ip_allowlist or [], "parameter_map": params,
            "status_map": words}


def describe(row: sa.Row[Any]) -> dict[str, Any]:
    """An integration without its secrets."""
    return {"id": str(row.id), "key_id": str(row.id), "brand_id": str(row.brand_id),
            "name": row.name, "status": row.status, "require_signature": row.require_signature,
            "ip_allowlist": row.ip_allowlist or [], "parameter_map": row.parameter_map or {},
            "status_map": row.status_map or {}, "pixel": row.pixel_key is not None,
            "created_at": utc(row.created_at).isoformat()}


def list_integrations(conn: sa.Connection, limit: int = 500) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(t.integrations).order_by(t.integrations.c.name).limit(limit))
    return [describe(row) for row in rows]


def get_integration(conn: sa.Connection, integration_id: str) -> sa.Row[Any] | None:
    return conn.execute(
        sa.select(t.integrations).where(t.integrations.c.id == integration_id)).first()


def _hour_row(row: sa.Row[Any]) -> dict[str, Any]:
    avg = row.lag_ms_sum // row.accepted if row.accepted else None
    return {"hour": utc(row.hour).isoformat(), "accepted": row.accepted,
            "duplicates": row.duplicates, "rejected": row.rejected, "lag_ms_avg": avg,
            "lag_ms_max": row.lag_ms_max}


def health(
    conn: sa.Connection, integration_id: str, *, now: datetime, hours: int = 24
) -> dict[str, Any]:
    """The integration's health over the last ``hours`` hours (at most a month)."""
    hours = max(1, min(hours, MAX_HEALTH_HOURS))
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    h = t.integration_health_hourly
    rows = conn.execute(sa.select(h).where(h.c.integration_id == integration_id,
                                           h.c.hour >= since).order_by(h.c.hour)).all()
    last = conn.execute(sa.select(sa.func.max(h.c.last_event_at))
                        .where(h.c.integration_id == integration_id)).scalar()
    r = t.ingest_rejections
    recent = conn.execute(sa.select(r.c.reason_code, r.c.message, r.c.created_at)
                          .where(r.c.integration_id == integration_id)
                          .order_by(r.c.created_at.desc()).limit(RECENT_REJECTIONS)).all()
    accepted = sum(row.accepted for row in rows)
    lag_sum = sum(row.lag_ms_sum for row in rows)
    last_at = utc(last) if last is not None else None
    return {
        "integration_id": integration_id,
        "last_event_at": last_at.isoformat() if last_at else None,
        "silent_for_s": int((now - last_at).total_seconds()) if last_at else None,
        "hours": hours,
        "totals": {"accepted": accepted, "duplicates": sum(row.duplicates for row in rows),
                   "rejected": sum(row.rejected for row in rows),
                   "events_per_hour": round(accepted / hours, 2),
                   "lag_ms_avg": lag_sum // accepted if accepted else None,
                   "lag_ms_max": max((row.lag_ms_max for row in rows), default=None)},
        "per_hour": [_hour_row(row) for row in rows],
        "recent_rejections": [{"reason": x.reason_code, "message": x.message,
                               "at": utc(x.created_at).isoformat()} for x in recent],
    }
