"""Statements: every line of the period with its explanation, and balances equal to the ledger."""

from __future__ import annotations

import sqlalchemy as sa
from payout_world import APR, FINANCE_A, FINANCE_B, MAR, MAY, NOW, World

from clickledger.services import payouts, statements
from clickledger.store import tables as t


def ledger_balance(conn: sa.Connection, affiliate_id: str, currency: str, before) -> int:  # type: ignore[no-untyped-def]
    e = t.ledger_entries
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(e.c.amount_minor), 0)).where(
        e.c.affiliate_id == affiliate_id, e.c.currency == currency, e.c.status == "approved",
        e.c.period_start < before)).scalar_one())


def test_a_statement_shows_each_line_and_closes_on_the_ledger_balance(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = World(conn)
        aff = w.affiliate("Ana <script>alert(1)</script>")
        w.entry(aff, 10_000, explanation="CPA for player p-1 (deal v2: 100.00 EUR)")
        w.entry(aff, 2_500, explanation="RevShare 25% of NGR 100.00 EUR")
        run_id = str(payouts.create_run(conn, period_start=MAR, period_end=APR, actor=FINANCE_A,
                                        now=NOW).run["id"])
        payouts.approve_run(conn, run_id, actor=FINANCE_B, now=NOW)
        w.entry(aff, -10_000, kind="reversal", period_start=APR,
                explanation="Chargeback: CPA for player p-1 reversed")
        w.entry(aff, 1_000, kind="adjustment", period_start=APR,
                explanation="Reconciliation adjustment <b>bold</b>")
        w.entry(aff, 4_000, status="on_hold", period_start=APR, explanation="Held: fraud review")
        w.entry(aff, 300, currency="USD", period_start=APR, explanation="USD CPL")

        march = statements.build_statement(conn, aff, MAR, APR)
        april = statements.build_statement(conn, aff, APR, MAY)

        (eur_march,) = march.summaries
        assert (eur_march.opening_minor, eur_march.commission_minor,
                eur_march.payouts_minor, eur_march.closing_minor) == (0, 12_500, -12_500, 0)
        assert len(march.lines) == 3
        eur, usd = april.summaries
        assert (eur.opening_minor, eur.reversals_minor, eur.adjustments_minor,
                eur.not_counted_minor, eur.closing_minor) == (0, -10_000, 1_000, 4_000, -9_000)
        assert usd.closing_minor == 300
        for s in (*march.summaries, *april.summaries):
            end = MAY if s in april.summaries else APR
            assert s.closing_minor == ledger_balance(conn, aff, s.currency, end)

        html = statements.render_html(april)
        assert "Chargeback: CPA for player p-1 reversed" in html
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "&lt;b&gt;bold&lt;/b&gt;" in html
        assert "-90.00 EUR" in html and "@media print" in html
        pdf = statements.render_pdf(april)
        assert pdf.startswith(b"%PDF")
        data = statements.statement_json(april)
        assert [b["closing_minor"] for b in data["balances"]] == [-9_000, 300]
