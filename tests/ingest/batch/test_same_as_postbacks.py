"""An imported file has exactly the consequences of the same events sent as postbacks.

Two identical programmes (tests/simulation/world.py: Mid on a hybrid deal — CPA 75.00 EUR,
FTD >= 20.00, RevShare 15 % —, Leaf on RevShare 30 %, Top taking 10 % of Mid's lines as a
sub-affiliate share; Mid has an outbound postback template).  One receives five batches as
postbacks through the ingestion flush, the other the same five batches as import files:

1. registrations: Mia (Mid's click), Lea (Leaf's click), Tom (Top's click), Olga (no click:
   organic), Carl (Mid's click);
2. deposits: Mia 30.00 then 10.00 (her FTD is the first: the CPA qualifies), Lea 50.00,
   Tom 25.00, Olga 40.00, Pete 25.00 (Pete has not registered: a pending player), Carl 100.00;
3. registrations: Pete, on Mid's click (his earlier deposit now counts: a second CPA);
4. chargebacks: Carl's 100.00 deposit is charged back;
5. activity: Mia bets 500.00 wins 300.00, Lea bets 100.00 wins 150.00;
6. deposits: Lea 60.00 dated before her first (it becomes her FTD), and Mia's 30.00 again
   (a duplicate).

Afterwards players, conversions, ledger lines, report rollups, the fraud queue, the outbox and
the integration health must be the same in both, line for line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from tests.simulation.world import SimWorld, build_world

from clickledger.ids import new_id
from clickledger.ingest.batch.kinds import FileKind, Policy
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.batch.profiles import Profile
from clickledger.ingest.batch.runner import ImportRequest, run_import
from clickledger.store import tables as t

TOP, MID, LEAF = 0, 1, 2
WINDOW_DAYS = 30
Row = dict[str, str]


def _at(world: SimWorld, hours: int) -> str:
    return (world.clock.now() - timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")


def _batches(world: SimWorld, clicks: Mapping[str, str]) -> list[tuple[FileKind, list[Row]]]:
    """The five batches, in our field names (``ts`` for the time, ``user_id`` for the player)."""

    def reg(txn: str, user: str, hours: int, click: str | None = None) -> Row:
        row = {"txn_id": txn, "user_id": user, "ts": _at(world, hours)}
        return row | ({"click_id": click} if click else {})

    def money(txn: str, user: str, hours: int, amount: str, **extra: str) -> Row:
        return {
            "txn_id": txn,
            "user_id": user,
            "ts": _at(world, hours),
            "amount": amount,
            "currency": "EUR",
            **extra,
        }

    day = (world.clock.now() - timedelta(days=1)).date().isoformat()
    midnight = f"{day} 00:00:00"  # the activity day's start, as a file's activity rows get
    return [
        (
            FileKind.REGISTRATIONS,
            [
                reg("R1", "mia", 90, clicks["mia"]),
                reg("R2", "lea", 89, clicks["lea"]),
                reg("R3", "tom", 88, clicks["tom"]),
                reg("R4", "olga", 87),
                reg("R5", "carl", 86, clicks["carl"]),
            ],
        ),
        (
            FileKind.DEPOSITS,
            [
                money("D1", "mia", 80, "30.00"),
                money("D2", "mia", 70, "10.00"),
                money("D3", "lea", 79, "50.00"),
                money("D4", "tom", 78, "25.00"),
                money("D5", "olga", 77, "40.00"),
                money("D6", "pete", 76, "25.00"),
                money("D7", "carl", 75, "100.00"),
            ],
        ),
        (FileKind.REGISTRATIONS, [reg("R6", "pete", 60, clicks["pete"])]),
        (FileKind.CHARGEBACKS, [money("C1", "carl", 50, "100.00", reverses_txn_id="D7")]),
        (
            FileKind.ACTIVITY,
            [
                {
                    "txn_id": "A1",
                    "user_id": "mia",
                    "ts": midnight,
                    "day": day,
                    "bets": "500.00",
                    "wins": "300.00",
                    "currency": "EUR",
                },
                {
                    "txn_id": "A2",
                    "user_id": "lea",
                    "ts": midnight,
                    "day": day,
                    "bets": "100.00",
                    "wins": "150.00",
                    "currency": "EUR",
                },
            ],
        ),
        (FileKind.DEPOSITS, [money("D8", "lea", 85, "60.00"), money("D1", "mia", 80, "30.00")]),
    ]


EVENT_OF = {
    FileKind.REGISTRATIONS: "registration",
    FileKind.DEPOSITS: "deposit",
    FileKind.CHARGEBACKS: "chargeback",
    FileKind.ACTIVITY: "activity",
}
FILE_HEADER = {"user_id": "player_id", "ts": "occurred_at", "day": "activity_day"}


def _as_file(rows: list[Row]) -> bytes:
    """The rows as an operator's CSV (our default header names)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    lines = [",".join(FILE_HEADER.get(name, name) for name in names)]
    lines += [",".join(row.get(name, "") for name in names) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _programme(world: SimWorld) -> dict[str, str]:
    """Mid's postback template and one click per registering player (Olga has none)."""
    with world.engine.begin() as conn:
        conn.execute(
            t.postback_templates.insert().values(
                id=new_id(),
                affiliate_id=world.affiliates[MID],
                kind="url",
                url_template="https://mid.example/pb?e={event}&s={status}",
                created_at=world.clock.now(),
                updated_at=world.clock.now(),
            )
        )
    clicks = {
        user: world.click(index)
        for user, index in (("mia", MID), ("lea", LEAF), ("tom", TOP), ("carl", MID), ("pete", MID))
    }
    world.clock.advance(timedelta(days=5))
    return clicks


def _by_postbacks(world: SimWorld) -> None:
    clicks = _programme(world)
    for kind, rows in _batches(world, clicks):
        world.submit([{"event": EVENT_OF[kind], **row} for row in rows])


def _by_import(world: SimWorld, limits: ImportLimits) -> None:
    clicks = _programme(world)
    sent: set[str] = set()
    for kind, rows in _batches(world, clicks):
        request = ImportRequest(
            _as_file(rows),
            f"{kind.value}.csv",
            kind,
            world.integration.id,
            Profile(),
            Policy.REJECT_FILE,
        )
        result = run_import(world.engine, world.clock, WINDOW_DAYS, request, limits)
        repeated = sum(row["txn_id"] in sent for row in rows)
        assert (result.status, result.inserted, result.duplicates) == (
            "imported",
            len(rows) - repeated,
            repeated,
        ), result.as_dict(5)
        sent.update(row["txn_id"] for row in rows)
        world.clock.advance(timedelta(seconds=world.gap_s))  # as ``submit`` does


def _snapshot(world: SimWorld) -> dict[str, Any]:
    """Everything the consequences write, with ids replaced by names and txn ids."""
    names = dict(zip(world.affiliates, ("Top", "Mid", "Leaf"), strict=True))
    with world.engine.connect() as conn:
        txn = {
            str(r.id): r.txn_id
            for r in conn.execute(sa.select(t.player_events.c.id, t.player_events.c.txn_id))
        }
        players = {str(r.id): r for r in conn.execute(sa.select(t.players))}
        user = {pid: r.operator_player_id for pid, r in players.items()}

        def aff(value: object) -> str | None:
            return names[str(value)] if value is not None else None

        def when(value: datetime | None) -> str | None:
            return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None

        r, o, h = t.report_rollups_daily.c, t.outbox.c, t.integration_health_hourly.c
        return {
            "players": sorted(
                (
                    p.operator_player_id,
                    aff(p.affiliate_id),
                    p.attribution,
                    when(p.registered_at),
                    txn.get(str(p.ftd_event_id)),
                )
                for p in players.values()
            ),
            "conversions": sorted(
                (
                    user[str(x.player_id)],
                    aff(x.affiliate_id),
                    x.kind,
                    x.status,
                    txn.get(str(x.event_id)),
                )
                for x in conn.execute(sa.select(t.conversions))
            ),
            "ledger": sorted(
                (
                    aff(x.affiliate_id),
                    x.kind,
                    x.deal_type,
                    x.amount_minor,
                    x.currency,
                    x.status,
                    user.get(str(x.player_id)),
                    tuple(sorted(txn[str(s)] for s in x.source_event_ids)),
                )
                for x in conn.execute(sa.select(t.ledger_entries))
            ),
            "rollups": sorted(
                Counter(
                    {
                        (aff(x.affiliate_id), x.dim, str(x.day), x.currency): (
                            x.registrations,
                            x.ftds,
                            x.qualified_cpas,
                            x.ftd_amount_minor,
                            x.deposits_minor,
                            x.bets_minor,
                            x.wins_minor,
                            x.chargebacks_minor,
                            x.commission_minor,
                        )
                        for x in conn.execute(
                            sa.select(t.report_rollups_daily).where(r.dim.not_in(("offer", "link")))
                        )
                    }
                ).items()
            ),
            "fraud_queue": sorted(
                txn[str(x)] for x in conn.execute(sa.select(t.fraud_queue.c.event_id)).scalars()
            ),
            "outbox": sorted(
                (aff(x.affiliate_id), txn[str(x.event_id)], x.status)
                for x in conn.execute(sa.select(o.affiliate_id, o.event_id, o.status))
            ),
            "health": tuple(
                int(v)
                for v in conn.execute(
                    sa.select(
                        sa.func.sum(h.accepted), sa.func.sum(h.duplicates), sa.func.sum(h.rejected)
                    )
                ).one()
            ),
        }


def test_an_imported_programme_ends_exactly_where_the_same_postbacks_do(engine: sa.Engine) -> None:
    postbacks, imported = build_world(), build_world(engine)
    _by_postbacks(postbacks)
    _by_import(imported, ImportLimits(chunk_rows=100))
    expected, actual = _snapshot(postbacks), _snapshot(imported)
    for part in expected:
        assert actual[part] == expected[part], part
    # By hand: Mia qualifies first (75.00), Carl second and Pete — once registered — third
    # (90.00 from the second player); Carl's chargeback reverses his; Top earns 10 % of each.
    mid, top = ("Mid", "hybrid"), ("Top", "sub_affiliate")
    assert [
        (a, k, d, minor, who, src) for a, k, d, minor, _c, _s, who, src in actual["ledger"]
    ] == [
        (*mid[:1], "commission", mid[1], 7500, "mia", ("D1",)),
        (*mid[:1], "commission", mid[1], 9000, "carl", ("D7",)),
        (*mid[:1], "commission", mid[1], 9000, "pete", ("D6",)),
        (*mid[:1], "reversal", mid[1], -9000, "carl", ("C1", "D7")),
        (*top[:1], "commission", top[1], 750, "mia", ("D1",)),
        (*top[:1], "commission", top[1], 900, "carl", ("D7",)),
        (*top[:1], "commission", top[1], 900, "pete", ("D6",)),
        (*top[:1], "reversal", top[1], -900, "carl", ("C1", "D7")),
    ]
    assert ("lea", "Leaf", "click", "2026-01-02 07:00:00", "D8") in actual["players"]
    assert len(actual["fraud_queue"]) == 17 and actual["health"] == (17, 1, 0)


def test_the_same_holds_when_every_file_is_cut_into_small_chunks(engine: sa.Engine) -> None:
    postbacks, imported = build_world(), build_world(engine)
    _by_postbacks(postbacks)
    _by_import(imported, ImportLimits.model_construct(chunk_rows=2))  # below the floor
    assert _snapshot(imported) == _snapshot(postbacks)
