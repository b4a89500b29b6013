"""Migration 0004 creates the merchant account tables and goes down and up again (tests/db
compares head with the models).

It stops at 0004, so later migrations (and tables that refer to merchant accounts) play no
part."""

from pathlib import Path

from alembic import command
from sqlalchemy import Connection, inspect

from avnz.db.engine import create_engine
from avnz.db.migrate import alembic_config, upgrade

TABLES = {"merchant_accounts", "merchant_account_usage"}


async def test_migration_creates_its_tables_and_is_reversible(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")
    try:
        await upgrade(engine, "0004")

        def tables(connection: Connection) -> set[str]:
            return set(inspect(connection).get_table_names())

        def downgrade(connection: Connection) -> None:
            command.downgrade(alembic_config(connection=connection), "0003")

        async with engine.connect() as connection:
            assert await connection.run_sync(tables) >= TABLES
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        async with engine.connect() as connection:
            assert not TABLES & await connection.run_sync(tables)
        await upgrade(engine, "0004")
        async with engine.connect() as connection:
            assert await connection.run_sync(tables) >= TABLES
    finally:
        await engine.dispose()
