"""Country groupings and indicative exchange rates from the data files shipped in `rules/data/`."""

import csv
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from avnz.core.money import currency_exponent


def _lines(name: str) -> list[str]:
    text = resources.files("avnz.rules").joinpath(f"data/{name}").read_text()
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _codes(name: str) -> frozenset[str]:
    return frozenset(code for line in _lines(name) for code in line.split())


@lru_cache(maxsize=1)
def eu() -> frozenset[str]:
    """EU member states (with their outermost regions)."""
    return _codes("eu.txt")


@lru_cache(maxsize=1)
def eea() -> frozenset[str]:
    """EEA members: the EU plus IS, LI, NO."""
    return _codes("eea.txt")


@lru_cache(maxsize=1)
def sanctioned() -> frozenset[str]:
    """Countries under comprehensive embargo."""
    return _codes("sanctioned.txt")


@lru_cache(maxsize=1)
def high_risk() -> frozenset[str]:
    """FATF black- and grey-listed countries."""
    return _codes("high_risk.txt")


@lru_cache(maxsize=1)
def _regions() -> dict[str, tuple[str, str]]:
    rows = csv.DictReader(_lines("regions.csv"))
    return {row["country"]: (row["continent"], row["region"]) for row in rows}


def continent(country: str) -> str | None:
    """Continent code (AF AN AS EU NA OC SA) of an alpha-2 country, None if unknown."""
    entry = _regions().get(country)
    return entry[0] if entry else None


def region(country: str) -> str | None:
    """Commercial region (NA EU APAC LATAM MEA) of an alpha-2 country, None if unknown or none."""
    entry = _regions().get(country)
    return (entry[1] or None) if entry else None


@lru_cache(maxsize=1)
def rates() -> dict[str, Decimal]:
    """Indicative US dollars per major unit, by currency."""
    return {
        row["currency"]: Decimal(row["usd_per_unit"]) for row in csv.DictReader(_lines("rates.csv"))
    }


def convert(amount: int, source: str, target: str) -> int | None:
    """`amount` minor units of `source` in minor units of `target` at the indicative rate.

    None when either currency has no rate: a condition on it then does not match.
    """
    if source == target:
        return amount
    table = rates()
    if source not in table or target not in table:
        return None
    major = Decimal(amount).scaleb(-currency_exponent(source)) * table[source] / table[target]
    return int(major.scaleb(currency_exponent(target)).to_integral_value())
