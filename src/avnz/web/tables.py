"""`Table`: the list pages' shared model of columns, filters, sort, paging and selection, with
CSV export of the same filtered query. Rendered by `{{ data_table(table) }}`
(templates/macros/table.html).

A page builds a `Table` from the request, lets a service build the filtered statement, then
either `load`s one page of it or exports it all (`?format=csv`)."""

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from avnz.auth.scope import Principal
from avnz.web.templating import Breadcrumbs, is_htmx, render

PAGE_SIZES = (25, 50, 100)
EXPORT_LIMIT = 50_000
MAX_SELECTED = 500
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")

FilterKind = Literal["select", "search", "date_from", "date_to", "number"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column. `value` gives the raw value (CSV and default display; default: the row's
    attribute or key named `key`); `display` gives what the page shows (text or Markup);
    `link` makes the cell a link."""

    key: str
    label: str
    sortable: bool = False
    hidden: bool = False  # hidden until the user turns it on
    numeric: bool = False
    value: Callable[[Any], Any] | None = None
    display: Callable[[Any], Any] | None = None
    link: Callable[[Any], str | None] | None = None


@dataclass(frozen=True, slots=True)
class Filter:
    """A query-string filter: a select (with options), a search box, a date bound, a number."""

    name: str
    label: str
    kind: FilterKind = "select"
    options: tuple[tuple[str, str], ...] = ()  # (value, label)
    placeholder: str = ""


@dataclass(frozen=True, slots=True)
class Pill:
    label: str
    remove_url: str


@dataclass(frozen=True, slots=True)
class BulkAction:
    """A button acting on the selected rows: POSTs `ids` (and the CSRF token) to `url`."""

    label: str
    url: str
    confirm: str | None = None


def _raw(row: Any, key: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(key)
    return getattr(row, key, None)


def csv_safe(value: Any) -> str:
    """A cell as text, with a leading ' where a spreadsheet would otherwise run a formula."""
    if value is None:
        return ""
    text: str
    if isinstance(value, datetime):
        text = (value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


@dataclass
class Table:
    """The state of one list: built per request by `Table.from_request`."""

    id: str
    base_url: str
    columns: Sequence[Column]
    params: dict[str, str]
    filters: Sequence[Filter] = ()
    sort: str | None = None
    page: int = 1
    page_size: int = PAGE_SIZES[0]
    rows: list[Any] = field(default_factory=list)
    total: int | None = None
    has_more: bool = False
    selectable: bool = False
    bulk_actions: Sequence[BulkAction] = ()
    # "Export selected": the export keeps only these row ids (`?ids=a,b`), inside the filters.
    only_ids: tuple[str, ...] = ()
    row_id: Callable[[Any], str] = field(default=lambda row: str(_raw(row, "id")))
    row_link: Callable[[Any], str | None] | None = None
    empty_title: str = "Nothing here yet"
    empty_text: str = "Nothing matches these filters."
    export_name: str = "export"

    @classmethod
    def from_request(
        cls,
        request: Request,
        *,
        id: str,
        columns: Sequence[Column],
        filters: Sequence[Filter] = (),
        default_sort: str | None = None,
        **options: Any,
    ) -> "Table":
        """Read sort, page, page size and filter values from the query string; anything not
        declared (or not sortable) is ignored rather than trusted."""
        known = {f.name for f in filters}
        params = {k: v for k, v in request.query_params.items() if k in known and v.strip()}
        sortable = {c.key for c in columns if c.sortable}
        sort = request.query_params.get("sort") or default_sort
        if sort is not None and sort.removeprefix("-") not in sortable:
            sort = default_sort
        return cls(
            id=id,
            base_url=request.url.path,
            columns=columns,
            params=params,
            filters=filters,
            sort=sort,
            page=_positive_int(request.query_params.get("page"), 1),
            page_size=_page_size(request.query_params.get("page_size")),
            only_ids=_ids(request.query_params.get("ids")),
            **options,
        )

    # --- reading the request -------------------------------------------------------------

    def value(self, name: str) -> str | None:
        return self.params.get(name)

    def date_value(self, name: str) -> datetime | None:
        """A `date_from` filter as the start of that UTC day, `date_to` as the end of it."""
        text = self.params.get(name)
        if not text:
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        start = datetime.combine(day, time(), tzinfo=UTC)
        kind = next((f.kind for f in self.filters if f.name == name), "date_from")
        return start + timedelta(days=1) - timedelta(microseconds=1) if kind == "date_to" else start

    def int_value(self, name: str) -> int | None:
        text = self.params.get(name)
        return int(text) if text is not None and text.isdigit() else None

    @property
    def sort_key(self) -> str | None:
        return self.sort.removeprefix("-") if self.sort else None

    @property
    def descending(self) -> bool:
        return bool(self.sort and self.sort.startswith("-"))

    # --- urls the template links to ------------------------------------------------------

    def url(self, **changes: str | int | None) -> str:
        """This list's URL with some parameters changed (None removes one)."""
        query: dict[str, Any] = dict(self.params)
        if self.sort:
            query["sort"] = self.sort
        if self.page_size != PAGE_SIZES[0]:
            query["page_size"] = self.page_size
        for name, value in changes.items():
            if value is None:
                query.pop(name, None)
            else:
                query[name] = value
        return f"{self.base_url}?{urlencode(query)}" if query else self.base_url

    def sort_url(self, column: Column) -> str:
        ascending_now = self.sort == column.key
        return self.url(sort=f"-{column.key}" if ascending_now else column.key, page=None)

    def page_url(self, page: int) -> str:
        return self.url(page=page if page > 1 else None)

    @property
    def csv_url(self) -> str:
        return self.url(format="csv", page=None)

    @property
    def pills(self) -> list[Pill]:
        labels = {f.name: f for f in self.filters}
        pills = []
        for name, value in self.params.items():
            spec = labels[name]
            shown = dict(spec.options).get(value, value)
            pills.append(Pill(f"{spec.label}: {shown}", self.url(**{name: None, "page": None})))
        return pills

    @property
    def last_page(self) -> int | None:
        if self.total is None:
            return None
        return max(1, -(-self.total // self.page_size))

    @property
    def first_row_number(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def storage_key(self) -> str:
        return f"avnz.table.{self.id}.columns"

    # --- cells -----------------------------------------------------------------------------

    def raw(self, row: Any, column: Column) -> Any:
        return column.value(row) if column.value else _raw(row, column.key)

    def cell(self, row: Any, column: Column) -> Any:
        shown = column.display(row) if column.display else self.raw(row, column)
        href = column.link(row) if column.link else None
        if href:
            return Markup('<a href="{}">{}</a>').format(href, shown)
        return "—" if shown is None or shown == "" else shown

    # --- export ----------------------------------------------------------------------------

    def csv_response(self, rows: Sequence[Any]) -> Response:
        """Every column (hidden ones too), raw values, formula-safe, as a download."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([c.label for c in self.columns])
        for row in rows:
            writer.writerow([csv_safe(self.raw(row, c)) for c in self.columns])
        name = _SAFE_NAME.sub("-", self.export_name) or "export"
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )


def _positive_int(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) < 1_000_000 else default


def _ids(text: str | None) -> tuple[str, ...]:
    ids = [part.strip() for part in (text or "").split(",") if part.strip()]
    return tuple(i for i in ids[:MAX_SELECTED] if len(i) <= 64)


def _page_size(text: str | None) -> int:
    size = _positive_int(text, PAGE_SIZES[0])
    return size if size in PAGE_SIZES else PAGE_SIZES[0]


def wants_csv(request: Request) -> bool:
    return request.query_params.get("format") == "csv"


Sorts = Mapping[str, InstrumentedAttribute[Any]]


def _ordered(
    stmt: Select[Any], table: Table, sorts: Sorts, tiebreak: InstrumentedAttribute[Any]
) -> Select[Any]:
    column = sorts.get(table.sort_key or "")
    if column is None:
        return stmt.order_by(tiebreak.desc())
    direction = column.desc() if table.descending else column.asc()
    return stmt.order_by(direction, tiebreak.desc())


async def load(
    session: AsyncSession,
    stmt: Select[Any],
    table: Table,
    *,
    sorts: Sorts,
    tiebreak: InstrumentedAttribute[Any],
) -> None:
    """Fill `table` with one page of `stmt` (sorted as asked, ties by `tiebreak` newest first)
    and the total count."""
    count = select(func.count()).select_from(stmt.order_by(None).subquery())
    table.total = int(await session.scalar(count) or 0)
    offset = (table.page - 1) * table.page_size
    page = _ordered(stmt, table, sorts, tiebreak).offset(offset).limit(table.page_size)
    table.rows = list((await session.scalars(page)).all())
    table.has_more = offset + len(table.rows) < table.total


async def export(
    session: AsyncSession,
    stmt: Select[Any],
    table: Table,
    *,
    sorts: Sorts,
    tiebreak: InstrumentedAttribute[Any],
) -> Response:
    """The whole filtered query (up to EXPORT_LIMIT rows, or only the selected ones) as CSV,
    in the table's order; `tiebreak` is the rows' id column."""
    if table.only_ids:
        stmt = stmt.where(tiebreak.in_(table.only_ids))
    rows = (await session.scalars(_ordered(stmt, table, sorts, tiebreak).limit(EXPORT_LIMIT))).all()
    return table.csv_response(list(rows))


def respond(
    request: Request,
    table: Table,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal,
    breadcrumbs: Breadcrumbs = (),
) -> HTMLResponse:
    """The full page, or only the table when HTMX asks to refresh it (filters, sort, paging)."""
    values = {"table": table, **(context or {})}
    if is_htmx(request) and request.headers.get("HX-Target") == table.id:
        return render(request, "partials/table.html", values, principal=principal)
    return render(request, template, values, principal=principal, breadcrumbs=breadcrumbs)
