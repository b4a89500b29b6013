"""Factories for the tenant hierarchy: a two-agency world with a user and token per role."""

from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.models import AuthSession
from avnz.core.ids import new_id
from avnz.runtime import Runtime
from avnz.security.passwords import hash_password
from avnz.tenancy.models import Client, Company, Department, Organization, Role, User, UserStatus

PASSWORD = "correct-horse-battery"


@lru_cache
def password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per run


@dataclass
class Agency:
    client: Client
    company: Company  # the first brand; company-level users live here
    other_company: Company
    department: Department
    users: dict[Role, User] = field(default_factory=dict)
    tokens: dict[Role, str] = field(default_factory=dict)

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@dataclass
class World:
    organization: Organization
    org_admin: User
    org_admin_token: str
    a: Agency
    b: Agency

    def headers(self, role: Role, agency: str = "a") -> dict[str, str]:
        if role is Role.ORGANIZATION_ADMIN:
            return {"Authorization": f"Bearer {self.org_admin_token}"}
        return (self.a if agency == "a" else self.b).headers(role)


def add_user(
    session: AsyncSession,
    *,
    organization: Organization,
    role: Role,
    email: str,
    client: Client | None = None,
    company: Company | None = None,
    department: Department | None = None,
    status: UserStatus = UserStatus.ACTIVE,
) -> User:
    user = User(
        id=new_id("usr"),
        email=email,
        name=email.split("@")[0],
        role=role,
        status=status,
        organization_id=organization.id,
        client_id=client.id if client else None,
        company_id=company.id if company else None,
        department_id=department.id if department else None,
        password_hash=password_hash(),
    )
    session.add(user)
    return user


def issue_token(session: AsyncSession, runtime: Runtime, user: User) -> str:
    """An access token with a live session, as login would give (without argon2's cost)."""
    auth_session = AuthSession(id=new_id("ses"), user_id=user.id)
    session.add(auth_session)
    return runtime.keyset.issue_access_token(
        issuer=runtime.settings.token_issuer,
        subject=user.id,
        session_id=auth_session.id,
        ttl=timedelta(minutes=15),
        claims={"role": user.role.value, "org": user.organization_id},
    )


def _company(client: Client, slug: str) -> Company:
    return Company(
        id=new_id("com"),
        organization_id=client.organization_id,
        client_id=client.id,
        name=slug.title(),
        slug=slug,
    )


async def _agency(
    session: AsyncSession, runtime: Runtime, organization: Organization, tag: str
) -> Agency:
    client = Client(
        id=new_id("cli"),
        organization_id=organization.id,
        name=f"Agency {tag}",
        slug=f"agency-{tag}",
    )
    session.add(client)
    company, other = _company(client, f"brand-{tag}1"), _company(client, f"brand-{tag}2")
    session.add_all([company, other])
    await session.flush()
    department = Department(
        id=new_id("dep"),
        organization_id=organization.id,
        client_id=client.id,
        company_id=company.id,
        name=f"Ops {tag}",
    )
    session.add(department)
    await session.flush()
    agency = Agency(client=client, company=company, other_company=other, department=department)
    for role in (Role.CLIENT_ADMIN, Role.CLIENT_USER, Role.COMPANY_ADMIN, Role.COMPANY_USER):
        company_level = role in (Role.COMPANY_ADMIN, Role.COMPANY_USER)
        agency.users[role] = add_user(
            session,
            organization=organization,
            role=role,
            email=f"{role.value.lower()}@{tag}.example.com",
            client=client,
            company=company if company_level else None,
        )
    await session.flush()
    for role, user in agency.users.items():
        agency.tokens[role] = issue_token(session, runtime, user)
    return agency


async def build_world(session: AsyncSession, runtime: Runtime) -> World:
    organization = Organization(id=new_id("org"), name="Platform", slug="platform")
    session.add(organization)
    await session.flush()
    org_admin = add_user(
        session,
        organization=organization,
        role=Role.ORGANIZATION_ADMIN,
        email="org.admin@example.com",
    )
    await session.flush()
    token = issue_token(session, runtime, org_admin)
    a = await _agency(session, runtime, organization, "a")
    b = await _agency(session, runtime, organization, "b")
    await session.flush()
    return World(organization, org_admin, token, a, b)
