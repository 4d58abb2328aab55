"""Forex IB rebate: a per-lot rate by instrument group and account type, plus a spread share.

Terms: ``rates_per_lot`` by group (``fx_major``, ``fx_minor``, ``metals``,
``indices``, ``energies``, ``crypto``, ``other``; ``default`` for the rest),
``account_type_rates`` overriding rates per account type, ``aliases`` and
``groups`` adding to the built-in symbol map, and ``spread_share_pct`` of the
spread/commission the broker earned on the trade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from clickledger.domain.instruments import canonical_symbol, group_of
from clickledger.domain.money import format_money
from clickledger.domain.terms import TermsError, fmt_number, opt_decimal, pct, to_decimal

ZERO = Decimal(0)
SYMBOLS_KEPT = 10_000  # per deal version: broker symbols resolved once, then looked up


def _rates(data: Any, where: str) -> dict[str, Decimal]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise TermsError(f"{where} must be an object of group → rate")
    return {str(k).lower(): to_decimal(v, f"{where}.{k}") for k, v in data.items()}


@dataclass(frozen=True, slots=True)
class IbTerms:
    rates_per_lot: Mapping[str, Decimal]
    account_type_rates: Mapping[str, Mapping[str, Decimal]]
    spread_share_pct: Decimal
    aliases: Mapping[str, str]
    groups: Mapping[str, str]
    symbols: dict[str, tuple[str, str]] = field(default_factory=dict, init=False, repr=False,
                                                compare=False)  # symbol → (instrument, group)

    @classmethod
    def parse(cls, terms: Mapping[str, Any]) -> IbTerms:
        by_account = terms.get("account_type_rates") or {}
        if not isinstance(by_account, Mapping):
            raise TermsError("account_type_rates must be an object")
        aliases, groups = terms.get("aliases") or {}, terms.get("groups") or {}
        if not isinstance(aliases, Mapping) or not isinstance(groups, Mapping):
            raise TermsError("aliases and groups must be objects")
        parsed = cls(
            rates_per_lot=_rates(terms.get("rates_per_lot"), "rates_per_lot"),
            account_type_rates={str(k).lower(): _rates(v, f"account_type_rates.{k}")
                                for k, v in by_account.items()},
            spread_share_pct=opt_decimal(terms, "spread_share_pct") or ZERO,
            aliases={str(k): str(v) for k, v in aliases.items()},
            groups={str(k): str(v).lower() for k, v in groups.items()},
        )
        if not parsed.rates_per_lot and not parsed.spread_share_pct:
            raise TermsError("an IB deal needs rates_per_lot or spread_share_pct")
        return parsed

    def rate(self, group: str, account_type: str | None) -> tuple[Decimal, str]:
        """The per-lot rate for ``group`` on ``account_type`` and where it came from."""
        account = (account_type or "").lower()
        table = self.account_type_rates.get(account, {})
        for source, rates in ((f"{account} account", table), ("", self.rates_per_lot)):
            for key in (group, "default"):
                if key in rates:
                    return rates[key], source
        return ZERO, ""

    def instrument(self, symbol: str) -> tuple[str, str]:
        """The canonical instrument behind a broker symbol and its group."""
        found = self.symbols.get(symbol)
        if found is None:
            instrument = canonical_symbol(symbol, self.aliases)
            found = (instrument, group_of(instrument, self.groups))
            if len(self.symbols) < SYMBOLS_KEPT:
                self.symbols[symbol] = found
        return found


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade in the deal currency (the spread already converted)."""

    symbol: str
    lots: Decimal
    account_type: str | None
    spread: Decimal


@dataclass(frozen=True, slots=True)
class Rebate:
    amount: Decimal
    text: str
    instrument: str
    group: str


def rebate_for(terms: IbTerms, trade: Trade, currency: str) -> Rebate:
    """Per-lot rebate plus spread share for one trade, with the sentence to check it."""
    instrument, group = terms.instrument(trade.symbol)
    rate, source = terms.rate(group, trade.account_type)
    lot_part = trade.lots * rate
    spread_part = trade.spread * pct(terms.spread_share_pct)
    amount = lot_part + spread_part
    alias = "" if instrument == trade.symbol else f" as {instrument}"
    text = (f"IB rebate {format_money(amount, currency)}: {fmt_number(trade.lots)} lots "
            f"{trade.symbol}{alias} ({group}{', ' + source if source else ''}) × "
            f"{format_money(rate, currency)}/lot")
    if terms.spread_share_pct:
        text += (f" + {fmt_number(terms.spread_share_pct)}% of spread "
                 f"{format_money(trade.spread, currency)}")
    return Rebate(amount, text, instrument, group)
