"""Payout runs on SQLite and PostgreSQL: thresholds, carry, FX, four eyes, paid and failed."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from payout_world import APR, BANK, FINANCE_A, FINANCE_B, JUN, MAR, MAY, NOW, World

from clickledger.services import payout_deductions, payouts
from clickledger.services.errors import ServiceError
from clickledger.store import tables as t


def by_affiliate(view: payouts.RunView) -> dict[str, dict]:
    return {str(row["affiliate_id"]): row for row in view.items}


def run_and_approve(conn: sa.Connection, start, end, **kw) -> payouts.RunView:  # type: ignore[no-untyped-def]
    payouts.create_run(conn, period_start=start, period_end=end, actor=FINANCE_A, now=NOW, **kw)
    run_id = conn.execute(sa.select(t.payout_runs.c.id).where(
        t.payout_runs.c.period_start == start)).scalar_one()
    return payouts.approve_run(conn, str(run_id), actor=FINANCE_B, now=NOW)


def test_small_balances_roll_over_until_they_reach_the_threshold(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = World(conn)
        small = w.affiliate("Small", threshold_minor=5_000)
        big = w.affiliate("Big", threshold_minor=5_000)
        w.entry(small, 4_000)
        w.entry(big, 12_000)
        w.entry(big, 9_999, status="on_hold")  # held: neither paid nor counted
        first = run_and_approve(conn, MAR, APR)
        items = by_affiliate(first)
        assert items[small]["status"] == "rolled_over"
        assert items[big]["status"] == "approved" and items[big]["payout_amount_minor"] == 12_000
        assert w.balance(small) == 4_000 and w.balance(big) == 0
        w.entry(small, 2_000, period_start=APR)
        second = by_affiliate(run_and_approve(conn, APR, MAY))
        assert second[small]["status"] == "approved"
        assert second[small]["payout_amount_minor"] == 6_000  # 40.00 rolled over + 20.00
        assert big not in second
        assert w.balance(small) == 0


def test_a_chargeback_after_payout_makes_the_next_balance_negative_and_it_is_carried(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        w = World(conn)
        aff = w.affiliate()
        w.entry(aff, 10_000)
        run_and_approve(conn, MAR, APR)
        assert w.balance(aff) == 0
        w.entry(aff, -3_000, kind="reversal", period_start=APR,
                explanation="Chargeback reverses CPA")
        carried = by_affiliate(run_and_approve(conn, APR, MAY))[aff]
        assert carried["status"] == "carried" and carried["amount_minor"] == -3_000
        assert w.balance(aff) == -3_000  # nothing paid, nothing collected
        w.entry(aff, 5_000, period_start=MAY)
        paid = by_affiliate(run_and_approve(conn, MAY, JUN))[aff]
        assert paid["payout_amount_minor"] == 2_000  # 50.00 - 30.00 carried


def test_payout_currency_conversion_uses_the_recorded_rate_rounded_once(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        w = World(conn)
        yen = w.affiliate("Yen", payout_currency="JPY")
        dinar = w.affiliate("Dinar", payout_currency="KWD")
        w.entry(yen, 10_000)
        w.entry(dinar, 10_000)
        with pytest.raises(ServiceError) as caught:
            payouts.create_run(conn, period_start=MAR, period_end=APR, actor=FINANCE_A, now=NOW)
        assert caught.value.code == "missing_fx_rate"
        view = payouts.create_run(
            conn, period_start=MAR, period_end=APR, actor=FINANCE_A, now=NOW,
            rates={("EUR", "JPY"): Decimal("161.235"), ("eur", "kwd"): Decimal("0.333355")})
        items = by_affiliate(view)
        assert (items[yen]["payout_amount_minor"], items[yen]["fx_rate"]) == (16_124, "161.235")
        assert items[dinar]["payout_amount_minor"] == 33_336  # 33.336 KWD
        recorded = conn.execute(sa.select(t.fx_rates.c.rate).where(
            t.fx_rates.c.quote == "JPY")).scalar_one()
        assert recorded == "161.235"
        payouts.approve_run(conn, str(view.run["id"]), actor=FINANCE_B, now=NOW)
        assert w.balance(yen) == 0 and w.balance(dinar) == 0  # debited in EUR, the balance currency


def test_the_creator_cannot_approve_and_a_second_approval_changes_nothing(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        w = World(conn)
        aff = w.affiliate()
        w.entry(aff, 7_500)
        view = payouts.create_run(conn, period_start=MAR, period_end=APR, actor=FINANCE_A, now=NOW)
        run_id = str(view.run["id"])
        with pytest.raises(ServiceError) as caught:
            payouts.approve_run(conn, run_id, actor=FINANCE_A, now=NOW)
        assert (caught.value.kind, caught.value.code) == ("conflict", "four_eyes")
        assert w.balance(aff) == 7_500
        approved = payouts.approve_run(conn, run_id, actor=FINANCE_B, now=NOW)
        again = payouts.approve_run(conn, run_id, actor="api_key:c carol", now=NOW)
        assert approved.run["status"] == again.run["status"] == "approved"
        assert again.run["approved_by"] == FINANCE_B
        assert w.ledger_by_kind()[("payout", "EUR")] == -7_500  # posted once
        assert w.balance(aff) == 0


def test_creating_a_run_for_the_same_period_again_returns_the_same_run(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = World(conn)
        w.entry(w.affiliate(), 1_000)
        first = payouts.create_run(conn, period_start=MAR, period_end=APR, actor=FINANCE_A, now=NOW)
        second = payouts.create_run(conn, period_start=MAR, period_end=APR, actor=FINANCE_B,
                                    now=NOW)
        assert first.created and not second.created
        assert first.run["id"] == second.run["id"] and len(second.items) == 1


def test_a_failed_payment_returns_the_amount_to_the_balance(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = World(conn)
        aff = w.affiliate()
        w.entry(aff, 8_000)
        view = run_and_approve(conn, MAR, APR)
        payout_id = str(view.items[0]["id"])
        failed = payouts.mark_failed(conn, payout_id, reason="account closed", actor=FINANCE_A,
                                     now=NOW)
        again = payouts.mark_failed(conn, payout_id, reason="account closed", actor=FINANCE_A,
                                    now=NOW)
        assert failed["status"] == again["status"] == "failed"
        assert w.balance(aff) == 8_000
        assert w.ledger_by_kind()[("payout", "EUR")] == 0  # -80.00 then +80.00, once each
        with pytest.raises(ServiceError) as caught:
            payouts.mark_paid(conn, payout_id, reference="X1", actor=FINANCE_A, now=NOW)
        assert caught.value.code == "not_payable"
        run = payouts.get_run(conn, str(view.run["id"])).run
        assert run["status"] == "closed"
        # the returned amount is paid by the next run
        assert by_affiliate(run_and_approve(conn, APR, MAY))[aff]["payout_amount_minor"] == 8_000


def test_marking_paid_is_idempotent_and_a_different_reference_is_refused(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        w = World(conn)
        w.entry(w.affiliate(), 8_000)
        payout_id = str(run_and_approve(conn, MAR, APR).items[0]["id"])
        paid = payouts.mark_paid(conn, payout_id, reference="BANK-42", actor=FINANCE_A, now=NOW)
        again = payouts.mark_paid(conn, payout_id, reference="BANK-42", actor=FINANCE_A, now=NOW)
        assert paid["payment_reference"] == again["payment_reference"] == "BANK-42"
        with pytest.raises(ServiceError) as caught:
            payouts.mark_paid(conn, payout_id, reference="BANK-43", actor=FINANCE_A, now=NOW)
        assert caught.value.code == "already_paid"
        with pytest.raises(ServiceError) as caught:
            payouts.mark_failed(conn, payout_id, reason="late", actor=FINANCE_A, now=NOW)
        assert caught.value.code == "already_paid"
        audits = conn.execute(sa.select(sa.func.count()).select_from(t.audit_log).where(
            t.audit_log.c.action == "payout.paid")).scalar_one()
        assert audits == 1


def test_a_draft_that_no_longer_matches_the_ledger_is_stale_until_refreshed(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        w = World(conn)
        aff = w.affiliate()
        w.entry(aff, 5_000)
        run_id = str(payouts.create_run(conn, period_start=MAR, period_end=APR, actor=FINANCE_A,
                                        now=NOW).run["id"])
        w.entry(aff, -1_000, kind="reversal")
        with pytest.raises(ServiceError) as caught:
            payouts.approve_run(conn, run_id, actor=FINANCE_B, now=NOW)
        assert caught.value.code == "run_stale"
        refreshed = payouts.refresh_run(conn, run_id, actor=FINANCE_A, now=NOW)
        assert refreshed.items[0]["payout_amount_minor"] == 4_000
        approved = payouts.approve_run(conn, run_id, actor=FINANCE_B, now=NOW)
        assert approved.run["status"] == "approved" and w.balance(aff) == 0


def test_configured_fee_and_withholding_lines_reduce_what_is_sent(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = World(conn)
        aff = w.affiliate()
        payout_deductions.create(conn, name="SEPA fee", kind="fee", percent="0",
                                 fixed_minor=50, currency="EUR", method="bank",
                                 actor=FINANCE_A, now=NOW)
        payout_deductions.create(conn, name="tax", kind="withholding", percent="10",
                                 affiliate_id=aff, actor=FINANCE_A, now=NOW)
        w.entry(aff, 10_000)
        item = run_and_approve(conn, MAR, APR).items[0]
        assert (item["gross_minor"], item["fees_minor"], item["withholding_minor"]) == (
            10_000, 50, 1_000)
        assert item["payout_amount_minor"] == 8_950
        assert [line["name"] for line in item["lines"]] == ["SEPA fee", "tax"]
        assert w.balance(aff) == 0  # the whole gross leaves the balance


def test_affiliates_without_confirmed_details_are_not_paid(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = World(conn)
        aff = w.affiliate(details=None)
        w.entry(aff, 10_000)
        item = run_and_approve(conn, MAR, APR).items[0]
        assert item["status"] == "blocked" and w.balance(aff) == 10_000
        assert BANK["iban"] not in str(item["payment_details"])
