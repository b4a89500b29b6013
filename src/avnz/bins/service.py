"""The BIN domain's face: resolve a card's brand, type, issuing country and issuer from its
first digits, and import an open BIN file.

Precedence, field by field: the imported table (the operator's file, newest import), then the
packaged table of test-card BINs, then the public IIN ranges per brand (`core.cards`) for the
brand. The imported table is held in process (`BinTable`: sorted segments, one bisect), so
`lookup` runs no SQL: an import installs its table in the importing process at once, and
every other process sees the import when `refresh` finds a newer version (the app checks every
`RELOAD_SECONDS`, off the payment path).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import structlog
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz.bins import formats
from avnz.bins.formats import BinFileError, Parsed
from avnz.bins.models import BinRangeRow, BinTableVersion
from avnz.bins.table import NOTHING, BinInfo, BinRange, BinTable
from avnz.core import cards, clock

__all__ = ["UNKNOWN", "BinFileError", "BinInfo", "ImportReport", "lookup"]

RELOAD_SECONDS = 60.0
UNKNOWN_TYPE = "unknown"
UNKNOWN = BinInfo(brand=cards.Brand.UNKNOWN.value, card_type=UNKNOWN_TYPE)
_INSERT_BATCH = 5000

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Loaded:
    table: BinTable
    version: int


_loaded = _Loaded(BinTable(), 0)


@lru_cache(maxsize=1)
def packaged() -> BinTable:
    """The table that ships with avnz (`bins/data/bins.csv`)."""
    text = resources.files("avnz.bins").joinpath("data/bins.csv").read_text()
    return BinTable(formats.parse(text).ranges)


def lookup(number: str) -> BinInfo:
    """Brand, type, issuing country and issuer of a card number or BIN (6+ digits); `brand`
    and `card_type` are "unknown" where no table knows them, never None."""
    found = (_loaded.table.find(number) or NOTHING).over(packaged().find(number) or NOTHING)
    brand = found.brand
    if brand is None:
        full = 12 <= len(number) <= 19
        brand = (cards.detect_brand(number) if full else cards.brand_of_prefix(number)).value
    return BinInfo(
        brand=brand,
        card_type=found.card_type or UNKNOWN_TYPE,
        country=found.country,
        issuer=found.issuer,
    )


def loaded_version() -> int:
    """The version of the imported table this process holds (0: none)."""
    return _loaded.version


def install(table: BinTable, version: int) -> None:
    """Make `table` the process's imported table (one assignment: a lookup sees old or new)."""
    global _loaded
    _loaded = _Loaded(table, version)


@dataclass(frozen=True, slots=True)
class ImportReport:
    ranges: int
    skipped: int
    version: int
    table: BinTable


async def import_text(*, session: AsyncSession, text: str, source: str) -> ImportReport:
    """Replace the imported table with the file's ranges and move its version; the caller
    commits, then `install`s the report's table. BinFileError for a file that is no BIN table."""
    parsed: Parsed = formats.parse(text)
    if not parsed.ranges:
        raise BinFileError(f"No usable BIN row in the file ({parsed.skipped} rows skipped).")
    await session.execute(delete(BinRangeRow))
    rows = list(formats.rows(parsed))
    for at in range(0, len(rows), _INSERT_BATCH):
        await session.execute(insert(BinRangeRow), rows[at : at + _INSERT_BATCH])
    state = await session.get(BinTableVersion, 1, with_for_update=True)
    if state is None:
        state = BinTableVersion(id=1, version=0)
        session.add(state)
    state.version += 1
    state.source = source[:300]
    state.ranges = len(parsed.ranges)
    state.imported_at = clock.now()
    await session.flush()
    return ImportReport(len(parsed.ranges), parsed.skipped, state.version, BinTable(parsed.ranges))


async def current_version(session: AsyncSession) -> int:
    """The version of the stored imported table (0: never imported)."""
    version = await session.scalar(select(BinTableVersion.version).where(BinTableVersion.id == 1))
    return version or 0


async def refresh(session: AsyncSession) -> bool:
    """Reload the imported table when the stored version is not the one held; True if it did."""
    version = await current_version(session)
    if version == _loaded.version:
        return False
    result = await session.execute(
        select(
            BinRangeRow.start,
            BinRangeRow.end,
            BinRangeRow.brand,
            BinRangeRow.card_type,
            BinRangeRow.country,
            BinRangeRow.issuer,
        ).order_by(BinRangeRow.id)
    )
    ranges = [
        BinRange(start, end, BinInfo(brand, card_type, country, issuer))
        for start, end, brand, card_type, country, issuer in result
    ]
    install(BinTable(ranges), version)
    log.info("bin table loaded", version=version, ranges=len(ranges))
    return True


@contextlib.asynccontextmanager
async def kept_current(
    sessions: async_sessionmaker[AsyncSession], every: float = RELOAD_SECONDS
) -> AsyncIterator[None]:
    """Load the imported table now, and reload it whenever another process imports one."""

    async def check() -> None:
        async with sessions() as session:
            await refresh(session)

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await check()
            except Exception:  # a database blip must not end the loop
                log.warning("bin table refresh failed", exc_info=True)

    await check()
    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
