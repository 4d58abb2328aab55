"""Posting: books domain drafts into periods, quantizes once and writes them idempotently.

Shared by live evaluation and period close.  A draft whose natural period is
closed lands in the first open period as a late adjustment.  Every new
commission line also pays the affiliate's ancestors their sub-affiliate share,
and every reversal reverses those shares.  ``Context`` batch-loads and caches
what one call needs: assignments, deal versions, parents, periods, FX.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.deals.base import Assignment, DealKind, DealVersion
from clickledger.domain.deals.base import version_at as _version_at
from clickledger.domain.deals.registry import ParsedTerms
from clickledger.domain.deals.sub_affiliate import Ancestor, SubAffiliateTerms, shares_of
from clickledger.domain.fx import FxTable
from clickledger.domain.ledger import EntryDraft, EntryKind, PostedLine, reversal_of
from clickledger.domain.money import from_minor
from clickledger.domain.periods import Period, PeriodLength, booking_period, period_of
from clickledger.ids import new_id
from clickledger.store import deals as deal_store
from clickledger.store import fx as fx_store
from clickledger.store import ledger as ledger_store
from clickledger.store import reports as report_store
from clickledger.store import tables as t
from clickledger.store.batch_reads import BatchRead, codec

MAX_SUB_LEVELS = 10
_PERIODS = BatchRead("SELECT starts_at, status FROM periods")  # one row a period: few


def period_length() -> PeriodLength:
    """Commission period length: ``CLICKLEDGER_LEDGER_PERIOD`` = month (default), week or day."""
    return PeriodLength(os.environ.get("CLICKLEDGER_LEDGER_PERIOD", "month"))


class Context:
    """What one evaluation or close needs, loaded in batches and kept for the call."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.length = period_length()
        c = codec(conn)
        periods = [(c.moment(start), status) for start, status in _PERIODS.rows(conn)]
        self.closed = frozenset(start for start, status in periods if status == "closed")
        self.periods = {start for start, _status in periods}  # rows that exist
        shared = deal_store.catalogue(conn)  # cached across calls while the deals are unchanged
        self.assignments: dict[str, list[Assignment]] = shared.assignments
        self.versions: dict[str, list[DealVersion]] = shared.versions
        self.parent_of: dict[str, str | None] = shared.parents
        self._fx: FxTable | None = None
        self.names: dict[str, str] = {}
        self._periods: dict[object, Period] = {}
        self._bookings: dict[datetime, tuple[Period, bool]] = {}
        self._chains: dict[str, list[str]] = {}

    def period(self, moment: datetime) -> Period:
        """``period_of(moment)``, memoised per UTC day for the call."""
        day = utc(moment).date()
        found = self._periods.get(day)
        if found is None:
            found = self._periods[day] = period_of(moment, self.length)
        return found

    def booking(self, moment: datetime) -> tuple[Period, Period, bool]:
        """The natural period of ``moment``, where it is booked and whether that is late."""
        natural = self.period(moment)
        booked = self._bookings.get(natural.start)
        if booked is None:
            booked = self._bookings[natural.start] = booking_period(natural, self.closed,
                                                                    self.length)
        return natural, booked[0], booked[1]

    def load_affiliates(self, affiliate_ids: Iterable[str]) -> None:
        todo = {a for a in affiliate_ids if a not in self.assignments}
        if not todo:
            return
        found = deal_store.load_assignments(self.conn, todo)
        for affiliate_id in todo:
            self.assignments[affiliate_id] = found.get(affiliate_id, [])
        deal_ids = {a.deal_id for rows in found.values() for a in rows} - set(self.versions)
        if deal_ids:
            versions = deal_store.load_versions(self.conn, deal_ids)
            for deal_id in deal_ids:
                self.versions[deal_id] = versions.get(deal_id, [])

    def load_parents(self, affiliate_ids: Iterable[str]) -> None:
        """Parents of many affiliates (and their ancestors) in a few queries."""
        todo = [a for a in affiliate_ids if a not in self.parent_of]
        if todo:
            self.parent_of.update(deal_store.parents(self.conn, todo, MAX_SUB_LEVELS))

    def fx(self) -> FxTable:
        if self._fx is None:
            self._fx = fx_store.load_table(self.conn)
        return self._fx

    def deals_at(self, affiliate_id: str, moment: datetime, brand_id: str | None,
                 kinds: tuple[DealKind, ...]) -> list[tuple[Assignment, DealVersion, ParsedTerms]]:
        """Assignments of ``kinds`` active at ``moment`` with the version then in force."""
        found = []
        for assignment in self.assignments.get(affiliate_id, []):
            if not assignment.active_at(moment):
                continue
            version = _version_at(self.versions.get(assignment.deal_id, []), moment)
            if version is None or version.kind not in kinds:
                continue
            if brand_id is not None and version.kind is not DealKind.SUB_AFFILIATE \
                    and version.brand_id != brand_id:
                continue
            terms = deal_store.parsed_terms(version, assignment)
            found.append((assignment, version, terms))
        return found

    def ancestors(self, affiliate_id: str, moment: datetime) -> list[Ancestor]:
        """Ancestors of ``affiliate_id`` holding a sub-affiliate deal active at ``moment``."""
        chain = self._chains.get(affiliate_id)
        if chain is None:
            chain = self._chains[affiliate_id] = self._chain(affiliate_id)
        if not chain:
            return []
        found = []
        for level, ancestor_id in enumerate(chain, start=1):
            for _a, version, terms in self.deals_at(ancestor_id, moment, None,
                                                    (DealKind.SUB_AFFILIATE,)):
                if isinstance(terms, SubAffiliateTerms):
                    found.append(Ancestor(ancestor_id, level, terms, version.id))
                    break
        return found

    def _chain(self, affiliate_id: str) -> list[str]:
        """The affiliate's parent, grandparent, … (their deals loaded)."""
        if affiliate_id not in self.parent_of:
            self.parent_of.update(deal_store.parents(self.conn, [affiliate_id], MAX_SUB_LEVELS))
        chain: list[str] = []
        current = self.parent_of.get(affiliate_id)
        while current and len(chain) < MAX_SUB_LEVELS and current not in chain:
            chain.append(current)
            current = self.parent_of.get(current)
        self.load_affiliates(chain)
        return chain

    def affiliate_name(self, affiliate_id: str) -> str:
        if affiliate_id not in self.names:
            name = self.conn.execute(sa.select(t.affiliates.c.name)
                                     .where(t.affiliates.c.id == affiliate_id)).scalar()
            self.names[affiliate_id] = str(name or affiliate_id)
        return self.names[affiliate_id]


def post(ctx: Context, drafts: list[EntryDraft], now: datetime,
         known: dict[str, PostedLine] | None = None) -> list[EntryDraft]:
    """Post ``drafts`` and their sub-affiliate shares; returns every draft posted (as booked)."""
    all_drafts = list(drafts)
    for draft in drafts:
        all_drafts += _shares(ctx, draft)
    booked = [_book(ctx, d) for d in all_drafts]
    key_ids = {k: line.entry_id for k, line in (known or {}).items()}
    need = {d.reverses_key for d, _ in booked if d.reverses_key and d.reverses_key not in key_ids}
    if need:
        key_ids.update({k: v.entry_id for k, v in
                        ledger_store.lines_by_keys(ctx.conn, need).items()})
    rows = [_row(d, period, key_ids, now) for d, period in booked]
    added = ledger_store.insert_ignoring(ctx.conn, t.ledger_entries, rows, ["entry_key"])
    report_store.record_commission_rollups(ctx.conn, rows, added)  # the dashboards' commission
    return [d for d, _ in booked]


def _shares(ctx: Context, draft: EntryDraft) -> list[EntryDraft]:
    if draft.deal_type == DealKind.SUB_AFFILIATE.value or draft.kind is EntryKind.REVERSAL:
        return []
    ancestors = ctx.ancestors(draft.affiliate_id, draft.caused_at)
    if not ancestors:
        return []
    posted = from_minor(draft.amount_minor, draft.currency)
    if posted == 0:
        return []
    return shares_of(draft, posted, ctx.affiliate_name(draft.affiliate_id), ancestors)


def _book(ctx: Context, draft: EntryDraft) -> tuple[EntryDraft, datetime]:
    natural, period, late = ctx.booking(draft.caused_at)
    if late:
        draft = draft.as_late_adjustment(natural.label)
    return draft, period.start


def _row(draft: EntryDraft, period_start: datetime, key_ids: dict[str, str],
         now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(), "entry_key": draft.entry_key, "kind": draft.kind.value,
        "affiliate_id": draft.affiliate_id, "player_id": draft.player_id,
        "amount_minor": draft.amount_minor, "currency": draft.currency,
        "deal_version_id": draft.deal_version_id, "deal_type": draft.deal_type,
        "period_start": period_start, "status": "approved",
        "source_event_ids": list(draft.source_event_ids),
        "reverses_entry_id": key_ids.get(draft.reverses_key) if draft.reverses_key else None,
        "explanation": draft.explanation[:1000], "created_at": now,
    }


def reversals_for(ctx: Context, lines: list[PostedLine], cause: str, cause_event_id: str | None,
                  at: datetime, already: set[str]) -> list[EntryDraft]:
    """Reversal drafts for ``lines`` and the sub-affiliate lines paid on them."""
    drafts: list[EntryDraft] = []
    for line in lines:
        if line.kind == EntryKind.REVERSAL.value or f"rev:{line.entry_key}" in already:
            continue
        targets = [line, *ledger_store.sub_lines_of(ctx.conn, line.entry_key, line.player_id)]
        for target in targets:
            if f"rev:{target.entry_key}" in already:
                continue
            amount = from_minor(target.amount_minor, target.currency)
            drafts.append(reversal_of(target, cause, cause_event_id, at, amount))
            already.add(f"rev:{target.entry_key}")
    return drafts


def ensure_periods(ctx: Context, moments: Iterable[datetime]) -> None:
    """Period rows exist for every period an entry is booked into (idempotent)."""
    starts = {}
    for moment in moments:
        _natural, period, _late = ctx.booking(moment)
        starts[period.start] = period.end
    for start, end in starts.items():
        if start not in ctx.periods:  # seen in this transaction: nothing to write
            ledger_store.ensure_period(ctx.conn, start, end, new_id())
            ctx.periods.add(start)


def as_decimal(minor: int | None, currency: str | None) -> Decimal:
    """A nullable minor amount as Decimal (zero when absent)."""
    if minor is None or currency is None:
        return Decimal(0)
    return from_minor(minor, currency)
