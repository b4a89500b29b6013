"""`avnz migrate` writes the integration definitions from code: a drifted row is rewritten, a
missing one inserted, and rows the code does not define are left alone."""

from pathlib import Path

from sqlalchemy import delete, select, update

from avnz.db.engine import create_engine
from avnz.db.migrate import upgrade
from avnz.integrations.definitions import reference_rows, sync_reference_rows
from avnz.integrations.models import IntegrationDefinition


async def _stored(connection) -> dict[str, dict]:
    rows = (await connection.execute(select(IntegrationDefinition.__table__))).mappings()
    return {row["provider"]: dict(row) for row in rows}


async def test_sync_rewrites_drifted_rows_and_restores_missing_ones(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'sync.db'}")
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            migrated = await _stored(connection)
            stripe = IntegrationDefinition.provider == "STRIPE"
            await connection.execute(update(IntegrationDefinition).where(stripe).values(name="Old"))
            others = IntegrationDefinition.provider != "STRIPE"
            await connection.execute(delete(IntegrationDefinition).where(others))
            await sync_reference_rows(connection)
            await sync_reference_rows(connection)  # idempotent
            synced = await _stored(connection)
    finally:
        await engine.dispose()
    assert synced == migrated
    assert set(synced) == {row["provider"] for row in reference_rows()}
