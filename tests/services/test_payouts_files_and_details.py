"""Payment files (CSV without formula injection, pain.001 that parses back to the run) and
payment details that only a manager's confirmation puts into use."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from payout_world import APR, FINANCE_A, FINANCE_B, MAR, NOW, World

from clickledger.outbound.payment_files import safe_cell
from clickledger.services import payment_details, payment_files, payouts
from clickledger.services.errors import ServiceError
from clickledger.store import tables as t

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
MANAGER = "api_key:m manager-mia"


def approved_run(conn: sa.Connection) -> str:
    run_id = str(payouts.create_run(conn, period_start=MAR, period_end=APR, actor=FINANCE_A,
                                    now=NOW).run["id"])
    payouts.approve_run(conn, run_id, actor=FINANCE_B, now=NOW)
    return run_id


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)",
                                  "\t=1", "  =1", "＝1"])
def test_formula_like_cells_are_neutralised(text: str) -> None:
    assert safe_cell(text).startswith("'")


def test_plain_cells_are_left_alone() -> None:
    assert safe_cell("Ana Affiliate") == "Ana Affiliate" and safe_cell("12.50") == "12.50"


def test_the_csv_lists_approved_payouts_with_hostile_names_defused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = World(conn)
        evil = w.affiliate('=cmd|" /C calc"!A0')
        other = w.affiliate("Ben")
        w.entry(evil, 12_345)
        w.entry(other, 500)
        w.entry(w.affiliate("Small", threshold_minor=10_000), 100)  # rolled over: not in file
        run_id = approved_run(conn)
        rows = list(csv.DictReader(io.StringIO(payment_files.run_csv(conn, run_id))))
        assert len(rows) == 2
        by_id = {row["affiliate_id"]: row for row in rows}
        assert by_id[evil]["affiliate_name"] == '\'=cmd|" /C calc"!A0'
        assert by_id[evil]["amount"] == "123.45" and by_id[evil]["iban"] == "DE89370400440532013000"
        assert by_id[other]["amount"] == "5.00"


def test_pain001_parses_back_with_the_run_amounts_ibans_and_sum(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = World(conn)
        ana = w.affiliate("Ana")
        fr = w.affiliate("Zoë", details={"method": "bank", "account_holder": "Zoë Élodie",
                                         "iban": "FR1420041010050500013M02606", "bic": None})
        usd = w.affiliate("Sam", payout_currency="USD")
        wallet = w.affiliate("Wal", details={"method": "ewallet", "provider": "skrill",
                                             "account_id": "wal@example.com"})
        w.entry(ana, 12_345)
        w.entry(fr, 1_005)
        w.entry(usd, 9_000)
        w.entry(wallet, 7_000)
        payouts.create_run(conn, period_start=MAR, period_end=APR, actor=FINANCE_A, now=NOW,
                           rates={("EUR", "USD"): Decimal("1.1")})
        run_id = str(conn.execute(sa.select(t.payout_runs.c.id)).scalar_one())
        payouts.approve_run(conn, run_id, actor=FINANCE_B, now=NOW)
        xml = payment_files.run_pain001(conn, run_id, execution_date=date(2026, 4, 3),
                                        debtor_name="Operator Ltd",
                                        debtor_iban="NL91ABNA0417164300")
    root = ET.fromstring(xml)  # noqa: S314 - our own file
    txs = root.findall(".//p:CdtTrfTxInf", NS)
    paid = {tx.find("p:CdtrAcct/p:Id/p:IBAN", NS).text: tx.find("p:Amt/p:InstdAmt", NS)  # type: ignore[union-attr]
            for tx in txs}
    assert {iban: (el.text, el.get("Ccy")) for iban, el in paid.items()} == {
        "DE89370400440532013000": ("123.45", "EUR"),
        "FR1420041010050500013M02606": ("10.05", "EUR"),
    }  # the USD and the e-wallet payouts are not SEPA transfers
    assert root.find(".//p:GrpHdr/p:CtrlSum", NS).text == "133.50"  # type: ignore[union-attr]
    assert root.find(".//p:GrpHdr/p:NbOfTxs", NS).text == "2"  # type: ignore[union-attr]
    assert root.find(".//p:DbtrAcct/p:Id/p:IBAN", NS).text == "NL91ABNA0417164300"  # type: ignore[union-attr]
    assert root.find(".//p:ReqdExctnDt", NS).text == "2026-04-03"  # type: ignore[union-attr]


def test_pain001_without_a_paying_account_says_so(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = World(conn)
        w.entry(w.affiliate(), 1_000)
        run_id = approved_run(conn)
        with pytest.raises(ServiceError) as caught:
            payment_files.run_pain001(conn, run_id, execution_date=date(2026, 4, 3))
        assert caught.value.code == "sepa_debtor_missing"


def test_changed_details_wait_for_a_manager_and_runs_keep_the_confirmed_ones(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        w = World(conn)
        aff = w.affiliate()
        with pytest.raises(ServiceError) as caught:
            payment_details.submit(conn, aff, {"method": "bank", "account_holder": "Ana",
                                               "iban": "DE89370400440532013001"},
                                   actor="api_key:x ana", now=NOW)
        assert caught.value.code == "invalid_iban"
        view = payment_details.submit(
            conn, aff, {"method": "crypto", "network": "TRC20",
                        "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"},
            actor="api_key:x ana", now=NOW)
        submission = view["pending"]["submission_id"]
        w.entry(aff, 5_000)
        draft = payouts.create_run(conn, period_start=MAR, period_end=APR, actor=FINANCE_A,
                                   now=NOW)
        assert draft.items[0]["method"] == "bank"  # still the confirmed bank account
        with pytest.raises(ServiceError) as caught:
            payment_details.confirm(conn, aff, "01900000-0000-7000-8000-000000000000",
                                    actor=MANAGER, now=NOW)
        assert caught.value.code == "pending_changed"
        confirmed = payment_details.confirm(conn, aff, submission, actor=MANAGER, now=NOW)
        assert confirmed["method"] == "crypto" and confirmed["pending"] is None
        actions = conn.execute(sa.select(t.audit_log.c.action).where(
            t.audit_log.c.entity_id == aff).order_by(t.audit_log.c.id)).scalars().all()
        assert actions == ["payment_details.submit", "payment_details.confirm"]
        # the draft was made with the old details: approving it now is refused as stale
        with pytest.raises(ServiceError) as caught:
            payouts.approve_run(conn, str(draft.run["id"]), actor=FINANCE_B, now=NOW)
        assert caught.value.code == "run_stale"
