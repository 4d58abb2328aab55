"""Shared field types and base models: strict input (unknown fields refused), UTC output.

Field errors carry their own type code in ``error.details[].type``
(``unknown_currency``, ``invalid_id``, ``invalid_url`` …) beside the
request-wide ``invalid_request`` code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from clickledger.clock import utc
from clickledger.domain.money import MoneyError, normalize_currency
from clickledger.services.landing_urls import UrlRuleError, normalize_domains, url_host
from clickledger.store.paging import canonical_uuid

MAX_NAME_LENGTH = 200
MAX_SUB_LENGTH = 255


def _id(value: str) -> str:
    try:
        return canonical_uuid(value)
    except ValueError as exc:
        raise PydanticCustomError("invalid_id", "not a UUID: {value}", {"value": value}) from exc


def _currency(value: str) -> str:
    try:
        return normalize_currency(value)
    except MoneyError as exc:
        raise PydanticCustomError(exc.code, str(exc)) from exc


def _plain_url(value: str) -> str:
    try:
        url_host(value, allow_macros=False)
    except UrlRuleError as exc:
        raise PydanticCustomError(exc.code, str(exc)) from exc
    return value


def _landing_url(value: str) -> str:
    try:
        url_host(value, allow_macros=True)
    except UrlRuleError as exc:
        raise PydanticCustomError(exc.code, str(exc)) from exc
    return value


def _domains(value: list[str]) -> list[str]:
    try:
        return normalize_domains(value)
    except UrlRuleError as exc:
        raise PydanticCustomError(exc.code, str(exc)) from exc


IdText = Annotated[str, StringConstraints(max_length=64), AfterValidator(_id)]
Currency = Annotated[str, StringConstraints(max_length=8), AfterValidator(_currency)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                        max_length=MAX_NAME_LENGTH)]
SubId = Annotated[str, StringConstraints(max_length=MAX_SUB_LENGTH)]
PlainUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000),
                     AfterValidator(_plain_url)]
LandingUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000),
                       AfterValidator(_landing_url)]
DomainList = Annotated[list[Annotated[str, StringConstraints(max_length=253)]],
                       AfterValidator(_domains)]
UtcTime = Annotated[datetime, AfterValidator(utc)]


class StrictInput(BaseModel):
    """A request body: unknown fields are an error, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PatchInput(StrictInput):
    """A partial update: only the fields sent change; ``null`` only where a field may be empty."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> PatchInput:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self.nullable:
                raise PydanticCustomError("null_not_allowed", "{field} cannot be null",
                                          {"field": name})
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ReadModel(BaseModel):
    """A response body built from a stored row."""

    model_config = ConfigDict(extra="ignore")


ItemT = TypeVar("ItemT")


class PageOut(BaseModel, Generic[ItemT]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` to get the next (null = last)."""

    items: list[ItemT]
    next_cursor: str | None
