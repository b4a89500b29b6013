"""Geography conditions: the customer's country, state, region, continent, currency, lists.

`is_sanctioned_country` and `is_high_risk_country` look at the customer's country and at the
card's issuing country: either on the list is a match. The others look at the customer's country.
"""

from collections.abc import Callable
from operator import attrgetter
from typing import ClassVar

from avnz.rules import reference
from avnz.rules.conditions import values
from avnz.rules.conditions.base import EQ, Condition, FieldSpec, Getter, flag
from avnz.rules.context import RuleContext

REGIONS = ("NA", "EU", "APAC", "LATAM", "MEA")
CONTINENTS = ("AF", "AN", "AS", "EU", "NA", "OC", "SA")


def _of_country(lookup: Callable[[str], object]) -> Getter:
    """What `lookup` says about the customer's country (None without a country)."""
    return lambda context: lookup(context.country) if context.country else None


def _in_list(members: Callable[[], frozenset[str]]) -> Getter:
    return _of_country(lambda country: country in members())


def _either_listed(members: Callable[[], frozenset[str]]) -> Getter:
    """Whether the customer's or the card's country is on the list (None: neither known)."""

    def listed(context: RuleContext) -> bool | None:
        codes = [code for code in (context.country, context.issuing_country) if code is not None]
        if not codes:
            return None
        listed_codes = members()
        return any(code in listed_codes for code in codes)

    return listed


class GeographyCondition(Condition):
    NAME: ClassVar[str] = "geography"
    LABEL: ClassVar[str] = "Geography"
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec("country", EQ, values.country, attrgetter("country"), input="country"),
        FieldSpec("state", EQ, values.upper, attrgetter("state")),
        FieldSpec(
            "region",
            EQ,
            values.choice(REGIONS, str.upper),
            _of_country(reference.region),
            input="choice",
            choices=REGIONS,
        ),
        FieldSpec(
            "continent",
            EQ,
            values.choice(CONTINENTS, str.upper),
            _of_country(reference.continent),
            input="choice",
            choices=CONTINENTS,
        ),
        FieldSpec("currency", EQ, values.currency, attrgetter("currency"), input="currency"),
        flag(
            "is_domestic",
            lambda c: c.country == c.home_country if c.country else None,
            "Domestic (card country is the company's)",
        ),
        flag("is_eu", _in_list(reference.eu), "In the EU"),
        flag("is_eea", _in_list(reference.eea), "In the EEA"),
        flag("is_sanctioned_country", _either_listed(reference.sanctioned), "Sanctioned country"),
        flag("is_high_risk_country", _either_listed(reference.high_risk), "High-risk country"),
    )
