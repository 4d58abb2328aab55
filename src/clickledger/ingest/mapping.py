"""Per-integration vocabulary: the operator's parameter names and status words → ours.

An operator keeps its own names (``transaction_id``, ``player``, ``sum``) and
its own event words (``dep``, ``first_dep``, ``signup``): the integration's
``parameter_map`` renames parameters and its ``status_map`` renames event
words.  A few names every tracker uses are understood without a map.  The
original event word is kept in ``status_raw`` and every original parameter in
the event's ``raw`` column.
"""

from __future__ import annotations

from collections.abc import Mapping

FIELDS = frozenset({
    "event", "txn_id", "user_id", "click_id", "promo", "amount", "currency", "ts", "country",
    "lots", "instrument", "account_type", "spread", "bets", "wins", "bonus", "chargebacks",
    "day", "reverses_txn_id",
})

# Names used by common trackers and operator platforms, understood without a map.
BUILTIN_ALIASES: dict[str, str] = {
    "type": "event", "event_type": "event", "et": "event",
    "transaction_id": "txn_id", "txid": "txn_id", "tid": "txn_id",
    "player_id": "user_id", "customer_id": "user_id",
    "clickid": "click_id", "cid": "click_id", "subid": "click_id",
    "promo_code": "promo", "coupon_code": "promo",
    "sum": "amount", "timestamp": "ts", "country_code": "country",
    "volume": "lots", "symbol": "instrument",
}

BUILTIN_STATUS_WORDS: dict[str, str] = {
    "reg": "registration", "signup": "registration", "sign_up": "registration",
    "lead": "registration", "first_deposit": "ftd", "firstdeposit": "ftd",
    "dep": "deposit", "redeposit": "deposit", "withdraw": "withdrawal",
    "refund": "reversal", "cb": "chargeback",
}


# Names already in their looked-up form (stripped, lower-case): our fields, then the aliases.
_EXACT: dict[str, tuple[str, bool]] = {
    **{name: (alias, True) for name, alias in BUILTIN_ALIASES.items()},
    **{name: (name, False) for name in FIELDS},
}


def map_parameters(
    params: Mapping[str, str], parameter_map: Mapping[str, str] | None
) -> dict[str, str]:
    """Rename ``params`` to our field names; the integration's own map wins over aliases.

    A field already present under our own name is never overwritten by an alias.
    """
    mapped: dict[str, str] = {}
    own = parameter_map or {}
    if not own:  # the usual case: our names, then the built-in aliases, in one pass
        aliased: list[tuple[str, str]] | None = None
        for name, value in params.items():
            found = _EXACT.get(name)
            if found is None:
                found = _EXACT.get(name.strip().lower())
                if found is None:
                    continue
            if found[1]:
                if aliased is None:
                    aliased = []
                aliased.append((found[0], value))
            elif found[0] not in mapped:
                mapped[found[0]] = value
        for field, value in aliased or ():
            mapped.setdefault(field, value)
        return mapped
    pairs = [(name.strip().lower(), value) for name, value in params.items()]
    for key, value in pairs:
        target = own.get(key)
        if target is not None:
            mapped[target] = value
    for key, value in pairs:
        if key in FIELDS and key not in own:
            mapped.setdefault(key, value)
    for key, value in pairs:
        alias = BUILTIN_ALIASES.get(key)
        if alias is not None and key not in own:
            mapped.setdefault(alias, value)
    return mapped


def mapped_fields(
    params: Mapping[str, str], parameter_map: Mapping[str, str] | None
) -> Mapping[str, str]:
    """``map_parameters(params, parameter_map)`` to read only: ``params`` itself when every
    name is already one of our fields and there is no map (what it would copy unchanged)."""
    if not parameter_map and FIELDS.issuperset(params):
        return params
    return map_parameters(params, parameter_map)


def map_status(word: str, status_map: Mapping[str, str] | None) -> str:
    """Our event kind for the operator's ``word`` (unknown words pass through for validation)."""
    key = word.strip().lower()
    if status_map and key in status_map:
        return status_map[key]
    return BUILTIN_STATUS_WORDS.get(key, key)


def normalize_maps(
    parameter_map: Mapping[str, str] | None, status_map: Mapping[str, str] | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Lower-cased keys, so lookups are case-insensitive."""
    params = {str(k).strip().lower(): str(v).strip().lower()
              for k, v in (parameter_map or {}).items()}
    words = {str(k).strip().lower(): str(v).strip().lower()
             for k, v in (status_map or {}).items()}
    return params, words


def map_errors(
    parameter_map: Mapping[str, str] | None, status_map: Mapping[str, str] | None,
    kinds: frozenset[str],
) -> list[str]:
    """Problems with an integration's maps, for the API that saves them."""
    errors = [
        f"parameter_map: {name!r} maps to unknown field {target!r}"
        for name, target in (parameter_map or {}).items() if str(target).lower() not in FIELDS
    ]
    errors += [
        f"status_map: {word!r} maps to unknown event {kind!r}"
        for word, kind in (status_map or {}).items() if str(kind).lower() not in kinds
    ]
    return errors
