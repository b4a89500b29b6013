"""A connection test, driven at the request's edge in three steps: read, call, record.

The services only read the target and record the result; a route calls `check_integration`
with its own unit of work. Between the two steps the request's transaction ends (its reads, and
any change the route made before the test, commit), so no transaction (on SQLite, the write
lock) is held while a provider takes its time to answer; the result is then recorded in a new
transaction that commits with the request.
"""

from typing import Literal, Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.integrations import client, platform, probes
from avnz.integrations.probes import ProbeResult, Target
from avnz.integrations.records import Integration
from avnz.security.keyring import Keyring

Kind = Literal["platform", "client"]


class TargetReader(Protocol):
    async def __call__(
        self, *, session: AsyncSession, principal: Principal, keyring: Keyring, integration_id: str
    ) -> Target: ...


class ResultRecorder(Protocol):
    async def __call__(
        self,
        *,
        session: AsyncSession,
        principal: Principal,
        integration_id: str,
        result: ProbeResult,
    ) -> Integration: ...


# The read and record steps of each kind of integration.
_STEPS: dict[Kind, tuple[TargetReader, ResultRecorder]] = {
    "platform": (platform.platform_test_target, platform.record_platform_test),
    "client": (client.client_test_target, client.record_client_test),
}


async def check_integration(
    *,
    kind: Kind,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    http: httpx.AsyncClient,
    integration_id: str,
) -> tuple[Integration, ProbeResult]:
    """Connect to the provider of a platform or client integration for real and record the
    result on it."""
    read_target, record_result = _STEPS[kind]
    target = await read_target(
        session=session, principal=principal, keyring=keyring, integration_id=integration_id
    )
    await session.commit()  # the edge between the read and the network call
    result = await probes.check_connection(target, http)
    row = await record_result(
        session=session, principal=principal, integration_id=integration_id, result=result
    )
    return row, result
