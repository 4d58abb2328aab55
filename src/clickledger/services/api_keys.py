"""API key use cases: issue (the token is shown once), list without secrets, revoke, bootstrap.

Every issue and revocation is audited.  The very first manager key comes from
``bootstrap_manager_key`` (the ``clickledger keys create`` command), since no
key exists yet to call the API with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.domain.roles import Role
from clickledger.services import audit
from clickledger.services.errors import invalid, missing
from clickledger.store import programme as repo
from clickledger.store import tables as t
from clickledger.store.api_keys import IssuedKey, issue_key

BOOTSTRAP_ACTOR = "bootstrap"
SECRET_COLUMNS = frozenset({"secret_hash"})


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    """A key row without anything secret."""
    return {name: value for name, value in row.items() if name not in SECRET_COLUMNS}


def _check_scope(
    conn: sa.Connection, role: Role, affiliate_id: str | None, integration_id: str | None
) -> None:
    if role is Role.AFFILIATE:
        if affiliate_id is None:
            raise invalid("affiliate_id_required", "an affiliate key needs an affiliate_id")
        if not repo.exists(conn, t.affiliates, affiliate_id):
            raise invalid("unknown_affiliate", f"affiliate {affiliate_id} does not exist")
    elif affiliate_id is not None:
        raise invalid("affiliate_id_not_allowed", "only affiliate keys carry an affiliate_id")
    if role is Role.INTEGRATION:
        if integration_id is None:
            raise invalid("integration_id_required", "an integration key needs an integration_id")
        if not repo.exists(conn, t.integrations, integration_id):
            raise invalid("unknown_integration", f"integration {integration_id} does not exist")
    elif integration_id is not None:
        raise invalid("integration_id_not_allowed", "only integration keys carry an integration_id")


def create_key(
    conn: sa.Connection,
    *,
    role: Role,
    name: str,
    actor: str,
    now: datetime,
    affiliate_id: str | None = None,
    integration_id: str | None = None,
) -> tuple[IssuedKey, dict[str, Any]]:
    """Issue a key for ``role``; returns the one-time token and the stored (public) row."""
    _check_scope(conn, role, affiliate_id, integration_id)
    issued = issue_key(conn, role=role, name=name, now=now, affiliate_id=affiliate_id,
                       integration_id=integration_id)
    row = repo.get_row(conn, t.api_keys, issued.key_id)
    assert row is not None
    public = public_row(row)
    audit.record(conn, actor=actor, action="create", entity="api_key", entity_id=issued.key_id,
                 now=now, after=public)
    return issued, public


def bootstrap_manager_key(conn: sa.Connection, name: str, now: datetime) -> IssuedKey:
    """The first manager key, for a database nobody can call the API on yet."""
    issued, _row = create_key(conn, role=Role.MANAGER, name=name, actor=BOOTSTRAP_ACTOR, now=now)
    return issued


def revoke_key(conn: sa.Connection, key_id: str, actor: str, now: datetime) -> dict[str, Any]:
    """Revoke a key; revoking it again changes nothing and writes no second audit row."""
    before = repo.get_row(conn, t.api_keys, key_id)
    if before is None:
        raise missing("api key")
    if before["revoked_at"] is not None:
        return public_row(before)
    repo.update_row(conn, t.api_keys, key_id, {"revoked_at": now})
    after = repo.get_row(conn, t.api_keys, key_id)
    assert after is not None
    audit.record(conn, actor=actor, action="revoke", entity="api_key", entity_id=key_id,
                 now=now, before=public_row(before), after=public_row(after))
    return public_row(after)
