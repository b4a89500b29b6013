"""Who is calling (a Principal) and which rows of the hierarchy they may see."""

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import ColumnElement, false
from sqlalchemy.orm import InstrumentedAttribute

from avnz.auth.permissions import ROLE_LEVEL, ROLE_PERMISSIONS, Level, Permission
from avnz.tenancy.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user (token) or a company's API key."""

    id: str
    kind: Literal["user", "api_key"]
    level: Level
    organization_id: str
    client_id: str | None
    company_id: str | None
    permissions: frozenset[Permission]
    role: Role | None = None
    email: str | None = None
    session_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_user(
        cls,
        *,
        user_id: str,
        role: Role,
        organization_id: str,
        client_id: str | None,
        company_id: str | None,
        email: str,
        session_id: str | None = None,
    ) -> "Principal":
        return cls(
            id=user_id,
            kind="user",
            level=ROLE_LEVEL[role],
            organization_id=organization_id,
            client_id=client_id,
            company_id=company_id,
            permissions=ROLE_PERMISSIONS[role],
            role=role,
            email=email,
            session_id=session_id,
        )

    def can_see(self, organization_id: str, client_id: str | None, company_id: str | None) -> bool:
        """True when a row with these hierarchy ids lies inside this principal's scope."""
        if organization_id != self.organization_id:
            return False
        if self.level is Level.ORGANIZATION:
            return True
        if self.level is Level.CLIENT:
            return client_id is not None and client_id == self.client_id
        return company_id is not None and company_id == self.company_id


def scope_clause(
    principal: Principal,
    *,
    organization_id: InstrumentedAttribute[str],
    client_id: InstrumentedAttribute[str] | InstrumentedAttribute[str | None] | None,
    company_id: InstrumentedAttribute[str] | InstrumentedAttribute[str | None] | None,
) -> ColumnElement[bool]:
    """The WHERE clause that keeps a query inside the principal's part of the hierarchy."""
    in_org = organization_id == principal.organization_id
    if principal.level is Level.ORGANIZATION:
        return in_org
    if principal.level is Level.CLIENT:
        return in_org & (client_id == principal.client_id) if client_id is not None else false()
    if company_id is None:
        return false()
    return in_org & (company_id == principal.company_id)
