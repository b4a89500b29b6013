"""The auth integration: an organization's active Auth0, Okta or Cognito platform integration is
where its OpenID Connect settings (issuer, audience, JWKS URL, algorithms) live."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.oidc import OidcSettings
from avnz.integrations.models import (
    IntegrationCategory,
    IntegrationStatus,
    PlatformIntegration,
)
from avnz.integrations.records import unseal
from avnz.security.keyring import Keyring

_OIDC_FIELDS = ("issuer", "audience", "jwks_uri", "algorithms", "client_id")


def oidc_settings(provider: str, settings: Mapping[str, Any]) -> OidcSettings:
    """The OIDC settings of an identity integration; raises pydantic's ValidationError."""
    values = {name: settings[name] for name in _OIDC_FIELDS if name in settings}
    return OidcSettings.model_validate({**values, "provider": provider.lower()})


async def oidc_configs(session: AsyncSession) -> list[tuple[str, OidcSettings]]:
    """(organization id, settings) of every active identity integration."""
    rows = await session.execute(
        select(
            PlatformIntegration.organization_id,
            PlatformIntegration.provider,
            PlatformIntegration.settings,
        ).where(
            PlatformIntegration.category == IntegrationCategory.AUTHENTICATION,
            PlatformIntegration.status == IntegrationStatus.ACTIVE,
            PlatformIntegration.deleted_at.is_(None),
        )
    )
    configs = []
    for organization_id, provider, settings in rows:
        try:
            configs.append((organization_id, oidc_settings(provider, settings or {})))
        except ValidationError:
            continue  # validated on write; a stored bad one signs nobody in
    return configs


@dataclass(frozen=True, slots=True)
class SignInConfig:
    """What the dashboard's sign-in redirect needs: the OIDC settings (with a client id) and
    the application's secret, when one is stored."""

    organization_id: str
    oidc: OidcSettings
    client_secret: str | None


async def sign_in_configs(session: AsyncSession, keyring: Keyring) -> list[SignInConfig]:
    """Active identity integrations that have a client id, so users can be redirected to them."""
    rows = await session.scalars(
        select(PlatformIntegration)
        .where(
            PlatformIntegration.category == IntegrationCategory.AUTHENTICATION,
            PlatformIntegration.status == IntegrationStatus.ACTIVE,
            PlatformIntegration.deleted_at.is_(None),
        )
        .order_by(PlatformIntegration.id)
    )
    configs = []
    for row in rows:
        try:
            oidc = oidc_settings(row.provider, row.settings or {})
        except ValidationError:
            continue
        if not oidc.client_id:
            continue
        credentials = unseal(row, keyring)
        configs.append(
            SignInConfig(row.organization_id, oidc, credentials.get("client_secret") or None)
        )
    return configs
