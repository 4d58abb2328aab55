"""Commission periods: monthly by default, or weekly / daily, all in UTC.

A period is the half-open interval ``[start, end)``.  Entries are booked into
the period their cause happened in while that period is open; once it is
closed, late consequences land in the first open period after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class PeriodLength(StrEnum):
    MONTH = "month"
    WEEK = "week"
    DAY = "day"


@dataclass(frozen=True, slots=True)
class Period:
    """One commission period, ``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def label(self) -> str:
        """``2026-01`` for a month, ``2026-01-05`` for a week or day."""
        monthly = (self.end - self.start).days >= 28
        return self.start.strftime("%Y-%m" if monthly else "%Y-%m-%d")


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def period_of(moment: datetime, length: PeriodLength = PeriodLength.MONTH) -> Period:
    """The period containing ``moment``: calendar month, ISO week (Monday) or day."""
    at = _as_utc(moment)
    day_start = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if length is PeriodLength.DAY:
        return Period(day_start, day_start + timedelta(days=1))
    if length is PeriodLength.WEEK:
        start = day_start - timedelta(days=day_start.weekday())
        return Period(start, start + timedelta(days=7))
    start = day_start.replace(day=1)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
        month=start.month + 1
    )
    return Period(start, end)


def next_period(period: Period, length: PeriodLength = PeriodLength.MONTH) -> Period:
    """The period right after ``period``."""
    return period_of(period.end, length)


def booking_period(natural: Period, closed_starts: frozenset[datetime],
                   length: PeriodLength = PeriodLength.MONTH) -> tuple[Period, bool]:
    """Where an entry caused in ``natural`` is booked: itself if open, else the first open
    period after it.  The flag says whether it is a late adjustment."""
    period = natural
    late = False
    while _as_utc(period.start) in closed_starts:
        period = next_period(period, length)
        late = True
    return period, late
