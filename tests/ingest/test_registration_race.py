"""A player's registration and another of its events committed at the same moment by two
server processes: the event is evaluated once the player is bound, never by neither.

The programme is the simulation's (tests/simulation/world.py): Mid's hybrid deal pays a CPA
of 75.00 EUR for an FTD of 20.00 or more, and Top takes 10 % of Mid's lines.  The operator
sends u1's FTD of 50.00 before its registration (normal for batched operators); then the
registration reaches one process while the FTD's chargeback reaches the other.  Whichever
commits first, u1 nets 0.00: the CPA is paid with the registration and reversed by the
chargeback (or never paid)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from tests.simulation.world import SimWorld, build_world

from clickledger.ingest.pipeline import Submission
from clickledger.ingest.validate import validate
from clickledger.services import ledger_rebuild
from clickledger.store import tables as t

MID = 1
WAIT_FOR_OTHER_PROCESS_S = 1.0  # long enough for the chargeback's batch to commit unblocked


def _submissions(world: SimWorld, batch: list[Mapping[str, str]],
                 received_at: datetime) -> list[Submission]:
    return [Submission(world.integration, validate(fields, now=received_at), dict(fields),
                       received_at) for fields in batch]


def _flush(world: SimWorld, batch: list[Mapping[str, str]], received_at: datetime) -> None:
    with world.engine.begin() as conn:
        answers = world.flusher(conn, _submissions(world, batch, received_at))
    assert [a.body["status"] for a in answers if a is not None] == ["accepted"] * len(batch)


def _lines_of(world: SimWorld, user: str) -> dict[str, int]:
    e, p = t.ledger_entries, t.players
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(e.c.entry_key, e.c.amount_minor)
                            .join(p, p.c.id == e.c.player_id)
                            .where(p.c.operator_player_id == user)).all()
    return {key: amount for key, amount in rows}


def test_a_chargeback_stored_while_its_player_registers_in_another_process_reverses_the_cpa(
    engine: sa.Engine,
) -> None:
    world = build_world(engine)
    click_id = world.click(MID)
    now = world.clock.now()
    _flush(world, [{"event": "ftd", "txn_id": "f-u1", "user_id": "u1", "amount": "50",
                    "currency": "EUR"}], now)
    registration = [{"event": "registration", "txn_id": "r-u1", "user_id": "u1",
                     "click_id": click_id}]
    chargeback = [{"event": "chargeback", "txn_id": "cb-u1", "user_id": "u1", "amount": "50",
                   "currency": "EUR", "reverses_txn_id": "f-u1"}]
    errors: list[BaseException] = []

    def other_process() -> None:
        try:
            _flush(world, chargeback, now)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    with world.engine.connect() as conn:
        transaction = conn.begin()
        answers = world.flusher(conn, _submissions(world, registration, now))
        assert answers[0] is not None and answers[0].body["status"] == "accepted"
        chargeback_batch = threading.Thread(target=other_process)
        chargeback_batch.start()  # the same moment, before the registration commits
        chargeback_batch.join(WAIT_FOR_OTHER_PROCESS_S)
        transaction.commit()
    chargeback_batch.join(30)
    assert not chargeback_batch.is_alive() and errors == []
    lines = _lines_of(world, "u1")
    assert sum(lines.values()) == 0, lines  # never CPA 75.00 kept against a charged-back FTD
    mids = sorted(amount for key, amount in lines.items() if key.startswith(("cpa:", "rev:cpa:")))
    assert mids in ([], [-7_500, 7_500]), lines  # never paid, or paid and reversed
    report = ledger_rebuild.rebuild(world.engine)
    assert report.equal, (report.missing, report.extra, report.changed)
