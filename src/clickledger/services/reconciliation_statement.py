"""Reading an operator statement (CSV, gzip CSV or JSON Lines) into typed lines.

Columns, by statement kind (header names are matched case-insensitively):

* ``events`` (one line per player event): ``txn_id``, ``amount``, ``currency``;
  optional ``affiliate``, ``player_id``, ``kind``, ``occurred_at``;
* ``players`` (one line per player and period, its commission): ``player_id``,
  ``amount``, ``currency``; optional ``affiliate``;
* ``affiliates`` (one line per affiliate and period, its commission):
  ``affiliate``, ``amount``, ``currency``.

``affiliate`` may be our affiliate id, its e-mail or its name.  Amounts are
exact (decimal comma accepted), commission figures may be negative.  Any bad
line rejects the statement with every error listed.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from clickledger.domain.money import MINOR_UNITS
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.batch.parse import money_column
from clickledger.ingest.batch.reader import (
    LINE,
    FileError,
    RawTable,
    is_json_lines,
    read_csv_text,
    read_json_lines,
    unpack,
)
from clickledger.services.reconciliation_kinds import StatementKind as StatementKind

MAX_ERRORS_REPORTED = 20
MAX_KEY_CHARS = 255

KEY_COLUMN = {
    StatementKind.EVENTS: "txn_id", StatementKind.PLAYERS: "player_id",
    StatementKind.AFFILIATES: "affiliate",
}
OPTIONAL = ("affiliate", "player_id", "kind", "occurred_at")
ALIASES = {"affiliate_id": "affiliate", "aff_id": "affiliate", "commission": "amount",
           "transaction_id": "txn_id", "user_id": "player_id"}


class StatementError(ValueError):
    """A statement that cannot be reconciled, with a stable code and the line errors."""

    def __init__(self, code: str, message: str, errors: list[dict[str, object]] | None = None):
        super().__init__(message)
        self.code = code
        self.errors = errors or []


@dataclass
class Statement:
    kind: StatementKind
    lines: pl.DataFrame  # line, key, theirs_minor, theirs_currency, operator_affiliate_id, …


def read_statement(data: bytes, file_name: str, kind: StatementKind,
                   limits: ImportLimits) -> Statement:
    """Parse and check every line; raise ``StatementError`` if any is bad."""
    try:
        data = unpack(data, limits)
        wanted = sorted({KEY_COLUMN[kind], "amount", "currency", *OPTIONAL, *ALIASES})
        raw = (read_json_lines(data, wanted) if is_json_lines(data, file_name)
               else read_csv_text(data, ","))
    except FileError as exc:
        raise StatementError(exc.code, exc.message) from exc
    if raw.data_lines > limits.max_rows:
        raise StatementError("too_many_rows", f"{raw.data_lines} lines; limit {limits.max_rows}")
    frame = _columns(raw, kind)
    frame = money_column(frame.with_columns(pl.col("currency").str.to_uppercase().alias(
        "currency")).with_columns(pl.col("currency").replace_strict(
            MINOR_UNITS, default=None, return_dtype=pl.Int64).alias("_exp")),
        "amount", pl.col("_exp"), decimal_comma=False)
    _check(frame, raw)
    return Statement(kind=kind, lines=frame.select(
        pl.col(LINE).alias("line"), pl.col("key"), pl.col("amount_t").alias("theirs_minor"),
        pl.col("currency").alias("theirs_currency"),
        pl.col("affiliate").alias("operator_affiliate_id"),
        *(pl.col(name) for name in ("player_id", "kind", "occurred_at") if name in frame.columns),
    ))


def _columns(raw: RawTable, kind: StatementKind) -> pl.DataFrame:
    by_name: dict[str, str] = {}
    for header in raw.headers:
        name = header.strip().lower()
        name = ALIASES.get(name, name)
        by_name.setdefault(name, header)
    key = KEY_COLUMN[kind]
    missing = [name for name in (key, "amount", "currency") if name not in by_name]
    if missing:
        raise StatementError(
            "wrong_kind", f"a {kind.value} statement needs columns {missing}; "
            f"this file has {raw.headers}")
    keep = [key, "amount", "currency", *(n for n in OPTIONAL if n in by_name and n != key)]
    frame = raw.frame.select(pl.col(LINE), *(
        pl.col(by_name[name]).str.strip_chars().replace("", None).alias(name) for name in keep))
    frame = frame.with_columns(pl.col(key).alias("key"))
    if "affiliate" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("affiliate"))
    return frame


def _check(frame: pl.DataFrame, raw: RawTable) -> None:
    problems = [raw.errors]
    checks = [
        (pl.col("key").is_null(), "key", "missing_value", "the key column is empty"),
        (pl.col("key").str.len_chars() > MAX_KEY_CHARS, "key", "too_long", "key too long"),
        (pl.col("currency").is_null() | pl.col("_exp").is_null(), "currency",
         "unknown_currency", "missing or unknown currency"),
        (pl.col("amount").is_null() | pl.col("amount_bad") | pl.col("amount_big"), "amount",
         "invalid_amount", "missing or invalid amount"),
    ]
    for bad, column, code, message in checks:
        problems.append(frame.filter(bad.fill_null(False)).select(
            pl.col(LINE).alias("line"), pl.lit(column).alias("column"), pl.lit(code).alias("code"),
            pl.lit(message).alias("message")))
    errors = pl.concat(problems).sort("line")
    if errors.height:
        raise StatementError(
            "invalid_statement", f"{errors['line'].n_unique()} statement line(s) are invalid",
            errors.head(MAX_ERRORS_REPORTED).to_dicts())
