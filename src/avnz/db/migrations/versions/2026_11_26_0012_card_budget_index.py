"""the card retry budget reads a card's vaulted rows by (company, fingerprint)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 11:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Replaces the company-only index: with it, PostgreSQL could answer (company, fingerprint)
    # by walking every card of the company.
    op.create_index(
        "ix_payment_methods_company_fingerprint", "payment_methods", ["company_id", "fingerprint"]
    )
    op.drop_index("ix_payment_methods_company_id", table_name="payment_methods")


def downgrade() -> None:
    op.create_index("ix_payment_methods_company_id", "payment_methods", ["company_id"])
    op.drop_index("ix_payment_methods_company_fingerprint", table_name="payment_methods")
