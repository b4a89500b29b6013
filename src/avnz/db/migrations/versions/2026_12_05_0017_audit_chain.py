"""tamper-evident audit log: a hash chain per organization, and the outbox's audit marker

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 01:00:00

Existing audit rows are linked in (timestamp, id) order with a frozen copy of the hashing of
`avnz.audit.chain` (a migration never imports code that can change).
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
HASHED = (
    "id",
    "seq",
    "prev_hash",
    "timestamp",
    "organization_id",
    "client_id",
    "company_id",
    "actor_type",
    "user_id",
    "user_email",
    "action",
    "resource",
    "resource_id",
    "previous_value",
    "new_value",
    "ip_address",
    "user_agent",
    "request_id",
    "metadata",
)

audit_logs = sa.table(
    "audit_logs",
    sa.column("id", sa.String),
    sa.column("timestamp", sa.DateTime(timezone=True)),
    sa.column("organization_id", sa.String),
    sa.column("client_id", sa.String),
    sa.column("company_id", sa.String),
    sa.column("actor_type", sa.String),
    sa.column("user_id", sa.String),
    sa.column("user_email", sa.String),
    sa.column("action", sa.String),
    sa.column("resource", sa.String),
    sa.column("resource_id", sa.String),
    sa.column("previous_value", sa.JSON),
    sa.column("new_value", sa.JSON),
    sa.column("ip_address", sa.String),
    sa.column("user_agent", sa.String),
    sa.column("request_id", sa.String),
    sa.column("metadata", sa.JSON),
    sa.column("seq", sa.BigInteger),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)
heads = sa.table(
    "audit_chain_heads",
    sa.column("organization_id", sa.String),
    sa.column("seq", sa.BigInteger),
    sa.column("hash", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    return value


def _hash(row: dict[str, Any]) -> str:
    content = {name: _canonical(row[name]) for name in HASHED}
    content["v"] = 1
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _link_existing_rows() -> None:
    bind = op.get_bind()
    chains: dict[str, tuple[int, str]] = {}
    rows = bind.execute(
        sa.select(audit_logs).order_by(audit_logs.c.timestamp, audit_logs.c.id)
    ).mappings()
    for found in list(rows):
        row = dict(found)
        seq, last = chains.get(row["organization_id"], (0, GENESIS))
        row["seq"], row["prev_hash"] = seq + 1, last
        row["hash"] = _hash(row)
        bind.execute(
            sa.update(audit_logs)
            .where(audit_logs.c.id == row["id"])
            .values(seq=row["seq"], prev_hash=row["prev_hash"], hash=row["hash"])
        )
        chains[row["organization_id"]] = (row["seq"], row["hash"])
    now = datetime.now(UTC)
    for organization_id, (seq, last) in chains.items():
        bind.execute(
            sa.insert(heads).values(
                organization_id=organization_id, seq=seq, hash=last, updated_at=now
            )
        )


def upgrade() -> None:
    op.create_table(
        "audit_chain_heads",
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_audit_chain_heads")),
    )
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _link_existing_rows()
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.create_index("uq_audit_logs_org_seq", ["organization_id", "seq"], unique=True)
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audited_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_events_audited_at"), ["audited_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_events_audited_at"))
        batch_op.drop_column("audited_at")
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.drop_index("uq_audit_logs_org_seq")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    op.drop_table("audit_chain_heads")
