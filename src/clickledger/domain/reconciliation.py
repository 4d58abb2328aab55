"""Reconciliation matching: an operator's statement lines against our records, by key.

Pure: dataclasses and integers in minor units, no database, clock or dataframe.
``services.reconciliation_matching`` applies exactly these rules vectorised
(polars joins) for million-line statements; a test holds the two equal.

Every statement line and every record of ours gets exactly one flag, first
match wins:

1. ``duplicate``: a later statement line with a key already seen;
2. ``missing_in_clickledger``: a statement line we have no record for;
3. ``missing_in_operator``: a record of ours the statement does not list;
4. ``currency_mismatch``: both sides present in different currencies;
5. ``different_affiliate``: the statement names an affiliate, and it is not
   (or does not resolve to) the one we attributed;
6. ``amount_mismatch``: ``|theirs - ours| > tolerance_minor``;
7. ``matched``.

``difference_minor`` is ``theirs - ours`` (same currency only).  For statements
of commission figures a proposed adjustment (a credit when positive) is the
difference for an amount mismatch, and the operator's non-zero figure for a
line we lack whose affiliate is known; a finance user approves or rejects
each.  Statements of player events propose no money: their gaps are events to
backfill.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Flag(StrEnum):
    MATCHED = "matched"
    AMOUNT_MISMATCH = "amount_mismatch"
    MISSING_IN_CLICKLEDGER = "missing_in_clickledger"
    MISSING_IN_OPERATOR = "missing_in_operator"
    DUPLICATE = "duplicate"
    CURRENCY_MISMATCH = "currency_mismatch"
    DIFFERENT_AFFILIATE = "different_affiliate"


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One line of the operator's statement, amounts in minor units."""

    line: int
    key: str
    theirs_minor: int
    theirs_currency: str
    operator_affiliate_id: str | None = None  # the statement's own text
    theirs_affiliate_id: str | None = None  # that text resolved to our affiliate id


@dataclass(frozen=True, slots=True)
class OurRecord:
    """What we hold for one key (key unique)."""

    key: str
    ours_minor: int
    currency: str
    affiliate_id: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """The outcome for one statement line or one unlisted record of ours."""

    line: int | None
    key: str
    flag: Flag
    affiliate_id: str | None
    operator_affiliate_id: str | None
    ours_minor: int | None
    theirs_minor: int | None
    difference_minor: int | None
    currency: str | None
    theirs_currency: str | None
    proposed_adjustment_minor: int | None


def classify(line: StatementLine, ours: OurRecord, tolerance_minor: int) -> Flag:
    """The flag of a statement line that has a record of ours."""
    if line.theirs_currency != ours.currency:
        return Flag.CURRENCY_MISMATCH
    if line.operator_affiliate_id is not None and (
        line.theirs_affiliate_id is None or ours.affiliate_id is None
        or line.theirs_affiliate_id != ours.affiliate_id
    ):
        return Flag.DIFFERENT_AFFILIATE
    if abs(line.theirs_minor - ours.ours_minor) > tolerance_minor:
        return Flag.AMOUNT_MISMATCH
    return Flag.MATCHED


def proposal(flag: Flag, line: StatementLine, difference_minor: int | None,
             proposes_money: bool) -> int | None:
    """The adjustment a finance user is asked to approve, or None."""
    if not proposes_money:
        return None
    if flag is Flag.AMOUNT_MISMATCH:
        return difference_minor
    if flag is Flag.MISSING_IN_CLICKLEDGER and line.theirs_affiliate_id is not None \
            and line.theirs_minor != 0:
        return line.theirs_minor
    return None


def _paired(line: StatementLine, ours: OurRecord, tolerance_minor: int,
            proposes_money: bool) -> Item:
    flag = classify(line, ours, tolerance_minor)
    same = line.theirs_currency == ours.currency
    difference = line.theirs_minor - ours.ours_minor if same else None
    return Item(line.line, line.key, flag, ours.affiliate_id or line.theirs_affiliate_id,
                line.operator_affiliate_id, ours.ours_minor, line.theirs_minor, difference,
                ours.currency, line.theirs_currency,
                proposal(flag, line, difference, proposes_money))


def _theirs_only(line: StatementLine, flag: Flag, proposes_money: bool) -> Item:
    proposed = proposal(flag, line, None, proposes_money) if flag is not Flag.DUPLICATE else None
    return Item(line.line, line.key, flag, line.theirs_affiliate_id, line.operator_affiliate_id,
                None, line.theirs_minor, None, line.theirs_currency, line.theirs_currency,
                proposed)


def match(lines: Iterable[StatementLine], records: Iterable[OurRecord], tolerance_minor: int,
          proposes_money: bool) -> list[Item]:
    """One item per statement line and per unlisted record, in line order (ours last)."""
    if tolerance_minor < 0:
        raise ValueError("the tolerance cannot be negative")
    ours = {record.key: record for record in records}
    seen: set[str] = set()
    items: list[Item] = []
    for line in sorted(lines, key=lambda item: item.line):
        if line.key in seen:
            items.append(_theirs_only(line, Flag.DUPLICATE, proposes_money))
            continue
        seen.add(line.key)
        record = ours.get(line.key)
        if record is None:
            items.append(_theirs_only(line, Flag.MISSING_IN_CLICKLEDGER, proposes_money))
        else:
            items.append(_paired(line, record, tolerance_minor, proposes_money))
    for key in sorted(set(ours) - seen):
        record = ours[key]
        items.append(Item(None, key, Flag.MISSING_IN_OPERATOR, record.affiliate_id, None,
                          record.ours_minor, None, None, record.currency, None, None))
    return items


def _add(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return value if total is None else total + value


def summarize(items: Sequence[Item]) -> dict[str, Any]:
    """Counts per flag, and per affiliate and currency: lines, flags and sums.

    Amounts are summed per currency; an operator figure in another currency
    than ours (a currency mismatch) is left out of the sums, never mixed in.
    """
    flags: dict[str, int] = {}
    groups: dict[tuple[str | None, str | None, str | None], dict[str, Any]] = {}
    for item in items:
        flags[item.flag.value] = flags.get(item.flag.value, 0) + 1
        key = (item.affiliate_id, item.operator_affiliate_id, item.currency)
        group = groups.setdefault(key, {
            "affiliate_id": key[0], "operator_affiliate_id": key[1], "currency": key[2],
            "lines": 0, "ours_minor": None, "theirs_minor": None, "difference_minor": None,
            "proposed_adjustment_minor": None, **{flag.value: 0 for flag in Flag}})
        theirs = item.theirs_minor if item.theirs_currency == item.currency else None
        group["lines"] += 1
        group[item.flag.value] += 1
        for name, value in (("ours_minor", item.ours_minor), ("theirs_minor", theirs),
                            ("difference_minor", item.difference_minor),
                            ("proposed_adjustment_minor", item.proposed_adjustment_minor)):
            group[name] = _add(group[name], value)
    order = sorted(groups, key=lambda k: tuple((v is None, v or "") for v in k))
    return {"flags": flags, "by_affiliate": [groups[k] for k in order]}
