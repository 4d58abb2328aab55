"""Report rollups: maintained in the writers' transactions, read by every report.

``report_rollups_daily`` holds one row per (affiliate, dimension, UTC day,
dimension value, currency) with counts and integer minor-unit sums.  Every
event, ledger entry and click is folded into one row per dimension (``all``,
``hour`` of day, ``brand``, ``offer``, ``link``, ``sub1``..``sub5``,
``country``, ``device``), so a breakdown by any of them is a range read of one
affiliate's rows for one dimension.  Clicks themselves are read from the
tracking writer's ``click_rollups_hourly`` (hour, affiliate, link, offer, sub1,
country); only the dimensions that table lacks (sub2..sub5, device) are
counted here, through ``record_click_dimensions``.

Traffic attributes of an event or commission (link, offer, sub-ids, country,
device) are those of the click the player was attributed through; a player
attributed by promo code has no click, so those dimensions read ``''`` and
the country falls back to the player's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clickledger.clock import utc
from clickledger.store import tables as t

DIMENSIONS = ("all", "hour", "brand", "offer", "link", "sub1", "sub2", "sub3", "sub4", "sub5",
              "country", "device")
CLICK_ROLLUP_DIMENSIONS = frozenset({"hour", "brand", "offer", "link", "sub1", "country", "all"})
METRICS = ("clicks", "unique_clicks", "registrations", "ftds", "qualified_cpas",
           "ftd_amount_minor", "deposits_minor", "bets_minor", "wins_minor", "bonus_minor",
           "chargebacks_minor", "lots_milli", "commission_minor")
SUB_DIMENSIONS = ("sub1", "sub2", "sub3", "sub4", "sub5")
IN_CHUNK = 500
UPSERT_CHUNK_ROWS = 500
DEPOSIT_KINDS = frozenset({"ftd", "deposit"})

Key = tuple[str, str, date, str, str]  # affiliate, dim, day, value, currency


@dataclass(frozen=True, slots=True)
class Traffic:
    """Where a player came from: the dimension values its events and commissions carry."""

    brand_id: str
    offer_id: str
    link_id: str
    subs: tuple[str, str, str, str, str]
    country: str
    device: str


@dataclass(frozen=True, slots=True)
class ClickDims:
    """What ``record_click_dimensions`` needs of one stored click."""

    created_at: datetime
    affiliate_id: str
    subs: tuple[str | None, str | None, str | None, str | None, str | None]
    device: str | None
    is_unique: bool


class Folder:
    """Adds metric deltas to rollup keys in memory; ``write`` upserts them in one go."""

    def __init__(self) -> None:
        self.rows: dict[Key, dict[str, int]] = {}

    def add(self, affiliate_id: str, dim: str, day: date, value: str, currency: str,
            deltas: Mapping[str, int]) -> None:
        key = (affiliate_id, dim, day, value[:255], currency)
        slot = self.rows.get(key)
        if slot is None:
            self.rows[key] = dict(deltas)
            return
        for name, delta in deltas.items():
            slot[name] = slot.get(name, 0) + delta

    def add_traffic(self, affiliate_id: str, at: datetime, traffic: Traffic | None,
                    currency: str, deltas: Mapping[str, int]) -> None:
        """Fold ``deltas`` into every dimension of ``traffic`` (only ``all``/``hour`` if None)."""
        moment = utc(at)
        day = moment.date()
        self.add(affiliate_id, "all", day, "", currency, deltas)
        self.add(affiliate_id, "hour", day, f"{moment.hour:02d}", currency, deltas)
        if traffic is None:
            return
        add = self.add
        add(affiliate_id, "brand", day, traffic.brand_id, currency, deltas)
        add(affiliate_id, "offer", day, traffic.offer_id, currency, deltas)
        add(affiliate_id, "link", day, traffic.link_id, currency, deltas)
        add(affiliate_id, "country", day, traffic.country, currency, deltas)
        add(affiliate_id, "device", day, traffic.device, currency, deltas)
        for dim, sub in zip(SUB_DIMENSIONS, traffic.subs, strict=True):
            add(affiliate_id, dim, day, sub, currency, deltas)

    def write(self, conn: sa.Connection) -> int:
        """Upsert every folded row (adding to existing counts); returns the rows written."""
        if not self.rows:
            return 0
        statement = _UPSERTS.get(conn.dialect.name)
        if statement is None:
            statement = _UPSERTS[conn.dialect.name] = _upsert(conn.dialect.name)
        rows = [
            {"affiliate_id": key[0], "dim": key[1], "day": key[2], "value": key[3],
             "currency": key[4], **{name: deltas.get(name, 0) for name in METRICS}}
            for key, deltas in sorted(self.rows.items())  # one lock order: no deadlocks on PG
        ]
        for start in range(0, len(rows), UPSERT_CHUNK_ROWS):
            conn.execute(statement, rows[start:start + UPSERT_CHUNK_ROWS])
        written = len(rows)
        self.rows = {}
        return written


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect_name: str) -> Any:
    """The rollup upsert for a dialect, built once (building it costs more than running it)."""
    table = t.report_rollups_daily
    insert: Any = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=["affiliate_id", "dim", "day", "value", "currency"],
        set_={name: table.c[name] + statement.excluded[name] for name in METRICS},
    )


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start:start + IN_CHUNK]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _traffic(row: Any) -> Traffic:
    return Traffic(
        brand_id=_text(row.brand_id), offer_id=_text(row.offer_id), link_id=_text(row.link_id),
        subs=(_text(row.sub1), _text(row.sub2), _text(row.sub3), _text(row.sub4),
              _text(row.sub5)),
        country=_text(row.click_country or row.player_country), device=_text(row.device),
    )


def _traffic_columns() -> list[Any]:
    p, c = t.players.c, t.clicks.c
    return [p.brand_id, c.offer_id, c.link_id, c.sub1, c.sub2, c.sub3, c.sub4, c.sub5,
            c.country.label("click_country"), p.country.label("player_country"), c.device]


def _event_deltas(row: Any) -> dict[str, int]:
    amount = row.amount_minor or 0
    deltas: dict[str, int] = {}
    if row.kind == "registration":
        deltas["registrations"] = 1
    if row.kind in DEPOSIT_KINDS:
        deltas["deposits_minor"] = amount
        if row.ftd_event_id is not None and str(row.ftd_event_id) == str(row.id):
            deltas["ftds"] = 1
            deltas["ftd_amount_minor"] = amount
    if row.kind == "chargeback":
        deltas["chargebacks_minor"] = amount
    for name in ("bets_minor", "wins_minor", "bonus_minor"):
        if getattr(row, name):
            deltas[name] = getattr(row, name)
    if row.kind == "activity" and row.chargebacks_minor:
        deltas["chargebacks_minor"] = deltas.get("chargebacks_minor", 0) + row.chargebacks_minor
    if row.lots_milli:
        deltas["lots_milli"] = row.lots_milli
    return deltas


_e, _p, _c = t.player_events.c, t.players.c, t.clicks.c
_EVENT_FACTS = sa.select(
    _e.id, _e.kind, _e.occurred_at, _e.amount_minor, _e.currency, _e.lots_milli, _e.bets_minor,
    _e.wins_minor, _e.bonus_minor, _e.chargebacks_minor, _p.affiliate_id, _p.ftd_event_id,
    *_traffic_columns(),
).select_from(
    t.player_events.join(t.players, _p.id == _e.player_id)
    .outerjoin(t.clicks, _c.id == _p.click_id)
).where(_e.id.in_(sa.bindparam("ids", expanding=True)), _p.affiliate_id.is_not(None))


def record_event_rollups(conn: sa.Connection, event_ids: Sequence[str]) -> int:
    """Fold stored events of attributed players into the rollups (same transaction as them).

    Call it once per event after the player is attributed: ingestion passes the
    batch's new events and the earlier events of players registered in it (those
    were skipped while the player had no affiliate).  Returns rows upserted.
    """
    folder = Folder()
    for chunk in _chunks(list(event_ids)):
        for row in conn.execute(_EVENT_FACTS, {"ids": chunk}):
            deltas = _event_deltas(row)
            if deltas:
                folder.add_traffic(str(row.affiliate_id), row.occurred_at, _traffic(row),
                                   row.currency or "", deltas)
    return folder.write(conn)


def _player_traffic(conn: sa.Connection, player_ids: set[str]) -> dict[str, Traffic]:
    p, c = t.players.c, t.clicks.c
    found: dict[str, Traffic] = {}
    joined = t.players.outerjoin(t.clicks, c.id == p.click_id)
    for chunk in _chunks(sorted(player_ids)):
        query = sa.select(p.id, *_traffic_columns()).select_from(joined).where(p.id.in_(chunk))
        for row in conn.execute(query):
            found[str(row.id)] = _traffic(row)
    return found


def _commission_deltas(entry: Mapping[str, Any]) -> dict[str, int]:
    deltas = {"commission_minor": int(entry["amount_minor"])}
    key = str(entry["entry_key"])
    if key.startswith("cpa:") and entry["kind"] == "commission":
        deltas["qualified_cpas"] = 1
    elif key.startswith("rev:cpa:"):
        deltas["qualified_cpas"] = -1
    return deltas


def record_commission_rollups(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Fold just-posted ledger rows (dicts with id, entry_key, kind, affiliate_id, player_id,
    amount_minor, currency, created_at) into the rollups.

    Posting inserts with ``on conflict do nothing``; only rows whose ``id`` is
    now in the ledger (the ones this call inserted) are counted, so re-posting
    the same drafts adds nothing.  Payout entries are not commission and are skipped.
    """
    wanted = [r for r in rows if r.get("kind") != "payout"]
    if not wanted:
        return 0
    ids = [str(r["id"]) for r in wanted]
    inserted: set[str] = set()
    for chunk in _chunks(ids):
        inserted.update(str(i) for i in conn.execute(
            sa.select(t.ledger_entries.c.id).where(t.ledger_entries.c.id.in_(chunk))).scalars())
    fresh = [r for r in wanted if str(r["id"]) in inserted]
    traffic = _player_traffic(conn, {str(r["player_id"]) for r in fresh if r.get("player_id")})
    folder = Folder()
    for entry in fresh:
        player = traffic.get(str(entry["player_id"])) if entry.get("player_id") else None
        folder.add_traffic(str(entry["affiliate_id"]), entry["created_at"], player,
                           str(entry["currency"]), _commission_deltas(entry))
    return folder.write(conn)


def record_click_dimensions(conn: sa.Connection, stored: Sequence[ClickDims]) -> int:
    """Count clicks by sub2..sub5 and device (what ``click_rollups_hourly`` lacks).

    Meant for the click writer's batch transaction, right after its own rollup upsert.
    """
    folder = Folder()
    for click in stored:
        deltas = {"clicks": 1, "unique_clicks": int(click.is_unique)}
        day = utc(click.created_at).date()
        for index, sub in enumerate(click.subs[1:], start=2):
            folder.add(click.affiliate_id, f"sub{index}", day, sub or "", "", deltas)
        folder.add(click.affiliate_id, "device", day, click.device or "", "", deltas)
    return folder.write(conn)


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


def fold_closed_click_hours(conn: sa.Connection, now: datetime) -> int:
    """Fold the next closed hours (at most ``FOLD_HOURS_PER_CALL``) of
    ``click_rollups_hourly`` into the daily rollup (dimensions all, hour, brand, offer,
    link, sub1, country); returns the hours folded.

    Closed = ended at least ``FOLD_GRACE`` ago; the click writer stamps clicks with the
    time they arrive, so a closed hour's rows never change again.  The watermark moves
    by a compare-and-set in the same transaction, so two callers never fold an hour
    twice.  Reports read folded hours from the daily rows and the rest (the current
    hour or two) from the hourly ones.
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
    last = min(last_closed, start + HOUR * (FOLD_HOURS_PER_CALL - 1))
    if last < start:
        last = start - HOUR  # nothing stored yet: only set the watermark
    if not _advance_watermark(conn, through, last, now):
        return 0
    brands = {str(k): str(v) for k, v in
              conn.execute(sa.select(t.offers.c.id, t.offers.c.brand_id)).all()}
    hours = 0
    moment = start
    while moment <= last:
        _fold_click_hour(conn, moment, brands)
        moment += HOUR
        hours += 1
    return hours


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


def _fold_click_hour(conn: sa.Connection, hour: datetime, brand_of: dict[str, str]) -> None:
    h = t.click_rollups_hourly.c
    query = sa.select(h.affiliate_id, h.link_id, h.offer_id, h.sub1, h.country,
                      h.clicks, h.unique_clicks).where(h.hour == hour)
    day, label = hour.date(), f"{hour.hour:02d}"
    folder = Folder()
    for row in conn.execute(query):
        deltas = {"clicks": int(row.clicks), "unique_clicks": int(row.unique_clicks)}
        affiliate = str(row.affiliate_id)
        offer = str(row.offer_id)
        for dim, value in (("all", ""), ("hour", label), ("brand", brand_of.get(offer, "")),
                           ("offer", offer), ("link", str(row.link_id)),
                           ("sub1", row.sub1 or ""), ("country", row.country or "")):
            folder.add(affiliate, dim, day, value, "", deltas)
    folder.write(conn)


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
    (and per day when ``by_day``)."""
    r = t.report_rollups_daily.c
    keys: list[Any] = [r.value, r.currency] + ([r.day] if by_day else [])
    query = sa.select(*keys, *[sa.func.sum(r[name]).label(name) for name in METRICS]).where(
        r.dim == dim, r.day >= start_day, r.day <= end_day,
        *_affiliate_filter(r.affiliate_id, affiliate_ids),
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
