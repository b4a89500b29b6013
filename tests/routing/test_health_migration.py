"""Migration 0009 creates exactly what the models describe (circuit breaker state, routing
decisions and attempts, `payments.chargeback_at`), and goes down and up again."""

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from avnz.db.engine import create_engine
from avnz.db.migrate import alembic_config, upgrade
from avnz.db.models import Base
from tests.routing.test_migration import _table

TABLES = {"account_exclusions", "routing_decisions", "routing_attempts"}


def _columns(connection: Connection) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns("payments")}


async def test_migration_0009_matches_models_and_is_reversible(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")
    try:
        await upgrade(engine, "0009")

        def differences(connection: Connection) -> list[Any]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return [
                d
                for d in compare_metadata(context, Base.metadata)
                if _table(d) in TABLES | {"payments"}
            ]

        def tables(connection: Connection) -> set[str]:
            return set(inspect(connection).get_table_names())

        def downgrade(connection: Connection) -> None:
            command.downgrade(alembic_config(connection=connection), "0008")

        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
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
