"""A connection test, driven at the request's edge in three steps: read, call, record.

The services only read the target and record the result; a route calls these drivers with its
own unit of work. Between the two steps the request's transaction ends (its reads, and any change
the route made before the test, commit), so no transaction (on SQLite, the write lock) is held
while a provider takes its time to answer; the result is then recorded in a new transaction that
commits with the request.
"""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.integrations import client, platform, probes
from avnz.integrations.models import ClientIntegration, PlatformIntegration
from avnz.integrations.probes import ProbeResult, Target
from avnz.security.keyring import Keyring


async def check_platform_integration(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    http: httpx.AsyncClient,
    integration_id: str,
) -> tuple[PlatformIntegration, ProbeResult]:
    """Connect to the provider for real and record the result on the platform integration."""
    target = await platform.platform_test_target(
        session=session, principal=principal, keyring=keyring, integration_id=integration_id
    )
    result = await _call(session, http, target)
    row = await platform.record_platform_test(
        session=session, principal=principal, integration_id=integration_id, result=result
    )
    return row, result


async def check_client_integration(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    http: httpx.AsyncClient,
    integration_id: str,
) -> tuple[ClientIntegration, ProbeResult]:
    """Connect to the provider for real and record the result on the client integration."""
    target = await client.client_test_target(
        session=session, principal=principal, keyring=keyring, integration_id=integration_id
    )
    result = await _call(session, http, target)
    row = await client.record_client_test(
        session=session, principal=principal, integration_id=integration_id, result=result
    )
    return row, result


async def _call(session: AsyncSession, http: httpx.AsyncClient, target: Target) -> ProbeResult:
    await session.commit()  # the edge between the read and the network call
    return await probes.check_connection(target, http)
