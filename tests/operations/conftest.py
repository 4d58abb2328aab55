"""A served app with a metrics-allowed client, and a programme (tests/http's world) behind it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.http.conftest import World, build_world

from clickledger.http.app import ClickLedgerApp, create_app
from clickledger.runtime import Runtime

LOOPBACK_CLIENT = ("127.0.0.1", 50000)


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)


@pytest.fixture
def app(runtime: Runtime) -> ClickLedgerApp:
    return create_app(runtime)


@pytest.fixture
def local_client(app: ClickLedgerApp) -> Iterator[TestClient]:
    """A client whose TCP peer is 127.0.0.1 (the default metrics allowlist); lifespan runs."""
    with TestClient(app, client=LOOPBACK_CLIENT, follow_redirects=False) as client:
        yield client


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, keyed by (name, labels)."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], metric: str, /,
          **labels: str) -> float | None:
    return found.get((metric, frozenset(labels.items())))
