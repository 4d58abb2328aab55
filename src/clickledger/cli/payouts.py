"""``clickledger payouts run|approve|pay|files``: payout runs from the shell, for finance.

``--actor`` names the finance user; the one who creates a run cannot approve
it (four eyes).  Every command is idempotent like its API twin.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from clickledger.domain.money import format_money, from_minor
from clickledger.runtime import Runtime
from clickledger.services import payment_files, payouts
from clickledger.services.errors import ServiceError
from clickledger.settings import Settings

app = typer.Typer(help="Payout runs: create, approve (four eyes), mark paid or failed.",
                  no_args_is_help=True)
console = Console()
DatabaseOption = typer.Option(None, "--database-url", help="Overrides CLICKLEDGER_DATABASE_URL.")
ActorOption = typer.Option(..., "--actor", help="The finance user doing this (e.g. an e-mail).")


def _runtime(database_url: str | None) -> Runtime:
    settings = Settings(database_url=database_url) if database_url else Settings()
    return Runtime.open(settings)


def _day(text: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    except ValueError as exc:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {text}") from exc


def _rates(specs: list[str]) -> dict[tuple[str, str], Decimal]:
    rates: dict[tuple[str, str], Decimal] = {}
    for spec in specs:
        try:
            pair, rate = spec.split("=", 1)
            base, quote = pair.split("/", 1)
            rates[(base.strip().upper(), quote.strip().upper())] = Decimal(rate.strip())
        except (ValueError, InvalidOperation) as exc:
            raise typer.BadParameter(f"expected BASE/QUOTE=RATE, got {spec!r}") from exc
    return rates


def _fail(exc: ServiceError) -> None:
    console.print(f"[red]{exc.code}[/red]: {exc.message}")
    raise typer.Exit(1)


def _show(view: payouts.RunView) -> None:
    run = view.run
    console.print(f"run {run['id']}  {run['status']}  period {run['period_start']} → "
                  f"{run['period_end']}  created by {run['created_by']}")
    table = Table("payout", "affiliate", "status", "balance", "pays", "reference")
    for row in view.items:
        table.add_row(
            str(row["id"]), str(row["affiliate_id"]), row["status"],
            format_money(from_minor(row["amount_minor"], row["currency"]), row["currency"]),
            format_money(from_minor(row["payout_amount_minor"], row["payout_currency"]),
                         row["payout_currency"]),
            row["payment_reference"] or "",
        )
    console.print(table)


@app.command()
def run(
    period_start: str = typer.Option(..., help="First day of the period (YYYY-MM-DD)."),
    period_end: str = typer.Option(..., help="First day after the period (YYYY-MM-DD)."),
    actor: str = ActorOption,
    rate: list[str] = typer.Option([], help="Exchange rate BASE/QUOTE=RATE, repeatable."),
    database_url: str | None = DatabaseOption,
) -> None:
    """Create the draft run of a period (shows the existing one if there is one)."""
    runtime = _runtime(database_url)
    try:
        with runtime.engine.begin() as conn:
            view = payouts.create_run(conn, period_start=_day(period_start),
                                      period_end=_day(period_end), actor=f"cli:{actor}",
                                      now=runtime.clock.now(), rates=_rates(rate))
    except ServiceError as exc:
        _fail(exc)
        return
    _show(view)


@app.command()
def approve(run_id: str, actor: str = ActorOption,
            database_url: str | None = DatabaseOption) -> None:
    """Approve a draft run: a different finance user than its creator."""
    runtime = _runtime(database_url)
    try:
        with runtime.engine.begin() as conn:
            view = payouts.approve_run(conn, run_id, actor=f"cli:{actor}",
                                       now=runtime.clock.now())
    except ServiceError as exc:
        _fail(exc)
        return
    _show(view)


@app.command()
def pay(
    payout_id: str,
    actor: str = ActorOption,
    reference: str | None = typer.Option(None, help="The bank's or wallet's payment reference."),
    failed: str | None = typer.Option(None, help="Mark failed with this reason instead."),
    database_url: str | None = DatabaseOption,
) -> None:
    """Mark one approved payout paid (with its reference) or failed (with a reason)."""
    if (reference is None) == (failed is None):
        raise typer.BadParameter("give exactly one of --reference or --failed")
    runtime = _runtime(database_url)
    try:
        with runtime.engine.begin() as conn:
            if reference is not None:
                row = payouts.mark_paid(conn, payout_id, reference=reference,
                                        actor=f"cli:{actor}", now=runtime.clock.now())
            else:
                row = payouts.mark_failed(conn, payout_id, reason=failed or "",
                                          actor=f"cli:{actor}", now=runtime.clock.now())
    except ServiceError as exc:
        _fail(exc)
        return
    console.print(f"payout {row['id']}: {row['status']}")


@app.command()
def files(
    run_id: str,
    output_dir: Path = typer.Option(Path("."), help="Where to write the files."),
    debtor_name: str | None = typer.Option(None, help="Paying account holder (SEPA)."),
    debtor_iban: str | None = typer.Option(None, help="Paying account IBAN (SEPA)."),
    database_url: str | None = DatabaseOption,
) -> None:
    """Write the run's payments CSV and, if it has EUR bank payouts, its pain.001 file."""
    runtime = _runtime(database_url)
    output_dir.mkdir(parents=True, exist_ok=True)
    with runtime.engine.connect() as conn:
        try:
            csv_path = output_dir / f"payouts-{run_id}.csv"
            csv_path.write_text(payment_files.run_csv(conn, run_id), encoding="utf-8")
            console.print(f"wrote {csv_path}")
            xml = payment_files.run_pain001(conn, run_id, execution_date=runtime.clock.now().date(),
                                            debtor_name=debtor_name, debtor_iban=debtor_iban)
        except ServiceError as exc:
            _fail(exc)
            return
    xml_path = output_dir / f"pain001-{run_id}.xml"
    xml_path.write_bytes(xml)
    console.print(f"wrote {xml_path}")
