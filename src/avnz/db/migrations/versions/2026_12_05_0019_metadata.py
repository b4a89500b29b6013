"""metadata on every object a merchant creates: customers, payment methods, refunds, webhook
endpoints and routing rules (payments, products and orders have it already)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# A placeholder revision: renumbered when merged beside other work on top of 0014.
revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("customers", "payment_methods", "refunds", "webhook_endpoints", "routing_rules")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            # Existing rows get an empty object; new rows get theirs from the application.
            batch.add_column(
                sa.Column("metadata", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
            )


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("metadata")
