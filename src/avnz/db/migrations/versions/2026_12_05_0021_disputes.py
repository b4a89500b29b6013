"""disputes: chargebacks reported by the gateways, one per gateway dispute id; the Stripe
credentials gain an optional webhook signing secret (its dispute webhooks are verified with it)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 02:00:00
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEBHOOK_SECRET = {
    "type": "string",
    "title": "Webhook signing secret",
    "description": (
        "The signing secret (whsec_\u2026) of the Stripe webhook endpoint that sends this "
        "account's dispute events to /api/v1/gateway-webhooks/stripe/{account id}; "
        "without it, dispute webhooks are refused."
    ),
    "pattern": "^whsec_[A-Za-z0-9]+$",
    "writeOnly": True,
}
definitions = sa.table(
    "integration_definitions",
    sa.column("provider", sa.String),
    sa.column("credential_schema", sa.JSON),
)


def _stripe_schema(change: Callable[[dict[str, Any]], None]) -> None:
    bind = op.get_bind()
    by_provider = definitions.c.provider == "STRIPE"
    schema = bind.execute(sa.select(definitions.c.credential_schema).where(by_provider)).scalar()
    if schema is None:
        return  # a database without the reference rows: `avnz migrate` writes them from code
    schema = json.loads(schema) if isinstance(schema, str) else dict(schema)
    schema["properties"] = dict(schema.get("properties", {}))
    change(schema)
    bind.execute(definitions.update().where(by_provider).values(credential_schema=schema))


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_account_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("gateway_dispute_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gateway_status", sa.String(length=40), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("card_brand", sa.String(length=16), nullable=True),
        sa.Column("evidence_due_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_disputes_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_disputes_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_disputes_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_disputes_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_account_id"],
            ["merchant_accounts.id"],
            name=op.f("fk_disputes_merchant_account_id_merchant_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint(
            "provider", "gateway_dispute_id", name=op.f("uq_disputes_provider_gateway_dispute_id")
        ),
    )
    op.create_index("ix_disputes_account_opened", "disputes", ["merchant_account_id", "opened_at"])
    for column in ("organization_id", "client_id", "company_id", "payment_id"):
        op.create_index(op.f(f"ix_disputes_{column}"), "disputes", [column])
    _stripe_schema(lambda schema: schema["properties"].update(webhook_secret=WEBHOOK_SECRET))


def downgrade() -> None:
    _stripe_schema(lambda schema: schema["properties"].pop("webhook_secret", None))
    op.drop_table("disputes")
