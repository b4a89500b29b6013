"""Configuration versions: every committed change to what the payment path caches moves the
company's version (a membership through its pool), a rolled-back one does not, and a new company
starts with its own row."""

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.db.versions import CONFIG_VERSION
from avnz.runtime import Runtime
from avnz.tenancy.models import Company, Role
from tests.factories import World
from tests.routing.factories import create_account
from tests.rules.support import create_pool
from tests.support.payments import API


async def _version(runtime: Runtime, company_id: str) -> int:
    async with runtime.sessions() as session:
        return await current_version(session, company_id)


async def current_version(session: AsyncSession, company_id: str) -> int:
    """A company's configuration version, read on its own (0 before its first change)."""
    version = await session.scalar(select(CONFIG_VERSION), {"config_company": company_id})
    return int(version or 0)


async def test_changes_move_the_version_and_only_the_companys(
    client: httpx.AsyncClient, runtime: Runtime, world: World, sandboxes: str
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    company, other = world.a.company.id, world.b.company.id
    start, other_start = await _version(runtime, company), await _version(runtime, other)
    assert start > 0 and other_start > 0  # both companies have their row

    account = await create_account(client, headers, None, base_url=f"{sandboxes}/nmi")
    after_account = await _version(runtime, company)
    assert after_account > start
    pool = await create_pool(client, headers, [])
    after_pool = await _version(runtime, company)
    assert after_pool > after_account

    added = await client.post(
        f"{API}/account-pools/{pool['id']}/accounts",
        json={"merchant_account_id": account["id"]},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    assert await _version(runtime, company) > after_pool  # a membership, through its pool
    assert await _version(runtime, other) == other_start


async def test_a_rolled_back_change_leaves_the_version(runtime: Runtime, world: World) -> None:
    company_id = world.a.company.id
    before = await _version(runtime, company_id)
    async with runtime.sessions() as session:
        company = await session.get_one(Company, company_id)
        company.name = "Renamed, then rolled back"
        await session.flush()  # the UPDATE and the version's ran in this transaction
        assert await current_version(session, company_id) == before + 1
        await session.rollback()
    assert await _version(runtime, company_id) == before
    async with runtime.sessions.begin() as session:
        (await session.get_one(Company, company_id)).name = "Renamed"
    assert await _version(runtime, company_id) == before + 1
