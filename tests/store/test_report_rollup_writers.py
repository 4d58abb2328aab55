"""Report rollup writers: an event or a posted commission lands once in every dimension."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.store import ledger as ledger_store
from clickledger.store import reports
from clickledger.store import tables as t

NOW = datetime(2026, 3, 5, 14, 20, tzinfo=UTC)


def _world(conn: sa.Connection) -> dict[str, str]:
    ids = {name: new_id() for name in ("brand", "affiliate", "integration", "click", "player",
                                       "promo_player", "offer", "link")}
    conn.execute(t.brands.insert().values(id=ids["brand"], name="Spin", kind="casino",
                                          default_currency="EUR", created_at=NOW,
                                          updated_at=NOW))
    conn.execute(t.affiliates.insert().values(id=ids["affiliate"], name="Ann",
                                              email="ann@example.test", payout_currency="EUR",
                                              created_at=NOW, updated_at=NOW))
    conn.execute(t.integrations.insert().values(id=ids["integration"], brand_id=ids["brand"],
                                                name="spin", signing_secret="s",
                                                created_at=NOW, updated_at=NOW))
    conn.execute(t.clicks.insert().values(
        id=ids["click"], created_at=NOW, link_id=ids["link"], affiliate_id=ids["affiliate"],
        offer_id=ids["offer"], sub1="spring", sub2=None, sub3="third", country="DE",
        device="mobile", is_unique=True))
    for key, click, operator_id in (("player", ids["click"], "p1"), ("promo_player", None, "p2")):
        conn.execute(t.players.insert().values(
            id=ids[key], brand_id=ids["brand"], operator_player_id=operator_id,
            affiliate_id=ids["affiliate"], click_id=click, country="FR", created_at=NOW,
            updated_at=NOW))
    return ids


def _event(conn: sa.Connection, ids: dict[str, str], player: str, kind: str,
           **money: int) -> str:
    event_id = new_id()
    conn.execute(t.player_events.insert().values(
        id=event_id, integration_id=ids["integration"], txn_id=event_id, payload_hash="h",
        source="s2s", kind=kind, brand_id=ids["brand"], operator_player_id="p",
        player_id=ids[player], occurred_at=NOW, received_at=NOW, currency="EUR", **money))
    return event_id


def _rows(conn: sa.Connection) -> dict[tuple[str, str], dict[str, Any]]:
    r = t.report_rollups_daily
    return {(row.dim, row.value): dict(row._mapping) for row in conn.execute(sa.select(r))}


def test_an_ftd_lands_once_in_all_twelve_dimensions_of_its_click(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = _world(conn)
        ftd = _event(conn, ids, "player", "ftd", amount_minor=5000)
        conn.execute(t.players.update().where(t.players.c.id == ids["player"])
                     .values(ftd_event_id=ftd))
        assert reports.record_event_rollups(conn, [ftd, ftd]) == 12
        rows = _rows(conn)
    assert set(rows) == {("all", ""), ("hour", "14"), ("brand", ids["brand"]),
                         ("offer", ids["offer"]), ("link", ids["link"]), ("sub1", "spring"),
                         ("sub2", ""), ("sub3", "third"), ("sub4", ""), ("sub5", ""),
                         ("country", "DE"), ("device", "mobile")}
    for row in rows.values():
        assert (row["ftds"], row["ftd_amount_minor"], row["deposits_minor"]) == (1, 5000, 5000)
        assert str(row["day"]) == "2026-03-05" and row["currency"] == "EUR"
        assert row["affiliate_id"] == ids["affiliate"]


def test_promo_player_activity_falls_back_to_the_players_country(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = _world(conn)
        played = _event(conn, ids, "promo_player", "activity", bets_minor=900, wins_minor=400,
                        chargebacks_minor=30)
        silent = _event(conn, ids, "promo_player", "trade")  # nothing to count
        reports.record_event_rollups(conn, [played, silent])
        rows = _rows(conn)
    assert rows[("country", "FR")]["bets_minor"] == 900
    assert rows[("link", "")]["wins_minor"] == 400
    assert rows[("all", "")]["chargebacks_minor"] == 30
    assert len(rows) == 12


def _ledger_rows(ids: dict[str, str]) -> list[dict[str, Any]]:
    def row(key: str, kind: str, amount: int, player: str | None) -> dict[str, Any]:
        return {"id": new_id(), "entry_key": key, "kind": kind, "affiliate_id": ids["affiliate"],
                "player_id": player, "amount_minor": amount, "currency": "EUR",
                "period_start": NOW, "status": "approved", "source_event_ids": [],
                "explanation": "x", "created_at": NOW}
    return [row("cpa:1", "commission", 10000, ids["player"]),
            row("rev:cpa:1", "reversal", -10000, ids["player"]),
            row("rs:2", "commission", 250, None),
            row("pay:3", "payout", -500, None)]


def test_reposting_the_same_commissions_counts_them_once(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = _world(conn)
        first = _ledger_rows(ids)
        added = ledger_store.insert_ignoring(conn, t.ledger_entries, first, ["entry_key"])
        assert added in (4, None)
        reports.record_commission_rollups(conn, first, added)
        again = [dict(row, id=new_id()) for row in first]  # same keys: nothing inserted
        added = ledger_store.insert_ignoring(conn, t.ledger_entries, again, ["entry_key"])
        assert added in (0, None)
        reports.record_commission_rollups(conn, again, added)
        reports.record_commission_rollups(conn, again)  # looked up: still nothing new
        rows = _rows(conn)
    assert rows[("all", "")]["commission_minor"] == 250
    assert rows[("all", "")]["qualified_cpas"] == 0
    assert rows[("sub1", "spring")]["commission_minor"] == 0  # the CPA and its reversal
    assert rows[("hour", "14")]["commission_minor"] == 250


def test_a_partly_new_batch_counts_only_its_new_lines(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = _world(conn)
        first = _ledger_rows(ids)[:1]
        ledger_store.insert_ignoring(conn, t.ledger_entries, first, ["entry_key"])
        reports.record_commission_rollups(conn, first)
        mixed = [dict(first[0], id=new_id()), *_ledger_rows(ids)[2:3]]
        added = ledger_store.insert_ignoring(conn, t.ledger_entries, mixed, ["entry_key"])
        assert added in (1, None)
        reports.record_commission_rollups(conn, mixed, added)
        rows = _rows(conn)
    assert rows[("all", "")]["commission_minor"] == 10250
    assert rows[("all", "")]["qualified_cpas"] == 1
    assert rows[("device", "mobile")]["commission_minor"] == 10000


# --- chargebacks and refunds, in whatever order they arrive --------------------

PAT_EVENTS = (  # (txn, kind, amount_minor, names): Pat's deposits, reversals and chargebacks
    ("f1", "ftd", 10000, None), ("d1", "deposit", 4000, None), ("d2", "deposit", 2500, None),
    ("cb1", "chargeback", 10000, "f1"), ("rv1", "reversal", None, "d2"),
    ("cb2", "chargeback", 10000, "f1"), ("cb3", "chargeback", 1500, None),
)


def _store(conn: sa.Connection, ids: dict[str, str], txn: str, kind: str,
           amount: int | None, names: str | None) -> str:
    event_id = new_id()
    conn.execute(t.player_events.insert().values(
        id=event_id, integration_id=ids["integration"], txn_id=txn, payload_hash="h",
        source="s2s", kind=kind, brand_id=ids["brand"], operator_player_id="p1",
        player_id=ids["player"], occurred_at=NOW, received_at=NOW, currency="EUR",
        amount_minor=amount, reverses_txn_id=names))
    if txn == "f1":
        conn.execute(t.players.update().where(t.players.c.id == ids["player"])
                     .values(ftd_event_id=event_id))
    return event_id


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_each_reversed_deposit_comes_off_once_whatever_the_arrival_order(
        engine: sa.Engine, seed: int) -> None:
    """Deposits 100 + 40 + 25 = 165; the FTD charged back (twice: taken off once), the 25
    refunded, 15 charged back naming nothing: 165 − 100 − 25 − 15 = 25.  Chargebacks
    100 + 100 + 15 = 215.  Events arrive shuffled, folded in batches of 1 to 3, the way
    ingestion folds them (a reversal may come before the deposit it names)."""
    rng = random.Random(seed)
    events = list(PAT_EVENTS)
    rng.shuffle(events)
    with engine.begin() as conn:
        ids = _world(conn)
        while events:
            batch = events[:rng.randint(1, 3)]
            events = events[len(batch):]
            stored = [_store(conn, ids, *event) for event in batch]
            reports.record_event_rollups(conn, stored)
        rows = _rows(conn)
        assert rows[("all", "")]["deposits_minor"] == 2500
        assert rows[("sub1", "spring")]["deposits_minor"] == 2500
        assert rows[("all", "")]["chargebacks_minor"] == 21500
        assert rows[("all", "")]["ftds"] == 1 and rows[("all", "")]["ftd_amount_minor"] == 10000
        # Taking Pat's whole history off (a remap to organic) leaves every event figure at 0.
        reports.move_player_rollups(conn, ids["player"], ids["affiliate"], None)
        rows = _rows(conn)
    for key, row in rows.items():
        assert all(row[m] == 0 for m in reports.METRICS if m not in ("clicks",
                                                                      "unique_clicks")), key


def test_staff_rows_are_the_affiliate_rows_summed_after_every_writer(engine: sa.Engine) -> None:
    """Events, commissions and a remap of Pat between two affiliates: the staff table (what a
    manager reads) always holds the per-affiliate rows summed over affiliates."""
    with engine.begin() as conn:
        ids = _world(conn)
        other = new_id()
        conn.execute(t.affiliates.insert().values(id=other, name="Bo", email="bo@example.test",
                                                  payout_currency="EUR", created_at=NOW,
                                                  updated_at=NOW))
        stored = [_store(conn, ids, *event) for event in PAT_EVENTS[:4]]
        reports.record_event_rollups(conn, stored)
        rows = _ledger_rows(ids)
        reports.record_commission_rollups(
            conn, rows, ledger_store.insert_ignoring(conn, t.ledger_entries, rows, ["entry_key"]))
        assert _staff(conn) == _summed(conn)
        assert _staff(conn)[("all", "", "EUR")]["deposits_minor"] == 4000 + 2500
        reports.move_player_rollups(conn, ids["player"], ids["affiliate"], other)
        assert _staff(conn) == _summed(conn)
        reports.move_player_rollups(conn, ids["player"], other, None)
        staff = _staff(conn)
        assert staff == _summed(conn)
    assert staff[("all", "", "EUR")]["deposits_minor"] == 0  # Pat is organic now
    assert staff[("all", "", "EUR")]["commission_minor"] == 250  # the ledger's lines stay


def _staff(conn: sa.Connection) -> dict[tuple[str, str, str], dict[str, int]]:
    s = t.report_rollups_staff
    return {(row.dim, row.value, row.currency): {m: row._mapping[m] for m in reports.METRICS}
            for row in conn.execute(sa.select(s))}


def _summed(conn: sa.Connection) -> dict[tuple[str, str, str], dict[str, int]]:
    r = t.report_rollups_daily.c
    query = sa.select(r.dim, r.value, r.currency,
                      *[sa.func.sum(r[m]).label(m) for m in reports.METRICS]).group_by(
        r.dim, r.value, r.currency)
    return {(row.dim, row.value, row.currency): {m: int(row._mapping[m])
                                                 for m in reports.METRICS}
            for row in conn.execute(query)}
