"""test and live mode: a livemode flag on payments, refunds, payment methods, customers,
products, orders, webhook endpoints and events; every existing row becomes a test row

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 00:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# A placeholder id: renumbered (0015 or later) when merged after other 0015s.
revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "payments",
    "refunds",
    "payment_methods",
    "customers",
    "products",
    "orders",
    "webhook_endpoints",
    "outbox_events",
)
LIVE = sa.text("deleted_at IS NULL")
# The unique indexes of customers and products: one row per value in a company and a mode.
UNIQUE = (
    ("customers", "uq_customers_company_email", "email"),
    ("customers", "uq_customers_company_external_id", "external_id"),
    ("products", "uq_products_company_sku", "sku"),
)


def _unique(table: str, name: str, column: str, *, by_mode: bool) -> None:
    columns = ["company_id", "livemode", column] if by_mode else ["company_id", column]
    op.drop_index(name, table_name=table)
    op.create_index(name, table, columns, unique=True, sqlite_where=LIVE, postgresql_where=LIVE)


def upgrade() -> None:
    for table in TABLES:
        # The server default makes every existing row a test row.
        op.add_column(
            table,
            sa.Column("livemode", sa.Boolean(), server_default=sa.false(), nullable=False),
        )
    for table, name, column in UNIQUE:
        _unique(table, name, column, by_mode=True)


def downgrade() -> None:
    # Live rows would clash with test rows of the same email or sku: the old indexes hold
    # only if no value is in both modes.
    for table, name, column in UNIQUE:
        _unique(table, name, column, by_mode=False)
    for table in reversed(TABLES):
        # SQLite (3.35+) drops a column in place once no index names it.
        op.drop_column(table, "livemode")
