"""Every list and report endpoint, every query parameter it declares, fed SQL metacharacters
and unknown sort keys: a 4xx or an empty/normal answer, never a 5xx, never a database error
text, and never rows an affiliate may not see."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.http.conftest import World

HOSTILE = ("' OR '1'='1", "1; DROP TABLE ledger_entries; --", "clicks desc, (select 1)",
           "\" OR 1=1 --", "%' UNION SELECT name FROM api_keys --", "../../etc/passwd")
# BUG, reported (commission engine area): on PostgreSQL a filter id that is not a UUID reaches
# the database (DataError, 500) on these lists; tests/security/test_openapi_fuzz.py lists the
# same operations.  Remove once they answer 422 invalid_id.
KNOWN_5XX: dict[str, set[str]] = {}
LEAKS = ("sqlalchemy", "traceback", "syntax error", "psycopg", "sqlite3", "secret_hash")


def _get_operations(client: TestClient) -> list[tuple[str, list[str]]]:
    paths = client.get("/openapi.json").json()["paths"]
    out = []
    for path, ops in paths.items():
        get = ops.get("get")
        if not path.startswith("/api/") or "{" in path or get is None:
            continue
        names = [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]
        out.append((path, names))
    return out


def test_hostile_sort_and_filter_values_never_reach_sql_or_leak(
    client: TestClient, world: World,
) -> None:
    operations = _get_operations(client)
    dialect = world.runtime.engine.dialect.name
    assert len(operations) >= 15
    problems: list[str] = []
    for role in ("manager", "affiliate_a"):
        headers = world.headers(role)
        for path, names in operations:
            for name in {*names, "sort", "order"}:
                for value in HOSTILE:
                    try:
                        response = client.get(path, params={name: value}, headers=headers)
                        status, text = response.status_code, response.text.lower()
                    except Exception as exc:  # noqa: BLE001 - an unhandled error is a 500
                        status, text = 500, repr(exc)
                    if status >= 500 and path in KNOWN_5XX.get(dialect, set()):
                        continue
                    if status >= 500 or any(leak in text for leak in LEAKS):
                        problems.append(f"{role} {path}?{name}={value!r}: {status} "
                                        f"{text[:160]}")
    assert not problems, "\n".join(problems[:30])


def test_an_unknown_sort_key_is_a_4xx_with_a_code(client: TestClient, world: World) -> None:
    answer = client.get("/api/v1/reports/breakdown?by=sub1&sort=secret_hash",
                        headers=world.headers("manager"))
    assert 400 <= answer.status_code < 500
    assert answer.json()["error"]["code"]


def test_an_affiliate_filtering_on_another_affiliate_sees_nothing(
    client: TestClient, world: World,
) -> None:
    alice = world.headers("affiliate_a")
    for path in ("/api/v1/tracking-links", "/api/v1/promo-codes", "/api/v1/affiliates"):
        listed = client.get(path, params={"affiliate_id": world.affiliate_b}, headers=alice)
        assert listed.status_code in (200, 404, 422), listed.text
        if listed.status_code == 200:
            assert world.affiliate_b not in listed.text
