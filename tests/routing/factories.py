"""Merchant accounts for tests: request bodies, creation through the API, and rows made
directly for the usage tests (which drive `routing.accounts.usage` without HTTP)."""

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.core.ids import new_id
from avnz.gateways import registry
from avnz.payments import publishing
from avnz.payments.models import Payment
from avnz.routing.accounts import service as routing
from avnz.routing.accounts.models import AccountEnvironment, AccountStatus, MerchantAccount
from avnz.routing.pools.models import AccountPool, PoolMembership
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
    fees: dict[str, Any] | None = None,
    restrictions: dict[str, Any] | None = None,
    name: str = "Usage test",
) -> MerchantAccount:
    """An NMI sandbox account of `company`, written directly (the caller commits)."""
    account = MerchantAccount(
        id=new_id("ma"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        name=name,
        tags=[],
        provider_type="nmi",
        environment=AccountEnvironment.SANDBOX,
        currency=currency,
        status=AccountStatus.ACTIVE,
        status_changed_at=clock.now(),
        limits=limits or {},
        fees=fees or {},
        restrictions=restrictions or {},
        health_metrics={},
    )
    routing.encrypt_credentials(
        runtime.keyring, account, registry.GATEWAYS["nmi"].sandbox_credentials
    )
    session.add(account)
    await session.flush()
    return account


# --- pools ---------------------------------------------------------------------------------------


async def pool_row(
    session: AsyncSession,
    company: Company,
    members: list[tuple[MerchantAccount, dict[str, Any]]],
    *,
    strategy: str = "weighted",
    is_default: bool = False,
    configuration: dict[str, Any] | None = None,
) -> AccountPool:
    """A pool of `company` holding `members` (account, membership fields), written directly."""
    pool = AccountPool(
        id=new_id("pool"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        name="Test pool",
        strategy=strategy,
        is_active=True,
        is_default=is_default,
        configuration=configuration or {},
        failover_enabled=True,
        failover_config={},
    )
    session.add(pool)
    await session.flush()
    for index, (account, fields) in enumerate(members):
        session.add(
            PoolMembership(
                id=new_id("pmem"),
                pool_id=pool.id,
                merchant_account_id=account.id,
                added_at=clock.now() + timedelta(microseconds=index),
                **({"weight": 100, "priority": 0, "is_active": True} | fields),
            )
        )
    await session.flush()
    return pool


_OUTCOMES = {"captured": "approved", "authorized": "approved", "declined": "hard_decline"}


def settled_payment(
    account: MerchantAccount,
    status: str,
    *,
    outcome: str | None = None,
    latency_ms: float | None = None,
    amount: int = 1000,
    card_brand: str = "visa",
    card_country: str = "US",
    decline_reason: str | None = None,
    created_at: datetime | None = None,
    **values: Any,
) -> Payment:
    """A payment of `account` with one attempt there, as the payment path writes it."""
    created_at = created_at or clock.now()
    outcome = outcome or _OUTCOMES.get(status, "gateway_error")
    attempt = {
        "attempt": 1,
        "account_id": account.id,
        "outcome": outcome,
        "decline_reason": decline_reason,
        "latency_ms": latency_ms if latency_ms is not None else 0.0,
        "step": "stop",
        "created_at": created_at.isoformat(),
    }
    return Payment(
        id=new_id("pay"),
        organization_id=account.organization_id,
        client_id=account.client_id,
        company_id=account.company_id,
        merchant_account_id=account.id,
        provider=account.provider_type,
        kind="sale",
        status=status,
        amount=amount,
        currency=account.currency,
        card_brand=card_brand,
        card_country=card_country,
        outcome=outcome,
        decline_reason=decline_reason,
        gateway_latency_ms=latency_ms,
        created_at=created_at,
        routing={"attempts": [attempt]},
        **values,
    )


async def payment_rows(
    session: AsyncSession,
    account: MerchantAccount,
    statuses: list[str],
    *,
    latency_ms: float | None = None,
    amount: int = 1000,
    card_brand: str = "visa",
    card_country: str = "US",
) -> None:
    """Past payments of `account` with these statuses, written directly and published to
    routing (its stats read its own attempt records)."""
    for status in statuses:
        session.add(
            settled_payment(
                account,
                status,
                latency_ms=latency_ms,
                amount=amount,
                card_brand=card_brand,
                card_country=card_country,
            )
        )
    await session.flush()
    await publishing.publish_settled(session)
