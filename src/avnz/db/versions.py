"""Configuration versions: one number per company that moves whenever something the payment
path keeps in memory changes (the company, its merchant accounts, pools and memberships), so a
process may cache that configuration and check it is current inside a statement it runs anyway
(DESIGN.md, "The payment hot path": a version check that costs no extra round trip).

A model takes part by mixing in `ConfigVersioned` and saying whose configuration a row is part
of (`config_scope`). Every flush that adds, changes or deletes such rows raises the version of
the companies concerned in the same transaction, with one UPDATE: a change that commits always
moves the version, and one that rolls back never does. A new company gets its row at once.
Writes that bypass the ORM's flush (Core UPDATEs) must call `bump` themselves; the payment
path's own writes never touch configuration.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    Table,
    bindparam,
    event,
    insert,
    or_,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Mapped, Session, mapped_column

from avnz.db.base import Base


class ConfigVersion(Base):
    __tablename__ = "config_versions"

    company_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40), index=True)
    organization_id: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)


VERSIONS = cast(Table, ConfigVersion.__table__)


@dataclass(slots=True)
class Scope:
    """Whose configuration changed: companies, clients or organizations by id, or the
    companies a query finds (a row that knows its company only through another table)."""

    companies: set[str] = field(default_factory=set)
    clients: set[str] = field(default_factory=set)
    organizations: set[str] = field(default_factory=set)
    queries: list[Any] = field(default_factory=list)

    def add(self, other: "Scope") -> None:
        self.companies |= other.companies
        self.clients |= other.clients
        self.organizations |= other.organizations
        self.queries += other.queries

    def condition(self) -> ColumnElement[bool] | None:
        """The config_versions rows this scope covers; None when it covers none."""
        parts = [VERSIONS.c.company_id.in_(query) for query in self.queries]
        for column, ids in (
            (VERSIONS.c.company_id, self.companies),
            (VERSIONS.c.client_id, self.clients),
            (VERSIONS.c.organization_id, self.organizations),
        ):
            if ids:
                parts.append(column.in_(sorted(ids)))
        return or_(*parts) if parts else None


class ConfigVersioned:
    """A row that is part of some companies' cached configuration."""

    def config_scope(self) -> Scope:
        raise NotImplementedError

    def config_company(self) -> tuple[str, str, str] | None:
        """(company, client, organization) when the row is a company itself: a new one gets its
        version row. None for every other row."""
        return None


def bump(session: Session, scope: Scope) -> None:
    """Raise the version of every company in `scope`, in `session`'s transaction."""
    condition = scope.condition()
    if condition is not None:
        session.execute(
            sql_update(VERSIONS).where(condition).values(version=VERSIONS.c.version + 1)
        )


def _changed(session: Session) -> Iterable[Any]:
    yield from session.new
    yield from (row for row in session.dirty if session.is_modified(row))
    yield from session.deleted


@event.listens_for(Session, "before_flush")
def _on_flush(session: Session, _context: Any, _instances: Any) -> None:
    scope = Scope()
    for row in _changed(session):
        if isinstance(row, ConfigVersioned):
            scope.add(row.config_scope())
    new_companies = [
        company
        for row in session.new
        if isinstance(row, ConfigVersioned) and (company := row.config_company()) is not None
    ]
    bump(session, scope)
    if new_companies:
        session.execute(
            insert(VERSIONS),
            [
                {"company_id": company, "client_id": client, "organization_id": organization}
                for company, client, organization in new_companies
            ],
        )


# A company's configuration version as a scalar subquery, to ride along a statement the caller
# runs anyway (bind the company's id as `config_company`). Built once.
CONFIG_VERSION = (
    select(VERSIONS.c.version)
    .where(VERSIONS.c.company_id == bindparam("config_company"))
    .scalar_subquery()
)
