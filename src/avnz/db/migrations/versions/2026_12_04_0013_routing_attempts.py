"""routing keeps its own attempt records; the routing decision lives on the payment

The routing decision and its attempts move into `payments.routing` (written with the payment,
no rows of their own on the payment path). `routing_attempts` becomes routing's own record of
each attempt's facts (outcome, latency, card, amount), published from settled payments, so
routing never reads the payments tables. `payments.published_at` marks what was published
(payments made before this migration were counted when they settled: marked published), and
`payments.attempt_count` keeps how many accounts a payment tried (the card retry budget).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 21:45:00
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAYMENTS = sa.table(
    "payments",
    sa.column("id", sa.String),
    sa.column("routing", sa.JSON),
    sa.column("amount", sa.BigInteger),
    sa.column("currency", sa.String),
    sa.column("card_brand", sa.String),
    sa.column("card_country", sa.String),
    sa.column("attempt_count", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    connection = op.get_bind()
    decisions = _old_decisions(connection)
    op.drop_table("routing_attempts")
    op.drop_table("routing_decisions")
    _create_attempts()
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("attempt_count", sa.Integer(), nullable=False, server_default="1")
        )
    op.execute(sa.text("UPDATE payments SET published_at = created_at"))
    op.create_index(
        "ix_payments_unpublished",
        "payments",
        ["created_at"],
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    )
    _move_decisions(connection, decisions)


def _create_attempts() -> None:
    op.create_table(
        "routing_attempts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("pool_id", sa.String(length=40), nullable=True),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("decline_reason", sa.String(length=32), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("card_brand", sa.String(length=16), nullable=True),
        sa.Column("card_country", sa.String(length=2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["merchant_accounts.id"],
            name=op.f("fk_routing_attempts_account_id_merchant_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_attempts")),
    )
    op.create_index(
        "ix_routing_attempts_payment_attempt",
        "routing_attempts",
        ["payment_id", "attempt"],
        unique=True,
    )
    op.create_index(
        "ix_routing_attempts_account_created", "routing_attempts", ["account_id", "created_at"]
    )


def _old_decisions(connection: sa.Connection) -> dict[str, dict[str, Any]]:
    """payment id -> its old decision with its attempts, as the payment will keep them."""
    decisions: dict[str, dict[str, Any]] = {}
    rows = connection.execute(
        sa.text(
            "SELECT d.id, d.payment_id, d.organization_id, d.client_id, d.company_id, d.pool_id,"
            " d.selected_account_id, d.final_account_id, d.failover_attempts, d.final_outcome,"
            " d.condition_results, d.completed_at FROM routing_decisions d"
        )
    ).mappings()
    for row in rows:
        decisions[row["payment_id"]] = {**row, "attempts": []}
    attempts = connection.execute(
        sa.text(
            "SELECT d.payment_id, a.attempt, a.account_id, a.outcome, a.decline_reason,"
            " a.latency_ms, a.step, a.created_at FROM routing_attempts a"
            " JOIN routing_decisions d ON d.id = a.decision_id ORDER BY a.attempt"
        )
    ).mappings()
    for attempt in attempts:
        decisions[attempt["payment_id"]]["attempts"].append(dict(attempt))
    return decisions


def _move_decisions(connection: sa.Connection, decisions: dict[str, dict[str, Any]]) -> None:
    """Each old decision into its payment's `routing`, each old attempt into routing's record."""
    attempts_table = sa.table("routing_attempts", *(sa.column(name) for name in _ATTEMPT_COLUMNS))
    for payment_id, decision in decisions.items():
        payment = connection.execute(sa.select(_PAYMENTS).where(_PAYMENTS.c.id == payment_id)).one()
        routing = dict(payment.routing or {})
        routing.update(
            decision_id=decision["id"],
            selected_account_id=decision["selected_account_id"],
            final_account_id=decision["final_account_id"],
            final_outcome=decision["final_outcome"],
            condition_results=_json(decision["condition_results"]),
            completed_at=_iso(decision["completed_at"]),
            attempts=[_attempt_json(a) for a in decision["attempts"]],
        )
        connection.execute(
            sa.update(_PAYMENTS)
            .where(_PAYMENTS.c.id == payment_id)
            .values(routing=routing, attempt_count=max(1, len(decision["attempts"])))
        )
        for attempt in decision["attempts"]:
            connection.execute(
                sa.insert(attempts_table).values(
                    id=f"ratt_{payment_id[4:]}_{attempt['attempt']}",
                    payment_id=payment_id,
                    organization_id=decision["organization_id"],
                    client_id=decision["client_id"],
                    company_id=decision["company_id"],
                    pool_id=decision["pool_id"],
                    account_id=attempt["account_id"],
                    attempt=attempt["attempt"],
                    outcome=attempt["outcome"],
                    decline_reason=attempt["decline_reason"],
                    latency_ms=attempt["latency_ms"],
                    step=attempt["step"],
                    amount=payment.amount,
                    currency=payment.currency,
                    card_brand=payment.card_brand,
                    card_country=payment.card_country,
                    created_at=attempt["created_at"],
                )
            )


_ATTEMPT_COLUMNS = (
    "id",
    "payment_id",
    "organization_id",
    "client_id",
    "company_id",
    "pool_id",
    "account_id",
    "attempt",
    "outcome",
    "decline_reason",
    "latency_ms",
    "step",
    "amount",
    "currency",
    "card_brand",
    "card_country",
    "created_at",
)


def _json(value: Any) -> Any:
    """A JSON column read through a raw SELECT: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def _iso(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else value.isoformat()


def _attempt_json(attempt: dict[str, Any]) -> dict[str, Any]:
    return {
        "attempt": attempt["attempt"],
        "account_id": attempt["account_id"],
        "outcome": attempt["outcome"],
        "decline_reason": attempt["decline_reason"],
        "latency_ms": attempt["latency_ms"],
        "step": attempt["step"],
        "created_at": _iso(attempt["created_at"]),
    }


def downgrade() -> None:
    # The decisions stay in `payments.routing`; the old tables come back empty.
    op.drop_index("ix_payments_unpublished", table_name="payments")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("attempt_count")
        batch_op.drop_column("published_at")
    op.drop_table("routing_attempts")
    _create_old_tables()


def _create_old_tables() -> None:
    """`routing_decisions` and `routing_attempts` as migrations 0009 and 0011 left them."""
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
        sa.Column("condition_results", sa.JSON(), nullable=True),
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
