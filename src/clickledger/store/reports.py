"""Report rollups: maintained in the writers' transactions, read by every report.

``report_rollups_daily`` holds one row per (affiliate, dimension, UTC day,
dimension value, currency) with counts and integer minor-unit sums.  Every
event, ledger entry and click is folded into one row per dimension (``all``,
``hour`` of day, ``brand``, ``offer``, ``link``, ``sub1``..``sub5``,
``country``, ``device``), so a breakdown by any of them is a range read of one
affiliate's rows for one dimension.  Clicks themselves are read from the
tracking writer's ``click_rollups_hourly`` (hour, affiliate, link, offer, sub1,
country); only the dimensions that table lacks (sub2..sub5, device) are
counted here, by the click writer's batch (``tracking/writer.py``) through ``Folder``.

Traffic attributes of an event or commission (link, offer, sub-ids, country,
device) are those of the click the player was attributed through; a player
attributed by promo code has no click, so those dimensions read ``''`` and
the country falls back to the player's.

Every write adds the same deltas, summed over affiliates, to
``report_rollups_staff`` (same key without the affiliate), which staff reports
read: a manager's 30-day breakdown reads one row per value and day, not one per
affiliate too.  Events count under the affiliate the player is bound to; a
manager's remap moves them (``move_player_rollups``); commission counts under the
ledger entry's affiliate.  A chargeback or refund naming a deposit takes it off
the deposit sum on its own day (``_EventFold``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clickledger.clock import utc
from clickledger.store import tables as t
from clickledger.store.batch_reads import driver_execute

DIMENSIONS = ("all", "hour", "brand", "offer", "link", "sub1", "sub2", "sub3", "sub4", "sub5",
              "country", "device")
CLICK_ROLLUP_DIMENSIONS = frozenset({"hour", "brand", "offer", "link", "sub1", "country", "all"})
METRICS = ("clicks", "unique_clicks", "registrations", "ftds", "qualified_cpas",
           "ftd_amount_minor", "deposits_minor", "bets_minor", "wins_minor", "bonus_minor",
           "chargebacks_minor", "lots_milli", "commission_minor")
SUB_DIMENSIONS = ("sub1", "sub2", "sub3", "sub4", "sub5")
IN_CHUNK = 500
UPSERT_CHUNK_ROWS = 256  # rows per upsert statement (a power of two, see ``_statement_sizes``)
DEPOSIT_KINDS = frozenset({"ftd", "deposit"})
KEY_COLUMNS = ("affiliate_id", "dim", "day", "value", "currency")
STAFF_KEY_COLUMNS = ("dim", "day", "value", "currency")
VALUE_MAX_CHARS = 255

Deltas = tuple[tuple[int, int], ...]  # (position in METRICS, amount)
DimValues = tuple[tuple[str, str], ...]  # (dimension, value) pairs of a player's traffic
_AT = {name: index for index, name in enumerate(METRICS)}
_ZERO_ROW = (0,) * len(METRICS)


def deltas_of(metrics: Mapping[str, int]) -> Deltas:
    """``{"registrations": 1}`` as the positional deltas ``Folder.add`` takes."""
    return tuple((_AT[name], amount) for name, amount in metrics.items())


class Folder:
    """Adds metric deltas to rollup keys in memory; ``write`` upserts them in one go.

    Keys hold the affiliate id and the day as the database stores them (on SQLite:
    32 hex digits and ISO text), so rows read with plain driver SQL fold without
    conversions; ``affiliate``, ``day`` and ``moment`` convert values from Core.
    Deltas are grouped by (affiliate, day, currency), then by (dimension, value):
    a player's ``DimValues`` pairs are used as keys as they are; the same deltas go to
    the staff slots, grouped by (day, currency).  ``add_traffic`` first sums deltas per
    (affiliate, day, currency, hour, traffic) — a batch's events share a few of those —
    and spreads each sum over its dimensions once, when written.
    """

    def __init__(self, dialect_name: str) -> None:
        self.dialect_name = dialect_name
        self.sqlite = dialect_name == "sqlite"
        self.groups: dict[tuple[str, Any, str], dict[tuple[str, str], list[int]]] = {}
        self.staff: dict[tuple[Any, str], dict[tuple[str, str], list[int]]] = {}
        self._traffic: dict[tuple[str, Any, str, str, DimValues | None], list[int]] = {}
        self.commission: list[Mapping[str, Any]] = []  # ledger rows folded when written
        self.traffic_of: dict[str, DimValues] = {}  # canonical player id → its traffic
        self._affiliates: dict[Any, str] = {}
        self._moments: dict[tuple[date, int], tuple[Any, str]] = {}
        self._hours: dict[str, tuple[str, str]] = {}

    def affiliate(self, affiliate_id: Any) -> str:
        """The stored form of an affiliate id: canonical text from Core or a raw value."""
        found = self._affiliates.get(affiliate_id)
        if found is None:
            text = str(affiliate_id)
            found = self._affiliates[affiliate_id] = text.replace("-", "") if self.sqlite else text
        return found

    def day(self, day: date) -> Any:
        """The stored form of a UTC day."""
        return day.isoformat() if self.sqlite else day

    def moment(self, at: Any) -> tuple[Any, str]:
        """(stored UTC day, hour label) of a time: a datetime, or SQLite's stored text."""
        if isinstance(at, str):  # 'YYYY-MM-DD HH:MM:SS.ffffff', read raw from SQLite
            return at[:10], at[11:13]
        moment = utc(at)
        memo_key = (moment.date(), moment.hour)
        found = self._moments.get(memo_key)
        if found is None:
            found = self._moments[memo_key] = (self.day(memo_key[0]), f"{moment.hour:02d}")
        return found

    def _groups(self, affiliate: str, day: Any, currency: str
                ) -> tuple[dict[tuple[str, str], list[int]], dict[tuple[str, str], list[int]]]:
        """The affiliate's slots and the staff slots (every affiliate) of one day and currency."""
        group = self.groups.get((affiliate, day, currency))
        if group is None:
            group = self.groups[(affiliate, day, currency)] = {}
        staff = self.staff.get((day, currency))
        if staff is None:
            staff = self.staff[(day, currency)] = {}
        return group, staff

    def add(self, affiliate: str, dim: str, day: Any, value: str, currency: str,
            deltas: Deltas) -> None:
        """Fold ``deltas`` into one key (``affiliate`` and ``day`` in stored form)."""
        pair = (dim, value[:VALUE_MAX_CHARS])
        for group in self._groups(affiliate, day, currency):
            slot = group.get(pair)
            if slot is None:
                slot = group[pair] = list(_ZERO_ROW)
            for index, amount in deltas:
                slot[index] += amount

    def add_traffic(self, affiliate: str, at: Any, dims: DimValues | None, currency: str,
                    deltas: Deltas) -> None:
        """Fold ``deltas`` into ``all``, ``hour`` and every pair of ``dims`` (values already
        cut to ``VALUE_MAX_CHARS``)."""
        day, hour = self.moment(at)
        key = (affiliate, day, currency, hour, dims)
        slot = self._traffic.get(key)
        if slot is None:
            slot = self._traffic[key] = list(_ZERO_ROW)
        for index, amount in deltas:
            slot[index] += amount

    def _spread(self) -> None:
        """Fold the sums of ``add_traffic`` into ``all``, ``hour`` and each traffic pair."""
        traffic, self._traffic = self._traffic, {}
        for (affiliate, day, currency, hour, dims), sums in traffic.items():
            hour_pair = self._hours.get(hour)
            if hour_pair is None:
                hour_pair = self._hours[hour] = ("hour", hour)
            deltas = [(index, amount) for index, amount in enumerate(sums) if amount]
            pairs = (_ALL, hour_pair, *(dims or ()))
            for group in self._groups(affiliate, day, currency):
                for pair in pairs:
                    slot = group.get(pair)
                    if slot is None:
                        slot = group[pair] = list(_ZERO_ROW)
                    for index, amount in deltas:
                        slot[index] += amount

    def write(self, conn: sa.Connection) -> int:
        """Upsert every folded row (adding to existing counts), and the same deltas summed
        over affiliates into ``report_rollups_staff``; returns the affiliate rows written."""
        if self.commission:
            _fold_commission(conn, self, self.commission)
            self.commission = []
        self._spread()
        rows = [((affiliate, dim, day, value, currency), metrics)
                for (affiliate, day, currency), group in self.groups.items()
                for (dim, value), metrics in group.items()]
        staff = [((dim, day, value, currency), metrics)
                 for (day, currency), group in self.staff.items()
                 for (dim, value), metrics in group.items()]
        self.groups, self.staff = {}, {}
        written = self._upsert(conn, "daily", rows)
        self._upsert(conn, "staff", staff)
        return written

    def _upsert(self, conn: sa.Connection, table: str,
                rows: list[tuple[tuple[Any, ...], list[int]]]) -> int:
        if not rows:
            return 0
        if not self.sqlite:  # one lock order: no deadlocks on PG (SQLite locks the file)
            rows.sort()
        flat: list[Any] = []
        for key, metrics in rows:
            flat.extend(key)
            flat.extend(metrics)
        width = len(rows[0][0]) + len(METRICS)
        start = 0
        for size in _statement_sizes(len(rows)):
            end = start + size * width
            driver_execute(conn, _upsert_sql(self.dialect_name, table, size),
                           tuple(flat[start:end]))
            start = end
        return len(rows)


_ALL = ("all", "")


def _statement_sizes(rows: int) -> list[int]:
    """``rows`` split into powers of two of at most ``UPSERT_CHUNK_ROWS`` (a few statement
    shapes, each prepared once and then found in the driver's statement cache)."""
    sizes = []
    while rows:
        size = min(UPSERT_CHUNK_ROWS, 1 << (rows.bit_length() - 1))
        sizes.append(size)
        rows -= size
    return sizes


_UPSERT_SQL: dict[tuple[str, str, int], str] = {}
_TABLES = {"daily": (t.report_rollups_daily.name, KEY_COLUMNS),
           "staff": (t.report_rollups_staff.name, STAFF_KEY_COLUMNS)}
_PG_KEY_MARKS = {"affiliate_id": "%s::uuid", "day": "%s::date"}


def _upsert_sql(dialect_name: str, table_key: str, rows: int) -> str:
    """A multi-row ``insert … on conflict do update`` adding to the rollup counts."""
    found = _UPSERT_SQL.get((dialect_name, table_key, rows))
    if found is not None:
        return found
    table, keys = _TABLES[table_key]
    if dialect_name == "sqlite":
        one_row = "(" + ", ".join(["?"] * (len(keys) + len(METRICS))) + ")"
    elif dialect_name == "postgresql":
        one_row = "(" + ", ".join([_PG_KEY_MARKS.get(k, "%s") for k in keys]
                                  + ["%s::bigint"] * len(METRICS)) + ")"
    else:
        raise ValueError(f"unsupported database dialect {dialect_name!r}")
    # Fixed names and placeholders only: no value is ever formatted into the SQL.
    sql = (f"INSERT INTO {table} ({', '.join(keys + METRICS)}) VALUES "  # noqa: S608
           + ", ".join([one_row] * rows)
           + f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
           + ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in METRICS))
    _UPSERT_SQL[(dialect_name, table_key, rows)] = sql
    return sql


def _ids_param(dialect_name: str, ids: Iterable[str]) -> Any:
    """Canonical ids as the one parameter of ``_IN_IDS`` for the dialect."""
    if dialect_name == "sqlite":
        return json.dumps([i.replace("-", "") for i in ids])
    return list(ids)


_IN_IDS = {"sqlite": "IN (SELECT value FROM json_each(?))", "postgresql": "= ANY(%s::uuid[])"}


class _Reader:
    """Turns raw driver values of one dialect into report values, memoised for one call."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self._process = t.Id.dialect_impl(dialect).result_processor(dialect, None)
        self._ids: dict[Any, str] = {}
        self._sqlite = dialect.name == "sqlite"

    def id_text(self, value: Any) -> str:
        """An id column's value as its canonical text ('' for NULL)."""
        if value is None:
            return ""
        found = self._ids.get(value)
        if found is None:
            found = self._ids[value] = str(self._process(value) if self._process else value)
        return found

    def key(self, value: Any) -> Any:
        """A raw id made comparable with another raw id of the same dialect."""
        return value.replace("-", "") if self._sqlite and isinstance(value, str) else value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _dims(reader: _Reader, row: Sequence[Any]) -> DimValues:
    """The (dimension, value) pairs a player's traffic adds besides ``all`` and ``hour``,
    from a raw row of brand, offer, link, sub1..sub5, click country, player country, device."""
    brand, offer, link, s1, s2, s3, s4, s5, click_country, player_country, device = row
    cut, id_text = VALUE_MAX_CHARS, reader.id_text
    return (("brand", id_text(brand)[:cut]), ("offer", id_text(offer)[:cut]),
            ("link", id_text(link)[:cut]),
            ("country", _text(click_country or player_country)[:cut]),
            ("device", _text(device)[:cut]),
            ("sub1", _text(s1)[:cut]), ("sub2", _text(s2)[:cut]), ("sub3", _text(s3)[:cut]),
            ("sub4", _text(s4)[:cut]), ("sub5", _text(s5)[:cut]))


_TRAFFIC_COLUMNS = ("p.brand_id, c.offer_id, c.link_id, c.sub1, c.sub2, c.sub3, c.sub4, c.sub5,"
                    " c.country, p.country, c.device")
_CLICK_JOIN = "LEFT OUTER JOIN clicks c ON c.id = p.click_id"
REVERSING_KINDS = ("chargeback", "reversal")
# The first chargeback/reversal (lowest id) that names an event by its txn id, for the
# player's own deposits and trades only (one probe of ix_player_events_reverses per row).
_FIRST_REVERSAL = (
    "CASE WHEN e.kind IN ('ftd', 'deposit', 'trade') THEN (SELECT r.id FROM player_events r"
    " WHERE r.integration_id = e.integration_id AND r.reverses_txn_id = e.txn_id"
    " AND r.player_id = e.player_id AND r.kind IN ('chargeback', 'reversal')"
    " ORDER BY r.id LIMIT 1) END"
)
# Fixed names only; the ids go in as one parameter (``_IN_IDS``).
_EVENT_SELECT = (
    "SELECT e.kind, e.occurred_at, e.amount_minor, e.currency, e.lots_milli, e.bets_minor,"  # noqa: S608
    " e.wins_minor, e.bonus_minor, e.chargebacks_minor, p.affiliate_id, p.ftd_event_id, e.id,"
    f" e.player_id, e.reverses_txn_id, {_FIRST_REVERSAL}, {_TRAFFIC_COLUMNS}"
    f" FROM player_events e JOIN players p ON p.id = e.player_id {_CLICK_JOIN}"
)
_TRAFFIC_AT = 15  # where the traffic columns start in an _EVENT_SELECT row
_EVENT_SQL = _EVENT_SELECT + " WHERE p.affiliate_id IS NOT NULL AND e.id "
_PLAYER_EVENTS_SQL = _EVENT_SELECT + " WHERE e.player_id "
_PLAYER_SQL = f"SELECT p.id, {_TRAFFIC_COLUMNS} FROM players p {_CLICK_JOIN} WHERE p.id "  # noqa: S608
# The deposit or trade a chargeback/reversal names, when this reversal is its first one.
_TARGET_SQL = (
    "SELECT r.id, d.id, d.kind, d.amount_minor, d.currency, d.lots_milli"
    " FROM player_events r JOIN player_events d ON d.integration_id = r.integration_id"
    " AND d.txn_id = r.reverses_txn_id AND d.player_id = r.player_id"
    " WHERE d.kind IN ('ftd', 'deposit', 'trade') AND NOT EXISTS (SELECT 1 FROM player_events"
    " r2 WHERE r2.integration_id = r.integration_id AND r2.reverses_txn_id = r.reverses_txn_id"
    " AND r2.player_id = r.player_id AND r2.kind IN ('chargeback', 'reversal')"
    " AND r2.id < r.id) AND r.id "
)
_OCCURRED_SQL = "SELECT e.id, e.occurred_at FROM player_events e WHERE e.id "


def _event_deltas(kind: str, amount_minor: int | None, lots_milli: int | None,
                  bets: int | None, wins: int | None, bonus: int | None,
                  chargebacks: int | None, is_ftd: bool, names_target: bool) -> Deltas:
    amount = amount_minor or 0
    deltas: list[tuple[int, int]] = []
    if kind == "registration":
        deltas.append((_AT["registrations"], 1))
    if kind in DEPOSIT_KINDS:
        deltas.append((_AT["deposits_minor"], amount))
        if is_ftd:
            deltas += ((_AT["ftds"], 1), (_AT["ftd_amount_minor"], amount))
    if kind == "chargeback":
        deltas.append((_AT["chargebacks_minor"], amount))
        if not names_target:  # a chargeback is a deposit returned: which one is not said
            deltas.append((_AT["deposits_minor"], -amount))
    if bets:
        deltas.append((_AT["bets_minor"], bets))
    if wins:
        deltas.append((_AT["wins_minor"], wins))
    if bonus:
        deltas.append((_AT["bonus_minor"], bonus))
    if kind == "activity" and chargebacks:
        deltas.append((_AT["chargebacks_minor"], chargebacks))
    if lots_milli:
        deltas.append((_AT["lots_milli"], lots_milli))
    return tuple(deltas)


def _undo_deltas(kind: str, amount_minor: int | None, lots_milli: int | None) -> Deltas:
    """What reversing a stored deposit or trade takes off: its amount or its lots."""
    if kind in DEPOSIT_KINDS:
        return ((_AT["deposits_minor"], -(amount_minor or 0)),)
    return ((_AT["lots_milli"], -(lots_milli or 0)),) if lots_milli else ()


@dataclass(slots=True)
class _Undo:
    """A reversed deposit or trade: taken off on the reversal's day, in the target's currency."""

    row: Sequence[Any]  # the _EVENT_SELECT row whose player and traffic carry it
    at: Any  # when the reversal occurred
    currency: str
    deltas: Deltas


class _EventFold:
    """Folds ``_EVENT_SELECT`` rows into a ``Folder``, with ``sign`` +1 or -1.

    A chargeback or reversal naming one of the player's deposits or trades
    (``reverses_txn_id``) takes that deposit's amount (or the trade's lots) off on
    the day the reversal occurred — the day the ledger books the reversal of
    what the deposit earned — once per deposit, whichever of the two is stored
    last (lower id first): a reversal folded before its deposit arrived is
    applied when the deposit is folded.  A chargeback naming nothing takes its own
    amount off deposits.  Chargebacks also count as chargebacks (and so in NGR);
    a refund (``reversal``) is no revenue, so NGR does not move.
    """

    def __init__(self, conn: sa.Connection, folder: Folder, sign: int = 1) -> None:
        self.conn = conn
        self.folder = folder
        self.reader = _Reader(conn.dialect)
        self.sign = sign
        self.dims: dict[Any, DimValues] = {}

    def fold(self, rows: Sequence[Sequence[Any]], affiliate: Any = None,
             whole_history: bool = False) -> None:
        """Fold ``rows`` (of attributed players, under ``affiliate`` when given).

        ``whole_history``: ``rows`` are every event of one player, so each reversed
        deposit among them counts once, whatever the order it was stored in.
        """
        reader = self.reader
        late_reversals: dict[Any, Sequence[Any]] = {}  # first reversal id → its deposit row
        reversals: list[Sequence[Any]] = []
        for row in rows:
            kind, at, amount, currency, lots, bets, wins, bonus, chargebacks = row[:9]
            ftd_event_id, event_id, reverses, first_reversal = row[10], row[11], row[13], row[14]
            is_ftd = ftd_event_id is not None and reader.key(ftd_event_id) == reader.key(event_id)
            deltas = _event_deltas(kind, amount, lots, bets, wins, bonus, chargebacks, is_ftd,
                                   reverses is not None)
            if deltas:
                self._add(row, affiliate, at, currency or "", deltas)
            if first_reversal is not None and (
                    whole_history or reader.key(first_reversal) < reader.key(event_id)):
                late_reversals[reader.key(first_reversal)] = row
            elif kind in REVERSING_KINDS and reverses is not None and not whole_history:
                reversals.append(row)
        for item in self._late(late_reversals, rows) + self._targets(reversals):
            self._add(item.row, affiliate, item.at, item.currency, item.deltas)

    def _late(self, deposits: dict[Any, Sequence[Any]],
              known: Sequence[Sequence[Any]]) -> list[_Undo]:
        """Deposits or trades whose first reversal was stored earlier, undone at its time."""
        if not deposits:
            return []
        reader = self.reader
        moments = {reader.key(r[11]): r[1] for r in known}
        wanted = [k for k in deposits if k not in moments]
        if wanted:
            name = self.conn.dialect.name
            for event_id, at in self.conn.exec_driver_sql(
                    _OCCURRED_SQL + _IN_IDS[name],
                    (_ids_param(name, [reader.id_text(k) for k in wanted]),)):
                moments[reader.key(event_id)] = at
        found = []
        for key, row in deposits.items():
            deltas = _undo_deltas(row[0], row[2], row[4])
            if key in moments and deltas:
                found.append(_Undo(row, moments[key], row[3] or "", deltas))
        return found

    def _targets(self, reversals: list[Sequence[Any]]) -> list[_Undo]:
        """Reversals stored after the deposit or trade they are the first to name."""
        if not reversals:
            return []
        reader = self.reader
        by_id = {reader.key(r[11]): r for r in reversals}
        name = self.conn.dialect.name
        found = []
        for reversal_id, target_id, kind, amount, currency, lots in self.conn.exec_driver_sql(
                _TARGET_SQL + _IN_IDS[name],
                (_ids_param(name, [reader.id_text(k) for k in by_id]),)):
            row = by_id.get(reader.key(reversal_id))
            deltas = _undo_deltas(kind, amount, lots)
            if row is not None and deltas and reader.key(target_id) < reader.key(reversal_id):
                found.append(_Undo(row, row[1], currency or "", deltas))
        return found

    def _add(self, row: Sequence[Any], affiliate: Any, at: Any, currency: str,
             deltas: Deltas) -> None:
        player_id = row[12]
        dims = self.dims.get(player_id)
        if dims is None:
            dims = self.dims[player_id] = _dims(self.reader, row[_TRAFFIC_AT:])
        if self.sign != 1:
            deltas = tuple((index, -amount) for index, amount in deltas)
        folder = self.folder
        folder.add_traffic(folder.affiliate(row[9] if affiliate is None else affiliate), at,
                           dims, currency, deltas)


def record_event_rollups(conn: sa.Connection, event_ids: Sequence[str],
                         folder: Folder | None = None) -> int:
    """Fold stored events of attributed players into the rollups (same transaction as them).

    Call it once per event after the player is attributed: ingestion passes the
    batch's new events and the earlier events of players registered in it (those
    were skipped while the player had no affiliate).  Returns rows upserted.
    One read (events joined to players and clicks), a look-up only when the batch
    holds a chargeback or reversal naming a deposit (or a deposit already reversed),
    and a few multi-row upserts.  ``folder``: deltas already folded in the same
    transaction (``deferred_commission_rollups``), written with the events'.
    """
    folder = folder if folder is not None else Folder(conn.dialect.name)
    fold_events(conn, folder, event_ids)
    return folder.write(conn)


_DEFERRED = "clickledger.reports.deferred_folder"  # ``conn.info`` key while deferring


@contextmanager
def deferred_commission_rollups(conn: sa.Connection) -> Iterator[Folder]:
    """Within the block, ``record_commission_rollups`` folds into the folder yielded
    instead of writing; the caller writes it (``record_event_rollups(…, folder)``) in
    the same transaction: a batch's events and commission are added to their rollup
    rows (mostly the same rows) in one upsert instead of one per posting."""
    folder = Folder(conn.dialect.name)
    conn.info[_DEFERRED] = folder
    try:
        yield folder
    finally:
        conn.info.pop(_DEFERRED, None)


def fold_events(conn: sa.Connection, folder: Folder, event_ids: Sequence[str]) -> None:
    """``record_event_rollups`` without the write: a bulk loader folds many batches into one
    ``folder`` and writes it once."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return
    name = conn.dialect.name
    rows = driver_execute(conn, _EVENT_SQL + _IN_IDS[name], (_ids_param(name, ids),)).fetchall()
    fold = _EventFold(conn, folder)
    fold.fold(rows)
    if folder.commission:  # the batch's commission reuses its players' traffic
        folder.traffic_of.update(
            (fold.reader.id_text(player_id), dims) for player_id, dims in fold.dims.items())


def move_player_rollups(conn: sa.Connection, player_id: str, from_affiliate: str | None,
                        to_affiliate: str | None) -> int:
    """Move the rollups of every event of one player from one affiliate to another (a
    manager's remap): taken off ``from_affiliate``'s rows, added to ``to_affiliate``'s, on
    the same days and dimensions.  ``None`` is no affiliate (organic: nothing to take off,
    or nothing to add).  Commission is not moved: it follows the ledger entries, whose
    affiliate a remap does not change.  Returns rows upserted.
    """
    if from_affiliate == to_affiliate:
        return 0
    name = conn.dialect.name
    rows = conn.exec_driver_sql(_PLAYER_EVENTS_SQL + _IN_IDS[name],
                                (_ids_param(name, [player_id]),)).fetchall()
    folder = Folder(name)
    if from_affiliate is not None:
        _EventFold(conn, folder, sign=-1).fold(rows, from_affiliate, whole_history=True)
    if to_affiliate is not None:
        _EventFold(conn, folder).fold(rows, to_affiliate, whole_history=True)
    return folder.write(conn)


def _player_traffic(conn: sa.Connection, player_ids: set[str]) -> dict[str, DimValues]:
    """Canonical player id → the dimension values of its traffic, in one read."""
    if not player_ids:
        return {}
    dialect = conn.dialect
    reader = _Reader(dialect)
    rows = driver_execute(conn, _PLAYER_SQL + _IN_IDS[dialect.name],
                          (_ids_param(dialect.name, sorted(player_ids)),)).fetchall()
    return {reader.id_text(row[0]): _dims(reader, row[1:]) for row in rows}


def _commission_deltas(entry: Mapping[str, Any]) -> Deltas:
    amount = (_AT["commission_minor"], int(entry["amount_minor"]))
    key = str(entry["entry_key"])
    if key.startswith("cpa:") and entry["kind"] == "commission":
        return (amount, (_AT["qualified_cpas"], 1))
    if key.startswith("rev:cpa:"):
        return (amount, (_AT["qualified_cpas"], -1))
    return (amount,)


def record_commission_rollups(conn: sa.Connection, rows: Sequence[Mapping[str, Any]],
                              inserted: int | None = None) -> int:
    """Fold just-posted ledger rows (dicts with id, entry_key, kind, affiliate_id, player_id,
    amount_minor, currency, created_at) into the rollups.

    Posting inserts with ``on conflict do nothing``; only rows whose ``id`` is
    now in the ledger (the ones this call inserted) are counted, so re-posting
    the same drafts adds nothing.  ``inserted`` is how many of ``rows`` that insert
    added when the driver counts exactly: all of them or none needs no look-up.
    Payout entries are not commission and are skipped.  Returns the rollup rows
    written, or within ``deferred_commission_rollups`` the entries folded.
    """
    wanted = [r for r in rows if r.get("kind") != "payout"]
    if not wanted or inserted == 0:
        return 0
    if inserted is not None and inserted == len(rows):
        fresh = wanted
    else:
        ids = [str(r["id"]) for r in wanted]
        found: set[str] = set()
        for chunk in _chunks(ids):
            found.update(str(i) for i in conn.execute(
                sa.select(t.ledger_entries.c.id).where(t.ledger_entries.c.id.in_(chunk)))
                .scalars())
        fresh = [r for r in wanted if str(r["id"]) in found]
    deferred: Folder | None = conn.info.get(_DEFERRED)
    if deferred is not None:
        deferred.commission.extend(fresh)  # folded when the folder is written
        return len(fresh)
    folder = Folder(conn.dialect.name)
    folder.commission.extend(fresh)
    return folder.write(conn)


def _fold_commission(conn: sa.Connection, folder: Folder,
                     entries: Sequence[Mapping[str, Any]]) -> None:
    """Fold ledger rows under their player's traffic (``folder.traffic_of``, else read)."""
    known = folder.traffic_of
    traffic = _player_traffic(conn, {str(r["player_id"]) for r in entries
                                     if r.get("player_id") and str(r["player_id"]) not in known})
    traffic.update(known)
    for entry in entries:
        player = entry.get("player_id")
        folder.add_traffic(folder.affiliate(str(entry["affiliate_id"])), entry["created_at"],
                           traffic.get(str(player)) if player else None,
                           str(entry["currency"]), _commission_deltas(entry))


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start:start + IN_CHUNK]


# --- folding closed hours of click_rollups_hourly ------------------------------

CLICK_WATERMARK = "clicks"
FOLD_GRACE = timedelta(minutes=5)  # a click batch straddling the hour has landed by then
MAX_FOLD_DAYS = 400
FOLD_HOURS_PER_CALL = 6  # bounded work per report request; a backlog folds over several
HOUR = timedelta(hours=1)


def folded_through(conn: sa.Connection) -> datetime | None:
    """The start of the last hour whose clicks are in ``report_rollups_daily``."""
    w = t.report_watermarks.c
    value = conn.execute(sa.select(w.through_hour).where(w.name == CLICK_WATERMARK)).scalar()
    return utc(value) if value is not None else None


def fold_closed_click_hours(conn: sa.Connection, now: datetime,
                            max_hours: int = FOLD_HOURS_PER_CALL) -> int:
    """Fold the next closed hours (at most ``max_hours``) of ``click_rollups_hourly`` into
    the daily rollup (dimensions all, hour, brand, offer, link, sub1, country); returns the
    hours folded.

    Closed = ended at least ``FOLD_GRACE`` ago; the click writer stamps clicks with the
    time they arrive, so a closed hour's rows never change again.  The watermark moves
    by a compare-and-set in the same transaction, so two callers never fold an hour
    twice.  Reports read folded hours from the daily rows and the rest (the current
    hour or two) from the hourly ones.  One read of the hours' rows, one upsert.
    """
    last_closed = (now - FOLD_GRACE).replace(minute=0, second=0, microsecond=0) - HOUR
    through = folded_through(conn)
    if through is not None and through >= last_closed:
        return 0
    if through is None:
        first = conn.execute(sa.select(sa.func.min(t.click_rollups_hourly.c.hour))).scalar()
        start = utc(first) if first is not None else last_closed + HOUR
        start = max(start, last_closed - timedelta(days=MAX_FOLD_DAYS))
    else:
        start = through + HOUR
    last = min(last_closed, start + HOUR * (max(1, max_hours) - 1))
    if last < start:
        last = start - HOUR  # nothing stored yet: only set the watermark
    if not _advance_watermark(conn, through, last, now):
        return 0
    if last >= start:
        _fold_click_hours(conn, start, last)
    return int((last - start) / HOUR) + 1 if last >= start else 0


def _advance_watermark(conn: sa.Connection, old: datetime | None, new: datetime,
                       now: datetime) -> bool:
    w = t.report_watermarks
    if old is None:
        insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        statement = insert(w).values(name=CLICK_WATERMARK, through_hour=new, updated_at=now)
        result = conn.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
    else:
        result = conn.execute(w.update().where(w.c.name == CLICK_WATERMARK,
                                               w.c.through_hour == old)
                              .values(through_hour=new, updated_at=now))
    return bool(result.rowcount == 1)


_HOURLY_SQL = {  # fixed names; the two hours go in as parameters
    "sqlite": "SELECT h.hour, h.affiliate_id, h.link_id, h.offer_id, h.sub1, h.country,"
              " h.clicks, h.unique_clicks, o.brand_id FROM click_rollups_hourly h"
              " LEFT OUTER JOIN offers o ON o.id = h.offer_id WHERE h.hour >= ? AND h.hour <= ?",
    "postgresql": "SELECT h.hour, h.affiliate_id, h.link_id, h.offer_id, h.sub1, h.country,"
                  " h.clicks, h.unique_clicks, o.brand_id FROM click_rollups_hourly h"
                  " LEFT OUTER JOIN offers o ON o.id = h.offer_id"
                  " WHERE h.hour >= %s AND h.hour <= %s",
}


def _fold_click_hours(conn: sa.Connection, first: datetime, last: datetime) -> None:
    """Fold the hourly click rows of [first, last] (hour starts) into the daily rows: one
    read with plain driver values, folded in memory, one multi-row upsert."""
    name = conn.dialect.name
    folder = Folder(name)
    reader = _Reader(conn.dialect)
    if name == "sqlite":
        bounds: tuple[Any, ...] = (_sqlite_text(first), _sqlite_text(last))
    else:
        bounds = (first, last)
    add, add_traffic, id_text = folder.add, folder.add_traffic, reader.id_text
    for hour, affiliate, link, offer, sub1, country, clicks, uniques, brand in (
            conn.exec_driver_sql(_HOURLY_SQL[name], bounds)):
        deltas = ((_AT["clicks"], int(clicks)), (_AT["unique_clicks"], int(uniques)))
        stored = folder.affiliate(affiliate)
        day = folder.moment(hour)[0]
        add_traffic(stored, hour, None, "", deltas)  # all and hour
        for dim, value in (("brand", id_text(brand)), ("offer", id_text(offer)),
                           ("link", id_text(link)), ("sub1", sub1 or ""),
                           ("country", country or "")):
            add(stored, dim, day, value, "", deltas)
    folder.write(conn)


def _sqlite_text(moment: datetime) -> str:
    """A UTC time as SQLite stores it."""
    return utc(moment).replace(tzinfo=None).isoformat(" ", "microseconds")


def unfolded_from(conn: sa.Connection, start: datetime) -> datetime:
    """Where hourly click rows must still be read: after the folded hours, from ``start``."""
    through = folded_through(conn)
    if through is None:
        return start
    return max(start, through + HOUR)


# --- reads ------------------------------------------------------------------


def _affiliate_filter(column: Any, affiliate_ids: frozenset[str] | None) -> list[Any]:
    if affiliate_ids is None:
        return []
    return [column.in_(sorted(affiliate_ids))]


def rollup_sums(conn: sa.Connection, affiliate_ids: frozenset[str] | None, dim: str,
                start_day: date, end_day: date, *, by_day: bool = False) -> list[dict[str, Any]]:
    """Summed metrics of ``dim`` rows in [start_day, end_day], per value and currency
    (and per day when ``by_day``).

    Every affiliate (``None``, staff): ``report_rollups_staff``, a range of its primary
    key (dim, day); some affiliates: ``report_rollups_daily``, a range of its primary key
    (affiliate, dim, day) per affiliate.
    """
    table = t.report_rollups_staff if affiliate_ids is None else t.report_rollups_daily
    r = table.c
    keys: list[Any] = [r.value, r.currency] + ([r.day] if by_day else [])
    query = sa.select(*keys, *[sa.func.sum(r[name]).label(name) for name in METRICS]).where(
        r.dim == dim, r.day >= start_day, r.day <= end_day,
        *([] if affiliate_ids is None else [r.affiliate_id.in_(sorted(affiliate_ids))]),
    ).group_by(*keys)
    return [dict(row._mapping) for row in conn.execute(query)]


_CLICK_GROUP = {"link": "link_id", "offer": "offer_id", "sub1": "sub1", "country": "country"}


def click_sums(conn: sa.Connection, affiliate_ids: frozenset[str] | None, by: str,
               start: datetime, end: datetime) -> list[tuple[Any, int, int]]:
    """(group value, clicks, unique clicks) from ``click_rollups_hourly`` in [start, end).

    ``by``: ``all`` (one row), ``hour`` (the hour's start), ``brand``, ``offer``,
    ``link``, ``sub1`` or ``country``.
    """
    h = t.click_rollups_hourly.c
    where = [h.hour >= start, h.hour < end, *_affiliate_filter(h.affiliate_id, affiliate_ids)]
    sums = [sa.func.sum(h.clicks), sa.func.sum(h.unique_clicks)]
    source: Any = t.click_rollups_hourly
    if by == "all":
        group: Any = sa.literal("")
    elif by == "hour":
        group = h.hour
    elif by == "brand":
        source = source.join(t.offers, t.offers.c.id == h.offer_id)
        group = t.offers.c.brand_id
    else:
        group = h[_CLICK_GROUP[by]]
    query = sa.select(group.label("value"), *sums).select_from(source).where(*where)
    if by != "all":
        query = query.group_by(group)
    return [(row[0], int(row[1] or 0), int(row[2] or 0)) for row in conn.execute(query)]


def day_bounds(start_day: date, end_day: date) -> tuple[datetime, datetime]:
    """[start of start_day, start of the day after end_day) in UTC."""
    from datetime import UTC  # noqa: PLC0415 - local: keeps the module's imports short

    start = datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC)
    end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC) + timedelta(days=1)
    return start, end


def names(conn: sa.Connection, dim: str, values: Iterable[str]) -> dict[str, str]:
    """Display names of brand, offer and link ids (links by their code)."""
    table, column = {"brand": (t.brands, "name"), "offer": (t.offers, "name"),
                     "link": (t.tracking_links, "code")}.get(dim, (None, ""))
    wanted = sorted({v for v in values if v})
    if table is None or not wanted:
        return {}
    found: dict[str, str] = {}
    for chunk in _chunks(wanted):
        query = sa.select(table.c.id, table.c[column]).where(table.c.id.in_(chunk))
        found.update({str(row[0]): str(row[1]) for row in conn.execute(query)})
    return found
