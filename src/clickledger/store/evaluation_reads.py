"""What commission evaluation reads, one query per kind of fact for a whole batch.

Below the Core compiler (``store.batch_reads``): the batch's keys go as one
parameter and rows come back as the driver's tuples, ids turned into canonical
text here.  Times are left as the driver gives them (SQLite: text; PostgreSQL:
a datetime) until ``moment`` reads one: most events never need theirs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, NamedTuple

import sqlalchemy as sa

from clickledger.store import tables as t
from clickledger.store.batch_reads import BatchRead, Codec, codec

_EVENTS = BatchRead(  # the given events of attributed players, with the player
    "SELECT e.id, e.kind, e.occurred_at, e.received_at, e.integration_id, e.txn_id,"
    " e.amount_minor, e.currency, e.lots_milli, e.instrument, e.account_type, e.spread_minor,"
    " e.bets_minor, e.reverses_txn_id,"
    " p.id, p.affiliate_id, p.brand_id, p.registered_at, p.country"
    " FROM player_events e JOIN players p ON p.id = e.player_id"
    " WHERE p.affiliate_id IS NOT NULL AND e.id {ids}")
_HISTORY = BatchRead(  # the same event columns, then the player
    "SELECT e.id, e.kind, e.occurred_at, e.received_at, e.integration_id, e.txn_id,"
    " e.amount_minor, e.currency, e.lots_milli, e.instrument, e.account_type, e.spread_minor,"
    " e.bets_minor, e.reverses_txn_id, e.player_id"
    " FROM player_events e WHERE e.player_id {ids} AND e.kind {texts}")
_CONVERSIONS = BatchRead("SELECT player_id, kind, status FROM conversions WHERE player_id {ids}")
_PAID = BatchRead(
    "SELECT kind, affiliate_id, deal_id, count(*) FROM conversions"
    " WHERE affiliate_id {ids} AND period_start = ? AND status IN ('approved', 'reversed')"
    " GROUP BY kind, affiliate_id, deal_id")
_UNDOING = BatchRead(  # the (integration_id, reverses_txn_id) index
    "SELECT id, integration_id, reverses_txn_id FROM player_events"
    " WHERE integration_id {ids} AND reverses_txn_id {texts}")
_BY_TXN = BatchRead(  # the unique (integration_id, txn_id) index
    "SELECT id, integration_id, txn_id FROM player_events"
    " WHERE integration_id {ids} AND txn_id {texts}")
_ARRIVAL = itemgetter(3, 0)  # a raw event row's (received_at, id)


class Event(NamedTuple):
    """A stored player event (ids as canonical text, times as the driver gives them)."""

    id: str
    kind: str
    occurred: Any  # occurred_at: ``moment(event.occurred)``
    received: Any  # received_at: orders the arrivals of one batch
    integration_id: str
    txn_id: str
    amount_minor: int | None
    currency: str | None
    lots_milli: int | None
    instrument: str | None
    account_type: str | None
    spread_minor: int | None
    bets_minor: int | None
    reverses_txn_id: str | None


class Player(NamedTuple):
    """The player of attributed events (``registered``: registered_at as the driver gives it)."""

    id: str
    affiliate_id: str
    brand_id: str
    registered: Any
    country: str | None


def moment(raw: Any) -> datetime:
    """A time column's raw value (SQLite: text; PostgreSQL: a datetime) as UTC."""
    value: datetime = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Ids:
    """Raw ids to canonical text, each repeated one (affiliates, brands) once."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.known: dict[Any, str] = {}

    def __call__(self, raw: Any) -> str:
        text = self.known.get(raw)
        if text is None:
            text = self.known[raw] = self.codec.id_text(raw)
        return text


def _event(text: Any, ids: _Ids, raw: Sequence[Any]) -> Event:
    return Event(text(raw[0]), raw[1], raw[2], raw[3], ids(raw[4]), raw[5], raw[6], raw[7],
                 raw[8], raw[9], raw[10], raw[11], raw[12], raw[13])


def attributed_events(conn: sa.Connection, event_ids: Iterable[str]) -> list[tuple[Event, Player]]:
    """The given events whose player has an affiliate, in arrival order (received_at, id)."""
    c = codec(conn)
    ids = _Ids(c)
    players: dict[Any, Player] = {}
    found = []
    for raw in sorted(_EVENTS.rows(conn, c.id_list(dict.fromkeys(event_ids))), key=_ARRIVAL):
        player = players.get(raw[14])
        if player is None:
            player = players[raw[14]] = Player(c.id_text(raw[14]), ids(raw[15]), ids(raw[16]),
                                               raw[17], raw[18])
        found.append((_event(c.id_text, ids, raw), player))
    return found


def history(conn: sa.Connection, player_ids: Sequence[str],
            kinds: Iterable[str]) -> dict[str, list[Event]]:
    """The players' stored events of ``kinds``, by player."""
    c = codec(conn)
    ids = _Ids(c)
    found: dict[str, list[Event]] = defaultdict(list)
    for raw in _HISTORY.rows(conn, c.id_list(player_ids), c.text_list(kinds)):
        found[ids(raw[14])].append(_event(c.id_text, ids, raw))
    return found


def conversion_statuses(conn: sa.Connection,
                        player_ids: Sequence[str]) -> dict[tuple[str, str], str]:
    """(player, kind) → status of the players' conversions."""
    if not player_ids:
        return {}
    c = codec(conn)
    return {(c.id_text(player_id), kind): status
            for player_id, kind, status in _CONVERSIONS.rows(conn, c.id_list(player_ids))}


def paid_conversions(conn: sa.Connection, affiliate_ids: Iterable[str],
                     period_start: datetime) -> dict[tuple[str, str, str], int]:
    """(kind, affiliate, deal) → conversions paid (approved or since reversed) in a period."""
    c = codec(conn)
    ids = _Ids(c)
    return {(kind, ids(affiliate_id), ids(deal_id)): int(count)
            for kind, affiliate_id, deal_id, count in _PAID.rows(
                conn, c.id_list(affiliate_ids), _time_param(conn, period_start))}


def _time_param(conn: sa.Connection, value: datetime) -> Any:
    """``value`` as the driver takes a time column's value (SQLite: the stored text)."""
    dialect = conn.dialect
    process = t.conversions.c.period_start.type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process is not None else value


def undoing(conn: sa.Connection, events: Sequence[Event]) -> dict[tuple[str, str], list[str]]:
    """Ids of the stored reversals and chargebacks naming each (integration, txn) given."""
    c = codec(conn)
    ids = _Ids(c)
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for event_id, integration_id, txn_id in _UNDOING.rows(
            conn, c.id_list({ev.integration_id for ev in events}),
            c.text_list({ev.txn_id for ev in events})):
        found[(ids(integration_id), txn_id)].append(c.id_text(event_id))
    return found


def named_events(conn: sa.Connection, events: Sequence[Event]) -> dict[tuple[str, str], str]:
    """Ids of the stored events the given reversals and chargebacks name, by (integration,
    txn)."""
    wanted = {ev.reverses_txn_id for ev in events if ev.reverses_txn_id}
    if not wanted:
        return {}
    c = codec(conn)
    ids = _Ids(c)
    return {(ids(integration_id), txn_id): c.id_text(event_id)
            for event_id, integration_id, txn_id in _BY_TXN.rows(
                conn, c.id_list({ev.integration_id for ev in events}), c.text_list(wanted))}
