"""The migrations at head create exactly what the models describe, and every one goes down and
up again, on SQLite. (The PostgreSQL run of the suite migrates its database to head first.)

Each migration's own test checks what it adds and that it reverses; the comparison with the
models is made once, here, at head, so a later migration that changes a table does not break an
earlier migration's test."""

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from avnz.db.base import Base
from avnz.db.engine import create_engine
from avnz.db.migrate import alembic_config, upgrade


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _to_base(connection: Connection) -> None:
    command.downgrade(alembic_config(connection=connection), "base")


async def test_head_matches_the_models_and_every_migration_reverses(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")
    try:
        await upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            assert await connection.run_sync(_tables) == set(Base.metadata.tables)
        async with engine.begin() as connection:
            await connection.run_sync(_to_base)
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()
        await upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()
