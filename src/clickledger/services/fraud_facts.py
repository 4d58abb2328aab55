"""Fraud feature gathering: batch-loads what the rules need for the players of a batch.

Every query takes an ``IN`` list over the batch and is cached for the call; the
counter windows of every registration (flooding) and FTD (conversion rate) of
the batch are summed in one statement (``WindowCache``), so one batch costs a
fixed handful of queries whatever its size.

Operator fields the rules read from an event's ``raw`` parameters (any one of
each group; values are compared as sent, so operators send hashes):
``ip | player_ip | registration_ip | user_ip``, ``device_id | device_fingerprint
| fingerprint``, ``payment_hash | payment_instrument_hash | card_hash``, and on
trades ``side | direction | trade_side`` (buy/sell, long/short, b/s).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.fraud.bonus_abuse import BonusFacts
from clickledger.domain.fraud.bots import BrowserFacts
from clickledger.domain.fraud.conversion_rate import RateFacts
from clickledger.domain.fraud.flooding import FloodFacts
from clickledger.domain.fraud.forex import Trade
from clickledger.store import fraud as repo
from clickledger.store import tables as t
from clickledger.store.batch_reads import BatchRead, codec

IP_KEYS = ("ip", "player_ip", "registration_ip", "user_ip")
DEVICE_KEYS = ("device_id", "device_fingerprint", "fingerprint")
PAYMENT_KEYS = ("payment_hash", "payment_instrument_hash", "card_hash")
SIDE_KEYS = ("side", "direction", "trade_side")
SIDE_WORDS = {"buy": "buy", "b": "buy", "long": "buy", "0": "buy",
              "sell": "sell", "s": "sell", "short": "sell", "1": "sell"}
ASSESSED_KINDS = ("registration", "ftd", "deposit", "withdrawal", "trade")
MAX_TRADES = 500  # most recent trades a churn check looks at
TRADE_LOOKBACK = timedelta(hours=1)
MAX_HISTORY_EVENTS = 2000  # events per player read for bonus abuse
BASELINE_DAYS = 7
RATE_WINDOW_DAYS = 7
RATE_HISTORY_DAYS = 30
IDENTITY_MAX_CHARS = 128


def minute(moment: datetime) -> datetime:
    return utc(moment).replace(second=0, microsecond=0)


def hour(moment: datetime) -> datetime:
    return utc(moment).replace(minute=0, second=0, microsecond=0)


def day(moment: datetime) -> datetime:
    return utc(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def raw_value(raw: Mapping[str, Any] | None, keys: Sequence[str]) -> str | None:
    """The first non-empty value among ``keys`` of an event's raw parameters (case-blind)."""
    if not raw:
        return None
    return _first(_lowered(raw), keys)


IDENTITY_KEYS = (("ip", IP_KEYS), ("device", DEVICE_KEYS), ("payment", PAYMENT_KEYS))


def identity_values(raw: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(kind, value) of each identity an event's raw parameters carry (``IDENTITY_KEYS``)."""
    if not raw:
        return []
    lowered = _lowered(raw)
    found = [(kind, _first(lowered, keys)) for kind, keys in IDENTITY_KEYS]
    return [(kind, value) for kind, value in found if value]


def _lowered(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).strip().lower(): v for k, v in raw.items()}


def _first(lowered: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = lowered.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()[:IDENTITY_MAX_CHARS]
    return None


@dataclass
class EventRow:
    """One event of the batch with its player's binding."""

    id: str
    kind: str
    occurred_at: datetime
    brand_id: str
    player_id: str
    affiliate_id: str
    click_id: str | None
    registered_at: datetime | None
    player_country: str | None
    ftd_event_id: str | None
    ftd_at: datetime | None
    country: str | None
    raw: Mapping[str, Any] | None

    @property
    def is_ftd(self) -> bool:
        return self.kind == "ftd" or self.id == self.ftd_event_id


@dataclass
class ClickRow:
    id: str
    created_at: datetime
    link_id: str
    affiliate_id: str
    sub1: str | None
    ip: str | None
    user_agent: str | None
    accept_language: str | None
    country: str | None
    device: str | None
    os: str | None
    browser: str | None
    is_bot: bool | None
    extra: Mapping[str, Any] | None

    def browser_facts(self) -> BrowserFacts:
        extra = {str(k).lower(): str(v) for k, v in (self.extra or {}).items()}
        mobile = extra.get("sec_ch_ua_mobile") or extra.get("sec-ch-ua-mobile")
        return BrowserFacts(
            user_agent=self.user_agent, ua_family=self.browser, os_family=self.os,
            device_family=self.device, accept_language=self.accept_language,
            flagged_bot=self.is_bot,
            hint_mobile=None if mobile is None else mobile.strip() == "?1",
            hint_platform=extra.get("sec_ch_ua_platform") or extra.get("sec-ch-ua-platform"),
        )


_KINDS_SQL = ", ".join(f"'{kind}'" for kind in ASSESSED_KINDS)
_EVENTS = BatchRead(
    "SELECT e.id, e.kind, e.occurred_at, e.brand_id, e.country, e.raw, p.id, p.affiliate_id,"  # noqa: S608 - constants
    " p.click_id, p.registered_at, p.country, p.ftd_event_id, p.ftd_at"
    " FROM player_events e JOIN players p ON p.id = e.player_id"
    f" WHERE p.affiliate_id IS NOT NULL AND e.kind IN ({_KINDS_SQL})"
    " AND e.id {ids}")


def load_events(conn: sa.Connection, event_ids: Sequence[str]) -> list[EventRow]:
    """The batch's events of assessed kinds whose player is bound to an affiliate (one
    statement below the Core compiler: ``store.batch_reads``)."""
    c = codec(conn)
    text, maybe, moment = c.id_text, c.id_or_none, c.moment
    found: list[EventRow] = []
    for (event_id, kind, occurred_at, brand_id, country, raw, player_id, affiliate_id,
         click_id, registered_at, player_country, ftd_event_id, ftd_at) in _EVENTS.rows(
            conn, c.id_list(dict.fromkeys(event_ids))):
        raw = c.json(raw)
        found.append(EventRow(
            id=text(event_id), kind=kind, occurred_at=moment(occurred_at),
            brand_id=text(brand_id), player_id=text(player_id), affiliate_id=text(affiliate_id),
            click_id=maybe(click_id),
            registered_at=moment(registered_at) if registered_at is not None else None,
            player_country=player_country, ftd_event_id=maybe(ftd_event_id),
            ftd_at=moment(ftd_at) if ftd_at is not None else None, country=country,
            raw=raw if isinstance(raw, Mapping) else None))
    found.sort(key=lambda ev: (ev.occurred_at, ev.id))
    return found


def _chunks(values: Sequence[str], size: int = 400) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start:start + size])


_CLICKS = BatchRead(
    "SELECT id, created_at, link_id, affiliate_id, sub1, ip, user_agent, accept_language,"
    " country, device, os, browser, is_bot, extra FROM clicks WHERE id {ids}")


def load_clicks(conn: sa.Connection, click_ids: Iterable[str]) -> dict[str, ClickRow]:
    c = codec(conn)
    found: dict[str, ClickRow] = {}
    for (click_id, created_at, link_id, affiliate_id, sub1, ip, user_agent, language, country,
         device, os, browser, is_bot, extra) in _CLICKS.rows(conn, c.id_list(set(click_ids))):
        extra = c.json(extra)
        row = ClickRow(c.id_text(click_id), c.moment(created_at), c.id_text(link_id),
                       c.id_text(affiliate_id), sub1, ip, user_agent, language, country, device,
                       os, browser, None if is_bot is None else bool(is_bot),
                       extra if isinstance(extra, Mapping) else None)
        found[row.id] = row
    return found


def load_login_ips(conn: sa.Connection, affiliate_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    a = t.affiliates
    found: dict[str, tuple[str, ...]] = {}
    for chunk in _chunks(sorted(set(affiliate_ids))):
        for row in conn.execute(sa.select(a.c.id, a.c.login_ips).where(a.c.id.in_(chunk))):
            ips = row.login_ips if isinstance(row.login_ips, list) else []
            found[str(row.id)] = tuple(str(ip) for ip in ips if ip)
    return found


Window = repo.Window  # dimension, key, start, split, end, dimension of the first-seen bucket
Totals = repo.Totals  # clicks before split, clicks from split, first-seen bucket


@dataclass
class WindowCache:
    """Counter windows of one call, read together.

    The rules of a batch name their windows first (``prefetch``); every window
    not yet known is then summed by the database in one statement per chunk
    (``store.fraud.window_sums``: one range scan per window over the counters'
    primary key, one row back).  Short windows read minute buckets (about ten
    rows each), baselines and histories day buckets (seven to thirty-seven).
    A window asked for without a prefetch costs one more statement.
    """

    conn: sa.Connection
    totals: dict[Window, Totals] = field(default_factory=dict)
    statements: int = 0

    def prefetch(self, windows: Iterable[Window]) -> None:
        missing = {window for window in windows if window not in self.totals}
        if missing:
            self.totals.update(repo.window_sums(self.conn, missing))
            self.statements += 1

    def total(self, window: Window) -> Totals:
        """(before split, from split, first-seen bucket) of ``window``."""
        if window not in self.totals:
            self.prefetch([window])
        return self.totals[window]


def sub_key(link_id: str, sub1: str | None) -> str:
    return f"{link_id}|{sub1 or ''}"[:300]


@dataclass(frozen=True, slots=True)
class FloodWindows:
    """The windows of the click-flooding rule for one click: counts around the click
    (minute buckets) and the link's and sub-id's baselines over the completed days before
    it (day buckets, with the first hour seen, so a new link's baseline spans its life)."""

    ip: Window | None
    link: Window
    sub: Window
    link_baseline: Window
    sub_baseline: Window

    def all(self) -> list[Window]:
        found = [self.link, self.sub, self.link_baseline, self.sub_baseline]
        return found + ([self.ip] if self.ip is not None else [])


def flood_windows(click: ClickRow, window_minutes: int) -> FloodWindows:
    at = minute(click.created_at)
    half = timedelta(minutes=window_minutes // 2)
    start, end = at - half, at + half + timedelta(minutes=1)
    base_end = day(click.created_at)  # completed days only
    base_start = base_end - timedelta(days=BASELINE_DAYS)
    sub = sub_key(click.link_id, click.sub1)
    return FloodWindows(
        ip=("ip", click.ip, start, end, end, "") if click.ip else None,
        link=("link", click.link_id, start, end, end, ""),
        sub=("sub", sub, start, end, end, ""),
        link_baseline=("link_d", click.link_id, base_start, base_end, base_end, "link_h"),
        sub_baseline=("sub_d", sub, base_start, base_end, base_end, "sub_h"),
    )


def flood_facts(cache: WindowCache, click: ClickRow, window_minutes: int) -> FloodFacts:
    """Counts in the window centred on the click, and the link's and sub-id's baselines."""
    windows = flood_windows(click, window_minutes)
    end = windows.link_baseline[4]
    return FloodFacts(
        ip_clicks=cache.total(windows.ip)[0] if windows.ip is not None else 0,
        link_clicks=cache.total(windows.link)[0],
        sub_clicks=cache.total(windows.sub)[0],
        link_baseline_milli=_baseline_milli(cache.total(windows.link_baseline), end,
                                            window_minutes),
        sub_baseline_milli=_baseline_milli(cache.total(windows.sub_baseline), end,
                                           window_minutes),
    )


def _baseline_milli(totals: Totals, end: datetime, window_minutes: int) -> int:
    """Average clicks per window (×1000) since the key's first hour in the baseline range."""
    total, _after, first = totals
    if first is None:
        return 0
    span_minutes = max(int((end - utc(first)).total_seconds()) // 60, 60)
    return total * window_minutes * 1000 // span_minutes


def rate_windows(affiliate_id: str, at: datetime) -> list[Window]:
    """Clicks and FTDs of the affiliate and of the programme (day buckets): the history
    before the recent window, and the recent window through the end of the FTD's day."""
    end = day(at) + timedelta(days=1)
    recent = end - timedelta(days=RATE_WINDOW_DAYS)
    history = recent - timedelta(days=RATE_HISTORY_DAYS)
    return [(dimension, key, history, recent, end, "")
            for dimension, key in (("aff_d", affiliate_id), ("aff_ftd_d", affiliate_id),
                                   ("all_d", ""), ("all_ftd_d", ""))]


def rate_facts(cache: WindowCache, affiliate_id: str, at: datetime) -> RateFacts:
    """The affiliate's FTDs and clicks in the recent window, its history and the programme's."""
    clicks, ftds, peer, peer_ftds = (cache.total(w) for w in rate_windows(affiliate_id, at))
    return RateFacts(
        clicks=clicks[1], conversions=ftds[1], history_clicks=clicks[0],
        history_conversions=ftds[0], peer_clicks=peer[0] + peer[1],
        peer_conversions=peer_ftds[0] + peer_ftds[1],
    )


_TRADES = BatchRead(
    "SELECT player_id, occurred_at, instrument, lots_milli, raw FROM player_events"
    " WHERE kind = 'trade' AND occurred_at >= ? AND occurred_at <= ? AND player_id {ids}")


def load_trades(conn: sa.Connection, player_ids: Iterable[str], since: datetime,
                until: datetime) -> dict[str, list[Trade]]:
    """Trades from ``since`` through ``until`` (the batch's latest: a backlog's later trades
    are the next batches' business) with a known side, per player (``MAX_TRADES`` latest at
    most)."""
    c = codec(conn)
    found: dict[str, list[Trade]] = defaultdict(list)
    for player_id, occurred_at, instrument, lots_milli, raw in _TRADES.rows(
            conn, repo.time_param(conn, since), repo.time_param(conn, until),
            c.id_list(set(player_ids))):
        raw = c.json(raw)
        side = SIDE_WORDS.get((raw_value(raw if isinstance(raw, Mapping) else None,
                                         SIDE_KEYS) or "").lower())
        if side is None or not lots_milli:
            continue
        found[c.id_text(player_id)].append(Trade(
            int(c.moment(occurred_at).timestamp()), (instrument or "").upper(), side,
            int(lots_milli)))
    for player_id, trades in found.items():
        trades.sort(key=lambda trade: trade.at_seconds)
        found[player_id] = trades[-MAX_TRADES:]
    return found


def bonus_facts(conn: sa.Connection, player_ids: Iterable[str]) -> dict[str, BonusFacts]:
    """Deposits, wagering, bonus and withdrawals from the first deposit to the latest
    withdrawal, in the first deposit's currency, for players who have withdrawn."""
    e = t.player_events
    history: dict[str, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(set(player_ids))):
        query = sa.select(e.c.player_id, e.c.kind, e.c.occurred_at, e.c.amount_minor,
                          e.c.currency, e.c.bets_minor, e.c.bonus_minor).where(
            e.c.player_id.in_(chunk),
            e.c.kind.in_(("ftd", "deposit", "activity", "withdrawal")))
        for row in conn.execute(query):
            if len(history[str(row.player_id)]) < MAX_HISTORY_EVENTS:
                history[str(row.player_id)].append(row)
    found: dict[str, BonusFacts] = {}
    for player_id, rows in history.items():
        facts = _bonus_of(sorted(rows, key=lambda r: utc(r.occurred_at)))
        if facts is not None:
            found[player_id] = facts
    return found


def _bonus_of(rows: list[Any]) -> BonusFacts | None:
    deposits = [r for r in rows if r.kind in ("ftd", "deposit") and r.amount_minor]
    withdrawals = [r for r in rows if r.kind == "withdrawal" and r.amount_minor]
    if not deposits or not withdrawals:
        return None
    currency = deposits[0].currency
    first_at = utc(deposits[0].occurred_at)
    last_out = utc(withdrawals[-1].occurred_at)
    within = [r for r in rows if _between(r, first_at, last_out)]
    same = [r for r in within if r.currency in (currency, None)]
    return BonusFacts(
        deposited_minor=sum(r.amount_minor or 0 for r in same if r.kind in ("ftd", "deposit")),
        wagered_minor=sum(r.bets_minor or 0 for r in same if r.kind == "activity"),
        withdrawn_minor=sum(r.amount_minor or 0 for r in same if r.kind == "withdrawal"),
        bonus_minor=sum(r.bonus_minor or 0 for r in same if r.kind == "activity"),
        hours_deposit_to_withdrawal=int((last_out - first_at).total_seconds()) // 3600,
    )


def _between(row: Any, start: datetime, end: datetime) -> bool:
    """Activity rows are daily: they count from the first deposit's day to the withdrawal's."""
    at = utc(row.occurred_at)
    if row.kind == "activity":
        return start.date() <= at.date() <= end.date()
    return start <= at <= end
