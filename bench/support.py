"""What the bench scripts share: a tenant to work in and how figures are printed."""

import statistics
import time
from collections.abc import Callable

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


def timed(operation: Callable[[int], object], count: int) -> tuple[list[float], float]:
    """Run `operation(index)` `count` times: each call's time in microseconds, and calls/s."""
    samples = []
    started = time.perf_counter()
    for index in range(count):
        begin = time.perf_counter_ns()
        operation(index)
        samples.append((time.perf_counter_ns() - begin) / 1000)
    return samples, count / (time.perf_counter() - started)


def spread(samples_ms: list[float]) -> str:
    """p50 / p95 / p99 of samples in milliseconds (a single sample is printed as it is)."""
    if len(samples_ms) < 2:
        return "  ".join(f"{sample:7.2f} ms" for sample in samples_ms) or "no samples"
    cuts = statistics.quantiles(samples_ms, n=100)
    return f"p50 {cuts[49]:7.2f} ms  p95 {cuts[94]:7.2f} ms  p99 {cuts[98]:7.2f} ms"
