"""Accepted events queue one outbox row per matching template, in the caller's transaction,
once, with the affiliate's commission for the event (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from tests.outbound import seed
from tests.outbound.seed import T0

from clickledger.outbound.enqueue import enqueue_for_events
from clickledger.outbound.templates import pseudonymous_player_id
from clickledger.store import tables as t

KEY = "k" * 40
KEITARO = ("https://t.example/postback?subid={sub1}&status={status}&payout={payout}"
           "&currency={currency}&tid={txn_id}&c={click_id}&p={player_id}&a={amount}")


def outbox(conn: sa.Connection) -> list[sa.Row[tuple[object, ...]]]:
    return list(conn.execute(sa.select(t.outbox).order_by(t.outbox.c.id)))


def params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def test_an_ftd_with_a_cpa_queues_the_keitaro_postback_with_payout_once(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        w = seed.world(conn)
        aff = seed.affiliate(conn)
        click = seed.click(conn, w, aff, {"sub1": "kt-click-77", "sub2": "fb"})
        player = seed.player(conn, w, aff, click)
        ftd = seed.event(conn, w, player, "ftd", 2000, "EUR")
        seed.ledger(conn, aff, player, 15000, [ftd])
        seed.template(conn, aff, KEITARO, words={"sale": "sale"})
        assert enqueue_for_events(conn, [ftd], T0, secret_key=KEY) == 1
    with engine.begin() as conn:
        assert enqueue_for_events(conn, [ftd], T0, secret_key=KEY) == 0  # idempotent
        (row,) = outbox(conn)
    assert row.status == "pending" and row.method == "GET" and row.attempts == 0
    assert row.dedupe_key.startswith(ftd)
    assert params(row.url) == {
        "subid": "kt-click-77", "status": "sale", "payout": "150.00", "currency": "EUR",
        "tid": ftd, "c": click, "p": pseudonymous_player_id(KEY, player), "a": "20.00",
    }


def test_unattributed_events_and_affiliates_without_templates_queue_nothing(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        w = seed.world(conn)
        aff = seed.affiliate(conn)
        organic = seed.player(conn, w, None, None)
        organic_event = seed.event(conn, w, organic, "registration")
        seed.template(conn, aff, KEITARO)
        other = seed.affiliate(conn)
        theirs = seed.event(conn, w, seed.player(conn, w, other, None), "registration")
        assert enqueue_for_events(conn, [organic_event, theirs], T0, secret_key=KEY) == 0
        assert enqueue_for_events(conn, [], T0, secret_key=KEY) == 0
        assert outbox(conn) == []


def test_templates_are_chosen_by_offer_and_event_kind(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = seed.world(conn)
        aff = seed.affiliate(conn)
        player = seed.player(conn, w, aff, seed.click(conn, w, aff, {}))
        reg = seed.event(conn, w, player, "registration")
        ftd = seed.event(conn, w, player, "ftd", 5000, "EUR")
        every = seed.template(conn, aff, "https://a.example/all?e={event}")
        ftd_only = seed.template(conn, aff, "https://a.example/ftd?e={event}", event_kind="ftd")
        this_offer = seed.template(conn, aff, "https://a.example/o?e={event}",
                                   offer_id=w.offer_id)
        other_offer = seed.world(conn).offer_id
        seed.template(conn, aff, "https://a.example/never", offer_id=other_offer)
        assert enqueue_for_events(conn, [reg, ftd], T0, secret_key=KEY) == 5
        pairs = {(row.event_id, row.template_id) for row in outbox(conn)}
    assert pairs == {(reg, every), (ftd, every), (ftd, ftd_only), (reg, this_offer),
                     (ftd, this_offer)}


def test_a_commission_citing_several_events_is_reported_once_with_the_newest(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        w = seed.world(conn)
        aff = seed.affiliate(conn)
        player = seed.player(conn, w, aff, None)
        ftd = seed.event(conn, w, player, "ftd", 5000, "EUR")
        trade = seed.event(conn, w, player, "trade")
        seed.ledger(conn, aff, player, 20000, [ftd, trade], status="pending")
        seed.template(conn, aff, "https://a.example/p?t={txn_id}&s={status}&p={payout}")
        assert enqueue_for_events(conn, [ftd, trade], T0, secret_key=KEY) == 2
        by_event = {row.event_id: params(row.url) for row in outbox(conn)}
    assert by_event[ftd] == {"t": ftd, "s": "sale", "p": "0.00"}
    assert by_event[trade] == {"t": trade, "s": "pending", "p": "200.00"}


def test_a_chargeback_reports_the_reversal_as_rejected(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = seed.world(conn)
        aff = seed.affiliate(conn)
        player = seed.player(conn, w, aff, None)
        chargeback = seed.event(conn, w, player, "chargeback", 5000, "EUR")
        seed.ledger(conn, aff, player, -15000, [chargeback], kind="reversal")
        seed.template(conn, aff, "https://a.example/p?s={status}&p={payout}",
                      words={"rejected": "3"})
        enqueue_for_events(conn, [chargeback], T0, secret_key=KEY)
        (row,) = outbox(conn)
    assert params(row.url) == {"s": "3", "p": "-150.00"}


def test_a_webhook_template_queues_a_json_body_signed_later(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        w = seed.world(conn)
        aff = seed.affiliate(conn)
        player = seed.player(conn, w, aff, seed.click(conn, w, aff, {"sub3": "x"}))
        reg = seed.event(conn, w, player, "registration")
        seed.template(conn, aff, "https://hooks.example/cl", kind="webhook", secret="whsec_AA==")
        enqueue_for_events(conn, [reg], T0, secret_key=KEY)
        (row,) = outbox(conn)
    body = json.loads(row.body)
    assert row.method == "POST" and row.url == "https://hooks.example/cl"
    assert body["type"] == "event.registration"
    assert body["data"]["status"] == "lead" and body["data"]["sub3"] == "x"
    assert body["data"]["txn_id"] == reg and body["data"]["payout"] == "0"


def test_a_large_batch_is_queued_with_a_handful_of_statements(engine: sa.Engine) -> None:
    statements: list[str] = []
    with engine.begin() as conn:
        w = seed.world(conn)
        aff = seed.affiliate(conn)
        seed.template(conn, aff, KEITARO)
        events = []
        for _ in range(600):
            player = seed.player(conn, w, aff, None)
            events.append(seed.event(conn, w, player, "registration"))
        sa.event.listen(conn, "before_cursor_execute",
                        lambda *args: statements.append(args[2]))
        assert enqueue_for_events(conn, events, T0, secret_key=KEY) == 600
    # one statement each: the events (their ids as one parameter), the templates, the
    # players' ledger lines, and the insert of every row (one executemany)
    assert len(statements) == 4
