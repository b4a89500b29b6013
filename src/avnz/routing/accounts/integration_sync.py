"""Merchant accounts that follow a client integration: created or updated from it (credentials,
environment, base URL) and deactivated with it. Called by the integrations' flow
(`integrations.gateway_accounts`) in its own transaction."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.errors import InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.gateways import registry
from avnz.routing.accounts.models import AccountEnvironment, AccountStatus, MerchantAccount
from avnz.routing.accounts.schemas import IntegrationLink
from avnz.routing.accounts.service import (
    apply_status,
    audit_change,
    audit_snapshot,
    check_base_url,
    company_for,
    encrypt_credentials,
    validate_credentials,
    visible,
)
from avnz.security.keyring import Keyring

# The status reason of an account whose integration was deleted.
INTEGRATION_DELETED = "integration deleted"


def _link_environment(link: IntegrationLink) -> AccountEnvironment:
    try:
        return AccountEnvironment(link.environment)
    except ValueError:
        raise InvalidRequest(
            "environment must be sandbox or production.", param="environment"
        ) from None


async def sync_from_integration(
    session: AsyncSession, keyring: Keyring, link: IntegrationLink, principal: Principal
) -> MerchantAccount:
    """Create or update the account of a client payment integration (found by its id): name,
    provider, environment and credentials follow the integration; limits, fees and the rest
    stay as the account's owners set them."""
    if link.provider not in registry.GATEWAYS:
        raise InvalidRequest(
            f"{link.provider!r} is not a payment gateway avnz speaks.", param="provider"
        )
    environment = _link_environment(link)
    check_base_url(environment, link.base_url)
    credentials = (
        validate_credentials(link.provider, link.credentials)
        if link.credentials is not None
        else None
    )
    if credentials is None and link.platform_integration_id is None:
        raise InvalidRequest(
            "A payment integration needs credentials or a platform integration.",
            param="credentials",
        )
    company = await company_for(session, principal, link.company_id)
    account = await session.scalar(
        select(MerchantAccount).where(
            MerchantAccount.client_integration_id == link.client_integration_id
        )
    )
    if account is not None and not principal.can_see(
        account.organization_id, account.client_id, account.company_id
    ):
        raise NotFound(f"No merchant account for integration {link.client_integration_id!r}.")
    created = account is None
    before = None if account is None else audit_snapshot(account)
    if account is None:
        account = MerchantAccount(
            id=new_id("ma"),
            currency="USD",
            status=AccountStatus.ACTIVE,
            status_changed_at=clock.now(),
            tags=[],
            limits={},
            fees={},
            restrictions={},
            health_metrics={},
            client_integration_id=link.client_integration_id,
            created_by=principal.id,
        )
        session.add(account)
    account.organization_id = company.organization_id
    account.client_id = company.client_id
    account.company_id = company.id
    account.name = link.name[:200]
    account.provider_type = link.provider
    account.environment = environment
    account.base_url = link.base_url
    account.platform_integration_id = link.platform_integration_id
    account.is_from_integration = True
    account.updated_by = principal.id
    if credentials is None:
        account.credentials_ciphertext = None
    else:
        encrypt_credentials(keyring, account, credentials)
    await session.flush()
    audit_change(
        session,
        principal,
        audit.AuditAction.CREATE if created else audit.AuditAction.UPDATE,
        account,
        before,
        metadata={"source": "integration", "client_integration_id": link.client_integration_id},
    )
    return account


async def deactivate_for_integration(
    session: AsyncSession, client_integration_id: str, principal: Principal
) -> None:
    """The integration is going away: its account stops taking payments (status inactive) but
    stays for its history. No account, a closed one, or one already deactivated is left as it
    is."""
    account = await session.scalar(
        select(MerchantAccount).where(
            MerchantAccount.client_integration_id == client_integration_id, visible(principal)
        )
    )
    if account is None or account.status is AccountStatus.CLOSED:
        return
    if account.status is AccountStatus.INACTIVE and account.status_reason == INTEGRATION_DELETED:
        return
    before = audit_snapshot(account)
    apply_status(account, AccountStatus.INACTIVE, INTEGRATION_DELETED, reason_given=True)
    account.updated_by = principal.id
    await session.flush()
    audit_change(
        session,
        principal,
        audit.AuditAction.UPDATE,
        account,
        before,
        metadata={"source": "integration", "client_integration_id": client_integration_id},
    )
