"""Finance reconciles an operator's statement: every line flagged against our records, an
approved adjustment posted to the ledger exactly once, missed events backfilled."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from tests.ingest.batch.seed import Seeded, seed

from clickledger.clock import FakeClock
from clickledger.ids import new_id
from clickledger.ingest.batch.kinds import FileKind, Policy
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.batch.profiles import Profile
from clickledger.ingest.batch.report import csv_text
from clickledger.ingest.batch.runner import ImportRequest, run_import
from clickledger.services import reconciliation as recon
from clickledger.services.reconciliation_backfill import backfill
from clickledger.store import tables as t

PERIOD = datetime(2025, 12, 1, tzinfo=UTC)


def import_deposits(engine: sa.Engine, clock: FakeClock, seeded: Seeded, text: str) -> None:
    request = ImportRequest(text.encode(), "d.csv", FileKind.DEPOSITS, seeded.integration_id,
                            Profile(), Policy.REJECT_FILE)
    assert run_import(engine, clock, 30, request, ImportLimits()).status == "imported"


def reconcile(engine: sa.Engine, clock: FakeClock, text: str, kind: recon.StatementKind,
              **options: str) -> recon.RunOutcome:
    request = recon.StatementRequest(data=text.encode(), file_name="statement.csv", kind=kind,
                                     brand="acme-casino brand", actor="finance@acme", **options)
    return recon.run_reconciliation(engine, clock.now(), request)


def flags(outcome: recon.RunOutcome) -> list[tuple[object, ...]]:
    return [(r["line"], r["key"], r["flag"], r["difference_minor"])
            for r in outcome.items.iter_rows(named=True)]


def test_an_events_statement_flags_each_case_against_imported_events(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    import_deposits(engine, clock, seeded, "txn_id,player_id,occurred_at,amount,currency\n"
                    "E1,p1,2025-12-01 10:00:00,20.00,EUR\nE2,p1,2025-12-02 10:00:00,30.00,EUR\n"
                    "E3,p2,2025-12-03 10:00:00,40.00,EUR\nE5,p3,2025-12-03 12:00:00,9.99,EUR\n")
    outcome = reconcile(engine, clock, "txn_id,player_id,occurred_at,amount,currency\n"
                        "E1,p1,2025-12-01 10:00:00,20.00,EUR\n"
                        "E2,p1,2025-12-02 10:00:00,31.50,EUR\n"
                        "E3,p2,2025-12-03 10:00:00,40.00,USD\n"
                        "E4,p4,2025-12-03 11:00:00,15.00,EUR\n"
                        "E1,p1,2025-12-01 10:00:00,20.00,EUR\n", recon.StatementKind.EVENTS)
    assert flags(outcome) == [
        (2, "E1", "matched", 0), (3, "E2", "amount_mismatch", 150),
        (4, "E3", "currency_mismatch", None), (5, "E4", "missing_in_clickledger", None),
        (6, "E1", "duplicate", None), (None, "E5", "missing_in_operator", None),
    ]
    with engine.connect() as conn:
        stored = recon.list_items(conn, outcome.run_id, {"flag": "amount_mismatch"}, 10)
        run = recon.get_run(conn, outcome.run_id)
    assert [(i["match_key"], i["ours_minor"], i["theirs_minor"], i["difference_minor"])
            for i in stored] == [("E2", 3000, 3150, 150)]
    assert run is not None and run["summary"]["flags"]["matched"] == 1


def test_a_statement_without_dates_is_matched_by_key_against_its_brand_only(
    engine: sa.Engine, clock: FakeClock
) -> None:
    acme = seed(engine, clock.now())
    other = seed(engine, clock.now(), name="other-casino")
    import_deposits(engine, clock, acme, "txn_id,player_id,occurred_at,amount,currency\n"
                    "E1,p1,2025-12-01 10:00:00,20.00,EUR\nE2,p1,2025-11-02 10:00:00,30.00,EUR\n")
    import_deposits(engine, clock, other, "txn_id,player_id,occurred_at,amount,currency\n"
                    "E3,q1,2025-12-03 10:00:00,40.00,EUR\n")  # the other brand's E3
    outcome = reconcile(engine, clock, "txn_id,player_id,amount,currency\n"
                        "E1,p1,20.00,EUR\nE2,p1,35.00,EUR\nE3,p2,40.00,EUR\n",
                        recon.StatementKind.EVENTS)
    # no dates: only the listed keys are looked up (E2 from November too), in acme's events
    assert flags(outcome) == [(2, "E1", "matched", 0), (3, "E2", "amount_mismatch", 500),
                              (4, "E3", "missing_in_clickledger", None)]


def post_commission(engine: sa.Engine, seeded: Seeded, player: str, amount_minor: int,
                    now: datetime) -> None:
    with engine.begin() as conn:
        player_id = conn.execute(sa.select(t.players.c.id).where(
            t.players.c.operator_player_id == player)).scalar_one()
        conn.execute(t.ledger_entries.insert().values(
            id=new_id(), entry_key=f"test:{player}:{amount_minor}", kind="commission",
            affiliate_id=seeded.affiliate_id, player_id=player_id, amount_minor=amount_minor,
            currency="EUR", period_start=PERIOD, status="approved", source_event_ids=[],
            explanation="CPA", created_at=now))


@pytest.fixture
def with_commissions(engine: sa.Engine, clock: FakeClock) -> Seeded:
    seeded = seed(engine, clock.now())
    import_deposits(engine, clock, seeded, "txn_id,player_id,occurred_at,amount,currency\n"
                    "E1,p1,2025-12-01 10:00:00,20.00,EUR\nE2,p2,2025-12-02 10:00:00,30.00,EUR\n")
    post_commission(engine, seeded, "p1", 10_000, clock.now())
    post_commission(engine, seeded, "p2", 5_000, clock.now())
    return seeded


def test_an_approved_adjustment_is_posted_once_and_closes_the_gap(
    engine: sa.Engine, clock: FakeClock, with_commissions: Seeded
) -> None:
    seeded = with_commissions
    statement = f"affiliate,amount,currency\n{seeded.affiliate_id},175.00,EUR\n"
    outcome = reconcile(engine, clock, statement, recon.StatementKind.AFFILIATES,
                        period_start="2025-12-01", period_end="2026-01-01")
    item = outcome.items.row(0, named=True)
    assert (item["flag"], item["ours_minor"], item["theirs_minor"], item["difference_minor"],
            item["proposed_adjustment_minor"]) == ("amount_mismatch", 15_000, 17_500, 2_500, 2_500)
    with engine.begin() as conn:
        (stored,) = recon.list_items(conn, outcome.run_id, {}, 10)
        first = recon.decide(conn, str(stored["id"]), True, "finance@acme", clock.now())
    with engine.begin() as conn:
        second = recon.decide(conn, str(stored["id"]), True, "finance@acme", clock.now())
        with pytest.raises(recon.ReconciliationError) as refused:
            recon.decide(conn, str(stored["id"]), False, "finance@acme", clock.now())
        entries = conn.execute(sa.select(t.ledger_entries).where(
            t.ledger_entries.c.kind == "adjustment")).all()
    assert refused.value.code == "already_decided"
    assert first["ledger_entry_id"] == second["ledger_entry_id"]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.amount_minor, entry.currency, entry.entry_key) == (
        2_500, "EUR", f"recon:{stored['id']}")
    assert str(entry.reconciliation_item_id) == str(stored["id"])
    assert str(entry.affiliate_id) == seeded.affiliate_id
    rerun = reconcile(engine, clock, statement, recon.StatementKind.AFFILIATES,
                      period_start="2025-12-01", period_end="2026-01-01")
    assert [(r["flag"], r["difference_minor"]) for r in rerun.items.iter_rows(named=True)] == [
        ("matched", 0)]


def test_a_players_statement_compares_commission_per_player(
    engine: sa.Engine, clock: FakeClock, with_commissions: Seeded
) -> None:
    outcome = reconcile(engine, clock, "player_id,amount,currency,affiliate\n"
                        "p1,100.00,EUR,aff@acme-casino.test\np2,49.00,EUR,\n",
                        recon.StatementKind.PLAYERS, period_start="2025-12-01",
                        period_end="2026-01-01", tolerance="0.50")
    assert [(r["key"], r["flag"], r["difference_minor"], r["proposed_adjustment_minor"])
            for r in outcome.items.iter_rows(named=True)] == [
        ("p1", "matched", 0, None), ("p2", "amount_mismatch", -100, -100)]


def test_a_rejected_proposal_posts_nothing(
    engine: sa.Engine, clock: FakeClock, with_commissions: Seeded
) -> None:
    outcome = reconcile(engine, clock, f"affiliate,amount,currency\n"
                        f"{with_commissions.affiliate_id},100,EUR\n",
                        recon.StatementKind.AFFILIATES, period_start="2025-12-01",
                        period_end="2026-01-01")
    with engine.begin() as conn:
        (stored,) = recon.list_items(conn, outcome.run_id, {}, 10)
        decided = recon.decide(conn, str(stored["id"]), False, "finance@acme", clock.now())
        adjustments = conn.execute(sa.select(sa.func.count()).select_from(t.ledger_entries).where(
            t.ledger_entries.c.kind == "adjustment")).scalar_one()
    assert decided["decision"] == "rejected"
    assert adjustments == 0


def test_the_export_makes_formula_cells_harmless(
    engine: sa.Engine, clock: FakeClock, with_commissions: Seeded
) -> None:
    outcome = reconcile(engine, clock, "affiliate,amount,currency\n"
                        '"=HYPERLINK(""http://evil"")",10,EUR\n@SUM(A1),-5,EUR\n',
                        recon.StatementKind.AFFILIATES, period_start="2025-12-01",
                        period_end="2026-01-01")
    with engine.connect() as conn:
        text = csv_text(recon.EXPORT_COLUMNS, recon.export_rows(conn, outcome.run_id))
    rows = list(csv.DictReader(io.StringIO(text)))
    keys = {r["match_key"] for r in rows}
    assert "'=HYPERLINK(\"http://evil\")" in keys and "'@SUM(A1)" in keys
    assert all(not value.startswith(("=", "+", "-", "@")) for r in rows for value in r.values())
    theirs = {r["match_key"]: r["theirs"] for r in rows}
    assert theirs["'@SUM(A1)"] == "'-5.00"


def test_missed_events_are_backfilled_through_the_import_path(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    import_deposits(engine, clock, seeded, "txn_id,player_id,occurred_at,amount,currency\n"
                    "E1,p1,2025-12-01 10:00:00,20.00,EUR\n")
    outcome = reconcile(engine, clock, "txn_id,player_id,occurred_at,amount,currency,kind\n"
                        "E1,p1,2025-12-01 10:00:00,20.00,EUR,deposit\n"
                        "E9,p9,2025-12-02 11:00:00,12.34,EUR,ftd\n"
                        "E10,,2025-12-02 11:00:00,1.00,EUR,deposit\n",
                        recon.StatementKind.EVENTS)
    result = backfill(engine, clock, 30, outcome.run_id, seeded.integration_name, "finance@acme")
    assert (result.imported, result.already_known) == (1, 0)
    assert [(e["line"], e["code"]) for e in result.not_importable] == [(4, "missing_value")]
    with engine.connect() as conn:
        event = conn.execute(sa.select(t.player_events).where(
            t.player_events.c.txn_id == "E9")).one()
        decisions = dict(conn.execute(sa.select(
            t.reconciliation_items.c.match_key, t.reconciliation_items.c.decision).where(
            t.reconciliation_items.c.run_id == outcome.run_id)).all())
    assert (event.kind, event.amount_minor, event.source, event.operator_player_id) == (
        "ftd", 1234, "batch", "p9")
    assert decisions == {"E1": "none", "E9": "backfilled", "E10": "none"}
    again = backfill(engine, clock, 30, outcome.run_id, seeded.integration_name, "finance@acme")
    assert again.imported == 0


def test_a_bad_statement_is_refused_with_its_line_errors(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seed(engine, clock.now())
    with pytest.raises(recon.ReconciliationError) as refused:
        reconcile(engine, clock, "txn_id,amount,currency\nE1,abc,EUR\nE2,1,XXX\n",
                  recon.StatementKind.EVENTS)
    assert refused.value.code == "invalid_statement"
    assert [(e["line"], e["code"]) for e in refused.value.details] == [
        (2, "invalid_amount"), (3, "unknown_currency")]
    with pytest.raises(recon.ReconciliationError) as wrong:
        reconcile(engine, clock, "player_id,amount\np1,1\n", recon.StatementKind.PLAYERS,
                  period_start="2025-12-01", period_end="2026-01-01")
    assert wrong.value.code == "wrong_kind"
