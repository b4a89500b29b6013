"""commerce: customers, products and orders

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("deleted_at IS NULL")


def _enum(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("billing_address", sa.JSON(), nullable=True),
        sa.Column("shipping_address", sa.JSON(), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("type", _enum("new", "returning", "vip", name="customer_type"), nullable=False),
        sa.Column(
            "risk_level", _enum("low", "medium", "high", name="customer_risk_level"), nullable=False
        ),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("custom_fields", sa.JSON(), nullable=False),
        sa.Column(
            "status", _enum("active", "blocked", "deleted", name="customer_status"), nullable=False
        ),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("lifetime_value", sa.BigInteger(), nullable=False),
        sa.Column("payments_count", sa.Integer(), nullable=False),
        sa.Column("chargeback_count", sa.Integer(), nullable=False),
        sa.Column("chargeback_rate", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("last_purchase_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_customers_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_customers_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_customers_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_company_id"), ["company_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_customers_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "uq_customers_company_email",
            ["company_id", "email"],
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        )
        batch_op.create_index(
            "uq_customers_company_external_id",
            ["company_id", "external_id"],
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        )

    op.create_table(
        "products",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("is_subscription", sa.Boolean(), nullable=False),
        sa.Column(
            "interval", _enum("monthly", "yearly", name="subscription_interval"), nullable=True
        ),
        sa.Column("trial_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_products_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_products_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_products_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_products_company_id"), ["company_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_products_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "uq_products_company_sku",
            ["company_id", "sku"],
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        )

    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("line_items", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("shipping_amount", sa.BigInteger(), nullable=False),
        sa.Column("tax_amount", sa.BigInteger(), nullable=False),
        sa.Column("discount_amount", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("is_renewal", sa.Boolean(), nullable=False),
        sa.Column("is_trial", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            _enum(
                "pending",
                "paid",
                "partially_refunded",
                "refunded",
                "cancelled",
                "failed",
                name="order_status",
            ),
            nullable=False,
        ),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shipping_address", sa.JSON(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_orders_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_orders_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_orders_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_orders_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_company_id"), ["company_id"], unique=False)
        batch_op.create_index("ix_orders_company_status", ["company_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_orders_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_organization_id"))
        batch_op.drop_index(batch_op.f("ix_orders_customer_id"))
        batch_op.drop_index("ix_orders_company_status")
        batch_op.drop_index(batch_op.f("ix_orders_company_id"))
        batch_op.drop_index(batch_op.f("ix_orders_client_id"))

    op.drop_table("orders")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("uq_products_company_sku")
        batch_op.drop_index(batch_op.f("ix_products_organization_id"))
        batch_op.drop_index(batch_op.f("ix_products_company_id"))
        batch_op.drop_index(batch_op.f("ix_products_client_id"))

    op.drop_table("products")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("uq_customers_company_external_id")
        batch_op.drop_index("uq_customers_company_email")
        batch_op.drop_index(batch_op.f("ix_customers_organization_id"))
        batch_op.drop_index(batch_op.f("ix_customers_company_id"))
        batch_op.drop_index(batch_op.f("ix_customers_client_id"))

    op.drop_table("customers")
