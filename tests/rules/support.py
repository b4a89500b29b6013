"""Helpers for tests that make rules, pools and payments through the API."""

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.outbox.models import OutboxEvent

RULES = "/api/v1/routing-rules"
POOLS = "/api/v1/account-pools"
GERMANY = {"type": "geography", "field": "country", "operator": "equals", "value": "DE"}
BLOCK = {"type": "block", "reason": "Sanctioned"}


async def create_rule(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    body = {"name": "Rule", "actions": [BLOCK], **body}
    response = await client.post(RULES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_pool(
    client: httpx.AsyncClient, headers: dict[str, str], account_ids: list[str], **body: Any
) -> dict[str, Any]:
    response = await client.post(POOLS, json={"name": "Pool", **body}, headers=headers)
    assert response.status_code == 201, response.text
    pool: dict[str, Any] = response.json()
    for account_id in account_ids:
        added = await client.post(
            f"{POOLS}/{pool['id']}/accounts",
            json={"merchant_account_id": account_id},
            headers=headers,
        )
        assert added.status_code == 201, added.text
    return pool


async def events_named(session: AsyncSession, name: str) -> list[dict[str, Any]]:
    """The payloads of the committed outbox events called `name`, oldest first."""
    await session.rollback()  # a fresh snapshot of what the app committed
    rows = await session.scalars(
        select(OutboxEvent).where(OutboxEvent.name == name).order_by(OutboxEvent.created_at)
    )
    return [row.payload for row in rows]
