"""Reports: the dashboard, breakdowns, CSV export and the player list, read from rollups.

Every figure comes from ``report_rollups_daily`` (``report_rollups_staff``, the same
summed over affiliates, for staff; closed hours of clicks are folded into both by the
first report after each hour) and, for the hours not folded yet, ``click_rollups_hourly``
(see ``store.reports``); never from raw clicks or events, so a request costs the same
with ten thousand or ten million clicks, and a staff request the same with ten or a
thousand affiliates.  Deposits are net of the deposits a chargeback or refund reversed
(taken off on the reversal's day); a remapped player's events count for its new
affiliate, its commission for the affiliate the ledger paid.
Days are UTC.  Money is reported per currency (no conversion);
NGR = bets − wins − bonus − chargebacks (before any brand admin fee).
``visible`` is ``Principal.visible_affiliate_ids``: ``None`` for staff (every
affiliate), the affiliate's own tree otherwise.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.money import MINOR_UNITS, from_minor
from clickledger.store import reports as store
from clickledger.store import tables as t
from clickledger.store.engine import is_reports_replica

MAX_RANGE_DAYS = 366
MAX_PLAYERS_PAGE = 200
BREAKDOWNS = ("day", "hour", "brand", "offer", "link", "sub1", "sub2", "sub3", "sub4", "sub5",
              "country", "device")
COUNTS = ("clicks", "unique_clicks", "registrations", "ftds", "qualified_cpas")
MONEY = ("deposits", "ftd_amount", "bets", "wins", "bonus", "chargebacks", "ngr", "commission")
RATES = ("registration_rate_pct", "ftd_rate_pct", "click_to_ftd_pct")
SORT_KEYS = ("value", *COUNTS, *RATES, "lots", "deposits", "ngr", "commission")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "|", "%")
PRESETS = ("today", "yesterday", "mtd", "last7", "last30", "range")


class ReportError(ValueError):
    """A report request that cannot be answered (bad range, unknown dimension or sort key)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class DayRange:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def resolve_range(preset: str, today: date, start: date | None = None,
                  end: date | None = None) -> DayRange:
    """today | yesterday | mtd | last7 | last30 | range (with ``start`` and ``end``)."""
    if preset == "today":
        return DayRange(today, today)
    if preset == "yesterday":
        return DayRange(today - timedelta(days=1), today - timedelta(days=1))
    if preset == "mtd":
        return DayRange(today.replace(day=1), today)
    if preset in ("last7", "last30"):
        return DayRange(today - timedelta(days=int(preset[4:]) - 1), today)
    if preset != "range":
        raise ReportError("unknown_period", f"period must be one of {', '.join(PRESETS)}")
    if start is None or end is None:
        raise ReportError("range_needs_dates", "a range needs start and end (YYYY-MM-DD)")
    if end < start:
        raise ReportError("range_reversed", "end is before start")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ReportError("range_too_long", f"a range is at most {MAX_RANGE_DAYS} days")
    return DayRange(start, end)


# --- figures ----------------------------------------------------------------


@dataclass
class Figures:
    """Counts and per-currency minor sums of one report row."""

    counts: dict[str, int]
    money_minor: dict[str, dict[str, int]]  # metric -> currency -> minor
    lots_milli: int = 0

    @classmethod
    def empty(cls) -> Figures:
        return cls(dict.fromkeys(COUNTS, 0), {name: {} for name in MONEY})

    def add_rollup(self, row: Mapping[str, Any], with_clicks: bool) -> None:
        for name in COUNTS:
            if name in ("clicks", "unique_clicks") and not with_clicks:
                continue
            self.counts[name] += int(row[name] or 0)
        self.lots_milli += int(row["lots_milli"] or 0)
        currency = str(row["currency"] or "")
        if not currency:
            return
        parts = {name: int(row[f"{name}_minor"] or 0)
                 for name in ("deposits", "ftd_amount", "bets", "wins", "bonus", "chargebacks",
                              "commission")}
        parts["ngr"] = parts["bets"] - parts["wins"] - parts["bonus"] - parts["chargebacks"]
        for name, minor in parts.items():
            bucket = self.money_minor[name]
            bucket[currency] = bucket.get(currency, 0) + minor

    def rate(self, numerator: str, denominator: str) -> Decimal:
        below = self.counts[denominator]
        if below <= 0:
            return Decimal("0.00")
        return (Decimal(self.counts[numerator]) * 100 / below).quantize(Decimal("0.01"))

    def money(self, name: str) -> dict[str, Decimal]:
        return {cur: _decimal(minor, cur) for cur, minor in sorted(self.money_minor[name].items())
                if minor != 0 or name == "commission"}

    def as_json(self) -> dict[str, Any]:
        """Counts as integers, rates, lots and money as exact decimal strings per currency."""
        return {
            **self.counts,
            "registration_rate_pct": str(self.rate("registrations", "clicks")),
            "ftd_rate_pct": str(self.rate("ftds", "registrations")),
            "click_to_ftd_pct": str(self.rate("ftds", "clicks")),
            "lots": str(Decimal(self.lots_milli) / 1000),
            **{name: {cur: str(v) for cur, v in self.money(name).items()} for name in MONEY},
        }

    def sort_value(self, key: str) -> Decimal:
        if key in COUNTS:
            return Decimal(self.counts[key])
        if key in RATES:
            pair = {"registration_rate_pct": ("registrations", "clicks"),
                    "ftd_rate_pct": ("ftds", "registrations"),
                    "click_to_ftd_pct": ("ftds", "clicks")}[key]
            return self.rate(*pair)
        if key == "lots":
            return Decimal(self.lots_milli)
        # money: the sum over currencies of minor amounts scaled to major units
        return sum((self.money(key).values()), Decimal(0))


def _decimal(minor: int, currency: str) -> Decimal:
    if currency in MINOR_UNITS:
        return from_minor(minor, currency)
    return Decimal(minor)


def _add_clicks(figures: Figures, clicks: int, uniques: int) -> None:
    figures.counts["clicks"] += clicks
    figures.counts["unique_clicks"] += uniques


# --- dashboard ----------------------------------------------------------------


def dashboard(conn: sa.Connection, visible: frozenset[str] | None, span: DayRange,
              now: datetime) -> dict[str, Any]:
    """Totals over ``span`` and a series (per hour for one day, per day otherwise)."""
    if not is_reports_replica(conn):  # read-only: the primary folded (store.report_reads)
        store.fold_closed_click_hours(conn, now)
    start, end = store.day_bounds(span.start, span.end)
    totals = Figures.empty()
    for row in store.rollup_sums(conn, visible, "all", span.start, span.end):
        totals.add_rollup(row, with_clicks=True)
    tail = store.unfolded_from(conn, start)
    for _value, clicks, uniques in store.click_sums(conn, visible, "all", tail, end):
        _add_clicks(totals, clicks, uniques)
    granularity = "hour" if span.days == 1 else "day"
    series = _series(conn, visible, span, granularity)
    return {
        "period": {"start": span.start.isoformat(), "end": span.end.isoformat()},
        "totals": totals.as_json(),
        "granularity": granularity,
        "series": [{"label": label, **figures.as_json()} for label, figures in series],
    }


def _series(conn: sa.Connection, visible: frozenset[str] | None, span: DayRange,
            granularity: str) -> list[tuple[str, Figures]]:
    if granularity == "hour":
        labels = [f"{h:02d}" for h in range(24)]
        points = {label: Figures.empty() for label in labels}
        for row in store.rollup_sums(conn, visible, "hour", span.start, span.end):
            points[str(row["value"])].add_rollup(row, with_clicks=True)
    else:
        labels = [(span.start + timedelta(days=i)).isoformat() for i in range(span.days)]
        points = {label: Figures.empty() for label in labels}
        for row in store.rollup_sums(conn, visible, "all", span.start, span.end, by_day=True):
            points[_day_label(row["day"])].add_rollup(row, with_clicks=True)
    start, end = store.day_bounds(span.start, span.end)
    tail = store.unfolded_from(conn, start)
    for hour, clicks, uniques in store.click_sums(conn, visible, "hour", tail, end):
        moment = utc(hour)
        label = f"{moment.hour:02d}" if granularity == "hour" else moment.date().isoformat()
        if label in points:
            _add_clicks(points[label], clicks, uniques)
    return [(label, points[label]) for label in labels]


def _day_label(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


# --- breakdowns ---------------------------------------------------------------


def breakdown(conn: sa.Connection, visible: frozenset[str] | None, span: DayRange, by: str,
              now: datetime, sort: str = "clicks", descending: bool = True) -> dict[str, Any]:
    """One row per value of ``by`` with every figure, sorted by a whitelisted key."""
    if by not in BREAKDOWNS:
        raise ReportError("unknown_dimension", f"by must be one of {', '.join(BREAKDOWNS)}")
    if sort not in SORT_KEYS:
        raise ReportError("unknown_sort_key", f"sort must be one of {', '.join(SORT_KEYS)}")
    if not is_reports_replica(conn):  # read-only: the primary folded (store.report_reads)
        store.fold_closed_click_hours(conn, now)
    if by in ("day", "hour"):
        rows = _series(conn, visible, span, by)
    else:
        rows = _by_dimension(conn, visible, span, by)
    labels = store.names(conn, by, (value for value, _f in rows))
    if sort == "value":
        rows.sort(key=lambda pair: (labels.get(pair[0], pair[0])), reverse=descending)
    else:
        rows.sort(key=lambda pair: (pair[1].sort_value(sort), pair[0]), reverse=descending)
    return {
        "period": {"start": span.start.isoformat(), "end": span.end.isoformat()},
        "by": by, "sort": sort, "order": "desc" if descending else "asc",
        "rows": [{"value": value, "label": labels.get(value, value or "(none)"),
                  **figures.as_json()} for value, figures in rows],
    }


def _by_dimension(conn: sa.Connection, visible: frozenset[str] | None, span: DayRange,
                  by: str) -> list[tuple[str, Figures]]:
    points: dict[str, Figures] = {}
    for row in store.rollup_sums(conn, visible, by, span.start, span.end):
        points.setdefault(str(row["value"]), Figures.empty()).add_rollup(row, True)
    if by in store.CLICK_ROLLUP_DIMENSIONS:  # days not folded yet: from the hourly rows
        start, end = store.day_bounds(span.start, span.end)
        tail = store.unfolded_from(conn, start)
        for value, clicks, uniques in store.click_sums(conn, visible, by, tail, end):
            key = "" if value is None else str(value)
            _add_clicks(points.setdefault(key, Figures.empty()), clicks, uniques)
    return list(points.items())


# --- CSV ------------------------------------------------------------------------


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a ``'``."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def breakdown_csv(report: Mapping[str, Any]) -> str:
    """The breakdown as CSV: one money column per metric and currency."""
    currencies = sorted({cur for row in report["rows"] for name in MONEY for cur in row[name]})
    header = [report["by"], "label", *COUNTS, *RATES, "lots",
              *[f"{name}_{cur}" for name in MONEY for cur in currencies]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in report["rows"]:
        money_cells = [row[name].get(cur, "0") for name in MONEY for cur in currencies]
        writer.writerow([safe_cell(row["value"]), safe_cell(row["label"]),
                         *[row[name] for name in COUNTS], *[row[name] for name in RATES],
                         row["lots"], *money_cells])
    return out.getvalue()


# --- players --------------------------------------------------------------------


def pseudonym(player_id: str) -> str:
    """A stable pseudonymous player id shown to affiliates instead of the operator's id."""
    return "P-" + hashlib.sha256(str(player_id).encode()).hexdigest()[:12].upper()


def players(conn: sa.Connection, visible: frozenset[str] | None, *, limit: int = 50,
            offset: int = 0, affiliate_id: str | None = None) -> list[dict[str, Any]]:
    """Attributed players, newest registration first, with commission and explanations."""
    limit = max(1, min(limit, MAX_PLAYERS_PAGE))
    p = t.players.c
    query = sa.select(p.id, p.operator_player_id, p.brand_id, p.affiliate_id, p.registered_at,
                      p.ftd_at, p.attribution, p.country).where(p.affiliate_id.is_not(None))
    if visible is not None:
        query = query.where(p.affiliate_id.in_(sorted(visible)))
    if affiliate_id is not None:
        query = query.where(p.affiliate_id == affiliate_id)
    query = query.order_by(p.registered_at.desc().nulls_last(), p.id.desc())
    rows = [dict(r._mapping) for r in conn.execute(query.limit(limit).offset(offset))]
    ids = [str(r["id"]) for r in rows]
    ledger = _ledger_by_player(conn, ids, visible)
    statuses = _conversion_status(conn, ids)
    return [_player_view(r, ledger.get(str(r["id"]), []), statuses.get(str(r["id"])))
            for r in rows]


def _ledger_by_player(conn: sa.Connection, ids: list[str], visible: frozenset[str] | None
                      ) -> dict[str, list[dict[str, Any]]]:
    """The players' ledger lines; for an affiliate only its own tree's (a player remapped to
    it keeps the lines the earlier affiliate earned, which are not this one's to see)."""
    if not ids:
        return {}
    e = t.ledger_entries.c
    query = sa.select(e.player_id, e.kind, e.amount_minor, e.currency, e.explanation,
                      e.status, e.created_at).where(e.player_id.in_(ids)).order_by(e.created_at)
    if visible is not None:
        query = query.where(e.affiliate_id.in_(sorted(visible)))
    found: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(query):
        found.setdefault(str(row.player_id), []).append(dict(row._mapping))
    return found


def _conversion_status(conn: sa.Connection, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    c = t.conversions.c
    query = sa.select(c.player_id, c.kind, c.status).where(c.player_id.in_(ids))
    found: dict[str, str] = {}
    for row in conn.execute(query):
        found[str(row.player_id)] = f"{row.kind} {row.status}"
    return found


def _player_view(row: Mapping[str, Any], lines: Iterable[Mapping[str, Any]],
                 status: str | None) -> dict[str, Any]:
    commission: dict[str, int] = {}
    explanations = []
    for line in lines:
        if line["kind"] == "payout":
            continue
        cur = str(line["currency"])
        commission[cur] = commission.get(cur, 0) + int(line["amount_minor"])
        explanations.append(str(line["explanation"]))
    return {
        "player_id": str(row["id"]), "pseudonym": pseudonym(str(row["id"])),
        "operator_player_id": row["operator_player_id"], "affiliate_id": str(row["affiliate_id"]),
        "brand_id": str(row["brand_id"]), "country": row["country"],
        "registered_at": _iso(row["registered_at"]), "ftd_at": _iso(row["ftd_at"]),
        "status": status or ("ftd" if row["ftd_at"] else
                             "registered" if row["registered_at"] else "pending"),
        "commission": {cur: str(_decimal(minor, cur)) for cur, minor in sorted(commission.items())},
        "explanations": explanations[-10:],
    }


def _iso(value: Any) -> str | None:
    return utc(value).isoformat() if isinstance(value, datetime) else None
