"""``month_close``: close a busy month, and the per-event commission evaluation rate.

Data (full run): 2,000 FTDs a day for 30 days (60,000 players), 1,000,000 casino activity
rows, 150 IBs whose clients trade 40,000 lots in 20,000 trades, on one SQLite file.  FTDs
and trades are evaluated live (as ingestion would) before the close; the close then computes
RevShare for every casino affiliate.  Baseline: a plain SQL aggregate (GROUP BY affiliate)
over the same activity rows in the same run.  ``--quick`` uses a tenth of the volume.

``commission_eval``: the engine alone on the postback path's real mix — batches of
``MIX_BATCH`` stored events (registrations, FTDs, deposits, withdrawals, trades, activity)
of new and known players, as ingestion passes them to ``evaluate_events``.  Baseline: a
plain ``executemany`` of as many ledger rows as the engine posted, expressed per event.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from common import Result

from clickledger.ids import new_id
from clickledger.services import period_close
from clickledger.services.conversion import evaluate_events
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine

START = datetime(2026, 1, 1, tzinfo=UTC)
CASINO_AFFILIATES = 500
IBS = 150
EVAL_BATCH = 500
INSERT_CHUNK = 20_000


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), INSERT_CHUNK):
        conn.execute(table.insert(), rows[i:i + INSERT_CHUNK])


def _programme(conn: sa.Connection) -> tuple[str, str, str, str, list[str], list[str]]:
    now = START
    casino, broker = new_id(), new_id()
    for brand_id, kind, cur in ((casino, "casino", "EUR"), (broker, "forex", "USD")):
        conn.execute(t.brands.insert().values(id=brand_id, name=kind, kind=kind,
                                              default_currency=cur, ngr_admin_fee_pct="10",
                                              created_at=now, updated_at=now))
    integ_c, integ_b = new_id(), new_id()
    for integ, brand_id in ((integ_c, casino), (integ_b, broker)):
        conn.execute(t.integrations.insert().values(id=integ, brand_id=brand_id, name=integ,
                                                    signing_secret="s", created_at=now,  # noqa: S106
                                                    updated_at=now))
    deals = {
        "hybrid": (casino, "EUR", {"cpa": {"amount": "100", "qualification": {"min_ftd": "20"}},
                                   "revshare": {"pct": "20", "carryover": "carry_forward"}}),
        "revshare": (casino, "EUR", {"pct": "30", "carryover": "reset",
                                     "tiers": [{"min_ngr": "5000", "pct": "35"}]}),
        "ib": (broker, "USD", {"rates_per_lot": {"fx_major": "8", "metals": "12",
                                                 "default": "4"}, "spread_share_pct": "10"}),
    }
    deal_ids = {}
    for name, (brand_id, cur, terms) in deals.items():
        deal_id = deal_ids[name] = new_id()
        conn.execute(t.deals.insert().values(id=deal_id, name=name, brand_id=brand_id,
                                             kind="ib_rebate" if name == "ib" else name,
                                             currency=cur, created_at=now, updated_at=now))
        conn.execute(t.deal_versions.insert().values(id=new_id(), deal_id=deal_id, version=1,
                                                     effective_from=now - timedelta(days=1),
                                                     terms=terms, created_at=now))
    affiliates, ibs = [], []
    for i in range(CASINO_AFFILIATES + IBS):
        aff = new_id()
        conn.execute(t.affiliates.insert().values(id=aff, name=f"a{i}", email=f"a{i}@x.test",
                                                  status="active", payout_currency="EUR",
                                                  created_at=now, updated_at=now))
        deal = "ib" if i >= CASINO_AFFILIATES else ("hybrid" if i % 2 else "revshare")
        conn.execute(t.deal_assignments.insert().values(
            id=new_id(), affiliate_id=aff, deal_id=deal_ids[deal],
            effective_from=now - timedelta(days=1), created_at=now))
        (ibs if deal == "ib" else affiliates).append(aff)
    return casino, broker, integ_c, integ_b, affiliates, ibs


def _build(engine: sa.Engine, scale: float) -> tuple[list[str], list[str]]:
    rnd = random.Random(7)
    players_n = int(60_000 * scale)
    activity_n = int(1_000_000 * scale)
    trades_n = int(20_000 * scale)
    with engine.begin() as conn:
        casino, broker, integ_c, integ_b, affiliates, ibs = _programme(conn)
        players, events, ftd_ids = [], [], []
        for i in range(players_n):
            pid, reg = new_id(), START + timedelta(seconds=int(i * 30 * 86400 / players_n))
            players.append({"id": pid, "brand_id": casino, "operator_player_id": f"c{i}",
                            "registered_at": reg,
                            "affiliate_id": affiliates[i % len(affiliates)],
                            "attribution": "click", "country": "DE", "ftd_at": reg,
                            "created_at": reg, "updated_at": reg})
            eid = new_id()
            ftd_ids.append(eid)
            events.append(_event(eid, integ_c, casino, f"c{i}", pid, "ftd", reg,
                                 amount_minor=5000, currency="EUR"))
        for i in range(activity_n):
            player = players[i % players_n]
            when = START + timedelta(days=rnd.randrange(30))
            bets = rnd.randrange(1000, 50_000)
            events.append(_event(new_id(), integ_c, casino, player["operator_player_id"],
                                 player["id"], "activity", when, currency="EUR",
                                 bets_minor=bets, wins_minor=int(bets * 0.93),
                                 bonus_minor=rnd.randrange(0, 300), chargebacks_minor=0))
        trade_ids, clients = [], []
        for i in range(int(3_000 * scale) or 1):
            pid = new_id()
            clients.append(pid)
            players.append({"id": pid, "brand_id": broker, "operator_player_id": f"f{i}",
                            "registered_at": START, "affiliate_id": ibs[i % len(ibs)],
                            "attribution": "click", "country": "DE", "ftd_at": None,
                            "created_at": START,
                            "updated_at": START})
        symbols = ("EURUSD.pro", "XAUUSD.m", "US30", "GBPJPY")
        for i in range(trades_n):
            eid = new_id()
            trade_ids.append(eid)
            events.append(_event(eid, integ_b, broker, f"f{i % len(clients)}",
                                 clients[i % len(clients)], "trade",
                                 START + timedelta(seconds=i * 100), currency="USD",
                                 lots_milli=2000, instrument=symbols[i % 4], spread_minor=1500))
        _insert(conn, t.players, players)
        _insert(conn, t.player_events, events)
    return ftd_ids, trade_ids


def _event(eid: str, integ: str, brand: str, op: str, pid: str, kind: str, when: datetime,
           **money: Any) -> dict[str, Any]:
    return {"id": eid, "integration_id": integ, "txn_id": eid, "payload_hash": "x",
            "source": "batch", "kind": kind, "brand_id": brand, "operator_player_id": op,
            "player_id": pid, "occurred_at": when, "received_at": when, "lots_milli": None,
            "instrument": None, "spread_minor": None, "bets_minor": None, "wins_minor": None,
            "bonus_minor": None, "chargebacks_minor": None, "amount_minor": None,
            "activity_day": when.date() if kind == "activity" else None, **money}


def _baseline(engine: sa.Engine) -> float:
    e, p = t.player_events, t.players
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(sa.select(p.c.affiliate_id, sa.func.sum(e.c.bets_minor),
                               sa.func.sum(e.c.wins_minor), sa.func.sum(e.c.bonus_minor),
                               sa.func.count())
                     .join(p, p.c.id == e.c.player_id).where(e.c.kind == "activity")
                     .group_by(p.c.affiliate_id)).all()
    return time.perf_counter() - started


def month_close(quick: bool) -> list[Result]:
    scale = 0.1 if quick else 1.0
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        migrate.upgrade(engine)
        ftd_ids, trade_ids = _build(engine, scale)
        live_ids = ftd_ids + trade_ids
        started = time.perf_counter()
        for i in range(0, len(live_ids), EVAL_BATCH):
            with engine.begin() as conn:
                evaluate_events(conn, live_ids[i:i + EVAL_BATCH], START + timedelta(days=31))
        eval_s = time.perf_counter() - started
        baseline_s = _baseline(engine)
        started, cpu_started = time.perf_counter(), time.process_time()
        with engine.begin() as conn:
            summary = period_close.close(conn, START, START + timedelta(days=32))
        close_s = time.perf_counter() - started
        close_cpu_s = time.process_time() - cpu_started
        engine.dispose()
    volume = (f"{int(60_000 * scale)} players, {int(1_000_000 * scale)} activity rows, "
              f"{IBS} IBs {int(40_000 * scale)} lots")
    prefix = "quick run at 1/10 volume: " if quick else ""
    return [
        Result("month_close", close_s, "s", baseline_s,
               f"{prefix}≤10 s for {volume} ({summary.lines} RevShare lines; "
               f"{close_cpu_s:.2f} CPU s in this process)", ok=close_s <= 10),
        Result("commission_eval_rate", len(live_ids) / eval_s, "events/s", None,
               f"{prefix}≥5000 events/s of FTDs and trades, evaluate_events in batches of "
               f"{EVAL_BATCH}", ok=len(live_ids) / eval_s >= 5000),
    ]


MIX_BATCH = 300
MIX_KINDS = (("registration", 20), ("ftd", 15), ("deposit", 15), ("withdrawal", 5),
             ("trade", 25), ("activity", 20))


def _mix(engine: sa.Engine, batches: int) -> list[list[str]]:
    """Stored events in ingestion-sized batches; each batch adds new players."""
    rnd = random.Random(11)
    kinds = [k for k, weight in MIX_KINDS for _ in range(weight)]
    with engine.begin() as conn:
        casino, broker, integ_c, integ_b, affiliates, ibs = _programme(conn)
        players: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        out: list[list[str]] = []
        known: dict[str, list[dict[str, Any]]] = {casino: [], broker: []}
        for b in range(batches):
            ids: list[str] = []
            for i in range(MIX_BATCH):
                kind = kinds[rnd.randrange(len(kinds))]
                brand = broker if kind == "trade" or (kind != "activity" and i % 4 == 0) \
                    else casino
                when = START + timedelta(seconds=(b * MIX_BATCH + i) * 7)
                pool = known[brand]
                if kind == "registration" or not pool:
                    affs = ibs if brand == broker else affiliates
                    player = {"id": new_id(), "brand_id": brand,
                              "operator_player_id": f"m{len(players)}", "registered_at": when,
                              "affiliate_id": affs[len(players) % len(affs)],
                              "attribution": "click", "country": "DE", "ftd_at": None,
                              "created_at": when, "updated_at": when}
                    players.append(player)
                    pool.append(player)
                    kind = "registration"
                else:
                    player = pool[rnd.randrange(len(pool))]
                money: dict[str, Any] = {}
                if kind in ("ftd", "deposit", "withdrawal"):
                    money = {"amount_minor": rnd.randrange(1000, 20_000),
                             "currency": "USD" if brand == broker else "EUR"}
                elif kind == "trade":
                    money = {"currency": "USD", "lots_milli": rnd.randrange(100, 5000),
                             "instrument": "EURUSD.pro", "spread_minor": 700}
                elif kind == "activity":
                    money = {"currency": "EUR", "bets_minor": 5000, "wins_minor": 4500,
                             "bonus_minor": 0, "chargebacks_minor": 0}
                eid = new_id()
                ids.append(eid)
                events.append(_event(eid, integ_b if brand == broker else integ_c, brand,
                                     player["operator_player_id"], player["id"], kind, when,
                                     **money))
            out.append(ids)
        _insert(conn, t.players, players)
        _insert(conn, t.player_events, events)
    return out


def _ledger_executemany(engine: sa.Engine, count: int) -> float:
    """A plain executemany of ``count`` ledger-shaped rows (the floor any posting pays)."""
    with engine.begin() as conn:
        affiliate = conn.execute(sa.select(t.affiliates.c.id).limit(1)).scalar_one()
        rows = [{"id": new_id(), "entry_key": f"baseline:{i}", "kind": "commission",
                 "affiliate_id": affiliate, "player_id": None, "amount_minor": 100,
                 "currency": "EUR", "deal_version_id": None, "deal_type": "cpa",
                 "period_start": START, "status": "approved", "source_event_ids": [new_id()],
                 "explanation": "baseline row", "created_at": START} for i in range(count)]
        started = time.perf_counter()
        for i in range(0, len(rows), MIX_BATCH):
            conn.execute(t.ledger_entries.insert(), rows[i:i + MIX_BATCH])
        return time.perf_counter() - started


def commission_eval(quick: bool) -> list[Result]:
    batches = 10 if quick else 60
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'eval.db'}")
        migrate.upgrade(engine)
        mixed = _mix(engine, batches)
        elapsed = 0.0
        for ids in mixed:
            with engine.begin() as conn:
                started = time.perf_counter()
                evaluate_events(conn, ids, START + timedelta(days=2))
                elapsed += time.perf_counter() - started
        with engine.connect() as conn:
            posted = conn.execute(sa.select(sa.func.count()).select_from(t.ledger_entries)
                                  ).scalar_one()
        baseline_s = _ledger_executemany(engine, int(posted))
        engine.dispose()
    events = batches * MIX_BATCH
    return [Result("commission_eval", events / elapsed, "events/s", events / baseline_s,
                   f"≥20000 events/s engine alone ({events} mixed events in batches of "
                   f"{MIX_BATCH}, {posted} ledger lines; baseline: executemany of as many "
                   "ledger rows, per event)", ok=events / elapsed >= 20_000)]


BENCHES = {"month_close": month_close, "commission_eval": commission_eval}
