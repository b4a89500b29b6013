"""account health: circuit breaker state, routing decisions and attempts, chargebacks

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 02:22:07.160268
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_exclusions",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("excluded_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["merchant_accounts.id"],
            name=op.f("fk_account_exclusions_account_id_merchant_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_exclusions")),
    )
    op.create_table(
        "routing_decisions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("pool_id", sa.String(length=40), nullable=True),
        sa.Column("selected_account_id", sa.String(length=40), nullable=False),
        sa.Column("final_account_id", sa.String(length=40), nullable=True),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("probability", sa.Double(), nullable=True),
        sa.Column("evaluation_time_ms", sa.Double(), nullable=False),
        sa.Column("failover_attempts", sa.Integer(), nullable=False),
        sa.Column("final_outcome", sa.String(length=24), nullable=True),
        sa.Column("rule_id", sa.String(length=40), nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_routing_decisions_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_routing_decisions_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["final_account_id"],
            ["merchant_accounts.id"],
            name=op.f("fk_routing_decisions_final_account_id_merchant_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_routing_decisions_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_routing_decisions_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["selected_account_id"],
            ["merchant_accounts.id"],
            name=op.f("fk_routing_decisions_selected_account_id_merchant_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_decisions")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_routing_decisions_payment_id")),
    )
    with op.batch_alter_table("routing_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_routing_decisions_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_routing_decisions_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_routing_decisions_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_routing_decisions_pool_id"), ["pool_id"], unique=False)

    op.create_table(
        "routing_attempts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("decline_reason", sa.String(length=32), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["merchant_accounts.id"],
            name=op.f("fk_routing_attempts_account_id_merchant_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["routing_decisions.id"],
            name=op.f("fk_routing_attempts_decision_id_routing_decisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_attempts")),
    )
    with op.batch_alter_table("routing_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_routing_attempts_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            "ix_routing_attempts_decision_attempt", ["decision_id", "attempt"], unique=True
        )

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chargeback_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_payments_method_created", ["payment_method_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_method_created")
        batch_op.drop_column("chargeback_at")

    with op.batch_alter_table("routing_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_routing_attempts_decision_attempt")
        batch_op.drop_index(batch_op.f("ix_routing_attempts_account_id"))

    op.drop_table("routing_attempts")
    with op.batch_alter_table("routing_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routing_decisions_pool_id"))
        batch_op.drop_index(batch_op.f("ix_routing_decisions_organization_id"))
        batch_op.drop_index(batch_op.f("ix_routing_decisions_company_id"))
        batch_op.drop_index(batch_op.f("ix_routing_decisions_client_id"))

    op.drop_table("routing_decisions")
    op.drop_table("account_exclusions")
