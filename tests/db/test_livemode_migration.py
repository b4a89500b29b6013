"""The livemode migration (issue 18): every table of an object with a mode gets `livemode`,
rows already there become test rows, a customer's email and a product's sku are unique per
mode; and it goes down and up again (tests/db compares head with the models)."""

from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Connection, inspect, text

from avnz.db.engine import create_engine
from avnz.db.migrate import alembic_config, upgrade

REVISION = "0018"
BEFORE = "0017"
TABLES = (
    "payments",
    "refunds",
    "payment_methods",
    "customers",
    "products",
    "orders",
    "webhook_endpoints",
    "outbox_events",
)


def _with_livemode(connection: Connection) -> set[str]:
    found = inspect(connection)
    return {t for t in TABLES if "livemode" in {c["name"] for c in found.get_columns(t)}}


def _unique_columns(connection: Connection) -> dict[str, list[Any]]:
    found = inspect(connection)
    return {
        index["name"]: index["column_names"]
        for table in ("customers", "products")
        for index in found.get_indexes(table)
        if index["unique"]
    }


async def test_existing_rows_become_test_rows_and_the_migration_reverses(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")
    try:
        await upgrade(engine, BEFORE)
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO outbox_events (id, name, organization_id, payload, created_at)"
                    " VALUES ('evt_old', 'payment.succeeded', 'org_1', '{}', '2026-12-01')"
                )
            )
        await upgrade(engine, REVISION)
        async with engine.connect() as connection:
            assert await connection.run_sync(_with_livemode) == set(TABLES)
            old = await connection.scalar(
                text("SELECT livemode FROM outbox_events WHERE id = 'evt_old'")
            )
            assert old in (False, 0)
            unique = await connection.run_sync(_unique_columns)
            assert unique["uq_customers_company_email"] == ["company_id", "livemode", "email"]
            assert unique["uq_products_company_sku"] == ["company_id", "livemode", "sku"]

        def downgrade(connection: Connection) -> None:
            command.downgrade(alembic_config(connection=connection), BEFORE)

        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        async with engine.connect() as connection:
            assert await connection.run_sync(_with_livemode) == set()
            unique = await connection.run_sync(_unique_columns)
            assert unique["uq_customers_company_email"] == ["company_id", "email"]
            kept = await connection.scalar(text("SELECT count(*) FROM outbox_events"))
            assert kept == 1
    finally:
        await engine.dispose()
