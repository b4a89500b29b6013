"""Cursor pagination: `limit` and `starting_after` over time-sortable ids, newest first."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, cast

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    starting_after: str | None


async def page_params(  # async: FastAPI runs a plain `def` dependency in its thread pool
    limit: Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")] = 20,
    starting_after: Annotated[
        str | None,
        Query(max_length=64, description="Return items after this id (from `next_cursor`)."),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, starting_after=starting_after)


Paging = Annotated[PageParams, Depends(page_params)]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool

    @property
    def next_cursor(self) -> str | None:
        if not self.has_more or not self.items:
            return None
        last: Any = self.items[-1]
        return str(last.id)


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
    if params.starting_after:
        stmt = stmt.where(id_column < params.starting_after)
    stmt = stmt.order_by(id_column.desc()).limit(params.limit + 1)
    rows = list((await session.scalars(stmt)).all())
    return Page(items=rows[: params.limit], has_more=len(rows) > params.limit)


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
