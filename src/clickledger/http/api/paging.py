"""List parameters shared by every collection route: ``limit`` and ``cursor``.

``limit`` is 1..``settings.api_page_size_max`` (default 50, or the maximum when
that is smaller); a larger one answers 422 ``limit_too_large`` rather than
being cut silently.  ``cursor`` is the ``next_cursor`` of the previous page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Query

from clickledger.http.api.deps import RuntimeDep
from clickledger.http.api.errors import ApiError
from clickledger.http.api.schemas.common import PageOut, ReadModel
from clickledger.store.paging import Page, is_uuid

DEFAULT_PAGE_SIZE = 50
ModelT = TypeVar("ModelT", bound=ReadModel)


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    cursor: str | None


def page_params(
    runtime: RuntimeDep,
    limit: Annotated[int | None, Query(ge=1, description="Page size, at most the server's "
                                       "api_page_size_max (500 by default).")] = None,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the "
                                        "previous page.")] = None,
) -> PageParams:
    maximum = runtime.settings.api_page_size_max
    size = limit if limit is not None else min(DEFAULT_PAGE_SIZE, maximum)
    if size > maximum:
        raise ApiError(422, "limit_too_large", f"limit is at most {maximum}",
                       {"max_limit": maximum})
    if cursor is not None and not is_uuid(cursor):
        raise ApiError(422, "invalid_cursor", "cursor is not one this API handed out")
    return PageParams(limit=size, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def page_out(model: type[ModelT], page: Page) -> PageOut[ModelT]:
    """A stored page as the response body ``PageOut[model]``."""
    return PageOut[ModelT](
        items=[model.model_validate(row) for row in page.rows], next_cursor=page.next_cursor
    )
