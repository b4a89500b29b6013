"""Account pools and their memberships: a company's set of merchant accounts and the strategy
that spreads payments over them. `configuration` is validated per strategy
(`routing.strategies`), `failover_config` by `routing.decisions.failover.FailoverConfig`; both
through `routing.pools.schemas`. The tables are those of migration 0008, unchanged by the move here.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select, text
from sqlalchemy.orm import Mapped, mapped_column

from avnz.core import clock
from avnz.db.base import Base, Timestamped, id_column
from avnz.db.versions import ConfigVersioned, Scope


class AccountPool(ConfigVersioned, Timestamped, Base):
    """A company's set of merchant accounts and the strategy that spreads payments over them."""

    __tablename__ = "account_pools"
    __table_args__ = (
        # At most one default pool per company; the service checks first to answer 409.
        Index(
            "uq_account_pools_company_default",
            "company_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    # A name in avnz.routing.strategies.STRATEGIES; a plain string (no CHECK constraint), so a
    # new strategy needs no migration (the API validates against the registry).
    strategy: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(default=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    configuration: Mapped[dict[str, Any]] = mapped_column(default=dict)
    failover_enabled: Mapped[bool] = mapped_column(default=True)
    failover_config: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def config_scope(self) -> Scope:
        return Scope(companies={self.company_id})


class PoolMembership(ConfigVersioned, Base):
    """A merchant account in a pool: its weight (0-100) and failover priority (lower first)."""

    __tablename__ = "pool_memberships"
    __table_args__ = (UniqueConstraint("pool_id", "merchant_account_id"),)

    id: Mapped[str] = id_column()
    pool_id: Mapped[str] = mapped_column(ForeignKey("account_pools.id", ondelete="CASCADE"))
    merchant_account_id: Mapped[str] = mapped_column(
        ForeignKey("merchant_accounts.id", ondelete="CASCADE"), index=True
    )
    weight: Mapped[int] = mapped_column(default=100)
    priority: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    added_at: Mapped[datetime] = mapped_column(default=clock.now)

    def config_scope(self) -> Scope:
        """The company of the pool (a membership knows it only through its pool)."""
        return Scope(queries=[select(AccountPool.company_id).where(AccountPool.id == self.pool_id)])
