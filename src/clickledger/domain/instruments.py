"""Forex instruments: broker symbol suffixes mapped to one instrument, and instrument groups.

Brokers decorate symbols per account type (``XAUUSD.m``, ``EURUSD.pro``,
``GBPUSD-ECN``, ``USDJPYi``); rebates are agreed per instrument group (FX
majors, minors, metals, indices, energies, crypto).  A deal may add its own
aliases and group assignments on top of the defaults here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

FX_MAJORS = frozenset({"EURUSD", "GBPUSD", "USDJPY", "USDCHF", "AUDUSD", "USDCAD", "NZDUSD"})
METALS = frozenset({"XAUUSD", "XAGUSD", "XAUEUR", "XPTUSD", "XPDUSD"})
INDICES = frozenset({"US30", "US500", "NAS100", "GER40", "UK100", "JPN225", "FRA40", "AUS200"})
ENERGIES = frozenset({"USOIL", "UKOIL", "XNGUSD", "WTI", "BRENT"})
CRYPTO_BASES = frozenset({"BTC", "ETH", "LTC", "XRP", "SOL", "ADA", "DOGE"})
FX_CODES = frozenset({"EUR", "USD", "GBP", "JPY", "CHF", "AUD", "CAD", "NZD", "SEK", "NOK",
                      "DKK", "PLN", "HUF", "CZK", "TRY", "ZAR", "MXN", "SGD", "HKD", "CNH"})

def canonical_symbol(symbol: str, aliases: Mapping[str, str] | None = None) -> str:
    """The instrument behind a broker symbol: upper-cased, suffix removed, aliases applied."""
    raw = symbol.strip().upper()
    table = {k.upper(): v.upper() for k, v in (aliases or {}).items()}
    if raw in table:
        return table[raw]
    if "." in raw or "_" in raw or "-" in raw or "#" in raw:
        raw = re.split(r"[._\-#]", raw, maxsplit=1)[0]
    elif len(raw) == 7 and raw[:6].isalpha() and raw[6] in "MIK":
        raw = raw[:6]
    return table.get(raw, raw)


def default_group(instrument: str) -> str:
    """The usual group of a canonical instrument; ``other`` when unknown."""
    if instrument in FX_MAJORS:
        return "fx_major"
    if instrument in METALS:
        return "metals"
    if instrument in INDICES:
        return "indices"
    if instrument in ENERGIES:
        return "energies"
    if len(instrument) >= 6 and instrument[:3] in CRYPTO_BASES:
        return "crypto"
    if len(instrument) == 6 and instrument[:3] in FX_CODES and instrument[3:] in FX_CODES:
        return "fx_minor"
    return "other"


def group_of(instrument: str, groups: Mapping[str, str] | None = None) -> str:
    """The group of a canonical instrument, a deal's own mapping first."""
    table = {k.upper(): v for k, v in (groups or {}).items()}
    return table.get(instrument, default_group(instrument))
