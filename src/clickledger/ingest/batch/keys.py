"""Idempotency keys for imported rows.

A row keeps the operator's transaction id when the file has a transaction id
column (an empty cell there is an error, ``missing_txn_id``).  A file without
one gets a documented deterministic key per row, so re-importing the same or
an overlapping file finds the same keys:

    k1:<kind>|<player>|<time>|<amount_minor>|<currency>|<lots_milli>|<instrument>|<spread_minor>|<bets>|<wins>|<bonus>|<chargebacks>

where ``<time>`` is ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (the activity day at
midnight for activity rows) and absent values are empty.  A key longer than
255 characters is replaced by ``k1h:`` + the SHA-256 hex digest of that text.
Two rows with identical content therefore share a key: an operator file that
lacks transaction ids cannot express two identical events on the same
microsecond, and such a copy is counted as a duplicate.
"""

from __future__ import annotations

import hashlib

import polars as pl

KEY_VERSION = "k1"
MAX_KEY_CHARS = 255
CANONICAL_PARTS = (
    "event_kind", "player_id", "_time", "amount_t", "currency", "lots_t", "instrument",
    "spread_t", "bets_t", "wins_t", "bonus_t", "chargebacks_t",
)
FINGERPRINT_EXTRA = ("click_id", "promo_code", "country", "account_type", "reverses_txn_id",
                     "status")


def _time(frame: pl.DataFrame) -> pl.Expr:
    if "occurred_at_t" in frame.columns:
        return pl.col("occurred_at_t").cast(pl.String)
    return pl.col("activity_day_t").cast(pl.String)


def _part(frame: pl.DataFrame, name: str) -> pl.Expr:
    if name == "_time":
        return _time(frame).fill_null("")
    if name not in frame.columns:
        return pl.lit("")
    return pl.col(name).cast(pl.String).fill_null("")


def canonical(frame: pl.DataFrame) -> pl.Expr:
    """The documented canonical text of a row (see the module docstring)."""
    return pl.concat_str([_part(frame, name) for name in CANONICAL_PARTS], separator="|")


def fingerprint(frame: pl.DataFrame) -> pl.Expr:
    """An in-memory hash of everything a row says, to tell identical copies from conflicts."""
    extra = [_part(frame, name) for name in FINGERPRINT_EXTRA]
    return pl.concat_str([canonical(frame), *extra], separator="|").hash(seed=0)


def add_keys(frame: pl.DataFrame, has_txn_column: bool) -> pl.DataFrame:
    """Add the deterministic ``txn_id`` to rows of a file that has no transaction ids."""
    if has_txn_column:
        return frame
    keyed = frame.with_columns((pl.lit(f"{KEY_VERSION}:") + canonical(frame)).alias("txn_id"))
    too_long = keyed["txn_id"].str.len_chars() > MAX_KEY_CHARS
    if too_long.any():
        idx = too_long.arg_true()
        hashed = [
            f"{KEY_VERSION}h:" + hashlib.sha256(value.encode()).hexdigest()
            for value in keyed["txn_id"].gather(idx).str.slice(len(KEY_VERSION) + 1).to_list()
        ]
        keyed = keyed.with_columns(keyed["txn_id"].scatter(idx, hashed))
    return keyed
