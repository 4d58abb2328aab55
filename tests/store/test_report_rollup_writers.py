"""Report rollup writers: an event or a posted commission lands once in every dimension."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
