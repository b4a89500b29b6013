"""Migration 0004 creates exactly what the models describe, and goes down and up again.

It stops at 0004, so later migrations (and tables that refer to merchant accounts) play no
part."""

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Table, inspect

from avnz.db.engine import create_engine
from avnz.db.migrate import alembic_config, upgrade
from avnz.db.models import Base

TABLES = {"merchant_accounts", "merchant_account_usage"}


def _table(diff: Any) -> str:
    """The table an autogenerate difference is about."""
    operation = diff[0] if isinstance(diff, list) else diff
    subject = operation[1]
    if isinstance(subject, Table):
        return subject.name
    owner = getattr(subject, "table", None)
    return owner.name if isinstance(owner, Table) else str(operation[2])


async def test_migration_matches_models_and_is_reversible(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")
    try:
        await upgrade(engine, "0004")

        def differences(connection: Connection) -> list[Any]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return [d for d in compare_metadata(context, Base.metadata) if _table(d) in TABLES]

        def tables(connection: Connection) -> set[str]:
            return set(inspect(connection).get_table_names())

        def downgrade(connection: Connection) -> None:
            command.downgrade(alembic_config(connection=connection), "0003")

        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
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
