"""What the bench scripts share: a tenant to work in and how figures are printed."""

import statistics

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core.ids import new_id
from avnz.tenancy.models import Client, Company, Organization


def percentiles(samples: list[float]) -> str:
    """p50 / p99 / max of samples in microseconds."""
    cuts = statistics.quantiles(samples, n=100)
    return f"p50 {cuts[49]:8.1f} µs  p99 {cuts[98]:8.1f} µs  max {max(samples):8.1f} µs"


async def bench_company(session: AsyncSession, timezone: str = "UTC") -> Company:
    """An organization, client and company, flushed one by one (foreign keys in order)."""
    organization = Organization(id=new_id("org"), name="Bench", slug="bench")
    session.add(organization)
    await session.flush()
    client = Client(id=new_id("cli"), organization_id=organization.id, name="C", slug="c")
    session.add(client)
    await session.flush()
    company = Company(
        id=new_id("com"),
        organization_id=organization.id,
        client_id=client.id,
        name="Brand",
        slug="brand",
        timezone=timezone,
    )
    session.add(company)
    await session.flush()
    return company
