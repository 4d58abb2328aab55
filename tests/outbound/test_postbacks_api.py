"""Affiliates manage their own postback templates and see their own delivery log; managers see
all; another affiliate gets 404; targets inside the network are refused on save (422)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.outbound import seed

from clickledger.domain.roles import Role
from clickledger.http.api.endpoints.postbacks import get_target_guard
from clickledger.http.app import create_app
from clickledger.outbound.ssrf import TargetGuard
from clickledger.runtime import Runtime
from clickledger.store import tables as t
from clickledger.store.api_keys import issue_key


def fake_dns(host: str) -> Sequence[str]:
    return {"tracker.example": ["93.184.216.34"], "intranet.example": ["10.0.0.8"],
            "metadata.example": ["169.254.169.254"], "local.example": ["127.0.0.1"]}[host]


@dataclass
class Setup:
    client: TestClient
    affiliate_a: str
    affiliate_b: str
    offer_id: str
    tokens: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def setup(runtime: Runtime) -> Iterator[Setup]:
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        w = seed.world(conn, now)
        a, b = seed.affiliate(conn, now, "A"), seed.affiliate(conn, now, "B")
        tokens = {
            "manager": issue_key(conn, role=Role.MANAGER, name="m", now=now).token,
            "finance": issue_key(conn, role=Role.FINANCE, name="f", now=now).token,
            "a": issue_key(conn, role=Role.AFFILIATE, name="a", now=now, affiliate_id=a).token,
            "b": issue_key(conn, role=Role.AFFILIATE, name="b", now=now, affiliate_id=b).token,
        }
    app = create_app(runtime)
    app.framework.dependency_overrides[get_target_guard] = lambda: TargetGuard(  # type: ignore[attr-defined]
        allow_loopback=False, resolver=fake_dns)
    with TestClient(app) as client:
        yield Setup(client, a, b, w.offer_id, tokens)


def create(s: Setup, role: str, affiliate_id: str, **body: object) -> dict[str, object]:
    response = s.client.post(f"/api/v1/affiliates/{affiliate_id}/postback-templates",
                             json=body, headers=s.as_(role))
    return {**response.json(), "http_status": response.status_code}


def test_an_affiliate_saves_its_keitaro_template_and_another_affiliate_cannot_see_it(
    setup: Setup,
) -> None:
    created = create(setup, "a", setup.affiliate_a, preset="keitaro", event_kind="ftd",
                     offer_id=setup.offer_id,
                     url_template="https://tracker.example/postback?subid={sub1}&status={status}")
    assert created["http_status"] == 201
    assert created["status_words"]["sale"] == "sale"  # type: ignore[index]
    template_path = f"/api/v1/postback-templates/{created['id']}"
    assert setup.client.get(template_path, headers=setup.as_("a")).status_code == 200
    assert setup.client.get(template_path, headers=setup.as_("manager")).status_code == 200
    assert setup.client.get(template_path, headers=setup.as_("b")).status_code == 404
    assert setup.client.patch(template_path, json={"status": "disabled"},
                              headers=setup.as_("b")).status_code == 404
    assert create(setup, "b", setup.affiliate_a,
                  url_template="https://tracker.example/x")["http_status"] == 404
    assert create(setup, "finance", setup.affiliate_a,
                  url_template="https://tracker.example/x")["http_status"] == 404
    listed = setup.client.get(f"/api/v1/affiliates/{setup.affiliate_a}/postback-templates",
                              headers=setup.as_("b"))
    assert listed.status_code == 404


def test_a_webhook_template_shows_its_signing_secret_once(setup: Setup) -> None:
    created = create(setup, "manager", setup.affiliate_a, kind="webhook",
                     url_template="https://tracker.example/hooks")
    assert str(created["webhook_secret"]).startswith("whsec_")
    again = setup.client.get(f"/api/v1/postback-templates/{created['id']}",
                             headers=setup.as_("a")).json()
    assert "webhook_secret" not in again


INTERNAL_TARGETS = (
    "http://intranet.example/p", "http://metadata.example/latest", "http://local.example:8080/",
    "http://127.0.0.1/p", "http://[::1]/p", "https://user:pw@tracker.example/p",
    "ftp://tracker.example/p",
)


def test_a_target_inside_the_network_is_refused_on_save(setup: Setup) -> None:
    for url in INTERNAL_TARGETS:
        refused = create(setup, "a", setup.affiliate_a, url_template=url)
        assert refused["http_status"] == 422, url
        assert refused["error"]["code"] == "target_not_allowed"  # type: ignore[index]


def test_a_bad_template_is_refused_with_a_reason(setup: Setup) -> None:
    unknown = create(setup, "a", setup.affiliate_a, url_template="https://tracker.example/?x={foo}")
    assert unknown["http_status"] == 422 and unknown["error"]["code"] == "invalid_template"  # type: ignore[index]
    host_macro = create(setup, "a", setup.affiliate_a, url_template="https://{sub1}/x")
    assert host_macro["http_status"] == 422
    words = create(setup, "a", setup.affiliate_a, url_template="https://tracker.example/",
                   status_words={"whatever": "x"})
    assert words["http_status"] == 422 and words["error"]["code"] == "invalid_status_words"  # type: ignore[index]


def test_changing_the_target_is_checked_again_and_audited(setup: Setup, runtime: Runtime) -> None:
    created = create(setup, "a", setup.affiliate_a, url_template="https://tracker.example/a")
    path = f"/api/v1/postback-templates/{created['id']}"
    bad = setup.client.patch(path, json={"url_template": "http://intranet.example/"},
                             headers=setup.as_("a"))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "target_not_allowed"
    good = setup.client.patch(path, json={"url_template": "https://tracker.example/b?s={status}"},
                              headers=setup.as_("a"))
    assert good.status_code == 200 and good.json()["url_template"].endswith("{status}")
    assert setup.client.delete(path, headers=setup.as_("a")).status_code == 204
    assert setup.client.get(path, headers=setup.as_("a")).status_code == 404
    with runtime.engine.connect() as conn:
        actions = conn.execute(sa.select(t.audit_log.c.action).where(
            t.audit_log.c.entity_id == created["id"]).order_by(t.audit_log.c.id)).scalars().all()
    assert actions == ["postback_template.create", "postback_template.update",
                       "postback_template.delete"]


def _delivery(runtime: Runtime, affiliate_id: str) -> str:
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        template = seed.template(conn, affiliate_id, "https://tracker.example/p", now=now)
        (outbox_id,) = seed.outbox_rows(conn, template, affiliate_id,
                                        ["https://tracker.example/p?tid=1"], now=now)
        conn.execute(sa.update(t.outbox).where(t.outbox.c.id == outbox_id).values(
            status="dead", attempts=8, last_status_code=500))
        conn.execute(t.outbox_attempts.insert().values(
            id=seed.new_id(), outbox_id=outbox_id, attempt=8, cycle=0, at=now, status_code=500,
            response_excerpt="oops", error=None, duration_ms=12))
    return outbox_id


def test_the_delivery_log_is_the_affiliates_own_and_the_managers(
    setup: Setup, runtime: Runtime,
) -> None:
    mine = _delivery(runtime, setup.affiliate_a)
    theirs = _delivery(runtime, setup.affiliate_b)
    detail = setup.client.get(f"/api/v1/deliveries/{mine}", headers=setup.as_("a"))
    assert detail.status_code == 200
    body = detail.json()
    assert body["url"] == "https://tracker.example/p?tid=1" and body["last_status_code"] == 500
    assert body["attempt_log"][0]["status_code"] == 500
    assert setup.client.get(f"/api/v1/deliveries/{mine}", headers=setup.as_("b")).status_code == 404
    assert setup.client.get(f"/api/v1/deliveries/{theirs}",
                            headers=setup.as_("a")).status_code == 404
    listed_by_a = setup.client.get("/api/v1/deliveries", headers=setup.as_("a")).json()
    assert [item["id"] for item in listed_by_a["items"]] == [mine]
    probing = setup.client.get(f"/api/v1/deliveries?affiliate_id={setup.affiliate_b}",
                               headers=setup.as_("a")).json()
    assert probing["items"] == []
    everything = setup.client.get("/api/v1/deliveries", headers=setup.as_("manager")).json()
    assert {item["id"] for item in everything["items"]} == {mine, theirs}
    page = setup.client.get("/api/v1/deliveries?limit=1", headers=setup.as_("finance")).json()
    assert len(page["items"]) == 1 and page["next_cursor"] is not None


def test_a_manual_resend_starts_a_new_cycle_and_is_audited(
    setup: Setup, runtime: Runtime,
) -> None:
    outbox_id = _delivery(runtime, setup.affiliate_a)
    path = f"/api/v1/deliveries/{outbox_id}/resend"
    assert setup.client.post(path, headers=setup.as_("b")).status_code == 404
    assert setup.client.post(path, headers=setup.as_("finance")).status_code == 404
    resent = setup.client.post(path, headers=setup.as_("a"))
    assert resent.status_code == 200
    body = resent.json()
    assert body["status"] == "pending" and body["attempts"] == 0 and body["resend_count"] == 1
    with runtime.engine.connect() as conn:
        audit = conn.execute(sa.select(t.audit_log).where(
            t.audit_log.c.entity_id == outbox_id)).one()
    assert audit.action == "delivery.resend" and audit.before["status"] == "dead"
    assert audit.actor.startswith("affiliate:")
