"""The hooks the integrations framework calls: a client payment integration creates and updates
its merchant account, and deactivates it when deleted; platform-mode accounts charge with the
organization's platform integration's credentials."""

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from avnz.audit.models import AuditLog
from avnz.auth.scope import Principal
from avnz.core.errors import InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.gateways import registry
from avnz.integrations.definitions import reference_rows
from avnz.integrations.models import (
    ClientIntegration,
    IntegrationCategory,
    IntegrationDefinition,
    IntegrationMode,
    IntegrationProvider,
    PlatformIntegration,
    credentials_aad,
)
from avnz.routing.accounts import integration_sync
from avnz.routing.accounts import service as routing
from avnz.routing.accounts.models import AccountStatus, MerchantAccount
from avnz.routing.accounts.schemas import IntegrationLink
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import API
from tests.support.live_server import live_server

NMI = dict(registry.GATEWAYS["nmi"].sandbox_credentials)
OTHER_KEY = "AnotherSecurityKey000000000000AB"


def _principal(world: World, role: Role, agency: str = "a") -> Principal:
    side = world.a if agency == "a" else world.b
    user = side.users[role]
    return Principal.for_user(
        user_id=user.id,
        role=role,
        organization_id=user.organization_id,
        client_id=user.client_id,
        company_id=user.company_id,
        email=user.email,
    )


async def _ensure_definition(session: Any, provider: IntegrationProvider) -> None:
    if await session.get(IntegrationDefinition, provider) is None:
        [row] = [r for r in reference_rows() if r["provider"] == provider]
        session.add(IntegrationDefinition(**row))
        await session.flush()


async def _client_integration(runtime: Runtime, world: World, **fields: Any) -> str:
    async with runtime.sessions.begin() as session:
        await _ensure_definition(session, IntegrationProvider.NMI)
        values: dict[str, Any] = {
            "id": new_id("cint"),
            "organization_id": world.organization.id,
            "client_id": world.a.client.id,
            "company_id": world.a.company.id,
            "provider": IntegrationProvider.NMI,
            "category": IntegrationCategory.PAYMENT_GATEWAY,
            "name": "NMI (integration)",
            "mode": IntegrationMode.OWN,
        }
        row = ClientIntegration(**(values | fields))
        session.add(row)
        return row.id


def _link(world: World, integration_id: str, **overrides: Any) -> IntegrationLink:
    link = IntegrationLink(
        client_integration_id=integration_id,
        company_id=world.a.company.id,
        provider="nmi",
        name="NMI (integration)",
        environment="sandbox",
        credentials=NMI,
        platform_integration_id=None,
        base_url="http://127.0.0.1:9",
    )
    return replace(link, **overrides)


async def _sync(runtime: Runtime, link: IntegrationLink, principal: Principal) -> MerchantAccount:
    async with runtime.sessions.begin() as session:
        return await integration_sync.sync_from_integration(
            session, runtime.keyring, link, principal
        )


async def test_an_integration_creates_then_updates_its_account(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    integration_id = await _client_integration(runtime, world)
    admin = _principal(world, Role.CLIENT_ADMIN)
    created = await _sync(runtime, _link(world, integration_id), admin)
    assert created.id.startswith("ma_")
    assert (created.is_from_integration, created.client_integration_id) == (True, integration_id)
    assert (created.company_id, created.client_id) == (world.a.company.id, world.a.client.id)
    assert created.status is AccountStatus.ACTIVE
    assert routing.decrypt_credentials(runtime.keyring, created) == NMI

    headers = world.headers(Role.CLIENT_ADMIN)
    limits = await client.patch(
        f"{API}/{created.id}", json={"limits": {"daily_transaction_limit": 9}}, headers=headers
    )
    assert limits.status_code == 200, limits.text
    for field, value in (("credentials", {"security_key": OTHER_KEY}), ("base_url", None)):
        managed = await client.patch(f"{API}/{created.id}", json={field: value}, headers=headers)
        assert managed.status_code == 409
        assert managed.json()["error"] == managed.json()["error"] | {
            "code": "managed_by_integration",
            "param": field,
        }

    updated = await _sync(
        runtime,
        _link(world, integration_id, name="NMI renamed", credentials={"security_key": OTHER_KEY}),
        admin,
    )
    assert updated.id == created.id
    assert updated.credentials_ciphertext != created.credentials_ciphertext
    assert routing.decrypt_credentials(runtime.keyring, updated) == {"security_key": OTHER_KEY}
    detail = (await client.get(f"{API}/{created.id}", headers=headers)).json()
    assert detail["name"] == "NMI renamed"
    assert detail["limits"]["daily_transaction_limit"] == 9  # the owners' settings stay
    assert detail["credentials"] == {"security_key": "••••00AB"}

    async with runtime.sessions() as session:
        entries = (
            await session.scalars(
                select(AuditLog).where(AuditLog.resource_id == created.id).order_by(AuditLog.id)
            )
        ).all()
    assert [e.action for e in entries] == ["CREATE", "UPDATE", "UPDATE"]
    assert entries[0].metadata_ == {
        "source": "integration",
        "client_integration_id": integration_id,
    }
    assert OTHER_KEY not in json.dumps([e.new_value for e in entries])


async def test_deleting_the_integration_deactivates_its_account(
    runtime: Runtime, world: World
) -> None:
    integration_id = await _client_integration(runtime, world)
    admin = _principal(world, Role.CLIENT_ADMIN)
    account = await _sync(runtime, _link(world, integration_id), admin)
    for _ in range(2):  # the second call finds nothing left to do
        async with runtime.sessions.begin() as session:
            await integration_sync.deactivate_for_integration(session, integration_id, admin)
    async with runtime.sessions.begin() as session:
        await integration_sync.deactivate_for_integration(session, "cint_none", admin)
        row = await session.get(MerchantAccount, account.id)
        assert row is not None
        assert (row.status, row.status_reason) == (AccountStatus.INACTIVE, "integration deleted")
        assert row.status_changed_at is not None
        assert row.status_changed_at >= account.status_changed_at
        updates = (
            await session.scalars(
                select(AuditLog).where(
                    AuditLog.resource_id == account.id, AuditLog.action == "UPDATE"
                )
            )
        ).all()
        assert len(updates) == 1


async def test_hooks_stay_inside_the_callers_scope(runtime: Runtime, world: World) -> None:
    integration_id = await _client_integration(runtime, world)
    outsider = _principal(world, Role.CLIENT_ADMIN, "b")
    with pytest.raises(NotFound):
        await _sync(runtime, _link(world, integration_id), outsider)
    account = await _sync(
        runtime, _link(world, integration_id), _principal(world, Role.CLIENT_ADMIN)
    )
    with pytest.raises(NotFound):  # an existing account of another tenant is not taken over
        await _sync(runtime, _link(world, integration_id, company_id=world.b.company.id), outsider)
    async with runtime.sessions.begin() as session:
        await integration_sync.deactivate_for_integration(session, integration_id, outsider)
        row = await session.get(MerchantAccount, account.id)
        assert row is not None and row.status is AccountStatus.ACTIVE


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"provider": "okta"}, "provider"),
        ({"environment": "live"}, "environment"),
        ({"credentials": {"security_key": ""}}, "credentials.security_key"),
        ({"credentials": None}, "credentials"),
        ({"environment": "production"}, "base_url"),
    ],
)
async def test_a_bad_link_is_refused_naming_the_field(
    runtime: Runtime, world: World, overrides: dict[str, Any], param: str
) -> None:
    integration_id = await _client_integration(runtime, world)
    with pytest.raises(InvalidRequest) as refused:
        await _sync(
            runtime,
            _link(world, integration_id, **overrides),
            _principal(world, Role.CLIENT_ADMIN),
        )
    assert refused.value.param == param


async def test_a_platform_mode_account_uses_the_platform_integrations_credentials(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    async with runtime.sessions.begin() as session:
        await _ensure_definition(session, IntegrationProvider.NMI)
        platform = PlatformIntegration(
            id=new_id("pint"),
            organization_id=world.organization.id,
            provider=IntegrationProvider.NMI,
            category=IntegrationCategory.PAYMENT_GATEWAY,
            name="Platform NMI",
        )
        platform.credentials_ciphertext = runtime.keyring.encrypt(
            json.dumps(NMI).encode(), aad=credentials_aad(platform)
        )
        session.add(platform)
    integration_id = await _client_integration(
        runtime, world, mode=IntegrationMode.PLATFORM, platform_integration_id=platform.id
    )
    headers = world.headers(Role.COMPANY_ADMIN)
    with live_server(registry.GATEWAYS["nmi"].create_sandbox()) as url:
        account = await _sync(
            runtime,
            _link(
                world,
                integration_id,
                credentials=None,
                platform_integration_id=platform.id,
                base_url=url,
            ),
            _principal(world, Role.CLIENT_ADMIN),
        )
        assert account.credentials_ciphertext is None
        async with runtime.sessions() as session:
            config = await routing.connector_config(session, runtime.keyring, account)
        assert dict(config.credentials) == NMI
        assert config.base_url == url
        tested = await client.post(f"{API}/{account.id}/test", headers=headers)
    assert tested.status_code == 200
    assert tested.json()["success"] is True, tested.json()
    detail = (await client.get(f"{API}/{account.id}", headers=headers)).json()
    assert (detail["credentials_mode"], detail["credentials"]) == ("platform", None)
    assert detail["has_credentials"] is False
