"""Demo data: one organization, two agencies (so isolation is visible), brands, departments and
one user per role. Safe to run again: it finds what exists and only fills gaps."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core.ids import new_id
from avnz.security.passwords import hash_password
from avnz.tenancy.models import Client, Company, Department, Organization, Role, User, UserStatus

DEFAULT_PASSWORD = "avnz-demo-2026"  # noqa: S105 - documented demo login, local only
SYSTEM = "system:demo"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    email: str
    role: Role


@dataclass(frozen=True, slots=True)
class _Agency:
    slug: str
    name: str
    email_domain: str
    brands: tuple[tuple[str, str], ...]


_AGENCIES = (
    _Agency(
        "demo-agency",
        "Demo Agency",
        "demo.avnz.io",
        (("glow-skincare", "Glow Skincare"), ("peak-supplements", "Peak Supplements")),
    ),
    _Agency(
        "second-agency",
        "Second Agency",
        "demo2.avnz.io",
        (("urban-coffee-club", "Urban Coffee Club"),),
    ),
)
_DEPARTMENTS = ("Operations", "Customer Service")


async def _organization(session: AsyncSession) -> Organization:
    org = await session.scalar(select(Organization).where(Organization.slug == "avnz-demo"))
    if org is None:
        org = Organization(
            id=new_id("org"),
            name="avnz Demo Platform",
            slug="avnz-demo",
            billing_email="billing@demo.avnz.io",
            support_email="support@demo.avnz.io",
            created_by=SYSTEM,
            updated_by=SYSTEM,
        )
        session.add(org)
    return org


async def _client(session: AsyncSession, org: Organization, agency: _Agency) -> Client:
    client = await session.scalar(
        select(Client).where(Client.organization_id == org.id, Client.slug == agency.slug)
    )
    if client is None:
        client = Client(
            id=new_id("cli"),
            organization_id=org.id,
            name=agency.name,
            slug=agency.slug,
            created_by=SYSTEM,
            updated_by=SYSTEM,
        )
        session.add(client)
    return client


async def _company(session: AsyncSession, client: Client, slug: str, name: str) -> Company:
    company = await session.scalar(
        select(Company).where(Company.client_id == client.id, Company.slug == slug)
    )
    if company is None:
        company = Company(
            id=new_id("com"),
            organization_id=client.organization_id,
            client_id=client.id,
            name=name,
            slug=slug,
            timezone="America/New_York",
            created_by=SYSTEM,
            updated_by=SYSTEM,
        )
        session.add(company)
    return company


async def _department(session: AsyncSession, company: Company, name: str) -> Department:
    department = await session.scalar(
        select(Department).where(Department.company_id == company.id, Department.name == name)
    )
    if department is None:
        department = Department(
            id=new_id("dep"),
            organization_id=company.organization_id,
            client_id=company.client_id,
            company_id=company.id,
            name=name,
            created_by=SYSTEM,
            updated_by=SYSTEM,
        )
        session.add(department)
    return department


async def _user(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    role: Role,
    password_hash: str,
    org: Organization,
    client: Client | None = None,
    company: Company | None = None,
    department: Department | None = None,
) -> DemoLogin:
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(
            id=new_id("usr"),
            email=email,
            name=name,
            role=role,
            organization_id=org.id,
            client_id=client.id if client else None,
            company_id=company.id if company else None,
            department_id=department.id if department else None,
            created_by=SYSTEM,
            updated_by=SYSTEM,
        )
        session.add(user)
    user.password_hash = password_hash
    user.status = UserStatus.ACTIVE
    return DemoLogin(email, role)


async def load(session: AsyncSession, password: str = DEFAULT_PASSWORD) -> list[DemoLogin]:
    """Create (or complete) the demo tenants and set every demo user's password."""
    password_hash = hash_password(password)
    org = await _organization(session)
    logins = [
        await _user(
            session,
            email="org.admin@demo.avnz.io",
            name="Olivia Org-Admin",
            role=Role.ORGANIZATION_ADMIN,
            password_hash=password_hash,
            org=org,
        )
    ]
    for agency in _AGENCIES:
        client = await _client(session, org, agency)
        companies = [await _company(session, client, slug, name) for slug, name in agency.brands]
        departments = [await _department(session, companies[0], name) for name in _DEPARTMENTS]
        await session.flush()
        people = (
            ("client.admin", "Casey Client-Admin", Role.CLIENT_ADMIN, None, None),
            ("client.user", "Chris Client-User", Role.CLIENT_USER, None, None),
            ("company.admin", "Cora Company-Admin", Role.COMPANY_ADMIN, companies[0], None),
            ("company.user", "Cole Company-User", Role.COMPANY_USER, companies[0], departments[1]),
        )
        for local, name, role, company, department in people:
            logins.append(
                await _user(
                    session,
                    email=f"{local}@{agency.email_domain}",
                    name=name,
                    role=role,
                    password_hash=password_hash,
                    org=org,
                    client=client,
                    company=company,
                    department=department,
                )
            )
    await session.flush()
    return logins
