"""The reconciliation rules of ``domain.reconciliation``, vectorised with polars joins.

Million-line statements cannot go line by line through Python objects; this
module applies the same flags, differences and proposals (see the rules in
``domain.reconciliation``) to whole frames.  A test holds both equal.

Inputs are two frames keyed by ``key``:

* statement: ``line``, ``key``, ``theirs_minor``, ``theirs_currency``,
  ``operator_affiliate_id`` and ``theirs_affiliate_id``;
* ours: ``key`` (unique), ``ours_minor``, ``currency``, ``affiliate_id``.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from clickledger.domain.reconciliation import Flag

ITEM_COLUMNS: dict[str, pl.DataType] = {
    "line": pl.Int64(), "key": pl.String(), "flag": pl.String(), "affiliate_id": pl.String(),
    "operator_affiliate_id": pl.String(), "ours_minor": pl.Int64(), "theirs_minor": pl.Int64(),
    "difference_minor": pl.Int64(), "currency": pl.String(), "theirs_currency": pl.String(),
    "proposed_adjustment_minor": pl.Int64(),
}
STATEMENT_COLUMNS = ("line", "key", "theirs_minor", "theirs_currency", "operator_affiliate_id",
                     "theirs_affiliate_id")
OURS_COLUMNS = ("key", "ours_minor", "currency", "affiliate_id")


def _flag(tolerance_minor: int) -> pl.Expr:
    theirs_here = pl.col("line").is_not_null()
    ours_here = pl.col("_ours_here").fill_null(False)
    named = pl.col("operator_affiliate_id").is_not_null()
    other_affiliate = named & (
        pl.col("theirs_affiliate_id").is_null() | pl.col("affiliate_id").is_null()
        | (pl.col("theirs_affiliate_id") != pl.col("affiliate_id")).fill_null(True))
    gap = (pl.col("theirs_minor") - pl.col("ours_minor")).abs()
    return (
        pl.when(~ours_here).then(pl.lit(Flag.MISSING_IN_CLICKLEDGER.value))
        .when(~theirs_here).then(pl.lit(Flag.MISSING_IN_OPERATOR.value))
        .when(pl.col("theirs_currency") != pl.col("currency"))
        .then(pl.lit(Flag.CURRENCY_MISMATCH.value))
        .when(other_affiliate).then(pl.lit(Flag.DIFFERENT_AFFILIATE.value))
        .when(gap > tolerance_minor).then(pl.lit(Flag.AMOUNT_MISMATCH.value))
        .otherwise(pl.lit(Flag.MATCHED.value))
    )


def _proposal(proposes_money: bool) -> pl.Expr:
    if not proposes_money:
        return pl.lit(None, pl.Int64)
    flag = pl.col("flag")
    return (
        pl.when(flag == Flag.AMOUNT_MISMATCH.value).then(pl.col("difference_minor"))
        .when((flag == Flag.MISSING_IN_CLICKLEDGER.value)
              & pl.col("theirs_affiliate_id").is_not_null()
              & (pl.col("theirs_minor") != 0))
        .then(pl.col("theirs_minor"))
        .otherwise(None)
    )


def match(statement: pl.DataFrame, ours: pl.DataFrame, tolerance_minor: int,
          proposes_money: bool) -> pl.DataFrame:
    """One item per statement line and per unlisted record of ours (see the module rules)."""
    if tolerance_minor < 0:
        raise ValueError("the tolerance cannot be negative")
    statement = statement.select(STATEMENT_COLUMNS).sort("line")
    first = pl.col("key").is_first_distinct()
    repeats = statement.filter(~first)
    ours = ours.select(OURS_COLUMNS).with_columns(pl.lit(True).alias("_ours_here"))
    joined = statement.filter(first).join(ours, on="key", how="full", coalesce=True)
    items = joined.with_columns(_flag(tolerance_minor).alias("flag")).with_columns(
        pl.when(pl.col("theirs_currency") == pl.col("currency"))
        .then(pl.col("theirs_minor") - pl.col("ours_minor")).otherwise(None)
        .alias("difference_minor"),
        pl.coalesce("affiliate_id", "theirs_affiliate_id").alias("affiliate_id"),
    )
    items = items.with_columns(
        _proposal(proposes_money).alias("proposed_adjustment_minor"),
        pl.coalesce("currency", "theirs_currency").alias("currency"),
    )
    dupes = repeats.with_columns(
        pl.lit(Flag.DUPLICATE.value).alias("flag"),
        pl.col("theirs_affiliate_id").alias("affiliate_id"),
        pl.col("theirs_currency").alias("currency"),
        pl.lit(None, pl.Int64).alias("ours_minor"),
        pl.lit(None, pl.Int64).alias("difference_minor"),
        pl.lit(None, pl.Int64).alias("proposed_adjustment_minor"),
    )
    columns = list(ITEM_COLUMNS)
    found = pl.concat([items.select(columns), dupes.select(columns)]).cast(
        pl.Schema(ITEM_COLUMNS))
    # in line order (each line once), then our unlisted records by key: the same order as
    # sorting by (line, key) with nulls last, without a two-column sort of a million rows
    listed = pl.col("line").is_not_null()
    return pl.concat([found.filter(listed).sort("line"), found.filter(~listed).sort("key")])


def summarize(items: pl.DataFrame) -> dict[str, Any]:
    """Counts per flag, and per affiliate and currency: lines, flags, ours, theirs, difference.

    Amounts are summed per currency; an operator figure in another currency than
    ours (a currency mismatch) is left out of the sums, never mixed in.
    """
    flags = dict(items.group_by("flag").len().iter_rows())
    # the operator's figure counts toward a currency only when it is in that currency
    items = items.with_columns(
        pl.when(pl.col("theirs_currency") == pl.col("currency")).then(pl.col("theirs_minor"))
        .otherwise(None).alias("theirs_minor"))
    per_affiliate = (
        items.group_by("affiliate_id", "operator_affiliate_id", "currency")
        .agg(
            pl.len().alias("lines"),
            pl.col("ours_minor").sum().alias("ours_minor"),
            pl.col("theirs_minor").sum().alias("theirs_minor"),
            pl.col("difference_minor").sum().alias("difference_minor"),
            pl.col("proposed_adjustment_minor").sum().alias("proposed_adjustment_minor"),
            *(
                (pl.col("flag") == flag.value).sum().alias(flag.value)
                for flag in Flag
            ),
        )
        .sort("affiliate_id", "operator_affiliate_id", "currency", nulls_last=True)
    )
    totals = items.group_by("currency").agg(
        pl.len().alias("lines"),
        pl.col("ours_minor").sum().alias("ours_minor"),
        pl.col("theirs_minor").sum().alias("theirs_minor"),
        pl.col("difference_minor").sum().alias("difference_minor"),
    ).sort("currency", nulls_last=True)
    return {
        "flags": {str(k): int(v) for k, v in flags.items()},
        "by_affiliate": per_affiliate.to_dicts(),
        "brand_totals": totals.to_dicts(),
    }
