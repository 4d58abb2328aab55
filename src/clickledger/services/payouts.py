"""Payout runs: a draft per period, four-eyes approval, then paid or failed, via the ledger.

- ``create_run``: balances as of the period's end (``store.payouts``) become
  items (``domain.payouts.plan_run``); one run per period, so creating it again
  returns the same run.
- ``approve_run``: a finance user other than the creator (four eyes).  The
  draft is re-planned first; if the ledger, rates or confirmed payment details
  moved since, the run is stale (409 ``run_stale``) and ``refresh_run`` redoes
  it.  Approval posts one ledger entry per paid item (kind ``payout``,
  negative, key ``payout:<id>``), so the balance drops at once and no other run
  can pay the same money.  Approving again changes nothing.
- ``mark_paid`` records the payment reference (again with the same reference:
  nothing happens); ``mark_failed`` posts the reversing entry
  (``payout-return:<id>``), which returns the amount to the balance.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.fx import FxError
from clickledger.domain.money import format_money, from_minor, normalize_currency
from clickledger.domain.payouts import (
    Outcome,
    PayoutError,
    PlannedItem,
    check_rate,
    plan_run,
    rate_pairs_needed,
)
from clickledger.ids import new_id
from clickledger.services import audit
from clickledger.services.errors import ServiceError, invalid, missing
from clickledger.store import payouts as repo
from clickledger.store import tables as t
from clickledger.store.paging import Page, fetch_page
from clickledger.store.programme import get_row, insert_unique

RUN_DRAFT, RUN_APPROVED, RUN_CLOSED = "draft", "approved", "closed"
ITEM_DRAFT, ITEM_APPROVED, ITEM_PAID, ITEM_FAILED = "draft", "approved", "paid", "failed"
ITEM_STATUS = {
    Outcome.PAY: ITEM_DRAFT, Outcome.ROLLED_OVER: "rolled_over",
    Outcome.CARRIED: "carried", Outcome.BLOCKED: "blocked",
}
MAX_PERIOD = timedelta(days=366)
MAX_REFERENCE_CHARS = 200
MAX_REASON_CHARS = 500

Rates = Mapping[tuple[str, str], Decimal]


@dataclass(frozen=True, slots=True)
class RunView:
    """A run and its items as stored; ``created`` is False when the period had one already."""

    run: dict[str, Any]
    items: list[dict[str, Any]]
    created: bool = False


def conflict(code: str, message: str, details: Any | None = None) -> ServiceError:
    return ServiceError("conflict", code, message, details)


def _period(period_start: datetime, period_end: datetime) -> tuple[datetime, datetime]:
    start, end = utc(period_start), utc(period_end)
    if not start < end:
        raise invalid("invalid_period", "period_start must be before period_end")
    if end - start > MAX_PERIOD:
        raise invalid("invalid_period", f"a run covers at most {MAX_PERIOD.days} days")
    return start, end


def _normalize_rates(rates: Rates | None) -> dict[tuple[str, str], Decimal]:
    normalized: dict[tuple[str, str], Decimal] = {}
    for (base, quote), rate in (rates or {}).items():
        try:
            pair = (normalize_currency(base), normalize_currency(quote))
            normalized[pair] = check_rate(rate)
        except (PayoutError, ValueError) as exc:
            raise invalid("invalid_fx_rate", str(exc)) from exc
    return normalized


def _rates_for(
    conn: sa.Connection, pairs: set[tuple[str, str]], given: Rates, now: datetime
) -> dict[tuple[str, str], Decimal]:
    """The given rate for each pair, else the latest recorded one on or before today."""
    chosen = {pair: given[pair] for pair in pairs if pair in given}
    wanted = pairs - set(chosen)
    if wanted:
        table = repo.fx_table(conn, {c for pair in wanted for c in pair}, now.date())
        for base, quote in wanted:
            try:
                chosen[(base, quote)] = table.rate(base, quote, now.date())[0]
            except FxError:
                continue
    return chosen


def _plan(
    conn: sa.Connection, period_end: datetime, given: Rates, now: datetime
) -> tuple[list[PlannedItem], dict[str, dict[str, Any]]]:
    totals = repo.approved_balances(conn, period_end)
    payees, details = repo.payees(conn, {aff for (aff, _), amount in totals.items() if amount})
    rates = _rates_for(conn, rate_pairs_needed(totals, payees), given, now)
    try:
        items = plan_run(totals, payees, rates, repo.active_deduction_rules(conn))
    except PayoutError as exc:
        raise conflict(exc.code, str(exc)) from exc
    return items, details


def _item_row(run_id: str, item: PlannedItem, details: Mapping[str, Any] | None,
              now: datetime) -> dict[str, Any]:
    paying = item.outcome is Outcome.PAY
    return {
        "id": new_id(), "run_id": run_id, "affiliate_id": item.affiliate_id,
        "amount_minor": item.balance_minor, "currency": item.currency,
        "payout_amount_minor": item.net_minor, "payout_currency": item.payout_currency,
        "fx_rate": str(item.fx_rate) if item.fx_rate is not None else None,
        "gross_minor": item.gross_minor, "fees_minor": item.fees_minor,
        "withholding_minor": item.withholding_minor,
        "lines": [{"name": line.name, "kind": line.kind.value, "amount_minor": line.amount_minor}
                  for line in item.lines],
        "method": (details or {}).get("method") if paying else None,
        "payment_details": dict(details) if paying and details else None,
        "status": ITEM_STATUS[item.outcome], "created_at": now, "updated_at": now,
    }


def _insert_items(conn: sa.Connection, run_id: str, items: list[PlannedItem],
                  details: Mapping[str, dict[str, Any]], now: datetime) -> None:
    rows = [_item_row(run_id, item, details.get(item.affiliate_id), now) for item in items]
    if rows:
        conn.execute(t.payouts.insert(), rows)


def _run(conn: sa.Connection, run_id: str) -> dict[str, Any]:
    run = get_row(conn, t.payout_runs, run_id)
    if run is None:
        raise missing("payout run")
    return run


def get_run(conn: sa.Connection, run_id: str) -> RunView:
    run = _run(conn, run_id)
    return RunView(run, repo.run_items(conn, str(run["id"])))


def list_runs(conn: sa.Connection, *, status: str | None, limit: int, cursor: str | None) -> Page:
    where = [t.payout_runs.c.status == status] if status else []
    return fetch_page(conn, t.payout_runs, where=where, limit=limit, cursor=cursor)


def _record_rates(conn: sa.Connection, rates: Rates, actor: str, now: datetime) -> None:
    for (base, quote), rate in rates.items():
        repo.record_fx_rate(conn, day=now.date(), base=base, quote=quote, rate=rate,
                            source=f"payout run by {actor}", now=now, row_id=new_id())


def _run_for_period(conn: sa.Connection, start: datetime, end: datetime) -> str | None:
    r = t.payout_runs
    found = conn.execute(
        sa.select(r.c.id).where(r.c.period_start == start, r.c.period_end == end)
    ).scalar()
    return str(found) if found is not None else None


def create_run(
    conn: sa.Connection, *, period_start: datetime, period_end: datetime, actor: str,
    now: datetime, rates: Rates | None = None,
) -> RunView:
    """The draft run for the period (the existing one if the period has a run already)."""
    start, end = _period(period_start, period_end)
    given = _normalize_rates(rates)
    existing = _run_for_period(conn, start, end)
    if existing is not None:
        return get_run(conn, existing)
    items, details = _plan(conn, end, given, now)
    run_id = new_id()
    values = {"id": run_id, "period_start": start, "period_end": end, "status": RUN_DRAFT,
              "created_by": actor, "created_at": now}
    if not insert_unique(conn, t.payout_runs, values):  # a concurrent create won
        return get_run(conn, _run_for_period(conn, start, end) or run_id)
    _record_rates(conn, given, actor, now)
    _insert_items(conn, run_id, items, details, now)
    audit.record(conn, actor=actor, action="payout_run.create", entity="payout_run",
                 entity_id=run_id, now=now, after={**values, "items": len(items)})
    view = get_run(conn, run_id)
    return RunView(view.run, view.items, created=True)


def _used_rates(items: list[dict[str, Any]]) -> dict[tuple[str, str], Decimal]:
    return {(row["currency"], row["payout_currency"]): Decimal(row["fx_rate"])
            for row in items if row["fx_rate"] is not None}


def _signature(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {
        (str(row["affiliate_id"]), row["currency"], row["status"], row["amount_minor"],
         row["payout_currency"], row["payout_amount_minor"],
         json.dumps(row["payment_details"], sort_keys=True))
        for row in rows
    }


def _check_fresh(conn: sa.Connection, run: dict[str, Any], items: list[dict[str, Any]],
                 now: datetime) -> None:
    planned, details = _plan(conn, utc(run["period_end"]), _used_rates(items), now)
    fresh = [_item_row(str(run["id"]), item, details.get(item.affiliate_id), now)
             for item in planned]
    if _signature(fresh) != _signature(items):
        raise conflict("run_stale", "balances, rates or payment details changed since the draft; "
                       "refresh the run and review it again")


def refresh_run(conn: sa.Connection, run_id: str, *, actor: str, now: datetime) -> RunView:
    """Re-plan a draft run from the ledger as it is now (the creator becomes ``actor``)."""
    run = _run(conn, run_id)
    if run["status"] != RUN_DRAFT:
        raise conflict("run_not_draft", "only a draft run can be refreshed")
    items = repo.run_items(conn, run_id)
    planned, details = _plan(conn, utc(run["period_end"]), _used_rates(items), now)
    conn.execute(t.payouts.delete().where(t.payouts.c.run_id == run["id"]))
    conn.execute(t.payout_runs.update().where(t.payout_runs.c.id == run["id"])
                 .values(created_by=actor))
    _insert_items(conn, str(run["id"]), planned, details, now)
    audit.record(conn, actor=actor, action="payout_run.refresh", entity="payout_run",
                 entity_id=str(run["id"]), now=now, after={"items": len(planned)})
    return get_run(conn, run_id)


def _payout_explanation(run: dict[str, Any], row: dict[str, Any]) -> str:
    balance = format_money(from_minor(row["amount_minor"], row["currency"]), row["currency"])
    net = format_money(from_minor(row["payout_amount_minor"], row["payout_currency"]),
                       row["payout_currency"])
    text = f"Payout for period from {utc(run['period_start']).date()}: {balance} paid as {net}"
    if row["fx_rate"]:
        text += f" at {row['fx_rate']} {row['payout_currency']} per {row['currency']}"
    for line in row["lines"] or []:
        amount = from_minor(int(line["amount_minor"]), row["payout_currency"])
        text += f"; {line['kind']} {line['name']} {format_money(amount, row['payout_currency'])}"
    return (text + f" via {row['method']}")[:1000]


def _post_payout(conn: sa.Connection, run: dict[str, Any], row: dict[str, Any],
                 now: datetime) -> None:
    repo.post_ledger_entry(conn, {
        "id": new_id(), "entry_key": f"payout:{row['id']}", "kind": repo.PAYOUT_KIND,
        "affiliate_id": row["affiliate_id"], "amount_minor": -int(row["amount_minor"]),
        "currency": row["currency"], "period_start": utc(run["period_start"]),
        "status": repo.APPROVED, "source_event_ids": [], "payout_id": row["id"],
        "explanation": _payout_explanation(run, row), "created_at": now,
    })


def _close_if_settled(conn: sa.Connection, run_id: Any) -> None:
    p = t.payouts
    open_items = conn.execute(sa.select(sa.func.count()).where(
        p.c.run_id == run_id, p.c.status == ITEM_APPROVED)).scalar_one()
    if open_items == 0:
        conn.execute(t.payout_runs.update().where(
            t.payout_runs.c.id == run_id, t.payout_runs.c.status == RUN_APPROVED
        ).values(status=RUN_CLOSED))


def approve_run(conn: sa.Connection, run_id: str, *, actor: str, now: datetime) -> RunView:
    """Approve a draft run (not by its creator) and post its payouts to the ledger."""
    run = _run(conn, run_id)
    if run["status"] != RUN_DRAFT:
        return get_run(conn, run_id)
    if run["created_by"] == actor:
        raise conflict("four_eyes", "a run is approved by a finance user other than its creator")
    items = repo.run_items(conn, str(run["id"]))
    _check_fresh(conn, run, items, now)
    r = t.payout_runs
    claimed = conn.execute(r.update().where(r.c.id == run["id"], r.c.status == RUN_DRAFT)
                           .values(status=RUN_APPROVED, approved_by=actor, approved_at=now))
    if claimed.rowcount != 1:
        return get_run(conn, run_id)
    for row in items:
        if row["status"] == ITEM_DRAFT:
            conn.execute(t.payouts.update().where(t.payouts.c.id == row["id"])
                         .values(status=ITEM_APPROVED, updated_at=now))
            _post_payout(conn, run, row, now)
    _close_if_settled(conn, run["id"])
    audit.record(conn, actor=actor, action="payout_run.approve", entity="payout_run",
                 entity_id=str(run["id"]), now=now, before={"status": RUN_DRAFT},
                 after={"status": RUN_APPROVED})
    return get_run(conn, run_id)


def _item(conn: sa.Connection, payout_id: str) -> dict[str, Any]:
    row = get_row(conn, t.payouts, payout_id)
    if row is None:
        raise missing("payout")
    return row


def _clean_text(value: str, field: str, limit: int) -> str:
    text = value.strip()
    if not text or len(text) > limit or any(ord(char) < 32 for char in text):
        raise invalid(f"invalid_{field}", f"{field} must be 1-{limit} printable characters")
    return text


def mark_paid(conn: sa.Connection, payout_id: str, *, reference: str, actor: str,
              now: datetime) -> dict[str, Any]:
    """Record that an approved payout left the bank; the same call again changes nothing."""
    reference = _clean_text(reference, "reference", MAX_REFERENCE_CHARS)
    row = _item(conn, payout_id)
    if row["status"] == ITEM_PAID:
        if row["payment_reference"] == reference:
            return row
        raise conflict("already_paid", "this payout is already paid under another reference",
                       {"payment_reference": row["payment_reference"]})
    if row["status"] != ITEM_APPROVED:
        raise conflict("not_payable", f"a {row['status']} payout cannot be marked paid")
    p = t.payouts
    done = conn.execute(p.update().where(p.c.id == row["id"], p.c.status == ITEM_APPROVED)
                        .values(status=ITEM_PAID, payment_reference=reference, updated_at=now))
    if done.rowcount != 1:
        return mark_paid(conn, payout_id, reference=reference, actor=actor, now=now)
    audit.record(conn, actor=actor, action="payout.paid", entity="payout",
                 entity_id=str(row["id"]), now=now, before={"status": row["status"]},
                 after={"status": ITEM_PAID, "payment_reference": reference})
    _close_if_settled(conn, row["run_id"])
    return _item(conn, payout_id)


def _post_return(conn: sa.Connection, row: dict[str, Any], reason: str, now: datetime) -> None:
    original = repo.ledger_entry_by_key(conn, f"payout:{row['id']}")
    if original is None:
        raise conflict("ledger_mismatch", "the payout's ledger entry is missing")
    amount = format_money(from_minor(row["amount_minor"], row["currency"]), row["currency"])
    repo.post_ledger_entry(conn, {
        "id": new_id(), "entry_key": f"payout-return:{row['id']}", "kind": repo.PAYOUT_KIND,
        "affiliate_id": row["affiliate_id"], "amount_minor": int(row["amount_minor"]),
        "currency": row["currency"], "period_start": utc(original["period_start"]),
        "status": repo.APPROVED, "source_event_ids": [], "payout_id": row["id"],
        "reverses_entry_id": original["id"],
        "explanation": f"Payout failed, {amount} returned to the balance: {reason}"[:1000],
        "created_at": now,
    })


def mark_failed(conn: sa.Connection, payout_id: str, *, reason: str, actor: str,
                now: datetime) -> dict[str, Any]:
    """Record that an approved payout did not arrive: its amount returns to the balance."""
    reason = _clean_text(reason, "reason", MAX_REASON_CHARS)
    row = _item(conn, payout_id)
    if row["status"] == ITEM_FAILED:
        return row
    if row["status"] != ITEM_APPROVED:
        code = "already_paid" if row["status"] == ITEM_PAID else "not_payable"
        raise conflict(code, f"a {row['status']} payout cannot be marked failed")
    p = t.payouts
    done = conn.execute(p.update().where(p.c.id == row["id"], p.c.status == ITEM_APPROVED)
                        .values(status=ITEM_FAILED, failure_reason=reason, updated_at=now))
    if done.rowcount != 1:
        return mark_failed(conn, payout_id, reason=reason, actor=actor, now=now)
    _post_return(conn, row, reason, now)
    audit.record(conn, actor=actor, action="payout.failed", entity="payout",
                 entity_id=str(row["id"]), now=now, before={"status": row["status"]},
                 after={"status": ITEM_FAILED, "failure_reason": reason})
    _close_if_settled(conn, row["run_id"])
    return _item(conn, payout_id)
