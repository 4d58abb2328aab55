"""The first manager key: from the service and from ``clickledger keys create``, audited."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from clickledger.cli.main import app
from clickledger.domain.roles import Role
from clickledger.runtime import Runtime
from clickledger.services.api_keys import bootstrap_manager_key
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.api_keys import authenticate
from clickledger.store.engine import create_engine


def test_the_bootstrap_key_authenticates_as_a_manager_and_is_audited(runtime: Runtime) -> None:
    with runtime.engine.begin() as conn:
        issued = bootstrap_manager_key(conn, "first admin", runtime.clock.now())
    with runtime.engine.connect() as conn:
        principal = authenticate(conn, issued.token)
        audit = conn.execute(sa.select(t.audit_log)).mappings().all()
        stored_hash = conn.execute(sa.select(t.api_keys.c.secret_hash)).scalar_one()
    assert principal is not None and principal.role is Role.MANAGER
    assert [(row["actor"], row["action"], row["entity"]) for row in audit] == [
        ("bootstrap", "create", "api_key")]
    assert issued.token.split("_", 2)[2] not in stored_hash


def test_the_keys_command_migrates_an_empty_database_and_prints_a_working_token(
    database_url: str,
) -> None:
    result = CliRunner().invoke(
        app, ["keys", "create", "--role", "manager", "--name", "ops", "--database-url",
              database_url])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    engine = create_engine(database_url)
    try:
        assert migrate.is_up_to_date(engine)
        with engine.connect() as conn:
            principal = authenticate(conn, token)
        assert principal is not None and principal.name == "ops"
    finally:
        engine.dispose()


def test_the_keys_command_refuses_an_affiliate_key_without_an_existing_affiliate(
    database_url: str,
) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["keys", "create", "--role", "affiliate", "--name", "a",
                                  "--database-url", database_url])
    assert missing.exit_code == 1
    assert "affiliate_id_required" in missing.output
    unknown = runner.invoke(app, ["keys", "create", "--role", "affiliate", "--name", "a",
                                  "--affiliate-id", "01900000-0000-7000-8000-000000000000",
                                  "--database-url", database_url])
    assert unknown.exit_code == 1
    assert "unknown_affiliate" in unknown.output
