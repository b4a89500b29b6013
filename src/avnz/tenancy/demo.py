"""Demo data: one organization, two agencies (so isolation is visible), brands, departments,
one user per role, and for the first brand one merchant account per gateway pointed at the
built-in sandboxes. Safe to run again: it finds what exists and only fills gaps."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.ids import new_id
from avnz.gateways import registry
from avnz.routing.accounts import service as routing
from avnz.routing.accounts.models import AccountEnvironment, AccountStatus, MerchantAccount
from avnz.security.keyring import Keyring
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


# Caps that make the usage view worth a look; amounts in USD cents.
_DEMO_LIMITS = {
    "min_transaction_amount": 50,
    "max_transaction_amount": 500_000,
    "daily_transaction_limit": 1_000,
    "daily_volume_limit": 5_000_000,
    "monthly_volume_limit": 100_000_000,
}


async def _merchant_account(
    session: AsyncSession, keyring: Keyring, company: Company, gateway: str, base_url: str
) -> None:
    """One sandbox account of `gateway` for `company`, aimed at the sandbox `avnz serve` mounts;
    an existing one gets the current sandbox URL and credentials."""
    name = f"{registry.gateway(gateway).connector.display_name} sandbox"
    account = await session.scalar(
        select(MerchantAccount).where(
            MerchantAccount.company_id == company.id,
            MerchantAccount.provider_type == gateway,
            MerchantAccount.name == name,
        )
    )
    if account is None:
        account = MerchantAccount(
            id=new_id("ma"),
            organization_id=company.organization_id,
            client_id=company.client_id,
            company_id=company.id,
            name=name,
            description="Charges the local sandbox served by avnz; no real money moves.",
            tags=["demo", "sandbox"],
            provider_type=gateway,
            environment=AccountEnvironment.SANDBOX,
            currency="USD",
            status=AccountStatus.ACTIVE,
            status_changed_at=clock.now(),
            limits=dict(_DEMO_LIMITS),
            fees={"base_percentage": "2.9", "base_flat_fee": 30},
            restrictions={},
            health_metrics={},
            created_by=SYSTEM,
            updated_by=SYSTEM,
        )
        session.add(account)
    account.base_url = registry.sandbox_url(base_url, gateway)
    routing.encrypt_credentials(keyring, account, registry.gateway(gateway).sandbox_credentials)


async def load(
    session: AsyncSession,
    password: str = DEFAULT_PASSWORD,
    *,
    keyring: Keyring | None = None,
    base_url: str | None = None,
) -> list[DemoLogin]:
    """Create (or complete) the demo tenants and set every demo user's password. With a keyring
    and the server's base URL, the first brand also gets a sandbox account per gateway."""
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
        if keyring is not None and base_url is not None:
            for gateway in registry.GATEWAYS:
                await _merchant_account(session, keyring, companies[0], gateway, base_url)
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


async def operator_and_brands(session: AsyncSession) -> tuple[Principal, list[Company]]:
    """The demo's organization admin (as a principal) and the brands that have the sandbox
    accounts (each agency's first), for loading demo activity through the services."""
    admin = await session.scalar(select(User).where(User.email == "org.admin@demo.avnz.io"))
    slugs = [agency.brands[0][0] for agency in _AGENCIES]
    found = {
        c.slug: c for c in await session.scalars(select(Company).where(Company.slug.in_(slugs)))
    }
    if admin is None or len(found) != len(slugs):
        raise LookupError("the demo tenants are not loaded")
    principal = Principal.for_user(
        user_id=admin.id,
        role=Role.ORGANIZATION_ADMIN,
        organization_id=admin.organization_id,
        client_id=None,
        company_id=None,
        email=admin.email,
    )
    return principal, [found[slug] for slug in slugs]
