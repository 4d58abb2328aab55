"""``ledger rebuild`` replays the order live evaluation happened in, not the arrival times.

Group commit can put a later request in an earlier batch, and on PostgreSQL two server
processes evaluate at once, so the commit order of batches need not follow ``received_at``;
a manager's remap moves a player between two batches.  Whatever happened live, the rebuild
equals it line for line.

The programme (tests/simulation/world.py): Mid is on a hybrid deal, CPA 75.00 EUR for the
first qualified player of the month, 90.00 from the second, at most 3 paid a month, FTD ≥
20.00; Top, Mid's parent, takes 10 % of Mid's lines; Leaf (Mid's child) is on RevShare only."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ingest.batch.test_same_as_postbacks import _by_import
from tests.simulation.world import ACTOR, SimWorld, build_world

from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.pipeline import Submission
from clickledger.ingest.validate import validate
from clickledger.services import ledger_rebuild, period_close
from clickledger.services.registration import remap_player
from clickledger.store import tables as t

TOP, MID, LEAF = 0, 1, 2


def _flush(world: SimWorld, batch: list[Mapping[str, str]], received_at: datetime,
           engine: sa.Engine | None = None) -> None:
    """One group-commit batch whose requests all arrived at ``received_at``."""
    subs = [Submission(world.integration, validate(fields, now=received_at), dict(fields),
                       received_at) for fields in batch]
    with (engine or world.engine).begin() as conn:
        answers = world.flusher(conn, subs)
    for answer in answers:
        assert answer is not None and answer.body["status"] == "accepted", answer


def _signup(world: SimWorld, user: str, amount: str = "50",
            affiliate: int = MID) -> list[dict[str, str]]:
    return [{"event": "registration", "txn_id": f"r-{user}", "user_id": user,
             "click_id": world.click(affiliate)},
            {"event": "ftd", "txn_id": f"f-{user}", "user_id": user, "amount": amount,
             "currency": "EUR"}]


def _paid(world: SimWorld) -> dict[str, int]:
    """Operator's player id → the CPA amount paid to Mid, in cents."""
    e, p = t.ledger_entries, t.players
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(p.c.operator_player_id, e.c.amount_minor)
                            .join(p, p.c.id == e.c.player_id)
                            .where(e.c.entry_key.startswith("cpa:"))).all()
    return {row.operator_player_id: row.amount_minor for row in rows}


def _rebuild_equals_live(world: SimWorld) -> None:
    report = ledger_rebuild.rebuild(world.engine)
    assert report.live_lines > 0
    assert report.equal, (report.missing, report.extra, report.changed)


def _player_id(world: SimWorld, user: str) -> str:
    with world.engine.connect() as conn:
        return str(conn.execute(sa.select(t.players.c.id).where(
            t.players.c.operator_player_id == user)).scalar_one())


def _remap(world: SimWorld, user: str, affiliate: int | None) -> None:
    with world.engine.begin() as conn:
        remap_player(conn, player_id=_player_id(world, user),
                     affiliate_id=None if affiliate is None else world.affiliates[affiliate],
                     actor=ACTOR, reason="manager's decision", now=world.clock.now())
    world.clock.advance(timedelta(seconds=1))


def test_a_batch_committed_first_ranks_first_even_when_its_requests_arrived_later() -> None:
    """u1 and u2 arrived at 10:00:05, u3 at 10:00:01, but the batch of u1 and u2 committed
    first: u1 is Mid's first qualified player (75.00), u2 the second (90.00), u3 the third
    (90.00).  By arrival time u3 would have been first: the rebuild still equals the live
    ledger, because it replays the batches in the order they were evaluated."""
    world = build_world()
    ten = world.clock.now().replace(hour=10)
    _flush(world, _signup(world, "u1") + _signup(world, "u2"), ten + timedelta(seconds=5))
    _flush(world, _signup(world, "u3"), ten + timedelta(seconds=1))
    assert _paid(world) == {"u1": 7500, "u2": 9000, "u3": 9000}
    _rebuild_equals_live(world)


def test_the_cap_stops_the_fourth_player_in_commit_order_not_in_arrival_order() -> None:
    """Four players qualify, cap 3: the one in the last committed batch (the earliest to
    arrive) is the one not paid, live and in the rebuild."""
    world = build_world()
    ten = world.clock.now().replace(hour=10)
    _flush(world, _signup(world, "u1") + _signup(world, "u2"), ten + timedelta(seconds=9))
    _flush(world, _signup(world, "u3"), ten + timedelta(seconds=5))
    _flush(world, _signup(world, "u4"), ten)
    assert _paid(world) == {"u1": 7500, "u2": 9000, "u3": 9000}
    _rebuild_equals_live(world)


def test_a_remap_between_batches_is_replayed_where_it_happened() -> None:
    """u1 qualifies under Mid (CPA 75.00, Top 7.50); a manager moves u1 to Leaf; u1's next
    deposit and activity then count for Leaf, while Mid keeps its CPA.  u2, organic, is
    remapped to Mid and earns Mid's second CPA (90.00) at the remap; u3 then qualifies for
    Mid (third: 90.00).  January closes: Leaf's RevShare counts u1's activity after the
    remap.  The rebuild equals the live ledger."""
    world = build_world()
    _flush(world, _signup(world, "u1"), world.clock.now())
    _flush(world, [{"event": "registration", "txn_id": "r-u2", "user_id": "u2"},
                   {"event": "ftd", "txn_id": "f-u2", "user_id": "u2", "amount": "40",
                    "currency": "EUR"}], world.clock.now() + timedelta(seconds=1))
    world.clock.advance(timedelta(seconds=2))
    _remap(world, "u1", LEAF)
    _remap(world, "u2", MID)
    later = world.clock.now() + timedelta(hours=1)
    _flush(world, [{"event": "deposit", "txn_id": "d-u1", "user_id": "u1", "amount": "80",
                    "currency": "EUR"},
                   {"event": "activity", "txn_id": "a-u1", "user_id": "u1", "bets": "500",
                    "wins": "300", "currency": "EUR"}], later)
    _flush(world, _signup(world, "u3"), later)
    assert _paid(world) == {"u1": 7500, "u2": 9000, "u3": 9000}
    with world.engine.begin() as conn:
        period_close.close(conn, datetime(2026, 1, 1, tzinfo=later.tzinfo), later + timedelta(
            days=40))
    with world.engine.connect() as conn:
        leaf_lines = conn.execute(sa.select(sa.func.count()).select_from(t.ledger_entries)
                                  .where(t.ledger_entries.c.affiliate_id
                                         == world.affiliates[LEAF],
                                         t.ledger_entries.c.entry_key.startswith("rs:"))
                                  ).scalar_one()
    assert leaf_lines == 1  # 30 % of u1's NGR, counted for Leaf
    _rebuild_equals_live(world)


batch_strategy = st.lists(  # batches of (player, kind), each with an arrival offset
    st.tuples(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(("signup", "deposit",
                                                                      "chargeback"))),
                       min_size=1, max_size=4),
              st.integers(0, 30),  # seconds after 10:00 (batches commit in list order)
              st.sampled_from((None, None, None, TOP, MID, LEAF))),  # a remap after it
    min_size=1, max_size=8)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch_strategy)
def test_rebuild_equals_live_whatever_the_batches_commit_order_and_remaps(
    batches: list[tuple[list[tuple[int, str]], int, int | None]],
) -> None:
    """Random batches committed in an order unrelated to their arrival times, with remaps
    between them: the rebuild equals the live ledger."""
    world = build_world()
    ten = world.clock.now().replace(hour=10)
    seen: set[str] = set()
    counter = 0
    for items, offset_s, remap_to in batches:
        batch: list[dict[str, str]] = []
        for player, kind in items:
            user, counter = f"u{player}", counter + 1
            if kind == "signup" and user not in seen:
                seen.add(user)
                batch += _signup(world, user, amount=str(10 + 7 * player))
            elif kind == "deposit":
                batch.append({"event": "deposit", "txn_id": f"d{counter}", "user_id": user,
                              "amount": "25", "currency": "EUR"})
            elif kind == "chargeback":
                batch.append({"event": "chargeback", "txn_id": f"c{counter}", "user_id": user,
                              "amount": "5", "currency": "EUR", "reverses_txn_id": f"f-{user}"})
        if batch:
            _flush(world, batch, ten + timedelta(seconds=offset_s))
        if remap_to is not None and seen:
            _remap(world, sorted(seen)[0], remap_to)
    report = ledger_rebuild.rebuild(world.engine)
    assert report.equal, (report.missing, report.extra, report.changed)


def _at_once(world: SimWorld, batches: list[list[dict[str, str]]],
             received_at: datetime) -> list[BaseException]:
    """Flush each batch in its own thread and transaction, all started together."""
    ready = threading.Barrier(len(batches))
    errors: list[BaseException] = []

    def store(batch: list[dict[str, str]]) -> None:
        try:
            ready.wait()
            _flush(world, batch, received_at)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=store, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.parametrize("rounds", [3])
def test_two_connections_evaluating_at_once_respect_the_cap_and_rebuild_equals_live(
    engine: sa.Engine, rounds: int,
) -> None:
    """Two server processes (here two connections in two threads) store batches for Mid at
    the same moment: on PostgreSQL the evaluation locks make one wait for the other, so the
    cap of 3 holds — never two "first" players — and the rebuild replays them in the order
    they were evaluated.  On SQLite the write lock serialises them the same way."""
    world = build_world(engine)
    for round_ in range(rounds):  # one month each: 3 paid a month
        start = world.clock.now().replace(month=1 + round_, day=2, hour=10)
        world.clock.advance(start - world.clock.now())  # the players click that day
        batches = [_signup(world, f"a{round_}") + _signup(world, f"b{round_}"),
                   _signup(world, f"c{round_}") + _signup(world, f"d{round_}")]
        errors = _at_once(world, batches, start)
        assert errors == []
        paid = _paid(world)
        assert len(paid) == 3 * (round_ + 1), paid  # the cap holds whatever ran at once
        assert sorted(paid.values()) == [7500] * (round_ + 1) + [9000] * 2 * (round_ + 1)
        _rebuild_equals_live(world)


def test_imported_files_cut_into_chunks_then_a_remap_rebuild_equal_to_live(
    engine: sa.Engine,
) -> None:
    """The programme of tests/ingest/batch/test_same_as_postbacks.py arrives as five import
    files cut into chunks of two rows (each chunk evaluated in turn, an FTD before its
    registration among them), then a manager moves Mia to Leaf: the rebuild replays the
    chunks, the registrations' bindings and the remap where they happened."""
    world = build_world(engine)
    _by_import(world, ImportLimits.model_construct(chunk_rows=2))  # below the floor
    _remap(world, "mia", LEAF)
    _rebuild_equals_live(world)
