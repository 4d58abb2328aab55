"""Affiliate statements: every ledger line of a period, explained, and the balances it leaves.

Per currency: the opening balance (approved entries of earlier periods),
commission, reversals, adjustments and payouts of the period, and the closing
balance; pending and held lines are listed but not counted, as in the ledger.
The figures are sums of the ledger rows themselves, so they equal the ledger.
Rendered as HTML (Jinja2, autoescaped, with print CSS) and as a PDF (fpdf2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from jinja2 import Environment, PackageLoader, select_autoescape

from clickledger.clock import utc
from clickledger.domain.money import format_money, from_minor
from clickledger.services.errors import invalid, missing
from clickledger.store import tables as t
from clickledger.store.programme import get_row

APPROVED = "approved"
MAX_STATEMENT_LINES = 100_000
KIND_FIELDS = {"commission": "commission_minor", "reversal": "reversals_minor",
               "adjustment": "adjustments_minor", "payout": "payouts_minor"}

_templates = Environment(
    loader=PackageLoader("clickledger.web", "templates"),
    autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class StatementLine:
    entry_id: str
    booked_at: datetime
    kind: str
    status: str
    amount_minor: int
    currency: str
    explanation: str
    entry_key: str
    player_id: str | None

    @property
    def counted(self) -> bool:
        return self.status == APPROVED


@dataclass(slots=True)
class CurrencySummary:
    currency: str
    opening_minor: int = 0
    commission_minor: int = 0
    reversals_minor: int = 0
    adjustments_minor: int = 0
    payouts_minor: int = 0
    not_counted_minor: int = 0  # pending and held lines of the period

    @property
    def closing_minor(self) -> int:
        return (self.opening_minor + self.commission_minor + self.reversals_minor
                + self.adjustments_minor + self.payouts_minor)


@dataclass(frozen=True, slots=True)
class Statement:
    affiliate_id: str
    affiliate_name: str
    period_start: datetime
    period_end: datetime
    lines: list[StatementLine]
    summaries: list[CurrencySummary] = field(default_factory=list)


def _opening(conn: sa.Connection, affiliate_id: str, before: datetime) -> dict[str, int]:
    e = t.ledger_entries
    query = sa.select(e.c.currency, sa.func.sum(e.c.amount_minor)).where(
        e.c.affiliate_id == affiliate_id, e.c.status == APPROVED, e.c.period_start < before
    ).group_by(e.c.currency)
    return {row[0]: int(row[1] or 0) for row in conn.execute(query)}


def _lines(conn: sa.Connection, affiliate_id: str, start: datetime,
           end: datetime) -> list[StatementLine]:
    e = t.ledger_entries
    query = sa.select(e).where(
        e.c.affiliate_id == affiliate_id, e.c.period_start >= start, e.c.period_start < end
    ).order_by(e.c.created_at, e.c.id).limit(MAX_STATEMENT_LINES + 1)
    rows = conn.execute(query).mappings().all()
    if len(rows) > MAX_STATEMENT_LINES:
        raise invalid("statement_too_large",
                      f"more than {MAX_STATEMENT_LINES} lines: ask for a shorter period")
    return [
        StatementLine(str(r["id"]), utc(r["created_at"]), r["kind"], r["status"],
                      int(r["amount_minor"]), r["currency"], r["explanation"], r["entry_key"],
                      str(r["player_id"]) if r["player_id"] else None)
        for r in rows
    ]


def _summaries(opening: dict[str, int], lines: list[StatementLine]) -> list[CurrencySummary]:
    by_currency = {cur: CurrencySummary(cur, opening_minor=amount)
                   for cur, amount in opening.items()}
    for line in lines:
        summary = by_currency.setdefault(line.currency, CurrencySummary(line.currency))
        if not line.counted:
            summary.not_counted_minor += line.amount_minor
            continue
        name = KIND_FIELDS.get(line.kind, "adjustments_minor")
        setattr(summary, name, getattr(summary, name) + line.amount_minor)
    return [by_currency[cur] for cur in sorted(by_currency)]


def build_statement(conn: sa.Connection, affiliate_id: str, period_start: datetime,
                    period_end: datetime) -> Statement:
    """The statement of ``affiliate_id`` for ``[period_start, period_end)``."""
    start, end = utc(period_start), utc(period_end)
    if not start < end:
        raise invalid("invalid_period", "period_start must be before period_end")
    affiliate = get_row(conn, t.affiliates, affiliate_id)
    if affiliate is None:
        raise missing("affiliate")
    aff_id = str(affiliate["id"])
    lines = _lines(conn, aff_id, start, end)
    summaries = _summaries(_opening(conn, aff_id, start), lines)
    return Statement(aff_id, affiliate["name"], start, end, lines, summaries)


def money(amount_minor: int, currency: str) -> str:
    return format_money(from_minor(amount_minor, currency), currency)


def statement_json(statement: Statement) -> dict[str, Any]:
    """Plain data for the API: every amount as minor units and as text."""
    return {
        "affiliate_id": statement.affiliate_id, "affiliate_name": statement.affiliate_name,
        "period_start": statement.period_start.isoformat(),
        "period_end": statement.period_end.isoformat(),
        "lines": [{"entry_id": line.entry_id, "booked_at": line.booked_at.isoformat(),
                   "kind": line.kind, "status": line.status, "counted": line.counted,
                   "amount_minor": line.amount_minor, "currency": line.currency,
                   "amount": str(from_minor(line.amount_minor, line.currency)),
                   "explanation": line.explanation, "entry_key": line.entry_key,
                   "player_id": line.player_id} for line in statement.lines],
        "balances": [{"currency": s.currency, "opening_minor": s.opening_minor,
                      "commission_minor": s.commission_minor,
                      "reversals_minor": s.reversals_minor,
                      "adjustments_minor": s.adjustments_minor,
                      "payouts_minor": s.payouts_minor, "closing_minor": s.closing_minor,
                      "not_counted_minor": s.not_counted_minor,
                      "closing": str(from_minor(s.closing_minor, s.currency))}
                     for s in statement.summaries],
    }


def render_html(statement: Statement) -> str:
    """The statement as a self-contained page (escaped; prints cleanly)."""
    template = _templates.get_template("statements/statement.html")
    return template.render(statement=statement, money=money)


def _latin1(text: str) -> str:
    """The built-in PDF fonts are Latin-1: anything else prints as '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(statement: Statement) -> bytes:
    """The statement as a printable A4 PDF."""
    from fpdf import FPDF  # noqa: PLC0415 - heavy, loaded on first use

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _latin1(f"Statement - {statement.affiliate_name}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    period = f"{statement.period_start.date()} to {statement.period_end.date()} (end excluded)"
    pdf.cell(0, 6, _latin1(f"Period {period}"), new_x="LMARGIN", new_y="NEXT")
    for s in statement.summaries:
        text = (f"{s.currency}: opening {money(s.opening_minor, s.currency)}, commission "
                f"{money(s.commission_minor, s.currency)}, reversals "
                f"{money(s.reversals_minor, s.currency)}, adjustments "
                f"{money(s.adjustments_minor, s.currency)}, payouts "
                f"{money(s.payouts_minor, s.currency)}, closing "
                f"{money(s.closing_minor, s.currency)}")
        pdf.multi_cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for line in statement.lines:
        flag = "" if line.counted else f" [{line.status}, not counted]"
        text = (f"{line.booked_at.date()}  {line.kind:<10} "
                f"{money(line.amount_minor, line.currency):>18}  {line.explanation}{flag}")
        pdf.multi_cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def closing_balances(statement: Statement) -> dict[str, Decimal]:
    return {s.currency: from_minor(s.closing_minor, s.currency) for s in statement.summaries}
