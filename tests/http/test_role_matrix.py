"""Every API route answers every role as the role matrix says: 401 without a key, 404 for
what a role may not use or see, never 403, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.http.conftest import ROLES, World
from tests.http.role_matrix import fill_path, full_matrix

from clickledger.http.api.main import create_api
from clickledger.runtime import Runtime

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def api_routes(runtime: Runtime) -> set[tuple[str, str]]:
    """(METHOD, path) of every route the app serves under /api/, from its OpenAPI table."""
    paths = create_api(runtime).openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items() if path.startswith("/api/")
        for method in operations if method in HTTP_METHODS
    }


def test_every_api_route_is_in_the_role_matrix(runtime: Runtime) -> None:
    served = api_routes(runtime)
    matrix = full_matrix()
    unclassified = sorted(served - matrix.keys())
    stale = sorted(matrix.keys() - served)
    assert not unclassified, (
        "routes without an entry in the role matrix (tests/http/role_matrix.py, or a "
        "tests/http/role_matrix_<area>.py of your own) — say what each role gets from them: "
        f"{unclassified}"
    )
    assert not stale, f"MATRIX lists routes the app no longer serves: {stale}"


def test_every_api_route_answers_each_role_as_the_matrix_says(
    client: TestClient, world: World
) -> None:
    wrong: list[str] = []
    serial = 0
    for (method, template), case in sorted(full_matrix().items()):
        path = fill_path(template, case, world)
        for role in ROLES:
            serial += 1
            body = case.body(world, serial) if case.body is not None else None
            response = client.request(method, path, json=body, headers=world.headers(role))
            expected = case.status_for(role)
            if response.status_code != expected:
                wrong.append(f"{method} {template} as {role}: {response.status_code} "
                             f"(expected {expected}) {response.text[:200]}")
            assert response.status_code != 403, "the API never answers 403"
            assert response.status_code < 500, f"{method} {path} as {role}: {response.text}"
    assert not wrong, "\n".join(wrong)


def test_a_denied_answer_looks_exactly_like_a_missing_route(
    client: TestClient, world: World
) -> None:
    finance = world.headers("finance")
    denied = client.post("/api/v1/brands", json={}, headers=finance)
    assert denied.status_code == 404
    assert denied.json()["error"]["code"] == "not_found"


def test_a_missing_malformed_or_revoked_key_is_401(client: TestClient, world: World) -> None:
    assert client.get("/api/v1/brands").status_code == 401
    for token in ("nonsense", "cl_abc_def", "cl__x", "x" * 500):
        response = client.get("/api/v1/brands", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
    by_header = client.get("/api/v1/me", headers={"X-API-Key": world.tokens["finance"]})
    assert by_header.status_code == 200
    manager = world.headers("manager")
    issued = client.post("/api/v1/api-keys", json={"role": "finance", "name": "temp"},
                         headers=manager).json()
    temp = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/api/v1/audit-log", headers=temp).status_code == 200
    revoke = client.post(f"/api/v1/api-keys/{issued['id']}/revoke", headers=manager)
    assert revoke.status_code == 200
    assert client.get("/api/v1/audit-log", headers=temp).status_code == 401
