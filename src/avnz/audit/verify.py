"""Walk each organization's audit chain and name its first broken link (`avnz audit verify`).

A link is broken when a row's content no longer matches its hash (an edited row), when a
sequence number is missing or a row's `prev_hash` is not the hash of the row before it (a
deleted row), when a row was never linked (written around `audit.service.record`), or when the
chain head points past the last row (rows deleted from the end). An intact chain's head is
printed too: kept somewhere else, it also shows a chain rewritten from scratch.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit.chain import GENESIS, entry_values, row_hash
from avnz.audit.models import AuditChainHead, AuditLog

BATCH = 1000


@dataclass(frozen=True, slots=True)
class BrokenLink:
    """The first place an organization's chain does not hold."""

    seq: int | None
    entry_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    organization_id: str
    rows: int
    head_seq: int
    head_hash: str
    broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        return self.broken is None


async def organization_ids(session: AsyncSession) -> list[str]:
    """Every organization that has audit rows or a chain head."""
    logged = await session.scalars(select(AuditLog.organization_id).distinct())
    headed = await session.scalars(select(AuditChainHead.organization_id))
    return sorted(set(logged) | set(headed))


async def verify_chain(session: AsyncSession, organization_id: str) -> ChainReport:
    """Check one organization's chain from its first row to its head."""
    head = await session.get(AuditChainHead, organization_id)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)

    def report(rows: int, broken: BrokenLink | None) -> ChainReport:
        return ChainReport(organization_id, rows, head_seq, head_hash, broken)

    unlinked = await session.scalar(
        select(AuditLog.id)
        .where(AuditLog.organization_id == organization_id, AuditLog.seq.is_(None))
        .order_by(AuditLog.timestamp, AuditLog.id)
        .limit(1)
    )
    if unlinked is not None:
        return report(0, BrokenLink(None, unlinked, "row is not linked into the chain"))
    expected_seq, last_hash, rows = 1, GENESIS, 0
    while True:
        batch: Sequence[AuditLog] = (
            await session.scalars(
                select(AuditLog)
                .where(AuditLog.organization_id == organization_id, AuditLog.seq >= expected_seq)
                .order_by(AuditLog.seq)
                .limit(BATCH)
            )
        ).all()
        for entry in batch:
            assert entry.seq is not None
            if entry.seq != expected_seq:
                missing = (
                    f"row {expected_seq} is missing"
                    if entry.seq == expected_seq + 1
                    else f"rows {expected_seq}-{entry.seq - 1} are missing"
                )
                return report(rows, BrokenLink(expected_seq, None, f"{missing} (deleted?)"))
            if entry.prev_hash != last_hash:
                reason = "prev_hash is not the hash of the row before it"
                return report(rows, BrokenLink(entry.seq, entry.id, reason))
            if row_hash(entry_values(entry)) != entry.hash:
                reason = "content does not match its hash (edited?)"
                return report(rows, BrokenLink(entry.seq, entry.id, reason))
            expected_seq, last_hash, rows = expected_seq + 1, entry.hash, rows + 1
        session.expunge_all()  # a long chain is read in batches, not kept in memory
        if len(batch) < BATCH:
            break
    if head_seq != rows or head_hash != last_hash:
        if head_seq > rows:
            reason = f"the head is at row {head_seq}, the chain ends at row {rows} (deleted?)"
        else:
            reason = f"the head (row {head_seq}) does not match the last row ({rows})"
        return report(rows, BrokenLink(rows + 1 if head_seq > rows else head_seq, None, reason))
    return report(rows, None)


async def verify_all(
    session: AsyncSession, organization_id: str | None = None
) -> list[ChainReport]:
    """Check every organization's chain, or only `organization_id`'s."""
    ids = [organization_id] if organization_id else await organization_ids(session)
    return [await verify_chain(session, each) for each in ids]
