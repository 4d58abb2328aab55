"""Fraud detection as events land: click counters, per-player assessment, holds and rejections.

Contract with click tracking: nothing on the click path.  The fraud worker
(``services.fraud_intake``) reads new clicks behind a cursor and calls
``record_clicks`` for them in batches (counters per IP, link, sub-id, affiliate
and programme; see ``store.fraud`` for why a counter table and not per-process
memory).

Contract with ingestion: in the transaction that accepts events, ingestion
queues their ids in ``fraud_queue``; the fraud worker takes them off the queue
and calls ``assess_events`` (then ``enforce_holds``) in one transaction, seconds
later.  Running after the commission engine lets a verdict hold or reverse
exactly what was posted, and the worker brings the outbound postbacks of held
or rejected players up to date (``fraud_postbacks``): unsent ones rendered
again, ones already sent followed by one saying the new status.

Per player the new signals are merged with those of its latest assessment
(one signal per check, the highest points), scored, and written as a new
``fraud_assessments`` row only when something changed: the same event twice
writes nothing (``dedupe_key``).  A hold holds the player's unpaid lines; a
reject (score ≥ ``reject_at``) reverses them and is final; every later batch
about a held or rejected player holds or reverses what the engine posted since
(after one batched read that finds which of them have anything new:
``fraud_actions.players_with_work``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from clickledger.domain.deals.base import DealKind
from clickledger.domain.deals.registry import cpa_terms
from clickledger.domain.fraud.ctit import CtitLimits
from clickledger.domain.fraud.duplicates import DuplicateFacts
from clickledger.domain.fraud.flooding import FloodLimits
from clickledger.domain.fraud.geo import GeoFacts
from clickledger.domain.fraud.rules import RuleLimits, SubjectFacts, evaluate
from clickledger.domain.fraud.scoring import Action, FraudPolicy, merge_signals, score
from clickledger.domain.fraud.signals import RULE_FAMILIES, Signal
from clickledger.ids import new_id
from clickledger.services import audit
from clickledger.services import fraud_actions as actions
from clickledger.services import fraud_facts as gather
from clickledger.services.posting import Context
from clickledger.settings import Settings, get_settings
from clickledger.store import fraud as repo
from clickledger.store import tables as t

SYSTEM_ACTOR = "system:fraud"
MINUTE_DIMENSIONS = ("ip", "link", "sub")  # short windows around a click
# first hour a link or sub-id was seen (a new link's baseline spans its life); aff_h, all_h,
# aff_ftd_h and all_ftd_h were written before revision 0003 and are pruned as they age
HOUR_DIMENSIONS = ("link_h", "sub_h", "aff_h", "all_h", "aff_ftd_h", "all_ftd_h")
DAY_DIMENSIONS = ("link_d", "sub_d", "aff_d", "all_d", "aff_ftd_d", "all_ftd_d")  # baselines
MINUTE_RETENTION = timedelta(days=2)
HOUR_RETENTION = timedelta(days=60)
DAY_RETENTION = timedelta(days=60)
IDENTITY_KINDS = ("ip", "device", "payment")
SHARED_IP_LOOKBACK = timedelta(days=30)  # an address changes hands; devices and cards do not


@dataclass(frozen=True, slots=True)
class FraudConfig:
    """Policy (thresholds, weights), rule limits and the attribution window, for one call."""

    policy: FraudPolicy = field(default_factory=FraudPolicy)
    limits: RuleLimits = field(default_factory=RuleLimits)
    window_days: int = 30


def config_from(settings: Settings) -> FraudConfig:
    """The fraud configuration the ``fraud_*`` settings describe."""
    weights = {family: int(getattr(settings, f"fraud_weight_{family}_pct"))
               for family in RULE_FAMILIES}
    policy = FraudPolicy(flag_at=settings.fraud_flag_at, hold_at=settings.fraud_hold_at,
                         reject_at=settings.fraud_reject_at, weights_pct=weights)
    limits = RuleLimits(
        flood=FloodLimits(window_minutes=settings.fraud_click_window_minutes,
                          ip_flag_clicks=settings.fraud_ip_flag_clicks,
                          ip_hold_clicks=settings.fraud_ip_hold_clicks),
        ctit=CtitLimits(min_seconds=settings.fraud_min_ctit_seconds),
    )
    return FraudConfig(policy=policy, limits=limits, window_days=settings.attribution_window_days)


@dataclass(frozen=True, slots=True)
class ClickCount:
    """What the counters need of one stored click."""

    created_at: datetime
    ip: str | None
    link_id: str
    sub1: str | None
    affiliate_id: str


def record_clicks(conn: sa.Connection, clicks: Iterable[ClickCount]) -> None:
    """Fold a batch of clicks into the sliding-window counters (aggregated, one upsert each)."""
    counts: Counter[repo.CounterKey] = Counter()
    for click in clicks:
        at_minute, at_hour = gather.minute(click.created_at), gather.hour(click.created_at)
        at_day = gather.day(click.created_at)
        sub = gather.sub_key(click.link_id, click.sub1)
        if click.ip:
            counts[("ip", click.ip[:300], at_minute)] += 1
        counts[("link", click.link_id, at_minute)] += 1
        counts[("sub", sub, at_minute)] += 1
        counts[("link_h", click.link_id, at_hour)] += 1
        counts[("sub_h", sub, at_hour)] += 1
        counts[("link_d", click.link_id, at_day)] += 1
        counts[("sub_d", sub, at_day)] += 1
        counts[("aff_d", click.affiliate_id, at_day)] += 1
        counts[("all_d", "", at_day)] += 1
    repo.bump_counts(conn, counts)


def prune_counters(conn: sa.Connection, now: datetime) -> int:
    """Delete counter buckets no window or baseline reads any more."""
    return (repo.prune_counts(conn, MINUTE_DIMENSIONS, now - MINUTE_RETENTION)
            + repo.prune_counts(conn, HOUR_DIMENSIONS, now - HOUR_RETENTION)
            + repo.prune_counts(conn, DAY_DIMENSIONS, now - DAY_RETENTION))


@dataclass
class Outcome:
    """What one call did: assessments written, by action, and players held or rejected.

    ``latest`` is the newest assessment of every player the call looked at (after its
    writes), ``players_of`` maps the call's event ids to their players (filled by
    ``enforce_holds``), ``changed`` names the players whose commission was held, released
    or reversed by the call (what ``fraud_postbacks`` announces), and ``to_enforce`` the
    players whose earlier hold ``assess_events(enforce=False)`` left to ``enforce_holds``.
    """

    written: Counter[str] = field(default_factory=Counter)
    enforced: int = 0
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    players_of: dict[str, str] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    to_enforce: dict[str, dict[str, Any]] = field(default_factory=dict)  # left for enforce_holds


def assess_events(conn: sa.Connection, event_ids: Sequence[str], now: datetime,
                  config: FraudConfig | None = None, *, enforce: bool = True) -> Outcome:
    """Assess the players behind ``event_ids`` and act on the verdicts (see the module doc).

    With ``enforce=False`` the holds of players held before are left for the
    ``enforce_holds(..., after=outcome)`` that follows (one pass for every player)."""
    config = config or config_from(get_settings())
    events = gather.load_events(conn, event_ids)
    if not events:
        return Outcome()
    batch = _Batch(conn, config, events)
    batch.load()
    new_signals = batch.signals()
    latest = repo.latest_assessments(conn, set(new_signals) | set(batch.by_player))
    outcome = Outcome(latest=latest)
    decided = _write(batch, new_signals, latest, now, outcome)
    outcome.changed |= decided
    outcome.to_enforce = {p: row for p, row in latest.items() if p not in decided}
    if enforce:
        _enforce(conn, outcome.to_enforce, now, outcome)
        outcome.to_enforce = {}
    return outcome


def enforce_holds(conn: sa.Connection, event_ids: Sequence[str], now: datetime, *,
                  after: Outcome | None = None) -> int:
    """Re-assert the hold or rejection of every held or rejected player behind ``event_ids``
    (of any kind: an activity or chargeback re-evaluated by the commission engine too) over
    what was posted since; returns how many players had something new held or reversed.

    ``after``: the ``assess_events`` outcome of the same events, whose players are done
    already; it gains the events' players, their latest assessments and the changes."""
    outcome = after if after is not None else Outcome()
    e = t.player_events
    ids = [event_id for event_id in dict.fromkeys(event_ids) if event_id not in outcome.players_of]
    for start in range(0, len(ids), 400):
        for event_id, player_id in conn.execute(sa.select(e.c.id, e.c.player_id).where(
                e.c.id.in_(ids[start:start + 400]), e.c.player_id.is_not(None))):
            outcome.players_of[str(event_id)] = str(player_id)
    done = set(outcome.latest)
    fresh = repo.latest_assessments(conn, set(outcome.players_of.values()) - done)
    outcome.latest.update(fresh)
    before = outcome.enforced
    _enforce(conn, {**outcome.to_enforce, **fresh}, now, outcome)
    outcome.to_enforce = {}
    enforced = outcome.enforced - before
    if after is not None:
        outcome.enforced = before  # the caller counts this call's share from the return value
    return enforced


def held_player_ids(conn: sa.Connection, player_ids: Iterable[str]) -> set[str]:
    """Players whose latest assessment holds or rejects them (for the commission engine)."""
    latest = repo.latest_assessments(conn, player_ids)
    return {pid for pid, row in latest.items() if _holds(row) or _rejects(row)}


def holds_or_rejects(row: dict[str, Any]) -> bool:
    """Whether an assessment row holds or rejects its player's commission."""
    return _holds(row) or _rejects(row)


def _holds(row: dict[str, Any]) -> bool:
    return bool(row["status"] == "open" and row["action"] == Action.HOLD.value)


def _rejects(row: dict[str, Any]) -> bool:
    return bool(row["status"] == "confirmed")


class _Batch:
    """The facts of one call's players, loaded in batches."""

    def __init__(self, conn: sa.Connection, config: FraudConfig,
                 events: list[gather.EventRow]) -> None:
        self.conn = conn
        self.config = config
        self.by_player: dict[str, list[gather.EventRow]] = defaultdict(list)
        for event in events:
            self.by_player[event.player_id].append(event)
        self.cache = gather.WindowCache(conn)
        self.clicks: dict[str, gather.ClickRow] = {}
        self.logins: dict[str, tuple[str, ...]] = {}
        self.identities: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.sharing: dict[tuple[str, str, str], list[tuple[str, str | None]]] = {}
        self.peer_trigger: dict[str, tuple[str, str]] = {}

    def first(self, player_id: str) -> gather.EventRow:
        return self.by_player[player_id][0]

    def load(self) -> None:
        players = list(self.by_player)
        wanted = {self.first(p).click_id for p in players if self.first(p).click_id}
        self.clicks = gather.load_clicks(self.conn, {c for c in wanted if c})
        self.logins = gather.load_login_ips(self.conn, {self.first(p).affiliate_id
                                                        for p in players})
        self._identities()

    def _identities(self) -> None:
        rows: list[dict[str, Any]] = []
        counts: Counter[repo.CounterKey] = Counter()
        for player_id, events in self.by_player.items():
            head = events[0]
            values = self.identities[player_id]
            click = self.clicks.get(head.click_id or "")
            if click is not None and click.ip:
                values["ip"].add(click.ip[:128])
            for event in events:
                for kind, value in gather.identity_values(event.raw):
                    values[kind].add(value)
            for kind, found in values.items():
                rows += [{"kind": kind, "value": v, "player_id": player_id,
                          "brand_id": head.brand_id, "affiliate_id": head.affiliate_id,
                          "seen_at": head.occurred_at} for v in found]
            ftd = next((e for e in events if e.is_ftd), None)
            if ftd is not None:
                rows.append({"kind": "ftd", "value": player_id, "player_id": player_id,
                             "brand_id": head.brand_id, "affiliate_id": head.affiliate_id,
                             "seen_at": ftd.occurred_at})
        new = repo.add_identities(self.conn, rows)
        for kind, player_id in new:
            if kind == "ftd":
                head = self.first(player_id)
                at = gather.day(head.ftd_at or head.occurred_at)
                counts[("aff_ftd_d", head.affiliate_id, at)] += 1
                counts[("all_ftd_d", "", at)] += 1
        repo.bump_counts(self.conn, counts)
        self._sharing()

    def _sharing(self) -> None:
        wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
        latest = max(events[-1].occurred_at for events in self.by_player.values())
        for player_id, values in self.identities.items():
            brand = self.first(player_id).brand_id
            for kind, found in values.items():
                wanted[(brand, kind)] |= found
        for (brand, kind), asked in wanted.items():
            since = latest - SHARED_IP_LOOKBACK if kind == "ip" else None
            for value, members in repo.players_sharing(self.conn, brand, kind, asked,
                                                       since).items():
                self.sharing[(brand, kind, value)] = members

    def duplicates_of(self, player_id: str, affiliate_id: str, brand_id: str,
                      values: dict[str, set[str]]) -> DuplicateFacts:
        def others(kind: str, same_affiliate: bool = False) -> int:
            seen: set[str] = set()
            for value in values.get(kind, ()):
                for member, member_affiliate in self.sharing.get((brand_id, kind, value), []):
                    if member != player_id and (
                        not same_affiliate or member_affiliate == affiliate_id
                    ):
                        seen.add(member)
            return len(seen)

        return DuplicateFacts(same_ip_same_affiliate=others("ip", same_affiliate=True),
                              same_device=others("device"), same_payment=others("payment"))

    def signals(self) -> dict[str, list[Signal]]:
        """New signals per player of the batch, and per earlier player sharing an identity."""
        withdrawals = [p for p, evs in self.by_player.items()
                       if any(e.kind == "withdrawal" for e in evs)]
        bonus = gather.bonus_facts(self.conn, withdrawals) if withdrawals else {}
        traders = [p for p, evs in self.by_player.items() if any(e.kind == "trade" for e in evs)]
        trades: dict[str, list[Any]] = {}
        thresholds: dict[str, int] = {}
        if traders:
            moments = [e.occurred_at for p in traders for e in self.by_player[p]]
            trades = gather.load_trades(self.conn, traders, min(moments) - gather.TRADE_LOOKBACK,
                                        max(moments))
            thresholds = _lot_thresholds(self.conn, [self.first(p) for p in traders])
        self._prefetch_windows()
        found: dict[str, list[Signal]] = {}
        for player_id, events in self.by_player.items():
            facts = self._facts(player_id, events, bonus.get(player_id),
                                tuple(trades.get(player_id, ())), thresholds.get(player_id))
            found[player_id] = evaluate(facts, self.config.limits)
        found.update(self._peer_signals())
        return found

    def _prefetch_windows(self) -> None:
        windows: list[gather.Window] = []
        window_minutes = self.config.limits.flood.window_minutes
        for events in self.by_player.values():
            head = events[0]
            click = self.clicks.get(head.click_id or "")
            if click is not None and any(e.kind == "registration" for e in events):
                windows += gather.flood_windows(click, window_minutes).all()
            ftd = next((e for e in events if e.is_ftd), None)
            if ftd is not None:
                windows += gather.rate_windows(head.affiliate_id, ftd.ftd_at or ftd.occurred_at)
        self.cache.prefetch(windows)

    def _facts(self, player_id: str, events: list[gather.EventRow], bonus: Any,
               trades: tuple[Any, ...], threshold: int | None) -> SubjectFacts:
        head = events[0]
        kinds = {e.kind for e in events}
        ftd = next((e for e in events if e.is_ftd), None)
        converting = "registration" in kinds  # click rules once, when the player arrives
        click = self.clicks.get(head.click_id or "")
        values = self.identities.get(player_id, {})
        deposit = next((e for e in events if e.kind in ("ftd", "deposit") and e.country), None)
        reg_country = head.player_country or next(
            (e.country for e in events if e.kind == "registration"), None)
        facts = SubjectFacts(
            window_days=self.config.window_days,
            duplicates=self.duplicates_of(player_id, head.affiliate_id, head.brand_id, values),
            player_ips=tuple(sorted(values.get("ip", ()))),
            affiliate_login_ips=self.logins.get(head.affiliate_id, ()),
            geo=GeoFacts(click.country if click and converting else None, reg_country,
                         deposit.country if deposit else None),
            bonus=bonus, trades=trades, threshold_lots_milli=threshold,
        )
        if click is not None and converting:
            window = self.config.limits.flood.window_minutes
            ctit = None
            if head.registered_at is not None:
                ctit = int((head.registered_at - click.created_at).total_seconds())
            facts = _with(facts, browser=click.browser_facts(), ctit_seconds=ctit,
                          flood=gather.flood_facts(self.cache, click, window))
        if ftd is not None:
            facts = _with(facts, rate=gather.rate_facts(self.cache, head.affiliate_id,
                                                        ftd.ftd_at or ftd.occurred_at))
        return facts

    def _peer_signals(self) -> dict[str, list[Signal]]:
        """Earlier players who share a device, payment instrument or IP with this batch's."""
        peers: dict[str, tuple[str, str | None, dict[str, set[str]]]] = {}
        for (brand, kind, value), members in self.sharing.items():
            if len(members) < 2:
                continue
            batch_member = next((m for m, _a in members if m in self.by_player), None)
            if batch_member is None:
                continue
            for member, affiliate in members:
                if member in self.by_player or affiliate is None:
                    continue
                entry = peers.setdefault(member, (brand, affiliate, defaultdict(set)))
                entry[2][kind].add(value)
                self.peer_trigger.setdefault(member, (self.by_player[batch_member][0].id,
                                                      affiliate))
        found: dict[str, list[Signal]] = {}
        for member, (brand, affiliate, values) in peers.items():
            if affiliate is None:
                continue
            facts = SubjectFacts(duplicates=self.duplicates_of(member, affiliate, brand, values))
            signals = evaluate(facts, self.config.limits)
            if signals:
                found[member] = signals
        return found


def _with(facts: SubjectFacts, **changes: Any) -> SubjectFacts:
    values = {name: getattr(facts, name) for name in SubjectFacts.__dataclass_fields__}
    values.update(changes)
    return SubjectFacts(**values)


def _lot_thresholds(conn: sa.Connection, heads: list[gather.EventRow]) -> dict[str, int]:
    """The CPA lot threshold (thousandths) of each trader's deal, where the deal has one."""
    ctx = Context(conn)
    ctx.load_affiliates({h.affiliate_id for h in heads})
    found: dict[str, int] = {}
    for head in heads:
        at = head.registered_at or head.occurred_at
        for _a, version, terms in ctx.deals_at(head.affiliate_id, at, head.brand_id,
                                               (DealKind.CPA, DealKind.HYBRID)):
            parsed = cpa_terms(version.kind, terms)
            if parsed is not None and parsed.qualification.min_lots > 0:
                found[head.player_id] = int(parsed.qualification.min_lots * 1000)
                break
    return found


def _write(batch: _Batch, new_signals: dict[str, list[Signal]],
           latest: dict[str, dict[str, Any]], now: datetime, outcome: Outcome) -> set[str]:
    """Insert the changed assessments (one statement) and act on them; returns the players
    given a new hold or rejection."""
    rows: dict[str, dict[str, Any]] = {}
    for player_id, signals in new_signals.items():
        if signals:
            row = _assessment(batch, player_id, signals, latest.get(player_id), now)
            if row is not None:
                rows[player_id] = row
    inserted = repo.insert_assessments(batch.conn, list(rows.values()))
    rows = {player: row for player, row in rows.items() if row["id"] in inserted}
    repo.supersede(batch.conn, [str(latest[p]["id"]) for p in rows if p in latest], now)
    decided: set[str] = set()
    for player_id, row in rows.items():
        if _act(batch.conn, row, now):
            decided.add(player_id)
        latest[player_id] = row
        outcome.written[row["action"]] += 1
    return decided


def _assessment(batch: _Batch, player_id: str, signals: list[Signal],
                prior: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    """The new assessment row, or None when nothing changed for this player."""
    if prior is not None and prior["status"] == "confirmed":
        return None
    before = [Signal.from_json(r) for r in (prior or {}).get("reasons") or []]
    merged = merge_signals(before, signals)
    cleared = {s.key: s.points for s in before}
    if all(s.points <= cleared.get(s.key, -1) for s in merged):
        return None
    if prior is not None and prior["status"] == "dismissed":
        merged = [s for s in merged if s.points > cleared.get(s.key, -1)]
    verdict = score(merged, batch.config.policy)
    trigger, affiliate = _trigger(batch, player_id)
    rejected = verdict.action is Action.REJECT
    carried = prior.get("held") if prior is not None and prior["status"] == "open" else None
    return {
        "id": new_id(), "dedupe_key": f"player:{player_id}:{trigger}", "subject": "player",
        "player_id": player_id, "affiliate_id": affiliate, "event_id": trigger,
        "click_id": _click_of(batch, player_id), "score": verdict.score,
        "action": verdict.action.value, "reasons": [s.to_json() for s in verdict.signals],
        "status": "confirmed" if rejected else "open", "held": actions.copy_held(carried),
        "reviewed_by": SYSTEM_ACTOR if rejected else None,
        "reviewed_at": now if rejected else None,
        "review_note": "rejected automatically: score at or above reject_at" if rejected else None,
        "created_at": now, "updated_at": now,
    }


def _trigger(batch: _Batch, player_id: str) -> tuple[str, str]:
    events = batch.by_player.get(player_id)
    if events:
        return events[-1].id, events[0].affiliate_id
    return batch.peer_trigger[player_id]


def _click_of(batch: _Batch, player_id: str) -> str | None:
    events = batch.by_player.get(player_id)
    return events[0].click_id if events else None


def summary(reasons: Iterable[dict[str, Any]]) -> str:
    """The reasons as one line, strongest first."""
    ordered = sorted(reasons, key=lambda r: -int(r["points"]))
    return "; ".join(str(r["reason"]) for r in ordered)[:400]


def _act(conn: sa.Connection, row: dict[str, Any], now: datetime) -> bool:
    """Hold or reject as the new assessment says; True when it did either."""
    action = Action(row["action"])
    if action not in (Action.HOLD, Action.REJECT):
        return False
    held = row["held"]
    reason = f"score {row['score']}: {summary(row['reasons'])}"
    if action is Action.HOLD:
        actions.hold(conn, row["player_id"], reason, now, held)
    else:
        actions.reject(conn, row["player_id"], reason, now, held)
    _save_held(conn, row["id"], held, now)
    audit.record(conn, actor=SYSTEM_ACTOR, action=f"fraud.{action.value}",
                 entity="player", entity_id=str(row["player_id"]), now=now,
                 after={"assessment_id": row["id"], "score": row["score"], "reason": reason,
                        "held_entries": len(held["entries"]),
                        "reversals": held["reversals"]})
    return True


def _save_held(conn: sa.Connection, assessment_id: str, held: dict[str, Any],
               now: datetime) -> None:
    a = t.fraud_assessments
    conn.execute(a.update().where(a.c.id == assessment_id).values(held=held, updated_at=now))


def _enforce(conn: sa.Connection, latest: dict[str, dict[str, Any]], now: datetime,
             outcome: Outcome) -> None:
    """Hold or reverse what the engine posted since a player was held or rejected (only for
    the players ``players_with_work`` finds something new for: two reads for them all)."""
    held = {p: row.get("held") for p, row in latest.items() if _holds(row)}
    rejected = {p: row.get("held") for p, row in latest.items() if _rejects(row)}
    for player_id in sorted(actions.players_with_work(conn, held, rejected)):
        row = latest[player_id]
        held_map = actions.copy_held(row.get("held"))
        before = (len(held_map["entries"]), len(held_map["conversions"]),
                  len(held_map["reversals"]))
        reason = f"score {row['score']}: {summary(row['reasons'])}"
        if _holds(row):
            actions.hold(conn, player_id, reason, now, held_map)
        else:
            actions.reject(conn, player_id, reason, now, held_map)
        after = (len(held_map["entries"]), len(held_map["conversions"]),
                 len(held_map["reversals"]))
        outcome.changed.add(player_id)
        if after != before:
            _save_held(conn, str(row["id"]), held_map, now)
            row["held"] = held_map
            outcome.enforced += 1
