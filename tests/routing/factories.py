"""Merchant accounts for tests: request bodies, creation through the API, and rows made
directly for the usage tests (which drive `routing.usage` without HTTP)."""

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.core.ids import new_id
from avnz.gateways import registry
from avnz.routing import service as routing
from avnz.routing.models import AccountEnvironment, AccountStatus, MerchantAccount
from avnz.runtime import Runtime
from avnz.tenancy.models import Company

API = "/api/v1/merchant-accounts"
# A loopback port nothing listens on (discard): a connection test fails fast, before sending.
UNREACHABLE = "http://127.0.0.1:9"


def account_body(company_id: str | None, provider: str = "nmi", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"{provider} main",
        "provider_type": provider,
        "credentials": dict(registry.GATEWAYS[provider].sandbox_credentials),
        "environment": "sandbox",
        "base_url": UNREACHABLE,
        "currency": "USD",
    }
    if company_id is not None:
        body["company_id"] = company_id
    return {**body, **overrides}


async def create_account(
    client: httpx.AsyncClient, headers: dict[str, str], company_id: str | None, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(API, json=account_body(company_id, **overrides), headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def account_row(
    session: AsyncSession,
    runtime: Runtime,
    company: Company,
    *,
    limits: dict[str, Any] | None = None,
    currency: str = "USD",
) -> MerchantAccount:
    """An NMI sandbox account of `company`, written directly (the caller commits)."""
    account = MerchantAccount(
        id=new_id("ma"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        name="Usage test",
        tags=[],
        provider_type="nmi",
        environment=AccountEnvironment.SANDBOX,
        currency=currency,
        status=AccountStatus.ACTIVE,
        status_changed_at=clock.now(),
        limits=limits or {},
        fees={},
        restrictions={},
        health_metrics={},
    )
    routing.encrypt_credentials(
        runtime.keyring, account, registry.GATEWAYS["nmi"].sandbox_credentials
    )
    session.add(account)
    await session.flush()
    return account
