"""The audit log's hash chain: rows linked at commit, one chain per organization that
concurrent writers never fork, and a verifier that names an edited or a deleted row."""

import asyncio
import itertools

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.audit.chain import GENESIS, entry_values, row_hash
from avnz.audit.models import AuditChainHead, AuditLog
from avnz.audit.verify import verify_all, verify_chain
from avnz.runtime import Runtime
from tests.factories import World


def _record(session: AsyncSession, organization_id: str, resource_id: str, n: int = 0) -> None:
    audit.record(
        session,
        actor=None,
        action=audit.AuditAction.UPDATE,
        resource="thing",
        resource_id=resource_id,
        tenant=audit.Tenant(organization_id),
        after={"n": n, "note": "é ✓"},
    )


async def _append(runtime: Runtime, organization_id: str, count: int, label: str = "x") -> None:
    async with runtime.sessions.begin() as session:
        for n in range(count):
            _record(session, organization_id, f"{label}{n}", n)


async def _chain(runtime: Runtime, organization_id: str) -> list[AuditLog]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(AuditLog)
            .where(AuditLog.organization_id == organization_id)
            .order_by(AuditLog.seq)
        )
        return list(rows)


async def _verify(runtime: Runtime, organization_id: str):  # type: ignore[no-untyped-def]
    async with runtime.sessions() as session:
        return await verify_chain(session, organization_id)


async def test_rows_are_linked_in_order_when_they_commit(runtime: Runtime, world: World) -> None:
    org = world.organization.id
    await _append(runtime, org, 3, "a")
    await _append(runtime, org, 2, "b")
    rows = await _chain(runtime, org)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
    assert all(r.hash == row_hash(entry_values(r)) for r in rows)
    report = await _verify(runtime, org)
    assert report.intact and report.rows == 5
    assert (report.head_seq, report.head_hash) == (5, rows[-1].hash)


async def test_each_organization_has_its_own_chain(runtime: Runtime, world: World) -> None:
    await _append(runtime, world.organization.id, 2)
    await _append(runtime, "org_other", 3)
    assert [r.seq for r in await _chain(runtime, "org_other")] == [1, 2, 3]
    async with runtime.sessions() as session:
        reports = {r.organization_id: r for r in await verify_all(session)}
    assert reports["org_other"].intact and reports["org_other"].rows == 3
    assert reports[world.organization.id].intact


async def test_an_edited_row_is_the_first_broken_link(runtime: Runtime, world: World) -> None:
    org = world.organization.id
    await _append(runtime, org, 4)
    target = (await _chain(runtime, org))[2]
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(AuditLog).where(AuditLog.id == target.id).values(new_value={"n": 99})
        )
    report = await _verify(runtime, org)
    assert not report.intact and report.broken is not None
    assert (report.broken.seq, report.broken.entry_id) == (3, target.id)
    assert "edited" in report.broken.reason
    assert report.rows == 2


async def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(
    runtime: Runtime, world: World
) -> None:
    org = world.organization.id
    await _append(runtime, org, 3)
    target = (await _chain(runtime, org))[0]
    values = entry_values(target) | {"action": "DELETE"}
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(AuditLog)
            .where(AuditLog.id == target.id)
            .values(action="DELETE", hash=row_hash(values))
        )
    report = await _verify(runtime, org)
    assert report.broken is not None and report.broken.seq == 2
    assert "prev_hash" in report.broken.reason


async def test_a_deleted_row_is_found(runtime: Runtime, world: World) -> None:
    org = world.organization.id
    await _append(runtime, org, 5)
    target = (await _chain(runtime, org))[1]
    async with runtime.sessions.begin() as session:
        await session.execute(delete(AuditLog).where(AuditLog.id == target.id))
    report = await _verify(runtime, org)
    assert report.broken is not None
    assert report.broken.seq == 2 and "missing" in report.broken.reason
    assert report.rows == 1


async def test_deleting_the_last_rows_is_found_through_the_head(
    runtime: Runtime, world: World
) -> None:
    org = world.organization.id
    await _append(runtime, org, 4)
    async with runtime.sessions.begin() as session:
        await session.execute(delete(AuditLog).where(AuditLog.seq >= 3))
    report = await _verify(runtime, org)
    assert report.broken is not None and report.broken.seq == 3
    assert "head" in report.broken.reason


async def test_a_row_written_around_the_chain_is_found(runtime: Runtime, world: World) -> None:
    org = world.organization.id
    await _append(runtime, org, 1)
    async with runtime.sessions.begin() as session:
        await session.execute(
            AuditLog.__table__.insert().values(
                id="aud_forged",
                timestamp=(await _chain(runtime, org))[0].timestamp,
                organization_id=org,
                actor_type="system",
                action="DELETE",
                resource="thing",
                metadata={},
            )
        )
    report = await _verify(runtime, org)
    assert report.broken is not None and report.broken.entry_id == "aud_forged"


async def test_a_savepoint_rolled_back_takes_its_audit_row_with_it(
    runtime: Runtime, world: World
) -> None:
    org = world.organization.id
    async with runtime.sessions.begin() as session:
        _record(session, org, "kept")
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                _record(session, org, "undone")
                await session.flush()
                raise RuntimeError("roll the savepoint back")
    rows = await _chain(runtime, org)
    assert [(r.resource_id, r.seq) for r in rows] == [("kept", 1)]
    assert (await _verify(runtime, org)).intact


async def test_a_rolled_back_transaction_leaves_no_row_and_no_link(
    runtime: Runtime, world: World
) -> None:
    org = world.organization.id
    with pytest.raises(RuntimeError):
        async with runtime.sessions.begin() as session:
            _record(session, org, "gone")
            raise RuntimeError("fail the change")
    await _append(runtime, org, 1)
    rows = await _chain(runtime, org)
    assert [(r.resource_id, r.seq) for r in rows] == [("x0", 1)]


async def test_concurrent_writers_do_not_fork_the_chain(runtime: Runtime, world: World) -> None:
    """Race test: many transactions append to one organization at once; on PostgreSQL they
    overlap for real, and without the head's lock two would take one sequence number."""
    org = world.organization.id
    writers, rows_each = 12, 3

    async def writer(n: int) -> None:
        async with runtime.sessions.begin() as session:
            await session.execute(select(1))  # the transactions are open side by side
            for k in range(rows_each):
                _record(session, org, f"w{n}-{k}")
            await asyncio.sleep(0.01)

    await asyncio.gather(*(writer(n) for n in range(writers)))
    rows = await _chain(runtime, org)
    assert [r.seq for r in rows] == list(range(1, writers * rows_each + 1))
    # Each transaction's rows are consecutive: a writer appends its rows as one.
    for start in range(0, len(rows), rows_each):
        assert len({r.resource_id.split("-")[0] for r in rows[start : start + rows_each]}) == 1  # type: ignore[union-attr]
    report = await _verify(runtime, org)
    assert report.intact and report.rows == writers * rows_each
    async with runtime.sessions() as session:
        head = await session.get(AuditChainHead, org)
    assert head is not None and head.seq == writers * rows_each
