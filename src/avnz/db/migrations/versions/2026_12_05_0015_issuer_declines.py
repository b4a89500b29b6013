"""payments.issuer_declines: what the card retry budget counts (the issuer's declines only)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Soft declines that are the account's, not the card's (`failover.ACCOUNT_LEVEL_REASONS`).
_ACCOUNT_LEVEL = ("rate_limited", "processing_error")


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(
            sa.Column("issuer_declines", sa.Integer(), server_default="0", nullable=False)
        )
    # Payments made before this knew only their final answer: a decline by the issuer is one.
    payments = sa.table(
        "payments",
        sa.column("issuer_declines", sa.Integer()),
        sa.column("outcome", sa.String()),
        sa.column("decline_reason", sa.String()),
    )
    op.execute(
        payments.update()
        .where(
            (payments.c.outcome == "hard_decline")
            | (
                (payments.c.outcome == "soft_decline")
                & sa.func.coalesce(payments.c.decline_reason, "").not_in(_ACCOUNT_LEVEL)
            )
        )
        .values(issuer_declines=1)
    )


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("issuer_declines")
