"""``ledger rebuild``'s replay: the steps live evaluation took, in the order it took them.

Live evaluation records each step (``services.evaluation_order``): a batch of
arriving events with the earlier events evaluated with them and the players its
registrations bound, a manager's remap, a conversion rejection, a period close.
The replay takes the same steps in ``seq`` order in the scratch database, with the
players as they were at each step:

* a player a registration bound starts unbound (no affiliate, registration time or
  country) and is bound at that step — to the affiliate it had until its first
  remap, or kept as a manager's earlier remap left it;
* a remap moves the player and evaluates all its events stored so far, as live did;
* a player whose deposits are replayed starts without an FTD, which is set again as
  they arrive (the close counts players by FTD);
* a fraud hold holds the player's lines and conversions in the scratch database as
  live did (a held conversion is not counted for tiers and caps), a release gives
  them back, a fraud rejection releases them before its conversion rejections (their
  own steps) and reverses the player's other lines (IB rebates) at its last step;
  the player's fraud state (held, rejected, dismissed) is kept as one assessment row
  in the scratch database, since the engine leaves a fraud-held player's undecided
  conversion on hold.

Rows stored before steps were recorded have no step: their events are replayed in
arrival order (``replay.arrivals``: ``received_at``, then the event id; a player's
events before its first registration arrive with it, when it is bound), with the
period closes, audited rejections and remaps they came with, by time; each goes
before the first recorded step that is later in time (after a migration: all first).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.attribution import becomes_ftd, is_deposit
from clickledger.ids import new_id
from clickledger.services import conversion, evaluation_order, period_close
from clickledger.services import fraud_actions as actions
from clickledger.services.replay import REJECT_ACTION, Step, arrivals, copy_rows
from clickledger.store import tables as t

REMAP_ACTION = "player.remap"
FETCH_CHUNK_IDS = 500
CANONICAL_CHARS = 36
ORDER = {evaluation_order.EVENTS: 0, evaluation_order.CLOSE: 1, evaluation_order.REJECT: 2,
         evaluation_order.REMAP: 2, **dict.fromkeys(evaluation_order.FRAUD_KINDS, 2)}
# the scratch assessment each fraud step leaves: (status, action), as live's latest one
FRAUD_STATE = {evaluation_order.HOLD: ("open", "hold"),
               evaluation_order.RELEASE: ("dismissed", "hold"),
               evaluation_order.FRAUD_REJECT: ("confirmed", "reject")}


@dataclass
class Plan:
    """The steps to replay, and what the players' starting state depends on."""

    steps: list[Step]
    bound_by_step: set[str] = field(default_factory=set)  # a recorded step binds them
    registered: set[str] = field(default_factory=set)  # players with a registration event
    depositors: set[str] = field(default_factory=set)  # players with a deposit event
    first_before: dict[str, str | None] = field(default_factory=dict)  # before 1st remap


def plan(live: sa.Connection) -> Plan:
    """Recorded steps in ``seq`` order with the unrecorded (older) history merged in."""
    recorded = _recorded(live)
    arrived = {event_id for step in recorded for event_id in step.event_ids}
    closed = {step.period_start for step in recorded if step.kind == evaluation_order.CLOSE}
    rejected = {(s.player_id, s.conversion_kind) for s in recorded
                if s.kind == evaluation_order.REJECT}
    audited = {s.audit_id for s in recorded if s.kind == evaluation_order.REMAP}
    legacy = [*arrivals(live, skip=arrived), *_closes(live, closed),
              *_rejections(live, rejected), *_remaps(live, audited)]
    legacy.sort(key=lambda s: (s.at, s.order))
    result = Plan(_merge(legacy, recorded))
    result.bound_by_step = {p for step in recorded for p in step.bound}
    e = t.player_events
    for player_id, kind in live.execute(sa.select(e.c.player_id, e.c.kind).distinct().where(
            e.c.kind.in_(("registration", "ftd", "deposit")))):
        (result.registered if kind == "registration" else result.depositors).add(str(player_id))
    for step in result.steps:
        if step.kind == evaluation_order.REMAP:
            result.first_before.setdefault(step.player_id, step.affiliate_before)
    return result


def _recorded(live: sa.Connection) -> list[Step]:
    s = t.evaluation_steps
    steps = []
    for seq, kind, at, detail in live.execute(sa.select(s.c.seq, s.c.kind, s.c.at, s.c.detail)
                                              .order_by(s.c.seq)):
        steps.append(_step(int(seq), str(kind), utc(at), detail or {}))
    return steps


def _step(seq: int, kind: str, at: datetime, detail: dict[str, Any]) -> Step:
    order = ORDER.get(kind, 0)
    if kind == evaluation_order.EVENTS:
        return Step(at, order, kind, seq=seq, event_ids=_ids(detail.get("arrived", ())),
                    also=_ids(detail.get("also", ())), bound=_ids(detail.get("bound", ())))
    if kind == evaluation_order.CLOSE:
        start = utc(datetime.fromisoformat(detail["period_start"]))
        return Step(at, order, kind, seq=seq, period_start=start)
    if kind == evaluation_order.REJECT:
        return Step(at, order, kind, seq=seq, player_id=detail["player_id"],
                    conversion_kind=detail["kind"], reason=detail.get("reason", ""))
    if kind in evaluation_order.FRAUD_KINDS:
        return Step(at, order, kind, seq=seq, player_id=detail["player_id"],
                    reason=detail.get("reason", ""))
    return Step(at, order, kind, seq=seq, player_id=detail["player_id"],
                affiliate_id=detail.get("after"), affiliate_before=detail.get("before"),
                audit_id=str(detail.get("audit_id", "")))


def _ids(values: Iterable[str]) -> tuple[str, ...]:
    """Ids as canonical UUID text (an import records them as 32 hex digits)."""
    return tuple(v if len(v) == CANONICAL_CHARS else str(uuid.UUID(v)) for v in values)


def _closes(live: sa.Connection, recorded: set[datetime | None]) -> list[Step]:
    p = t.periods
    rows = live.execute(sa.select(p.c.starts_at, p.c.closed_at).where(p.c.status == "closed"))
    return [Step(utc(r.closed_at), 1, evaluation_order.CLOSE, period_start=utc(r.starts_at))
            for r in rows if utc(r.starts_at) not in recorded]


def _audited(live: sa.Connection, action: str) -> list[Any]:
    a = t.audit_log
    return list(live.execute(sa.select(a.c.id, a.c.at, a.c.entity_id, a.c.before, a.c.after)
                             .where(a.c.action == action).order_by(a.c.at, a.c.id)))


def _rejections(live: sa.Connection, recorded: set[tuple[str, str]]) -> list[Step]:
    steps = []
    for row in _audited(live, REJECT_ACTION):
        player_id, _, kind = str(row.entity_id).partition(":")
        if (player_id, kind) not in recorded:
            steps.append(Step(utc(row.at), 2, evaluation_order.REJECT, player_id=player_id,
                              conversion_kind=kind,
                              reason=str((row.after or {}).get("reason", ""))))
    return steps


def _remaps(live: sa.Connection, recorded: set[str]) -> list[Step]:
    return [Step(utc(row.at), 2, evaluation_order.REMAP, player_id=str(row.entity_id),
                 affiliate_id=(row.after or {}).get("affiliate_id"),
                 affiliate_before=_text((row.before or {}).get("affiliate_id")))
            for row in _audited(live, REMAP_ACTION) if str(row.id) not in recorded]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _merge(legacy: list[Step], recorded: list[Step]) -> list[Step]:
    """Recorded steps in ``seq`` order, each older step placed before the first recorded
    one later than it in time."""
    merged: list[Step] = []
    index = 0
    for step in recorded:
        while index < len(legacy) and (legacy[index].at, legacy[index].order) <= (step.at,
                                                                                  step.order):
            merged.append(legacy[index])
            index += 1
        merged.append(step)
    return merged + legacy[index:]


class Replayer:
    """Applies a ``Plan`` to the scratch database, keeping the players as live had them."""

    def __init__(self, live: sa.Connection, target: sa.Connection, the_plan: Plan) -> None:
        self.live, self.target, self.plan = live, target, the_plan
        self.final: dict[str, Any] = {}
        self.unbound: set[str] = set()  # bound later by a registration
        self.remapped: set[str] = set()
        self.ftd_at: dict[str, datetime | None] = {}
        self.held: dict[str, actions.Held] = {}  # scratch ids, as live's assessment keeps them

    def copy_players(self) -> None:
        """The players as they started: unbound where a registration binds them later,
        without an FTD where their deposits are replayed, on their first affiliate."""
        copy_rows(self.live, self.target, t.players)
        p = t.players
        for row in self.live.execute(sa.select(p.c.id, p.c.registered_at, p.c.affiliate_id,
                                               p.c.country)):
            self.final[str(row.id)] = row
        plan_ = self.plan
        self.unbound = (plan_.bound_by_step | plan_.registered) & set(self.final)
        self._update([{"b_id": pid, "registered_at": None, "affiliate_id": None,
                       "country": None} for pid in sorted(self.unbound)])
        self._update([{"b_id": pid, "affiliate_id": before}
                      for pid, before in sorted(plan_.first_before.items())
                      if pid in self.final and pid not in self.unbound])
        self.ftd_at = dict.fromkeys(plan_.depositors & set(self.final))
        self._update([{"b_id": pid, "ftd_at": None, "ftd_event_id": None}
                      for pid in sorted(self.ftd_at)])

    def _update(self, rows: list[dict[str, Any]]) -> None:
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            by_columns.setdefault(tuple(sorted(k for k in row if k != "b_id")), []).append(row)
        p = t.players
        for columns, group in by_columns.items():
            statement = p.update().where(p.c.id == sa.bindparam("b_id")).values(
                {name: sa.bindparam(name) for name in columns})
            self.target.execute(statement, group)

    def run(self) -> None:
        for step in self.plan.steps:
            if step.kind == "events":
                self._events(step)
            elif step.kind == evaluation_order.CLOSE and step.period_start is not None:
                period_close.close(self.target, step.period_start, step.at)
            elif step.kind == evaluation_order.REJECT:
                conversion.reject_conversion(self.target, step.player_id, step.conversion_kind,
                                             step.reason, step.at)
            elif step.kind == evaluation_order.REMAP:
                self._remap(step)
            elif step.kind in evaluation_order.FRAUD_KINDS:
                self._fraud(step)

    def _events(self, step: Step) -> None:
        if step.seq:  # recorded: the events by id, the players it bound
            rows = self._fetch(step.event_ids)
            self._arrive(rows)
            self._bind(step.bound)
            ids = [*step.event_ids, *step.also]
        else:  # older: a player whose first registration arrives now is bound now
            rows = list(step.rows)
            self._arrive(rows)
            self._bind(str(r["player_id"]) for r in rows if r["kind"] == "registration"
                       and str(r["player_id"]) not in self.plan.bound_by_step)
            ids = [str(r["id"]) for r in rows]
        if ids:
            conversion.evaluate_events(self.target, ids, step.at)

    def _fetch(self, event_ids: Sequence[str]) -> list[dict[str, Any]]:
        e = t.player_events
        rows: list[dict[str, Any]] = []
        for start in range(0, len(event_ids), FETCH_CHUNK_IDS):
            chunk = list(event_ids[start:start + FETCH_CHUNK_IDS])
            rows += [dict(r) for r in self.live.execute(sa.select(e).where(e.c.id.in_(chunk)))
                     .mappings()]
        return rows

    def _arrive(self, rows: list[dict[str, Any]]) -> None:
        """Store arriving events; a deposit earlier than the player's FTD becomes it."""
        if not rows:
            return
        self.target.execute(t.player_events.insert(), rows)
        changed: dict[str, dict[str, Any]] = {}
        for row in rows:
            player_id = str(row["player_id"])
            if player_id not in self.ftd_at or not is_deposit(row["kind"]):
                continue
            occurred = utc(row["occurred_at"])
            if becomes_ftd(row["kind"], occurred, self.ftd_at[player_id]):
                self.ftd_at[player_id] = occurred
                changed[player_id] = {"b_id": player_id, "ftd_at": occurred,
                                      "ftd_event_id": str(row["id"])}
        self._update(list(changed.values()))

    def _bind(self, player_ids: Iterable[str]) -> None:
        """Registration: the player's registration time, country and affiliate (the one it
        had until its first remap; kept as it is when a remap came first)."""
        rows = []
        for player_id in dict.fromkeys(player_ids):
            if player_id not in self.unbound:
                continue
            self.unbound.discard(player_id)
            final = self.final[player_id]
            row = {"b_id": player_id, "registered_at": final.registered_at,
                   "country": final.country}
            if player_id not in self.remapped:
                row["affiliate_id"] = self.plan.first_before.get(
                    player_id, _text(final.affiliate_id))
            rows.append(row)
        self._update(rows)

    def _remap(self, step: Step) -> None:
        """The manager's remap: the player moves and all its events are evaluated again."""
        self.remapped.add(step.player_id)
        self._update([{"b_id": step.player_id, "affiliate_id": step.affiliate_id}])
        e = t.player_events
        ids = [str(i) for i in self.target.execute(
            sa.select(e.c.id).where(e.c.player_id == step.player_id)
            .order_by(e.c.occurred_at)).scalars()]
        if ids:
            conversion.evaluate_events(self.target, ids, step.at)

    def _fraud(self, step: Step) -> None:
        """A fraud action as live took it, on the scratch ids."""
        player_id, at = step.player_id, step.at
        held = self.held.setdefault(player_id, actions.empty_held())
        if step.kind == evaluation_order.HOLD:
            actions.apply_hold(self.target, player_id, step.reason, at, held)
        elif step.kind == evaluation_order.RELEASE:
            actions.apply_release(self.target, held, at)
            self.held[player_id] = actions.empty_held()  # a later assessment starts afresh
        elif step.kind == evaluation_order.FRAUD_REJECT:
            actions.apply_release(self.target, held, at)
        else:
            actions.reverse_other_lines(self.target, player_id, step.reason, at)
        if step.kind in FRAUD_STATE:
            self._fraud_state(player_id, *FRAUD_STATE[step.kind], at)

    def _fraud_state(self, player_id: str, status: str, action: str, at: datetime) -> None:
        """The player's latest assessment as the engine reads it (``fraud.held_player_ids``)."""
        a = t.fraud_assessments
        values = {"status": status, "action": action, "updated_at": at}
        changed = self.target.execute(a.update().where(a.c.player_id == player_id)
                                      .values(**values))
        if not changed.rowcount:
            self.target.execute(a.insert().values(
                id=new_id(), dedupe_key=f"replay:{player_id}", subject="player",
                player_id=player_id, score=0, reasons=[], held=None, created_at=at, **values))


def replay(live: sa.Connection, target: sa.Connection) -> None:
    """Replay the whole recorded history into ``target`` (programme rows already copied)."""
    replayer = Replayer(live, target, plan(live))
    replayer.copy_players()
    replayer.run()
