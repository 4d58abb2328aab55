"""Registration binds players in batch: pending players, lifetime binding, races refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from tests.ingest.conftest import seed_world

from clickledger.ids import new_id
from clickledger.runtime import Runtime
from clickledger.services.registration import PlayerBook, RaceLost, RemapError, remap_player
from clickledger.store import tables as t


def test_a_pending_player_is_bound_when_its_registration_arrives_and_earlier_events_return(
    runtime: Runtime,
) -> None:
    world = seed_world(runtime)
    now = runtime.clock.now()
    event_id = new_id()
    with runtime.engine.begin() as conn:
        book = PlayerBook(window_days=30)
        state = book.ensure(world.brand_id, "early")
        book.note_deposit(state, "deposit", event_id, now - timedelta(hours=3))
        book.write(conn, now)
        conn.execute(t.player_events.insert().values(
            id=event_id, integration_id=world.integration["id"], txn_id="e1", payload_hash="h",
            source="s2s", kind="deposit", brand_id=world.brand_id, operator_player_id="early",
            player_id=state.id, occurred_at=now, received_at=now, amount_minor=100,
            currency="EUR"))
    with runtime.engine.begin() as conn:
        book = PlayerBook(window_days=30)
        book.load(conn, [(world.brand_id, "early")])
        state = book.ensure(world.brand_id, "early")
        assert state.attribution == "pending" and state.ftd_event_id == event_id
        decision = book.register(state, registered_at=now, country="de", click_id=None,
                                 click=None, promo_code="WELCOME50", promo=None)
        assert decision is not None and decision.method.value == "organic"
        book.write(conn, now)
        assert book.earlier_event_ids(conn) == [event_id]


def test_two_writers_binding_the_same_new_player_one_loses_and_retries(runtime: Runtime) -> None:
    world = seed_world(runtime)
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        first = PlayerBook(window_days=30)
        first.ensure(world.brand_id, "twin")
        first.write(conn, now)
    with runtime.engine.begin() as conn:
        second = PlayerBook(window_days=30)  # did not see the first: its load came earlier
        second.ensure(world.brand_id, "twin")
        with pytest.raises(RaceLost):
            second.write(conn, now)


def test_remap_refuses_unknown_players_and_affiliates(runtime: Runtime) -> None:
    world = seed_world(runtime)
    with runtime.engine.begin() as conn, pytest.raises(RemapError):
        remap_player(conn, player_id=new_id(), affiliate_id=world.affiliate_id, actor="m",
                     reason="x", now=runtime.clock.now())
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.audit_log)
                            .where(t.audit_log.c.action == "player.remap")).scalar() == 0
