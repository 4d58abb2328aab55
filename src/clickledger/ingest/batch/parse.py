"""Validating an operator file with vectorised polars expressions, never row by row.

``parse_file`` turns a file into typed rows ready to insert and a frame of
per-line errors ``{line, column, code, message}``.  Error codes:
``malformed_line``, ``missing_value``, ``missing_txn_id``, ``too_long``,
``invalid_date``, ``future_date``, ``invalid_amount``, ``negative_amount``,
``amount_too_large``, ``unknown_currency``, ``invalid_country``,
``unknown_status``, ``conflicting_txn_id``.  Whole-file problems raise
``FileError`` (``file_too_large``, ``not_text``, ``not_utf8``, ``wrong_kind``,
``missing_currency``, ``too_many_rows``, ``empty_file``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from clickledger.clock import utc
from clickledger.domain.money import MAX_AMOUNT_MINOR, MINOR_UNITS
from clickledger.ingest.batch.keys import add_keys, fingerprint
from clickledger.ingest.batch.kinds import (
    ALL_FIELDS,
    MAX_LENGTHS,
    SKIP,
    SPECS,
    TEXT_FIELDS,
    FileKind,
)
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.batch.profiles import Profile
from clickledger.ingest.batch.reader import (
    ERROR_SCHEMA,
    LINE,
    FileError,
    RawTable,
    is_json_lines,
    load_bytes,
    read_csv_text,
    read_json_lines,
    unpack,
)

ISO_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d",
)
FRACTION_DIGITS = 9  # digits of a decimal fraction read exactly; more are only rounded
LOTS_EXPONENT = 3  # lots are stored in thousandths


@dataclass
class ParsedFile:
    """Typed rows ready to insert, and every error found, in line order."""

    rows: pl.DataFrame
    errors: pl.DataFrame
    data_lines: int
    skipped: int  # rows whose status word maps to "skip"
    duplicates_in_file: int  # later copies of a row already in the file


def parse_file(
    path: Path, kind: FileKind, profile: Profile, now: datetime, limits: ImportLimits
) -> ParsedFile:
    """Read ``path`` and validate every line against ``kind`` and ``profile``."""
    return parse_bytes(load_bytes(path, limits), path.name, kind, profile, now, limits)


def parse_bytes(
    data: bytes, file_name: str, kind: FileKind, profile: Profile, now: datetime,
    limits: ImportLimits,
) -> ParsedFile:
    data = unpack(data, limits)
    if is_json_lines(data, file_name):
        raw = read_json_lines(data, _wanted_headers(profile))
    else:
        raw = read_csv_text(data, profile.delimiter)
    if raw.data_lines > limits.max_rows:
        raise FileError(
            "too_many_rows", f"the file has {raw.data_lines} rows; the limit is {limits.max_rows}"
        )
    fields = _map_columns(raw, kind, profile)
    return _validate(fields, raw, kind, profile, utc(now), limits)


def _wanted_headers(profile: Profile) -> list[str]:
    return sorted({profile.header_for(name) for name in ALL_FIELDS})


def _map_columns(raw: RawTable, kind: FileKind, profile: Profile) -> pl.DataFrame:
    """Rename the operator's headers to our fields; refuse a file missing required ones."""
    by_lower = {header.strip().lower(): header for header in raw.headers}
    selected: dict[str, str] = {}
    for name in ALL_FIELDS:
        header = by_lower.get(profile.header_for(name).strip().lower())
        if header is not None:
            selected[name] = header
    spec = SPECS[kind]
    missing = [name for name in spec.required if name not in selected]
    if spec.any_of and not any(name in selected for name in spec.any_of):
        missing.append(" or ".join(spec.any_of))
    if missing:
        wanted = [profile.header_for(name) if " or " not in name else name for name in missing]
        raise FileError(
            "wrong_kind",
            f"a {kind.value} file needs columns {wanted}; this file has {raw.headers} "
            "(is it a file of another kind, or does it need a mapping profile?)",
        )
    needs_currency = any(name in selected for name in spec.money)
    if needs_currency and "currency" not in selected and not profile.fixed_currency:
        raise FileError(
            "missing_currency", "the file has amounts but no currency column and no fixed currency"
        )
    exprs = [pl.col(header).str.strip_chars().alias(name) for name, header in selected.items()]
    frame = raw.frame.select(pl.col(LINE), *exprs)
    frame = frame.with_columns(
        pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name)).alias(name)
        for name in selected
    )
    if profile.fixed_currency:
        frame = frame.with_columns(pl.lit(profile.fixed_currency.upper()).alias("currency"))
    return frame


class _Errors:
    """Collects per-line errors as small frames, concatenated once."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        self.parts: list[pl.DataFrame] = []

    def add(self, bad: pl.Expr, column: str, code: str, message: pl.Expr | str) -> None:
        text = pl.lit(message) if isinstance(message, str) else message
        part = self.frame.filter(bad).select(
            pl.col(LINE).alias("line"), pl.lit(column).alias("column"), pl.lit(code).alias("code"),
            text.alias("message"),
        )
        if part.height:
            self.parts.append(part)


def _validate(
    frame: pl.DataFrame, raw: RawTable, kind: FileKind, profile: Profile, now: datetime,
    limits: ImportLimits,
) -> ParsedFile:
    spec = SPECS[kind]
    present = set(frame.columns)
    frame = _typed(frame, present, profile, now)
    errors = _Errors(frame)
    _check_required(errors, spec.required, present)
    _check_text(errors, present)
    _check_dates(errors, present, now, limits)
    _check_money(errors, present, spec.money)
    frame = _apply_status(frame, errors, present, profile, spec.event_kind.value)
    if spec.any_of:
        none_given = pl.all_horizontal(pl.col(n).is_null() for n in spec.any_of if n in present)
        errors.add(none_given, "/".join(spec.any_of), "missing_value", "no amount on this line")
    all_errors = pl.concat([raw.errors, *errors.parts]) if errors.parts else raw.errors
    bad_lines = all_errors["line"].unique()
    skipped_mask = pl.col("event_kind") == SKIP
    skipped = frame.filter(skipped_mask & ~pl.col(LINE).is_in(bad_lines.implode())).height
    valid = frame.filter(~pl.col(LINE).is_in(bad_lines.implode()) & ~skipped_mask)
    valid = add_keys(valid, "txn_id" in present)
    valid, dup_errors, duplicates = _in_file_duplicates(valid)
    if dup_errors.height:
        all_errors = pl.concat([all_errors, dup_errors])
    all_errors = all_errors.sort("line", "column", maintain_order=True)
    return ParsedFile(rows=valid, errors=all_errors.cast(ERROR_SCHEMA),  # type: ignore[arg-type]
                      data_lines=raw.data_lines, skipped=skipped, duplicates_in_file=duplicates)


def _typed(frame: pl.DataFrame, present: set[str], profile: Profile, now: datetime) -> pl.DataFrame:
    """Add the typed twin (``_t`` suffix) of every date, amount and lots column."""
    if "currency" in present:
        frame = frame.with_columns(pl.col("currency").str.to_uppercase())
        frame = frame.with_columns(pl.col("currency").replace_strict(
            MINOR_UNITS, default=None, return_dtype=pl.Int64).alias("_exp"))
    for name in ("amount", "spread", "bets", "wins", "bonus", "chargebacks"):
        if name in present:
            frame = money_column(frame, name, pl.col("_exp"), profile.decimal_comma)
    if "lots" in present:
        frame = money_column(frame, "lots", pl.lit(LOTS_EXPONENT, pl.Int64),
                              profile.decimal_comma)
    if "country" in present:
        frame = frame.with_columns(pl.col("country").str.to_uppercase())
    for name in ("occurred_at", "activity_day"):
        if name in present:
            frame = frame.with_columns(_parse_dates(frame[name], profile.date_formats).alias(
                f"{name}_t"))
    del now
    return frame


def money_column(frame: pl.DataFrame, name: str, exponent: pl.Expr,
                  decimal_comma: bool) -> pl.DataFrame:
    """Add ``name``'s exact integer minor units and flags: not a number, negative, too large.

    Like postbacks, an amount is never rounded: more decimals than the currency
    has (beyond trailing zeros) make it invalid.  The text is read by polars'
    exact decimal parser (no float anywhere).
    """
    text = pl.col(name)
    if decimal_comma:
        text = pl.when(text.str.contains(".", literal=True)).then(None).otherwise(
            text.str.replace(",", ".", literal=True))
    elif frame.select(text.str.contains(",", literal=True).any()).item():
        lone_comma = text.str.count_matches(",", literal=True).eq(1) & ~text.str.contains(
            ".", literal=True)
        text = pl.when(lone_comma).then(text.str.replace(",", ".", literal=True)).otherwise(text)
    digits = range(FRACTION_DIGITS + 1)
    staged = frame.with_columns(
        (text.cast(pl.Decimal(38, FRACTION_DIGITS), strict=False) * pl.lit(10**FRACTION_DIGITS))
        .cast(pl.Int128, strict=False).alias("_scaled"),
        exponent.replace_strict({e: 10 ** (FRACTION_DIGITS - e) for e in digits}, default=None,
                                return_dtype=pl.Int128).alias("_divisor"),
        (text.str.len_bytes().cast(pl.Int64) - text.str.find(".", literal=True) - 1
         > FRACTION_DIGITS).fill_null(False).alias("_too_long"),
    ).with_columns((pl.col("_scaled") // pl.col("_divisor")).alias("_minor"))
    too_large = (pl.col("_minor").abs() > MAX_AMOUNT_MINOR).fill_null(False)
    too_precise = (pl.col("_scaled") % pl.col("_divisor") != 0).fill_null(False) | pl.col(
        "_too_long")
    return staged.with_columns(
        pl.when(too_large).then(None).otherwise(pl.col("_minor")).cast(pl.Int64).alias(
            f"{name}_t"),
        (pl.col(name).is_not_null() & (pl.col("_scaled").is_null() | too_precise)).alias(
            f"{name}_bad"),
        (pl.col("_minor") < 0).fill_null(False).alias(f"{name}_neg"),
        too_large.alias(f"{name}_big"),
    ).drop("_scaled", "_divisor", "_too_long", "_minor")


def _parse_dates(text: pl.Series, formats: tuple[str, ...]) -> pl.Series:
    """Naive-UTC datetimes; each format is tried only on the values still unparsed."""
    normalized = text
    out = pl.Series(text.name, [None] * len(text), dtype=pl.Datetime("us"))
    todo = normalized.is_not_null()
    for fmt in formats or ISO_FORMATS:
        if not todo.any():
            break
        idx = todo.arg_true()
        parsed = normalized.gather(idx).str.strptime(pl.Datetime("us"), fmt, strict=False)
        if isinstance(parsed.dtype, pl.Datetime) and parsed.dtype.time_zone is not None:
            parsed = parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        hit = parsed.is_not_null()
        out = out.scatter(idx.filter(hit), parsed.filter(hit))
        todo = todo.scatter(idx.filter(hit), False)
    return out


def _check_required(errors: _Errors, required: tuple[str, ...], present: set[str]) -> None:
    for name in required:
        errors.add(pl.col(name).is_null(), name, "missing_value", f"{name} is empty")
    if "txn_id" in present:
        errors.add(pl.col("txn_id").is_null(), "txn_id", "missing_txn_id",
                   "the transaction id is empty")


def _check_text(errors: _Errors, present: set[str]) -> None:
    for name in TEXT_FIELDS:
        if name in present:
            limit = MAX_LENGTHS[name]
            errors.add(pl.col(name).str.len_chars() > limit, name, "too_long",
                       f"longer than {limit} characters")
    if "country" in present:
        errors.add(pl.col("country").is_not_null() & ~pl.col("country").str.contains("^[A-Z]{2}$"),
                   "country", "invalid_country", "not a two-letter country code")
    if "currency" in present:
        errors.add(pl.col("currency").is_not_null() & pl.col("_exp").is_null(), "currency",
                   "unknown_currency", pl.format("unknown currency {}", pl.col("currency")))


def _check_dates(errors: _Errors, present: set[str], now: datetime, limits: ImportLimits) -> None:
    latest = now.replace(tzinfo=None).timestamp() + limits.future_skew_seconds
    for name in ("occurred_at", "activity_day"):
        if name not in present:
            continue
        typed = pl.col(f"{name}_t")
        errors.add(pl.col(name).is_not_null() & typed.is_null(), name, "invalid_date",
                   pl.format("not a date: {}", pl.col(name)))
        future = typed.dt.epoch("s") > int(latest)
        errors.add(future.fill_null(False), name, "future_date",
                   pl.format("{} is in the future", pl.col(name)))


def _check_money(errors: _Errors, present: set[str], money: tuple[str, ...]) -> None:
    for name in (*money, "lots"):
        if name not in present:
            continue
        errors.add(pl.col(f"{name}_bad") & ~pl.col(f"{name}_big"), name, "invalid_amount",
                   pl.format("not an amount (or more decimals than its currency has): {}",
                             pl.col(name)))
        errors.add(pl.col(f"{name}_neg"), name, "negative_amount",
                   pl.format("negative amounts are not accepted here: {}", pl.col(name)))
        errors.add(pl.col(f"{name}_big"), name, "amount_too_large",
                   pl.format("too large: {}", pl.col(name)))


def _apply_status(
    frame: pl.DataFrame, errors: _Errors, present: set[str], profile: Profile, default_kind: str
) -> pl.DataFrame:
    """Each row's event kind: the file's kind, or what its status word maps to."""
    if "status" not in present or not profile.status_words:
        return frame.with_columns(pl.lit(default_kind).alias("event_kind"))
    words = {key.strip().lower(): value for key, value in profile.status_words.items()}
    mapped = pl.col("status").str.to_lowercase().replace_strict(
        words, default=None, return_dtype=pl.String)
    frame = frame.with_columns(
        pl.when(pl.col("status").is_null()).then(pl.lit(default_kind)).otherwise(mapped)
        .alias("event_kind")
    )
    errors.frame = frame
    errors.add(pl.col("event_kind").is_null(), "status", "unknown_status",
               pl.format("unknown status word {}", pl.col("status")))
    return frame


def _in_file_duplicates(valid: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Keep the first row of each txn id; later identical copies are counted, others are errors."""
    if valid.height == 0 or valid["txn_id"].n_unique() == valid.height:
        return valid, pl.DataFrame(schema=ERROR_SCHEMA), 0
    first = pl.col("txn_id").is_first_distinct()
    repeated = pl.col("txn_id").is_duplicated()
    marked = valid.with_columns(
        pl.when(repeated).then(fingerprint(valid)).otherwise(None).alias("_fingerprint"))
    firsts = marked.filter(first).drop("_fingerprint")
    reference = marked.filter(first & repeated).select(
        "txn_id", pl.col("_fingerprint").alias("_first_fp"), pl.col(LINE).alias("_first_line")
    )
    later = marked.filter(~first).join(reference, on="txn_id", how="left")
    clash = later.filter(pl.col("_fingerprint") != pl.col("_first_fp"))
    dup_errors = clash.select(
        pl.col(LINE).alias("line"), pl.lit("txn_id").alias("column"),
        pl.lit("conflicting_txn_id").alias("code"),
        pl.format("transaction id also on line {} with different values",
                  pl.col("_first_line")).alias("message"),
    )
    return firsts, dup_errors, later.height - clash.height
