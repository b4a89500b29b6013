"""Client integrations of payment gateways with the merchant accounts that mirror them.

The flow above two domains: the integrations change goes through `client`, then routing
creates, syncs or deactivates the brand's merchant account in the same unit of work. It is not
part of the face (`service.py`) because routing's service calls the face for a platform
account's credentials: the face never calls back into routing.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.integrations import client, schemas
from avnz.integrations.definitions import DEFINITIONS
from avnz.integrations.models import (
    ClientIntegration,
    IntegrationCategory,
    IntegrationMode,
    IntegrationStatus,
    PlatformIntegration,
)
from avnz.integrations.records import (
    unseal,
)
from avnz.routing.accounts import integration_sync
from avnz.routing.accounts.schemas import IntegrationLink
from avnz.security.keyring import Keyring


async def create_client_integration(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    data: schemas.ClientIntegrationCreate,
) -> ClientIntegration:
    """Add a client's integration; a payment gateway's brand gets its merchant account in the
    same transaction."""
    row = await client.create_client_integration(
        session=session, principal=principal, keyring=keyring, data=data
    )
    await _sync_account(session, keyring, principal, row)
    return row


async def update_client_integration(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    integration_id: str,
    data: schemas.ClientIntegrationUpdate,
) -> ClientIntegration:
    """Change the given fields and keep a gateway's merchant account in step (an inactive
    integration deactivates it)."""
    row = await client.update_client_integration(
        session=session,
        principal=principal,
        keyring=keyring,
        integration_id=integration_id,
        data=data,
    )
    if row.status is IntegrationStatus.INACTIVE:
        await _deactivate_account(session, principal, row)
    else:
        await _sync_account(session, keyring, principal, row)
    return row


async def delete_client_integration(
    *, session: AsyncSession, principal: Principal, integration_id: str
) -> ClientIntegration:
    """Soft delete: the credentials are erased and a gateway's merchant account deactivated."""
    row = await client.delete_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    await _deactivate_account(session, principal, row)
    return row


async def _sync_account(
    session: AsyncSession,
    keyring: Keyring,
    principal: Principal,
    row: ClientIntegration,
) -> None:
    """A payment integration's brand gets (or keeps) a merchant account that mirrors it."""
    gateway = DEFINITIONS[row.provider].gateway
    if gateway is None or row.company_id is None:
        return
    own = row.mode is IntegrationMode.OWN
    base_url = row.settings.get("base_url")
    if not own and row.platform_integration_id:
        platform = await session.get(PlatformIntegration, row.platform_integration_id)
        base_url = platform.settings.get("base_url") if platform else None
    link = IntegrationLink(
        client_integration_id=row.id,
        company_id=row.company_id,
        provider=gateway,
        name=row.name,
        environment=row.environment.value,
        credentials=unseal(row, keyring) if own else None,
        platform_integration_id=row.platform_integration_id,
        base_url=base_url,
    )
    await integration_sync.sync_from_integration(session, keyring, link, principal)


async def _deactivate_account(
    session: AsyncSession, principal: Principal, row: ClientIntegration
) -> None:
    if row.category is IntegrationCategory.PAYMENT_GATEWAY:
        await integration_sync.deactivate_for_integration(session, row.id, principal)
