"""configuration versions per company, for the payment path's in-process configuration cache

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "config_versions",
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_config_versions")),
    )
    op.create_index(op.f("ix_config_versions_client_id"), "config_versions", ["client_id"])
    op.create_index(
        op.f("ix_config_versions_organization_id"), "config_versions", ["organization_id"]
    )
    op.execute(
        "INSERT INTO config_versions (company_id, client_id, organization_id, version)"
        " SELECT id, client_id, organization_id, 1 FROM companies"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_config_versions_organization_id"), table_name="config_versions")
    op.drop_index(op.f("ix_config_versions_client_id"), table_name="config_versions")
    op.drop_table("config_versions")
