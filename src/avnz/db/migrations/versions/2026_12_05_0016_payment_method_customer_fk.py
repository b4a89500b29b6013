"""payment_methods.customer_id references customers: a card names a customer that exists

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Cards stored before the check named any id: one of no customer of theirs names none.
    methods = sa.table(
        "payment_methods",
        sa.column("customer_id", sa.String()),
        sa.column("company_id", sa.String()),
    )
    customers = sa.table(
        "customers", sa.column("id", sa.String()), sa.column("company_id", sa.String())
    )
    theirs = (
        sa.select(customers.c.id)
        .where(customers.c.id == methods.c.customer_id)
        .where(customers.c.company_id == methods.c.company_id)
    )
    op.execute(
        methods.update()
        .where(methods.c.customer_id.is_not(None), ~sa.exists(theirs))
        .values(customer_id=None)
    )
    with op.batch_alter_table("payment_methods") as batch:
        batch.create_foreign_key(
            op.f("fk_payment_methods_customer_id_customers"), "customers", ["customer_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_methods") as batch:
        batch.drop_constraint(op.f("fk_payment_methods_customer_id_customers"), type_="foreignkey")
