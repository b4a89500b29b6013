"""The imported BIN table: platform-wide reference data (no tenant owns a BIN), one file's
rows at a time, and the version every process compares to know its copy is current."""

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from avnz.db.base import Base


class BinRangeRow(Base):
    """Cards whose number starts with `start` through `end` (equal widths, 4 to 11 digits)."""

    __tablename__ = "bin_ranges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    start: Mapped[str] = mapped_column(String(11))
    end: Mapped[str] = mapped_column(String(11))
    brand: Mapped[str | None] = mapped_column(String(20))
    card_type: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))
    issuer: Mapped[str | None] = mapped_column(String(120))


class BinTableVersion(Base):
    """One row: moves with every import, so a process reloads when it sees another number."""

    __tablename__ = "bin_table_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(300))
    ranges: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime]
