"""Migration 0009 creates the circuit breaker state, routing decisions and attempts and
`payments.chargeback_at`, and goes down and up again (tests/db compares head with the models)."""

from pathlib import Path

from alembic import command
from sqlalchemy import Connection, inspect

from avnz.db.engine import create_engine
from avnz.db.migrate import alembic_config, upgrade

TABLES = {"account_exclusions", "routing_decisions", "routing_attempts"}


def _columns(connection: Connection) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns("payments")}


async def test_migration_0009_creates_its_tables_and_is_reversible(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")
    try:
        await upgrade(engine, "0009")

        def tables(connection: Connection) -> set[str]:
            return set(inspect(connection).get_table_names())

        def downgrade(connection: Connection) -> None:
            command.downgrade(alembic_config(connection=connection), "0008")

        async with engine.connect() as connection:
            assert await connection.run_sync(tables) >= TABLES
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        async with engine.connect() as connection:
            assert not TABLES & await connection.run_sync(tables)
            assert "chargeback_at" not in await connection.run_sync(_columns)
        await upgrade(engine, "0009")
        async with engine.connect() as connection:
            assert "chargeback_at" in await connection.run_sync(_columns)
    finally:
        await engine.dispose()
