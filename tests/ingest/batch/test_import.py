"""Importing a file stores its events once, attributes players like postbacks do, counts
integration health, and under reject-file stores nothing when any line is bad."""

from __future__ import annotations

import sqlalchemy as sa
from tests.ingest.batch.seed import Seeded, count, events, seed

from clickledger.clock import FakeClock
from clickledger.ids import new_id
from clickledger.ingest.batch.kinds import FileKind, Policy
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.batch.profiles import Profile, get_profile, save_profile
from clickledger.ingest.batch.runner import ImportRequest, ImportResult, run_import
from clickledger.store import tables as t

WINDOW_DAYS = 30
DEPOSITS = ("txn_id,player_id,occurred_at,amount,currency\n"
            "D1,p1,2025-12-01 10:00:00,20.00,EUR\n"
            "D2,p1,2025-12-05 10:00:00,5.50,EUR\n"
            "D3,p2,2025-12-03 09:00:00,100,EUR\n")


def run(engine: sa.Engine, clock: FakeClock, seeded: Seeded, text: str,
        kind: FileKind = FileKind.DEPOSITS, policy: Policy = Policy.REJECT_FILE,
        limits: ImportLimits | None = None, profile: Profile | None = None) -> ImportResult:
    request = ImportRequest(text.encode(), "file.csv", kind, seeded.integration_id,
                            profile or Profile(), policy)
    return run_import(engine, clock, WINDOW_DAYS, request, limits or ImportLimits(chunk_rows=100))


def test_a_deposits_file_is_stored_once_and_a_reimport_changes_nothing(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    first = run(engine, clock, seeded, DEPOSITS)
    assert (first.status, first.inserted, first.duplicates) == ("imported", 3, 0)
    stored = events(engine)
    assert [(e.txn_id, e.kind, e.amount_minor, e.currency, e.source) for e in stored] == [
        ("D1", "deposit", 2000, "EUR", "batch"), ("D2", "deposit", 550, "EUR", "batch"),
        ("D3", "deposit", 10000, "EUR", "batch")]
    again = run(engine, clock, seeded, DEPOSITS)
    assert (again.inserted, again.duplicates) == (0, 3)
    assert [e.id for e in events(engine)] == [e.id for e in stored]


def test_overlapping_files_add_only_the_new_lines(engine: sa.Engine, clock: FakeClock) -> None:
    seeded = seed(engine, clock.now())
    run(engine, clock, seeded, DEPOSITS)
    overlap = DEPOSITS.splitlines()[0] + "\n" + "\n".join(DEPOSITS.splitlines()[2:]) + \
        "\nD4,p3,2025-12-06 10:00:00,1,EUR\n"
    result = run(engine, clock, seeded, overlap)
    assert (result.inserted, result.duplicates) == (1, 2)
    assert [e.txn_id for e in events(engine)] == ["D1", "D2", "D3", "D4"]


def test_players_get_their_earliest_deposit_as_ftd_and_stay_pending_until_registered(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    run(engine, clock, seeded, DEPOSITS)
    with engine.connect() as conn:
        players = {row.operator_player_id: row for row in conn.execute(sa.select(t.players))}
        d1 = conn.execute(sa.select(t.player_events.c.id).where(
            t.player_events.c.txn_id == "D1")).scalar_one()
    assert set(players) == {"p1", "p2"}
    assert players["p1"].attribution == "pending"
    assert str(players["p1"].ftd_event_id) == str(d1)
    assert all(e.player_id is not None for e in events(engine))


def test_a_registration_with_a_promo_code_binds_the_player_to_its_affiliate(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    with engine.begin() as conn:
        conn.execute(t.promo_codes.insert().values(
            id=new_id(), code="WELCOME", affiliate_id=seeded.affiliate_id,
            brand_id=seeded.brand_id, created_at=clock.now(), updated_at=clock.now()))
    run(engine, clock, seeded, DEPOSITS)
    result = run(engine, clock, seeded,
                 "txn_id,player_id,occurred_at,promo_code,country\n"
                 "R1,p1,2025-11-30 08:00:00,WELCOME,de\n", kind=FileKind.REGISTRATIONS)
    assert result.inserted == 1
    with engine.connect() as conn:
        player = conn.execute(sa.select(t.players).where(
            t.players.c.operator_player_id == "p1")).one()
    assert str(player.affiliate_id) == seeded.affiliate_id
    assert player.attribution == "promo"
    assert player.country == "DE"


def test_reject_file_stores_nothing_when_one_line_is_bad(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    result = run(engine, clock, seeded, DEPOSITS + "D9,p9,2025-12-01,abc,EUR\n")
    assert result.status == "rejected"
    assert result.errors.to_dicts() == [{"line": 5, "column": "amount", "code": "invalid_amount",
                                         "message": "not an amount (or more decimals than its "
                                                    "currency has): abc"}]
    assert count(engine, t.player_events) == 0
    assert count(engine, t.players) == 0


def test_skip_invalid_stores_the_good_lines_and_counts_the_bad_in_health(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    text = DEPOSITS + "D9,p9,2025-12-01,abc,EUR\nD10,p9,2025-12-01,1,QQQ\n"
    result = run(engine, clock, seeded, text, policy=Policy.SKIP_INVALID)
    assert (result.status, result.inserted, result.invalid) == ("imported", 3, 2)
    rerun = run(engine, clock, seeded, text, policy=Policy.SKIP_INVALID)
    assert (rerun.inserted, rerun.duplicates) == (0, 3)
    with engine.connect() as conn:
        health = conn.execute(sa.select(t.integration_health_hourly)).one()
    assert (health.accepted, health.duplicates, health.rejected) == (3, 3, 4)
    # lag: received 2026-01-01 00:00 UTC; D1 30d14h, D2 26d14h, D3 28d15h earlier
    lags_ms = [(30 * 24 + 14) * 3_600_000, (26 * 24 + 14) * 3_600_000, (28 * 24 + 15) * 3_600_000]
    assert health.lag_ms_sum == sum(lags_ms)
    assert health.lag_ms_max == max(lags_ms)


def test_skip_invalid_in_small_chunks_converges_after_a_partial_run(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    lines = [f"T{i},p{i % 7},2025-12-01 10:00:{i % 60:02d},{i}.00,EUR" for i in range(250)]
    header = "txn_id,player_id,occurred_at,amount,currency\n"
    run(engine, clock, seeded, header + "\n".join(lines[:120]) + "\n", policy=Policy.SKIP_INVALID)
    result = run(engine, clock, seeded, header + "\n".join(lines) + "\n",
                 policy=Policy.SKIP_INVALID, limits=ImportLimits(chunk_rows=100))
    assert (result.inserted, result.duplicates) == (130, 120)
    assert count(engine, t.player_events) == 250
    assert count(engine, t.players) == 7


def test_a_saved_profile_maps_an_operators_headers(engine: sa.Engine, clock: FakeClock) -> None:
    seeded = seed(engine, clock.now())
    with engine.begin() as conn:
        save_profile(conn, Profile(name="acme", columns={"txn_id": "Deposit ID",
                                                         "player_id": "Player",
                                                         "occurred_at": "When",
                                                         "amount": "Amount"},
                                   currency_column="Curr", date_formats=("%d/%m/%Y",)),
                     clock.now(), seeded.integration_id)
        profile = get_profile(conn, "acme")
    assert profile is not None
    result = run(engine, clock, seeded,
                 "Deposit ID,Player,When,Amount,Curr\nX,p1,02/12/2025,3,usd\n", profile=profile)
    assert result.inserted == 1
    assert [(e.txn_id, e.amount_minor, e.currency) for e in events(engine)] == [("X", 300, "USD")]


def test_imported_deposits_reach_the_report_rollups_like_postbacks(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    with engine.begin() as conn:
        conn.execute(t.promo_codes.insert().values(
            id=new_id(), code="WELCOME", affiliate_id=seeded.affiliate_id,
            brand_id=seeded.brand_id, created_at=clock.now(), updated_at=clock.now()))
    run(engine, clock, seeded, "txn_id,player_id,occurred_at,promo_code\n"
                               "R1,p1,2025-11-30 08:00:00,WELCOME\n", kind=FileKind.REGISTRATIONS)
    run(engine, clock, seeded, DEPOSITS)
    r = t.report_rollups_daily
    with engine.connect() as conn:
        totals = conn.execute(
            sa.select(sa.func.sum(r.c.registrations), sa.func.sum(r.c.ftds),
                      sa.func.sum(r.c.ftd_amount_minor))
            .where(r.c.affiliate_id == seeded.affiliate_id, r.c.dim == "all")).one()
    # p1 registered by promo code; its first deposit D1 20.00 EUR is its FTD (p2 is unattributed)
    assert tuple(int(v or 0) for v in totals) == (1, 1, 2000)


def test_text_that_looks_like_sql_is_stored_exactly_as_the_operator_sent_it(
    engine: sa.Engine, clock: FakeClock
) -> None:
    """Values the same on every line are written into the insert statement only when they
    are plain; anything else — here a quote and SQL — is bound like any value."""
    seeded = seed(engine, clock.now())
    odd = "X'); DROP TABLE players;--"
    result = run(engine, clock, seeded,
                 "txn_id,player_id,occurred_at,lots,instrument,spread,currency\n"
                 f"T1,p1,2025-12-01 10:00:00,0.5,\"{odd}\",1.00,EUR\n"
                 f"T2,p2,2025-12-01 11:00:00,1.5,\"{odd}\",2.00,EUR\n", kind=FileKind.TRADES)
    assert (result.status, result.inserted) == ("imported", 2)
    assert [(e.txn_id, e.instrument, e.lots_milli, e.spread_minor) for e in events(engine)] == [
        ("T1", odd, 500, 100), ("T2", odd, 1500, 200)]
    assert count(engine, t.players) == 2


def test_a_file_with_only_its_header_imports_nothing_and_says_so(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    for policy in (Policy.REJECT_FILE, Policy.SKIP_INVALID):
        result = run(engine, clock, seeded, DEPOSITS.splitlines()[0] + "\n", policy=policy)
        assert (result.status, result.data_lines, result.inserted) == ("imported", 0, 0)
        assert result.message.startswith("0 line(s): 0 imported")
    assert count(engine, t.player_events) == 0
