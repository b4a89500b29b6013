"""Re-encrypt every stored secret under the keyring's newest key, while the service runs.

Each row is rewritten with a compare-and-set on the old ciphertext, so a row the service changed
in the meantime is left alone (it was written under the newest key anyway)."""

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz.security.keyring import ENCRYPTED_COLUMNS, EncryptedColumn, Keyring


@dataclass
class RotationReport:
    newest_version: int
    rewritten: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rewritten.values())


async def _rotate_column(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    target: EncryptedColumn,
    batch: int,
) -> int:
    table, column = target.table, target.table.c[target.column]
    primary_key = next(iter(table.primary_key.columns))
    newest, rewritten, last_id = keyring.newest_version, 0, ""
    while True:
        async with sessions.begin() as session:
            rows = (
                (
                    await session.execute(
                        select(table)
                        .where(primary_key > last_id, column.is_not(None))
                        .order_by(primary_key)
                        .limit(batch)
                    )
                )
                .mappings()
                .all()
            )
            for row in rows:
                token = row[target.column]
                if Keyring.key_version(token) == newest:
                    continue
                aad = target.aad(dict(row))
                fresh = keyring.encrypt(keyring.decrypt(token, aad=aad), aad=aad)
                result = await session.execute(
                    update(table)
                    .where(primary_key == row[primary_key.name], column == token)
                    .values({target.column: fresh})
                )
                rewritten += result.rowcount  # type: ignore[attr-defined]
        if len(rows) < batch:
            return rewritten
        last_id = rows[-1][primary_key.name]


async def reencrypt_all(
    sessions: async_sessionmaker[AsyncSession], keyring: Keyring, batch: int = 500
) -> RotationReport:
    """Rewrite every ciphertext not under the newest key; returns counts per column. The
    encrypted columns register when their models load, so the caller loads the domains first
    (`avnz.domains.load()`)."""
    report = RotationReport(newest_version=keyring.newest_version)
    for target in ENCRYPTED_COLUMNS:
        name = f"{target.table.name}.{target.column}"
        report.rewritten[name] = await _rotate_column(sessions, keyring, target, batch)
    return report
