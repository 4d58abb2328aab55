"""Mapping profiles: how one operator's file maps onto our fields.

A profile names, for each of our fields, the operator's header; the date
formats to try (strftime, in order; none means ISO 8601); whether a comma is
the decimal separator; the currency column or one fixed currency; and the
operator's status words (each mapped to one of our event kinds or ``skip``).
Profiles live in ``import_profiles`` and are managed through this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.domain.money import MINOR_UNITS
from clickledger.ids import new_id
from clickledger.ingest.batch.kinds import ALL_FIELDS, STATUS_TARGETS, FileKind
from clickledger.store import tables as t

MAX_PROFILE_NAME = 200


class ProfileError(ValueError):
    """A profile that cannot be used, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Profile:
    """How to read one operator's files (the default reads our own field names)."""

    name: str = "default"
    kind: FileKind | None = None
    delimiter: str = ","
    columns: Mapping[str, str] = field(default_factory=dict)  # our field -> their header
    date_formats: tuple[str, ...] = ()
    decimal_comma: bool = False
    currency_column: str | None = None
    fixed_currency: str | None = None
    status_words: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None

    def header_for(self, our_field: str) -> str:
        if our_field == "currency" and self.currency_column:
            return self.currency_column
        return self.columns.get(our_field, our_field)


def validate_profile(profile: Profile) -> Profile:
    """Refuse a profile that could only produce nonsense; return it unchanged otherwise."""
    if not profile.name or len(profile.name) > MAX_PROFILE_NAME:
        raise ProfileError("invalid_name", "a profile needs a name of 1-200 characters")
    if len(profile.delimiter) != 1 or profile.delimiter in ('"', "\n", "\r"):
        raise ProfileError("invalid_delimiter", "the delimiter must be one character")
    unknown = sorted(set(profile.columns) - set(ALL_FIELDS))
    if unknown:
        raise ProfileError(
            "unknown_field", f"unknown fields {unknown}; ours are {list(ALL_FIELDS)}"
        )
    if profile.fixed_currency is not None and profile.fixed_currency.upper() not in MINOR_UNITS:
        raise ProfileError("unknown_currency", f"unknown currency {profile.fixed_currency!r}")
    if profile.fixed_currency and profile.currency_column:
        raise ProfileError("currency_twice", "give a currency column or a fixed currency, not both")
    bad_targets = sorted(set(profile.status_words.values()) - STATUS_TARGETS)
    if bad_targets:
        raise ProfileError(
            "unknown_status_target",
            f"status words map to {bad_targets}; use {sorted(STATUS_TARGETS)}",
        )
    for fmt in profile.date_formats:
        if "%" not in fmt:
            raise ProfileError("invalid_date_format", f"{fmt!r} is not a strftime format")
    return profile


def _from_row(row: Any) -> Profile:
    return Profile(
        id=row.id, name=row.name, kind=FileKind(row.kind) if row.kind else None,
        delimiter=row.delimiter, columns=dict(row.columns or {}),
        date_formats=tuple(row.date_formats or ()), decimal_comma=bool(row.decimal_comma),
        currency_column=row.currency_column, fixed_currency=row.fixed_currency,
        status_words=dict(row.status_words or {}),
    )


def _values(profile: Profile) -> dict[str, Any]:
    return {
        "name": profile.name, "kind": profile.kind.value if profile.kind else None,
        "delimiter": profile.delimiter, "columns": dict(profile.columns),
        "date_formats": list(profile.date_formats) or None,
        "decimal_comma": profile.decimal_comma, "currency_column": profile.currency_column,
        "fixed_currency": profile.fixed_currency.upper() if profile.fixed_currency else None,
        "status_words": {k.strip().lower(): v for k, v in profile.status_words.items()} or None,
    }


def save_profile(
    conn: sa.Connection, profile: Profile, now: datetime, integration_id: str | None = None
) -> Profile:
    """Create the profile, or replace the one with the same name; returns it with its id."""
    validate_profile(profile)
    values = _values(profile)
    existing = conn.execute(
        sa.select(t.import_profiles.c.id).where(t.import_profiles.c.name == profile.name)
    ).scalar()
    if existing is None:
        profile_id = new_id()
        conn.execute(t.import_profiles.insert().values(
            id=profile_id, integration_id=integration_id, created_at=now, updated_at=now, **values
        ))
    else:
        profile_id = existing
        conn.execute(t.import_profiles.update().where(t.import_profiles.c.id == existing).values(
            integration_id=integration_id, updated_at=now, **values
        ))
    found = get_profile(conn, profile_id)
    assert found is not None
    return found


def get_profile(conn: sa.Connection, name_or_id: str) -> Profile | None:
    """The profile with this name (or id), or None."""
    table = t.import_profiles
    row = conn.execute(sa.select(table).where(table.c.name == name_or_id)).first()
    if row is None and _looks_like_uuid(name_or_id):
        row = conn.execute(sa.select(table).where(table.c.id == name_or_id)).first()
    return _from_row(row) if row is not None else None


def list_profiles(conn: sa.Connection, limit: int = 500) -> list[Profile]:
    table = t.import_profiles
    rows = conn.execute(sa.select(table).order_by(table.c.name).limit(limit))
    return [_from_row(row) for row in rows]


def delete_profile(conn: sa.Connection, name_or_id: str) -> bool:
    """Remove a profile that no import job refers to; True when one was removed."""
    profile = get_profile(conn, name_or_id)
    if profile is None:
        return False
    used = conn.execute(
        sa.select(sa.func.count()).select_from(t.import_jobs)
        .where(t.import_jobs.c.profile_id == profile.id)
    ).scalar_one()
    if used:
        raise ProfileError("profile_in_use", f"{used} import job(s) used this profile")
    conn.execute(t.import_profiles.delete().where(t.import_profiles.c.id == profile.id))
    return True


def _looks_like_uuid(text: str) -> bool:
    stripped = text.replace("-", "")
    return len(stripped) == 32 and all(c in "0123456789abcdefABCDEF" for c in stripped)


def profile_from_mapping(data: Mapping[str, Any]) -> Profile:
    """A profile from plain JSON-ish data (API bodies, CLI files)."""
    kind = data.get("kind")
    return validate_profile(Profile(
        name=str(data.get("name", "")), kind=FileKind(kind) if kind else None,
        delimiter=str(data.get("delimiter", ",")), columns=dict(data.get("columns") or {}),
        date_formats=tuple(data.get("date_formats") or ()),
        decimal_comma=bool(data.get("decimal_comma", False)),
        currency_column=data.get("currency_column"), fixed_currency=data.get("fixed_currency"),
        status_words=dict(data.get("status_words") or {}),
    ))
