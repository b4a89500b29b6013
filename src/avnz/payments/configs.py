"""What a charge reads of a company's configuration, kept in this process: the company row and
its routing configuration (accounts, pools, memberships), one entry per company, valid while
the company's configuration version (`avnz.db.versions`) stays where it was.

The payment path reads the version along its card statement (`vault.ChargeCard`), so checking
that the entry is current costs no round trip; a moved version reloads the entry (three reads)
before the payment goes on. The rows are detached: read them, never change them.
"""

import weakref
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz.auth.scope import Principal
from avnz.core.errors import InvalidRequest
from avnz.routing import config as routing_config
from avnz.routing.config import RoutingConfig
from avnz.tenancy.models import Company
from avnz.tenancy.visibility import get_visible, visible_row


@dataclass(frozen=True, slots=True)
class ChargeConfig:
    version: int | None
    company: Company
    routing: RoutingConfig


class ConfigCache:
    """This process's charge configurations, by company."""

    def __init__(self) -> None:
        self._entries: dict[str, ChargeConfig] = {}

    async def company(
        self, session: AsyncSession, principal: Principal, company_id: str | None
    ) -> Company:
        """The company a payment is for, as `tenancy.visibility.target_company` finds it, from
        memory when it is there (the card statement then checks it is current)."""
        company_id = company_id or principal.company_id
        if company_id is None:
            raise InvalidRequest(
                "company_id is required.", code="missing_param", param="company_id"
            )
        entry = self._entries.get(company_id)
        if entry is None:
            return await get_visible(session, principal, Company, company_id, param="company_id")
        return visible_row(principal, entry.company, param="company_id")

    async def current(
        self, session: AsyncSession, principal: Principal, company_id: str, version: int | None
    ) -> ChargeConfig:
        """The company's configuration at `version`: from memory, or read again when the
        version moved (the company is checked again then: it may have been deleted). Without a
        version (no row for the company) it is read every time."""
        entry = self._entries.get(company_id)
        if entry is not None and version is not None and entry.version == version:
            return entry
        company = await get_visible(session, principal, Company, company_id, param="company_id")
        routing = await routing_config.load(session, company_id)
        # Detached now, loaded: a rollback of this session must not expire what other
        # payments will read.
        for row in {company, *routing.rows()}:
            session.expunge(row)
        entry = self._entries[company_id] = ChargeConfig(version, company, routing)
        return entry

    def clear(self) -> None:
        self._entries.clear()


_CACHES: "weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], ConfigCache]" = (
    weakref.WeakKeyDictionary()
)


def cache_for(sessions: async_sessionmaker[AsyncSession]) -> ConfigCache:
    """This process's cache for the database behind `sessions` (one per database)."""
    cache = _CACHES.get(sessions)
    if cache is None:
        cache = _CACHES[sessions] = ConfigCache()
    return cache
