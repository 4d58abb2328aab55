"""Who is calling: the four roles and the principal every request acts as."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """What a caller may do: managers run the program, finance moves money,
    affiliates see their own tree, operator integrations only send events."""

    MANAGER = "manager"
    FINANCE = "finance"
    AFFILIATE = "affiliate"
    INTEGRATION = "integration"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    ``visible_affiliate_ids`` is set for affiliates: the affiliate itself and
    every sub-affiliate below it.  ``None`` means no affiliate restriction.
    """

    key_id: str
    role: Role
    name: str
    affiliate_id: str | None = None
    integration_id: str | None = None
    visible_affiliate_ids: frozenset[str] | None = field(default=None)

    def can_see_affiliate(self, affiliate_id: str | None) -> bool:
        if self.role in (Role.MANAGER, Role.FINANCE):
            return True
        if self.role is Role.AFFILIATE and self.visible_affiliate_ids is not None:
            return affiliate_id is not None and affiliate_id in self.visible_affiliate_ids
        return False
