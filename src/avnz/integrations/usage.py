"""What the platform bills a client for a platform-mode integration: usage per month, priced
from the platform integration's settings, and the response bodies that show it.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.errors import NotFound
from avnz.core.money import currency_exponent
from avnz.integrations import schemas
from avnz.integrations.client import get_client_integration
from avnz.integrations.models import (
    ClientIntegration,
    ClientIntegrationUsage,
    IntegrationMode,
    PlatformIntegration,
)


def current_month() -> str:
    return clock.now().strftime("%Y-%m")


async def _pricing_of(
    session: AsyncSession, row: ClientIntegration
) -> schemas.ClientPricing | None:
    if row.mode is not IntegrationMode.PLATFORM or row.platform_integration_id is None:
        return None
    stored = await session.scalar(
        select(PlatformIntegration.client_pricing).where(
            PlatformIntegration.id == row.platform_integration_id
        )
    )
    return schemas.ClientPricing.model_validate(stored or {})


def _insert_ignoring_duplicates(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database {dialect!r}")


async def record_platform_usage(
    session: AsyncSession, client_integration_id: str, amount_minor: int, currency: str
) -> int:
    """Count one transaction of a platform-mode integration for this month and return the
    platform's fee on it. Two statements that never lose a concurrent update: insert the month's
    row if missing, then add to it in SQL."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor < 0:
        raise ValueError("amount_minor must be a non-negative int")
    currency = currency.upper()
    currency_exponent(currency)  # raises ValueError for an unknown code
    row = await session.get(ClientIntegration, client_integration_id)
    if row is None or row.mode is not IntegrationMode.PLATFORM:
        raise NotFound(f"No platform-mode integration {client_integration_id!r}.")
    pricing = await _pricing_of(session, row) or schemas.ClientPricing()
    fee = pricing.fee(amount_minor)
    month = current_month()
    table = ClientIntegrationUsage.__table__
    await session.execute(
        _insert_ignoring_duplicates(session, table).values(
            client_integration_id=row.id,
            month=month,
            currency=currency,
            transaction_count=0,
            volume_minor=0,
            fee_minor=0,
        )
    )
    await session.execute(
        update(ClientIntegrationUsage)
        .where(
            ClientIntegrationUsage.client_integration_id == row.id,
            ClientIntegrationUsage.month == month,
            ClientIntegrationUsage.currency == currency,
        )
        .values(
            transaction_count=ClientIntegrationUsage.transaction_count + 1,
            volume_minor=ClientIntegrationUsage.volume_minor + amount_minor,
            fee_minor=ClientIntegrationUsage.fee_minor + fee,
        )
        .execution_options(synchronize_session=False)
    )
    return fee


async def usage_lines(
    session: AsyncSession, integration_ids: Sequence[str], month: str
) -> dict[str, list[schemas.UsageLine]]:
    """Each integration's counters for `month`, one line per currency."""
    lines: dict[str, list[schemas.UsageLine]] = {i: [] for i in integration_ids}
    if not integration_ids:
        return lines
    rows = await session.scalars(
        select(ClientIntegrationUsage)
        .where(
            ClientIntegrationUsage.client_integration_id.in_(integration_ids),
            ClientIntegrationUsage.month == month,
        )
        .order_by(ClientIntegrationUsage.currency)
    )
    for usage in rows:
        lines[usage.client_integration_id].append(
            schemas.UsageLine(
                currency=usage.currency,
                transaction_count=usage.transaction_count,
                volume_minor=usage.volume_minor,
                fee_minor=usage.fee_minor,
            )
        )
    return lines


async def usage(
    *, session: AsyncSession, principal: Principal, integration_id: str, month: str | None
) -> schemas.UsageOut:
    """Transactions, volume and the platform's fee of one integration in a month (default:
    this one). Own-mode integrations are not billed by the platform: no pricing, no lines."""
    row = await get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    month = month or current_month()
    lines = await usage_lines(session, [row.id], month)
    return schemas.UsageOut(
        client_integration_id=row.id,
        client_id=row.client_id,
        platform_integration_id=row.platform_integration_id,
        month=month,
        pricing=await _pricing_of(session, row),
        usage=lines[row.id],
    )


async def client_out(
    session: AsyncSession, rows: Iterable[ClientIntegration]
) -> list[schemas.ClientIntegrationOut]:
    """Response bodies, with this month's usage read in one query for the whole page."""
    rows = list(rows)
    lines = await usage_lines(session, [r.id for r in rows], current_month())
    return [
        schemas.ClientIntegrationOut.model_validate(
            {
                **{f: getattr(r, f) for f in _CLIENT_FIELDS},
                "credentials": r.credentials_mask if r.mode is IntegrationMode.OWN else None,
                "usage_this_month": lines[r.id],
            }
        )
        for r in rows
    ]


_CLIENT_FIELDS = tuple(
    name
    for name in schemas.ClientIntegrationOut.model_fields
    if name not in {"credentials", "usage_this_month", "object"}
)
