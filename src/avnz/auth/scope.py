"""Who is calling (a Principal) and which rows of the hierarchy they may see."""

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import ColumnElement, false, true
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
    # Test or live mode: an API key's own (sk_live_ / sk_test_), a user's as the request asks
    # (`Avnz-Mode` header, the dashboard's switch); test unless asked. Objects with a
    # `livemode` are seen and made only in the principal's mode.
    livemode: bool = False

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

    @property
    def key_scope(self) -> str:
        """Whose Idempotency-Keys these are: the caller's, a user's live-mode keys apart from
        their test-mode ones (an API key has one mode)."""
        return f"{self.id}:live" if self.livemode and self.kind == "user" else self.id

    def can_see(self, organization_id: str, client_id: str | None, company_id: str | None) -> bool:
        """True when a row with these hierarchy ids lies inside this principal's scope."""
        if organization_id != self.organization_id:
            return False
        if self.level is Level.ORGANIZATION:
            return True
        if self.level is Level.CLIENT:
            return client_id is not None and client_id == self.client_id
        return company_id is not None and company_id == self.company_id


def mode_clause(principal: Principal, livemode: InstrumentedAttribute[bool]) -> ColumnElement[bool]:
    """The WHERE clause that keeps a query to the principal's mode (test or live)."""
    return livemode.is_(true()) if principal.livemode else livemode.is_(false())


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
