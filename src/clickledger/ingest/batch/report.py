"""Error reports as CSV, safe to open in a spreadsheet.

A cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return)
could run as a formula in Excel or LibreOffice; such a cell is prefixed with a
single quote.  Operator-supplied text ends up in error messages, so every
cell is treated this way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ERROR_COLUMNS = ("line", "column", "code", "message")


def safe_cell(value: object) -> str:
    """``value`` as text a spreadsheet will not evaluate."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def safe_expr(column: str) -> pl.Expr:
    """The same rule as ``safe_cell``, vectorised for a text column."""
    import polars as pl  # noqa: PLC0415 - heavy, loaded on first use

    text = pl.col(column).cast(pl.String).fill_null("")
    risky = text.str.contains(r"^[=+\-@\t\r]")
    return pl.when(risky).then(pl.lit("'") + text).otherwise(text).alias(column)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return out.getvalue()


def frame_csv(frame: pl.DataFrame) -> str:
    """A polars frame as spreadsheet-safe CSV text (every column sanitised)."""
    safe = frame.select(safe_expr(name) for name in frame.columns)
    return safe.write_csv()


def errors_csv(errors: pl.DataFrame, max_rows: int) -> str:
    """The error report: one line per error, at most ``max_rows`` of them."""
    return frame_csv(errors.select(ERROR_COLUMNS).head(max_rows))
