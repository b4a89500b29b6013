"""Organizations, clients, companies, departments and users, always inside the caller's scope.

Every function takes the Principal; a row outside its scope is reported as missing (404), never
as forbidden, so the existence of another tenant's data does not leak.
"""

import re
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth import service as auth_service
from avnz.auth.models import ApiKey, AuthSession
from avnz.auth.permissions import ROLE_LEVEL, ROLE_PERMISSIONS, Level, Permission
from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.errors import Conflict, InvalidRequest, PermissionDenied
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate
from avnz.tenancy import schemas
from avnz.tenancy.models import (
    Client,
    ClientStatus,
    Company,
    CompanyStatus,
    Department,
    Organization,
    Role,
    User,
    UserStatus,
)
from avnz.tenancy.visibility import get_visible, scoped

# --- scope -----------------------------------------------------------------------------------


def _require_level(principal: Principal, level: Level, action: str) -> None:
    if principal.level > level:
        raise PermissionDenied(f"Your role cannot {action}.")


def _tenant(row: Organization | Client | Company | Department | User) -> audit.Tenant:
    if isinstance(row, Organization):
        return audit.Tenant(row.id)
    if isinstance(row, Client):
        return audit.Tenant(row.organization_id, row.id)
    if isinstance(row, Company):
        return audit.Tenant(row.organization_id, row.client_id, row.id)
    return audit.Tenant(row.organization_id, row.client_id, row.company_id)


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: audit.AuditAction,
    row: Organization | Client | Company | Department | User,
    before: dict[str, Any] | None = None,
) -> None:
    after = audit.snapshot(row)
    audit.record(
        session,
        actor=principal,
        action=action,
        resource=type(row).__tablename__.removesuffix("s").replace("companie", "company"),
        resource_id=row.id,
        tenant=_tenant(row),
        before=before,
        after=after,
    )


def _attribute(field: str) -> str:
    return "metadata_" if field == "metadata" else field


def _refuse_nulls(row_type: type[Any], changes: dict[str, Any]) -> None:
    """A PATCH may clear only nullable columns: null elsewhere is the client's mistake (400),
    not a constraint violation for the database to report."""
    columns = sa_inspect(row_type).columns
    for field, value in changes.items():
        column = columns.get(_attribute(field))
        if value is None and column is not None and not column.nullable:
            raise InvalidRequest(f"{field} cannot be null.", param=field)


def _apply(row: Any, changes: dict[str, Any], principal: Principal) -> None:
    _refuse_nulls(type(row), changes)
    for field, value in changes.items():
        setattr(row, _attribute(field), value)
    row.updated_by = principal.id


async def _flush_unique(session: AsyncSession, what: str, param: str) -> None:
    """Flush, turning a unique-constraint violation into a 409 the caller can act on."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"{what} is already taken.", code="duplicate", param=param) from None


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:80] or "item"


# --- organizations ---------------------------------------------------------------------------


async def list_organizations(
    *, session: AsyncSession, principal: Principal, page: PageParams
) -> Page[Organization]:
    return await paginate(session, scoped(principal, Organization), Organization.id, page)


async def get_organization(
    *, session: AsyncSession, principal: Principal, organization_id: str
) -> Organization:
    return await get_visible(session, principal, Organization, organization_id)


def _refuse_oidc(settings: dict[str, Any]) -> None:
    if "oidc" in settings:
        # The identity provider is an integration now, tested and audited like the others.
        raise InvalidRequest(
            "OIDC settings live in the organization's Auth0, Okta or Cognito integration: "
            "POST /api/v1/admin/integrations/platform.",
            code="moved_to_integrations",
            param="settings.oidc",
        )


async def update_organization(
    *,
    session: AsyncSession,
    principal: Principal,
    organization_id: str,
    data: schemas.OrganizationUpdate,
) -> Organization:
    organization = await get_visible(session, principal, Organization, organization_id)
    before = audit.snapshot(organization)
    changes = data.model_dump(exclude_unset=True)
    if "settings" in changes:
        changes["settings"] = changes["settings"] or {}
        _refuse_oidc(changes["settings"])
    _apply(organization, changes, principal)
    _audit(session, principal, audit.AuditAction.UPDATE, organization, before)
    return organization


# --- clients ---------------------------------------------------------------------------------


async def create_client(
    *, session: AsyncSession, principal: Principal, data: schemas.ClientCreate
) -> Client:
    client = Client(
        id=new_id("cli"),
        organization_id=principal.organization_id,
        name=data.name,
        slug=data.slug or slugify(data.name),
        settings=data.settings,
        metadata_=data.metadata,
        created_by=principal.id,
        updated_by=principal.id,
    )
    session.add(client)
    await _flush_unique(session, f"Client slug {client.slug!r}", "slug")
    _audit(session, principal, audit.AuditAction.CREATE, client)
    return client


async def list_clients(
    *, session: AsyncSession, principal: Principal, page: PageParams, status: ClientStatus | None
) -> Page[Client]:
    stmt = scoped(principal, Client)
    if status:
        stmt = stmt.where(Client.status == status)
    return await paginate(session, stmt, Client.id, page)


async def get_client(*, session: AsyncSession, principal: Principal, client_id: str) -> Client:
    return await get_visible(session, principal, Client, client_id)


async def update_client(
    *, session: AsyncSession, principal: Principal, client_id: str, data: schemas.ClientUpdate
) -> Client:
    client = await get_visible(session, principal, Client, client_id)
    changes = data.model_dump(exclude_unset=True)
    if "status" in changes and Permission.ADMIN_CLIENTS not in principal.permissions:
        raise PermissionDenied("Only organization admins change a client's status.", param="status")
    before = audit.snapshot(client)
    _apply(client, changes, principal)
    await _flush_unique(session, f"Client slug {client.slug!r}", "slug")
    _audit(session, principal, audit.AuditAction.UPDATE, client, before)
    return client


async def delete_client(*, session: AsyncSession, principal: Principal, client_id: str) -> Client:
    """Soft delete: the client is cancelled, its users deactivated and its API keys revoked."""
    client = await get_visible(session, principal, Client, client_id)
    before = audit.snapshot(client)
    now = clock.now()
    client.status = ClientStatus.CANCELLED
    client.deleted_at = now
    client.updated_by = principal.id
    await _shut_out(
        session,
        principal,
        User.client_id == client.id,
        ApiKey.client_id == client.id,
        reason="client_deleted",
    )
    _audit(session, principal, audit.AuditAction.DELETE, client, before)
    return client


async def _shut_out(
    session: AsyncSession,
    principal: Principal,
    users: ColumnElement[bool],
    keys: ColumnElement[bool],
    *,
    reason: str,
) -> None:
    """Deactivate the matching users, end their sessions and revoke the matching API keys."""
    now = clock.now()
    await session.execute(
        update(User)
        .where(users, User.deleted_at.is_(None))
        .values(status=UserStatus.DEACTIVATED, updated_by=principal.id, updated_at=now)
    )
    await session.execute(
        update(AuthSession)
        .where(
            AuthSession.user_id.in_(select(User.id).where(users)), AuthSession.revoked_at.is_(None)
        )
        .values(revoked_at=now, revoked_reason=reason)
    )
    await session.execute(
        update(ApiKey).where(keys, ApiKey.revoked_at.is_(None)).values(revoked_at=now)
    )


# --- companies -------------------------------------------------------------------------------


async def create_company(
    *, session: AsyncSession, principal: Principal, data: schemas.CompanyCreate
) -> Company:
    _require_level(principal, Level.CLIENT, "create companies")
    client_id = data.client_id or principal.client_id
    if client_id is None:
        raise InvalidRequest("client_id is required.", code="missing_param", param="client_id")
    client = await get_visible(session, principal, Client, client_id)
    company = Company(
        id=new_id("com"),
        organization_id=client.organization_id,
        client_id=client.id,
        name=data.name,
        slug=data.slug or slugify(data.name),
        timezone=data.timezone,
        settings=data.settings,
        metadata_=data.metadata,
        created_by=principal.id,
        updated_by=principal.id,
    )
    session.add(company)
    await _flush_unique(session, f"Company slug {company.slug!r}", "slug")
    _audit(session, principal, audit.AuditAction.CREATE, company)
    return company


async def list_companies(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    client_id: str | None,
    status: CompanyStatus | None,
) -> Page[Company]:
    stmt = scoped(principal, Company)
    if client_id:
        stmt = stmt.where(Company.client_id == client_id)
    if status:
        stmt = stmt.where(Company.status == status)
    return await paginate(session, stmt, Company.id, page)


async def get_company(*, session: AsyncSession, principal: Principal, company_id: str) -> Company:
    return await get_visible(session, principal, Company, company_id)


async def update_company(
    *, session: AsyncSession, principal: Principal, company_id: str, data: schemas.CompanyUpdate
) -> Company:
    company = await get_visible(session, principal, Company, company_id)
    before = audit.snapshot(company)
    _apply(company, data.model_dump(exclude_unset=True), principal)
    await _flush_unique(session, f"Company slug {company.slug!r}", "slug")
    _audit(session, principal, audit.AuditAction.UPDATE, company, before)
    return company


async def delete_company(
    *, session: AsyncSession, principal: Principal, company_id: str
) -> Company:
    """Soft delete: kept for the transactions that reference it, hidden everywhere else; its
    company-level users are deactivated and its API keys revoked."""
    company = await get_visible(session, principal, Company, company_id)
    _require_level(principal, Level.CLIENT, "delete companies")
    before = audit.snapshot(company)
    company.status = CompanyStatus.INACTIVE
    company.deleted_at = clock.now()
    company.updated_by = principal.id
    await _shut_out(
        session,
        principal,
        User.company_id == company.id,
        ApiKey.company_id == company.id,
        reason="company_deleted",
    )
    _audit(session, principal, audit.AuditAction.DELETE, company, before)
    return company


# --- departments -----------------------------------------------------------------------------


async def create_department(
    *, session: AsyncSession, principal: Principal, data: schemas.DepartmentCreate
) -> Department:
    company_id = data.company_id or principal.company_id
    if company_id is None:
        raise InvalidRequest("company_id is required.", code="missing_param", param="company_id")
    company = await get_visible(session, principal, Company, company_id)
    department = Department(
        id=new_id("dep"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        name=data.name,
        description=data.description,
        created_by=principal.id,
        updated_by=principal.id,
    )
    session.add(department)
    await _flush_unique(session, f"Department name {department.name!r}", "name")
    _audit(session, principal, audit.AuditAction.CREATE, department)
    return department


async def list_departments(
    *, session: AsyncSession, principal: Principal, page: PageParams, company_id: str | None
) -> Page[Department]:
    stmt = scoped(principal, Department)
    if company_id:
        stmt = stmt.where(Department.company_id == company_id)
    return await paginate(session, stmt, Department.id, page)


async def get_department(
    *, session: AsyncSession, principal: Principal, department_id: str
) -> Department:
    return await get_visible(session, principal, Department, department_id)


async def update_department(
    *,
    session: AsyncSession,
    principal: Principal,
    department_id: str,
    data: schemas.DepartmentUpdate,
) -> Department:
    department = await get_visible(session, principal, Department, department_id)
    before = audit.snapshot(department)
    _apply(department, data.model_dump(exclude_unset=True), principal)
    await _flush_unique(session, f"Department name {department.name!r}", "name")
    _audit(session, principal, audit.AuditAction.UPDATE, department, before)
    return department


async def delete_department(
    *, session: AsyncSession, principal: Principal, department_id: str
) -> None:
    """Hard delete; its users stay and simply belong to no department (FK ON DELETE SET NULL)."""
    department = await get_visible(session, principal, Department, department_id)
    before = audit.snapshot(department)
    await session.execute(
        update(User).where(User.department_id == department.id).values(department_id=None)
    )
    await session.delete(department)
    audit.record(
        session,
        actor=principal,
        action=audit.AuditAction.DELETE,
        resource="department",
        resource_id=department.id,
        tenant=_tenant(department),
        before=before,
    )


# --- users -----------------------------------------------------------------------------------


def _check_assignable(principal: Principal, role: Role) -> None:
    """A caller grants only roles at or below its level and within its own permissions."""
    if ROLE_LEVEL[role] < principal.level or not ROLE_PERMISSIONS[role] <= principal.permissions:
        raise PermissionDenied(f"You cannot assign the role {role.value}.", param="role")


async def _placement(
    session: AsyncSession, principal: Principal, data: schemas.UserInvite
) -> tuple[str | None, str | None, str | None]:
    """(client_id, company_id, department_id) for a new user of the requested role."""
    level = ROLE_LEVEL[data.role]
    if level is Level.ORGANIZATION:
        return None, None, None
    if level is Level.CLIENT:
        client_id = data.client_id or principal.client_id
        if client_id is None:
            raise InvalidRequest("client_id is required for this role.", param="client_id")
        client = await get_visible(session, principal, Client, client_id)
        return client.id, None, None
    company_id = data.company_id or principal.company_id
    if company_id is None:
        raise InvalidRequest("company_id is required for this role.", param="company_id")
    company = await get_visible(session, principal, Company, company_id)
    department_id = None
    if data.department_id:
        department = await get_visible(session, principal, Department, data.department_id)
        if department.company_id != company.id:
            raise InvalidRequest(
                "The department belongs to another company.", param="department_id"
            )
        department_id = department.id
    return company.client_id, company.id, department_id


async def invite_user(
    *,
    session: AsyncSession,
    principal: Principal,
    data: schemas.UserInvite,
    invite_ttl_seconds: int,
) -> tuple[User, str, Any]:
    """Create an invited user and a one-time invite token (returned once)."""
    _check_assignable(principal, data.role)
    client_id, company_id, department_id = await _placement(session, principal, data)
    user = User(
        id=new_id("usr"),
        email=data.email.lower(),
        name=data.name,
        role=data.role,
        status=UserStatus.INVITED,
        organization_id=principal.organization_id,
        client_id=client_id,
        company_id=company_id,
        department_id=department_id,
        created_by=principal.id,
        updated_by=principal.id,
    )
    session.add(user)
    await _flush_unique(session, f"A user with email {user.email!r}", "email")
    token, expires_at = await auth_service.create_invite(
        session=session, user_id=user.id, created_by=principal.id, ttl_seconds=invite_ttl_seconds
    )
    _audit(session, principal, audit.AuditAction.CREATE, user)
    return user, token, expires_at


async def list_users(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    role: Role | None,
    status: UserStatus | None,
    company_id: str | None,
    email: str | None,
) -> Page[User]:
    stmt = scoped(principal, User)
    if role:
        stmt = stmt.where(User.role == role)
    if status:
        stmt = stmt.where(User.status == status)
    if company_id:
        stmt = stmt.where(User.company_id == company_id)
    if email:
        stmt = stmt.where(User.email == email.lower())
    return await paginate(session, stmt, User.id, page)


async def get_user(*, session: AsyncSession, principal: Principal, user_id: str) -> User:
    return await get_visible(session, principal, User, user_id)


async def update_user(
    *, session: AsyncSession, principal: Principal, user_id: str, data: schemas.UserUpdate
) -> User:
    user = await get_visible(session, principal, User, user_id)
    changes = data.model_dump(exclude_unset=True)
    _refuse_nulls(User, changes)  # before the role checks read the new role
    if user.id == principal.id and ({"role", "status"} & changes.keys()):
        raise PermissionDenied("You cannot change your own role or status.")
    _check_assignable(principal, user.role)
    if "role" in changes:
        _check_assignable(principal, changes["role"])
        if ROLE_LEVEL[changes["role"]] != ROLE_LEVEL[user.role]:
            raise InvalidRequest(
                "A role change must stay at the same level; invite a new user instead.",
                param="role",
            )
    if changes.get("status") not in (None, UserStatus.ACTIVE, UserStatus.SUSPENDED):
        raise InvalidRequest("status can be set to active or suspended.", param="status")
    if changes.get("department_id"):
        department = await get_visible(session, principal, Department, changes["department_id"])
        if department.company_id != user.company_id:
            raise InvalidRequest(
                "The department belongs to another company.", param="department_id"
            )
    before = audit.snapshot(user)
    _apply(user, changes, principal)
    await _flush_unique(session, "That identity", "auth0_id")
    if user.status is UserStatus.SUSPENDED:
        await _revoke_all_sessions(session, user.id, "user_suspended")
    _audit(session, principal, audit.AuditAction.UPDATE, user, before)
    return user


async def delete_user(*, session: AsyncSession, principal: Principal, user_id: str) -> User:
    """Soft delete: deactivated, signed out everywhere, kept for the audit trail."""
    user = await get_visible(session, principal, User, user_id)
    if user.id == principal.id:
        raise PermissionDenied("You cannot delete yourself.")
    _check_assignable(principal, user.role)
    before = audit.snapshot(user)
    user.status = UserStatus.DEACTIVATED
    user.deleted_at = clock.now()
    user.updated_by = principal.id
    await _revoke_all_sessions(session, user.id, "user_deleted")
    _audit(session, principal, audit.AuditAction.DELETE, user, before)
    return user


async def _revoke_all_sessions(session: AsyncSession, user_id: str, reason: str) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )
