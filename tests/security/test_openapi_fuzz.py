"""Schemathesis against the OpenAPI document, in process: every operation of the admin API,
called by a manager with generated (valid and invalid) input, never answers a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from tests.http.conftest import build_world

from clickledger.http.api.main import create_api
from clickledger.runtime import Runtime

EXAMPLES_PER_OPERATION = 4
KNOWN_5XX: dict[str, set[tuple[str, str]]] = {}


@pytest.mark.slow
def test_no_operation_answers_5xx_to_generated_input(runtime: Runtime) -> None:
    fuzzed = Runtime(runtime.settings.model_copy(update={"api_rate_per_minute": 100_000}),
                     runtime.engine, runtime.clock)
    world = build_world(fuzzed)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_api(fuzzed))
    headers = world.headers("manager")
    failures: list[str] = []
    failing: set[tuple[str, str]] = set()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/"):
            continue
        operations += 1

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  derandomize=True, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            try:
                response = case.call(headers=headers)
                status, text = response.status_code, response.text
            except Exception as exc:  # noqa: BLE001 - an unhandled server error is a 500
                status, text = 500, f"{type(exc).__name__}: {exc}"
            if status >= 500:
                failing.add((case.method, case.path))
                failures.append(f"{case.method} {case.formatted_path} {case.query} "
                                f"{case.body!r:.200}: {status} {text[:200]}")

        call()
    assert operations >= 60
    unknown = failing - KNOWN_5XX.get(runtime.engine.dialect.name, set())
    assert not unknown, (sorted(unknown), "\n".join(failures)[:5000])
