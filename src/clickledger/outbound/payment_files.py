"""Payment files for the money to leave: a CSV any payment system reads, and SEPA pain.001.

- CSV: one row per payout, every cell that a spreadsheet would read as a
  formula (``= + - @``, tab, carriage return, also after leading spaces and
  their full-width forms) is prefixed with ``'`` (OWASP CSV injection).
- pain.001.001.03 (SEPA credit transfer) is built and validated against the
  XSD by the maintained ``sepaxml`` library; only EUR bank payouts go in.
  The debtor (the operator's own account) comes from ``CLICKLEDGER_SEPA_*``
  environment variables or the caller.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from clickledger.domain.money import format_money, from_minor
from clickledger.domain.payment_methods import validate_bic, validate_iban

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
SEPA_CURRENCY = "EUR"
SEPA_SCHEMA = "pain.001.001.03"
MAX_SEPA_TRANSACTIONS = 100_000
MAX_END_TO_END_CHARS = 35

CSV_COLUMNS = (
    "payout_id", "run_id", "affiliate_id", "affiliate_name", "method", "account_holder",
    "iban", "bic", "wallet_provider", "wallet_account", "crypto_network", "crypto_address",
    "amount", "currency", "gross", "fees", "withholding", "balance_amount", "balance_currency",
    "fx_rate", "end_to_end_id", "description",
)


class PaymentFileError(ValueError):
    """A payment file that cannot be made, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SepaDebtorSettings(BaseSettings):
    """The operator's own account that SEPA transfers are paid from."""

    model_config = SettingsConfigDict(env_prefix="CLICKLEDGER_SEPA_", extra="ignore")

    debtor_name: str = ""
    debtor_iban: str = ""
    debtor_bic: str = ""


@dataclass(frozen=True, slots=True)
class PaymentLine:
    """One approved payout, as a payment file needs it."""

    payout_id: str
    run_id: str
    affiliate_id: str
    affiliate_name: str
    net_minor: int
    payout_currency: str
    gross_minor: int
    fees_minor: int
    withholding_minor: int
    balance_minor: int
    balance_currency: str
    fx_rate: str | None
    details: dict[str, Any]
    description: str

    @property
    def end_to_end_id(self) -> str:
        return self.payout_id.replace("-", "")[:MAX_END_TO_END_CHARS]


def safe_cell(value: object) -> str:
    """``value`` as text a spreadsheet will not execute."""
    text = "" if value is None else str(value)
    if text.lstrip(" ").startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _amount(amount_minor: int, currency: str) -> str:
    return format_money(from_minor(amount_minor, currency), currency).split(" ")[0]


def _csv_row(line: PaymentLine) -> list[str]:
    d = line.details
    cur = line.payout_currency
    values: list[object] = [
        line.payout_id, line.run_id, line.affiliate_id, line.affiliate_name, d.get("method"),
        d.get("account_holder"), d.get("iban"), d.get("bic"), d.get("provider"),
        d.get("account_id"), d.get("network"), d.get("address"),
        _amount(line.net_minor, cur), cur, _amount(line.gross_minor, cur),
        _amount(line.fees_minor, cur), _amount(line.withholding_minor, cur),
        _amount(line.balance_minor, line.balance_currency), line.balance_currency,
        line.fx_rate, line.end_to_end_id, line.description,
    ]
    return [safe_cell(value) for value in values]


def render_csv(lines: Sequence[PaymentLine]) -> str:
    """A header and one row per payout; every cell injection-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        writer.writerow(_csv_row(line))
    return buffer.getvalue()


def sepa_eligible(line: PaymentLine) -> bool:
    return line.payout_currency == SEPA_CURRENCY and line.details.get("method") == "bank"


def _debtor(name: str | None, iban: str | None, bic: str | None) -> dict[str, Any]:
    defaults = SepaDebtorSettings()
    debtor_name = (name or defaults.debtor_name).strip()
    debtor_iban = (iban or defaults.debtor_iban).strip()
    debtor_bic = (bic or defaults.debtor_bic).strip()
    if not debtor_name or not debtor_iban:
        raise PaymentFileError("sepa_debtor_missing", "the paying account's name and IBAN are "
                               "needed (CLICKLEDGER_SEPA_DEBTOR_NAME / _IBAN)")
    try:
        config: dict[str, Any] = {"name": debtor_name, "IBAN": validate_iban(debtor_iban),
                                  "batch": True, "currency": SEPA_CURRENCY}
        if debtor_bic:
            config["BIC"] = validate_bic(debtor_bic)
    except ValueError as exc:
        raise PaymentFileError("invalid_sepa_debtor", str(exc)) from exc
    return config


def _sepa_payment(line: PaymentLine, execution_date: date) -> dict[str, Any]:
    payment: dict[str, Any] = {
        "name": str(line.details.get("account_holder") or line.affiliate_name),
        "IBAN": str(line.details["iban"]), "amount": int(line.net_minor),
        "execution_date": execution_date, "description": line.description[:140],
        "endtoend_id": line.end_to_end_id,
    }
    if line.details.get("bic"):
        payment["BIC"] = str(line.details["bic"])
    return payment


def render_pain001(
    lines: Sequence[PaymentLine], *, execution_date: date, debtor_name: str | None = None,
    debtor_iban: str | None = None, debtor_bic: str | None = None,
) -> bytes:
    """A schema-valid pain.001.001.03 credit transfer of every EUR bank payout in ``lines``."""
    eligible = [line for line in lines if sepa_eligible(line)]
    if not eligible:
        raise PaymentFileError("no_sepa_payouts", "no approved EUR bank payouts to put in a file")
    if len(eligible) > MAX_SEPA_TRANSACTIONS:
        raise PaymentFileError("too_many_payouts", f"at most {MAX_SEPA_TRANSACTIONS} per file")
    # sepaxml (lxml, XSD schemas) is heavy: loaded on first use, not at server start.
    from sepaxml import SepaTransfer  # type: ignore[import-untyped]  # noqa: PLC0415

    transfer = SepaTransfer(_debtor(debtor_name, debtor_iban, debtor_bic), schema=SEPA_SCHEMA,
                            clean=True)
    try:
        for line in eligible:
            transfer.add_payment(_sepa_payment(line, execution_date))
        out: bytes = transfer.export(validate=True)
    except Exception as exc:  # sepaxml raises bare Exception and its own ValidationError
        raise PaymentFileError("invalid_sepa_file", f"pain.001 not valid: {exc}") from exc
    return out


def total(lines: Sequence[PaymentLine], currency: str) -> Decimal:
    """Sum of net amounts in ``currency`` (for file checks and screens)."""
    return sum((from_minor(line.net_minor, currency) for line in lines
                if line.payout_currency == currency), Decimal(0))
