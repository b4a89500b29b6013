"""A brand charging through the organization's platform gateway: the payment goes through the
platform's credentials and counts toward the client's platform usage and fee."""

from typing import Any

import httpx

from tests.factories import World
from tests.integrations.factories import (
    CLIENT,
    NMI_SANDBOX,
    client_admin,
    create_client_integration,
    create_platform,
)
from tests.support.payments import API, ledger, pay


async def test_a_platform_mode_payment_uses_the_platform_account_and_pays_its_fee(
    client: httpx.AsyncClient, world: World, headers: dict[str, str], sandboxes: str
) -> None:
    platform = await create_platform(
        client,
        world,
        "NMI",
        credentials=NMI_SANDBOX,
        settings={"base_url": f"{sandboxes}/nmi"},
        is_shared_with_clients=True,
    )
    used: dict[str, Any] = await create_client_integration(
        client,
        client_admin(world),
        {
            "provider": "NMI",
            "name": "NMI through the platform",
            "mode": "platform",
            "platform_integration_id": platform["id"],
            "company_id": world.a.company.id,
        },
    )
    response = await pay(client, headers, amount=1999)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["status"] == "captured", payment
    assert payment["platform_fee"] == 20  # 0.5 % of 19.99 rounds to 10, plus 10
    [charged] = [t for t in await ledger(sandboxes) if t["order_id"] == payment["id"]]
    assert charged["amount"] == 1999

    usage = await client.get(f"{CLIENT}/{used['id']}/usage", headers=client_admin(world))
    assert usage.json()["usage"] == [
        {"currency": "USD", "transaction_count": 1, "volume_minor": 1999, "fee_minor": 20}
    ]
    account = await client.get(
        f"{API}/merchant-accounts/{payment['merchant_account_id']}", headers=headers
    )
    assert account.json()["client_integration_id"] == used["id"]
