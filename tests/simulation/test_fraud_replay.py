"""Fraud holds, dismissals and rejections are replayed where they happened: rebuild == live.

A fraud hold puts a player's conversion ``on_hold``, and a held conversion is not counted
for tiers and caps, so the next player takes its slot; a dismissal gives the slot back; a
fraud rejection reverses the player's IB rebates (``rev:ib:`` lines) as well as its CPA.
Each is an evaluation step, and ``ledger rebuild`` replays it in its place.

The programme (tests/simulation/world.py): Mid is on a hybrid deal, CPA 75.00 EUR for the
first qualified player of the month, 90.00 from the second, at most 3 paid a month, FTD ≥
20.00; Top, Mid's parent, takes 10 % of Mid's lines.  Here an IB, Top's child too, gets a
rebate of 8.00 EUR a lot on FX majors.

The verdicts are written as the fraud worker writes them (an assessment row) and acted on
by the worker's own enforcement (``fraud.enforce_holds``) or a manager's review."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from tests.simulation.world import ACTOR, SimWorld, build_world

from clickledger.ids import new_id
from clickledger.services import deals, fraud, fraud_actions, fraud_review, ledger_rebuild
from clickledger.store import tables as t

MID, IB = 1, 3
IB_TERMS = {"rates_per_lot": {"fx_major": "8"}}


def _signup(world: SimWorld, user: str, affiliate: int = MID) -> None:
    world.submit([{"event": "registration", "txn_id": f"r-{user}", "user_id": user,
                   "click_id": world.click(affiliate)},
                  {"event": "ftd", "txn_id": f"f-{user}", "user_id": user, "amount": "50",
                   "currency": "EUR"}])


def _trade(world: SimWorld, user: str, txn_id: str, lots: str) -> None:
    world.submit([{"event": "trade", "txn_id": txn_id, "user_id": user, "lots": lots,
                   "instrument": "EURUSD", "spread": "1", "currency": "EUR"}])


def _player_id(world: SimWorld, user: str) -> str:
    with world.engine.connect() as conn:
        return str(conn.execute(sa.select(t.players.c.id).where(
            t.players.c.operator_player_id == user)).scalar_one())


def _verdict(world: SimWorld, user: str, action: str) -> str:
    """The fraud worker's verdict on ``user`` (``hold``: open; ``reject``: confirmed), acted
    on in the same transaction; returns the assessment id."""
    player_id, now = _player_id(world, user), world.clock.now()
    assessment_id = new_id()
    e = t.player_events
    with world.engine.begin() as conn:
        conn.execute(t.fraud_assessments.insert().values(
            id=assessment_id, dedupe_key=f"player:{player_id}:{assessment_id}",
            subject="player", player_id=player_id, score=80 if action == "hold" else 100,
            action=action, reasons=[{"check": "automation", "points": 80,
                                     "reason": "headless browser"}],
            status="open" if action == "hold" else "confirmed", held=None,
            created_at=now, updated_at=now))
        events = [str(i) for i in conn.execute(sa.select(e.c.id).where(
            e.c.player_id == player_id)).scalars()]
        fraud.enforce_holds(conn, events, now)
    world.clock.advance(timedelta(seconds=1))
    return assessment_id


def _enforce(world: SimWorld, user: str) -> None:
    """The fraud worker's next round over the player's events (what was posted since)."""
    _verdict_round(world, _player_id(world, user))


def _verdict_round(world: SimWorld, player_id: str) -> None:
    e = t.player_events
    with world.engine.begin() as conn:
        events = [str(i) for i in conn.execute(sa.select(e.c.id).where(
            e.c.player_id == player_id)).scalars()]
        fraud.enforce_holds(conn, events, world.clock.now())
    world.clock.advance(timedelta(seconds=1))


def _review(world: SimWorld, assessment_id: str, decision: str) -> None:
    with world.engine.begin() as conn:
        review = fraud_review.confirm if decision == "confirm" else fraud_review.dismiss
        review(conn, assessment_id, actor=ACTOR, note=None, now=world.clock.now())
    world.clock.advance(timedelta(seconds=1))


def _amounts(world: SimWorld, prefix: str) -> list[tuple[str, str, int]]:
    """(operator's player id, entry key without ids, amount in cents) of every line whose
    key starts with ``prefix``, sorted."""
    e, p = t.ledger_entries, t.players
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(p.c.operator_player_id, e.c.entry_key, e.c.amount_minor)
                            .join(p, p.c.id == e.c.player_id)
                            .where(e.c.entry_key.startswith(prefix))).all()
    return sorted((row.operator_player_id, _shape(row.entry_key), row.amount_minor)
                  for row in rows)


def _lines(world: SimWorld, prefix: str) -> dict[tuple[str, str], int]:
    """(operator's player id, entry key without ids) → amount in cents (one line each)."""
    e, p = t.ledger_entries, t.players
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(p.c.operator_player_id, e.c.entry_key, e.c.amount_minor)
                            .join(p, p.c.id == e.c.player_id)
                            .where(e.c.entry_key.startswith(prefix))).all()
    return {(row.operator_player_id, _shape(row.entry_key)): row.amount_minor for row in rows}


def _shape(entry_key: str) -> str:
    """The key with ids cut to their kind: ``rev:ib:<player>:<event>`` → ``rev:ib``."""
    return ":".join(part for part in entry_key.split(":") if len(part) < 32)


def _rebuild_equals_live(world: SimWorld) -> None:
    report = ledger_rebuild.rebuild(world.engine)
    assert report.live_lines > 0
    assert report.equal, (report.missing, report.extra, report.changed)


def _with_ib(world: SimWorld) -> None:
    """An IB under Top, on an IB rebate deal, with its own tracking link."""
    now = world.clock.now()
    ib, link = new_id(), new_id()
    with world.engine.begin() as conn:
        brand, offer = conn.execute(sa.select(t.offers.c.brand_id, t.offers.c.id)).one()
        conn.execute(t.affiliates.insert().values(
            id=ib, name="IB", email="ib@sim.test", status="active", payout_currency="EUR",
            parent_id=world.affiliates[0], created_at=now, updated_at=now))
        conn.execute(t.tracking_links.insert().values(
            id=link, code="sim-ib", affiliate_id=ib, offer_id=offer, created_at=now,
            updated_at=now))
        deal = deals.create_deal(conn, name="IB", brand_id=str(brand), kind="ib_rebate",
                                 currency="EUR", terms=IB_TERMS, effective_from=None,
                                 actor=ACTOR, now=now)
        deals.assign(conn, deal_id=deal["id"], affiliate_id=ib, overrides=None,
                     effective_from=None, actor=ACTOR, now=now)
    world.affiliates.append(ib)
    world.links[ib] = link


def test_a_held_players_slot_goes_to_the_next_player_until_the_hold_is_dismissed(
    engine: sa.Engine,
) -> None:
    """u1 qualifies first (75.00) and is then held for fraud review: its conversion no
    longer counts, so u2 is Mid's first paid player (75.00), u3 the second (90.00), u4 the
    third (90.00).  The manager dismisses u1's hold: u1 counts again, four paid in January,
    so u5 is over the cap of 3 and earns nothing.  The rebuild holds and releases u1 where
    live did and equals the live ledger line for line."""
    world = build_world(engine)
    _signup(world, "u1")
    held = _verdict(world, "u1", "hold")
    for user in ("u2", "u3", "u4"):
        _signup(world, user)
    _review(world, held, "dismiss")
    _signup(world, "u5")
    assert _lines(world, "cpa:") == {("u1", "cpa"): 7500, ("u2", "cpa"): 7500,
                                     ("u3", "cpa"): 9000, ("u4", "cpa"): 9000}
    assert _lines(world, "sub:") == {("u1", "sub:cpa"): 750, ("u2", "sub:cpa"): 750,
                                     ("u3", "sub:cpa"): 900, ("u4", "sub:cpa"): 900}
    _rebuild_equals_live(world)


def test_a_held_player_confirmed_as_fraud_is_reversed_and_its_slot_stays_with_the_next(
    engine: sa.Engine,
) -> None:
    """u1 qualifies (75.00) and is held; u2 then takes the first slot (75.00); the manager
    confirms the fraud: u1's CPA and Top's share are reversed (-75.00, -7.50) and u1's
    conversion is rejected, so u3 is the second paid player (90.00).  Rebuild == live."""
    world = build_world(engine)
    _signup(world, "u1")
    held = _verdict(world, "u1", "hold")
    _signup(world, "u2")
    _review(world, held, "confirm")
    _signup(world, "u3")
    assert _lines(world, "cpa:") == {("u1", "cpa"): 7500, ("u2", "cpa"): 7500,
                                     ("u3", "cpa"): 9000}
    assert _lines(world, "rev:") == {("u1", "rev:cpa"): -7500, ("u1", "rev:sub:cpa"): -750}
    _rebuild_equals_live(world)


def test_an_ib_rejected_for_fraud_has_its_rebates_reversed_in_the_rebuild_too(
    engine: sa.Engine,
) -> None:
    """Trader t1 came through the IB and trades 1 lot then 0.5 lots of EURUSD: rebates of
    8.00 and 4.00 EUR, Top 10 % of each (0.80, 0.40).  The fraud worker rejects t1: both
    rebates and Top's shares are reversed (``rev:ib:`` -8.00, -4.00).  t1 trades 2 lots
    more: the engine pays 16.00 and the worker's next round reverses it (-16.00).  The
    rebuild has the same ``rev:ib:`` lines, line for line."""
    world = build_world(engine)
    _with_ib(world)
    world.submit([{"event": "registration", "txn_id": "r-t1", "user_id": "t1",
                   "click_id": world.click(IB)}])
    _trade(world, "t1", "tr-1", "1")
    _trade(world, "t1", "tr-2", "0.5")
    _verdict(world, "t1", "reject")
    _trade(world, "t1", "tr-3", "2")
    _enforce(world, "t1")
    assert _amounts(world, "ib:") == [("t1", "ib", 400), ("t1", "ib", 800),
                                      ("t1", "ib", 1600)]
    assert _amounts(world, "rev:") == [
        ("t1", "rev:ib", -1600), ("t1", "rev:ib", -800), ("t1", "rev:ib", -400),
        ("t1", "rev:sub:ib", -160), ("t1", "rev:sub:ib", -80), ("t1", "rev:sub:ib", -40)]
    with world.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.sum(t.ledger_entries.c.amount_minor)).where(
            t.ledger_entries.c.player_id == _player_id(world, "t1"))).scalar_one()
    assert total == 0  # every rebate and every share of it reversed
    _rebuild_equals_live(world)


def test_a_player_held_before_it_qualifies_is_paid_but_not_counted_while_held(
    engine: sa.Engine,
) -> None:
    """u1 registers (its CPA waits for an FTD) and is held; its FTD then qualifies it: the
    engine posts 75.00 and the worker's next round holds the new line and conversion, which
    is then not counted — so u2 is paid as the first player too (75.00) and u3 as the
    second (90.00).  The rebuild replays the second hold after the FTD, as live took it."""
    world = build_world(engine)
    world.submit([{"event": "registration", "txn_id": "r-u1", "user_id": "u1",
                   "click_id": world.click(MID)}])
    _verdict(world, "u1", "hold")
    world.submit([{"event": "ftd", "txn_id": "f-u1", "user_id": "u1", "amount": "50",
                   "currency": "EUR"}])
    _enforce(world, "u1")
    _signup(world, "u2")
    _signup(world, "u3")
    assert _lines(world, "cpa:") == {("u1", "cpa"): 7500, ("u2", "cpa"): 7500,
                                     ("u3", "cpa"): 9000}
    _rebuild_equals_live(world)


def _all_at_once(actions: list[Callable[[], object]]) -> list[BaseException]:
    """Run each action in its own thread (and transaction), all started together."""
    ready = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action: Callable[[], object]) -> None:
        try:
            ready.wait()
            action()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_a_hold_taken_while_two_batches_evaluate_is_replayed_in_the_order_it_took(
    engine: sa.Engine,
) -> None:
    """u1 is paid (75.00); then, at the same moment, the fraud worker holds u1 while u2 and
    u3 sign up in two other transactions.  Whichever order the evaluation lock gave them,
    u2 and u3 are paid 75.00 or 90.00 (90.00 for both only if the hold came last), and the
    rebuild replays the hold between the batches where it was taken: rebuild == live."""
    world = build_world(engine)
    _signup(world, "u1")
    clicks = {user: world.click(MID) for user in ("u2", "u3")}
    player_id = _player_id(world, "u1")

    def signup(user: str) -> Callable[[], object]:
        return lambda: world.submit([
            {"event": "registration", "txn_id": f"r-{user}", "user_id": user,
             "click_id": clicks[user]},
            {"event": "ftd", "txn_id": f"f-{user}", "user_id": user, "amount": "50",
             "currency": "EUR"}])

    assessment_id = new_id()

    def hold() -> None:
        """The worker's verdict and its action (``fraud._act``) in one transaction."""
        now = world.clock.now()
        with world.engine.begin() as conn:
            conn.execute(t.fraud_assessments.insert().values(
                id=assessment_id, dedupe_key=f"player:{player_id}:{assessment_id}",
                subject="player", player_id=player_id, score=80, action="hold",
                reasons=[], status="open", held=None, created_at=now, updated_at=now))
            fraud_actions.hold(conn, player_id, "score 80: headless", now,
                               fraud_actions.empty_held())

    assert _all_at_once([signup("u2"), hold, signup("u3")]) == []
    paid = _lines(world, "cpa:")
    assert paid[("u1", "cpa")] == 7500
    assert sorted([paid[("u2", "cpa")], paid[("u3", "cpa")]]) in ([7500, 9000], [9000, 9000])
    _rebuild_equals_live(world)
