"""Property: replaying every stored event (``ledger rebuild``) gives the live ledger, line for
line, whatever the events, their arrival order, the batching and the period closes.

The rebuild groups events by arrival instant; ingestion may have cut the same arrivals into
several calls (group-commit batches, chunks of one import file): the second property checks
that where the calls were cut changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.pool import StaticPool

from clickledger.services import ledger_rebuild, period_close
from clickledger.store import tables as t
from commission_builder import World, at

KINDS = ("ftd", "deposit", "trade", "activity", "chargeback")
CLOSES = ((at(5, month=2), at(1, hour=0)), (at(4, month=3), at(1, month=2, hour=0)))

event_strategy = st.tuples(
    st.integers(0, 4),  # player
    st.sampled_from(KINDS),
    st.integers(0, 58 * 24),  # occurred, hours after 1 January
    st.integers(0, 30 * 24),  # arrival delay in hours
    st.integers(1, 40_000),  # amount in cents
    st.integers(0, 3),  # which earlier event a chargeback points at
)


def _world() -> tuple[sa.Engine, World, list[str]]:
    engine = sa.create_engine("sqlite://", poolclass=StaticPool,
                              connect_args={"check_same_thread": False})
    t.metadata.create_all(engine)
    world = World(engine)
    brand = world.brand(admin_fee_pct="5")
    top = world.affiliate("Top")
    world.assign(top, world.deal(brand, "sub_affiliate", {"levels_pct": ["10", "3"]}))
    mid = world.affiliate("Mid", parent=top)
    world.assign(mid, world.deal(brand, "hybrid", {
        "cpa": {"amount": "75", "tiers": [{"min_players": 2, "amount": "90"}],
                "cap_per_period": 2, "qualification": {"min_ftd": "20", "min_lots": "0.2"}},
        "revshare": {"pct": "15", "carryover": "carry_forward"}}))
    leaf = world.affiliate("Leaf", parent=mid)
    world.assign(leaf, world.deal(brand, "ib_rebate", {"rates_per_lot": {"default": "3.3"},
                                                       "spread_share_pct": "12.5"}))
    world.assign(leaf, world.deal(brand, "revshare", {"pct": "30", "carryover": "none"}))
    players = [world.player(brand, owner, at(1, hour=0))
               for owner in (mid, mid, mid, leaf, leaf)]
    return engine, world, players


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_strategy, min_size=1, max_size=25))
def test_rebuild_equals_live_over_random_event_sequences(
    events: list[tuple[int, str, int, int, int, int]],
) -> None:
    engine, world, players = _world()
    start = at(1, hour=0)
    timeline = sorted(events, key=lambda e: e[2] + e[3])  # ingestion sees arrival order
    stored: dict[int, list[str]] = {}
    pending = list(CLOSES)
    batch: list[str] = []
    batch_arrival: datetime | None = None
    for player_index, kind, hours, delay, cents, pick in timeline:
        when = start + timedelta(hours=hours)
        arrival = when + timedelta(hours=delay)
        if batch and arrival != batch_arrival:
            world.evaluate(*batch, now=batch_arrival)
            batch = []
        while pending and pending[0][0] < arrival:
            closed_at, period_start = pending.pop(0)
            with engine.begin() as conn:
                period_close.close(conn, period_start, closed_at)
        amount = f"{cents // 100}.{cents % 100:02d}"
        earlier = stored.get(player_index, [])
        reverses = world.txn_of(earlier[pick % len(earlier)]) if kind == "chargeback" \
            and earlier else None
        batch.append(world.event(
            players[player_index], kind, when, received_at=arrival, amount=amount,
            lots=f"0.{cents % 1000:03d}" if kind == "trade" else None, instrument="EURUSD.m",
            spread=amount if kind == "trade" else None,
            bets=amount if kind == "activity" else None,
            wins=f"{(cents * 3 // 2) // 100}.00" if kind == "activity" else None,
            reverses=reverses))
        batch_arrival = arrival
        stored.setdefault(player_index, []).append(batch[-1])
    if batch:
        world.evaluate(*batch, now=batch_arrival)
    report = ledger_rebuild.rebuild(engine)
    assert report.equal, (report.missing, report.extra, report.changed[:5])
    engine.dispose()


RECEIPT_STEP = timedelta(days=10)  # arrivals are stamped on a coarse clock: many share one


def _received(arrival: datetime) -> datetime:
    """The next 10-day mark from 1 January at or after ``arrival``."""
    start = at(1, hour=0)
    steps = -((start - arrival) // RECEIPT_STEP)  # ceiling division
    return start + steps * RECEIPT_STEP


def _send(world: World, players: list[str], stored: dict[int, list[str]],
          event: tuple[int, str, int, int, int, int], received: datetime) -> str:
    player_index, kind, hours, _delay, cents, pick = event
    when = at(1, hour=0) + timedelta(hours=hours)
    amount = f"{cents // 100}.{cents % 100:02d}"
    earlier = stored.get(player_index, [])
    reverses = world.txn_of(earlier[pick % len(earlier)]) if kind == "chargeback" \
        and earlier else None
    fields: dict[str, Any] = {
        "received_at": received, "amount": amount, "instrument": "EURUSD.m",
        "lots": f"0.{cents % 1000:03d}" if kind == "trade" else None,
        "spread": amount if kind == "trade" else None,
        "bets": amount if kind == "activity" else None,
        "wins": f"{(cents * 3 // 2) // 100}.00" if kind == "activity" else None,
        "reverses": reverses}
    event_id = world.event(players[player_index], kind, when, **fields)
    stored.setdefault(player_index, []).append(event_id)
    return event_id


near_thresholds = st.tuples(
    st.sampled_from((0, 1, 3)),  # player: 0-1 are Mid's (CPA from FTD 20.00 and 0.2 lots), 3 Leaf's
    st.sampled_from(("ftd", "ftd", "deposit", "trade", "trade", "chargeback", "chargeback",
                     "activity")),
    st.integers(0, 10 * 24),  # occurred, hours after 1 January
    st.integers(0, 24),  # arrival delay in hours
    st.sampled_from((150, 500, 1_999, 2_000, 15_000)),  # cents; a trade: 0.15, 0.5, 0.999, 0 lots
    st.integers(0, 3),  # which earlier event a chargeback points at
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(near_thresholds, min_size=1, max_size=16),
       st.lists(st.booleans(), min_size=16, max_size=16))
def test_rebuild_equals_live_however_ingestion_cut_the_arrivals_into_calls(
    events: list[tuple[int, str, int, int, int, int]], cuts: list[bool],
) -> None:
    """Events arriving at one instant are stored and evaluated in several consecutive calls
    (a new call starts at event ``i`` when ``cuts[i]``); the rebuild replays each instant as
    one call and must still give the live ledger."""
    engine, world, players = _world()
    timeline = sorted(events, key=lambda e: e[2] + e[3])
    stored: dict[int, list[str]] = {}
    pending = list(CLOSES)
    call: list[str] = []
    moment: datetime | None = None
    for index, event in enumerate(timeline):
        received = _received(at(1, hour=0) + timedelta(hours=event[2] + event[3]))
        if call and (received != moment or cuts[index]):
            world.evaluate(*call, now=moment)
            call = []
        while pending and pending[0][0] < received:
            closed_at, period_start = pending.pop(0)
            with engine.begin() as conn:
                period_close.close(conn, period_start, closed_at)
        call.append(_send(world, players, stored, event, received))
        moment = received
    if call:
        world.evaluate(*call, now=moment)
    report = ledger_rebuild.rebuild(engine)
    assert report.equal, (report.missing, report.extra, report.changed[:5])
    engine.dispose()
