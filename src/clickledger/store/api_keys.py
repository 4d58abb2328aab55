"""API keys for machines: ``cl_<prefix>_<secret>``, stored as a SHA-256 hash of the secret.

The secret is 32 random bytes, so a fast hash is safe (no dictionary to guess
from); people's passwords use argon2 instead.  Lookups go by the public prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from clickledger.domain.roles import Principal, Role
from clickledger.ids import new_id
from clickledger.store import tables as t

KEY_PREFIX = "cl"
MAX_KEY_LENGTH = 128


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    token: str  # shown once, never stored


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """``cl_<prefix>_<secret>`` into (prefix, secret), or None when malformed."""
    if len(token) > MAX_KEY_LENGTH:
        return None
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def issue_key(
    conn: sa.Connection,
    *,
    role: Role,
    name: str,
    now: datetime,
    affiliate_id: str | None = None,
    integration_id: str | None = None,
) -> IssuedKey:
    """Create a key for ``role``; the returned token is the only copy of the secret."""
    if role is Role.AFFILIATE and affiliate_id is None:
        raise ValueError("an affiliate key needs an affiliate_id")
    if role is Role.INTEGRATION and integration_id is None:
        raise ValueError("an integration key needs an integration_id")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key_id = new_id()
    conn.execute(
        t.api_keys.insert().values(
            id=key_id, prefix=prefix, secret_hash=_hash(secret), role=role.value, name=name,
            affiliate_id=affiliate_id, integration_id=integration_id, created_at=now,
        )
    )
    return IssuedKey(key_id=key_id, token=f"{KEY_PREFIX}_{prefix}_{secret}")


def descendant_ids(conn: sa.Connection, affiliate_id: str, max_depth: int = 10) -> frozenset[str]:
    """The affiliate and every sub-affiliate under it, ``max_depth`` levels at most."""
    seen = {affiliate_id}
    frontier = [affiliate_id]
    for _ in range(max_depth):
        if not frontier:
            break
        rows = conn.execute(
            sa.select(t.affiliates.c.id).where(t.affiliates.c.parent_id.in_(frontier))
        ).scalars()
        frontier = [row for row in rows if row not in seen]
        seen.update(frontier)
    return frozenset(seen)


def authenticate(conn: sa.Connection, token: str) -> Principal | None:
    """The principal behind ``token``, or None for unknown, malformed or revoked keys."""
    parts = split_token(token)
    if parts is None:
        return None
    prefix, secret = parts
    row = conn.execute(
        sa.select(t.api_keys).where(
            t.api_keys.c.prefix == prefix, t.api_keys.c.revoked_at.is_(None)
        )
    ).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    role = Role(row.role)
    visible = descendant_ids(conn, row.affiliate_id) if role is Role.AFFILIATE else None
    return Principal(
        key_id=row.id, role=role, name=row.name, affiliate_id=row.affiliate_id,
        integration_id=row.integration_id, visible_affiliate_ids=visible,
    )
