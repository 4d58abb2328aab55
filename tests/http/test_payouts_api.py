"""The payout API end to end: four eyes over HTTP, payment files, details and statements."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from tests.http.conftest import World

from clickledger.domain.roles import Role
from clickledger.ids import new_id
from clickledger.services import api_keys
from clickledger.store import tables as t

PERIOD = {"period_start": "2026-03-01T00:00:00Z", "period_end": "2026-04-01T00:00:00Z"}


def second_finance(world: World) -> dict[str, str]:
    with world.runtime.engine.begin() as conn:
        issued, _row = api_keys.create_key(conn, role=Role.FINANCE, name="second pair of eyes",
                                           actor="test", now=world.runtime.clock.now())
    return {"Authorization": f"Bearer {issued.token}"}


def commission(world: World, affiliate_id: str, amount_minor: int) -> None:
    with world.runtime.engine.begin() as conn:
        conn.execute(t.ledger_entries.insert().values(
            id=new_id(), entry_key=f"api-test:{new_id()}", kind="commission",
            affiliate_id=affiliate_id, amount_minor=amount_minor, currency="EUR",
            period_start=datetime(2026, 3, 5, tzinfo=UTC),
            status="approved", source_event_ids=[], explanation="CPA <i>player</i> p-9",
            created_at=world.runtime.clock.now()))


def test_a_run_is_approved_by_a_second_finance_user_and_paid_over_http(
    client: TestClient, world: World,
) -> None:
    commission(world, world.affiliate_a, 15_000)
    finance, other = world.headers("finance"), second_finance(world)
    created = client.post("/api/v1/payout-runs", json=PERIOD, headers=finance)
    assert created.status_code == 201
    again = client.post("/api/v1/payout-runs", json=PERIOD, headers=other)
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    run_id = created.json()["id"]
    refused = client.post(f"/api/v1/payout-runs/{run_id}/approve", headers=finance)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "four_eyes"
    approved = client.post(f"/api/v1/payout-runs/{run_id}/approve", headers=other)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    (item,) = approved.json()["items"]
    assert item["payout_amount_minor"] == 15_000

    csv_text = client.get(f"/api/v1/payout-runs/{run_id}/payments.csv", headers=finance).text
    assert "DE89370400440532013000" in csv_text and "150.00" in csv_text
    xml = client.get(f"/api/v1/payout-runs/{run_id}/pain001.xml", headers=finance,
                     params={"debtor_name": "Lucky Casino Ltd",
                             "debtor_iban": "NL91ABNA0417164300",
                             "execution_date": "2026-04-03"})
    assert xml.status_code == 200
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    root = ET.fromstring(xml.content)  # noqa: S314 - the file we just made
    assert root.find(".//p:GrpHdr/p:CtrlSum", ns).text == "150.00"  # type: ignore[union-attr]

    paid = client.post(f"/api/v1/payouts/{item['id']}/paid", json={"reference": "SEPA-1"},
                       headers=finance)
    assert paid.json()["status"] == "paid"
    assert client.get(f"/api/v1/payout-runs/{run_id}", headers=world.headers("manager")
                      ).json()["status"] == "closed"
    statement = client.get(f"/api/v1/affiliates/{world.affiliate_a}/statement",
                           params=PERIOD, headers=world.headers("affiliate_a")).json()
    assert statement["balances"][0]["closing_minor"] == 0
    assert [line["kind"] for line in statement["lines"]] == ["commission", "payout"]


def test_an_affiliate_reads_only_its_own_statement_and_it_is_escaped(
    client: TestClient, world: World,
) -> None:
    commission(world, world.affiliate_a, 2_000)
    path = f"/api/v1/affiliates/{world.affiliate_a}/statement.html"
    mine = client.get(path, params=PERIOD, headers=world.headers("affiliate_a"))
    assert mine.status_code == 200
    assert "&lt;i&gt;player&lt;/i&gt;" in mine.text and "<i>player" not in mine.text
    theirs = client.get(path, params=PERIOD, headers=world.headers("affiliate_b"))
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "not_found"


def test_an_affiliate_proposes_details_and_a_manager_confirms_them(
    client: TestClient, world: World,
) -> None:
    path = f"/api/v1/affiliates/{world.affiliate_a}/payment-details"
    bad = client.put(path, json={"method": "bank", "account_holder": "Alice",
                                 "iban": "DE89370400440532013001"},
                     headers=world.headers("affiliate_a"))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_iban"
    proposed = client.put(path, json={"method": "ewallet", "provider": "skrill",
                                      "account_id": "alice@example.com"},
                          headers=world.headers("affiliate_a")).json()
    assert proposed["method"] == "bank" and proposed["pending"]["details"]["method"] == "ewallet"
    confirmed = client.post(f"{path}/confirm",
                            json={"submission_id": proposed["pending"]["submission_id"]},
                            headers=world.headers("manager")).json()
    assert confirmed["method"] == "ewallet" and confirmed["pending"] is None
