"""account pools

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 02:21:26.372957
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_pools",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column(
            "strategy",
            sa.Enum(
                "weighted",
                "round_robin",
                "least_load",
                "capacity",
                "lowest_cost",
                "lowest_latency",
                "highest_success",
                "adaptive",
                name="account_pool_strategy",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("configuration", sa.JSON(), nullable=False),
        sa.Column("failover_enabled", sa.Boolean(), nullable=False),
        sa.Column("failover_config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_account_pools_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_account_pools_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_account_pools_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_pools")),
    )
    with op.batch_alter_table("account_pools", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_pools_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_account_pools_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_account_pools_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "uq_account_pools_company_default",
            ["company_id"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )

    op.create_table(
        "pool_memberships",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("pool_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_account_id", sa.String(length=40), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_account_id"],
            ["merchant_accounts.id"],
            name=op.f("fk_pool_memberships_merchant_account_id_merchant_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["account_pools.id"],
            name=op.f("fk_pool_memberships_pool_id_account_pools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_memberships")),
        sa.UniqueConstraint(
            "pool_id",
            "merchant_account_id",
            name=op.f("uq_pool_memberships_pool_id_merchant_account_id"),
        ),
    )
    with op.batch_alter_table("pool_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pool_memberships_merchant_account_id"),
            ["merchant_account_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("pool_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pool_memberships_merchant_account_id"))

    op.drop_table("pool_memberships")
    with op.batch_alter_table("account_pools", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_account_pools_company_default",
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
        batch_op.drop_index(batch_op.f("ix_account_pools_organization_id"))
        batch_op.drop_index(batch_op.f("ix_account_pools_company_id"))
        batch_op.drop_index(batch_op.f("ix_account_pools_client_id"))

    op.drop_table("account_pools")
