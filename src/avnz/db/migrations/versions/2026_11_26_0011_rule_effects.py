"""rule effects on payments: surcharge, discount, review flag; condition results of a decision

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(
            sa.Column("surcharge_amount", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("discount_amount", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("review", sa.JSON(), nullable=True))
    with op.batch_alter_table("routing_decisions") as batch:
        batch.add_column(sa.Column("condition_results", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routing_decisions") as batch:
        batch.drop_column("condition_results")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("review")
        batch.drop_column("discount_amount")
        batch.drop_column("surcharge_amount")
