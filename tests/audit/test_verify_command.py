"""`avnz audit verify` and `avnz keys rotate` as an operator runs them: real processes on a
fresh SQLite data directory, the database tampered with behind the application's back."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from avnz.audit import service as audit
from avnz.core.ids import new_id
from avnz.db.engine import create_engine, session_factory
from avnz.tenancy.models import Organization
from tests.test_cli import _avnz


def _seed(data_dir: Path, rows: int) -> str:
    """An organization with `rows` audit rows, written through the application's code."""
    organization_id = new_id("org")

    async def run() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'avnz.db'}")
        try:
            async with session_factory(engine).begin() as session:
                session.add(Organization(id=organization_id, name="Ops", slug="ops"))
                for n in range(rows):
                    audit.record(
                        session,
                        actor=None,
                        action=audit.AuditAction.UPDATE,
                        resource="thing",
                        resource_id=f"t{n}",
                        tenant=audit.Tenant(organization_id),
                        after={"n": n},
                    )
        finally:
            await engine.dispose()

    asyncio.run(run())
    return organization_id


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    result = _avnz(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    return tmp_path


def _sql(data_dir: Path, statement: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(data_dir / "avnz.db") as db:
        return db.execute(statement).fetchall()


def test_verify_passes_then_names_an_edited_row(migrated: Path) -> None:
    organization_id = _seed(migrated, 3)
    intact = _avnz(migrated, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert f"{organization_id}: intact, 3 rows" in intact.stdout
    _sql(migrated, """UPDATE audit_logs SET new_value = '{"n": 7}' WHERE seq = 2""")
    broken = _avnz(migrated, "audit", "verify", "--organization", organization_id)
    assert broken.returncode == 1
    assert f"{organization_id}: BROKEN at row 2" in broken.stdout
    assert "edited" in broken.stdout


def test_verify_names_a_deleted_row(migrated: Path) -> None:
    organization_id = _seed(migrated, 4)
    _sql(migrated, "DELETE FROM audit_logs WHERE seq = 3")
    broken = _avnz(migrated, "audit", "verify")
    assert broken.returncode == 1
    assert f"{organization_id}: BROKEN at row 3" in broken.stdout
    assert "missing" in broken.stdout


def test_keys_rotate_is_audited_and_the_chain_holds(migrated: Path) -> None:
    organization_id = _seed(migrated, 1)
    rotated = _avnz(migrated, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    rows = _sql(migrated, "SELECT organization_id, action, resource, seq FROM audit_logs")
    assert (organization_id, "ROTATE", "master_keys", 2) in rows
    assert _avnz(migrated, "audit", "verify").returncode == 0
