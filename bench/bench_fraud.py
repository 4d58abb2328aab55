"""Fraud rules on labelled traffic: precision, recall and honest conversions held.

The generated world (``fraud_traffic``) is replayed hour by hour into a fresh
SQLite database the way the live system sees it: each hour's clicks fold into
the counters (``record_clicks``), then each hour's events are stored, the
commission engine posts (``evaluate_events``) and the fraud service assesses
(``assess_events``) in the same transaction.  The last hours (a backlog of
``QUICK_RATE_EVENTS`` events with --quick, else ``FULL_BACKLOG_EVENTS``) are
stored, posted and queued as ingestion does, and the fraud worker drains them
(the production path).  A conversion (a player with an FTD) counts as caught
when its player's latest assessment holds or rejects it.

Baseline, measured on the same conversions: a user-agent-only rule (hold when
the click's user agent is a crawler, an automation tool or empty).  Per rule
family: precision = share of conversions where the family fired that are
fraud; recall = share of that pattern's fraud conversions caught.  Speed lines:
``fraud_assess_events_per_s`` re-runs ``assess_events`` alone over stored events
(writes are no-ops then) against the commission engine's own rate;
``fraud_worker_events_per_s`` is the worker's drain of the fresh backlog, end
to end, per CPU second of this process (SQLite runs in it), with its µs per
event and its wall-clock rate beside it.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from common import Result
from fraud_traffic import HONEST, PATTERNS, Click, Player, Traffic, generate

from clickledger.clock import FakeClock
from clickledger.domain.fraud.bots import BrowserFacts, bot_signals
from clickledger.ids import new_id
from clickledger.services.conversion import evaluate_events
from clickledger.services.fraud import ClickCount, FraudConfig, assess_events, record_clicks
from clickledger.store import fraud_queue, migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine
from clickledger.workers.fraud import FraudWorker

CAUGHT = frozenset({"hold", "reject"})
DEAL_FROM = datetime(2025, 1, 1)
CASINO_CPA = {"amount": "100", "qualification": {"min_ftd": "10"}}
FOREX_CPA = {"amount": "200", "qualification": {"min_ftd": "10", "min_lots": "1"}}


@dataclass
class Ids:
    brand: dict[str, str] = field(default_factory=dict)
    integration: dict[str, str] = field(default_factory=dict)
    affiliate: dict[str, str] = field(default_factory=dict)
    link: dict[str, tuple[str, str]] = field(default_factory=dict)
    click: dict[str, str] = field(default_factory=dict)
    player: dict[str, str] = field(default_factory=dict)
    ftd_set: set[str] = field(default_factory=set)


def _ua_families() -> Any:
    from ua_parser import parse  # noqa: PLC0415

    cache: dict[str, tuple[str | None, str | None, str | None]] = {}

    def families(ua: str) -> tuple[str | None, str | None, str | None]:
        if ua not in cache:
            result = parse(ua) if ua else None
            cache[ua] = (
                result.user_agent.family if result and result.user_agent else None,
                result.os.family if result and result.os else None,
                result.device.family if result and result.device else None,
            )
        return cache[ua]

    return families


def _setup(conn: sa.Connection, traffic: Traffic, ids: Ids) -> None:
    now = datetime(2026, 1, 1)
    for brand, currency in (("casino", "EUR"), ("forex", "USD")):
        ids.brand[brand] = new_id()
        conn.execute(t.brands.insert().values(id=ids.brand[brand], name=brand, kind=brand,
                                              default_currency=currency, created_at=now,
                                              updated_at=now))
        ids.integration[brand] = new_id()
        conn.execute(t.integrations.insert().values(
            id=ids.integration[brand], brand_id=ids.brand[brand], name=f"{brand} feed",
            signing_secret="s" * 32, created_at=now, updated_at=now))
    deals = {}
    for brand, terms, currency in (("casino", CASINO_CPA, "EUR"), ("forex", FOREX_CPA, "USD")):
        deals[brand] = new_id()
        conn.execute(t.deals.insert().values(id=deals[brand], name=f"{brand} cpa",
                                             brand_id=ids.brand[brand], kind="cpa",
                                             currency=currency, created_at=now, updated_at=now))
        conn.execute(t.deal_versions.insert().values(
            id=new_id(), deal_id=deals[brand], version=1, effective_from=DEAL_FROM, terms=terms,
            created_at=now))
    for aff in traffic.affiliates:
        aff_id = ids.affiliate[aff.key] = new_id()
        conn.execute(t.affiliates.insert().values(
            id=aff_id, name=aff.key, email=f"{aff.key}@bench.test", status="active",
            payout_currency="EUR", login_ips=aff.login_ips, created_at=now, updated_at=now))
        conn.execute(t.deal_assignments.insert().values(
            id=new_id(), affiliate_id=aff_id, deal_id=deals[aff.brand], effective_from=DEAL_FROM,
            created_at=now))
        offer_id, link_id = new_id(), new_id()
        conn.execute(t.offers.insert().values(
            id=offer_id, brand_id=ids.brand[aff.brand], name=f"offer {aff.key}",
            landing_url="https://op.example/", allowed_domains=["op.example"], created_at=now,
            updated_at=now))
        conn.execute(t.tracking_links.insert().values(
            id=link_id, code=aff.key, affiliate_id=aff_id, offer_id=offer_id, created_at=now,
            updated_at=now))
        ids.link[aff.key] = (link_id, offer_id)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _click_rows(clicks: list[Click], ids: Ids, families: Any) -> list[dict[str, Any]]:
    rows = []
    for click in clicks:
        if not click.converting:
            continue
        link_id, offer_id = ids.link[click.affiliate]
        browser, os_name, device = families(click.ua)
        click_id = ids.click[click.key] = new_id()
        rows.append({"id": click_id, "created_at": click.at, "link_id": link_id,
                     "affiliate_id": ids.affiliate[click.affiliate], "offer_id": offer_id,
                     "sub1": click.sub1, "ip": click.ip, "user_agent": click.ua,
                     "accept_language": click.language, "country": click.country,
                     "device": device, "os": os_name, "browser": browser,
                     "is_bot": device == "Spider", "is_unique": True})
    return rows


def _store_events(conn: sa.Connection, items: list[tuple[Player, Any]], ids: Ids,
                  now: datetime) -> list[str]:
    players, events, ftds = [], [], []
    for player, event in items:
        brand = ids.brand[player.brand]
        if event.kind == "registration":
            pid = ids.player[player.key] = new_id()
            players.append({
                "id": pid, "brand_id": brand, "operator_player_id": player.key,
                "registered_at": player.registered_at,
                "affiliate_id": ids.affiliate[player.affiliate],
                "click_id": ids.click.get(player.click.key) if player.click else None,
                "attribution": "click", "country": player.country, "created_at": now,
                "updated_at": now})
        event_id = new_id()
        events.append({
            "id": event_id, "integration_id": ids.integration[player.brand],
            "txn_id": event_id, "payload_hash": "x", "source": "s2s", "kind": event.kind,
            "brand_id": brand, "operator_player_id": player.key,
            "player_id": ids.player[player.key], "occurred_at": event.at, "received_at": event.at,
            "amount_minor": event.amount_minor, "currency": "EUR" if player.brand == "casino"
            else "USD", "lots_milli": event.lots_milli, "instrument": event.instrument,
            "bets_minor": event.bets_minor, "bonus_minor": event.bonus_minor,
            "activity_day": event.at.date() if event.kind == "activity" else None,
            "country": event.country, "raw": event.raw or None})
        if event.kind == "ftd" and player.key not in ids.ftd_set:
            ids.ftd_set.add(player.key)
            ftds.append((ids.player[player.key], event_id, event.at))
    if players:
        conn.execute(t.players.insert(), players)
    conn.execute(t.player_events.insert(), events)
    for pid, event_id, at in ftds:
        conn.execute(t.players.update().where(t.players.c.id == pid)
                     .values(ftd_event_id=event_id, ftd_at=at))
    return [row["id"] for row in events]


@dataclass
class Timing:
    events: int = 0
    batches: int = 0
    assess_s: float = 0.0
    evaluate_s: float = 0.0


def replay(engine: sa.Engine, traffic: Traffic, config: FraudConfig,
           backlog_events: int = 0) -> tuple[Ids, Timing, datetime]:
    """Feed the world hour by hour: clicks, then events, evaluated and assessed.  The last
    hours holding ``backlog_events`` events are only stored, evaluated and queued for the
    fraud worker, as ingestion does (``worker_drain`` assesses them).  Returns the ids, the
    timings and the end of the last hour."""
    ids, timing = Ids(), Timing()
    families = _ua_families()
    with engine.begin() as conn:
        _setup(conn, traffic, ids)
    clicks_by_hour: dict[datetime, list[Click]] = defaultdict(list)
    for click in traffic.clicks:
        clicks_by_hour[_hour(click.at)].append(click)
    events_by_hour: dict[datetime, list[tuple[Player, Any]]] = defaultdict(list)
    for player in traffic.players:
        for event in player.events:
            events_by_hour[_hour(event.at)].append((player, event))
    hours = sorted(set(clicks_by_hour) | set(events_by_hour))
    backlog_from = _backlog_start(hours, events_by_hour, backlog_events)
    for hour in hours:
        with engine.begin() as conn:
            clicks = clicks_by_hour.get(hour, [])
            rows = _click_rows(clicks, ids, families)
            if rows:
                conn.execute(t.clicks.insert(), rows)
            record_clicks(conn, [ClickCount(c.at, c.ip, ids.link[c.affiliate][0], c.sub1,
                                            ids.affiliate[c.affiliate]) for c in clicks])
        items = sorted(events_by_hour.get(hour, []), key=lambda pe: (pe[1].kind != "registration",
                                                                     pe[1].at))
        if not items:
            continue
        now = hour + timedelta(hours=1)
        with engine.begin() as conn:
            event_ids = _store_events(conn, items, ids, now)
            started = time.perf_counter()
            evaluate_events(conn, event_ids, now)
            if hour >= backlog_from:
                fraud_queue.enqueue(conn, event_ids, now)  # as ingestion does
                continue
            middle = time.perf_counter()
            assess_events(conn, event_ids, now, config)
            timing.evaluate_s += middle - started
            timing.assess_s += time.perf_counter() - middle
            timing.events += len(event_ids)
            timing.batches += 1
    return ids, timing, hours[-1] + timedelta(hours=1)


def _backlog_start(hours: list[datetime], events_by_hour: dict[datetime, list[Any]],
                   backlog_events: int) -> datetime:
    """The first hour of the shortest tail of ``hours`` holding ``backlog_events`` events."""
    start, held = hours[-1] + timedelta(hours=1), 0
    for hour in reversed(hours):
        if held >= backlog_events:
            break
        held += len(events_by_hour.get(hour, ()))
        start = hour
    return start


THROUGHPUT_BATCH_EVENTS = 1000  # a full group-commit batch of postbacks
QUICK_RATE_EVENTS = 4000  # --quick: the two rate lines re-run this many stored events
FULL_BACKLOG_EVENTS = 16_000  # the fraud worker's backlog (--quick: QUICK_RATE_EVENTS)


def spread(ids: list[str], limit: int | None) -> list[str]:
    """``ids`` (in time order), or at most ``limit`` of them as runs of a batch each, evenly
    spaced over the whole list, so a sample sees early and late traffic alike."""
    if limit is None or len(ids) <= limit:
        return ids
    runs = max(1, limit // THROUGHPUT_BATCH_EVENTS)
    step = len(ids) // runs
    return [i for n in range(runs) for i in ids[n * step:n * step + THROUGHPUT_BATCH_EVENTS]]


def throughput(engine: sa.Engine, config: FraudConfig,
               limit: int | None = None) -> tuple[float, float]:
    """(assess, evaluate) events/s re-running every stored event (or ``limit`` of them,
    ``spread``) in batches of 1000, in time order: the read-and-decide path at ingestion's
    batch size (writes are no-ops by design, since both are idempotent)."""
    e = t.player_events
    with engine.connect() as conn:
        ids = spread([str(r) for r in conn.execute(sa.select(e.c.id).order_by(e.c.occurred_at))
                      .scalars()], limit)
    assess_s = evaluate_s = 0.0
    for start in range(0, len(ids), THROUGHPUT_BATCH_EVENTS):
        chunk = ids[start:start + THROUGHPUT_BATCH_EVENTS]
        with engine.begin() as conn:
            began = time.perf_counter()
            evaluate_events(conn, chunk, datetime(2027, 1, 1))
            middle = time.perf_counter()
            assess_events(conn, chunk, datetime(2027, 1, 1), config)
            evaluate_s += middle - began
            assess_s += time.perf_counter() - middle
    return len(ids) / assess_s, len(ids) / evaluate_s


@dataclass(frozen=True, slots=True)
class Drain:
    """The fraud worker emptying the queue: events, CPU and wall seconds it took."""

    events: int
    cpu_s: float
    wall_s: float

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_s * 1e6 / self.events if self.events else 0.0


def worker_drain(engine: sa.Engine, config: FraudConfig, now: datetime) -> Drain:
    """The fraud worker (default batch size) draining the backlog ``replay`` queued, end to
    end: claim, assess fresh events (identities, counters, assessments, holds and
    reversals, audit), re-assert holds, bring postbacks up to date, dequeue — one
    transaction per batch, as ``clickledger worker`` runs it.  The click cursor starts at
    ``now``: the replay counted its clicks itself (the clicks table holds only the
    converting ones).  CPU is this process's (SQLite runs in it)."""
    with engine.begin() as conn:
        fraud_queue.create_cursor(conn, "clicks", fraud_queue.Cursor(now, fraud_queue.NIL_ID),
                                  now)
    worker = FraudWorker(engine, FakeClock(now), config=config)
    cpu, wall = time.process_time(), time.perf_counter()
    worker.drain()
    return Drain(worker.stats.events, time.process_time() - cpu, time.perf_counter() - wall)


@dataclass
class Tally:
    fraud_caught: int = 0
    fraud_missed: int = 0
    honest_caught: int = 0
    honest_total: int = 0

    def precision(self) -> float:
        caught = self.fraud_caught + self.honest_caught
        return self.fraud_caught / caught if caught else 0.0

    def recall(self) -> float:
        total = self.fraud_caught + self.fraud_missed
        return self.fraud_caught / total if total else 0.0

    def honest_held(self) -> float:
        return self.honest_caught / self.honest_total if self.honest_total else 0.0

    def add(self, fraud: bool, caught: bool) -> None:
        if fraud:
            self.fraud_caught += caught
            self.fraud_missed += not caught
        else:
            self.honest_total += 1
            self.honest_caught += caught


def _verdicts(engine: sa.Engine) -> dict[str, tuple[str, set[str]]]:
    a = t.fraud_assessments
    found: dict[str, tuple[str, set[str]]] = {}
    with engine.connect() as conn:
        for row in conn.execute(sa.select(a.c.player_id, a.c.action, a.c.reasons)
                                .order_by(a.c.id)):
            found[str(row.player_id)] = (row.action, {r["family"] for r in row.reasons})
    return found


def _ua_only(player: Player, families: Any) -> bool:
    if player.click is None:
        return False
    browser, os_name, device = families(player.click.ua)
    signals = bot_signals(BrowserFacts(player.click.ua, browser, os_name, device, "en"))
    return any(s.check in ("crawler", "automation", "empty_user_agent") for s in signals)


def measure(traffic: Traffic, ids: Ids, engine: sa.Engine) -> dict[str, Any]:
    verdicts = _verdicts(engine)
    families = _ua_families()
    overall, baseline = Tally(), Tally()
    by_pattern: dict[str, Tally] = defaultdict(Tally)
    fired: dict[str, list[bool]] = defaultdict(list)  # family -> [is fraud] where it fired
    for player in traffic.players:
        if not player.converts:
            continue
        action, fams = verdicts.get(ids.player[player.key], ("allow", set()))
        fraud = player.label != HONEST
        caught = action in CAUGHT
        overall.add(fraud, caught)
        baseline.add(fraud, _ua_only(player, families))
        if fraud:
            by_pattern[player.label].add(True, caught)
        for family in fams:
            fired[family].append(fraud)
    return {"overall": overall, "baseline": baseline, "by_pattern": by_pattern, "fired": fired}


def run(quick: bool) -> list[Result]:
    # --quick: 10 days (every pattern's 30 players, two thirds of the honest volume)
    traffic = generate(seed=7, days=10 if quick else 21, scale=1 if quick else 2)
    limit = QUICK_RATE_EVENTS if quick else None
    backlog = QUICK_RATE_EVENTS if quick else FULL_BACKLOG_EVENTS
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'fraud.db'}")
        migrate.upgrade(engine)
        ids, timing, end = replay(engine, traffic, FraudConfig(), backlog)
        drain = worker_drain(engine, FraudConfig(), end)
        found = measure(traffic, ids, engine)
        assess_rate, evaluate_rate = throughput(engine, FraudConfig(), limit)
        engine.dispose()
    overall: Tally = found["overall"]
    base: Tally = found["baseline"]
    results = [
        Result("fraud_precision", overall.precision(), "ratio", base.precision(), "≥0.95",
               overall.precision() >= 0.95),
        Result("fraud_recall", overall.recall(), "ratio", base.recall(), "≥0.90",
               overall.recall() >= 0.90),
        Result("fraud_honest_held", overall.honest_held(), "ratio", base.honest_held(), "≤0.01",
               overall.honest_held() <= 0.01),
    ]
    for pattern in PATTERNS:
        hits = found["fired"].get(pattern, [])
        precision = sum(hits) / len(hits) if hits else 0.0
        results.append(Result(f"fraud_precision_{pattern}", precision, "ratio", None,
                              f"info: fired on {len(hits)} conversions", True))
        tally: Tally = found["by_pattern"][pattern]
        total = tally.fraud_caught + tally.fraud_missed
        results.append(Result(f"fraud_recall_{pattern}", tally.recall(), "ratio", None,
                              f"info: {tally.fraud_caught}/{total} caught", True))
    conversions = overall.honest_total + overall.fraud_caught + overall.fraud_missed
    results.append(Result("fraud_conversions", conversions, "conversions", None,
                          f"info: {overall.honest_total} honest", True))
    replay_rate = timing.events / timing.assess_s if timing.assess_s else 0.0
    results.append(Result("fraud_assess_replay_events_per_s", replay_rate, "events/s",
                          timing.events / timing.evaluate_s if timing.evaluate_s else None,
                          f"info: hourly batches of ~{timing.events // max(timing.batches, 1)}"
                          " events, baseline = commission engine", True))
    results.append(Result("fraud_assess_events_per_s", assess_rate, "events/s", evaluate_rate,
                          "≥20000 (batches of 1000; baseline = commission engine; postback "
                          "path target 5000)", assess_rate >= 20_000))
    per_cpu_s = drain.events / drain.cpu_s if drain.cpu_s else 0.0
    results.append(Result("fraud_worker_events_per_s", per_cpu_s, "events/cpu-s",
                          assess_rate, f"≥5000 (keeps up with postback_ingest's target; a "
                          f"backlog of {drain.events} fresh events drained end to end; "
                          "baseline = assess_events alone re-run)", per_cpu_s >= 5000))
    results.append(Result("fraud_worker_cpu_us_per_event", drain.cpu_us_per_event,
                          "µs/event", None, "info: CPU of the drain above (≤200 for 5000/s "
                          "on one core)", True))
    results.append(Result("fraud_worker_wall_events_per_s",
                          drain.events / drain.wall_s if drain.wall_s else 0.0, "events/s",
                          None, "info: wall clock of the same drain (noisy when shared)", True))
    return results


BENCHES = {"fraud": run}
