"""Fixtures and helpers for payments against the real sandboxes, served over loopback HTTP."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import create_account
from tests.support.sandboxes import sandbox_base_url

API = "/api/v1"
VISA = "4111111111111111"


@pytest.fixture
def sandboxes() -> str:
    """Every gateway's sandbox at {base}/{gateway}, one port, for the whole run."""
    return sandbox_base_url()


@pytest.fixture
def headers(world: World) -> dict[str, str]:
    return world.headers(Role.COMPANY_ADMIN)


@pytest.fixture
async def account(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str
) -> dict[str, Any]:
    """Brand A1's NMI account at the NMI sandbox."""
    return await create_account(client, headers, None, provider="nmi", base_url=f"{sandboxes}/nmi")


def card(number: str = VISA, cvv: str = "999") -> dict[str, Any]:
    return {"number": number, "exp_month": 12, "exp_year": datetime.now(UTC).year + 2, "cvv": cvv}


def payment_body(**overrides: Any) -> dict[str, Any]:
    return {"amount": 1999, "currency": "USD", "card": card(), **overrides}


async def pay(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> httpx.Response:
    return await client.post(f"{API}/payments", json=payment_body(**overrides), headers=headers)


async def ledger(sandboxes: str, gateway: str = "nmi") -> list[dict[str, Any]]:
    """What the sandbox itself recorded (the gateway's side of the story)."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{sandboxes}/{gateway}/_sandbox/transactions")
    found: list[dict[str, Any]] = response.json()
    return found
