"""Property: at every step of any sequence of commissions, reversals, runs, approvals, payments
and failures, paid + balances = approved commission, per currency."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from payout_world import FINANCE_A, FINANCE_B, MAR, NOW, World

from clickledger.services import payouts
from clickledger.services.errors import ServiceError
from clickledger.store import tables as t

CURRENCIES = ("EUR", "JPY")
RATES = {("JPY", "EUR"): Decimal("0.0061"), ("EUR", "JPY"): Decimal("161.235")}
# The audit log is append-only (a database trigger refuses DELETE): it is not wiped.
WIPE = (t.ledger_entries, t.payouts, t.payout_runs, t.fx_rates, t.affiliates)

commission = st.tuples(st.just("commission"), st.integers(0, 2), st.sampled_from(CURRENCIES),
                       st.integers(1, 50_000))
reversal = st.tuples(st.just("reversal"), st.integers(0, 2), st.sampled_from(CURRENCIES),
                     st.integers(1, 50_000))
run = st.tuples(st.just("run"), st.booleans(), st.just(""), st.just(0))
settle = st.tuples(st.sampled_from(["pay", "fail"]), st.integers(0, 20), st.just(""), st.just(0))
steps = st.lists(st.one_of(commission, reversal, run, settle), min_size=1, max_size=14)


def check_invariant(conn: sa.Connection) -> None:
    e, p = t.ledger_entries, t.payouts
    commission: dict[str, int] = defaultdict(int)
    balance: dict[str, int] = defaultdict(int)
    for kind, currency, amount in conn.execute(sa.select(e.c.kind, e.c.currency, e.c.amount_minor)
                                               .where(e.c.status == "approved")):
        balance[currency] += amount
        if kind != "payout":
            commission[currency] += amount
    paid: dict[str, int] = defaultdict(int)  # left the balance: approved (in flight) or paid
    for currency, amount in conn.execute(sa.select(p.c.currency, p.c.amount_minor)
                                         .where(p.c.status.in_(["approved", "paid"]))):
        assert amount > 0, "only positive balances are ever paid"
        paid[currency] += amount
    for currency in set(commission) | set(paid) | set(balance):
        assert paid[currency] + balance[currency] == commission[currency], currency


def apply(conn: sa.Connection, w: World, affiliates: list[str], step: tuple, n_run: int) -> int:  # type: ignore[type-arg]
    action, who, currency, amount = step
    start = MAR + timedelta(days=7 * n_run)
    if action in ("commission", "reversal"):
        sign = 1 if action == "commission" else -1
        w.entry(affiliates[who], sign * amount, currency, kind=action, period_start=start)
        return n_run
    if action == "run":
        view = payouts.create_run(conn, period_start=start, period_end=start + timedelta(days=7),
                                  actor=FINANCE_A, now=NOW, rates=RATES)
        if who:
            payouts.approve_run(conn, str(view.run["id"]), actor=FINANCE_B, now=NOW)
        return n_run + 1
    drafts = conn.execute(sa.select(t.payout_runs.c.id).where(t.payout_runs.c.status == "draft"))
    for run_id in drafts.scalars().all():  # settling first approves what is still a draft
        try:
            payouts.approve_run(conn, str(run_id), actor=FINANCE_B, now=NOW)
        except ServiceError as exc:
            assert exc.code == "run_stale"
            payouts.refresh_run(conn, str(run_id), actor=FINANCE_A, now=NOW)
            payouts.approve_run(conn, str(run_id), actor=FINANCE_B, now=NOW)
    open_items = conn.execute(sa.select(t.payouts.c.id).where(t.payouts.c.status == "approved")
                              .order_by(t.payouts.c.id)).scalars().all()
    if open_items:
        target = str(open_items[who % len(open_items)])
        if action == "pay":
            payouts.mark_paid(conn, target, reference=f"REF-{target[:8]}", actor=FINANCE_A, now=NOW)
        else:
            payouts.mark_failed(conn, target, reason="bounced", actor=FINANCE_A, now=NOW)
    return n_run


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=steps)
def test_paid_plus_balances_equals_approved_commission_at_every_step(
    engine: sa.Engine, sequence: list[tuple],  # type: ignore[type-arg]
) -> None:
    with engine.begin() as conn:
        for table in WIPE:
            conn.execute(table.delete())
        w = World(conn)
        affiliates = [w.affiliate("A", threshold_minor=1_000),
                      w.affiliate("B", payout_currency="JPY"),
                      w.affiliate("C", threshold_minor=20_000)]
        n_run = 0
        for step in sequence:
            n_run = apply(conn, w, affiliates, step, n_run)
            check_invariant(conn)
