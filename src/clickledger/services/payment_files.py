"""Payment files of a payout run: the approved payouts, ready for the bank or a wallet system.

Only items approved and not yet paid or failed go in, so a file downloaded
again after payments were recorded cannot pay anyone twice.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.outbound.payment_files import (
    PaymentFileError,
    PaymentLine,
    render_csv,
    render_pain001,
)
from clickledger.services.errors import ServiceError
from clickledger.services.payouts import ITEM_APPROVED, get_run
from clickledger.store import tables as t


def payment_lines(conn: sa.Connection, run_id: str) -> list[PaymentLine]:
    """The run's approved, unpaid payouts with the payee's confirmed details as snapshotted."""
    view = get_run(conn, run_id)
    ids = [row["affiliate_id"] for row in view.items if row["status"] == ITEM_APPROVED]
    names: dict[str, str] = {}
    if ids:
        a = t.affiliates
        names = {str(r.id): r.name for r in conn.execute(
            sa.select(a.c.id, a.c.name).where(a.c.id.in_(ids)))}
    period = utc(view.run["period_start"]).date().isoformat()
    return [
        PaymentLine(
            payout_id=str(row["id"]), run_id=str(row["run_id"]),
            affiliate_id=str(row["affiliate_id"]),
            affiliate_name=names.get(str(row["affiliate_id"]), ""),
            net_minor=int(row["payout_amount_minor"]), payout_currency=row["payout_currency"],
            gross_minor=int(row["gross_minor"] or 0), fees_minor=int(row["fees_minor"] or 0),
            withholding_minor=int(row["withholding_minor"] or 0),
            balance_minor=int(row["amount_minor"]), balance_currency=row["currency"],
            fx_rate=row["fx_rate"], details=dict(row["payment_details"] or {}),
            description=f"Affiliate commission, period from {period}",
        )
        for row in view.items if row["status"] == ITEM_APPROVED
    ]


def run_csv(conn: sa.Connection, run_id: str) -> str:
    return render_csv(payment_lines(conn, run_id))


def run_pain001(
    conn: sa.Connection, run_id: str, *, execution_date: date, debtor_name: str | None = None,
    debtor_iban: str | None = None, debtor_bic: str | None = None,
) -> bytes:
    """The SEPA credit transfer file of the run's EUR bank payouts."""
    try:
        return render_pain001(payment_lines(conn, run_id), execution_date=execution_date,
                              debtor_name=debtor_name, debtor_iban=debtor_iban,
                              debtor_bic=debtor_bic)
    except PaymentFileError as exc:
        if exc.code.startswith(("invalid", "sepa_debtor")):
            raise ServiceError("invalid", exc.code, str(exc)) from exc
        raise ServiceError("conflict", exc.code, str(exc)) from exc
