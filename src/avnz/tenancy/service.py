"""The tenancy domain's face: organizations, clients, companies and departments here, users from
`users`, always inside the caller's scope.

Every function takes the Principal; a row outside its scope is reported as missing (404), never
as forbidden, so the existence of another tenant's data does not leak.
"""

from typing import Any, Literal

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth import service as auth_service
from avnz.auth.permissions import Level, Permission
from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.errors import InvalidRequest, PermissionDenied
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
    User,
    UserStatus,
)
from avnz.tenancy.rows import (
    apply_changes,
    audit_change,
    flush_unique,
    require_level,
    slugify,
    tenant_of,
)
from avnz.tenancy.users import delete_user, get_user, invite_user, list_users, update_user
from avnz.tenancy.visibility import get_visible, scoped

# --- organizations ---------------------------------------------------------------------------


async def list_organizations(
    *, session: AsyncSession, principal: Principal, page: PageParams
) -> Page[Organization]:
    return await paginate(session, scoped(principal, Organization), Organization.id, page)


async def all_organization_ids(*, session: AsyncSession) -> list[str]:
    """Every organization's id, for platform-wide work with no caller (a master key rotation
    audited in each organization's log); never for a request, which has a scope."""
    return list(await session.scalars(select(Organization.id).order_by(Organization.id)))


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
    apply_changes(organization, changes, principal)
    audit_change(session, principal, audit.AuditAction.UPDATE, organization, before)
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
    await flush_unique(session, f"Client slug {client.slug!r}", "slug")
    audit_change(session, principal, audit.AuditAction.CREATE, client)
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
    apply_changes(client, changes, principal)
    await flush_unique(session, f"Client slug {client.slug!r}", "slug")
    audit_change(session, principal, audit.AuditAction.UPDATE, client, before)
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
        owner="client",
        owner_id=client.id,
        reason="client_deleted",
    )
    audit_change(session, principal, audit.AuditAction.DELETE, client, before)
    return client


async def _shut_out(
    session: AsyncSession,
    principal: Principal,
    users: ColumnElement[bool],
    *,
    owner: Literal["client", "company"],
    owner_id: str,
    reason: str,
) -> None:
    """Deactivate the matching users, end their sessions and revoke the owner's API keys."""
    await session.execute(
        update(User)
        .where(users, User.deleted_at.is_(None))
        .values(status=UserStatus.DEACTIVATED, updated_by=principal.id, updated_at=clock.now())
    )
    await auth_service.end_sessions(
        session=session, user_ids=select(User.id).where(users), reason=reason
    )
    await auth_service.revoke_api_keys(session=session, owner=owner, owner_id=owner_id)


# --- companies -------------------------------------------------------------------------------


async def create_company(
    *, session: AsyncSession, principal: Principal, data: schemas.CompanyCreate
) -> Company:
    require_level(principal, Level.CLIENT, "create companies")
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
    await flush_unique(session, f"Company slug {company.slug!r}", "slug")
    audit_change(session, principal, audit.AuditAction.CREATE, company)
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
    apply_changes(company, data.model_dump(exclude_unset=True), principal)
    await flush_unique(session, f"Company slug {company.slug!r}", "slug")
    audit_change(session, principal, audit.AuditAction.UPDATE, company, before)
    return company


async def delete_company(
    *, session: AsyncSession, principal: Principal, company_id: str
) -> Company:
    """Soft delete: kept for the transactions that reference it, hidden everywhere else; its
    company-level users are deactivated and its API keys revoked."""
    company = await get_visible(session, principal, Company, company_id)
    require_level(principal, Level.CLIENT, "delete companies")
    before = audit.snapshot(company)
    company.status = CompanyStatus.INACTIVE
    company.deleted_at = clock.now()
    company.updated_by = principal.id
    await _shut_out(
        session,
        principal,
        User.company_id == company.id,
        owner="company",
        owner_id=company.id,
        reason="company_deleted",
    )
    audit_change(session, principal, audit.AuditAction.DELETE, company, before)
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
    await flush_unique(session, f"Department name {department.name!r}", "name")
    audit_change(session, principal, audit.AuditAction.CREATE, department)
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
    apply_changes(department, data.model_dump(exclude_unset=True), principal)
    await flush_unique(session, f"Department name {department.name!r}", "name")
    audit_change(session, principal, audit.AuditAction.UPDATE, department, before)
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
        tenant=tenant_of(department),
        before=before,
    )


__all__ = [
    "create_client",
    "create_company",
    "create_department",
    "delete_client",
    "delete_company",
    "delete_department",
    "delete_user",
    "get_client",
    "get_company",
    "get_department",
    "get_organization",
    "get_user",
    "invite_user",
    "list_clients",
    "list_companies",
    "list_departments",
    "list_organizations",
    "list_users",
    "update_client",
    "update_company",
    "update_department",
    "update_organization",
    "update_user",
]
