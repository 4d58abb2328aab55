"""The vectorised matcher (polars joins, for million-line statements) flags, differs and
proposes exactly as the pure domain rules do, on any statement."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from clickledger.domain import reconciliation as rules
from clickledger.services import reconciliation_matching as vectorised

KEYS = st.sampled_from(["k1", "k2", "k3", "k4", "k5"])
CURRENCIES = st.sampled_from(["EUR", "USD"])
AFFILIATES = st.sampled_from([None, "a1", "a2"])
AMOUNTS = st.integers(min_value=-5_000, max_value=5_000)

lines_strategy = st.lists(st.tuples(KEYS, AMOUNTS, CURRENCIES, AFFILIATES, st.booleans()),
                          max_size=12)
ours_strategy = st.dictionaries(KEYS, st.tuples(AMOUNTS, CURRENCIES, AFFILIATES), max_size=5)


def _frames(lines: list[rules.StatementLine],
            ours: list[rules.OurRecord]) -> tuple[pl.DataFrame, pl.DataFrame]:
    statement = pl.DataFrame(
        [(x.line, x.key, x.theirs_minor, x.theirs_currency, x.operator_affiliate_id,
          x.theirs_affiliate_id) for x in lines], orient="row",
        schema={"line": pl.Int64, "key": pl.String, "theirs_minor": pl.Int64,
                "theirs_currency": pl.String, "operator_affiliate_id": pl.String,
                "theirs_affiliate_id": pl.String})
    records = pl.DataFrame(
        [(r.key, r.ours_minor, r.currency, r.affiliate_id) for r in ours], orient="row",
        schema={"key": pl.String, "ours_minor": pl.Int64, "currency": pl.String,
                "affiliate_id": pl.String})
    return statement, records


@settings(max_examples=150, deadline=None)
@given(lines_strategy, ours_strategy, st.integers(min_value=0, max_value=50), st.booleans())
def test_the_polars_matcher_agrees_with_the_domain_rules(
    raw_lines: list[tuple[str, int, str, str | None, bool]],
    raw_ours: dict[str, tuple[int, str, str | None]], tolerance_minor: int, money: bool,
) -> None:
    lines = [rules.StatementLine(n + 2, key, amount, currency,
                                 None if affiliate is None else f"ref-{affiliate}",
                                 affiliate if resolves else None)
             for n, (key, amount, currency, affiliate, resolves) in enumerate(raw_lines)]
    ours = [rules.OurRecord(key, amount, currency, affiliate)
            for key, (amount, currency, affiliate) in raw_ours.items()]
    expected = [(i.line, i.key, i.flag.value, i.affiliate_id, i.ours_minor, i.theirs_minor,
                 i.difference_minor, i.currency, i.proposed_adjustment_minor)
                for i in rules.match(lines, ours, tolerance_minor, money)]
    statement, records = _frames(lines, ours)
    items = vectorised.match(statement, records, tolerance_minor, money)
    got = [(r["line"], r["key"], r["flag"], r["affiliate_id"], r["ours_minor"], r["theirs_minor"],
            r["difference_minor"], r["currency"], r["proposed_adjustment_minor"])
           for r in items.iter_rows(named=True)]
    assert got == expected
    assert vectorised.summarize(items)["flags"] == rules.summarize(
        rules.match(lines, ours, tolerance_minor, money))["flags"]
