"""Fraud feature gathering: batch-loads what the rules need for the players of a batch.

Every query takes an ``IN`` list over the batch (or a key range over the
counters) and is cached for the call, so one batch costs a fixed handful of
queries plus a few per registration (flood windows) and per affiliate with
an FTD (conversion-rate windows), whatever the batch size.

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
    lowered = {str(k).strip().lower(): v for k, v in raw.items()}
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


def load_events(conn: sa.Connection, event_ids: Sequence[str]) -> list[EventRow]:
    """The batch's events of assessed kinds whose player is bound to an affiliate."""
    e, p = t.player_events, t.players
    columns = (e.c.id, e.c.kind, e.c.occurred_at, e.c.brand_id, e.c.country, e.c.raw,
               p.c.id.label("pid"), p.c.affiliate_id, p.c.click_id, p.c.registered_at,
               p.c.country.label("pcountry"), p.c.ftd_event_id, p.c.ftd_at)
    found: list[EventRow] = []
    for chunk in _chunks(list(dict.fromkeys(event_ids))):
        query = (sa.select(*columns).join(p, p.c.id == e.c.player_id)
                 .where(e.c.id.in_(chunk), p.c.affiliate_id.is_not(None),
                        e.c.kind.in_(ASSESSED_KINDS)))
        for row in conn.execute(query):
            found.append(EventRow(
                id=str(row.id), kind=row.kind, occurred_at=utc(row.occurred_at),
                brand_id=str(row.brand_id), player_id=str(row.pid),
                affiliate_id=str(row.affiliate_id),
                click_id=str(row.click_id) if row.click_id else None,
                registered_at=utc(row.registered_at) if row.registered_at else None,
                player_country=row.pcountry, ftd_event_id=str(row.ftd_event_id)
                if row.ftd_event_id else None,
                ftd_at=utc(row.ftd_at) if row.ftd_at else None, country=row.country,
                raw=row.raw if isinstance(row.raw, Mapping) else None))
    found.sort(key=lambda ev: (ev.occurred_at, ev.id))
    return found


def _chunks(values: Sequence[str], size: int = 400) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start:start + size])


def load_clicks(conn: sa.Connection, click_ids: Iterable[str]) -> dict[str, ClickRow]:
    c = t.clicks
    found: dict[str, ClickRow] = {}
    for chunk in _chunks(sorted(set(click_ids))):
        for row in conn.execute(sa.select(
            c.c.id, c.c.created_at, c.c.link_id, c.c.affiliate_id, c.c.sub1, c.c.ip,
            c.c.user_agent, c.c.accept_language, c.c.country, c.c.device, c.c.os, c.c.browser,
            c.c.is_bot, c.c.extra,
        ).where(c.c.id.in_(chunk))):
            found[str(row.id)] = ClickRow(
                str(row.id), utc(row.created_at), str(row.link_id), str(row.affiliate_id),
                row.sub1, row.ip, row.user_agent, row.accept_language, row.country, row.device,
                row.os, row.browser, row.is_bot,
                row.extra if isinstance(row.extra, Mapping) else None)
    return found


def load_login_ips(conn: sa.Connection, affiliate_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    a = t.affiliates
    found: dict[str, tuple[str, ...]] = {}
    for chunk in _chunks(sorted(set(affiliate_ids))):
        for row in conn.execute(sa.select(a.c.id, a.c.login_ips).where(a.c.id.in_(chunk))):
            ips = row.login_ips if isinstance(row.login_ips, list) else []
            found[str(row.id)] = tuple(str(ip) for ip in ips if ip)
    return found


Window = tuple[str, str, datetime, datetime, datetime]  # dimension, key, start, split, end
MINUTE_DIMENSIONS = frozenset({"ip", "link", "sub"})
Totals = tuple[int, int, datetime | None]  # clicks before split, clicks from split, first bucket


@dataclass
class WindowCache:
    """Counter windows of one call, read with few queries.

    Minute dimensions (short windows around a click) are read as the exact
    minute buckets the call needs and summed here; hour dimensions (baselines
    over days, day-aligned so a batch has few distinct shapes) are summed by
    the database, one grouped query per dimension and shape.
    """

    conn: sa.Connection
    minutes: dict[tuple[str, str], dict[datetime, int]] = field(default_factory=dict)
    totals: dict[Window, Totals] = field(default_factory=dict)

    def prefetch(self, windows: Iterable[Window]) -> None:
        minute_wanted: dict[str, set[tuple[str, datetime]]] = defaultdict(set)
        hour_wanted: dict[tuple[str, datetime, datetime, datetime], set[str]] = defaultdict(set)
        for window in windows:
            dimension, key, start, split, end = window
            if dimension in MINUTE_DIMENSIONS:
                minute_wanted[dimension].update(
                    (key, moment) for moment in self._missing(dimension, key, start, end))
            elif window not in self.totals:
                hour_wanted[(dimension, start, split, end)].add(key)
        for dimension, pairs in minute_wanted.items():
            self._load(dimension, pairs)
        for (dimension, start, split, end), keys in hour_wanted.items():
            found = repo.window_totals(self.conn, dimension, keys, start, split, end)
            for key in keys:
                self.totals[(dimension, key, start, split, end)] = found.get(key, (0, 0, None))

    def _missing(self, dimension: str, key: str, start: datetime,
                 end: datetime) -> list[datetime]:
        known = self.minutes.get((dimension, key), {})
        count = int((end - start).total_seconds()) // 60
        return [m for m in (start + timedelta(minutes=n) for n in range(count)) if m not in known]

    def _load(self, dimension: str, pairs: set[tuple[str, datetime]]) -> None:
        if not pairs:
            return
        for key, moment in pairs:
            self.minutes.setdefault((dimension, key), {})[moment] = 0
        for key, bucket, clicks in repo.minute_counts(self.conn, dimension, pairs):
            self.minutes[(dimension, key)][utc(bucket)] = clicks

    def sum(self, dimension: str, key: str, start: datetime, end: datetime) -> int:
        """Clicks of a minute dimension in ``start`` ≤ bucket < ``end`` (minute-aligned)."""
        self._load(dimension, {(key, m) for m in self._missing(dimension, key, start, end)})
        known = self.minutes[(dimension, key)]
        count = int((end - start).total_seconds()) // 60
        return sum(known.get(start + timedelta(minutes=n), 0) for n in range(count))

    def total(self, dimension: str, key: str, start: datetime, split: datetime,
              end: datetime) -> Totals:
        """(before split, from split, first bucket) of an hour dimension over [start, end)."""
        window = (dimension, key, start, split, end)
        if window not in self.totals:
            self.prefetch([window])
        return self.totals[window]


def sub_key(link_id: str, sub1: str | None) -> str:
    return f"{link_id}|{sub1 or ''}"[:300]


def _flood_bounds(click: ClickRow, window_minutes: int) -> tuple[datetime, datetime, datetime,
                                                                   datetime]:
    at = minute(click.created_at)
    half = timedelta(minutes=window_minutes // 2)
    base_end = day(click.created_at)  # completed days only: few shapes per batch
    return (at - half, at + half + timedelta(minutes=1),
            base_end - timedelta(days=BASELINE_DAYS), base_end)


def flood_windows(click: ClickRow, window_minutes: int) -> list[Window]:
    """The counter windows ``flood_facts`` reads, for one prefetch per batch."""
    start, end, base_start, base_end = _flood_bounds(click, window_minutes)
    sub = sub_key(click.link_id, click.sub1)
    found: list[Window] = [("link", click.link_id, start, end, end),
                           ("sub", sub, start, end, end),
                           ("link_h", click.link_id, base_start, base_end, base_end),
                           ("sub_h", sub, base_start, base_end, base_end)]
    if click.ip:
        found.append(("ip", click.ip, start, end, end))
    return found


def flood_facts(cache: WindowCache, click: ClickRow, window_minutes: int) -> FloodFacts:
    """Counts in the window centred on the click, and the link's and sub-id's baselines."""
    start, end, base_start, base_end = _flood_bounds(click, window_minutes)
    sub = sub_key(click.link_id, click.sub1)
    return FloodFacts(
        ip_clicks=cache.sum("ip", click.ip, start, end) if click.ip else 0,
        link_clicks=cache.sum("link", click.link_id, start, end),
        sub_clicks=cache.sum("sub", sub, start, end),
        link_baseline_milli=_baseline_milli(
            cache.total("link_h", click.link_id, base_start, base_end, base_end), base_end,
            window_minutes),
        sub_baseline_milli=_baseline_milli(
            cache.total("sub_h", sub, base_start, base_end, base_end), base_end, window_minutes),
    )


def _baseline_milli(totals: Totals, end: datetime, window_minutes: int) -> int:
    """Average clicks per window (×1000) since the key's first bucket in the baseline range."""
    total, _after, first = totals
    if first is None:
        return 0
    span_minutes = max(int((end - utc(first)).total_seconds()) // 60, 60)
    return total * window_minutes * 1000 // span_minutes


def _rate_bounds(at: datetime) -> tuple[datetime, datetime, datetime]:
    end = day(at) + timedelta(days=1)  # through the end of the FTD's day
    recent = end - timedelta(days=RATE_WINDOW_DAYS)
    return recent - timedelta(days=RATE_HISTORY_DAYS), recent, end


def rate_windows(affiliate_id: str, at: datetime) -> list[Window]:
    history, recent, end = _rate_bounds(at)
    return [("aff_h", affiliate_id, history, recent, end),
            ("aff_ftd_h", affiliate_id, history, recent, end),
            ("all_h", "", history, recent, end), ("all_ftd_h", "", history, recent, end)]


def rate_facts(cache: WindowCache, affiliate_id: str, at: datetime) -> RateFacts:
    """The affiliate's FTDs and clicks in the recent window, its history and the programme's."""
    history, recent, end = _rate_bounds(at)
    clicks_before, clicks, _f1 = cache.total("aff_h", affiliate_id, history, recent, end)
    ftds_before, ftds, _f2 = cache.total("aff_ftd_h", affiliate_id, history, recent, end)
    peer_before, peer_recent, _f3 = cache.total("all_h", "", history, recent, end)
    peer_ftd_before, peer_ftd_recent, _f4 = cache.total("all_ftd_h", "", history, recent, end)
    return RateFacts(
        clicks=clicks, conversions=ftds, history_clicks=clicks_before,
        history_conversions=ftds_before, peer_clicks=peer_before + peer_recent,
        peer_conversions=peer_ftd_before + peer_ftd_recent,
    )


def load_trades(conn: sa.Connection, player_ids: Iterable[str],
                since: datetime) -> dict[str, list[Trade]]:
    """Recent trades with a known side, per player (``MAX_TRADES`` latest at most)."""
    e = t.player_events
    found: dict[str, list[Trade]] = defaultdict(list)
    for chunk in _chunks(sorted(set(player_ids))):
        query = sa.select(e.c.player_id, e.c.occurred_at, e.c.instrument, e.c.lots_milli,
                          e.c.raw).where(e.c.player_id.in_(chunk), e.c.kind == "trade",
                                         e.c.occurred_at >= since)
        for row in conn.execute(query):
            raw = row.raw if isinstance(row.raw, Mapping) else None
            side = SIDE_WORDS.get((raw_value(raw, SIDE_KEYS) or "").lower())
            if side is None or not row.lots_milli:
                continue
            found[str(row.player_id)].append(Trade(
                int(utc(row.occurred_at).timestamp()), (row.instrument or "").upper(), side,
                int(row.lots_milli)))
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
