"""BIN lookups from the table that ships with the package (`data/bins.csv`)."""

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class BinInfo:
    card_type: str  # credit / debit / prepaid / unknown
    country: str | None
    issuer: str | None


UNKNOWN = BinInfo(card_type="unknown", country=None, issuer=None)


@lru_cache(maxsize=1)
def _table() -> dict[str, BinInfo]:
    text = resources.files("avnz.payments").joinpath("data/bins.csv").read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {
        row["prefix"]: BinInfo(row["type"], row["country"] or None, row["issuer"] or None)
        for row in rows
    }


def lookup(number: str) -> BinInfo:
    """The most specific entry (9 down to 6 digits) for a card number or BIN."""
    table = _table()
    for length in range(min(9, len(number)), 5, -1):
        info = table.get(number[:length])
        if info is not None:
            return info
    return UNKNOWN
