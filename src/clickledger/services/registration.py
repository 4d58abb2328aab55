"""Registration: binding players to affiliates, for life, and the manager's audited remap.

Ingestion hands a whole group-commit batch to a ``PlayerBook``: it loads the
players the batch touches (and the clicks and promo codes registrations
name) in a few queries, applies each event in memory, then writes new and
changed players in bulk.  Events for a player whose registration has not yet
arrived create a *pending* player; when the registration comes, the binding
is made and the ids of those earlier events are handed back so the commission
engine evaluates them too (an FTD before its registration is normal).

Writes are guarded so two processes cannot both bind a player or both set its
FTD: an insert that meets an existing player, or a guarded update that finds
nothing to change, raises ``RaceLost`` and the batch is retried.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.domain.attribution import (
    Attribution,
    ClickFacts,
    Method,
    PromoFacts,
    attribute,
    becomes_ftd,
)
from clickledger.ids import new_id
from clickledger.services import audit, evaluation_order
from clickledger.services.conversion import evaluate_events
from clickledger.store import fraud_queue
from clickledger.store import tables as t
from clickledger.store.batch_reads import BatchRead, Codec, codec
from clickledger.store.inserts import PreparedInsert
from clickledger.store.reports import move_player_rollups

CHUNK_ROWS = 500
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_c, _o, _p = t.clicks.c, t.offers.c, t.players.c
_CLICKS = BatchRead("SELECT c.id, c.affiliate_id, c.created_at, o.brand_id FROM clicks c"
                    " JOIN offers o ON o.id = c.offer_id WHERE c.id {ids}")
_PROMOS = sa.select(t.promo_codes).where(
    t.promo_codes.c.code.in_(sa.bindparam("codes", expanding=True)))
_PLAYERS = BatchRead(
    "SELECT id, operator_player_id, registered_at, affiliate_id, click_id, promo_code_id,"
    " attribution, country, ftd_event_id, ftd_at FROM players"
    " WHERE brand_id = ? AND operator_player_id {texts}")
PLAYER_COLUMNS = ("id", "brand_id", "operator_player_id", "registered_at", "affiliate_id",
                  "click_id", "promo_code_id", "attribution", "country", "ftd_event_id",
                  "ftd_at", "created_at", "updated_at")
_INSERT_PLAYERS = PreparedInsert(t.players, PLAYER_COLUMNS, ["brand_id", "operator_player_id"])
_REGISTER = t.players.update().where(
    _p.id == sa.bindparam("b_id"), _p.registered_at.is_(None)
).values(
    registered_at=sa.bindparam("b_registered_at"),
    affiliate_id=sa.bindparam("b_affiliate_id"), click_id=sa.bindparam("b_click_id"),
    promo_code_id=sa.bindparam("b_promo_code_id"),
    attribution=sa.bindparam("b_attribution"), country=sa.bindparam("b_country"),
    updated_at=sa.bindparam("b_now"),
)
_SET_FTD = t.players.update().where(
    _p.id == sa.bindparam("b_id"),
    sa.or_(_p.ftd_at.is_(None), _p.ftd_at > sa.bindparam("b_at")),
).values(ftd_event_id=sa.bindparam("b_event"), ftd_at=sa.bindparam("b_at"),
         updated_at=sa.bindparam("b_now"))


class RaceLost(Exception):
    """Another transaction wrote the same player or event first: retry the batch."""


class RemapError(ValueError):
    """A remap that cannot be done (unknown player or affiliate)."""


@dataclass(slots=True)
class PlayerState:
    """A player as the batch sees it, with what changed."""

    id: str
    brand_id: str
    operator_player_id: str
    registered_at: datetime | None = None
    affiliate_id: str | None = None
    click_id: str | None = None
    promo_code_id: str | None = None
    attribution: str = Method.PENDING.value
    country: str | None = None
    ftd_event_id: str | None = None
    ftd_at: datetime | None = None
    is_new: bool = False
    registered_now: bool = False
    ftd_changed: bool = False
    kept_binding: bool = False  # registered now, but bound earlier by a manager's remap


def _chunks(items: Sequence[Any], size: int = CHUNK_ROWS) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def valid_uuid(text: str | None) -> str | None:
    """``text`` as a canonical UUID string, or None when it is not one."""
    if not text:
        return None
    if _CANONICAL_UUID.fullmatch(text):
        return text
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def load_clicks(conn: sa.Connection, click_ids: Iterable[str]) -> dict[str, ClickFacts]:
    """Known clicks by id (with their offer's brand); ids that are not UUIDs are skipped."""
    ids = sorted({cid for cid in (valid_uuid(c) for c in click_ids) if cid})
    if not ids:
        return {}
    c = codec(conn)
    found: dict[str, ClickFacts] = {}
    for click_id, affiliate_id, created_at, brand_id in _CLICKS.rows(conn, c.id_list(ids)):
        key = c.id_text(click_id)
        found[key] = ClickFacts(key, c.id_text(affiliate_id), c.id_text(brand_id),
                                c.moment(created_at))
    return found


def load_promos(conn: sa.Connection, codes: Iterable[str]) -> dict[str, PromoFacts]:
    """Promo codes by upper-case code."""
    wanted = sorted({code.upper() for code in codes})
    found: dict[str, PromoFacts] = {}
    for chunk in _chunks(wanted):
        for row in conn.execute(_PROMOS, {"codes": chunk}):
            found[row.code] = PromoFacts(str(row.id), str(row.affiliate_id), str(row.brand_id),
                                         row.status == "active")
    return found


def _state(c: Codec, brand_id: str, row: Sequence[Any]) -> PlayerState:
    """A player from a raw ``_PLAYERS`` row."""
    (player_id, operator_player_id, registered_at, affiliate_id, click_id, promo_code_id,
     attribution, country, ftd_event_id, ftd_at) = row
    return PlayerState(
        id=c.id_text(player_id), brand_id=brand_id, operator_player_id=operator_player_id,
        registered_at=c.moment(registered_at) if registered_at else None,
        affiliate_id=c.id_or_none(affiliate_id), click_id=c.id_or_none(click_id),
        promo_code_id=c.id_or_none(promo_code_id), attribution=attribution, country=country,
        ftd_event_id=c.id_or_none(ftd_event_id), ftd_at=c.moment(ftd_at) if ftd_at else None,
    )


class PlayerBook:
    """The players one batch touches, changed in memory and written in bulk."""

    def __init__(self, window_days: int) -> None:
        self.window_days = window_days
        self.players: dict[tuple[str, str], PlayerState] = {}

    def load(self, conn: sa.Connection, keys: Iterable[tuple[str, str]]) -> None:
        by_brand: dict[str, set[str]] = {}
        for brand_id, player in keys:
            by_brand.setdefault(brand_id, set()).add(player)
        c = codec(conn)
        for brand_id, players in by_brand.items():
            for row in _PLAYERS.rows(conn, c.id_param(brand_id), c.text_list(sorted(players))):
                state = _state(c, brand_id, row)
                self.players[(brand_id, state.operator_player_id)] = state

    def ensure(self, brand_id: str, operator_player_id: str) -> PlayerState:
        """The player, created pending (not yet registered) when first seen."""
        key = (brand_id, operator_player_id)
        state = self.players.get(key)
        if state is None:
            state = PlayerState(new_id(), brand_id, operator_player_id, is_new=True)
            self.players[key] = state
        return state

    def register(
        self, state: PlayerState, *, registered_at: datetime, country: str | None,
        click_id: str | None, click: ClickFacts | None, promo_code: str | None,
        promo: PromoFacts | None,
    ) -> Attribution | None:
        """Bind a not-yet-registered player; None when it was registered before (lifetime).

        A player a manager remapped before its registration arrived keeps that binding:
        the registration is recorded, and its earlier events (already counted under the
        manager's binding) are not handed back.
        """
        if state.registered_at is not None:
            return None
        if state.attribution != Method.PENDING.value:  # only a remap binds a pending player
            state.registered_at = registered_at
            state.country = state.country or country
            state.registered_now = not state.is_new
            state.kept_binding = True
            return Attribution(Method(state.attribution), state.affiliate_id, state.click_id,
                               state.promo_code_id, note="manager_binding_kept")
        decision = attribute(
            brand_id=state.brand_id, registered_at=registered_at, window_days=self.window_days,
            click_reported=click_id is not None, click=click,
            promo_reported=promo_code is not None, promo=promo,
        )
        state.registered_at = registered_at
        state.affiliate_id = decision.affiliate_id
        state.click_id = decision.click_id
        state.promo_code_id = decision.promo_code_id
        state.attribution = decision.method.value
        state.country = state.country or country
        state.registered_now = not state.is_new
        return decision

    @staticmethod
    def note_deposit(state: PlayerState, kind: str, event_id: str, occurred_at: datetime) -> bool:
        """Make this deposit the player's FTD if it is the earliest so far; True if it is."""
        if not becomes_ftd(kind, occurred_at, state.ftd_at):
            return False
        state.ftd_event_id = event_id
        state.ftd_at = occurred_at
        state.ftd_changed = not state.is_new
        return True

    # --- writing -------------------------------------------------------------

    def write(self, conn: sa.Connection, now: datetime) -> None:
        """Insert new players and apply guarded updates; ``RaceLost`` if someone was first."""
        self._insert_new(conn, now)
        self._update_registrations(conn, now)
        self._update_ftds(conn, now)

    def _insert_new(self, conn: sa.Connection, now: datetime) -> None:
        rows = [
            (s.id, s.brand_id, s.operator_player_id, s.registered_at, s.affiliate_id, s.click_id,
             s.promo_code_id, s.attribution, s.country, s.ftd_event_id, s.ftd_at, now, now)
            for s in sorted(self.players.values(), key=lambda p: p.operator_player_id)
            if s.is_new
        ]
        if not rows:
            return
        if _INSERT_PLAYERS.run(conn, rows) != len(rows):
            raise RaceLost("a player was created concurrently")

    def _update_registrations(self, conn: sa.Connection, now: datetime) -> None:
        params = [
            {"b_id": s.id, "b_registered_at": s.registered_at, "b_affiliate_id": s.affiliate_id,
             "b_click_id": s.click_id, "b_promo_code_id": s.promo_code_id,
             "b_attribution": s.attribution, "b_country": s.country, "b_now": now}
            for s in self.players.values() if s.registered_now
        ]
        if not params:
            return
        if conn.execute(_REGISTER, params).rowcount != len(params):
            raise RaceLost("a player was registered concurrently")

    def _update_ftds(self, conn: sa.Connection, now: datetime) -> None:
        params = [
            {"b_id": s.id, "b_event": s.ftd_event_id, "b_at": s.ftd_at, "b_now": now}
            for s in self.players.values() if s.ftd_changed
        ]
        if not params:
            return
        if conn.execute(_SET_FTD, params).rowcount != len(params):
            raise RaceLost("a player's FTD was set concurrently")

    def player_ids(self) -> list[str]:
        """Every player of the batch (what its evaluation locks: ``evaluation_order``)."""
        return [s.id for s in self.players.values()]

    def pending_ids(self) -> list[str]:
        """Players still unregistered after this batch: another process may be registering
        them right now (``evaluation_order.wait_for_registrations``)."""
        return sorted(s.id for s in self.players.values() if s.registered_at is None)

    def bound_ids(self) -> list[str]:
        """Players a registration of this batch bound (``ledger rebuild`` binds them there)."""
        return [s.id for s in self.players.values()
                if s.registered_at is not None and (s.registered_now or s.is_new)]

    def earlier_event_ids(self, conn: sa.Connection) -> list[str]:
        """Stored events of players registered in this batch (they now have an affiliate)."""
        ids = [s.id for s in self.players.values() if s.registered_now and not s.kept_binding]
        found: list[str] = []
        for chunk in _chunks(ids):
            query = sa.select(t.player_events.c.id).where(
                t.player_events.c.player_id.in_(chunk)
            ).order_by(t.player_events.c.occurred_at)
            found.extend(str(event_id) for event_id in conn.execute(query).scalars())
        return found


# --- manager remap -------------------------------------------------------------


def remap_player(
    conn: sa.Connection, *, player_id: str, affiliate_id: str | None, actor: str, reason: str,
    now: datetime,
) -> dict[str, Any]:
    """Move a player to another affiliate (or to organic), audited; returns the new binding.

    Past ledger entries stay as they are (corrections are new entries); the
    player's events are re-evaluated so anything not yet earned (e.g. a CPA of a
    player that was organic) is earned by the new affiliate, once.  The report
    rollups of the player's events (registrations, FTDs, deposits, activity, lots)
    move from the old affiliate's rows to the new one's, on the days they
    occurred; commission stays with the ledger entries' affiliate.  The player's
    events are queued for fraud assessment again, under the new binding.  A player
    remapped before its registration arrived keeps the manager's binding.
    """
    row = conn.execute(sa.select(t.players).where(t.players.c.id == player_id)).first()
    if row is None:
        raise RemapError("player not found")
    if affiliate_id is not None and conn.execute(
        sa.select(t.affiliates.c.id).where(t.affiliates.c.id == affiliate_id)
    ).first() is None:
        raise RemapError("affiliate not found")
    before = {"affiliate_id": row.affiliate_id, "attribution": row.attribution}
    method = Method.MANUAL.value if affiliate_id else Method.ORGANIC.value
    old_affiliate = str(row.affiliate_id) if row.affiliate_id is not None else None
    conn.execute(t.players.update().where(t.players.c.id == player_id).values(
        affiliate_id=affiliate_id, attribution=method, updated_at=now))
    after = {"affiliate_id": affiliate_id, "attribution": method, "reason": reason}
    audit_id = audit.record(conn, actor=actor, action="player.remap", entity="player",
                            entity_id=player_id, now=now, before=before, after=after)
    evaluation_order.record_remap(  # after the player's row: see ``evaluation_order``
        conn, now, player_id=player_id, before=old_affiliate, after=affiliate_id,
        audit_id=audit_id)
    move_player_rollups(conn, player_id, old_affiliate, valid_uuid(affiliate_id))
    event_ids = [str(e) for e in conn.execute(
        sa.select(t.player_events.c.id).where(t.player_events.c.player_id == player_id)
        .order_by(t.player_events.c.occurred_at)).scalars()]
    if event_ids:
        evaluate_events(conn, event_ids, now)
        if affiliate_id is not None:  # organic players are not assessed
            fraud_queue.enqueue(conn, event_ids, now)  # re-assessed under the new binding
    return {"player_id": player_id, **after}
