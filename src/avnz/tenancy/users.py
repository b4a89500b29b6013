"""Users: invited into a client, company or department no higher than the inviter may grant;
suspending or deleting one ends their sessions at once.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth import service as auth_service
from avnz.auth.permissions import ROLE_LEVEL, ROLE_PERMISSIONS, Level
from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.errors import InvalidRequest, PermissionDenied
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate
from avnz.tenancy import schemas
from avnz.tenancy.models import (
    Client,
    Company,
    Department,
    Role,
    User,
    UserStatus,
)
from avnz.tenancy.rows import apply_changes, audit_change, flush_unique, refuse_nulls
from avnz.tenancy.visibility import get_visible, scoped


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
    await flush_unique(session, f"A user with email {user.email!r}", "email")
    token, expires_at = await auth_service.create_invite(
        session=session, user_id=user.id, created_by=principal.id, ttl_seconds=invite_ttl_seconds
    )
    audit_change(session, principal, audit.AuditAction.CREATE, user)
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
    refuse_nulls(User, changes)  # before the role checks read the new role
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
    apply_changes(user, changes, principal)
    await flush_unique(session, "That identity", "auth0_id")
    if user.status is UserStatus.SUSPENDED:
        await auth_service.end_sessions(
            session=session, user_ids=[user.id], reason="user_suspended"
        )
    audit_change(session, principal, audit.AuditAction.UPDATE, user, before)
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
    await auth_service.end_sessions(session=session, user_ids=[user.id], reason="user_deleted")
    audit_change(session, principal, audit.AuditAction.DELETE, user, before)
    return user
