"""merchant accounts and their usage counters

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "merchant_accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("color", sa.String(length=7), nullable=True),
        sa.Column("icon", sa.String(length=64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("provider_type", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=True),
        sa.Column("descriptor", sa.String(length=22), nullable=True),
        sa.Column("descriptor_phone", sa.String(length=20), nullable=True),
        sa.Column("credentials_ciphertext", sa.Text(), nullable=True),
        sa.Column(
            "environment",
            _enum("sandbox", "production", name="merchant_account_environment"),
            nullable=False,
        ),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            _enum(
                "active",
                "inactive",
                "suspended",
                "pending",
                "closed",
                name="merchant_account_status",
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("fees", sa.JSON(), nullable=False),
        sa.Column("restrictions", sa.JSON(), nullable=False),
        sa.Column("health_metrics", sa.JSON(), nullable=False),
        sa.Column("client_integration_id", sa.String(length=40), nullable=True),
        sa.Column("platform_integration_id", sa.String(length=40), nullable=True),
        sa.Column("is_from_integration", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_merchant_accounts_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_merchant_accounts_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_merchant_accounts_company_id_companies"),
        ),
        sa.ForeignKeyConstraint(
            ["client_integration_id"],
            ["client_integrations.id"],
            name=op.f("fk_merchant_accounts_client_integration_id_client_integrations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["platform_integration_id"],
            ["platform_integrations.id"],
            name=op.f("fk_merchant_accounts_platform_integration_id_platform_integrations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_accounts")),
        sa.UniqueConstraint(
            "client_integration_id", name=op.f("uq_merchant_accounts_client_integration_id")
        ),
    )
    with op.batch_alter_table("merchant_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merchant_accounts_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_merchant_accounts_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_merchant_accounts_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            "ix_merchant_accounts_company_status", ["company_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_merchant_accounts_platform_integration_id"),
            ["platform_integration_id"],
            unique=False,
        )

    op.create_table(
        "merchant_account_usage",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column(
            "period", _enum("day", "week", "month", "year", name="usage_period"), nullable=False
        ),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("transaction_count", sa.BigInteger(), nullable=False),
        sa.Column("volume_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["merchant_accounts.id"],
            name=op.f("fk_merchant_account_usage_account_id_merchant_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "period", "period_start", name=op.f("pk_merchant_account_usage")
        ),
    )


def downgrade() -> None:
    op.drop_table("merchant_account_usage")
    with op.batch_alter_table("merchant_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchant_accounts_platform_integration_id"))
        batch_op.drop_index("ix_merchant_accounts_company_status")
        batch_op.drop_index(batch_op.f("ix_merchant_accounts_company_id"))
        batch_op.drop_index(batch_op.f("ix_merchant_accounts_client_id"))
        batch_op.drop_index(batch_op.f("ix_merchant_accounts_organization_id"))
    op.drop_table("merchant_accounts")
