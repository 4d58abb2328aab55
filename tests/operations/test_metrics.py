"""An operator scraping ``/metrics`` sees request rates and latencies per route, group-commit
batches, outbox depth, dead letters and ingestion lag; strangers see nothing."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from tests.http.conftest import World

from clickledger.http.app import create_app
from clickledger.ids import new_id
from clickledger.runtime import Runtime
from clickledger.store import tables as t

from .conftest import LOOPBACK_CLIENT, samples, value


def _outbox_row(world: World, status: str) -> dict[str, object]:
    now = world.runtime.clock.now()
    return {"id": new_id(), "dedupe_key": f"test:{new_id()}", "template_id": world.spare_key_id,
            "affiliate_id": world.affiliate_a, "method": "GET", "url": "https://t.example/pb",
            "status": status, "attempts": 0, "next_attempt_at": now - timedelta(seconds=30),
            "resend_count": 0, "created_at": now, "updated_at": now}


def _seed_outbox_and_health(world: World) -> None:
    now = world.runtime.clock.now()
    template_id = new_id()
    with world.runtime.engine.begin() as conn:
        conn.execute(t.postback_templates.insert().values(
            id=template_id, affiliate_id=world.affiliate_a, kind="url",
            url_template="https://t.example/pb?c={click_id}", status_words={}, status="active",
            created_at=now, updated_at=now))
        rows = [_outbox_row(world, "pending"), _outbox_row(world, "dead"),
                _outbox_row(world, "delivered")]
        conn.execute(t.outbox.insert(), [{**row, "template_id": template_id} for row in rows])
        conn.execute(t.integration_health_hourly.insert().values(
            integration_id=world.integration_id, hour=now.replace(minute=0, second=0,
                                                                  microsecond=0),
            accepted=4, duplicates=0, rejected=0, lag_ms_sum=6000, lag_ms_max=2500,
            last_event_at=now - timedelta(seconds=90)))


def test_metrics_after_traffic_show_routes_batches_outbox_and_ingestion_lag(
    world: World, local_client: TestClient
) -> None:
    _seed_outbox_and_health(world)
    for _ in range(3):
        assert local_client.get("/c/alice-1").status_code == 302
    assert local_client.get("/c/no-such-link").status_code == 404
    answer = local_client.get(f"/api/v1/affiliates/{world.affiliate_a}",
                              headers=world.headers("manager"))
    assert answer.status_code == 200

    response = local_client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    requests = "clickledger_http_requests_total"
    assert value(found, requests, route="/c/*", method="GET", status="302") == 3
    assert value(found, requests, route="/c/*", method="GET", status="404") == 1
    api_route = "/api/v1/affiliates/{affiliate_id}"
    assert value(found, requests, route=api_route, method="GET", status="200") == 1
    assert world.affiliate_a not in response.text  # the template, never the raw path
    assert value(found, "clickledger_http_request_duration_seconds_count", route="/c/*") == 4
    assert value(found, "clickledger_http_request_duration_seconds_bucket",
                 route="/c/*", le="+Inf") == 4
    assert value(found, "clickledger_group_commit_rows_total", committer="clicks") == 3
    assert value(found, "clickledger_group_commit_batch_rows_count", committer="clicks") == \
        value(found, "clickledger_group_commit_batches_total", committer="clicks")
    assert value(found, "clickledger_group_commit_queue_depth", committer="clicks") == 0
    assert value(found, "clickledger_group_commit_queue_depth", committer="ingest") == 0
    assert value(found, "clickledger_group_commit_running", committer="ingest") == 1
    assert value(found, "clickledger_outbox_pending") == 1
    assert value(found, "clickledger_outbox_dead") == 1
    assert value(found, "clickledger_outbox_oldest_due_age_seconds") == 30
    lag = {"integration": world.integration_id, "name": "Lucky S2S"}
    assert value(found, "clickledger_ingest_lag_seconds_avg", **lag) == 1.5
    assert value(found, "clickledger_ingest_lag_seconds_max", **lag) == 2.5
    assert value(found, "clickledger_ingest_last_event_age_seconds", **lag) == 90
    assert value(found, "clickledger_metrics_database_up") == 1


def test_odd_methods_and_unknown_paths_do_not_grow_the_label_set(
    world: World, local_client: TestClient
) -> None:
    local_client.request("BREW", "/c/alice-1")
    local_client.get(f"/no/such/page/{new_id()}")
    local_client.get(f"/no/such/page/{new_id()}")

    found = samples(local_client.get("/metrics").text)

    requests = "clickledger_http_requests_total"
    assert value(found, requests, route="/c/*", method="other", status="405") == 1
    assert value(found, requests, route="unmatched", method="GET", status="404") == 2


def test_metrics_answer_404_to_peers_outside_the_allowlist(runtime: Runtime) -> None:
    with TestClient(create_app(runtime), client=("203.0.113.7", 4000)) as stranger:
        assert stranger.get("/metrics").status_code == 404
        assert stranger.get("/healthz").status_code == 200


def test_metrics_follow_a_configured_allowlist_and_bearer_token(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={
        "metrics_allowed_ips": ["10.0.0.0/8"], "metrics_token": "scrape-token-0123456789"})
    app = create_app(runtime)
    with TestClient(app, client=("10.1.2.3", 4000)) as inside:
        assert inside.get("/metrics").status_code == 200
    with TestClient(app, client=LOOPBACK_CLIENT) as loopback:
        assert loopback.get("/metrics").status_code == 404  # loopback no longer listed
    with TestClient(app, client=("203.0.113.7", 4000)) as outside:
        assert outside.get("/metrics").status_code == 404
        wrong = {"Authorization": "Bearer not-the-token"}
        assert outside.get("/metrics", headers=wrong).status_code == 404
        right = {"Authorization": "Bearer scrape-token-0123456789"}
        assert outside.get("/metrics", headers=right).status_code == 200


def test_metrics_can_be_switched_off(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"metrics_enabled": False})
    with TestClient(create_app(runtime), client=LOOPBACK_CLIENT) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/readyz").status_code == 200
