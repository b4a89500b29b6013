"""bin_ranges and bin_table_versions: the imported open BIN table and its version

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bin_ranges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("start", sa.String(length=11), nullable=False),
        sa.Column("end", sa.String(length=11), nullable=False),
        sa.Column("brand", sa.String(length=20), nullable=True),
        sa.Column("card_type", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("issuer", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bin_ranges")),
    )
    op.create_table(
        "bin_table_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("ranges", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bin_table_versions")),
    )


def downgrade() -> None:
    op.drop_table("bin_table_versions")
    op.drop_table("bin_ranges")
