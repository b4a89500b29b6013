"""A client payment integration keeps its brand's merchant account in step: created with it,
synced when it changes, deactivated when it goes; platform mode points the account at the
organization's platform integration instead of holding credentials."""

from sqlalchemy import select

from avnz.gateways import registry
from avnz.integrations import service as integrations
from avnz.routing.accounts import service as routing
from avnz.routing.accounts.models import AccountStatus, MerchantAccount
from tests.integrations.factories import (
    CLIENT,
    NMI_SANDBOX,
    UNREACHABLE,
    client_admin,
    create_client_integration,
    create_platform,
    own_body,
)
from tests.support.live_server import live_server

NEW_KEY = "9" * 32


async def _account(runtime, integration_id: str) -> MerchantAccount:
    async with runtime.sessions() as session:
        account = await session.scalar(
            select(MerchantAccount).where(MerchantAccount.client_integration_id == integration_id)
        )
    assert account is not None
    return account


async def test_own_mode_gateway_integration_creates_syncs_and_deactivates_its_account(
    client, world, runtime
):
    headers = client_admin(world)
    created = await create_client_integration(
        client, headers, own_body("NMI", company_id=world.a.company.id, name="NMI brand A1")
    )
    account = await _account(runtime, created["id"])
    assert (account.provider_type, account.company_id) == ("nmi", world.a.company.id)
    assert (account.name, account.environment.value) == ("NMI brand A1", "sandbox")
    assert account.is_from_integration and account.status is AccountStatus.ACTIVE
    assert account.base_url == UNREACHABLE
    assert routing.decrypt_credentials(runtime.keyring, account) == NMI_SANDBOX

    updated = await client.patch(
        f"{CLIENT}/{created['id']}",
        json={"credentials": {"security_key": NEW_KEY}, "name": "NMI renamed"},
        headers=headers,
    )
    assert updated.status_code == 200, updated.text
    account = await _account(runtime, created["id"])
    assert account.name == "NMI renamed"
    assert routing.decrypt_credentials(runtime.keyring, account) == {"security_key": NEW_KEY}

    deleted = await client.delete(f"{CLIENT}/{created['id']}", headers=headers)
    assert deleted.status_code == 200
    account = await _account(runtime, created["id"])
    assert account.status is AccountStatus.INACTIVE


async def test_the_synced_account_charges_the_sandbox(client, world, runtime):
    headers = client_admin(world)
    with live_server(registry.GATEWAYS["nmi"].create_sandbox()) as url:
        created = await create_client_integration(
            client,
            headers,
            own_body("NMI", company_id=world.a.company.id, settings={"base_url": url}),
        )
        account_id = (await _account(runtime, created["id"])).id
        tested = await client.post(f"/api/v1/merchant-accounts/{account_id}/test", headers=headers)
    assert tested.status_code == 200, tested.text
    assert tested.json()["success"] is True


async def test_platform_mode_points_the_account_at_the_platform_integration(client, world, runtime):
    platform = await create_platform(client, world, "NMI", is_shared_with_clients=True)
    created = await create_client_integration(
        client,
        client_admin(world),
        {
            "provider": "NMI",
            "name": "NMI via platform",
            "mode": "platform",
            "platform_integration_id": platform["id"],
            "company_id": world.a.company.id,
        },
    )
    account = await _account(runtime, created["id"])
    assert account.platform_integration_id == platform["id"]
    assert account.credentials_ciphertext is None
    assert account.base_url == UNREACHABLE  # the platform's endpoint, not the client's
    async with runtime.sessions() as session:
        credentials = await integrations.platform_credentials(
            session, runtime.keyring, platform["id"]
        )
    assert credentials == NMI_SANDBOX


async def test_deactivating_the_integration_deactivates_the_account(client, world, runtime):
    headers = client_admin(world)
    created = await create_client_integration(
        client, headers, own_body("NMI", company_id=world.a.company.id)
    )
    await client.patch(f"{CLIENT}/{created['id']}", json={"status": "inactive"}, headers=headers)
    assert (await _account(runtime, created["id"])).status is AccountStatus.INACTIVE
