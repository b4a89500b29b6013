"""Reads that ride along a write: scalar subqueries placed in an INSERT's RETURNING, so a value
the caller needs anyway (a version, a count) costs no round trip of its own.

SQLAlchemy renders a RETURNING clause on SQLite without table names, and that reaches into a
subquery placed there too: `WHERE company_id = ?` then binds to the table being written, not
the subquery's own. `riding_along` keeps the subquery's table names (PostgreSQL keeps them
anyway).
"""

from typing import Any

from sqlalchemy import ScalarSelect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType


class _RidingAlong(ColumnElement[Any]):
    # The subquery is the cache key, so a statement carrying one is compiled once, not per run.
    _traverse_internals: _TraverseInternalsType = [  # noqa: RUF012 (SQLAlchemy's own form)
        ("subquery", InternalTraversal.dp_clauseelement)
    ]
    inherit_cache = True

    def __init__(self, subquery: ScalarSelect[Any]) -> None:
        self.subquery = subquery
        self.type = subquery.type


@compiles(_RidingAlong)
def _compile(element: _RidingAlong, compiler: SQLCompiler, **kw: Any) -> str:
    kw.pop("include_table", None)
    return compiler.process(element.subquery, **kw)


def riding_along(subquery: ScalarSelect[Any]) -> ColumnElement[Any]:
    """`subquery` as a column of any statement, RETURNING included, with its table names."""
    return _RidingAlong(subquery)
