"""Cursor pagination over time-sortable ids, newest first, as Stripe pages: `starting_after`
an id gives the items after it in that order (older), `ending_before` the items just before it
(newer), still listed newest first. `next_cursor` continues in the direction asked for: the last
item's id after `starting_after` (or no cursor), the first item's id after `ending_before`."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, cast

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from avnz.core.errors import InvalidRequest

T = TypeVar("T")
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    starting_after: str | None
    ending_before: str | None = None


async def page_params(  # async: FastAPI runs a plain `def` dependency in its thread pool
    limit: Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")] = 20,
    starting_after: Annotated[
        str | None,
        Query(max_length=64, description="Return items after this id (from `next_cursor`)."),
    ] = None,
    ending_before: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Return the items just before this id (the previous page); "
            "not with `starting_after`.",
        ),
    ] = None,
) -> PageParams:
    if starting_after is not None and ending_before is not None:
        raise InvalidRequest(
            "Send starting_after or ending_before, not both.",
            code="invalid_cursor",
            param="ending_before",
        )
    return PageParams(limit=limit, starting_after=starting_after, ending_before=ending_before)


Paging = Annotated[PageParams, Depends(page_params)]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool  # more items further in the direction asked for
    backward: bool = False  # the page was asked for with `ending_before`

    @property
    def next_cursor(self) -> str | None:
        if not self.has_more or not self.items:
            return None
        edge: Any = self.items[0] if self.backward else self.items[-1]
        return str(edge.id)

    @classmethod
    def of(cls, rows: list[T], params: PageParams) -> "Page[T]":
        """The page from up to `limit + 1` rows read in the direction asked for (the extra row
        only says there are more); a backward page is turned back to list order."""
        items = rows[: params.limit]
        if params.ending_before:
            items.reverse()
        return cls(items, has_more=len(rows) > params.limit, backward=bool(params.ending_before))


class PageOut(BaseModel, Generic[S]):
    object: str = "list"
    data: list[S]
    has_more: bool
    next_cursor: str | None


async def paginate(
    session: AsyncSession,
    stmt: Select[T],
    id_column: InstrumentedAttribute[str],
    params: PageParams,
) -> Page[T]:
    """Run `stmt` one page at a time; ids sort by creation time so the cursor is stable."""
    if params.ending_before:
        stmt = stmt.where(id_column > params.ending_before).order_by(id_column.asc())
    else:
        if params.starting_after:
            stmt = stmt.where(id_column < params.starting_after)
        stmt = stmt.order_by(id_column.desc())
    rows = list((await session.scalars(stmt.limit(params.limit + 1))).all())
    return Page.of(rows, params)


def page_out(
    page: Page[Any], schema: type[BaseModel] | Callable[[Any], BaseModel]
) -> dict[str, Any]:
    """A page as the API's list shape; `schema` is the item's output model, or a function that
    builds it when the row does not map onto the model field by field."""
    # mypy cannot narrow a union of a class and a callable by itself.
    convert: Callable[[Any], BaseModel] = (
        cast(type[BaseModel], schema).model_validate if isinstance(schema, type) else schema
    )
    return {
        "object": "list",
        "data": [convert(item) for item in page.items],
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
    }
