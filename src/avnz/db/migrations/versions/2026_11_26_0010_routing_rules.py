"""routing rules: rules, their versions, daily stats and the per-company rule-set version

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 04:11:38.177255
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routing_rule_sets",
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_routing_rule_sets_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_routing_rule_sets")),
    )
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=True),
        sa.Column("ab_test", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("hit_count", sa.BigInteger(), nullable=False),
        sa.Column("last_hit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_routing_rules_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_routing_rules_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_routing_rules_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
    )
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routing_rules_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_routing_rules_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            "ix_routing_rules_company_priority", ["company_id", "priority"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_routing_rules_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "uq_routing_rules_company_default",
            ["company_id"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )

    op.create_table(
        "routing_rule_daily_stats",
        sa.Column("rule_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "arm",
            sa.Enum("control", "variant", name="routing_rule_arm", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("successes", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["routing_rules.id"],
            name=op.f("fk_routing_rule_daily_stats_rule_id_routing_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rule_id", "day", "arm", name=op.f("pk_routing_rule_daily_stats")),
    )
    op.create_table(
        "routing_rule_versions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_routing_rule_versions_company_id_companies"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["routing_rules.id"],
            name=op.f("fk_routing_rule_versions_rule_id_routing_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rule_versions")),
        sa.UniqueConstraint(
            "rule_id", "version", name=op.f("uq_routing_rule_versions_rule_id_version")
        ),
    )
    with op.batch_alter_table("routing_rule_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_routing_rule_versions_company_id"), ["company_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("routing_rule_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routing_rule_versions_company_id"))

    op.drop_table("routing_rule_versions")
    op.drop_table("routing_rule_daily_stats")
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_routing_rules_company_default",
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
        batch_op.drop_index(batch_op.f("ix_routing_rules_organization_id"))
        batch_op.drop_index("ix_routing_rules_company_priority")
        batch_op.drop_index(batch_op.f("ix_routing_rules_company_id"))
        batch_op.drop_index(batch_op.f("ix_routing_rules_client_id"))

    op.drop_table("routing_rules")
    op.drop_table("routing_rule_sets")
