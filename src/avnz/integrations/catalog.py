"""The integration definitions: which providers exist, in which category, and for whom."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core.errors import InvalidRequest, NotFound
from avnz.integrations.models import (
    DefinitionStatus,
    IntegrationCategory,
    IntegrationDefinition,
)


async def list_definitions(
    *,
    session: AsyncSession,
    category: IntegrationCategory | None = None,
    provider: str | None = None,
    client_allowed: bool | None = None,
) -> list[IntegrationDefinition]:
    stmt = select(IntegrationDefinition).order_by(
        IntegrationDefinition.category, IntegrationDefinition.provider
    )
    if category:
        stmt = stmt.where(IntegrationDefinition.category == category)
    if provider:
        stmt = stmt.where(IntegrationDefinition.provider == provider)
    if client_allowed is not None:
        stmt = stmt.where(IntegrationDefinition.is_client_allowed.is_(client_allowed))
    return list((await session.scalars(stmt)).all())


async def get_definition(*, session: AsyncSession, provider: str) -> IntegrationDefinition:
    row = await session.get(IntegrationDefinition, provider)
    if row is None:
        raise NotFound(f"No integration definition for {provider}.", param="provider")
    return row


async def definition_for_new(session: AsyncSession, provider: str) -> IntegrationDefinition:
    """The definition of a provider a new integration may still use (not deprecated)."""
    definition = await get_definition(session=session, provider=provider)
    if definition.status is DefinitionStatus.DEPRECATED:
        raise InvalidRequest(
            f"{definition.name} is deprecated; no new integrations can use it.",
            code="provider_deprecated",
            param="provider",
        )
    return definition
